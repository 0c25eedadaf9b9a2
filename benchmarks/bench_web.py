"""Page times of the editors' workspace: p50/p95 over repeated requests, in process.

Requests go through Datasette's own ASGI client (no sockets), so the figures are Datasette's
and SQLite's work plus our plugin's, not the network's. The baseline is Datasette's plain
publications page on the same file (no metadata: no facets, no sort), run side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sqlite3

from measure import WORK, median, page_times

REQUESTS = 40
WARM_UP = 3
SCALE_ROWS = 20_000


def sample_database():
    """The README's demo database: the bundled sample feeds through the real pipeline."""
    from tracker.ops.demo import poll_samples

    path = WORK / "web" / "demo.db"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        poll_samples(path)
    return path


def scaled_database(sample):
    """The sample's publications repeated to SCALE_ROWS rows (new URLs), FTS kept by triggers."""
    path = WORK / "web" / "scaled.db"
    if path.exists():
        return path
    shutil.copy(sample, path)
    conn = sqlite3.connect(path)
    columns = [row[1] for row in conn.execute("pragma table_info(publications)") if row[1] != "id"]
    count = conn.execute("select count(*) from publications").fetchone()[0]
    copies = max(1, SCALE_ROWS // max(count, 1))
    rest = ", ".join(c for c in columns if c not in ("url", "url_key"))
    with conn:
        for n in range(1, copies):
            conn.execute(
                f"insert into publications (url, url_key, {rest}) "
                f"select url || '#copy{n}', url_key || '#copy{n}', {rest} from publications "
                f"where url not like '%#copy%'"
            )
    conn.close()
    return path


def pages(db_name):
    return {
        "publications with facets": f"/{db_name}/publications",
        "search (`_search=care`)": f"/{db_name}/publications?_search=care",
        "candidates query": f"/{db_name}/candidates",
        "triage page (editor)": "/-/triage",
        "dashboard": "/-/dashboard",
    }


def time_pages(db_path):
    from datasette.app import Datasette

    from tracker.web.editors import editor_add
    from tracker.web.serve import make_datasette
    from tracker.web.sessions import open_session

    ours = make_datasette(db_path, secret="bench")
    plain = Datasette([str(db_path)])
    # A session of a real account: the workspace honours no other editor cookie.
    editor_add(db_path, "bench", "bench password", iterations=1000)
    cookies = {"ds_actor": open_session(ours, "bench")}
    targets = [(name, ours, path) for name, path in pages(db_path.stem).items()]
    targets.append(("baseline: plain Datasette publications", plain, f"/{db_path.stem}/publications"))
    # One event loop for the whole run: Datasette's client is async, the shared timing loop is not.
    loop = asyncio.new_event_loop()
    try:
        return {
            name: page_times(lambda p, ds=ds: loop.run_until_complete(ds.client.get(p, cookies=cookies)),
                             path, requests=REQUESTS, warm_up=WARM_UP)
            for name, ds, path in targets
        }
    finally:
        loop.close()


def run(runs: int, quick: bool = False) -> str:
    """quick: the demo's database only, without the scaled copy."""
    sample = sample_database()
    tables = {}
    for path in (sample,) if quick else (sample, scaled_database(sample)):
        rows = sqlite3.connect(path).execute("select count(*) from publications").fetchone()[0]
        rounds = [time_pages(path) for _ in range(runs)]
        tables[rows] = {
            name: (median(r[name][0] for r in rounds), median(r[name][1] for r in rounds))
            for name in rounds[0]
        }
        print(f"  web {rows} rows done", flush=True)
    sizes = list(tables)
    lines = [
        "## Workspace page times",
        "",
        f"{REQUESTS} requests per page after {WARM_UP} warm-up requests, through Datasette's "
        "ASGI client (`benchmarks/bench_web.py`), on the demo's database (the sample feeds "
        f"polled by `tracker demo`) and on a copy scaled to about {SCALE_ROWS:,} publications. "
        f"Median over {runs} rounds of each percentile, in milliseconds.",
        "",
        "| page | " + " | ".join(f"p50 / p95 at {s:,} rows" for s in sizes) + " |",
        "| --- | " + " | ".join("---:" for _ in sizes) + " |",
    ]
    for name in tables[sizes[0]]:
        cells = [f"{tables[s][name][0]:.0f} / {tables[s][name][1]:.0f}" for s in sizes]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    base = "baseline: plain Datasette publications"
    ratios = ", ".join(
        f"{tables[s]['publications with facets'][0] / tables[s][base][0]:.1f}x at {s:,} rows"
        for s in sizes
    )
    lines += ["", f"Publications page with our facets and sort against the plain page: {ratios}.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the demo's database only (a smoke run)")
    print(run(1, quick=parser.parse_args().quick))
