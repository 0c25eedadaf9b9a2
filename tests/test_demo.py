"""`tracker demo`: the README's run command, offline, from any directory."""

import re
import signal
import socket
import sqlite3
import subprocess
import time
from datetime import date, datetime, timedelta

import httpx
import pytest

from tracker.dates import LONDON
from tracker.ingest.config import load_config
from tracker.ops.demo import SAMPLE_PORT, SAMPLES_NEWEST, sample_shift, shift_dates
from tracker.paths import data_file
from tracker.publish.digest import next_issue_date

pytestmark = pytest.mark.slow

# What the samples hold, minus the two statistics announcements the poll drops.
EXPECTED_PUBLICATIONS = 90


@pytest.fixture
def demo(run_tracker):
    """Run `tracker demo ARGS` to its end."""

    def run(*args, cwd="/", sample_port=None):
        # Tests serve the samples on a port of their own: a developer's `make run`, or another
        # test run on the same machine, may hold 8765.
        port = ["--sample-port", str(sample_port or free_port())]
        return run_tracker("demo", *port, *args, cwd=cwd)

    return run


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_sample_sources_point_at_the_sample_server():
    config = load_config(data_file("sources.sample.yaml"))
    for source in config.sources:
        assert source.url.startswith(f"http://127.0.0.1:{SAMPLE_PORT}/"), source.id
        path = source.url.split("?")[0].removeprefix(f"http://127.0.0.1:{SAMPLE_PORT}/")
        assert (data_file("samples") / path).is_file(), source.id
    assert {s.type for s in config.sources} == {"feed", "govuk-search", "html"}


def test_demo_polls_the_samples_from_any_directory(tmp_path, demo):
    db, port = tmp_path / "demo.db", free_port()
    first = demo("--no-serve", "--db", str(db), sample_port=port)
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr
    assert f"{EXPECTED_PUBLICATIONS} new publications, 0 sources failed" in first.stdout
    conn = sqlite3.connect(db)
    assert conn.execute("select count(*) from publications").fetchone()[0] == EXPECTED_PUBLICATIONS
    assert conn.execute("select count(*) from sources where last_error is not null").fetchone()[0] == 0
    publishers = {row[0] for row in conn.execute("select distinct publisher from publications")}
    assert {"DfE", "Ofsted", "MoJ", "the Child Safeguarding Practice Review Panel", "ONS", "LGA",
            "Kinship", "Foundations", "the Children's Commissioner"} <= publishers
    # the newsletter's line is in there, with the date the editors would write: the samples'
    # newest date (7 April 2025, a Monday), moved by whole weeks into this week
    today = datetime.now(LONDON).date()
    moved = SAMPLES_NEWEST + sample_shift(today)
    assert moved.weekday() == 0 and today - timedelta(days=6) <= moved <= today
    assert conn.execute(
        "select published from publications where publisher = 'MoJ' and title = ?",
        ["Family Court Statistics Quarterly: October to December 2024"]).fetchone() == (moved.isoformat(),)
    # a real week: candidates first seen now, a few accepted as an editor would, a stored draft
    issue = next_issue_date(today).isoformat()
    assert conn.execute("select count(*) from audit_log where editor = 'demo' and action = 'set_status'"
                        " and new_value = 'accepted'").fetchone() == (3,)
    assert conn.execute("select week, sent_at from digests").fetchall() == [(issue, None)]
    assert f"The issue of {next_issue_date(today):%A} " in first.stdout and "3 on its list" in first.stdout
    conn.close()

    # the sample server answers conditional GETs: the second run stores nothing new
    second = demo("--no-serve", "--db", str(db), sample_port=port)
    assert second.returncode == 0, second.stderr
    assert "0 new publications, 0 sources failed" in second.stdout
    # the list already has what the demo accepted: nothing more is accepted for the editors
    assert "accepted by the demo" not in second.stdout and "3 on its list" in second.stdout


def test_demo_default_database_is_relative_to_the_current_directory(tmp_path, demo):
    result = demo("--no-serve", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "db" / "demo.db").is_file()


def test_demo_opens_the_workspace_and_stops_cleanly(tmp_path, tracker_exe):
    db, unused_port, printed = tmp_path / "demo.db", free_port(), []
    process = subprocess.Popen([tracker_exe, "demo", "--db", str(db), "--port", str(unused_port),
                                "--sample-port", str(free_port())],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/")
    try:
        url = f"http://127.0.0.1:{unused_port}/demo/publications.json?_shape=array&_size=5"
        deadline = time.monotonic() + 120
        while True:
            try:
                response = httpx.get(url, timeout=2)
                if response.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the workspace never answered"
            time.sleep(0.2)
        assert len(response.json()) == 5
        # the demo prints a working editor account: log in with it as a newcomer would
        printed = [process.stdout.readline()]
        while not printed[-1].startswith("Log in at"):
            assert printed[-1], "the demo ended its output without an editor account"
            printed.append(process.stdout.readline())
        name, password = re.search(r"as (\w+), password (\S+),", printed[-1]).groups()
        with httpx.Client(base_url=f"http://127.0.0.1:{unused_port}") as browser:
            token = browser.get("/-/login").cookies["ds_csrftoken"]
            answer = browser.post("/-/login", data={"username": name, "password": password,
                                                    "csrftoken": token})
            assert answer.status_code == 302 and "ds_actor" in answer.cookies
            assert browser.get("/-/triage").status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    assert process.returncode in (0, -signal.SIGTERM)
    assert f"{EXPECTED_PUBLICATIONS} new publications" in "".join(printed) + out
    assert "Traceback" not in err


def test_demo_reports_a_busy_sample_port_in_one_line(tmp_path, demo):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        result = demo("--no-serve", "--db", str(tmp_path / "demo.db"), sample_port=port)
    assert result.returncode == 2
    assert result.stderr.startswith(f"Error: cannot serve the sample feeds on 127.0.0.1:{port}")
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "demo.db").exists()


def test_sample_dates_move_by_whole_weeks():
    shift = sample_shift(date(2026, 12, 3))  # a Thursday
    assert SAMPLES_NEWEST + shift == date(2026, 11, 30)
    body = (b"<pubDate>Mon, 07 Apr 2025 00:01:00 +0000</pubDate><updated>2025-04-07T09:30:00+01:00</updated>"
            b'<p class="news-card__date">27 March 2025</p><p class="d">\n 1st October 2024 </p>'
            b"<title>Childcare providers as at 31 December 2024</title><a href='/2025-04-07T09:30'>x</a>")
    assert shift_dates(body, shift) == (
        b"<pubDate>Mon, 30 Nov 2026 00:01:00 +0000</pubDate><updated>2026-11-30T09:30:00+01:00</updated>"
        b'<p class="news-card__date">19 November 2026</p><p class="d">\n 26th May 2026 </p>'
        b"<title>Childcare providers as at 31 December 2024</title><a href='/2025-04-07T09:30'>x</a>")
    assert sample_shift(date(2025, 4, 1)) == timedelta(0)
