"""fetch() against a real HTTP server on 127.0.0.1: every fault ends as words, never a raise."""

import asyncio
import os
import socket
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest

from feedserver import FeedServer, gzip_bomb
from tracker.dates import utc_time_words
from tracker.ingest.config import Settings
from tracker.ingest.fetch import HostLimiter, fetch, is_private_host, make_client

MB = 1024 * 1024
SETTINGS = Settings(timeout=1.0, connect_timeout=1.0, contact="https://example.org/contact")


async def get(url, *, settings=SETTINGS, max_bytes=MB, **options):
    async with make_client(settings) as client:
        return await fetch(client, url, max_bytes=max_bytes, **options)


@pytest.mark.asyncio
async def test_ok_with_validators_and_user_agent(feed_server):
    url = feed_server.serve("/feed.atom", b"<feed/>", headers={
        "ETag": '"v1"', "Last-Modified": "Mon, 24 Nov 2025 09:00:00 GMT",
        "Cache-Control": "public, max-age=300"})
    result = await get(url)
    assert (result.status, result.body, result.nbytes, result.error) == (200, b"<feed/>", 7, None)
    assert result.content_type == "application/atom+xml; charset=utf-8"
    assert (result.etag, result.last_modified) == ('"v1"', "Mon, 24 Nov 2025 09:00:00 GMT")
    assert result.max_age == 300 and not result.not_modified and result.permanent_url is None
    request = feed_server.requests[0]
    assert request.headers["user-agent"] == SETTINGS.user_agent
    assert "https://example.org/contact" in request.headers["user-agent"]
    assert request.headers["accept-encoding"] == "gzip, deflate"


@pytest.mark.asyncio
@pytest.mark.parametrize("validator,header", [
    ("etag", "ETag"), ("last_modified", "Last-Modified")])
async def test_conditional_get_304_returns_no_body(feed_server, validator, header):
    value = '"abc"' if validator == "etag" else "Mon, 24 Nov 2025 09:00:00 GMT"
    url = feed_server.serve("/feed.rss", b"<rss/>", headers={header: value})
    result = await get(url, **{validator: value})
    assert result.not_modified and result.status == 304 and result.body is None
    assert result.error is None and getattr(result, validator) == value
    sent = "if-none-match" if validator == "etag" else "if-modified-since"
    assert feed_server.requests[0].headers[sent] == value


@pytest.mark.asyncio
async def test_changed_feed_answers_200_despite_old_validator(feed_server):
    url = feed_server.serve("/feed.rss", b"<rss/>", headers={"ETag": '"new"'})
    result = await get(url, etag='"old"')
    assert result.status == 200 and result.body == b"<rss/>" and result.etag == '"new"'


@pytest.mark.asyncio
@pytest.mark.parametrize("status,message", [
    (404, "the server answered 404 Not Found"),
    (410, "the server answered 410 Gone"),
    (500, "the server answered 500 Internal Server Error"),
    (403, "the server answered 403 Forbidden"),
    (429, "rate limited: the server answered 429 Too Many Requests"),
])
async def test_http_errors_in_words(feed_server, status, message):
    result = await get(feed_server.serve("/feed", b"oops", status=status))
    assert (result.status, result.error, result.body) == (status, message, None)


@pytest.mark.asyncio
@pytest.mark.parametrize("form", ["seconds", "http-date"])
async def test_429_retry_after(feed_server, form):
    until = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=2)
    value = "7200" if form == "seconds" else format_datetime(until, usegmt=True)
    result = await get(feed_server.serve("/feed", b"", status=429, headers={"Retry-After": value}))
    assert abs((result.retry_after - until).total_seconds()) <= 2
    when = result.retry_after.strftime("%H:%M UTC")
    assert result.error.startswith(f"rate limited: asked to wait until {when}")


