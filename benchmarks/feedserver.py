"""A loopback feed server that behaves like slow real publishers: every response, 304s
included, waits ``latency`` seconds, and each feed answers conditional GETs (ETag and
Last-Modified), so a second poll of unchanged feeds costs one round trip and no parsing.

The feeds are spread over ``hosts`` publishers' hosts, as real sources are: loopback addresses
127.0.0.1, 127.0.0.2, ... (Linux routes all of 127.0.0.0/8 to the loopback interface), one
server each on the same port, feed ``n`` on host ``n % hosts``. tracker's per-host politeness
limit therefore applies as it does in production, and the benchmark runs it with its defaults.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

TOPICS = [
    "Children's social care workforce", "Special educational needs provision",
    "Kinship care allowance", "Fostering recruitment and retention", "Adoption support fund",
    "Family court statistics", "Youth justice outcomes", "Early help services",
    "Safeguarding practice review", "Children in care placements", "School attendance",
    "Children's mental health services", "Local authority children's services spending",
    "Inspection of local authority children's services",
]


def atom_feed(feed: int, entries: int, base: str) -> bytes:
    """A GOV.UK-shaped Atom feed whose entries are unique across feeds (no title merges)."""
    start = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
    items = []
    for n in range(entries):
        when = (start - timedelta(hours=feed * 3 + n * 7)).isoformat()
        topic = TOPICS[(feed + n) % len(TOPICS)]
        title = f"{topic}: report {feed}-{n} on practice in England"
        summary = (f"<p>Guidance and data on {topic.lower()} for directors of children's "
                   f"services, published as part of series {feed} (item {n}).</p>")
        items.append(
            f"<entry><id>tag:bench,2026:{feed}/{n}</id><updated>{when}</updated>"
            f"<link rel=\"alternate\" type=\"text/html\" href=\"{base}/publications/{feed}/{n}\"/>"
            f"<title>{escape(title)}</title><summary type=\"html\">"
            f"{escape(summary)}</summary></entry>"
        )
    return (
        f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        f"<feed xmlns=\"http://www.w3.org/2005/Atom\"><id>tag:bench,2026:{feed}</id>"
        f"<title>Publisher {feed}</title><updated>{start.isoformat()}</updated>"
        f"<link rel=\"self\" href=\"{base}/feeds/{feed}.atom\"/>{''.join(items)}</feed>"
    ).encode()


class LatencyFeedServer:
    def __init__(self, feeds: int, entries: int, latency: float, hosts: int = 25):
        self.feeds, self.entries, self.latency = feeds, entries, latency
        self.requests = 0
        self.not_modified = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real publishers offer

            def do_GET(self):
                server._answer(self)

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.request_queue_size = 256  # every client connecting at once
        self.servers = self._bind(hosts, Handler)
        port = self.servers[0].server_address[1]
        for httpd in self.servers:
            httpd.daemon_threads = True
        self.bases = [f"http://127.0.0.{n}:{port}" for n in range(1, hosts + 1)]
        self.last_modified = format_datetime(datetime(2026, 11, 20, 9, tzinfo=timezone.utc), usegmt=True)
        self.bodies = {
            f"/feeds/{n}.atom": atom_feed(n, entries, self.base_of(n)) for n in range(feeds)
        }

    @staticmethod
    def _bind(hosts: int, handler) -> list[ThreadingHTTPServer]:
        """One server per host on one port: a free port on 127.0.0.1 may be taken on another
        loopback address (a wildcard listener), so try a few."""
        for _ in range(10):
            servers = [ThreadingHTTPServer(("127.0.0.1", 0), handler)]
            port = servers[0].server_address[1]
            try:
                for n in range(2, hosts + 1):
                    servers.append(ThreadingHTTPServer((f"127.0.0.{n}", port), handler))
                return servers
            except OSError:
                for httpd in servers:
                    httpd.server_close()
        raise OSError(f"no port free on all of 127.0.0.1 to 127.0.0.{hosts}")

    def base_of(self, feed: int) -> str:
        return self.bases[feed % len(self.bases)]

    def urls(self) -> list[str]:
        return [f"{self.base_of(n)}/feeds/{n}.atom" for n in range(self.feeds)]

    def _answer(self, request: BaseHTTPRequestHandler) -> None:
        time.sleep(self.latency)
        with self._lock:
            self.requests += 1
        body = self.bodies.get(request.path)
        if body is None:
            request.send_response(404)
            request.send_header("Content-Length", "0")
            request.end_headers()
            return
        etag = f'"{request.path.rsplit("/", 1)[-1]}-v1"'
        if request.headers.get("If-None-Match") == etag or (
            request.headers.get("If-Modified-Since") == self.last_modified
        ):
            with self._lock:
                self.not_modified += 1
            request.send_response(304)
            request.send_header("ETag", etag)
            request.end_headers()
            return
        request.send_response(200)
        request.send_header("Content-Type", "application/atom+xml; charset=utf-8")
        request.send_header("Content-Length", str(len(body)))
        request.send_header("ETag", etag)
        request.send_header("Last-Modified", self.last_modified)
        request.end_headers()
        request.wfile.write(body)

    def __enter__(self):
        for httpd in self.servers:
            threading.Thread(target=httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        for httpd in self.servers:
            httpd.shutdown()
            httpd.server_close()
