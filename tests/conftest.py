"""Shared fixtures: a real SQLite file per test, sources built through the real validator,
tracker run as a real process, and the folders tests read from.

Tests ask for what they need by fixture, never ``from conftest import ...`` (pytest may import
this file under another name)."""

import json
import os
import queue
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from feedserver import FEEDS, FeedServer
from tracker.entries import Entry
from tracker.ingest.config import parse_config
from tracker.ingest.normalise import url_key
from tracker.paths import DATA
from tracker.store import FetchRecord, open_database, save_fetch, sync_sources

ROOT = Path(__file__).resolve().parent.parent
EDITOR_PASSWORD = "correct horse battery"


def pytest_collection_modifyitems(items):
    """A test that starts tracker as a real process (tracker_exe, or a fixture built on it such as
    run_tracker and serve_process) is in the slow tier: `pytest -m "not slow"` stays in process."""
    for item in items:
        if "tracker_exe" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository's top folder (sources.yaml, README.md, benchmarks/)."""
    return ROOT


@pytest.fixture(scope="session")
def feeds_dir() -> Path:
    """tests/feeds: recorded publisher responses."""
    return FEEDS


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """The sample feeds packaged with tracker (what `tracker demo` serves)."""
    return DATA / "samples"


@pytest.fixture(scope="session")
def editor_password() -> str:
    """The password of the editor "alice" in ``workspace_db``."""
    return EDITOR_PASSWORD


@pytest.fixture
def editor_cookies(editor_password):
    """``await editor_cookies(ds)``: the cookies of "alice" logged in to the Datasette ``ds``
    through the real login form."""
    async def log_in(ds) -> dict:
        form = await ds.client.get("/-/login")
        token = form.cookies["ds_csrftoken"]
        response = await ds.client.post("/-/login", data={"username": "alice", "password": editor_password,
                                                          "csrftoken": token}, cookies={"ds_csrftoken": token})
        assert response.status_code == 302
        return {"ds_actor": response.cookies["ds_actor"], "ds_csrftoken": token}

    return log_in


@pytest.fixture(scope="session")
def tracker_exe() -> str:
    """The installed ``tracker`` command of the Python running the tests (the venv's)."""
    return str(Path(sys.executable).with_name("tracker"))


@pytest.fixture
def run_tracker(tracker_exe):
    """Run ``tracker ARGS`` as a real process to its end; returns the CompletedProcess (text).

    ``env`` adds to the environment rather than replacing it; ``input`` is written to stdin.
    """

    def run(*args, cwd=None, input=None, env=None, timeout=180) -> subprocess.CompletedProcess:
        return subprocess.run([tracker_exe, *map(str, args)], input=input, capture_output=True,
                              text=True, cwd=cwd, env={**os.environ, **(env or {})},
                              timeout=timeout)

    return run


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
    server = FeedServer()
    yield server
    server.close()


@pytest.fixture
def add_publication(db):
    """Insert a publication as the store keeps it (a real row in the real schema); returns its id."""

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


@pytest.fixture
def workspace_db(tmp_path, make_source):
    """A populated database for the Datasette workspace, written by the real store code.

    Named newsroom.db on purpose: the workspace must not depend on the file being tracker.db.
    Holds an editor account "alice" (cheap hash: the iteration count is read from the hash).
    """
    # Only the workspace's tests pay for importing Datasette.
    from tracker.web.editors import editor_add
    from tracker.web.serve import sync_themes

    path = tmp_path / "newsroom.db"
    database = open_database(path)
    sources = [make_source("dfe-activity", "DfE"), make_source("ofsted-news", "Ofsted"),
               make_source("broken-feed", "Kinship", url="https://example.org/broken")]
    sync_sources(database, sources)
    sync_themes(database)
    now = datetime.now(timezone.utc)
    items = {
        "dfe-activity": [
            ("Kinship care statutory guidance for local authorities", "kinship-guidance",
             "How councils support kinship carers & <children>.", ["kinship"], 0.91),
            ("Children's social care workforce census 2026", "workforce-census",
             "Numbers of social workers, agency staff and vacancies.", ["workforce"], 0.72),
            ("School teachers' pay award", "teacher-pay", "The pay award for teachers.", [], 0.05),
        ],
        "ofsted-news": [
            ("Fostering in England 2025 to 2026", "fostering-in-england",
             "Official statistics on fostering households.", ["fostering"], 0.83),
            ("Annual report on SEND inspections", "send-inspections",
             "What inspectors found in local area SEND inspections.", ["send", "inspection"], 0.64),
        ],
    }
    for source in sources[:2]:
        entries = []
        for title, slug, summary, _, _ in items[source.id]:
            url = f"https://www.gov.uk/government/publications/{slug}"
            entries.append(Entry(url=url, url_key=url_key(url), title=title, summary=summary,
                                 published=now.date().isoformat(), date_source="feed"))
        save_fetch(database, source, FetchRecord(started=now, duration_ms=12, status=200), entries)
        for title, _, _, themes, score in items[source.id]:
            database.execute(
                "update publications set themes = ?, candidate_score = ? where title = ?",
                [json.dumps(themes), score, title],
            )
    save_fetch(database, sources[2], FetchRecord(started=now, duration_ms=3, status=500,
                                                 error="the server answered 500"))
    database.close()
    editor_add(path, "alice", EDITOR_PASSWORD, iterations=1000)
    return path


@pytest.fixture
def serve_process(tracker_exe):
    """Start `tracker serve ARGS` as a real process; returns (process, base URL). Stopped after."""
    started = []

    def start(*args, env=None):
        env = {**os.environ, "DATASETTE_SECRET": "serve-test-secret", **(env or {})}
        proc = subprocess.Popen([tracker_exe, "serve", "--port", "0", *args], cwd="/", env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        started.append(proc)
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in proc.stderr],
                         daemon=True).start()
        seen, deadline = [], time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                seen.append(lines.get(timeout=0.5))
            except queue.Empty:
                continue
            if "Serving the workspace at " in seen[-1]:
                return proc, seen[-1].split(" at ")[1].split()[0]
        pytest.fail(f"tracker serve did not start: {''.join(seen)}")

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=20)
