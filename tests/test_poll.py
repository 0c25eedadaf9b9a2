"""One polling pass end to end: the real feed server, the real pipeline, a real SQLite file."""

import asyncio
import contextlib
import re
import signal
import sqlite3
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from feedserver import gzip_bomb
from tracker.cli import cli
from tracker.entries import Entry
from tracker.ingest.config import load_config
from tracker.ingest.normalise import url_key
from tracker.ingest.poll import ClassifyQueue, Writer, poll_sources
from tracker.store import FetchRecord, sync_sources
from tracker.store.sources import save_fetches

SAMPLES = Path(__file__).resolve().parent.parent / "tracker" / "data" / "samples"
SETTINGS = {"contact": "https://github.com/seslip/tracker", "timeout": 2, "connect_timeout": 2,
            "max_bytes": 1_000_000, "per_host": 16, "concurrency": 32}
BOMB = 20_000_000  # inflates to 20 times the size cap below
VALIDATORS = {"ETag": '"v1"', "Last-Modified": "Mon, 07 Apr 2025 08:30:00 GMT"}

# One source of every type and format, each served from a sample file: (id, publisher, type,
# sample path, extra keys, publications expected).
GOOD = [
    ("dfe-activity", "DfE", "feed", "govuk/government/organisations/department-for-education.atom", {}, 19),
    ("moj-statistics", "MoJ", "feed", "govuk/search/research-and-statistics.atom", {}, 8),
    ("csprp-search", "the Child Safeguarding Practice Review Panel", "govuk-search",
     "govuk/api/search.json", {"params": {"filter_organisations": "child-safeguarding-practice-review-panel"}}, 5),
    ("ons-releases", "ONS", "feed", "ons/releasecalendar.rss", {}, 8),
    ("become", "Become", "feed", "become/feed.rss", {}, 5),
    ("lga-news", "LGA", "feed", "lga/rss.xml", {}, 8),
    ("kinship-news", "Kinship", "html", "kinship/news.html",
     {"item": "article.news-card", "title": ".news-card__title a", "link": ".news-card__title a",
      "date": ".news-card__date", "summary": ".news-card__teaser"}, 6),
    ("foundations", "Foundations", "html", "foundations/press-release.html",
     {"item": ".post-listing__item", "title": ".post-listing__title a",
      "link": ".post-listing__title a", "date": ".post-listing__date"}, 5),
]

XML_BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
 <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
 <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
]>
<rss version="2.0"><channel><title>&f;</title>
<item><title>&f;</title><link>https://example.org/bomb</link><description>&f;</description></item>
</channel></rss>
"""
# Cut off before its first item: nothing can be recovered from it. (A feed whose items survive
# its errors is read leniently, as every feed reader does.)
MALFORMED = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Become & friends</title><link>https://becomecharity.org.uk/</li
"""
BOT_WALL = b"""<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title></head>
<body><h1>Checking your browser before accessing www.local.gov.uk</h1>
<p>Please enable JavaScript and cookies to continue.</p></body></html>"""

# fault name -> (how the server misbehaves, words the editor should read in last_error)
FAULTS = {
    "e500": (lambda s, p: s.serve(p, b"oops", status=500), r"500 Internal Server Error"),
    "e404": (lambda s, p: s.serve(p, b"gone?", status=404), r"404 Not Found"),
    "e410": (lambda s, p: s.serve(p, b"gone", status=410), r"410 Gone"),
    "e429": (lambda s, p: s.serve(p, b"slow down", status=429, headers={"Retry-After": "3600"}),
             r"rate limited: asked to wait until"),
    "hang": (lambda s, p: s.fault(p, "hang"), r"no answer within 2 seconds"),
    "loop": (lambda s, p: (s.redirect(p, p + "-b"), s.redirect(p + "-b", p)), r"redirects in a loop"),
    "endless": (lambda s, p: s.fault(p, "endless"), r"larger than"),
    # compressed before the pass: building it must not count against the 2 s deadline
    "gzip-bomb": (lambda s, p: (gzip_bomb(BOMB), s.fault(p, "gzip-bomb", size=BOMB)), r"larger than"),
    "xml-bomb": (lambda s, p: s.serve(p, XML_BOMB, content_type="application/rss+xml"), r"entit"),
    "malformed": (lambda s, p: s.serve(p, MALFORMED, content_type="application/rss+xml"),
                  r"not valid XML"),
    "html-page": (lambda s, p: s.serve(p, BOT_WALL, content_type="text/html; charset=utf-8"),
                  r"web page, not a feed"),
}


