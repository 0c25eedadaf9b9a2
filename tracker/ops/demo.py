"""The offline demo: the bundled sample feeds, served on loopback, through the whole pipeline.

A newcomer without internet runs `make run` and sees a populated workspace; the samples are
served over real HTTP (with Last-Modified, so conditional GET works too) rather than read from
disk, so the demo exercises exactly the code that polls the real publishers.
"""

from __future__ import annotations

import logging
import secrets
import threading
from contextlib import closing
from dataclasses import replace
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tracker import TrackerError
from tracker.ingest.config import Config, load_config
from tracker.ingest.poll import PollSummary, ProgressCallback, poll_sources
from tracker.paths import data_file
from tracker.store import PollRunning, open_database

log = logging.getLogger(__name__)

SAMPLE_HOST = "127.0.0.1"
SAMPLE_PORT = 8765  # sources.sample.yaml points here
SAMPLE_SOURCES = "sources.sample.yaml"
SAMPLES = "samples"
DEMO_DB = "db/demo.db"
DEMO_EDITOR = "editor"


class _SampleHandler(SimpleHTTPRequestHandler):
    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".atom": "application/atom+xml; charset=utf-8",
        ".rss": "application/rss+xml; charset=utf-8",
        ".xml": "application/xml; charset=utf-8",
        ".json": "application/json",
        ".html": "text/html; charset=utf-8",
    }

    def log_message(self, format: str, *args: object) -> None:  # the demo's output is the summary
        pass


def start_sample_server(root: Path, port: int = SAMPLE_PORT) -> ThreadingHTTPServer:
    """Serve ``root`` on 127.0.0.1:``port`` from a daemon thread; call .shutdown() to stop."""
    handler = partial(_SampleHandler, directory=str(root))
    try:
        server = ThreadingHTTPServer((SAMPLE_HOST, port), handler)
    except OSError as ex:
        raise TrackerError(f"cannot serve the sample feeds on {SAMPLE_HOST}:{port}: {ex.strerror}") from None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="samples", daemon=True).start()
    log.debug("serving %s on %s:%d", root, SAMPLE_HOST, port)
    return server


def poll_samples(db_path: str | Path = DEMO_DB, *, sample_port: int = SAMPLE_PORT,
                 on_progress: ProgressCallback | None = None) -> PollSummary:
    """Serve the sample feeds on 127.0.0.1:``sample_port`` while the real pipeline polls them
    into ``db_path``."""
    config = _on_port(load_config(data_file(SAMPLE_SOURCES)), sample_port)
    # Serving first: a busy port is reported before any database is created.
    server = start_sample_server(data_file(SAMPLES), sample_port)
    db_path = Path(db_path)
    try:
        with closing(open_database(db_path)) as db:
            return poll_sources(db, config, config.select(), db_path=db_path,
                                on_progress=on_progress)
    except PollRunning as ex:
        raise TrackerError(f"{ex}: wait for it to finish, or use another --db") from None
    finally:
        server.shutdown()
        server.server_close()


def demo_editor(db_path: str | Path) -> tuple[str, str]:
    """The demo's editor account for ``db_path``: its name and a password made for this run, so
    that the account is not a known default that outlives the demo if someone serves that
    database later."""
    from tracker.web.editors import editor_add  # tracker.web loads Datasette: not for --no-serve

    password = secrets.token_urlsafe(9)
    editor_add(db_path, DEMO_EDITOR, password)
    return DEMO_EDITOR, password


def _on_port(config: Config, port: int) -> Config:
    """sources.sample.yaml names SAMPLE_PORT; another port (two demos, or tests running side by
    side) gets the same sources at its own address."""
    old, new = f"http://{SAMPLE_HOST}:{SAMPLE_PORT}/", f"http://{SAMPLE_HOST}:{port}/"
    sources = tuple(replace(s, url=s.url.replace(old, new, 1)) for s in config.sources)
    return replace(config, sources=sources)
