"""A month of polling in accelerated time, through the real poller against a real local server.

Six publishers behave as real ones do over a month: one publishes steadily, one fails for
days and recovers, one goes quiet, one disappears (404) for good, and a GOV.UK-style one
re-dates updated items and re-announces them under new Atom ids. The clock is injected
(``poll_sources(clock=...)``) and advances one step at a time; ``poll --due`` decides who is
polled, so backoff and scheduling run as they would for real.

CI runs it with a 6-hour step (120 passes); ``TRACKER_SOAK_STEP_HOURS=1`` gives the full
hourly month (720 passes).
"""

import hashlib
import json
import os
from datetime import datetime, timedelta, timezone
from xml.sax.saxutils import escape

import pytest
import yaml

from tracker.ingest.config import parse_config
from tracker.ingest.poll import poll_sources
from tracker.paths import data_file

pytestmark = pytest.mark.slow

DAYS = 30
# The month ends now, so that queries using SQLite's 'now' (source health) see it as recent.
START = (datetime.now(timezone.utc) - timedelta(days=DAYS)).replace(hour=0, minute=0, second=0,
                                                                  microsecond=0)
STEP = timedelta(hours=float(os.environ.get("TRACKER_SOAK_STEP_HOURS", "6")))
KEEP_LOG_DAYS = 7
WINDOW = 15  # items a feed shows at once: older ones drop off, as real feeds do

# Days (0-based) on which each misbehaving source misbehaves.
FLAKY_DOWN = range(5, 10)
QUIET_FROM = 4
GONE_FROM = 12
REDATE_EVERY = 5


def atom(source: str, items: list[dict]) -> bytes:
    entries = "".join(
        f"<entry><id>{escape(i['id'])}</id><title>{escape(i['title'])}</title>"
        f"<link href=\"https://publisher.example/{source}/{i['n']}\"/>"
        f"<published>{i['published']}</published><updated>{i['updated']}</updated>"
        f"<summary>{escape(i['title'])}: guidance for children's services.</summary></entry>"
        for i in items
    )
    return (f"<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
            f"<id>tag:{source}</id><title>{source}</title><updated>{START.isoformat()}</updated>"
            f"{entries}</feed>").encode()


def items_on(source: str, day: int) -> list[dict]:
    """What ``source`` lists on ``day``: one item a day so far (fewer for the quiet one)."""
    last = min(day, QUIET_FROM) if source == "quiet" else day
    items = []
    for n in range(max(0, last - WINDOW + 1), last + 1):
        published = (START + timedelta(days=n, hours=9)).isoformat()
        item = {"n": n, "id": f"tag:{source}:{n}", "published": published, "updated": published,
                "title": f"{source.capitalize()} report number {n} on local practice"}
        if source == "redater" and day >= REDATE_EVERY:
            # GOV.UK re-dates an updated page and gives it a new Atom id: same URL, new id.
            revision = day // REDATE_EVERY
            if n % 3 == 0:
                item["id"] = f"tag:{source}:{n}:rev{revision}"
                item["updated"] = (START + timedelta(days=revision * REDATE_EVERY, hours=10)).isoformat()
        items.append(item)
    return items


def publish(feed_server, source: str, day: int) -> None:
    path = f"/{source}.atom"
    if source == "flaky" and day in FLAKY_DOWN:
        feed_server.serve(path, b"Service unavailable", status=503, content_type="text/plain")
        return
    if source == "gone" and day >= GONE_FROM:
        feed_server.serve(path, b"Not found", status=404, content_type="text/plain")
        return
    body = atom(source, items_on(source, day))
    etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
    feed_server.serve(path, body, headers={"ETag": etag})


SOURCES = ("steady", "flaky", "quiet", "gone", "redater")


@pytest.fixture
def month(feed_server, db, db_path):
    config = parse_config({
        "settings": {"interval": "1h", "fetch_log_days": KEEP_LOG_DAYS},
        "sources": [{"id": s, "publisher": "DfE", "type": "feed", "url": feed_server.url(f"/{s}.atom")}
                    for s in SOURCES],
    })
    return config


