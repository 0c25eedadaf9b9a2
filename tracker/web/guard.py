"""The server protecting itself: a request-body limit, login throttling, live sessions only.

``guard_app`` wraps Datasette's ASGI app (the plugin's ``asgi_wrapper`` hook), so it applies to
``tracker serve`` and to Datasette's own test client alike:

- a body declared larger than MAX_BODY is refused with 413 before a byte of it is read, and a
  body without a declared length (chunked) is read up to the limit, never further;
- a ``ds_actor`` cookie that is not a live session of an existing account (tracker.web.sessions)
  is dropped from the request before Datasette reads it.

``Throttle`` slows password guessing: after FREE_FAILURES failed logins for an account, or from
an address, each further attempt must wait twice as long as the one before (2 s, 4 s, ... up to
MAX_DELAY), and is refused with 429 meanwhile without the password being checked.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from .sessions import COOKIE, read_session
from .workspace import digits, workspace

if TYPE_CHECKING:
    from datasette.app import Datasette

ASGIApp = Callable[[MutableMapping[str, Any], Callable[[], Awaitable[dict]],
                    Callable[[dict], Awaitable[None]]], Awaitable[None]]

MAX_BODY = 1024 * 1024  # the workspace's forms are a few hundred bytes; 1 MB is generous
FREE_FAILURES = 5  # failed logins before any delay: room for typos
MAX_DELAY = 15 * 60  # seconds; the delay doubles up to this
FORGET_AFTER = 24 * 3600  # a key's failures are forgotten this long after its last one
MAX_KEYS = 10_000  # remembered accounts and addresses; the oldest go first


def guard_app(datasette: Datasette, app: ASGIApp) -> ASGIApp:
    async def guarded(scope: MutableMapping[str, Any], receive: Callable[[], Awaitable[dict]],
                      send: Callable[[dict], Awaitable[None]]) -> None:
        if scope["type"] != "http" or workspace(datasette) is None:
            return await app(scope, receive, send)
        headers = scope.get("headers") or []
        length = _header(headers, b"content-length")
        if length is not None and (not digits(length) or int(length) > MAX_BODY):
            return await too_large(send)
        if length is None and _header(headers, b"transfer-encoding") is not None:
            body = await read_body(receive)
            if body is None:
                return await too_large(send)
            receive = replay(body, receive)
        if any(name == b"cookie" and COOKIE.encode() in value for name, value in headers):
            scope = dict(scope, headers=_live_session_only(datasette, headers))
        await app(scope, receive, send)

    return guarded


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1").strip()
    return None


async def too_large(send: Callable[[dict], Awaitable[None]]) -> None:
    body = f"Request body too large: the limit is {MAX_BODY // 1024} kB.\n".encode()
    # Connection: close, so the server stops reading whatever the client still sends.
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


async def read_body(receive: Callable[[], Awaitable[dict]]) -> bytes | None:
    """The whole body, or None as soon as it passes MAX_BODY."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def replay(body: bytes, receive: Callable[[], Awaitable[dict]]) -> Callable[[], Awaitable[dict]]:
    """A receive that gives the app ``body``, already read, as one message."""
    sent = False

    async def replayed() -> dict:
        nonlocal sent
        if sent:
            return await receive()  # a disconnect, when it comes
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


def _live_session_only(datasette: Datasette,
                       headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The headers, with any ds_actor cookie that is not a live session taken out."""
    kept = []
    for name, value in headers:
        if name.lower() == b"cookie":
            crumbs = [crumb for crumb in value.decode("latin-1").split(";")
                      if not _dead_session(datasette, crumb)]
            if not crumbs:
                continue
            value = ";".join(crumbs).encode("latin-1")
        kept.append((name, value))
    return kept


def _dead_session(datasette: Datasette, crumb: str) -> bool:
    name, _, value = crumb.strip().partition("=")
    return name == COOKIE and read_session(datasette, value.strip('"')) is None


class Throttle:
    """Failed logins by key ("account:NAME", "address:IP"), and how long each key must wait."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        # key -> (failures, time of the last failure, time before which the key must wait)
        self._keys: OrderedDict[str, tuple[int, float, float]] = OrderedDict()

    def wait(self, *keys: str) -> float:
        """Seconds before an attempt for all of ``keys`` may be checked (0: now)."""
        now = self.clock()
        return max([0.0, *(self._state(key, now)[2] - now for key in keys)])

    def failed(self, *keys: str) -> None:
        now = self.clock()
        for key in keys:
            failures = self._state(key, now)[0] + 1
            delay = 0 if failures <= FREE_FAILURES else min(2 ** (failures - FREE_FAILURES),
                                                           MAX_DELAY)
            self._keys[key] = (failures, now, now + delay)
            self._keys.move_to_end(key)
        while len(self._keys) > MAX_KEYS:
            self._keys.popitem(last=False)

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._keys.pop(key, None)

    def _state(self, key: str, now: float) -> tuple[int, float, float]:
        state = self._keys.get(key)
        if state is None or now - state[1] > FORGET_AFTER:
            return (0, now, now)
        return state


_throttles: WeakKeyDictionary[Datasette, Throttle] = WeakKeyDictionary()


def throttle(datasette: Datasette) -> Throttle:
    """The login throttle of this server (in memory: a restart forgets it)."""
    if datasette not in _throttles:
        _throttles[datasette] = Throttle()
    return _throttles[datasette]
