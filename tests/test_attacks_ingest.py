"""A hostile publisher and an unlucky operator against the ingest stage (issue 16), each attack
through the real fetch, parse and poll with a real server on 127.0.0.1 and a real SQLite file.

Each test names the defect it covers; SECURITY.md lists them.
"""

import gzip
import ipaddress
import json
import os
import socket
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from tracker.ingest.config import Config, Selectors, Settings, Source
from tracker.ingest.fetch import fetch, make_client, refuse_private
from tracker.ingest.guard import ALLOW_PRIVATE, RefusedAddress, is_public_address
from tracker.ingest.poll import poll_sources

SETTINGS = Settings(timeout=2.0, connect_timeout=2.0, contact="https://example.org/contact")


async def get(url, *, resolver=None, **options):
    async with make_client(SETTINGS, resolver=resolver) as client:
        return await fetch(client, url, max_bytes=1_000_000, **options)


def raw_server(response: bytes) -> str:
    """One connection answered with exactly these bytes, then closed: for answers no
    well-behaved server library would send."""
    listener = socket.create_server(("127.0.0.1", 0))

    def answer():
        with listener:
            connection, _ = listener.accept()
            with connection:
                connection.recv(65536)
                connection.sendall(response)

    threading.Thread(target=answer, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}/feed"


# --- SSRF: every address that is not globally routable in fact -------------------------------

@pytest.mark.parametrize("address", [
    "10.0.0.1", "127.0.0.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "192.0.0.170",
    "224.0.0.1", "::1", "::", "fc00::1", "fe80::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::127.0.0.1", "::10.0.0.1",  # IPv4-compatible (deprecated): Python calls ::7f00:1 global
    "64:ff9b::10.0.0.1", "64:ff9b::7f00:1", "64:ff9b:1::a00:1",  # NAT64 to a private v4
    "2002:7f00:1::", "2002:0808:0808::",  # 6to4, whatever v4 it wraps
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
])
def test_addresses_that_are_not_public_in_fact(address):
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "151.101.0.144", "2606:4700::1111", "64:ff9b::8.8.8.8"])
def test_public_addresses(address):
    assert is_public_address(ipaddress.ip_address(address))


@pytest.mark.asyncio
@pytest.mark.parametrize("target", [
    "http://[64:ff9b::7f00:1]/feed", "http://[2002:7f00:1::]/feed", "http://[::127.0.0.1]/feed",
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/feed",
])
async def test_redirects_to_disguised_private_addresses_are_refused(feed_server, target):
    feed_server.redirect("/start", target)
    result = await get(feed_server.url("/start"), allow_private_redirects=False)
    assert result.error and result.error.endswith("refused") and "private address" in result.error
    assert len(feed_server.requests) == 1


# httpx folds these Unicode full stops into "." before it connects: the check must read the
# host as the connection will, or "127。0。0。1" passes as a name that is never resolved.
UNICODE_DOTS = ["\u3002", "\uff0e", "\uff61"]


@pytest.mark.asyncio
@pytest.mark.parametrize("dot", UNICODE_DOTS)
async def test_a_redirect_to_a_private_address_spelled_with_unicode_dots_is_refused(feed_server, dot):
    feed_server.serve("/secret", b"internal")
    target = f"http://127{dot}0{dot}0{dot}1:{feed_server.port}/secret"
    start = raw_server(b"HTTP/1.1 302 Found\r\nLocation: " + target.encode()
                       + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    result = await get(start, allow_private_redirects=False)
    assert result.error == "redirected to a private address (127.0.0.1): refused"
    assert result.body is None and feed_server.requests_to("/secret") == []


@pytest.mark.parametrize("dot", UNICODE_DOTS)
@pytest.mark.parametrize("host", ["127{dot}0{dot}0{dot}1", "10{dot}1{dot}2{dot}3", "localhost{dot}"])
def test_a_link_to_a_private_address_spelled_with_unicode_dots_is_refused(host, dot):
    with pytest.raises(RefusedAddress, match="links to a private address"):
        refuse_private(f"http://{host.format(dot=dot)}/secret", "links to")


@pytest.mark.asyncio
async def test_dns_rebinding_the_connection_checks_the_address_it_uses(feed_server):
    """A rebinding name answers a public address to any earlier look-up and 127.0.0.1 later: the
    connection resolves once, checks that answer and connects to it, so there is no later."""
    feed_server.serve("/secret", b"internal")
    lookups = []

    async def rebinding(host, port):
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    result = await get(f"http://rebind.example:{feed_server.port}/secret", resolver=rebinding)
    assert result.error == "rebind.example resolves to a private address (127.0.0.1): refused"
    assert feed_server.requests == [] and result.body is None and lookups == ["rebind.example"]


@pytest.mark.asyncio
async def test_a_name_with_one_private_answer_among_public_ones_is_refused(feed_server):
    async def mixed(host, port):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in ("8.8.8.8", "10.1.2.3")]

    result = await get("http://mixed.example/feed", resolver=mixed)
    assert result.error == "mixed.example resolves to a private address (10.1.2.3): refused"


