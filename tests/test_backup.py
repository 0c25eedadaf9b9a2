"""tracker backup: a consistent copy while another process keeps writing, and clear refusals."""

import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest
from click.testing import CliRunner

from tracker.cli import cli
from tracker.ops.backup import backup_database
from tracker.store import open_database

BATCH = 10

# A separate process writes batches of BATCH publications, each batch and its fetch_log row
# in one transaction (save_fetch, as a poll does), until it is killed.
WRITER = textwrap.dedent(f"""
    import sys
    from datetime import datetime, timezone
    from tracker.ingest.config import parse_config
    from tracker.entries import Entry
    from tracker.ingest.normalise import url_key
    from tracker.store import FetchRecord, open_database, save_fetch, sync_sources
    db = open_database(sys.argv[1])
    source = parse_config({{"sources": [{{"id": "writer", "publisher": "DfE", "type": "feed",
                                          "url": "https://example.org/feed"}}]}}).sources[0]
    sync_sources(db, [source])
    print("ready", flush=True)
    batch = 0
    while True:
        entries = []
        for n in range({BATCH}):
            url = f"https://example.org/p/{{batch}}/{{n}}"
            entries.append(Entry(url=url, url_key=url_key(url), title=f"Report {{batch}} {{n}}",
                                 summary="", published=None, date_source="first_seen"))
        save_fetch(db, source, FetchRecord(started=datetime.now(timezone.utc), duration_ms=1,
                                           status=200), entries)
        batch += 1
""")


@pytest.fixture
def writer(db_path):
    open_database(db_path).close()
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(db_path)],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    yield process
    process.kill()
    process.wait()


def counts(path):
    with sqlite3.connect(path) as conn:
        assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
        conn.execute("insert into publications_fts(publications_fts) values('integrity-check')")
        return (conn.execute("select count(*) from publications").fetchone()[0],
                conn.execute("select count(*) from fetch_log").fetchone()[0])


def test_backups_taken_while_a_writer_runs_are_each_one_consistent_snapshot(db_path, tmp_path, writer):
    seen = []
    for n in range(5):
        time.sleep(0.2)
        result = backup_database(db_path, tmp_path / f"copy-{n}.db")
        publications, fetches = counts(result.path)
        # Whole transactions only: every batch with its fetch log row, never half a batch.
        assert publications == fetches * BATCH
        assert result.publications == publications
        seen.append(publications)
    assert seen == sorted(seen) and seen[-1] > seen[0] > 0  # the writer really was writing
    assert not list(tmp_path.glob("*.partial"))
    # The copy is a working tracker database.
    open_database(tmp_path / "copy-4.db").close()


def test_cli_backup_into_a_folder(db_path, tmp_path, writer):
    folder = tmp_path / "backups"
    folder.mkdir()
    result = CliRunner().invoke(cli, ["backup", str(folder), "--db", str(db_path)])
    assert result.exit_code == 0, result.output
    (copy,) = folder.glob("tracker-*.db")
    assert list(folder.iterdir()) == [copy]  # the database alone: no editors file, no -wal
    assert f"to {copy}" in result.output
    publications, fetches = counts(copy)
    assert publications == fetches * BATCH


@pytest.mark.parametrize("name", ["backups/", "var/backups/tracker/"])
def test_cli_backup_into_a_folder_named_with_a_trailing_slash_creates_it(db_path, tmp_path, name):
    # The README's own example, "tracker backup /var/backups/tracker/", on a machine without it.
    open_database(db_path).close()
    result = CliRunner().invoke(cli, ["backup", f"{tmp_path}/{name}", "--db", str(db_path)])
    assert result.exit_code == 0, result.output
    folder = tmp_path / name
    assert folder.is_dir()
    (copy,) = folder.iterdir()
    assert copy.name.startswith("tracker-") and copy.suffix == ".db" and f"to {copy}" in result.output
    assert counts(copy) == (0, 0)


def test_backup_into_a_folder_named_where_a_file_is_refuses(db_path, tmp_path):
    open_database(db_path).close()
    (tmp_path / "backups").write_text("not a folder")
    result = CliRunner().invoke(cli, ["backup", f"{tmp_path}/backups/", "--db", str(db_path)])
    assert result.exit_code == 2 and "cannot create the folder" in result.output, result.output
    assert (tmp_path / "backups").read_text() == "not a folder"


@pytest.mark.parametrize("case, message", [
    ("missing database", "no database at"),
    ("not ours", "not a tracker database"),
    ("not ours, into a new folder", "not a tracker database"),
    ("destination exists", "already exists"),
    ("no such folder", "no folder"),
])
def test_refusals_are_one_line_exit_2_and_write_nothing(tmp_path, db_path, case, message):
    open_database(db_path).close()
    dest = tmp_path / "copy.db"
    source = db_path
    if case == "missing database":
        source = tmp_path / "missing.db"
    elif case == "not ours":
        source = tmp_path / "other.db"
        with sqlite3.connect(source) as conn:
            conn.execute("create table customers (id integer primary key)")
    elif case == "destination exists":
        dest.write_text("an earlier backup")
    elif case == "not ours, into a new folder":
        source = tmp_path / "other.db"
        with sqlite3.connect(source) as conn:
            conn.execute("create table customers (id integer primary key)")
        dest = f"{tmp_path}/backups/"
    else:
        dest = tmp_path / "nowhere" / "copy.db"
    before = sorted(p.name for p in tmp_path.iterdir())
    result = CliRunner().invoke(cli, ["backup", str(dest), "--db", str(source)])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == before
