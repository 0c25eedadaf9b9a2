"""Crash safety with real SIGKILLs: a digest generation, a retrain and a backup, each killed at
several moments, then the database is checked (integrity, FTS) and the next run completes.

(A SIGKILL during a poll is covered in tests/test_poll.py.) A kill lands wherever the process
happens to be: start-up, reading, rendering or writing; the delays spread the kills over the
run, and whatever moment each one hits, the invariants must hold.
"""

import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tracker.entries import Entry
from tracker.ingest.config import parse_config
from tracker.ingest.normalise import url_key
from tracker.store import FetchRecord, open_database, save_fetch, sync_sources

pytestmark = pytest.mark.slow

TRACKER = Path(sys.executable).parent / "tracker"
WEEK = "2026-11-20"
PUBLICATIONS = 6000  # enough for each command to run a noticeable fraction of a second
# A digest or backup of this database takes about 0.3-0.5 s here; the kills spread over that.
KILL_AFTER = (0.05, 0.12, 0.2, 0.28, 0.36, 0.45)
TOPICS = ("kinship care", "special educational needs", "fostering allowances", "youth justice",
          "children's social care workforce", "adoption support", "school attendance")


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A database of PUBLICATIONS, a third accepted within the digest's window, built once."""
    path = tmp_path_factory.mktemp("crash") / "template.db"
    db = open_database(path)
    source = parse_config({"sources": [{"id": "dfe", "publisher": "DfE", "type": "feed",
                                        "url": "https://example.org/feed"}]}).sources[0]
    sync_sources(db, [source])
    start = datetime(2026, 9, 1, 9, tzinfo=timezone.utc)
    for batch in range(0, PUBLICATIONS, 500):
        entries = []
        for n in range(batch, batch + 500):
            url = f"https://www.gov.uk/government/publications/report-{n}"
            title = f"Report {n}: {TOPICS[n % len(TOPICS)]} in England, <b>{n % 97}</b> areas"
            day = (start + timedelta(hours=n // 3)).date().isoformat()
            entries.append(Entry(url=url, url_key=url_key(url), title=title, summary=title * 3,
                                 published=day, date_source="feed"))
        save_fetch(db, source, FetchRecord(started=start, duration_ms=1, status=200), entries)
    db.execute("update publications set status = 'accepted' where id % 3 = 0")
    db.execute("update publications set status = 'rejected' where id % 3 = 1 and id % 2 = 0")
    db.close()
    return path


@pytest.fixture
def crash_db(template, tmp_path):
    path = tmp_path / "tracker.db"
    shutil.copy(template, path)
    return path


def kill_after(args, delay: float) -> int | None:
    """Start ``tracker ARGS``, SIGKILL it after ``delay`` s; its exit code if it finished first."""
    process = subprocess.Popen([str(TRACKER), *map(str, args)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    time.sleep(delay)
    finished = process.poll()
    process.send_signal(signal.SIGKILL)
    process.wait()
    return finished


def kill_when(args, condition, timeout=600) -> int | None:
    """Start ``tracker ARGS`` and SIGKILL it the moment ``condition()`` holds."""
    process = subprocess.Popen([str(TRACKER), *map(str, args)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while process.poll() is None and not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    finished = process.poll()
    process.send_signal(signal.SIGKILL)
    process.wait()
    return finished


def models(path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("select count(*) from models").fetchone()[0]


def assert_consistent(path):
    with sqlite3.connect(path) as conn:
        assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
        conn.execute("insert into publications_fts(publications_fts) values('integrity-check')")
        # The FTS index holds exactly the publications (the triggers ran in the same transaction).
        assert (conn.execute("select count(*) from publications_fts").fetchone()[0]
                == conn.execute("select count(*) from publications").fetchone()[0])
        assert conn.execute("pragma foreign_key_check").fetchall() == []


def statuses(path):
    with sqlite3.connect(path) as conn:
        return conn.execute("select id, status, themes from publications order by id").fetchall()


def test_digest_killed_at_any_moment_leaves_the_old_digest_or_the_new_one(crash_db):
    run = ["digest", "--week", WEEK, "--save", "--db", crash_db]
    assert subprocess.run([TRACKER, *map(str, run)], capture_output=True).returncode == 0
    with sqlite3.connect(crash_db) as conn:
        conn.execute("update digests set html = 'previous', markdown = 'previous'")
    before = statuses(crash_db)
    killed = 0
    for delay in KILL_AFTER:
        killed += kill_after(run, delay) is None
        assert_consistent(crash_db)
        with sqlite3.connect(crash_db) as conn:
            rows = conn.execute("select html, markdown from digests where week = ?", [WEEK]).fetchall()
        assert len(rows) == 1
        html, markdown = rows[0]
        assert (html, markdown) == ("previous", "previous") or (
            html.rstrip().endswith(">") and "previous" not in markdown)
    assert killed >= 3  # most kills hit a running digest, not a finished one
    assert statuses(crash_db) == before  # a digest never changes a decision
    done = subprocess.run([TRACKER, *map(str, run)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(crash_db) as conn:
        html = conn.execute("select html from digests where week = ?", [WEEK]).fetchone()[0]
    assert "Report" in html and "<b>" not in html  # complete, and feed markup escaped


def test_train_killed_at_any_moment_keeps_decisions_and_the_next_run_completes(crash_db):
    # Editors' decisions on a few hundred publications; editor-set themes on some of them.
    with sqlite3.connect(crash_db) as conn:
        conn.execute("update publications set status = 'new' where id > 200")
        conn.execute("update publications set themes = '[\"kinship\"]', themes_by_editor = 1 "
                     "where id % 7 = 0")
    before = [row for row in statuses(crash_db)]
    editor_set = [(i, s, t) for i, s, t in before if i % 7 == 0]
    run = ["train", "--db", crash_db]
    # Early kills land in loading and cross-validation; the last one the moment the new model
    # is stored, while the unreviewed publications are being re-scored.
    kills = [lambda: kill_after(run, 0.5), lambda: kill_after(run, 3.0),
             lambda: kill_when(run, lambda: models(crash_db) > 0)]
    for kill in kills:
        finished = kill()
        assert_consistent(crash_db)
        after = statuses(crash_db)
        assert [(i, s) for i, s, _ in after] == [(i, s) for i, s, _ in before]
        assert [r for r in after if r[0] % 7 == 0] == editor_set
    assert finished is None and models(crash_db) == 1  # the last kill hit the re-scoring
    done = subprocess.run([TRACKER, *map(str, run)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert_consistent(crash_db)
    with sqlite3.connect(crash_db) as conn:
        assert conn.execute("select count(*) from models").fetchone()[0] >= 1
        unscored = conn.execute("select count(*) from publications where status = 'new' "
                                "and model_version is null").fetchone()[0]
    assert unscored == 0  # the completed run re-scored every unreviewed publication
    assert [r for r in statuses(crash_db) if r[0] % 7 == 0] == editor_set


def test_backup_killed_at_any_moment_leaves_no_half_copy(crash_db, tmp_path):
    dest = tmp_path / "backup.db"
    killed = 0
    for delay in KILL_AFTER:
        killed += kill_after(["backup", dest, "--db", crash_db], delay) is None
        assert_consistent(crash_db)
        if dest.exists():  # it finished before the kill: then it is a whole, good copy
            assert_consistent(dest)
            assert statuses(dest) == statuses(crash_db)
            dest.unlink()
    assert killed >= 2
    done = subprocess.run([TRACKER, "backup", dest, "--db", crash_db], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert_consistent(dest)
    assert statuses(dest) == statuses(crash_db)
