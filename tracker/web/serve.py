"""`tracker serve`: Datasette on the database plus the polling scheduler, in one process.

The scheduler is one worker thread: polls run there (each opens its own event loop inside
poll_sources), so uvicorn's loop keeps answering editors while feeds download. uvicorn owns
SIGTERM and Ctrl-C; when it returns, the scheduler is told to stop and joined.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

import yaml

from tracker import TrackerError
from tracker.paths import data_file

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8001
MIN_WAIT = 30  # seconds between scheduler wake-ups, at least
JITTER = 0.1


def load_metadata(db_path: str | Path, *, private: bool = False) -> dict:
    """metadata.yml with its `tracker` database block renamed to the served file's stem."""
    path = data_file("metadata.yml")
    try:
        metadata = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as ex:
        raise TrackerError(f"{path}: not valid YAML ({ex})") from None
    stem = Path(db_path).stem
    databases = metadata.get("databases") or {}
    if "tracker" in databases and stem != "tracker":
        databases[stem] = databases.pop("tracker")
    if private:
        metadata.setdefault("plugins", {}).setdefault("tracker", {})["private"] = True
    return metadata


def load_theme_rows() -> list[dict]:
    """Theme slugs and labels from themes.yaml (the classifier's file)."""
    path = data_file("themes.yaml")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as ex:
        raise TrackerError(f"{path}: not valid YAML ({ex})") from None
    themes = data.get("themes") if isinstance(data, dict) else None
    if not isinstance(themes, dict) or not themes:
        raise TrackerError(f"{path}: expected a 'themes' mapping of slug to theme")
    return [
        {
            "slug": str(slug),
            "label": str((spec or {}).get("label") or slug),
            "description": " ".join(str((spec or {}).get("description") or "").split()),
            "network": (spec or {}).get("network"),
        }
        for slug, spec in themes.items()
    ]


def sync_themes(db) -> int:
    """Make the themes table match themes.yaml, so add_theme refuses any other slug."""
    from tracker.store import write_transaction

    rows = load_theme_rows()
    with write_transaction(db):
        db.execute("delete from themes where slug not in (select value from json_each(?))",
                   [json.dumps([row["slug"] for row in rows])])
        db["themes"].upsert_all(rows, pk="slug", alter=True)
    return len(rows)


def make_datasette(db_path: str | Path, *, private: bool = False, secret: str | None = None):
    """A Datasette instance for the workspace; tests use it through ``.client``."""
    from datasette.app import Datasette

    return Datasette(
        [str(db_path)],
        metadata=load_metadata(db_path, private=private),
        secret=secret or os.environ.get("DATASETTE_SECRET") or None,
        settings={"sql_time_limit_ms": 3000, "facet_time_limit_ms": 500, "suggest_facets": False},
    )


def serve(
    db_path: str | Path,
    sources_path: str | Path | None = None,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    poll: bool = True,
    private: bool = False,
    ready=None,
) -> None:
    """Serve until SIGTERM or Ctrl-C. ``ready(url)`` is called once the server listens."""
    import uvicorn

    from tracker.store import open_database

    db_path = Path(db_path)
    db = open_database(db_path, must_exist=True)
    sync_themes(db)
    config = None
    if poll:
        from tracker.ingest.config import load_config

        config = load_config(sources_path)
    db.close()
    if not os.environ.get("DATASETTE_SECRET"):
        print("warning: DATASETTE_SECRET is not set: editors are logged out at every restart",
              file=sys.stderr)
    private = private or os.environ.get("TRACKER_PRIVATE", "") in ("1", "true")
    datasette = make_datasette(db_path, private=private)
    server = _make_server(uvicorn.Config(datasette.app(), host=host, port=port,
                                         log_level="warning"), ready)
    scheduler = Scheduler(db_path, config) if config else None
    # uvicorn catches SIGTERM and Ctrl-C, shuts down, then re-raises the signal: ours turns it
    # into a normal return, so the scheduler is stopped and the exit status is 0.
    previous = {sig: signal.signal(sig, _raise_stopped) for sig in (signal.SIGINT, signal.SIGTERM)}
    if scheduler:
        scheduler.start()
    try:
        server.run()
        if not server.started:
            raise TrackerError(f"could not listen on {host}:{port}")
    except _Stopped:
        pass
    except SystemExit:  # uvicorn exits when it cannot bind
        raise TrackerError(f"could not listen on {host}:{port} (is the port in use?)") from None
    finally:
        if scheduler:
            scheduler.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _Stopped(Exception):
    pass


