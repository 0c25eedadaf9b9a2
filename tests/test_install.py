"""A plain (non-editable) install: the wheel carries every file the commands need, its build
prints no warning, and the installed command works from / without the checkout."""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

# Named here as well as found in the checkout below, so that losing one from the checkout
# fails too.
NEEDED = [
    "tracker/data/themes.yaml",
    "tracker/data/metadata.yml",
    "tracker/data/labelled.jsonl",
    "tracker/data/publishers.yaml",
    "tracker/data/sources.sample.yaml",
    "tracker/data/samples/govuk/api/search.json",
    "tracker/data/samples/kinship/news.html",
    "tracker/web/templates/tracker_base.html",
    "tracker/web/static/triage.js",
]
PACKAGE_DATA = ["tracker/data", "tracker/web/templates", "tracker/web/static"]


@pytest.fixture(scope="module")
def built(tmp_path_factory, repo_root):
    """The wheel built from a copy of the checkout, and everything the build printed."""
    work = tmp_path_factory.mktemp("install")
    # A copy: the build writes build/ and tracker.egg-info/ beside its sources, and a stale
    # build/ left in the checkout would slip old modules into the wheel.
    source = work / "source"
    shutil.copytree(repo_root, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache", "db", "tests",
        "benchmarks"))
    # distutils says "byte-compiling is disabled" when this is set: about the machine, not us.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--verbose", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(work / "dist"), str(source)],
        capture_output=True, text=True, cwd=work, env=env, timeout=600,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    [wheel] = (work / "dist").glob("tracker-*.whl")
    return wheel, build.stdout + build.stderr


@pytest.fixture(scope="module")
def installed(built, tmp_path_factory):
    """The wheel installed into a folder of its own: (folder, environment that runs it)."""
    wheel, _ = built
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--root-user-action=ignore",
         "--target", str(target), str(wheel)],
        check=True, capture_output=True, text=True, timeout=300,
    )
    env = {k: v for k, v in os.environ.items() if k != "TRACKER_HOME"}
    # The installed copy comes first on the path; the venv supplies the dependencies.
    env.update(PYTHONPATH=str(target), TRACKER_CACHE=str(tmp_path_factory.mktemp("cache")))
    return target, env


def test_the_build_prints_no_warning(built):
    _, output = built
    assert "Successfully built tracker" in output
    lines = [line for line in output.splitlines()
             if "warning" in line.lower() or "deprecat" in line.lower()]
    assert lines == []


def test_the_wheel_carries_the_files_the_commands_need(built, repo_root):
    wheel, _ = built
    names = set(zipfile.ZipFile(wheel).namelist())
    in_checkout = [
        path.relative_to(repo_root).as_posix()
        for folder in PACKAGE_DATA for path in (repo_root / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    ]
    assert len(in_checkout) > len(NEEDED)
    assert sorted(set(NEEDED + in_checkout) - names) == []
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "tracker = tracker.cli:cli" in zipfile.ZipFile(wheel).read(entry_points).decode()


def run_installed(installed, *args, stdin=None):
    target, env = installed
    return subprocess.run([str(target / "bin" / "tracker"), *args], input=stdin, cwd="/",
                          env=env, capture_output=True, text=True, timeout=300)


def test_the_installed_command_is_not_the_checkout(installed):
    target, env = installed
    where = subprocess.run([sys.executable, "-c", "import tracker; print(tracker.__file__)"],
                           cwd="/", env=env, capture_output=True, text=True, check=True)
    assert Path(where.stdout.strip()).is_relative_to(target)


def test_installed_classify_from_root(installed):
    line = json.dumps({"title": "Kinship care statutory guidance for local authorities",
                       "publisher": "DfE", "url": "https://www.gov.uk/kinship"})
    result = run_installed(installed, "classify", stdin=line + "\n")
    assert result.returncode == 0, result.stderr
    [out] = result.stdout.splitlines()
    scored = json.loads(out)
    assert scored["publisher"] == "DfE" and "kinship" in scored["themes"]
    assert 0 <= scored["candidate_score"] <= 1


def test_installed_poll_help_from_root(installed):
    result = run_installed(installed, "poll", "--help")
    assert result.returncode == 0, result.stderr
    assert "--sources FILE" in result.stdout and "--db FILE" in result.stdout


def test_python_dash_m_tracker(installed):
    _, env = installed
    result = subprocess.run([sys.executable, "-m", "tracker", "--version"], cwd="/", env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("tracker, version ")
