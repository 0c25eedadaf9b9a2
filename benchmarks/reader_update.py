"""The peer: lemon24's reader, run in its own venv (benchmarks/work/reader-venv).

``python reader_update.py DB URLS_FILE first|second|scheduled``: ``first`` adds the feeds and
updates them; ``second`` updates every feed again (conditional GETs: all 304);
``scheduled`` is reader 3.26's default call, which skips feeds not yet due (none are, right
after an update), so it measures start-up and bookkeeping rather than any fetching.
"""

import sys

from reader import make_reader

WORKERS = 16

if __name__ == "__main__":
    db, urls_file, mode = sys.argv[1:4]
    reader = make_reader(db)
    if mode == "first":
        for url in open(urls_file).read().split():
            reader.add_feed(url, exist_ok=True)
    reader.update_feeds(workers=WORKERS, scheduled=(mode == "scheduled"))
    entries = reader.get_entry_counts().total
    errors = sum(1 for feed in reader.get_feeds() if feed.last_exception)
    print(f"entries={entries} feed_errors={errors}")
    reader.close()
