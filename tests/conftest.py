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