def serve_samples(server, entries=GOOD, headers=VALIDATORS):
    for source_id, _, _, sample, _, _ in entries:
        server.serve(f"/{source_id}", (SAMPLES / sample).read_bytes(), headers=headers,
                     content_type=_content_type(sample))


def _content_type(sample):
    return {".atom": "application/atom+xml; charset=utf-8", ".json": "application/json",
            ".html": "text/html; charset=utf-8"}.get(Path(sample).suffix, "application/rss+xml")


def write_sources(path, server, entries=GOOD, extra=(), **settings):
    sources = [
        {"id": sid, "publisher": pub, "type": typ, "url": server.url(f"/{sid}"), **keys}
        for sid, pub, typ, _, keys, _ in entries
    ]
    sources += [{"id": sid, "publisher": "Become", "type": "feed", "url": server.url(f"/{sid}")}
                for sid in extra]
    path.write_text(yaml.safe_dump({"settings": {**SETTINGS, **settings}, "sources": sources}))
    return path


@pytest.fixture
def sources_file(tmp_path, feed_server):
    serve_samples(feed_server)
    return write_sources(tmp_path / "sources.yaml", feed_server)


def poll(db, db_path, sources_path, ids=(), **kwargs):
    config = load_config(sources_path)
    return poll_sources(db, config, config.select(list(ids)), db_path=db_path, **kwargs)


def outcomes(summary):
    return {o.source_id: o for o in summary.outcomes}


def source_row(db, source_id):
    return db["sources"].get(source_id)


def publications_of(db, source_id):
    """Everything stored about what a source announced, for before/after comparisons."""
    return db.execute_returning_dicts(
        """select p.* from publications p join publication_sources ps on ps.publication_id = p.id
           where ps.source_id = ? order by p.id""", [source_id])


def test_first_pass_stores_every_source_type(db, db_path, sources_file, feed_server):
    summary = poll(db, db_path, sources_file)
    got = outcomes(summary)
    for source_id, publisher, _, _, _, expected in GOOD:
        assert got[source_id].outcome == "fetched", (source_id, got[source_id].error)
        assert got[source_id].new == expected, source_id
        rows = publications_of(db, source_id)
        assert len(rows) == expected and {r["publisher"] for r in rows} == {publisher}
        health = source_row(db, source_id)
        assert health["last_error"] is None and health["last_success"]
        assert health["etag"] == '"v1"'
    assert db["publications"].count == sum(g[-1] for g in GOOD)
    assert len(summary.new_ids) == db["publications"].count

    by_url = {r["url"]: r for r in db["publications"].rows}
    # GOV.UK organisation feed: the display type prefix is not part of the title
    ks2 = by_url["https://www.gov.uk/government/statistics/key-stage-2-attainment-2023-to-2024"]
    assert ks2["title"] == "Key stage 2 attainment: academic year 2023/24"
    assert ks2["published"] == "2024-09-10" and ks2["date_source"] == "feed"
    # 23:30 UTC on 19 June is 20 June in London
    sen = by_url["https://www.gov.uk/government/statistics/special-educational-needs-in-england-january-2024"]
    assert sen["published"] == "2024-06-20"
    # statistics announcements are future releases, not publications
    assert not [r for r in by_url.values() if "/statistics/announcements/" in r["url"]]
    # Search API: relative links resolve against www.gov.uk
    silent = by_url["https://www.gov.uk/government/publications/its-silent-race-racism-and-safeguarding-children"]
    assert silent["title"] == "It’s Silent: Race, racism, and safeguarding children"
    assert silent["published"] == "2025-03-11"
    # finder Atom
    fcsq = by_url["https://www.gov.uk/government/statistics/family-court-statistics-quarterly-october-to-december-2024"]
    assert (fcsq["publisher"], fcsq["published"]) == ("MoJ", "2025-04-07")
    # WordPress: numeric entities decoded; Drupal: escaped HTML reduced to text
    assert by_url["https://becomecharity.org.uk/still-too-far/"]["title"].startswith("Still Too Far – Children")
    coventry = by_url["https://www.local.gov.uk/case-studies/coventry-city-council-reunification-project"]
    assert "<p>" not in coventry["summary"] and "£4 million" in coventry["summary"]
    # listing pages: UK dates, a relative link, an undated item
    film = by_url[feed_server.url("/our-work-and-impact/news/kinship-premieres-short-film-growing-up-in-kinship-care")]
    assert film["published"] == "2025-03-18" and film["date_source"] == "page"
    undated = by_url["https://kinship.org.uk/our-work-and-impact/research/kinship-care-and-the-cost-of-living"]
    assert undated["published"] is None and undated["date_source"] == "first_seen"
    guide = by_url["https://foundations.org.uk/press-release/parenting-through-adversity-practice-guide/"]
    assert guide["published"] == "2025-02-07"
    fts = db.execute("select count(*) from publications_fts where publications_fts match 'kinship'").fetchone()[0]
    assert fts >= 4


