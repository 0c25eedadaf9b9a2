"""`tracker poll` as users and cron meet it: exit status, one-line errors, the summary."""

import os
import re
import signal
import sqlite3
import subprocess
import time

import pytest
import yaml
from click.testing import CliRunner

from test_cli_contract import read_only_folder  # noqa: F401 (a fixture)
from tracker.cli import cli


@pytest.fixture
def sources(tmp_path, feed_server, samples_dir):
    feed_server.serve("/become", (samples_dir / "become/feed.rss").read_bytes())
    feed_server.serve("/broken", b"nothing here", status=503)
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": [
        {"id": "become", "publisher": "Become", "type": "feed", "url": feed_server.url("/become")},
        {"id": "broken", "publisher": "FRG", "type": "feed", "url": feed_server.url("/broken")},
    ]}))
    return path


def test_a_pass_with_a_failing_source_exits_0_with_a_summary(tmp_path, sources, run_tracker):
    result = run_tracker("poll", "--sources", str(sources), "--db", "db/tracker.db", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    rows = summary_rows(result.stdout)
    assert rows[0] == ["source", "new", "updated", "unchanged", "result"]
    assert ["become", "5", "0", "0", "fetched"] in rows
    assert ["broken", "0", "0", "0", "the server answered 503 Service Unavailable"] in rows
    assert "unchanged\n" not in result.stdout  # every source had something to say
    assert "2 sources polled in" in result.stdout and "5 new publications, 1 source failed" in result.stdout
    db = sqlite3.connect(tmp_path / "db" / "tracker.db")
    assert db.execute("select last_error from sources where id = 'broken'").fetchone()[0] == (
        "the server answered 503 Service Unavailable")


def summary_rows(stdout: str) -> list[list[str]]:
    """The summary's table: its columns are aligned by runs of two spaces or more."""
    return [re.split(r" {2,}", line) for line in stdout.splitlines() if "  " in line]


def test_sources_with_nothing_new_are_counted_on_one_line_unless_all_are_asked_for(
        tmp_path, sources, run_tracker):
    db = str(tmp_path / "t.db")
    run_tracker("poll", "--sources", str(sources), "--db", db)
    again = run_tracker("poll", "--sources", str(sources), "--db", db)
    assert again.returncode == 0, again.stderr
    assert [row[0] for row in summary_rows(again.stdout)] == ["source", "broken"]
    assert "\n1 source unchanged\n2 sources polled in" in again.stdout
    assert again.stdout.rstrip().endswith("0 new publications, 1 source failed")
    every = run_tracker("poll", "--sources", str(sources), "--db", db, "--all-sources")
    rows = summary_rows(every.stdout)
    assert [row[0] for row in rows] == ["source", "become", "broken"]
    assert rows[1][1:4] == ["0", "0", "5"] and rows[1][4] in ("fetched", "not modified")
    assert "unchanged\n" not in every.stdout


def test_one_named_source(tmp_path, sources, feed_server, run_tracker):
    result = run_tracker("poll", "--sources", str(sources), "--db", str(tmp_path / "t.db"), "--source", "become")
    assert result.returncode == 0
    assert not feed_server.requests_to("/broken")


@pytest.mark.parametrize(
    "make_db,message",
    [
        pytest.param(lambda p: p.write_bytes(b"not sqlite at all " * 100), "is not a tracker database",
                     id="not-sqlite"),
        pytest.param(lambda p: sqlite3.connect(p).execute("create table cats (name)").connection.commit(),
                     "is not a tracker database (it has other tables)", id="someone-elses-database"),
    ],
)
def test_a_database_that_is_not_the_trackers_is_refused(tmp_path, sources, make_db, message, run_tracker):
    db = tmp_path / "other.db"
    make_db(db)
    result = run_tracker("poll", "--sources", str(sources), "--db", str(db))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: ")
    assert message in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("name", ["tracker.db", "new.db"])
def test_a_database_that_cannot_be_opened_or_written_is_not_called_someone_elses(
        read_only_folder, sources, run_tracker, name):  # noqa: F811 (the fixture imported above)
    # Every command on a read-only folder said "ro/tracker.db is not a tracker database
    # (unable to open database file)", sending its owner to check the wrong thing.
    result = run_tracker("poll", "--sources", sources, "--db", read_only_folder / name, cwd="/")
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"Error: cannot open or write {read_only_folder / name} (")
    assert "writable?" in result.stderr and "not a tracker database" not in result.stderr


