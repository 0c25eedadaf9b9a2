"""Classifier speed: publications per second once loaded, and `tracker classify`'s time to its
first output line from process start, each the median of several runs, beside the keyword-only
classifier (themes.yaml's phrases, no model).

    .venv/bin/python benchmarks/bench_classify.py [--runs 5] [--items 5000]

Prints a Markdown table. The shipped model is trained once into a scratch cache first, so the
time-to-first-line figures are for a warm cache; the cold figure (first use, which trains) is
printed below the table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRACKER = Path(sys.executable).parent / "tracker"
LINE = b'{"title": "Raised by Relatives: the experiences of Black and Asian kinship carers", "publisher": "Kinship"}\n'


def corpus(size: int) -> list[dict]:
    """The shipped labelled publications, repeated (with a number, so no two are equal)."""
    from tracker.judgement.examples import LABELLED_FILE, read_labelled

    records = read_labelled(LABELLED_FILE)
    return [{**records[i % len(records)], "title": f"{records[i % len(records)]['title']} ({i})"}
            for i in range(size)]


def throughput(classifier, items: list[dict], runs: int, batch: bool = True) -> float:
    """Publications per second through ``predict_many`` (what `tracker poll` and `tracker
    classify` call), or ``predict`` one at a time."""
    rates = []
    for _ in range(runs):
        started = time.perf_counter()
        if batch:
            classifier.predict_many(items)
        for item in [] if batch else items:
            classifier.predict(item)
        rates.append(len(items) / (time.perf_counter() - started))
    return statistics.median(rates)


def first_line(args: list[str], cache: str) -> float:
    """Seconds from starting the process to reading its first output line."""
    env = {**os.environ, "TRACKER_CACHE": cache}
    started = time.perf_counter()
    process = subprocess.Popen([str(TRACKER), "classify", *args], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd="/")
    process.stdin.write(LINE)
    process.stdin.flush()
    answer = process.stdout.readline()
    seconds = time.perf_counter() - started
    process.stdin.close()
    process.wait(timeout=60)
    if not answer.startswith(b"{") or b'"themes"' not in answer:
        raise SystemExit(f"tracker classify gave no answer: {answer!r} {process.stderr.read()!r}")
    return seconds


def whole_process(args: list[str], cache: str, items: list[dict]) -> float:
    """Lines per second through `tracker classify`, start to exit, JSON in and out."""
    data = "".join(json.dumps(item) + "\n" for item in items).encode()
    env = {**os.environ, "TRACKER_CACHE": cache}
    started = time.perf_counter()
    result = subprocess.run([str(TRACKER), "classify", *args], input=data, capture_output=True,
                            env=env, cwd="/", timeout=600)
    seconds = time.perf_counter() - started
    if result.returncode != 0 or result.stdout.count(b"\n") != len(items):
        raise SystemExit(f"tracker classify failed: {result.stderr[-2000:]!r}")
    return len(items) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (median reported)")
    parser.add_argument("--items", type=int, default=5000, help="publications per throughput run")
    args = parser.parse_args()
    from tracker.judgement.model import Classifier
    from tracker.judgement.provenance import shipped_model
    from tracker.judgement.themes import load_theme_set

    with tempfile.TemporaryDirectory() as cache:
        os.environ["TRACKER_CACHE"] = cache
        cold = first_line([], cache)  # trains the shipped model into the empty cache
        theme_set = load_theme_set()
        model = Classifier(theme_set, shipped_model(theme_set))
        rules = Classifier(theme_set, None)
        items = corpus(args.items)
        rows = [
            ("publications per second, once loaded",
             throughput(model, items, args.runs), throughput(rules, items, args.runs), "{:,.0f}"),
            ("publications per second, once loaded, one at a time (`predict`)",
             throughput(model, items, args.runs, batch=False),
             throughput(rules, items, args.runs, batch=False), "{:,.0f}"),
            ("`tracker classify` lines per second, whole process",
             statistics.median(whole_process([], cache, items) for _ in range(args.runs)),
             statistics.median(whole_process(["--rules-only"], cache, items) for _ in range(args.runs)),
             "{:,.0f}"),
            ("`tracker classify` first line (s, warm cache)",
             statistics.median(first_line([], cache) for _ in range(args.runs)),
             statistics.median(first_line(["--rules-only"], cache) for _ in range(args.runs)), "{:.2f}"),
        ]
    print(f"| measure (median of {args.runs} runs) | model + rules | keyword-only | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for name, ours, baseline, fmt in rows:
        print(f"| {name} | {fmt.format(ours)} | {fmt.format(baseline)} | {ours / baseline:.2f} |")
    print(f"\nFirst use with an empty cache (trains the shipped model, one run): {cold:.2f} s; "
          f"{args.items:,} publications per throughput run; model {model.version}.")


if __name__ == "__main__":
    main()
