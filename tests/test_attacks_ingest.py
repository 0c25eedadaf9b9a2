"""A hostile publisher and an unlucky operator against the ingest stage (issue 16), each attack
through the real fetch, parse and poll with a real server on 127.0.0.1 and a real SQLite file.

Each test names the defect it covers; SECURITY.md lists them.
"""

import gzip
import ipaddress
import os
import socket
import threading
from datetime import datetime, timedelta, timezone

import pytest

from tracker.ingest.config import Settings
from tracker.ingest.fetch import fetch, make_client
from tracker.ingest.guard import is_public_address

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

