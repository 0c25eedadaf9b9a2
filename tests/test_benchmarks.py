"""The benchmarks still run: each one once at its smallest size, as `make bench` runs them (real
processes, real servers), so that a change to the code they drive cannot leave them broken
unnoticed. Only that each finishes and prints its figures is checked, not the figures; reader is
not needed (the quick poll section runs tracker alone) and REPORT.md is left as it is."""

import os
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture
def bench(tmp_path, repo_root):
    """Run a benchmark script; its scratch files and the classifier's cache go to tmp_path."""
    env = {**os.environ, "TRACKER_BENCH_WORK": str(tmp_path / "work"),
           "TRACKER_CACHE": str(tmp_path / "cache")}

    def run(script, *args):
        result = subprocess.run([sys.executable, repo_root / "benchmarks" / script, *args], env=env,
                                cwd=tmp_path, capture_output=True, text=True, timeout=280)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return result.stdout

    return run


def test_every_section_of_the_report(bench, repo_root):
    report = repo_root / "benchmarks" / "REPORT.md"
    before = report.read_text()

    out = bench("run.py", "--quick")

    assert re.search(r"poll round 1/1: tracker first [\d.]+s, .*tracker second [\d.]+s, tracker --due", out)
    assert re.search(r"- stage classify: [\d.]+ s", out)
    assert "reader first" not in out  # tracker alone: no reader installed or run
    assert re.search(r"\| 1,000 \| [\d.]+ s \| [\d.]+ s \| [\d.]+ s \| [\d,]+ \| \d+ MB \|", out)
    assert "10,000" not in out
    assert re.search(r"\| triage page \| \d+ / \d+ \| <= 150 ms \(p95\) at 1,000,000 \|", out)
    assert re.search(r"\| weekly digest .* \| [\d.]+ / [\d.]+ \| <= 1 s \(median\) at 1,000,000 \|", out)
    assert report.read_text() == before


def test_classifier_speed(bench):
    out = bench("bench_classify.py", "--runs", "1", "--items", "100")

    assert re.search(r"\| publications per second, once loaded \| [\d,]+ \| [\d,]+ \| [\d.]+ \|", out)
    assert re.search(r"First use with an empty cache .*: [\d.]+ s; 100 publications", out)


def test_workspace_page_times(bench):
    out = bench("bench_web.py", "--quick")

    assert re.search(r"\| triage page \(editor\) \| \d+ / \d+ \|\n", out)
    assert re.search(r"against the plain page: [\d.]+x at \d+ rows\.", out)