@pytest.mark.parametrize("batch", [500, 7])
def test_every_new_publication_is_classified_as_sources_are_stored(
    db, db_path, sources_file, monkeypatch, batch
):
    # 64 new publications: one batch at the end of the pass, or several during it plus the rest.
    monkeypatch.setattr(ClassifyQueue, "BATCH", batch)
    summary = poll(db, db_path, sources_file)
    assert summary.classify_error is None and len(summary.new_ids) == sum(g[-1] for g in GOOD)
    unscored = db.execute(
        "select count(*) from publications where model_version is null or candidate_score is null"
    ).fetchone()[0]
    assert unscored == 0


def test_progress_is_told_before_the_first_source_and_after_each(db, db_path, sources_file):
    told = []
    summary = poll(db, db_path, sources_file, on_progress=lambda *progress: told.append(progress))
    assert told[0] == (0, len(GOOD), None)
    assert [(done, total) for done, total, _ in told] == [(n, len(GOOD)) for n in range(len(GOOD) + 1)]
    assert sorted(o.source_id for _, _, o in told[1:]) == sorted(source[0] for source in GOOD)
    assert {o.source_id: o for _, _, o in told[1:]} == outcomes(summary)


def test_second_pass_is_not_modified_and_stores_nothing(db, db_path, sources_file, feed_server):
    poll(db, db_path, sources_file)
    before = list(db["publications"].rows)
    feed_server.requests.clear()
    summary = poll(db, db_path, sources_file)
    assert {o.outcome for o in summary.outcomes} == {"not modified"}
    assert summary.new_ids == []
    assert list(db["publications"].rows) == before
    conditional = [r for r in feed_server.requests if r.headers.get("if-none-match") == '"v1"']
    assert len(conditional) == len(GOOD)
    assert db.execute("select count(*) from fetch_log where status = 304").fetchone()[0] == len(GOOD)


def test_second_pass_without_validators_finds_everything_unchanged(db, db_path, tmp_path, feed_server):
    serve_samples(feed_server, headers={})
    path = write_sources(tmp_path / "sources.yaml", feed_server)
    poll(db, db_path, path)
    before = [{k: v for k, v in r.items() if k != "last_seen"} for r in db["publications"].rows]
    summary = poll(db, db_path, path)
    for o in summary.outcomes:
        assert (o.outcome, o.new, o.updated) == ("fetched", 0, 0), o
    assert sum(o.unchanged for o in summary.outcomes) == len(before)
    assert [{k: v for k, v in r.items() if k != "last_seen"} for r in db["publications"].rows] == before