def test_a_moment_to_wait_until_is_said_in_utc_with_its_day_unless_today():
    later = datetime.now(timezone.utc).replace(hour=23, minute=5)
    assert utc_time_words(later) == "23:05 UTC"
    assert utc_time_words(datetime(2026, 12, 3, 9, 5, tzinfo=timezone.utc)) == "09:05 UTC on 3 Dec"
    assert utc_time_words(datetime(2026, 7, 1, 10, 5, tzinfo=timezone(timedelta(hours=1)))) == "09:05 UTC on 1 Jul"


@pytest.mark.asyncio
async def test_retry_after_is_capped_at_two_days(feed_server):
    result = await get(feed_server.serve("/feed", b"", status=503,
                                         headers={"Retry-After": str(365 * 86400)}))
    assert result.error == "the server answered 503 Service Unavailable"
    assert result.retry_after - datetime.now(timezone.utc) < timedelta(days=2, minutes=1)


@pytest.mark.asyncio
async def test_server_that_never_answers(feed_server):
    started = time.perf_counter()
    result = await get(feed_server.fault("/feed", "hang"), settings=Settings(timeout=0.5))
    assert result.error == "no answer within 0.5 seconds"
    assert result.status is None and time.perf_counter() - started < 3


@pytest.mark.asyncio
async def test_trickling_server_hits_the_total_deadline(feed_server):
    # Each chunk arrives well within the read timeout: only a total deadline stops it.
    started = time.perf_counter()
    result = await get(feed_server.fault("/feed", "trickle", interval=0.2))
    assert result.error == "the download took longer than 1 second"
    assert result.body is None and time.perf_counter() - started < 3


@pytest.mark.asyncio
async def test_endless_body_stops_at_the_cap(feed_server):
    result = await get(feed_server.fault("/feed", "endless"), max_bytes=MB)
    assert result.error == "the feed is larger than 1 MB" and result.body is None


@pytest.mark.asyncio
async def test_declared_length_over_the_cap_is_refused_before_reading(feed_server):
    result = await get(feed_server.serve("/feed", b"x" * 5000), max_bytes=4096)
    assert result.error == "the feed is larger than 4 KB"


@pytest.mark.asyncio
async def test_gzip_bomb_stops_at_the_cap_without_inflating_it(feed_server):
    url = feed_server.fault("/feed", "gzip-bomb", size=200 * MB)
    gzip_bomb(200 * MB)  # built (and cached) before the clock starts
    tracemalloc.start()
    try:
        result = await get(url, max_bytes=2 * MB, settings=Settings(timeout=10))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.error == "the feed is larger than 2 MB"
    assert peak < 20 * MB  # httpx's own decoder would inflate ~64 MB per network chunk


@pytest.mark.asyncio
async def test_gzip_body_is_decompressed_and_counted(feed_server):
    body = b"<rss>" + b"<item/>" * 1000 + b"</rss>"
    result = await get(feed_server.serve("/feed.rss", body, gzip=True))
    assert result.body == body and result.nbytes == len(body)


@pytest.mark.asyncio
async def test_gzip_body_inflating_past_the_cap(feed_server):
    result = await get(feed_server.serve("/feed.rss", b" " * 10000, gzip=True), max_bytes=4096)
    assert result.error == "the feed is larger than 4 KB"


@pytest.mark.asyncio
@pytest.mark.parametrize("hops", [1, 5])
async def test_permanent_redirects_update_the_url(feed_server, hops):
    for n in range(hops):
        feed_server.redirect(f"/r{n}", f"/r{n + 1}", status=301 if n % 2 else 308)
    final = feed_server.serve(f"/r{hops}", b"<rss/>")
    result = await get(feed_server.url("/r0"))
    assert result.error is None and result.body == b"<rss/>"
    assert result.url == final and result.permanent_url == final


@pytest.mark.asyncio
async def test_temporary_redirect_keeps_the_url(feed_server):
    feed_server.redirect("/a", "/b", status=301)
    feed_server.redirect("/b", "/c", status=302)
    final = feed_server.serve("/c", b"<rss/>")
    result = await get(feed_server.url("/a"))
    assert result.url == final and result.permanent_url == feed_server.url("/b")


