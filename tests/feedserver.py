"""A real HTTP server on 127.0.0.1 for tests: recorded feeds, conditional GET and network faults.

Use it through the ``feed_server`` fixture (tests/conftest.py)::

    feed_server.serve("/feed.atom", b"<feed ...>", headers={"ETag": '"v1"'})
    feed_server.serve_file("/org.atom", "govuk-org.atom")      # a file from tests/feeds/
    feed_server.url("/feeds/govuk-org.atom")                   # unregistered /feeds/NAME: that file
    feed_server.redirect("/old", "/new", status=301)
    feed_server.fault("/slow", "hang")                         # see FAULTS
    feed_server.requests                                       # [Request(method, path, headers, client_port)]

Every response is real HTTP/1.1 over a socket (keep-alive included), so the code under test runs
exactly as it does against a publisher. Faults never hold a test up after it ends: handlers that
wait or stream forever stop as soon as the server is closed.
"""

from __future__ import annotations

import email.utils
import gzip
import mimetypes
import socket
import struct
import threading
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

FEEDS = Path(__file__).resolve().parent / "feeds"

# hang: read the request, never answer.  endless: a 200 whose body never ends.
# gzip-bomb: a small gzip body inflating to `size` bytes (default 200 MB of zeros).
# reset: drop the connection with a TCP RST.  trickle: send `body` one chunk per `interval` s.
FAULTS = ("hang", "endless", "gzip-bomb", "reset", "trickle")

CONTENT_TYPES = {
    ".atom": "application/atom+xml; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".rdf": "application/rdf+xml",
    ".xml": "application/xml",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
}


@dataclass
class Request:
    method: str
    path: str  # with the query string
    headers: dict[str, str]  # keys lower-case
    client_port: int = 0  # the same port on two requests: one kept-alive connection


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    fault: str | None = None
    options: dict = field(default_factory=dict)
    delay: float = 0.0
    gzip: bool = False


class FeedServer:
    def __init__(self):
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self.closing = threading.Event()
        handler = type("Handler", (_Handler,), {"feed_server": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True,
                                        name=f"feed-server-{self.port}")
        self._thread.start()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def serve(self, path: str, body: bytes | str = b"", status: int = 200, headers=None,
              content_type: str | None = None, *, delay: float = 0.0, gzip: bool = False) -> str:
        """Answer GET ``path`` with this response; returns its URL.

        With an ``ETag`` or ``Last-Modified`` in ``headers``, a matching If-None-Match or
        If-Modified-Since gets 304. ``delay`` waits before answering (latency); ``gzip``
        compresses the body with Content-Encoding: gzip.
        """
        if isinstance(body, str):
            body = body.encode("utf-8")
        headers = dict(headers or {})
        headers.setdefault("Content-Type", content_type or _guess_type(path))
        self.routes[path] = Route(status, body, headers, delay=delay, gzip=gzip)
        return self.url(path)

    def serve_file(self, path: str, name: str, **options) -> str:
        """Serve ``tests/feeds/NAME`` at ``path`` (content type from its extension)."""
        options.setdefault("content_type", _guess_type(name))
        return self.serve(path, (FEEDS / name).read_bytes(), **options)

    def redirect(self, path: str, to: str, status: int = 302) -> str:
        """``to`` may be a path on this server or an absolute URL."""
        return self.serve(path, b"", status, {"Location": to})

    def fault(self, path: str, mode: str, **options) -> str:
        """Misbehave at ``path``; ``mode`` is one of FAULTS (options: size, body, interval)."""
        if mode not in FAULTS:
            raise ValueError(f"unknown fault {mode!r}; one of {FAULTS}")
        self.routes[path] = Route(fault=mode, options=options)
        return self.url(path)

    def requests_to(self, path: str) -> list[Request]:
        return [r for r in self.requests if urlsplit(r.path).path == path or r.path == path]

    def close(self):
        self.closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)