def test_a_database_in_a_folder_that_cannot_be_created(tmp_path, sources, run_tracker):
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    result = run_tracker("poll", "--sources", str(sources), "--db", str(blocker / "db" / "tracker.db"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: ")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args,message",
    [
        pytest.param(["--frequency", "daily"], "No such option '--frequency'", id="unknown-option"),
        pytest.param(["--db", "/"], "Invalid value for '--db'", id="db-is-a-directory"),
    ],
)
def test_bad_options_exit_2_with_one_line(args, message, run_tracker):
    """Click's usage errors: the reason alone, without Click's usage and hint before it."""
    result = run_tracker("poll", *args)
    assert result.returncode == 2
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_help_describes_poll(run_tracker):
    result = run_tracker("poll", "--help")
    assert result.returncode == 0
    assert "--sources FILE" in result.stdout and "--due" in result.stdout and "--all-sources" in result.stdout


def test_log_level_from_the_option_or_the_environment(tmp_path, sources, run_tracker):
    """Logging goes to stderr, one line a message; the default keeps cron's mail to real trouble."""
    quiet = run_tracker("poll", "--sources", sources, "--db", tmp_path / "quiet.db")
    assert quiet.returncode == 0 and quiet.stderr == ""
    told = run_tracker("--log-level", "info", "poll", "--sources", sources, "--db", tmp_path / "info.db")
    assert told.returncode == 0, told.stderr
    assert re.search(r"(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO tracker\.ingest\.poll: "
                     r"broken: the server answered 503 Service Unavailable$", told.stderr)
    assert "DEBUG" not in told.stderr
    debug = run_tracker("poll", "--sources", sources, "--db", tmp_path / "debug.db",
                        env={"TRACKER_LOG_LEVEL": "debug"})
    assert re.search(r"(?m) DEBUG tracker\.ingest\.poll: become: fetched, 5 new in \d+ ms$", debug.stderr)
    # the summary is the same whatever is logged
    assert "5 new publications, 1 source failed" in told.stdout and "5 new publications" in debug.stdout


def test_ctrl_c_during_a_poll_is_one_line_and_keeps_what_was_stored(tmp_path, feed_server, samples_dir,
                                                                    tracker_exe):
    """SIGINT to the process group, as a terminal sends it, while one source hangs and another
    has been stored: exit status 130 (128 + SIGINT), one line, the database whole and unlocked."""
    feed_server.serve("/become", (samples_dir / "become/feed.rss").read_bytes())
    feed_server.fault("/slow", "hang")
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump({"sources": [
        {"id": "become", "publisher": "Become", "type": "feed", "url": feed_server.url("/become")},
        {"id": "slow", "publisher": "FRG", "type": "feed", "url": feed_server.url("/slow")},
    ]}))
    db = tmp_path / "tracker.db"
    poll = subprocess.Popen([tracker_exe, "poll", "--sources", sources, "--db", db], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while not (feed_server.requests_to("/slow") and db.exists() and stored(db) == 5):
        assert time.monotonic() < deadline and poll.poll() is None, poll.communicate()
        time.sleep(0.05)
    os.killpg(poll.pid, signal.SIGINT)
    stdout, stderr = poll.communicate(timeout=60)
    assert poll.returncode == 130, stderr
    assert stderr == "Error: interrupted (Ctrl-C)\n" and stdout == ""
    assert sqlite3.connect(db).execute("pragma integrity_check").fetchone() == ("ok",)
    assert stored(db) == 5
    feed_server.serve("/slow", b"nothing here", status=503)
    again = subprocess.run([tracker_exe, "poll", "--sources", sources, "--db", db], capture_output=True,
                           text=True, timeout=60)
    assert again.returncode == 0 and "2 sources polled" in again.stdout, again.stderr


def stored(db) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("select count(*) from publications").fetchone()[0]
    except sqlite3.OperationalError:  # not yet created
        return 0
    finally:
        conn.close()


def test_a_check_of_one_source_says_source(sources):
    one = CliRunner().invoke(cli, ["sources", "check", "--sources", str(sources), "--source", "become"])
    assert one.exit_code == 0, one.output
    assert "\n1 source checked: 1 work, 0 do not.\n" in one.output


def test_sources_left_behind_a_failing_host_are_not_counted_as_polled(tmp_path, feed_server):
    """Two at a time on one host, which is skipped for the rest of the pass after 3 failures:
    of six failing sources, the last two are not polled, and the total says so."""
    feed_server.serve("/down", b"nothing here", status=503)
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump({"sources": [
        {"id": f"s{n}", "publisher": "FRG", "type": "feed", "url": feed_server.url(f"/down?{n}")} for n in range(6)
    ]}))
    result = CliRunner().invoke(cli, ["poll", "--sources", str(sources), "--db", str(tmp_path / "t.db")])
    assert result.exit_code == 0, result.output
    results = [row[4] for row in summary_rows(result.output)[1:]]
    assert results.count("the server answered 503 Service Unavailable") == 4
    assert results.count("not polled: 127.0.0.1 failed 3 times in this pass") == 2
    assert re.search(r"\n4 sources polled in [\d.]+s: 0 new publications, 4 sources failed; 2 not polled\n$",
                     result.output), result.output


def test_ctrl_c_at_the_password_prompt_is_one_line_and_creates_no_editor(tmp_path, tracker_exe):
    """At a terminal `editor add` prompts for the password; Ctrl-C there is Click's Abort, which
    printed "Aborted!" with exit status 1."""
    import pty

    from tracker.store import open_database

    db = tmp_path / "tracker.db"
    open_database(db).close()
    pid, terminal = pty.fork()
    if pid == 0:  # the child: tracker on the terminal's end
        os.execv(tracker_exe, [tracker_exe, "editor", "add", "alice", "--db", str(db)])
    said = b""
    deadline = time.monotonic() + 30
    while b"Password:" not in said:
        assert time.monotonic() < deadline, said
        said += os.read(terminal, 1024)
    os.write(terminal, b"\x03")
    try:
        while chunk := os.read(terminal, 1024):
            said += chunk
    except OSError:  # the child has gone: the terminal is closed
        pass
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 130, said
    assert said.decode().splitlines()[-1] == "Error: interrupted at the prompt (Ctrl-C or Ctrl-D)"
    assert not (tmp_path / "tracker.db.editors.json").exists()
