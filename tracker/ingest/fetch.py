"""Download one URL politely and safely; every failure comes back as words, never as an exception.

Modelled on Miniflux's fetcher and FreshRSS's SSRF guard: conditional GET, redirects followed by
hand (so each hop can be counted, checked and remembered), a deadline on the whole exchange and a
cap on the *decompressed* body, enforced while streaming.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import time
import zlib
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from urllib.parse import urljoin

import httpx

from tracker.dates import utc_time_words
from tracker.text import is_http_url

from .config import Settings
from .guard import ALLOW_PRIVATE, PinnedTransport, RefusedAddress, Resolver, private_address_named

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
REDIRECTS = (301, 302, 303, 307, 308)
PERMANENT = (301, 308)
# A broken or hostile Retry-After must not silence a source for months (FreshRSS caps at 2 days).
MAX_RETRY_AFTER = timedelta(days=2)
# Cache hints beyond this are read as this (a year of max-age, Expires in 9999): the scheduler
# caps them much lower (settings.max_interval); this only keeps the arithmetic finite.
MAX_CACHE_HINT = 366 * 86400
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, application/xml;q=0.9, "
    "text/xml;q=0.9, application/json;q=0.9, text/html;q=0.8, */*;q=0.5"
)
# Only encodings we decompress ourselves, with a size cap (httpx would inflate a whole chunk).
ACCEPT_ENCODING = "gzip, deflate"


@dataclass
class FetchResult:
    url: str  # the final URL, after redirects
    status: int | None = None
    body: bytes | None = None  # decompressed; None on error or 304
    content_type: str | None = None
    nbytes: int = 0  # decompressed size of the body
    duration_ms: int = 0
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    permanent_url: str | None = None  # set when only 301/308 led from the URL asked for to here
    retry_after: datetime | None = None
    max_age: int | None = None
    error: str | None = None
    refused: bool = False  # the address, or one it redirected to, is private: refused (SSRF)


class FetchError(Exception):
    """Internal: carries the human message of a failure to the one place that returns it."""


def make_client(settings: Settings, resolver: Resolver | None = None) -> httpx.AsyncClient:
    """One pooled HTTP/1.1 client for a whole pass; ``settings.timeout`` is also the total
    deadline fetch() gives each request (headers and body). Its connections go only to public
    addresses it resolved and checked itself (guard.PinnedTransport); ``resolver`` replaces the
    system's DNS (tests)."""
    limits = httpx.Limits(max_connections=settings.concurrency,
                          max_keepalive_connections=settings.concurrency, keepalive_expiry=30)
    return httpx.AsyncClient(
        headers={"User-Agent": settings.user_agent, "Accept": ACCEPT,
                 "Accept-Encoding": ACCEPT_ENCODING},
        timeout=httpx.Timeout(settings.timeout, connect=settings.connect_timeout),
        transport=PinnedTransport(limits, resolver),
        follow_redirects=False,
    )


class HostLimiter:
    """At most ``per_host`` requests to one host and ``total`` in all, at any moment."""

    def __init__(self, per_host: int, total: int):
        self._total = asyncio.Semaphore(total)
        self._hosts: dict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(per_host))

    @asynccontextmanager
    async def slot(self, url: str) -> AsyncIterator[None]:
        host = host_of(url).removeprefix("www.")
        # The host first: a task queued behind a busy host must not hold one of the total slots.
        async with self._hosts[host], self._total:
            yield


async def fetch(client: httpx.AsyncClient, url: str, *, etag: str | None = None,
                last_modified: str | None = None, max_bytes: int,
                allow_private_redirects: bool = True, allow_private_url: bool = True,
                timeout: float | None = None) -> FetchResult:
    """GET ``url`` within ``timeout`` seconds in all (default: the client's read timeout).
    ``allow_private_url``: whether ``url`` itself may name a private address (a source configured
    there is the operator's choice; a URL a publisher's page names is not);
    ``allow_private_redirects``: whether its redirects may lead to one."""
    deadline = timeout or client.timeout.read or 30.0
    started = time.perf_counter()
    result = FetchResult(url=url)
    state = {"answered": False}
    try:
        async with asyncio.timeout(deadline):
            await _fetch(client, result, state, etag, last_modified, max_bytes,
                         allow_private_url, allow_private_redirects)
    except (TimeoutError, httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout):
        # httpx's own read timeout equals the deadline: whichever fires first, the same words.
        waited = _seconds(deadline)
        result.error = (f"the download took longer than {waited}" if state["answered"]
                        else f"no answer within {waited}")
    except FetchError as ex:
        result.error = str(ex)
    except RefusedAddress as ex:
        result.error, result.refused = str(ex), ex.private
    except httpx.HTTPError as ex:
        result.error = _network_error(ex, result.url)
    except (httpx.InvalidURL, ValueError):  # control characters in the URL: httpx refuses it
        result.error = f"not a web address: {result.url[:80]}"
    except OSError as ex:
        result.error = f"network error: {ex.strerror or ex}"
    if result.error:
        result.body, result.permanent_url = None, None
    result.duration_ms = round((time.perf_counter() - started) * 1000)
    return result