def _guess_type(path: str) -> str:
    suffix = Path(urlsplit(path).path).suffix.lower()
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type("x" + suffix)[0] or "application/octet-stream"


@lru_cache(maxsize=4)
def gzip_bomb(size: int) -> bytes:
    """``size`` zero bytes gzipped: about 1/1000 of the size on the wire."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip container
    chunk = bytes(1024 * 1024)
    parts = [compressor.compress(chunk) for _ in range(size // len(chunk))]
    parts.append(compressor.compress(bytes(size % len(chunk))))
    parts.append(compressor.flush())
    return b"".join(parts)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as publishers' servers do
    feed_server: FeedServer

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        server = self.feed_server
        server.requests.append(
            Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                    self.client_address[1])
        )
        route = server.routes.get(self.path) or server.routes.get(urlsplit(self.path).path)
        if route is None:
            route = self._file_route()
        if route is None:
            return self._send(404, b"not found", {"Content-Type": "text/plain"})
        if route.delay and server.closing.wait(route.delay):
            return
        if route.fault:
            return getattr(self, "_fault_" + route.fault.replace("-", "_"))(**route.options)
        if self._not_modified(route):
            headers = {k: v for k, v in route.headers.items() if k.lower() in ("etag", "last-modified")}
            return self._send(304, b"", headers)
        body, headers = route.body, dict(route.headers)
        if route.gzip:
            body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
        self._send(route.status, body, headers)

    def _file_route(self) -> Route | None:
        path = urlsplit(self.path).path
        if not path.startswith("/feeds/"):
            return None
        file = FEEDS / path.removeprefix("/feeds/")
        if file.parent != FEEDS or not file.is_file():
            return None
        return Route(body=file.read_bytes(), headers={"Content-Type": _guess_type(path)})

    def _not_modified(self, route: Route) -> bool:
        headers = {k.lower(): v for k, v in route.headers.items()}
        if "etag" in headers and "If-None-Match" in self.headers:
            tags = [t.strip() for t in self.headers["If-None-Match"].split(",")]
            return headers["etag"] in tags or "*" in tags
        if "last-modified" in headers and "If-Modified-Since" in self.headers:
            try:
                since = email.utils.parsedate_to_datetime(self.headers["If-Modified-Since"])
                modified = email.utils.parsedate_to_datetime(headers["last-modified"])
            except (TypeError, ValueError):
                return False
            return modified <= since
        return False

    def _send(self, status: int, body: bytes, headers: dict[str, str]):
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304:
            self.wfile.write(body)

    def _fault_hang(self):
        self.feed_server.closing.wait(120)
        self.close_connection = True

    def _fault_endless(self, chunk: bytes = b"<item><title>again</title></item>\n" * 100):
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Connection", "close")  # no length: the body ends when we hang up
        self.end_headers()
        self.wfile.write(b"<?xml version='1.0'?><rss><channel>")
        self.close_connection = True
        while not self.feed_server.closing.is_set():
            try:
                self.wfile.write(chunk)
            except OSError:  # the client gave up, as it should
                return

    def _fault_gzip_bomb(self, size: int = 200 * 1024 * 1024):
        body = gzip_bomb(size)
        self.close_connection = True
        try:
            self._send(200, body, {"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"})
        except OSError:
            pass

    def _fault_reset(self):
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def _fault_trickle(self, body: bytes = b"<rss>" + b" " * 1000 + b"</rss>", interval: float = 0.5,
                       chunk: int = 10):
        self.close_connection = True
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for start in range(0, len(body), chunk):
                self.wfile.write(body[start:start + chunk])
                self.wfile.flush()
                if self.feed_server.closing.wait(interval):
                    return
        except OSError:
            pass

    def finish(self):
        try:
            super().finish()
        except OSError:  # the socket was reset on purpose or by the client
            pass

    def handle(self):
        try:
            super().handle()
        except OSError:
            pass