@pytest.mark.slow  # waits out hanging and trickling servers
def test_every_fault_costs_only_its_source(db, db_path, tmp_path, feed_server):
    """Good sources and every fault in one pass: the good are stored, the bad keep what they
    had, and each failure is recorded in words on its source."""
    serve_samples(feed_server, headers={})
    for name in FAULTS:  # first a healthy pass, so the failing sources have something stored
        # its own URLs and titles, so that nothing it stored is shared with another source
        body = (SAMPLES / "become/feed.rss").read_bytes()
        body = body.replace(b"becomecharity.org.uk/", f"becomecharity.org.uk/{name}/".encode())
        feed_server.serve(f"/{name}", body.replace(b"<title>", f"<title>{name}: ".encode()))
    path = write_sources(tmp_path / "sources.yaml", feed_server, extra=list(FAULTS))
    poll(db, db_path, path)
    stored = {name: publications_of(db, name) for name in FAULTS}
    assert all(len(rows) == 5 for rows in stored.values())

    for name, (misbehave, _) in FAULTS.items():
        misbehave(feed_server, f"/{name}")
    started = time.monotonic()
    summary = poll(db, db_path, path)
    assert time.monotonic() - started < 20  # the hang and the endless body are cut short
    got = outcomes(summary)
    for source_id, *_ in GOOD:
        assert got[source_id].outcome == "fetched" and got[source_id].error is None
    for name, (_, words) in FAULTS.items():
        health = source_row(db, name)
        assert got[name].outcome == "error", name
        assert health["last_error"] == got[name].error
        assert health["last_error"] and len(health["last_error"]) < 200, name
        assert re.search(words, health["last_error"], re.I), (name, health["last_error"])
        assert "Traceback" not in health["last_error"] and "internal error" not in health["last_error"]
        assert health["consecutive_errors"] == 1 and health["last_success"]
        assert publications_of(db, name) == stored[name], name
    retry = source_row(db, "e429")
    assert retry["retry_after"] and retry["next_poll"] >= retry["retry_after"]

    # A second failing pass counts up and backs off further; the 429 source is not asked at all.
    feed_server.requests.clear()
    first_next = {name: source_row(db, name)["next_poll"] for name in FAULTS}
    summary = poll(db, db_path, path, ids=[n for n in FAULTS if n != "hang"])
    got = outcomes(summary)
    assert got["e429"].outcome == "deferred" and not feed_server.requests_to("/e429")
    for name in set(FAULTS) - {"hang", "e429"}:
        health = source_row(db, name)
        assert health["consecutive_errors"] == 2, name
        assert health["next_poll"] > first_next[name], name

    # The CLI reports the same pass: exit 0, a summary, no traceback.
    result = CliRunner().invoke(cli, ["poll", "--sources", str(path), "--db", str(db_path),
                                      "--source", "e500", "--source", "become", "--source", "e404"])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert "500 Internal Server Error" in result.stdout and "2 sources failed" in result.stdout

    # Recovery: the source is polled again, stored and its error cleared.
    feed_server.serve("/e500", (SAMPLES / "frg/feed.rss").read_bytes())
    summary = poll(db, db_path, path, ids=["e500"])
    health = source_row(db, "e500")
    assert outcomes(summary)["e500"].new == 4
    assert (health["last_error"], health["consecutive_errors"]) == (None, 0)


def test_permanent_redirect_updates_the_stored_fetch_url(db, db_path, tmp_path, feed_server):
    entries = [e for e in GOOD if e[0] == "become"]
    feed_server.serve("/new-feed", (SAMPLES / "become/feed.rss").read_bytes())
    feed_server.redirect("/become", "/new-feed", status=301)
    path = write_sources(tmp_path / "sources.yaml", feed_server, entries=entries)
    poll(db, db_path, path)
    assert source_row(db, "become")["fetch_url"] == feed_server.url("/new-feed")
    feed_server.requests.clear()
    summary = poll(db, db_path, path)
    assert outcomes(summary)["become"].outcome == "fetched"
    assert not feed_server.requests_to("/become") and feed_server.requests_to("/new-feed")