async def _fetch(client: httpx.AsyncClient, result: FetchResult, state: dict, etag: str | None,
                 last_modified: str | None, max_bytes: int, private_url: bool, allow_private: bool) -> None:
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    if not is_http_url(result.url):
        raise FetchError(f"not a web address: {result.url[:80]}")
    visited, permanent = {result.url}, True
    for hop in range(MAX_REDIRECTS + 1):
        # The transport holds every request to what the caller allowed.
        allowed = private_url if hop == 0 else allow_private
        response = await client.send(client.build_request("GET", result.url, headers=headers,
                                                          extensions={ALLOW_PRIVATE: allowed}),
                                     stream=True)
        try:
            result.status = response.status_code
            if response.status_code in REDIRECTS and "location" in response.headers:
                try:
                    target = urljoin(result.url, response.headers["location"])
                except ValueError:
                    target = ""
                if not is_http_url(target):
                    raise FetchError(f"redirected to {target[:80] or 'an invalid address'}, "
                                     "which is not a web address")
                if target in visited:
                    raise FetchError("the server redirects in a loop")
                if not allow_private:
                    refuse_private(target, "redirected to")
                visited.add(target)
                log.debug("%s redirects (%d) to %s", result.url, response.status_code, target)
                permanent = permanent and response.status_code in PERMANENT
                result.url = target
                if permanent:
                    result.permanent_url = target
                continue
            _read_headers(result, response, etag, last_modified)
            if response.status_code == 304:
                result.not_modified = True
            elif 200 <= response.status_code < 300:
                state["answered"] = True  # from here a timeout is a slow body, not silence
                result.body = await _read_body(response, max_bytes)
                result.nbytes = len(result.body)
            else:
                raise FetchError(_status_error(response.status_code, result.retry_after))
            return
        finally:
            await response.aclose()
    raise FetchError(f"too many redirects (more than {MAX_REDIRECTS})")


def _read_headers(result: FetchResult, response: httpx.Response, etag: str | None,
                  last_modified: str | None) -> None:
    h = response.headers
    result.content_type = h.get("content-type")
    # A 304 may omit the validators: the ones we sent are still the current ones.
    result.etag = h.get("etag") or (etag if response.status_code == 304 else None)
    result.last_modified = h.get("last-modified") or (
        last_modified if response.status_code == 304 else None)
    result.retry_after = _retry_after(h.get("retry-after"))
    result.max_age = _max_age(h.get("cache-control"), h.get("expires"), h.get("date"))


def is_private_host(url: str) -> bool:
    """Whether a URL names a loopback or private address literally (or localhost): a source
    configured there is the operator's choice, so its redirects may stay there too."""
    return _private_address_named(url) is not None


def refuse_private(url: str, how: str) -> None:
    """Refuse a URL naming a loopback, private, link-local or reserved address literally, or
    localhost (SSRF): raises RefusedAddress saying the URL was ``how`` there ("redirected to",
    "links to"). The connection lets those through as a configured source's own choice; any
    other name it resolves once and checks itself (guard.PinnedBackend), so it is not resolved
    here too."""
    shown = _private_address_named(url)
    if shown is not None:
        raise RefusedAddress(f"{how} a private address ({shown}): refused", private=True)


def _private_address_named(url: str) -> str | None:
    return private_address_named(host_of(url))


async def _read_body(response: httpx.Response, max_bytes: int) -> bytes:
    too_big = FetchError(f"the feed is larger than {_limit(max_bytes)}")
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    declared = response.headers.get("content-length", "").strip()
    if encoding in ("", "identity"):
        if declared.isdigit() and int(declared) > max_bytes:
            raise too_big
        decoder = None
    elif encoding in ("gzip", "x-gzip", "deflate"):
        decoder = _Inflater(encoding)
    else:
        raise FetchError(f"the server sent the feed in an unsupported compression ({encoding})")
    parts, total, received = [], 0, 0
    async for chunk in response.aiter_raw():
        received += len(chunk)
        data = decoder.feed(chunk, max_bytes - total + 1) if decoder else chunk
        total += len(data)
        if total > max_bytes:
            raise too_big
        parts.append(data)
    # Part of a feed parses as a shorter feed: a cut body must fail, keeping the old validators.
    if declared.isdigit() and received < int(declared):
        raise FetchError(f"the body was cut short ({received} of {declared} bytes)")
    if decoder and not decoder.complete:
        raise FetchError("the compressed body was cut short")
    return b"".join(parts)


