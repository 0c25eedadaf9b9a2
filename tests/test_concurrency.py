"""Real processes at once: ``tracker poll`` writing, editors writing through a real
``tracker serve`` (logged in, POSTing to the canned queries), readers browsing, and
``tracker backup`` copying. Nothing may fail with "database is locked" and no write may be
lost."""

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
import yaml

from test_soak import atom
from tracker.store import open_database

pytestmark = pytest.mark.slow

TRACKER = Path(sys.executable).parent / "tracker"
SOURCES, FIRST_ITEMS, ADDED_PER_POLL, POLLS = 12, 30, 10, 3
PASSWORD = "a long enough password"
EDITORS = ("alice", "bob")
WRITES_PER_EDITOR = 30
LOCKED = re.compile(r"database is locked|database table is locked", re.I)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def publish(feed_server, items: int) -> None:
    start = datetime.now(timezone.utc) - timedelta(days=60)
    for s in range(SOURCES):
        entries = [{"n": n, "id": f"tag:{s}:{n}", "title": f"Source {s} report {n} on kinship care",
                    "published": (start + timedelta(hours=n)).isoformat(),
                    "updated": (start + timedelta(hours=n)).isoformat()} for n in range(items)]
        feed_server.serve(f"/s{s}.atom", atom(f"s{s}", entries), headers={"ETag": f'"{items}"'})


@pytest.fixture
def sources_file(tmp_path, feed_server):
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": [
        {"id": f"s{s}", "publisher": "DfE", "type": "feed", "url": feed_server.url(f"/s{s}.atom")}
        for s in range(SOURCES)]}))
    return path


@pytest.fixture
def server(db_path):
    """``tracker serve --no-poll`` as its own process, with two editor accounts."""
    open_database(db_path).close()
    for name in EDITORS:
        subprocess.run([TRACKER, "editor", "add", name, "--db", db_path], input=PASSWORD + "\n",
                       text=True, check=True, capture_output=True)
    port = free_port()
    process = subprocess.Popen(
        [TRACKER, "serve", "--no-poll", "--db", db_path, "--port", str(port)],
        env={**os.environ, "DATASETTE_SECRET": "concurrency-test-secret"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(base + "/", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
        time.sleep(0.2)
    yield base, process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(15)


def login(base: str, name: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    token = csrf(client, "/-/login")
    response = client.post("/-/login", data={"username": name, "password": PASSWORD, "csrftoken": token})
    assert response.status_code == 302 and "ds_actor" in client.cookies
    return client


def csrf(client: httpx.Client, path: str) -> str:
    return re.search(r'name="csrftoken" value="([^"]+)"', client.get(path).text).group(1)


def test_poll_editors_and_readers_at_once(db_path, sources_file, server, feed_server):
    base, serve_process = server
    stem = Path(db_path).stem
    poll = [TRACKER, "poll", "--sources", sources_file, "--db", db_path]
    publish(feed_server, FIRST_ITEMS)
    first = subprocess.run(poll, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    db = open_database(db_path)
    ids = [r[0] for r in db.execute("select id from publications order by id")]
    assert len(ids) == SOURCES * FIRST_ITEMS

    problems, expected, writes = [], {}, []
    stop_reading = threading.Event()

    def editor(index: int, name: str):
        client = login(base, name)
        mine = ids[index::len(EDITORS)][:WRITES_PER_EDITOR]
        for n, pid in enumerate(mine):
            if n % 2:
                query, data = "add_theme", {"id": pid, "theme": "kinship"}
            else:
                query, data = "set_status", {"id": pid, "status": ("accepted", "rejected")[n % 4 // 2]}
            token = csrf(client, f"/{stem}/{query}")
            response = client.post(f"/{stem}/{query}", data={**data, "csrftoken": token, "_json": "1"})
            body = response.json() if response.status_code == 200 else {}
            if not body.get("ok"):
                problems.append(f"{name} {query} {pid}: {response.status_code} {response.text[:200]}")
            expected[pid] = data
            writes.append((name, pid, query))

    def reader(editor: bool):
        # One anonymous visitor on the public pages, one editor on the triage page as well.
        client = login(base, EDITORS[0]) if editor else httpx.Client(base_url=base, timeout=30)
        pages = [f"/{stem}/publications?_facet=status&_facet=publisher",
                 f"/{stem}/publications?_search=kinship", f"/{stem}/candidates", f"/{stem}/sources"]
        pages += ["/-/triage"] if editor else []
        while not stop_reading.is_set():
            for page in pages:
                response = client.get(page)
                if response.status_code != 200 or LOCKED.search(response.text):
                    problems.append(f"reader {page}: {response.status_code}")

    def poller():
        for round in range(1, POLLS + 1):
            publish(feed_server, FIRST_ITEMS + round * ADDED_PER_POLL)
            done = subprocess.run(poll, capture_output=True, text=True)
            if done.returncode != 0 or LOCKED.search(done.stdout + done.stderr):
                problems.append(f"poll {round}: {done.returncode} {done.stdout[-300:]} {done.stderr[-300:]}")
            with sqlite3.connect(db_path) as conn:
                failed = conn.execute("select id, last_error from sources where last_error is not null")
                problems.extend(f"poll {round}: {row}" for row in failed)

    backups = []

    def backer_up():
        # `tracker backup` while all of the above run: each copy is whole and consistent.
        for n in range(3):
            time.sleep(1)
            dest = Path(db_path).with_name(f"backup-{n}.db")
            done = subprocess.run([TRACKER, "backup", dest, "--db", db_path],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                problems.append(f"backup {n}: {done.stderr}")
                continue
            with sqlite3.connect(dest) as conn:
                if conn.execute("pragma integrity_check").fetchone()[0] != "ok":
                    problems.append(f"backup {n}: integrity check failed")
                backups.append(conn.execute("select count(*) from audit_log").fetchone()[0])

    threads = [threading.Thread(target=editor, args=(i, name)) for i, name in enumerate(EDITORS)]
    threads += [threading.Thread(target=poller), threading.Thread(target=backer_up)]
    readers = [threading.Thread(target=reader, args=(editor,)) for editor in (False, True)]
    for thread in threads + readers:
        thread.start()
    for thread in threads:
        thread.join(300)
    stop_reading.set()
    for thread in readers:
        thread.join(60)

    assert problems == []
    assert len(backups) == 3 and backups == sorted(backups)
    # No lost writes: every editor's change is there, audited once, and the poll's rows too.
    assert len(writes) == len(EDITORS) * WRITES_PER_EDITOR
    for pid, data in expected.items():
        row = db["publications"].get(pid)
        if "status" in data:
            assert row["status"] == data["status"]
        else:
            assert "kinship" in json.loads(row["themes"]) and row["themes_by_editor"] == 1
    audited = db.execute("select editor, publication_id, action from audit_log").fetchall()
    assert sorted(audited) == sorted(writes)
    assert db["publications"].count == SOURCES * (FIRST_ITEMS + POLLS * ADDED_PER_POLL)
    serve_process.send_signal(signal.SIGTERM)
    assert serve_process.wait(15) == 0
    assert not LOCKED.search(serve_process.stderr.read())
