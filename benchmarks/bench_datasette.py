"""Datasette page times at 1,000, 10,000 and 100,000 publications, over real HTTP: a real
``tracker serve --no-poll`` process on each database that bench_ingest.py built, timed from a
client over loopback, one request at a time (an editor's view: latency, not throughput).
(bench_web.py, the workspace's own, times pages in process against plain Datasette.)"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import time

import httpx

from bench_ingest import SIZES, database, growth
from measure import TRACKER, WORK, page_times

REQUESTS, WARM_UP = 30, 3
TARGET_P95_MS = 300
PASSWORD = "benchmark password"


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


def time_pages(size: int) -> dict[str, tuple[float, float]]:
    process, base = serve(prepare(size))
    try:
        client = login(base)
        return {label: page_times(client.get, path, requests=REQUESTS, warm_up=WARM_UP)
                for label, path in pages("tracker").items()}
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


def run(runs: int, quick: bool = False) -> str:
    """quick: the smallest size only."""
    sizes = SIZES[:1] if quick else SIZES
    missing = [size for size in sizes if not database(size).exists()]
    if missing:
        raise RuntimeError(f"run the ingest section first (no database for {missing})")
    table = {size: time_pages(size) for size in sizes}
    for size, results in table.items():
        print(f"  datasette {size}: " + ", ".join(f"{k} {v[0]:.0f}/{v[1]:.0f} ms" for k, v in results.items()),
              flush=True)
    labels = list(pages("tracker"))
    lines = [
        "## Datasette",
        "",
        f"A real `tracker serve --no-poll` on each database built by the ingest benchmark, with "
        "a twentieth of the publications accepted and a tenth rejected; an editor logged in; "
        f"each page requested {REQUESTS} times in turn after {WARM_UP} warm-up requests, timed "
        "at the client (loopback HTTP included). p50 / p95 in milliseconds.",
        "",
        "| page | " + " | ".join(f"{size:,}" for size in sizes) + " | target p95 | result at the largest |",
        "| --- | " + " | ".join("---:" for _ in sizes) + " | --- | --- |",
    ]
    for label in labels:
        cells = [f"{table[s][label][0]:.0f} / {table[s][label][1]:.0f}" for s in sizes]
        p95 = table[sizes[-1]][label][1]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | < {TARGET_P95_MS} ms | "
                     + ("met" if p95 < TARGET_P95_MS else "**missed**") + " |")
    lines.append("")
    for label in labels:
        lines += [growth(f"{label}, p50", {s: table[s][label][0] for s in sizes}), ""]
    return "\n".join(lines)