def _raise_stopped(signum, frame):
    raise _Stopped()


def _make_server(config, ready=None):
    """A uvicorn server that says where it listens (the real port, when asked for port 0)."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets=None):
            await super().startup(sockets=sockets)
            if self.started:
                port = self.servers[0].sockets[0].getsockname()[1]
                url = f"http://{config.host}:{port}/"
                print(f"Serving the workspace at {url} (Ctrl-C to stop)", file=sys.stderr,
                      flush=True)
                if ready:
                    ready(url)

    return Server(config)


class Scheduler(threading.Thread):
    """Polls due sources, then sleeps until the next one is due (with jitter), until stopped.

    Each pass calls poll_sources(due_only=True): the per-source schedule, backoff and
    Retry-After live in the sources table, and poll_lock keeps a cron poll and ours apart.
    """

    def __init__(self, db_path: Path, config):
        super().__init__(name="scheduler", daemon=True)
        self.db_path, self.config = db_path, config
        self._stopping = threading.Event()

    def stop(self, timeout: float = 10) -> None:
        self._stopping.set()
        self.join(timeout)

    def run(self) -> None:
        from tracker.store import open_database

        db = open_database(self.db_path)
        try:
            while not self._stopping.is_set():
                self.run_once(db)
                self._stopping.wait(self.seconds_to_next(db))
        finally:
            db.close()

    def run_once(self, db) -> None:
        from tracker.ingest.poll import poll_sources
        from tracker.store import PollRunning

        try:
            summary = poll_sources(db, self.config, self.config.select(), db_path=self.db_path,
                                   due_only=True)
        except PollRunning as ex:
            _log(f"poll skipped: {ex}")
            return
        except Exception as ex:  # the server must outlive a bad poll; the next one retries
            _log(f"poll failed: {type(ex).__name__}: {ex}")
            return
        if summary.outcomes:
            _log(f"polled {len(summary.outcomes)} sources: {len(summary.new_ids)} new, "
                 f"{len(summary.failed)} failed")
        self.save_digest(db)

    def save_digest(self, db) -> None:
        """Regenerate the coming issue's list (its London date: the issue day starts at
        midnight in London, an hour before UTC's in summer)."""
        from tracker.publish import digest
        from tracker.dates import LONDON

        try:
            week = digest.next_issue_date(datetime.now(LONDON).date(), self.config.settings.issue_day)
            # With the polling settings, the list's documents (PDF page counts) are looked up
            # here in the worker thread, never during a page view.
            digest.save_digest(db, week, documents=self.config.settings)
        except Exception as ex:
            _log(f"digest not saved: {type(ex).__name__}: {ex}")

    def seconds_to_next(self, db) -> float:
        ids = [source.id for source in self.config.select()]
        interval = self.config.settings.interval
        if not ids:
            return interval
        row = db.execute(
            "select min(next_poll) from sources where id in (select value from json_each(?))",
            [json.dumps(ids)],
        ).fetchone()
        wait = float(interval)
        if row and row[0]:
            due = datetime.fromisoformat(row[0].replace("Z", "+00:00"))
            wait = (due - datetime.now(timezone.utc)).total_seconds()
        wait = min(max(wait, MIN_WAIT), interval)
        return wait * (1 + random.uniform(0, JITTER))


def _log(message: str) -> None:
    stamp = datetime.now(timezone.utc).strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", file=sys.stderr, flush=True)

