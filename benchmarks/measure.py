"""Whole-process measurement: wall time and peak resident memory of one command.

Peak memory comes from peak.py, which reaps the command with ``os.wait4`` and so reports that
process's own maximum RSS (RUSAGE_CHILDREN would mix every child the benchmark ever started).
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Scratch files; TRACKER_BENCH_WORK moves them (the smoke test uses a temporary folder).
WORK = Path(os.environ.get("TRACKER_BENCH_WORK") or ROOT / "benchmarks" / "work")
VENV_BIN = Path(sys.executable).parent
TRACKER = VENV_BIN / "tracker"


class BenchmarkError(Exception):
    pass


@dataclass
class Run:
    seconds: float
    peak_mb: float
    cpu_seconds: float
    output: str


def run_process(args, *, env=None, cwd=None, stdin=None) -> Run:
    """Run ``args`` to completion; fail loudly if it fails, since a failed run is no figure."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        env={**os.environ, **(env or {})}, cwd=cwd, text=True,
    )
    output, _ = process.communicate(stdin)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise BenchmarkError(f"{' '.join(map(str, args))} exited {process.returncode}:\n{output[-3000:]}")
    return Run(seconds, *_usage_from_output(output), output)


# The wrapper runs the command in a child and prints that child's own peak RSS on the last line.
PEAK_MARK = "BENCH_PEAK_KB="


def with_peak(args) -> list:
    """Wrap ``args`` so the run reports its own peak memory (like /usr/bin/time -v's max RSS)."""
    return [sys.executable, str(Path(__file__).with_name("peak.py")), *map(str, args)]


def _usage_from_output(output: str) -> tuple[float, float]:
    """(peak MB, CPU seconds) from peak.py's last line; zeros for an unwrapped command."""
    for line in reversed(output.splitlines()):
        if line.startswith(PEAK_MARK):
            fields = dict(field.split("=") for field in line.split())
            return int(fields["BENCH_PEAK_KB"]) / 1024, float(fields["BENCH_CPU_S"])
    return 0.0, 0.0


def median(values) -> float:
    return statistics.median(values)


def percentile(values, fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def page_times(get, path: str, *, requests: int, warm_up: int) -> tuple[float, float]:
    """p50 and p95, in milliseconds, of ``get(path)`` (which returns an HTTP response), timed
    after ``warm_up`` requests that are not counted; any answer but 200 fails the benchmark."""
    times = []
    for n in range(warm_up + requests):
        started = time.perf_counter()
        response = get(path)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise BenchmarkError(f"{path}: {response.status_code} {response.text[:300]}")
        if n >= warm_up:
            times.append(elapsed)
    return percentile(times, 0.5), percentile(times, 0.95)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    import sqlite3

    return (
        f"{cpu}, {os.cpu_count()} cores{memory}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )


def today() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