# --- Silent partial feeds ---------------------------------------------------------------------

FEED = (b"<?xml version='1.0'?><rss version='2.0'><channel><title>T</title>"
        + b"".join(b"<item><title>Report %d</title><link>https://a.org/%d</link></item>" % (n, n)
                   for n in range(40))
        + b"</channel></rss>")


@pytest.mark.asyncio
async def test_a_two_member_gzip_body_is_read_whole(feed_server):
    half = len(FEED) // 2
    feed_server.serve("/feed", gzip.compress(FEED[:half]) + gzip.compress(FEED[half:]),
                      headers={"Content-Encoding": "gzip"}, content_type="application/rss+xml")
    result = await get(feed_server.url("/feed"))
    assert result.error is None and result.body == FEED


@pytest.mark.asyncio
async def test_a_cut_gzip_body_is_an_error_not_a_shorter_feed():
    body = gzip.compress(FEED + os.urandom(4000).hex().encode())
    url = raw_server(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Encoding: gzip\r\n"
                     b"Connection: close\r\n\r\n" + body[: len(body) // 2])
    result = await get(url)
    assert result.error == "the compressed body was cut short" and result.body is None


@pytest.mark.asyncio
async def test_a_body_shorter_than_its_content_length_is_an_error():
    url = raw_server(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: %d\r\n\r\n"
                     % len(FEED) + FEED[:1000])
    result = await get(url)
    assert result.error == "127.0.0.1 closed the connection without a complete answer"
    assert result.body is None


# --- Cache hints that would silence a source or overflow ---------------------------------------

@pytest.mark.asyncio
@pytest.mark.parametrize("headers", [
    {"Retry-After": "9" * 30},
    {"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"},
])
async def test_a_huge_retry_after_is_clamped_not_an_overflow(feed_server, headers):
    result = await get(feed_server.serve("/feed", b"", status=429, headers=headers))
    now = datetime.now(timezone.utc)
    assert result.error.startswith("rate limited")
    assert result.retry_after <= now + timedelta(days=2, minutes=1)


@pytest.mark.asyncio
@pytest.mark.parametrize("headers", [
    {"Cache-Control": "max-age=" + "9" * 30},
    {"Expires": "Fri, 31 Dec 9999 23:59:59 GMT"},
])
async def test_far_future_cache_hints_are_clamped(feed_server, headers):
    result = await get(feed_server.serve("/feed", b"<rss/>", headers=headers))
    assert result.error is None and 0 < result.max_age <= 366 * 86400
    # the arithmetic the scheduler does with it stays finite
    assert datetime.now(timezone.utc) + timedelta(seconds=result.max_age)



# --- Through a whole poll: the real pipeline into a real SQLite file -----------------------------

def rss(*items: str) -> bytes:
    return ("<?xml version='1.0'?><rss version='2.0'><channel><title>T</title>"
            + "".join(items) + "</channel></rss>").encode()


def item(title: str, link: str, date: str = "Mon, 07 Apr 2025 08:30:00 GMT") -> str:
    return f"<item><title>{title}</title><link>{link}</link><pubDate>{date}</pubDate></item>"


def run_poll(db, db_path, server, sources, **settings):
    """Poll ``sources`` ((id, type, path) on ``server``) with ``settings`` over the defaults."""
    config = Config(
        settings=replace(Settings(contact="https://example.org/contact", timeout=2, connect_timeout=2,
                                  per_host=4), **settings),
        sources=tuple(Source(id=sid, publisher="P", type=kind, url=server.url(path)) for sid, kind, path in sources),
    )
    return poll_sources(db, config, list(config.sources), db_path=db_path)


def by_id(summary):
    return {o.source_id: o for o in summary.outcomes}


def titles(db):
    return sorted(row["title"] for row in db["publications"].rows)


@pytest.mark.parametrize("bad", [
    item("Year one", "https://a.org/1", "0001-01-01T00:00:00+01:00"),
    item("Year 9999", "https://a.org/2", "9999-12-31T23:00:00-05:00"),
])
def test_one_bad_date_costs_nothing(db, db_path, feed_server, bad):
    """A date in year 1 or 9999 with an offset overflowed, on every poll, for the whole source."""
    feed_server.serve("/feed", rss(item("Good report", "https://a.org/good"), bad),
                      content_type="application/rss+xml")
    summary = run_poll(db, db_path, feed_server, [("s", "feed", "/feed")])
    assert by_id(summary)["s"].error is None
    assert len(titles(db)) == 2
    undated = db.execute("select published from publications where url != 'https://a.org/good'").fetchone()
    assert undated == (None,)


def test_search_results_with_a_link_or_title_that_is_not_text_are_skipped_and_counted(db, db_path, feed_server):
    results = [
        {"title": "Good", "link": "/government/publications/good", "public_timestamp": "2025-04-07T09:30:00Z"},
        {"title": {"en": "Object"}, "link": "/government/publications/object"},
        {"title": "Number link", "link": 42},
        {"title": "Odd fields", "link": "/government/publications/odd", "_id": {"x": 1},
         "display_type": ["Guidance"], "description": 7, "public_timestamp": 20250407},
    ]
    feed_server.serve("/search.json", json.dumps({"results": results}), content_type="application/json")
    summary = run_poll(db, db_path, feed_server, [("g", "govuk-search", "/search.json")])
    outcome = by_id(summary)["g"]
    assert (outcome.error, outcome.new, outcome.skipped) == (None, 2, 2)
    assert titles(db) == ["Good", "Odd fields"]
    assert db["sources"].get("g")["skipped_entries"] == 2
    [log] = db.execute("select skipped from fetch_log where source_id = 'g'").fetchall()
    assert log[0] == ("2 skipped: result 2: its link or title is not text; "
                      "result 3: its link or title is not text")


def test_a_year_of_max_age_stretches_the_next_poll_to_the_ceiling_only(db, db_path, feed_server):
    feed_server.serve("/feed", rss(item("A", "https://a.org/a")), content_type="application/rss+xml",
                      headers={"Cache-Control": "public, max-age=31536000"})
    feed_server.serve("/expires", rss(item("B", "https://a.org/b")), content_type="application/rss+xml",
                      headers={"Expires": "Fri, 31 Dec 9999 23:59:59 GMT"})
    summary = run_poll(db, db_path, feed_server, [("a", "feed", "/feed"), ("b", "feed", "/expires")],
                       max_interval=6 * 3600)
    assert [o.error for o in summary.outcomes] == [None, None]
    for source_id in ("a", "b"):
        next_poll = datetime.fromisoformat(db["sources"].get(source_id)["next_poll"])
        hours = (next_poll - datetime.now(timezone.utc)).total_seconds() / 3600
        assert 5 < hours < 7  # six hours, give or take the jitter


def test_a_host_failing_again_and_again_is_skipped_for_the_rest_of_the_pass(db, db_path, feed_server):
    for n in range(10):
        feed_server.serve(f"/dead{n}", b"down", status=503)
    sources = [(f"dead{n}", "feed", f"/dead{n}") for n in range(10)]
    summary = run_poll(db, db_path, feed_server, sources, per_host=1, host_failures=3)
    got = [o.outcome for o in summary.outcomes]
    assert got.count("error") == 3 and got.count("deferred") == 7
    assert len(feed_server.requests) == 3
    deferred = [o for o in summary.outcomes if o.outcome == "deferred"]
    assert deferred[0].error == "not polled: 127.0.0.1 failed 3 times in this pass"
    # skipped, not failed: no error counted, and not due again before its usual interval
    row = db["sources"].get(deferred[0].source_id)
    assert row["consecutive_errors"] == 0 and row["last_error"] is None
    hours = (datetime.fromisoformat(row["next_poll"]) - datetime.now(timezone.utc)).total_seconds() / 3600
    assert 0.9 < hours < 1.1


def test_a_pass_has_a_deadline(db, db_path, feed_server):
    feed_server.serve("/quick", rss(item("Quick", "https://a.org/q")), content_type="application/rss+xml")
    feed_server.fault("/hang", "hang")
    started = time.monotonic()
    summary = run_poll(db, db_path, feed_server, [("quick", "feed", "/quick"), ("hang", "feed", "/hang")],
                       timeout=30, pass_timeout=1)
    assert time.monotonic() - started < 10
    got = by_id(summary)
    assert got["quick"].outcome == "fetched" and titles(db) == ["Quick"]
    assert got["hang"].outcome == "deferred"
    assert got["hang"].error == "not polled: the pass reached its time limit (1 s)"


def test_rotating_session_ids_do_not_add_every_item_again(db, db_path, feed_server):
    for sid in ("a1b2", "c3d4"):
        feed_server.serve("/feed", rss(item("Report", f"https://a.org/report?sid={sid}&id=3"),
                                       item("Other", f"https://a.org/other;jsessionid={sid}")),
                          content_type="application/rss+xml")
        run_poll(db, db_path, feed_server, [("s", "feed", "/feed")])
    assert db["publications"].count == 2


def test_a_feed_cannot_rewrite_an_accepted_title_or_pull_its_date_back(db, db_path, feed_server):
    feed_server.serve("/feed", rss(item("What the editors read", "https://a.org/r")),
                      content_type="application/rss+xml")
    run_poll(db, db_path, feed_server, [("s", "feed", "/feed")])
    db.execute("update publications set status = 'accepted'")
    feed_server.serve("/feed", rss(item("Something else entirely", "https://a.org/r")),
                      content_type="application/rss+xml")
    feed_server.serve("/other", rss(item("Copy", "https://a.org/r", "Thu, 01 Jan 1970 00:00:00 GMT")),
                      content_type="application/rss+xml")
    run_poll(db, db_path, feed_server, [("s", "feed", "/feed"), ("o", "feed", "/other")])
    row = db.execute("select title, published from publications").fetchone()
    assert tuple(row) == ("What the editors read", "2025-04-07")
    kinds = [r[0] for r in db.execute("select kind from publication_updates")]
    assert kinds == ["title"]  # the 1970 date is unknown, not an earlier date



def test_another_publisher_cannot_pull_a_date_back_through_the_same_title(db, db_path, feed_server):
    """The cross-publisher merge (same long title, another URL) moves a date back by at most 30
    days; a copy dated a year earlier is recorded as a date update, not applied."""
    title = "Children's social care: national practice review of kinship placements"
    feed_server.serve("/feed", rss(item(title, "https://a.org/review")), content_type="application/rss+xml")
    run_poll(db, db_path, feed_server, [("s", "feed", "/feed")])
    feed_server.serve("/other", rss(item(title, "https://b.org/copy", "Sun, 07 Apr 2024 08:30:00 GMT")),
                      content_type="application/rss+xml")
    run_poll(db, db_path, feed_server, [("s", "feed", "/feed"), ("o", "feed", "/other")])
    assert [tuple(r) for r in db.execute("select published from publications")] == [("2025-04-07",)]
    assert [tuple(r) for r in db.execute("select kind, new_value from publication_updates")] == [
        ("date", "2024-04-07")]

def test_html_nested_100000_deep_fails_in_words_quickly(db, db_path, feed_server):
    page = "<html><body>" + "<div>" * 100_000 + "<article><h2><a href='/x'>T</a></h2></article>"
    feed_server.serve("/page", page, content_type="text/html")
    config = Config(settings=Settings(contact="https://example.org/c", timeout=5), sources=(
        Source(id="deep", publisher="P", type="html", url=feed_server.url("/page"),
               selectors=Selectors("article", "h2 a", "h2 a")),))
    started = time.monotonic()
    summary = poll_sources(db, config, list(config.sources), db_path=db_path)
    assert time.monotonic() - started < 10
    assert summary.outcomes[0].error == ("the page nests its elements more than 2,000 deep, which tracker "
                                         "refuses (real pages nest a few dozen)")


def test_markup_nested_deep_inside_a_feed_item_costs_little(db, db_path, feed_server):
    deep = "&lt;div&gt;" * 100_000 + "Summary text"
    feed_server.serve("/feed", rss(f"<item><title>Deep</title><link>https://a.org/d</link>"
                                   f"<description>{deep}</description></item>"),
                      content_type="application/rss+xml")
    started = time.monotonic()
    summary = run_poll(db, db_path, feed_server, [("s", "feed", "/feed")])
    assert time.monotonic() - started < 10 and summary.outcomes[0].error is None
    assert db.execute("select summary from publications").fetchone()[0] == "Summary text"


@pytest.mark.parametrize("tag", ["iframe", "textarea", "title"])
def test_raw_text_tags_in_a_feed_title_leave_no_closing_body(db, db_path, feed_server, tag):
    feed_server.serve("/feed", rss(item(f"Care &lt;{tag}&gt; review", "https://a.org/t")),
                      content_type="application/rss+xml")
    run_poll(db, db_path, feed_server, [("s", "feed", "/feed")])
    assert titles(db) == ["Care review"]


def test_an_impossible_date_is_unknown_not_rolled_over(db, db_path, feed_server):
    feed_server.serve("/feed", rss(item("Dated", "https://a.org/d", "2025-02-30")),
                      content_type="application/rss+xml")
    run_poll(db, db_path, feed_server, [("s", "feed", "/feed")])
    assert db.execute("select published, date_source from publications").fetchone() == (None, "first_seen")


def test_a_cut_feed_keeps_the_old_validators_and_stores_nothing(db, db_path, feed_server):
    body = gzip.compress(FEED + os.urandom(4000).hex().encode())
    config = Config(settings=SETTINGS, sources=(
        Source(id="cut", publisher="P", type="feed",
               url=raw_server(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nETag: \"new\"\r\n"
                              b"Content-Encoding: gzip\r\nConnection: close\r\n\r\n" + body[: len(body) // 2])),))
    summary = poll_sources(db, config, list(config.sources), db_path=db_path)
    assert summary.outcomes[0].error == "the compressed body was cut short"
    assert db["publications"].count == 0 and db["sources"].get("cut")["etag"] is None


def test_a_broken_feed_nested_100000_deep_fails_in_words_quickly(db, db_path, feed_server):
    """Not well-formed, so not the C parser's: feedparser's tolerant reader took 7 s, and the
    markup it kept another minute in the HTML parser."""
    feed_server.serve("/feed", rss("<item><title>T</title><link>https://a.org/1</link><description>"
                                   + "<div>" * 100_000 + "</description></item>"),
                      content_type="application/rss+xml")
    started = time.monotonic()
    summary = run_poll(db, db_path, feed_server, [("s", "feed", "/feed")])
    assert time.monotonic() - started < 5
    assert summary.outcomes[0].error == ("the feed nests its elements more than 2,000 deep, which tracker "
                                         "refuses (real pages nest a few dozen)")


def test_well_formed_xml_nested_100000_deep_is_read_quickly(db, db_path, feed_server):
    deep = "<x>" * 100_000 + "</x>" * 100_000
    feed_server.serve("/feed", rss(f"<item><title>T</title><link>https://a.org/1</link>{deep}</item>"),
                      content_type="application/rss+xml")
    started = time.monotonic()
    summary = run_poll(db, db_path, feed_server, [("s", "feed", "/feed")])
    assert time.monotonic() - started < 5 and summary.outcomes[0].error is None
    assert titles(db) == ["T"]


@pytest.mark.asyncio
@pytest.mark.parametrize("host", ["127.0.0.1", "127\u30020\u30020\u30021", "localhost", "[::ffff:127.0.0.1]"])
async def test_the_client_itself_refuses_a_private_address_no_caller_allowed(feed_server, host):
    """The check is also where the connection is made: a request sent past fetch's own checks
    (any code that uses the client directly) goes to a private address only when the request
    says the caller chose it."""
    feed_server.serve("/secret", b"internal")
    url = f"http://{host}:{feed_server.port}/secret"
    async with make_client(SETTINGS) as client:
        with pytest.raises(RefusedAddress, match=r"a private address \((127\.0\.0\.1|localhost)\): refused"):
            await client.get(url)
        assert feed_server.requests_to("/secret") == []
        if "[" not in host:  # the feed server listens on IPv4 only
            assert (await client.get(url, extensions={ALLOW_PRIVATE: True})).content == b"internal"


@pytest.mark.asyncio
async def test_a_url_a_publisher_names_goes_to_a_private_address_only_when_allowed(feed_server):
    """`tracker sources check` tries the feeds a publisher's page advertises: one advertised on
    127.0.0.1 by a public source's page was fetched (and proposed), because every first request
    counted as the caller's own choice."""
    feed_server.serve("/admin/feed", b"<rss/>")
    result = await get(feed_server.url("/admin/feed"), allow_private_url=False, allow_private_redirects=False)
    assert result.refused and result.error == "a private address (127.0.0.1): refused"
    assert feed_server.requests_to("/admin/feed") == []
    assert (await get(feed_server.url("/admin/feed"))).body == b"<rss/>"  # a configured local source
