"""Ingest and classify 1,000, 10,000, 100,000 and 1,000,000 publications: whole-process time
and peak memory (benchmarks/ingest.py under peak.py), median of the rounds (one round at a
million, which takes minutes). Each size's last database is kept for the Datasette benchmark
(bench_datasette.py)."""

from __future__ import annotations

import re
from itertools import pairwise

from measure import ROOT, VENV_BIN, WORK, median, run_process, with_peak

SIZES = (1_000, 10_000, 100_000, 1_000_000)
ONE_ROUND_FROM = 1_000_000
# The target: a national archive, ingested and classified in one process.
TARGET_SIZE, TARGET_SECONDS, TARGET_MB = 1_000_000, 300, 1024
HERE = ROOT / "benchmarks"


def database(size: int):
    return WORK / "ingest" / f"publications-{size}.db"


def sizes_built() -> list[int]:
    return [size for size in SIZES if database(size).exists()]


def ingest(size: int):
    path = database(size)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(path.name + "*"):
        stale.unlink()
    run = run_process(with_peak([VENV_BIN / "python", HERE / "ingest.py", path, size]),
                      cwd=HERE)
    parts = dict(re.findall(r"(\w+)=([\d.]+)", run.output.splitlines()[-2]))
    if int(parts["stored"]) != size or int(parts["classified"]) != size:
        raise RuntimeError(f"ingest of {size} went wrong: {run.output[-500:]}")
    return run.seconds, run.peak_mb, float(parts["store_s"]), float(parts["classify_s"])


def run(runs: int, quick: bool = False) -> str:
    """quick: the smallest size only."""
    from bench_poll import warm_model_cache

    warm_model_cache()
    results = {}
    for size in SIZES[:1] if quick else SIZES:
        rounds = [ingest(size) for _ in range(1 if size >= ONE_ROUND_FROM else runs)]
        results[size] = [median(r[i] for r in rounds) for i in range(4)]
        print(f"  ingest {size}: " + ", ".join(f"{v:.2f}" for v in results[size]), flush=True)
    largest = max(results)
    seconds, peak, _, _ = results[largest]
    lines = [
        "## Ingest and classify",
        "",
        f"A fresh database, then N publications stored through the poller's own store path "
        "(`save_fetch`, one transaction per source of 1,000 entries) and classified "
        "(`classify_publications` on the new ids, as `tracker poll` does), as one process "
        f"(`benchmarks/ingest.py`); peak memory is the process's maximum resident set size. "
        f"Median of {runs} rounds below {ONE_ROUND_FROM:,}, one round from there.",
        "",
        "| publications | whole process | of which storing | of which classifying | per second | peak memory |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for size, (total, mb, store_s, classify_s) in results.items():
        lines.append(f"| {size:,} | {total:.1f} s | {store_s:.1f} s | {classify_s:.1f} s | "
                     f"{size / total:,.0f} | {mb:.0f} MB |")
    lines += [
        "",
        (f"Target at {TARGET_SIZE:,}: at most {TARGET_SECONDS} s and {TARGET_MB} MB: "
         f"{seconds:.1f} s ({'met' if seconds <= TARGET_SECONDS else '**missed**'}), "
         f"{peak:.0f} MB ({'met' if peak <= TARGET_MB else '**missed**'})."
         if largest == TARGET_SIZE else f"Target at {TARGET_SIZE:,}: not run."),
        "",
    ]
    if len(results) > 1:
        lines += [growth("Ingest", {size: r[0] for size, r in results.items()}), ""]
    return "\n".join(lines)


def growth(what: str, figures: dict[int, float]) -> str:
    """How a figure grows with the number of publications, from the smallest size to each."""
    sizes = sorted(figures)
    steps = [f"x{figures[b] / figures[a]:.1f} from {a:,} to {b:,}" for a, b in pairwise(sizes)]
    return f"Growth ({what}): " + "; ".join(steps) + "."
