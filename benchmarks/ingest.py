"""Ingest and classify N synthetic publications into a fresh database, as one process:
``python ingest.py DB N``. The store path is the poller's own (``save_fetch``: one transaction
per source of 1,000 entries, first-seen dates spread over two years), then
``classify_publications`` on the new ids, as ``tracker poll`` does."""

import sys
import time
from datetime import datetime, timedelta, timezone

from corpus import entries, source_for
from tracker.judgement.classify import classify_publications
from tracker.store import FetchRecord, open_database, save_fetch, sync_sources

PER_SOURCE = 1000

if __name__ == "__main__":
    db_path, total = sys.argv[1], int(sys.argv[2])
    started = time.perf_counter()
    db = open_database(db_path)
    batches = max(1, total // PER_SOURCE)
    sources = [source_for(n) for n in range(batches)]
    sync_sources(db, sources)
    first = datetime.now(timezone.utc) - timedelta(days=730)
    new_ids = []
    for n, source in enumerate(sources):
        # The last source's batch arrives now: this week's candidates exist at every size.
        seen = first + timedelta(days=730 * (n + 1) / batches)
        record = FetchRecord(started=seen, duration_ms=100, status=200)
        new_ids += save_fetch(db, source, record, entries(min(PER_SOURCE, total), n * PER_SOURCE)).new_ids
    stored = time.perf_counter() - started
    classified = classify_publications(db, new_ids)
    done = time.perf_counter() - started
    print(f"stored={len(new_ids)} classified={classified} store_s={stored:.2f} "
          f"classify_s={done - stored:.2f}")