def run_month(db, db_path, config, feed_server, on_day=None):
    """Advance the clock step by step; returns every (time, summary)."""
    passes = []
    now, end = START, START + timedelta(days=DAYS)
    day = -1
    while now < end:
        if (now - START).days != day:
            day = (now - START).days
            for source in SOURCES:
                publish(feed_server, source, day)
            if on_day:
                on_day(day, now)
        summary = poll_sources(db, config, config.select(), db_path=db_path, due_only=True,
                               clock=lambda moment=now: moment)
        passes.append((now, summary))
        now += STEP
    return passes


def test_a_month_of_polling(db, db_path, month, feed_server):
    decisions = {}

    def editors_decide(day, now):
        # Every few days an editor triages through SQL, as the workspace's queries do.
        if day % 4 != 3:
            return
        rows = db.execute(
            "select id from publications where status = 'new' order by id limit 3").fetchall()
        for index, (pid,) in enumerate(rows):
            status = ("accepted", "rejected", "accepted")[index]
            themes = json.dumps(["kinship", "send"][: index + 1])
            db.execute("update publications set status = ?, themes = ?, themes_by_editor = 1, "
                       "reviewed_at = ? where id = ?", [status, themes, now.isoformat(), pid])
            decisions[pid] = (status, themes)

    passes = run_month(db, db_path, month, feed_server, editors_decide)
    end = passes[-1][0]

    # No duplicates: one row per item ever listed, whatever its ids and re-datings.
    expected = sum(min(DAYS - 1, QUIET_FROM) + 1 if s == "quiet" else
                   (GONE_FROM if s == "gone" else DAYS) for s in SOURCES)
    rows = db.execute_returning_dicts("select * from publications")
    assert len(rows) == expected
    assert len({r["url_key"] for r in rows}) == expected
    # Re-dated items kept their first publication date.
    for r in rows:
        n = int(r["url"].rsplit("/", 1)[1])
        assert r["published"] == (START + timedelta(days=n)).date().isoformat(), r["url"]

    # No lost editor decisions.
    assert len(decisions) >= 15
    for pid, (status, themes) in decisions.items():
        row = db["publications"].get(pid)
        assert (row["status"], row["themes"], row["themes_by_editor"]) == (status, themes, 1)

    # The fetch log stays bounded: nothing older than the configured days survives.
    oldest = db.execute("select min(started) from fetch_log").fetchone()[0]
    assert oldest >= (end - timedelta(days=KEEP_LOG_DAYS)).isoformat()[:19]
    per_day = timedelta(days=1) / STEP
    assert db["fetch_log"].count <= len(SOURCES) * (KEEP_LOG_DAYS + 1) * per_day

    health = {r["id"]: r for r in db["sources"].rows}
    # The flaky source was backed off while down, then polled again and recovered.
    down = [t for t, s in passes if (t - START).days in FLAKY_DOWN
            and any(o.source_id == "flaky" for o in s.outcomes)]
    assert len(down) < len(FLAKY_DOWN) * per_day  # backoff skipped some passes
    assert health["flaky"]["last_error"] is None
    assert health["flaky"]["last_success"] >= (end - timedelta(days=1)).isoformat()[:19]
    flaky_items = db.execute("select count(*) from publications where source_id = 'flaky'").fetchone()[0]
    assert flaky_items == DAYS  # the days it was down were caught up on recovery

    # The source that disappeared is still tried (at least daily), and says why it fails.
    assert "404" in health["gone"]["last_error"]
    assert health["gone"]["last_attempt"] >= (end - timedelta(days=1, hours=2)).isoformat()[:19]

    # The quiet source still answers but has published nothing since QUIET_FROM: its last new
    # item shows how long it has been silent.
    assert health["quiet"]["last_error"] is None
    assert health["quiet"]["last_success"] >= (end - timedelta(days=1)).isoformat()[:19]
    assert health["quiet"]["last_new"] < (START + timedelta(days=QUIET_FROM + 1)).isoformat()
    assert health["steady"]["last_new"] >= (end - timedelta(days=1)).isoformat()[:19]

    # The workspace's source-health query flags them: failing first, then the silent one.
    metadata = yaml.safe_load(data_file("metadata.yml").read_text())
    sql = metadata["plugins"]["tracker"]["queries"]["source_health"]["sql"]
    flagged = {r["id"]: r["health"] for r in db.execute_returning_dicts(sql, {"silent_days": "14"})}
    assert flagged == {"gone": "failing", "quiet": "silent", "steady": "ok", "flaky": "ok",
                       "redater": "ok"}
