"""`tracker serve` as a real process: it serves, polls a real local feed, and stops cleanly."""

import os
import signal
import socket
import subprocess
import time
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from tracker.store import open_database

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Department for Education - Activity on GOV.UK</title>
  <id>https://www.gov.uk/government/organisations/department-for-education.atom</id>
  <updated>{day}T09:30:00+00:00</updated>
  <entry>
    <id>https://www.gov.uk/government/publications/kinship-local-offer</id>
    <updated>{day}T09:30:00+00:00</updated>
    <link rel="alternate" type="text/html" href="https://www.gov.uk/government/publications/kinship-local-offer"/>
    <title>Kinship local offer template for local authorities</title>
    <summary type="html">&lt;p&gt;A template councils use to publish their kinship offer.&lt;/p&gt;</summary>
  </entry>
</feed>
"""


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def wait_for(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    return predicate()


@pytest.fixture
def served_db(tmp_path):
    path = tmp_path / "desk.db"
    open_database(path).close()
    return path


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_serve_polls_on_schedule_and_stops_cleanly(tmp_path, served_db, feed_server, stop,
                                                   serve_process):
    feed_path = "/government/organisations/department-for-education.atom"
    feed_server.serve(feed_path, ATOM.format(day=date.today().isoformat()),
                      content_type="application/atom+xml")
    sources = tmp_path / "sources.yaml"
    sources.write_text(f"sources:\n  - id: dfe-activity\n    publisher: DfE\n    type: feed\n"
                       f"    url: {feed_server.url(feed_path)}\n")
    proc, url = serve_process("--db", str(served_db), "--sources", str(sources))
    try:
        def titles():
            response = httpx.get(f"{url}desk/publications.json?_shape=array", timeout=5)
            assert response.status_code == 200
            return [row["title"] for row in response.json()]

        assert wait_for(titles) == ["Kinship local offer template for local authorities"]
        assert feed_server.requests_to(feed_path)
        health = httpx.get(f"{url}desk/source_health.json?_shape=array", timeout=5).json()
        assert health[0]["health"] == "ok" and health[0]["last_success"]
        friday = date.today() + timedelta(days=(4 - date.today().weekday()) % 7)
        # The digest follows the poll's classification, which may train a model first: slow.
        digest_page = wait_for(lambda: httpx.get(f"{url}-/digest/{friday}", timeout=5)
                               .status_code == 200, timeout=180)
        assert digest_page, "the scheduler should save the coming issue's digest"
        assert children_of(proc.pid) == []
    finally:
        proc.send_signal(stop)
        code = proc.wait(timeout=20)
    assert code == 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=2)


def test_serve_no_poll_serves_without_a_sources_file(served_db, serve_process):
    proc, url = serve_process("--db", str(served_db), "--sources", "/nonexistent.yaml",
                              "--no-poll")
    try:
        assert httpx.get(f"{url}desk/candidates.json", timeout=5).status_code == 200
        assert httpx.get(f"{url}-/login", timeout=5).status_code == 200
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0


def test_serve_warns_when_the_cookie_secret_is_unset(served_db, tracker_exe):
    env = {k: v for k, v in os.environ.items() if k != "DATASETTE_SECRET"}
    proc = subprocess.Popen([tracker_exe, "serve", "--db", str(served_db), "--no-poll", "--port", "0"],
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        first = proc.stderr.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert "DATASETTE_SECRET is not set" in first


@pytest.mark.parametrize("args,message", [
    (["--db", "{tmp}/missing.db", "--no-poll"], "no database at"),
    (["--db", "{db}", "--sources", "{tmp}/missing.yaml"], "sources file not found"),
])
def test_serve_user_errors_exit_2(tmp_path, served_db, args, message, run_tracker):
    args = [a.format(tmp=tmp_path, db=served_db) for a in args]
    result = run_tracker("serve", *args, timeout=30)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_serve_reports_a_port_in_use(served_db, run_tracker):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_tracker("serve", "--db", served_db, "--no-poll", "--port", port, timeout=30)
    assert result.returncode == 2
    assert f"could not listen on 127.0.0.1:{port}" in result.stderr


@pytest.mark.parametrize("next_poll_in,low,high", [
    (timedelta(hours=5), 3600, 3960),  # never longer than the interval (plus jitter)
    (timedelta(minutes=20), 1200, 1320),  # the next due source, plus at most 10% jitter
    (timedelta(hours=-1), 30, 33),  # overdue: soon, but never a busy loop
])
def test_scheduler_sleeps_until_the_next_source_is_due(db, make_source, next_poll_in, low, high):
    from datetime import datetime, timezone

    from tracker.dates import utc_iso
    from tracker.ingest.config import Config, Settings
    from tracker.store import sync_sources
    from tracker.web.serve import Scheduler

    sources = (make_source("a"), make_source("b", enabled=False))
    sync_sources(db, sources)
    now = datetime.now(timezone.utc)
    db.execute("update sources set next_poll = ? where id = 'a'", [utc_iso(now + next_poll_in)])
    db.execute("update sources set next_poll = ? where id = 'b'", [utc_iso(now - timedelta(days=9))])
    scheduler = Scheduler(Path("unused.db"), Config(Settings(interval=3600), sources))
    assert low <= scheduler.seconds_to_next(db) <= high


def test_scheduler_skips_a_pass_while_another_poll_runs(db, db_path, make_source, caplog):
    from tracker.ingest.config import Config, Settings
    from tracker.store import poll_lock
    from tracker.web.serve import Scheduler

    caplog.set_level("INFO", logger="tracker")
    scheduler = Scheduler(db_path, Config(Settings(), (make_source("a"),)))
    with poll_lock(db_path):
        scheduler.run_once(db)
    assert "poll skipped: a poll is already running" in caplog.text
    assert db["fetch_log"].count == 0


def test_serve_logs_a_line_per_request_and_an_expected_error_in_one(served_db, tmp_path,
                                                                   tracker_exe):
    """uvicorn's access log and (at --log-level info) the plugin's one line for a 404 or a search
    the full-text parser refuses, on stderr; no traceback for either."""
    import re

    log_path = tmp_path / "serve.log"
    env = {**os.environ, "DATASETTE_SECRET": "serve-test-secret", "TRACKER_LOG_LEVEL": "info"}
    with open(log_path, "w") as log:
        proc = subprocess.Popen([tracker_exe, "serve", "--db", str(served_db), "--no-poll",
                                 "--port", "0"], stderr=log, stdout=subprocess.DEVNULL, env=env)
    try:
        started = wait_for(lambda: re.search(r"Serving the workspace at (\S+)",
                                             log_path.read_text()))
        assert started, log_path.read_text()
        url = started.group(1)
        assert httpx.get(f"{url}desk/publications", timeout=5).status_code == 200
        assert httpx.get(f"{url}desk/nothing-here", timeout=5).status_code == 404
        assert httpx.get(f"{url}desk/publications?_search=%22", timeout=5).status_code == 400
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0
    lines = log_path.read_text().splitlines()
    assert "Traceback" not in "\n".join(lines) and not [line for line in lines if "│" in line]
    access = [line for line in lines if " uvicorn.access: " in line]
    assert [line.split('"')[1:] for line in access] == [
        ["GET /desk/publications HTTP/1.1", " 200"],
        ["GET /desk/nothing-here HTTP/1.1", " 404"],
        ["GET /desk/publications?_search=%22 HTTP/1.1", " 400"],
    ]
    assert [line.split(" tracker.web: ")[1] for line in lines if " tracker.web: " in line] == [
        "404 /desk/nothing-here: Table not found",
        '400 /desk/publications: fts5: syntax error near ""',
    ]


def test_serve_private_from_the_environment_under_a_base_url(served_db, serve_process):
    proc, url = serve_process("--db", str(served_db), "--no-poll", "--base-url", "tracker",
                              env={"TRACKER_PRIVATE": "1"})
    assert url.endswith("/tracker/")
    assert httpx.get(f"{url}desk/publications.json", timeout=5).status_code == 403
    browser = httpx.get(url, headers={"accept": "text/html"}, timeout=5)
    assert browser.headers["location"] == "/tracker/-/login?next=/tracker/"
    assert httpx.get(f"{url}-/login", timeout=5).status_code == 200


def test_serve_session_hours_from_the_environment(workspace_db, serve_process, editor_password):
    proc, url = serve_process("--db", str(workspace_db), "--no-poll",
                              env={"TRACKER_SESSION_HOURS": "2"})
    with httpx.Client(base_url=url, timeout=30) as client:
        form = client.get("/-/login")
        token = form.text.split('name="csrftoken" value="')[1].split('"')[0]
        response = client.post("/-/login", data={"username": "alice", "password": editor_password,
                                                 "csrftoken": token})
    assert response.status_code == 302
    assert "Max-Age=7200" in response.headers["set-cookie"]


@pytest.mark.parametrize("hours", ["0", "-1", "100000", "soon"])
def test_serve_refuses_a_senseless_session_length(served_db, run_tracker, hours):
    result = run_tracker("serve", "--db", served_db, "--no-poll", "--session-hours", hours, timeout=30)
    assert result.returncode == 2
    assert "--session-hours" in result.stderr and "Traceback" not in result.stderr


def test_what_follows_a_poll_runs_apart_and_never_holds_up_the_next(db_path):
    """The digest's document look-ups and the notifications run in their own thread: a stalling
    publisher's host delays them, not the scheduler; kicks while busy make one more run."""
    import threading

    from tracker.web.serve import FollowUp

    started, release, runs = threading.Event(), threading.Event(), []

    def stalling(db):
        runs.append(db["publications"].count)
        started.set()
        release.wait(10)

    follow_up = FollowUp(db_path, stalling)
    follow_up.start()
    try:
        follow_up.kick()
        assert started.wait(5)
        for _ in range(3):  # three polls finish while the first follow-up still stalls
            follow_up.kick()
        release.set()
        deadline = time.monotonic() + 5
        while len(runs) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
        assert len(runs) == 2
    finally:
        release.set()
        follow_up.stop()
    assert not follow_up.is_alive()


def test_a_poll_pass_hands_what_follows_to_its_own_thread(db, db_path):
    """run_once returns as soon as the poll is stored, however long the look-ups and messages
    that follow take."""
    import threading

    from tracker.ingest.config import Config, Settings
    from tracker.web.serve import FollowUp, Scheduler

    started, release = threading.Event(), threading.Event()

    def stalling(db):
        started.set()
        release.wait(10)

    scheduler = Scheduler(db_path, Config(Settings(), ()))
    scheduler.follow_up = FollowUp(db_path, stalling)
    scheduler.follow_up.start()
    try:
        scheduler.run_once(db)
        assert started.wait(5)  # the follow-up is stalled on its host ...
        begun = time.monotonic()
        scheduler.run_once(db)  # ... and the next pass does not wait for it
        assert time.monotonic() - begun < 5
    finally:
        release.set()
        scheduler.follow_up.stop()