@pytest.mark.asyncio
async def test_permanent_redirect_to_an_error_changes_nothing(feed_server):
    feed_server.redirect("/a", "/gone", status=301)
    feed_server.serve("/gone", b"", status=410)
    result = await get(feed_server.url("/a"))
    assert result.error == "the server answered 410 Gone" and result.permanent_url is None


@pytest.mark.asyncio
async def test_redirect_loop(feed_server):
    feed_server.redirect("/a", "/b")
    feed_server.redirect("/b", feed_server.url("/a"))
    result = await get(feed_server.url("/a"))
    assert result.error == "the server redirects in a loop"
    assert len(feed_server.requests) == 2


@pytest.mark.asyncio
async def test_too_many_redirects(feed_server):
    for n in range(7):
        feed_server.redirect(f"/r{n}", f"/r{n + 1}")
    feed_server.serve("/r7", b"<rss/>")
    result = await get(feed_server.url("/r0"))
    assert result.error == "too many redirects (more than 5)"
    assert len(feed_server.requests) == 6


@pytest.mark.asyncio
@pytest.mark.parametrize("target,address", [
    ("http://10.0.0.1/feed", "10.0.0.1"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
    ("http://[::1]/feed", "::1"),
    ("http://[::ffff:192.168.1.1]/feed", "192.168.1.1"),
    ("http://localhost:{port}/feed", "localhost"),
    ("http://Reports.LOCALHOST./feed", "reports.localhost"),
])
async def test_redirect_to_private_address_refused(feed_server, target, address):
    feed_server.serve("/feed", b"<rss/>")
    feed_server.redirect("/start", target.format(port=feed_server.port), status=301)
    result = await get(feed_server.url("/start"), allow_private_redirects=False)
    assert result.error == f"redirected to a private address ({address}): refused" and result.refused
    assert result.permanent_url is None and len(feed_server.requests) == 1


@pytest.mark.asyncio
async def test_redirect_to_private_address_allowed_for_a_local_source(feed_server):
    feed_server.serve("/feed", b"<rss/>")
    feed_server.redirect("/start", f"http://localhost:{feed_server.port}/feed")
    result = await get(feed_server.url("/start"), allow_private_redirects=True)
    assert result.error is None and result.body == b"<rss/>"


@pytest.mark.asyncio
@pytest.mark.parametrize("target,error", [
    ("file:///etc/passwd", "redirected to file:///etc/passwd, which is not a web address"),
    ("http://[bad/feed", "redirected to an invalid address, which is not a web address"),
])
async def test_redirect_to_something_not_a_web_address(feed_server, target, error):
    feed_server.redirect("/start", target)
    assert (await get(feed_server.url("/start"))).error == error


@pytest.mark.asyncio
async def test_connection_reset(feed_server):
    result = await get(feed_server.fault("/feed", "reset"))
    assert result.error in ("127.0.0.1 reset the connection",
                            "127.0.0.1 closed the connection without a complete answer")


@pytest.mark.asyncio
async def test_connection_refused():
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = await get(f"http://127.0.0.1:{port}/feed")
    assert result.error == "127.0.0.1 refused the connection" and result.status is None


@pytest.mark.asyncio
async def test_tls_to_a_plain_http_server(feed_server):
    feed_server.serve("/feed", b"<rss/>")
    result = await get(f"https://127.0.0.1:{feed_server.port}/feed")
    assert result.error.startswith("the secure connection to 127.0.0.1 failed")


@pytest.mark.asyncio
async def test_expires_header_gives_max_age(feed_server):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    result = await get(feed_server.serve("/feed", b"<rss/>", headers={
        "Expires": format_datetime(now + timedelta(hours=1), usegmt=True)}))
    assert 3590 <= result.max_age <= 3600


@pytest.mark.asyncio
async def test_client_reuses_connections(feed_server):
    url = feed_server.serve("/feed", b"<rss/>")
    async with make_client(SETTINGS) as client:
        for _ in range(3):
            assert (await fetch(client, url, max_bytes=MB)).error is None
    assert len(feed_server.requests) == 3
    assert len({r.client_port for r in feed_server.requests}) == 1


@pytest.mark.asyncio
async def test_host_limiter_bounds_per_host_and_total():
    limiter = HostLimiter(per_host=2, total=3)
    running, peak = {}, {"total": 0}

    async def job(url):
        host = url.split("/")[2].removeprefix("www.")
        async with limiter.slot(url):
            running[host] = running.get(host, 0) + 1
            peak[host] = max(peak.get(host, 0), running[host])
            peak["total"] = max(peak["total"], sum(running.values()))
            await asyncio.sleep(0.02)
            running[host] -= 1

    urls = [f"https://{h}/{n}" for n in range(6) for h in ("a.org", "www.a.org", "b.org", "c.org")]
    await asyncio.gather(*(job(u) for u in urls))
    assert peak["total"] == 3 and peak["a.org"] == 2  # www.a.org is a.org
    assert peak["b.org"] <= 2 and peak["c.org"] <= 2


@pytest.mark.parametrize("url,private", [
    ("http://127.0.0.1:8765/feed", True), ("http://localhost/feed", True),
    ("http://10.1.2.3/feed", True), ("http://[::1]/feed", True),
    ("https://www.gov.uk/feed", False), ("http://93.184.216.34/feed", False),
])
def test_is_private_host(url, private):
    assert is_private_host(url) is private


@pytest.mark.asyncio
@pytest.mark.parametrize("url", ["not a url", "ftp://example.org/feed", "http://[bad/feed", "http://",
                                 "http://exa mple.org/feed", "https://example.org:port/feed"])
async def test_invalid_addresses_in_words(url):
    assert (await get(url)).error == f"not a web address: {url}"


@pytest.mark.asyncio
async def test_control_characters_in_an_address():
    assert (await get("http://exa\x00mple.org/")).error.startswith("not a web address")


@pytest.mark.asyncio
async def test_redirect_to_a_server_that_never_answers(feed_server):
    feed_server.redirect("/start", "/hang")
    feed_server.fault("/hang", "hang")
    result = await get(feed_server.url("/start"), settings=Settings(timeout=0.5))
    assert result.error == "no answer within 0.5 seconds"


def _connections_to(ports: set[int]) -> int:
    """This process's established TCP connections to ``ports`` (from /proc: Linux)."""
    own = {os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
           if os.path.islink(f"/proc/self/fd/{fd}")}
    count = 0
    for line in Path("/proc/self/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote_port, state, inode = int(fields[2].split(":")[1], 16), fields[3], fields[9]
        count += remote_port in ports and state == "01" and f"socket:[{inode}]" in own
    return count


@pytest.mark.asyncio
async def test_connections_to_many_origins_stay_bounded():
    """Each origin has a pool of its own; those used least recently are closed once idle, so a
    pass over many hosts keeps about max_keepalive_connections of them open, not one each."""
    servers = [FeedServer() for _ in range(6)]
    try:
        for server in servers:
            server.serve("/feed", b"<rss/>", headers={"Content-Type": "application/rss+xml"})
        settings = Settings(timeout=2.0, connect_timeout=2.0, concurrency=2, contact="https://example.org/contact")
        ports = {server.port for server in servers}
        async with make_client(settings) as client:
            for server in [*servers, *servers]:
                result = await fetch(client, server.url("/feed"), max_bytes=MB)
                assert result.status == 200 and result.body == b"<rss/>", result.error
            assert _connections_to(ports) <= 3  # max_keepalive_connections (2) and the one just used
            assert sum(len(server.requests) for server in servers) == 12
    finally:
        for server in servers:
            server.close()
