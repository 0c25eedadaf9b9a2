"""Datasette page times at each size bench_ingest.py built (1,000 to 1,000,000 publications),
over real HTTP: a real ``tracker serve --no-poll`` process on each database, timed from a client
over loopback, one request at a time (an editor's view: latency, not throughput); and the
weekly digest, ``tracker digest`` as a whole process on the same database.
(bench_web.py, the workspace's own, times pages in process against plain Datasette.)"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
from datetime import date, timedelta

import httpx

from bench_ingest import database, growth, sizes_built
from measure import TRACKER, WORK, median, page_times, run_process

REQUESTS, WARM_UP, DIGESTS = 30, 3, 5
PASSWORD = "benchmark password"
DIGEST = "weekly digest (`tracker digest`, whole process)"
# The targets: p95 in milliseconds (the digest: its median, in seconds) at a size.
TARGETS = {
    "publications with facets": [(100_000, 100), (1_000_000, 300)],
    "FTS search": [(1_000_000, 150)],
    "candidates query": [(1_000_000, 150)],
    "triage page": [(1_000_000, 150)],
    DIGEST: [(1_000_000, 1.0)],
}


def pages(name: str) -> dict[str, str]:
    return {
        "publications with facets": f"/{name}/publications",
        "FTS search": f"/{name}/publications?_search=kinship+care",
        "candidates query": f"/{name}/candidates",
        "triage page": "/-/triage",
    }


def prepare(size: int):
    """A copy of the ingested database with editors' decisions on it and an editor account."""
    folder = WORK / "datasette" / str(size)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    path = folder / "tracker.db"
    shutil.copy(database(size), path)
    with sqlite3.connect(path) as conn:
        # About what a year of triage leaves: a twentieth accepted, a tenth rejected.
        conn.execute("update publications set status = 'accepted', reviewed_at = first_seen "
                     "where id % 20 = 0")
        conn.execute("update publications set status = 'rejected', reviewed_at = first_seen "
                     "where id % 10 = 1")
    subprocess.run([TRACKER, "editor", "add", "bench", "--db", path], input=PASSWORD + "\n",
                   text=True, check=True, capture_output=True)
    return path


def serve(path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([TRACKER, "serve", "--no-poll", "--db", path, "--port", str(port)],
                               env={**os.environ, "DATASETTE_SECRET": "benchmark"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            httpx.get(base + "/", timeout=5)
            return process, base
        except httpx.TransportError:
            if process.poll() is not None:
                raise RuntimeError(process.stderr.read()) from None
            time.sleep(0.2)
    raise RuntimeError("tracker serve did not start")


def login(base: str) -> httpx.Client:
    import re

    client = httpx.Client(base_url=base, timeout=60)
    token = re.search(r'name="csrftoken" value="([^"]+)"', client.get("/-/login").text).group(1)
    client.post("/-/login", data={"username": "bench", "password": PASSWORD, "csrftoken": token})
    return client


def time_pages(size: int, labels: list[str]) -> dict[str, tuple[float, float]]:
    path = prepare(size)
    process, base = serve(path)
    try:
        client = login(base)
        times = {label: page_times(client.get, path, requests=REQUESTS, warm_up=WARM_UP)
                 for label, path in pages("tracker").items() if label in labels}
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    if DIGEST not in labels:
        return times
    # The issue of the Friday after the newest publication: this week's list and candidates.
    with sqlite3.connect(path) as conn:
        newest = date.fromisoformat(conn.execute("select max(first_seen) from publications")
                                    .fetchone()[0][:10])
    friday = newest + timedelta(days=(4 - newest.weekday()) % 7)
    seconds = [run_process([TRACKER, "digest", "--week", friday.isoformat(), "--db", path]).seconds
               for _ in range(DIGESTS)]
    times[DIGEST] = (median(seconds), max(seconds))
    return times


def verdicts(label: str, table: dict[int, dict[str, tuple[float, float]]]) -> tuple[str, str]:
    """The target cell and the result cell of one row: each target at the size it names."""
    targets, results = [], []
    digest = label == DIGEST
    for size, limit in TARGETS[label]:
        unit = f"{limit:g} s (median)" if digest else f"{limit} ms (p95)"
        targets.append(f"<= {unit} at {size:,}")
        if size not in table:
            results.append(f"not run at {size:,}")
            continue
        value = table[size][label][0] if digest else table[size][label][1]
        shown = f"{value:.2f} s" if digest else f"{value:.0f} ms"
        results.append(("met" if value <= limit else "**missed**") + f" ({shown})")
    return "; ".join(targets), "; ".join(results)


LABELS = [*pages("tracker"), DIGEST]


def run(runs: int, quick: bool = False, only_sizes: list[int] | None = None,
        labels: list[str] | None = None) -> str:
    """quick: the smallest size only; ``only_sizes`` and ``labels``: just those (default all)."""
    sizes = sizes_built()
    if not sizes:
        raise RuntimeError("run the ingest section first (no database built)")
    if quick:
        sizes = sizes[:1]
    if only_sizes:
        sizes = [size for size in sizes if size in only_sizes]
    labels = [label for label in LABELS if label in (labels or LABELS)]
    table = {size: time_pages(size, labels) for size in sizes}
    for size, results in table.items():
        print(f"  datasette {size}: " + ", ".join(
            f"{k} {v[0]:.2f} s" if k == DIGEST else f"{k} {v[0]:.0f}/{v[1]:.0f} ms"
            for k, v in results.items()), flush=True)
    lines = [
        "## Datasette and the digest",
        "",
        "A real `tracker serve --no-poll` on each database built by the ingest benchmark, with "
        "a twentieth of the publications accepted and a tenth rejected; an editor logged in; "
        f"each page requested {REQUESTS} times in turn after {WARM_UP} warm-up requests, timed "
        "at the client (loopback HTTP included): p50 / p95 in milliseconds. The weekly digest "
        f"is `tracker digest --week` for the Friday after the newest publication, run "
        f"{DIGESTS} times as a whole process (start-up included): median / slowest in seconds.",
        "",
        "| page | " + " | ".join(f"{size:,}" for size in sizes) + " | target | result |",
        "| --- | " + " | ".join("---:" for _ in sizes) + " | --- | --- |",
    ]
    for label in labels:
        digits = ".2f" if label == DIGEST else ".0f"
        cells = [f"{table[s][label][0]:{digits}} / {table[s][label][1]:{digits}}" for s in sizes]
        target, result = verdicts(label, table)
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {target} | {result} |")
    lines.append("")
    if len(sizes) > 1:
        for label in labels:
            lines += [growth(f"{label}, p50", {s: table[s][label][0] for s in sizes}), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Datasette page times (the datasette section alone).")
    parser.add_argument("--size", type=int, action="append", help="only this size (repeatable)")
    parser.add_argument("--page", action="append", choices=LABELS, help="only this row (repeatable)")
    arguments = parser.parse_args()
    print(run(1, only_sizes=arguments.size, labels=arguments.page))
