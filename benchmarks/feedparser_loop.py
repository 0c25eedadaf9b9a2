"""The naive baseline: fetch and parse each feed in turn with feedparser, nothing stored.

``python feedparser_loop.py URLS_FILE``
"""

import sys

import feedparser

if __name__ == "__main__":
    entries = 0
    for url in open(sys.argv[1]).read().split():
        entries += len(feedparser.parse(url).entries)
    print(f"entries={entries}")
