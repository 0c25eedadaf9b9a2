"""Shared fixtures: a real SQLite file per test, sources built through the real validator."""

from pathlib import Path

import pytest

from tracker.config import parse_config
from tracker.store import open_database

ROOT = Path(__file__).resolve().parent.parent
FEEDS = Path(__file__).resolve().parent / "feeds"


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "tracker.db"


@pytest.fixture
def db(db_path):
    database = open_database(db_path)
    yield database
    database.close()


@pytest.fixture
def make_source():
    """Build a Source through the same validation sources.yaml goes through."""

    def make(id="test-feed", publisher="DfE", type="feed", url="https://example.org/feed", **extra):
        raw = {"id": id, "publisher": publisher, "type": type, "url": url, **extra}
        return parse_config({"sources": [raw]}).sources[0]

    return make


@pytest.fixture
def feed_server():
    """A real HTTP server on 127.0.0.1 (see tests/feedserver.py), closed after the test."""
    from feedserver import FeedServer

    server = FeedServer()
    yield server
    server.close()


@pytest.fixture
def add_publication(db):
    """Insert a publication as the store keeps it (a real row in the real schema); returns its id."""
    import json

    from tracker.normalise import url_key

    def add(title="Family Court Statistics Quarterly: October to December 2024", *, url=None,
            status="accepted", publisher="MoJ", published="2025-04-07",
            first_seen="2025-04-07T09:00:00Z", themes=(), **extra):
        url = url or f"https://example.org/publications/{db['publications'].count + 1}"
        row = {
            "url": url, "url_key": url_key(url), "title": title, "publisher": publisher,
            "published": published, "date_source": "feed" if published else "first_seen",
            "first_seen": first_seen, "status": status, "themes": json.dumps(list(themes)),
            **extra,
        }
        return db["publications"].insert(row).last_pk

    return add