def test_temporary_redirect_keeps_the_configured_url(db, db_path, tmp_path, feed_server):
    entries = [e for e in GOOD if e[0] == "become"]
    feed_server.serve("/elsewhere", (SAMPLES / "become/feed.rss").read_bytes())
    feed_server.redirect("/become", "/elsewhere", status=302)
    path = write_sources(tmp_path / "sources.yaml", feed_server, entries=entries)
    assert outcomes(poll(db, db_path, path))["become"].new == 5
    assert source_row(db, "become")["fetch_url"] is None


def test_due_skips_sources_not_yet_due(db, db_path, sources_file, feed_server):
    poll(db, db_path, sources_file)
    feed_server.requests.clear()
    summary = poll(db, db_path, sources_file, due_only=True)
    assert summary.outcomes == [] and feed_server.requests == []
    db.execute("update sources set next_poll = '2000-01-01T00:00:00Z' where id = 'become'")
    result = CliRunner().invoke(cli, ["poll", "--sources", str(sources_file), "--db", str(db_path), "--due"])
    assert result.exit_code == 0, result.output
    assert [r.path for r in feed_server.requests] == ["/become"]


def test_two_polls_at_once_second_says_so_and_exits_0(tmp_path, db_path, feed_server, tracker_exe):
    entries = [e for e in GOOD if e[0] == "become"]
    # the first poll waits 8 s for its answer, holding the lock while the second starts
    feed_server.serve("/become", (SAMPLES / "become/feed.rss").read_bytes(), delay=8)
    path = write_sources(tmp_path / "sources.yaml", feed_server, entries=entries, timeout=60)
    first = subprocess.Popen([tracker_exe, "poll", "--sources", str(path), "--db", str(db_path)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: feed_server.requests_to("/become"), "the first poll to start fetching")
    second = subprocess.run([tracker_exe, "poll", "--sources", str(path), "--db", str(db_path)],
                            capture_output=True, text=True, timeout=180)
    assert second.returncode == 0
    assert second.stderr.startswith(f"a poll is already running on {db_path} (pid {first.pid}")
    assert second.stderr.rstrip().endswith("nothing to do") and second.stderr.count("\n") == 1
    out, err = first.communicate(timeout=180)
    assert first.returncode == 0, err
    assert "5 new publications, 0 sources failed" in out, out
    assert "Traceback" not in err
    assert len(feed_server.requests_to("/become")) == 1


def test_sigkill_mid_pass_leaves_a_consistent_database(tmp_path, db_path, feed_server, tracker_exe):
    """Kill -9 a real `tracker poll` after some sources are stored and others are still
    downloading: every source is either fully stored or untouched, and the next poll completes."""
    fast, slow = GOOD[:4], GOOD[4:]
    serve_samples(feed_server, fast)
    for source_id, _, _, sample, _, _ in slow:
        feed_server.serve(f"/{source_id}", (SAMPLES / sample).read_bytes(), delay=120,
                          content_type=_content_type(sample))
    path = write_sources(tmp_path / "sources.yaml", feed_server, timeout=150)
    process = subprocess.Popen([tracker_exe, "poll", "--sources", str(path), "--db", str(db_path)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for(lambda: _count(db_path, "select count(*) from sources where last_success is not null")
                  == len(fast), "the fast sources to be stored", timeout=120)
        assert process.poll() is None, "the poll must still be running when it is killed"
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL

    conn = sqlite3.connect(db_path)
    assert conn.execute("pragma integrity_check").fetchone() == ("ok",)
    conn.execute("insert into publications_fts(publications_fts) values ('integrity-check')")
    assert conn.execute("pragma foreign_key_check").fetchall() == []
    for source_id, *_, expected in GOOD:
        stored = conn.execute("select count(*) from publication_sources where source_id = ?",
                              [source_id]).fetchone()[0]
        logged = conn.execute("select count(*) from fetch_log where source_id = ?", [source_id]).fetchone()[0]
        success = conn.execute("select last_success from sources where id = ?", [source_id]).fetchone()
        # all or nothing: a source's items, its fetch log row and its health go together
        assert (stored, logged, bool(success and success[0])) in [(expected, 1, True), (0, 0, False)], source_id
    assert conn.execute("select count(*) from publication_sources where source_id in (%s)"
                        % ",".join("?" * len(slow)), [s[0] for s in slow]).fetchone()[0] == 0
    conn.close()

    serve_samples(feed_server, slow)  # the slow ones answer promptly now
    result = subprocess.run([tracker_exe, "poll", "--sources", str(path), "--db", str(db_path)],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    conn = sqlite3.connect(db_path)
    assert conn.execute("select count(*) from sources where last_success is not null").fetchone()[0] == len(GOOD)
    assert conn.execute("select count(*) from publications").fetchone()[0] == sum(g[-1] for g in GOOD)
    assert conn.execute("pragma integrity_check").fetchone() == ("ok",)
    conn.close()


def _count(db_path, sql):
    if not Path(db_path).exists():
        return 0
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:  # not migrated yet
        return 0
    finally:
        conn.close()


def _wait_for(condition, what, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _next_poll_in_hours(db, source_id):
    from datetime import datetime, timezone

    next_poll = datetime.fromisoformat(source_row(db, source_id)["next_poll"].replace("Z", "+00:00"))
    return (next_poll - datetime.now(timezone.utc)).total_seconds() / 3600


def test_cache_control_stretches_the_next_poll(db, db_path, tmp_path, feed_server):
    entries = [e for e in GOOD if e[0] == "become"]
    feed_server.serve("/become", (SAMPLES / "become/feed.rss").read_bytes(),
                      headers={"Cache-Control": "public, max-age=86400"})
    path = write_sources(tmp_path / "sources.yaml", feed_server, entries=entries)
    poll(db, db_path, path)
    assert 21 < _next_poll_in_hours(db, "become") < 27  # a day, give or take the jitter


def test_backoff_after_a_long_outage_is_at_most_a_day(db, db_path, tmp_path, feed_server):
    """Months of failures must neither overflow the backoff nor give up on the source."""
    feed_server.serve("/down", b"down", status=503)
    path = write_sources(tmp_path / "sources.yaml", feed_server, entries=[], extra=["down"])
    poll(db, db_path, path)
    db.execute("update sources set consecutive_errors = 400 where id = 'down'")
    summary = poll(db, db_path, path)
    assert outcomes(summary)["down"].error == "the server answered 503 Service Unavailable"
    assert source_row(db, "down")["consecutive_errors"] == 401
    assert 21 < _next_poll_in_hours(db, "down") < 27


def test_a_failure_while_storing_is_recorded_and_stores_nothing_of_that_source(
        db, db_path, sources_file):
    """A real SQLite failure halfway through one source's items (a trigger refusing one row):
    that source's items are rolled back, its error is recorded, the other sources are stored."""
    db.execute("""create trigger refuse_one before insert on publications
                  when new.title like 'Run the Royal Parks%'
                  begin select raise(abort, 'database or disk is full'); end""")
    summary = poll(db, db_path, sources_file)
    got = outcomes(summary)
    assert got["become"].error == "internal error (IntegrityError: database or disk is full)"
    assert publications_of(db, "become") == []
    health = source_row(db, "become")
    assert health["last_error"] == got["become"].error and health["consecutive_errors"] == 1
    assert health["next_poll"] is not None
    assert all(got[s[0]].outcome == "fetched" for s in GOOD if s[0] != "become")


def test_judgments_are_stored_but_never_scored(db, db_path, tmp_path, feed_server, feeds_dir):
    """Find Case Law's licence leaves out automated classification of judgments: a caselaw
    source's publications are stored with title, link and date, and no theme or score."""
    feed_server.serve("/atom.xml", (feeds_dir / "find-case-law.atom").read_bytes(),
                      headers={"Content-Type": "application/atom+xml"})
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"settings": SETTINGS, "sources": [
        {"id": "case-law", "publisher": "the Family Court", "type": "caselaw",
         "url": feed_server.url("/atom.xml")}]}))
    summary = poll(db, db_path, path)
    assert summary.new_ids and summary.classify_error is None
    rows = db.execute_returning_dicts("select candidate_score, model_version, why from publications")
    assert rows and all(r == {"candidate_score": None, "model_version": None, "why": None} for r in rows)


def test_sources_written_in_one_transaction_are_each_all_or_nothing(db, make_source):
    """A pass writes the sources ready together (save_fetches): one failing halfway through its
    entries (a trigger refusing a row) is rolled back alone, with its exception in its place;
    the sources before and after it in the same transaction are stored."""
    sources = [make_source(id=f"source-{n}", publisher=f"Publisher {n}") for n in range(3)]
    sync_sources(db, sources)
    db.execute("""create trigger refuse_one before insert on publications when new.title = 'Refused'
                  begin select raise(abort, 'database or disk is full'); end""")

    def entries(n, *titles):
        urls = [f"https://example.org/{n}/{index}" for index in range(len(titles))]
        return [Entry(url=url, url_key=url_key(url), title=title, summary="", published="2025-04-03",
                      date_source="feed") for url, title in zip(urls, titles, strict=True)]

    record = FetchRecord(started=datetime(2025, 4, 10, 9, tzinfo=timezone.utc), duration_ms=5, status=200)
    outcomes = save_fetches(db, [(sources[0], record, entries(0, "First")),
                                 (sources[1], record, entries(1, "Second", "Refused")),
                                 (sources[2], record, entries(2, "Third"))])
    assert isinstance(outcomes[1], sqlite3.IntegrityError)
    assert [len(outcomes[n].new_ids) for n in (0, 2)] == [1, 1]
    assert [row[0] for row in db.execute("select title from publications order by id")] == ["First", "Third"]
    assert [row[0] for row in db.execute("select source_id from fetch_log order by id")] == [
        "source-0", "source-2"]
    assert [row[0] for row in db.execute("select last_success is not null from sources order by id")] == [
        1, 0, 1]


def test_an_error_that_ends_the_whole_transaction_is_that_error_and_stores_no_source(db, make_source):
    """SQLite answers a full disk or an I/O error by rolling the whole transaction back,
    savepoints and all (as RAISE(ROLLBACK) does here): the error is that one (it was "no such
    savepoint"), and no source of the batch is stored."""
    sources = [make_source(id=f"source-{n}", publisher=f"Publisher {n}") for n in range(2)]
    sync_sources(db, sources)
    db.execute("""create trigger fail_all before insert on publications when new.title = 'Refused'
                  begin select raise(rollback, 'database or disk is full'); end""")
    record = FetchRecord(started=datetime(2025, 4, 10, 9, tzinfo=timezone.utc), duration_ms=5, status=200)

    def entry(n, title):
        url = f"https://example.org/{n}"
        return [Entry(url=url, url_key=url_key(url), title=title, summary="", published="2025-04-03",
                      date_source="feed")]

    with pytest.raises(sqlite3.IntegrityError, match="database or disk is full"):
        save_fetches(db, [(sources[0], record, entry(0, "First")), (sources[1], record, entry(1, "Refused"))])
    assert not db.conn.in_transaction
    assert db.execute("select count(*) from publications").fetchone()[0] == 0
    assert db.execute("select count(*) from fetch_log").fetchone()[0] == 0


def test_syncing_sources_keeps_their_fetch_state_until_their_url_changes(db, make_source):
    record = FetchRecord(started=datetime(2025, 4, 10, 9, tzinfo=timezone.utc), duration_ms=5, status=200,
                         etag='"v1"', last_modified="Mon, 07 Apr 2025 08:30:00 GMT",
                         fetch_url="https://example.org/moved")
    first, other = make_source(id="first", url="https://example.org/feed"), make_source(id="other")
    sync_sources(db, [first, other])
    save_fetches(db, [(first, record, []), (other, record, [])])
    state = ("etag", "last_modified", "fetch_url", "last_success", "configured", "url", "publisher")

    def row(source_id):
        return tuple(db["sources"].get(source_id)[column] for column in state)

    kept = ('"v1"', "Mon, 07 Apr 2025 08:30:00 GMT", "https://example.org/moved", "2025-04-10T09:00:00Z", 1)
    sync_sources(db, [make_source(id="first", url="https://example.org/feed", publisher="Renamed"), other])
    assert row("first") == (*kept, "https://example.org/feed", "Renamed")
    sync_sources(db, [make_source(id="first", url="https://example.org/new-feed"), other])
    assert row("first") == (None, None, None, "2025-04-10T09:00:00Z", 1, "https://example.org/new-feed", "DfE")
    assert row("other") == (*kept, "https://example.org/feed", "DfE")
    sync_sources(db, [other])
    assert row("first")[4] == 0 and row("other")[4] == 1


def test_a_writer_that_stops_unexpectedly_leaves_no_source_waiting(db, db_path, make_source):
    """Handing new publications to a classifier whose queue is gone raises on the writer's
    thread after each batch is stored: every later source is told at once (stored by a writer
    started again, or given that error) instead of waiting for the pass's time limit, as each
    did before."""
    sources = [make_source(id=f"source-{n}", publisher=f"Publisher {n}") for n in range(3)]
    sync_sources(db, sources)
    classifying = ClassifyQueue(db_path)
    classifying.thread.shutdown()
    writer = Writer(db, classifying)
    record = FetchRecord(started=datetime(2025, 4, 10, 9, tzinfo=timezone.utc), duration_ms=5, status=200)

    def entry(n):
        url = f"https://example.org/{n}"
        return [Entry(url=url, url_key=url_key(url), title=f"Title {n}", summary="", published="2025-04-03",
                      date_source="feed")]

    async def store_each():
        stored = []
        for n, source in enumerate(sources):
            with contextlib.suppress(RuntimeError):
                stored += (await asyncio.wait_for(writer.store(source, record, entry(n)), timeout=10)).new_ids
        return stored

    try:
        stored = asyncio.run(store_each())
    finally:
        writer.thread.shutdown()
    assert stored and stored == [row[0] for row in db.execute("select id from publications order by id")]


def test_a_pass_classifies_what_a_stopped_pass_left_unscored(db, db_path, sources_file, feed_server, feeds_dir):
    """A pass stopped (SIGINT, SIGTERM) before its classifier's batch leaves new publications
    stored without themes or score; they are not new to the next pass, which classifies them
    all the same, unless first seen too long ago or announced by a source never scored."""
    feed_server.serve("/atom.xml", (feeds_dir / "find-case-law.atom").read_bytes(),
                      headers={"Content-Type": "application/atom+xml"})
    config = yaml.safe_load(sources_file.read_text())
    config["sources"].append({"id": "case-law", "publisher": "the Family Court", "type": "caselaw",
                              "url": feed_server.url("/atom.xml")})
    sources_file.write_text(yaml.safe_dump(config))
    poll(db, db_path, sources_file)
    # As a stopped pass leaves them: stored, never scored.
    db.execute("update publications set themes = '[]', candidate_score = null, model_version = null,"
               " why = null where source_id in ('become', 'lga-news')")
    old = db.execute("select min(id) from publications where source_id = 'lga-news'").fetchone()[0]
    db.execute("update publications set first_seen = '2020-01-01T00:00:00Z' where id = ?", [old])
    db.conn.commit()

    summary = poll(db, db_path, sources_file)
    assert summary.new_ids == [] and summary.classify_error is None
    unscored = db.execute_returning_dicts(
        "select id, source_id from publications where candidate_score is null or model_version is null")
    assert {r["source_id"] for r in unscored} == {"case-law", "lga-news"}
    assert [r["id"] for r in unscored if r["source_id"] == "lga-news"] == [old]
    rescored = db.execute_returning_dicts(
        "select themes, why from publications where source_id = 'become'")
    assert len(rescored) == 5 and all(r["why"] for r in rescored)