class _Inflater:
    """Decompress with a bound on the output of each step, so a gzip bomb costs ``max_bytes``.

    A gzip body may hold several members one after another (RFC 1952): each is inflated in
    turn, as gzip(1) does, rather than the body ending silently after the first.
    """

    def __init__(self, encoding: str):
        # 47: gzip or zlib header; "deflate" is zlib-wrapped by the spec, raw by some servers.
        self._wbits = 47 if encoding != "deflate" else 15
        self._zlib = zlib.decompressobj(self._wbits)
        self._started = False
        self._pending = b""  # input not yet given to zlib: its output would pass the limit

    @property
    def complete(self) -> bool:
        return self._zlib.eof and not self._pending

    def feed(self, chunk: bytes, limit: int) -> bytes:
        data = self._pending + chunk
        self._pending = b""
        out = b""
        while data and len(out) <= limit:
            if self._zlib.eof:
                if self._wbits != 47 or not data.strip(b"\0"):  # trailing zero padding is not a member
                    return out
                self._zlib = zlib.decompressobj(self._wbits)
            try:
                out += self._zlib.decompress(data, limit - len(out) + 1)
            except zlib.error:
                if self._started or self._wbits != 15:
                    raise FetchError("the server sent a corrupt compressed body") from None
                self._wbits = -15
                self._zlib = zlib.decompressobj(-15)
                continue
            self._started = True
            data = self._zlib.unconsumed_tail or self._zlib.unused_data
        self._pending = data
        return out


def _status_error(status: int, retry_after: datetime | None) -> str:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    if status == 429:
        if retry_after:
            return f"rate limited: asked to wait until {utc_time_words(retry_after)}"
        return "rate limited: the server answered 429 Too Many Requests"
    return f"the server answered {status} {phrase}".rstrip()


def _retry_after(value: str | None, now: datetime | None = None) -> datetime | None:
    """Retry-After as seconds or an HTTP date, capped at MAX_RETRY_AFTER from now."""
    if not value:
        return None
    now = now or datetime.now(timezone.utc)
    value = value.strip()
    if value.isdigit():
        # Clamped before the addition: a 30-digit number of seconds overflows any datetime.
        moment = now + min(timedelta(seconds=min(int(value), MAX_CACHE_HINT)), MAX_RETRY_AFTER)
    else:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
    if moment <= now:
        return None
    return min(moment, now + MAX_RETRY_AFTER).replace(microsecond=0)


def _max_age(cache_control: str | None, expires: str | None, date: str | None) -> int | None:
    """Seconds the response stays fresh: Cache-Control max-age, else Expires minus Date."""
    for directive in (cache_control or "").lower().split(","):
        name, _, value = directive.strip().partition("=")
        if name == "max-age" and value.strip('"').isdigit():
            return min(int(value.strip('"')), MAX_CACHE_HINT)
    if expires:
        try:
            fresh = parsedate_to_datetime(expires) - (
                parsedate_to_datetime(date) if date else datetime.now(timezone.utc))
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        return min(max(int(fresh.total_seconds()), 0), MAX_CACHE_HINT)
    return None


def _network_error(ex: httpx.HTTPError, url: str) -> str:
    host = (host_of(url) or url)[:80]
    causes = _causes(ex)
    if isinstance(ex, httpx.ConnectTimeout):
        return f"could not connect to {host} in time"
    for cause in causes:
        if isinstance(cause, socket.gaierror) or "name or service not known" in str(cause).lower():
            return f"could not find the server {host} (DNS lookup failed)"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"the TLS certificate of {host} is not valid ({cause.verify_message})"
        if isinstance(cause, ssl.SSLError):
            return f"the secure connection to {host} failed ({cause.reason or cause})"
        if isinstance(cause, ConnectionRefusedError):
            return f"{host} refused the connection"
        if isinstance(cause, ConnectionResetError):
            return f"{host} reset the connection"
    if isinstance(ex, httpx.ConnectError):
        return f"could not connect to {host}"
    if isinstance(ex, httpx.RemoteProtocolError):
        return f"{host} closed the connection without a complete answer"
    if isinstance(ex, httpx.ReadError):
        return f"the connection to {host} broke during the download"
    return f"network error talking to {host} ({type(ex).__name__})"


def host_of(url: str) -> str:
    """The host a connection to ``url`` goes to, read as httpx reads it: lower case, IDNA, and
    Unicode full stops folded ("127。0。0。1" connects to 127.0.0.1, so it is checked as that);
    empty for no address at all."""
    try:
        return httpx.URL(url).raw_host.decode("ascii").lower()
    except (httpx.InvalidURL, UnicodeError, TypeError):
        return ""


def _causes(ex: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    cause: BaseException | None = ex
    while cause is not None and cause not in found:
        found.append(cause)
        cause = cause.__cause__ or cause.__context__
    return found


def _seconds(value: float) -> str:
    text = f"{value:g}"
    return f"{text} second" if text == "1" else f"{text} seconds"


def _limit(nbytes: int) -> str:
    """A size limit in the binary units it is set in (``max_bytes: 5242880`` is "5 MB"), where
    text.human_size writes a document's size in the publishers' decimal units."""
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if nbytes >= scale:
            return f"{round(nbytes / scale, 1):g} {unit}"
    return f"{nbytes} bytes"
