"""Where a first poll's CPU goes, stage by stage, in one process, on the same 200 x 20 feeds
bench_poll.py serves (bodies made directly, no network): parsing and normalising, storing,
classifying. ``python poll_parts.py DB`` prints one line of seconds per stage."""

import sys
import time
from datetime import datetime, timezone

started = time.perf_counter()
from feedserver import atom_feed  # noqa: E402
from tracker.ingest.config import parse_config  # noqa: E402
from tracker.ingest.fetch import FetchResult  # noqa: E402
from tracker.ingest.parse import parse_body  # noqa: E402, F401 (the poll imports it on its first body)
from tracker.ingest.poll import _parse_and_normalise  # noqa: E402
from tracker.store import FetchRecord, open_database, sync_sources  # noqa: E402
from tracker.store.sources import save_fetches  # noqa: E402

FEEDS, ENTRIES, BASE = 200, 20, "http://127.0.0.1:8000"

if __name__ == "__main__":
    imports = time.perf_counter() - started
    config = parse_config({"sources": [
        {"id": f"bench-{n:03d}", "publisher": f"Publisher {n}", "type": "feed",
         "url": f"{BASE}/feeds/{n}.atom"} for n in range(FEEDS)]})
    bodies = [atom_feed(n, ENTRIES, BASE) for n in range(FEEDS)]
    today = datetime.now(timezone.utc).date()
    mark = time.perf_counter()
    parsed = []
    for source, body in zip(config.sources, bodies, strict=True):
        result = FetchResult(url=source.url)
        result.body, result.content_type = body, "application/atom+xml"
        entries, _skipped = _parse_and_normalise(source, result, today)
        parsed.append(entries)
    parse = time.perf_counter() - mark
    db = open_database(sys.argv[1])
    sync_sources(db, config.sources)
    mark = time.perf_counter()
    # As a pass's writer stores the sources ready together: here all of them, one transaction.
    record = FetchRecord(started=datetime.now(timezone.utc), duration_ms=100, status=200)
    ids = [new_id for stored in save_fetches(db, [(source, record, entries) for source, entries
                                                 in zip(config.sources, parsed, strict=True)])
           for new_id in stored.new_ids]
    store = time.perf_counter() - mark
    mark = time.perf_counter()
    from tracker.judgement.classify import classify_publications

    classify_publications(db, ids)
    classify = time.perf_counter() - mark
    print(f"imports={imports:.3f} parse={parse:.3f} store={store:.3f} classify={classify:.3f} "
          f"stored={len(ids)}")
