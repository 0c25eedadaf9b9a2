"""`tracker serve`: Datasette on the database plus the polling scheduler, in one process.

The scheduler is one worker thread: polls run there (each opens its own event loop inside
poll_sources), so uvicorn's loop keeps answering editors while feeds download. uvicorn owns
SIGTERM and Ctrl-C; when it returns, the scheduler is told to stop and joined. Besides tracker's
own messages, the log has one line per request (uvicorn's access log).
"""

from __future__ import annotations

import logging
import os
import random
import signal
import threading
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Callable

import yaml

from tracker import TrackerError
from tracker.judgement.themes import load_theme_set
from tracker.paths import data_file

from .retrain import DEFAULT_EVERY, Retrainer

if TYPE_CHECKING:
    import uvicorn
    from datasette.app import Datasette
    from sqlite_utils import Database

    from tracker.ingest.config import Config

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8001
MIN_WAIT = 30  # seconds between scheduler wake-ups, at least
JITTER = 0.1

log = logging.getLogger(__name__)


def load_metadata(db_path: str | Path, *, private: bool = False,
                  session_hours: float | None = None, issue_day: str | None = None) -> dict:
    """metadata.yml, its workspace plugin configured for the served file (named by its stem)."""
    path = data_file("metadata.yml")
    try:
        metadata = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as ex:
        raise TrackerError(f"{path}: not valid YAML ({ex})") from None
    if not isinstance(metadata, dict):
        raise TrackerError(f"{path}: expected a mapping of Datasette metadata")
    plugins = metadata.setdefault("plugins", {})
    config = plugins["tracker"] = dict(plugins.get("tracker") or {})
    config["database"] = Path(db_path).stem
    if private:
        config["private"] = True
    if session_hours is not None:
        config["session_hours"] = session_hours
    if issue_day is not None:
        config["issue_day"] = issue_day
    return metadata


def load_theme_rows() -> list[dict]:
    """The themes table's rows: each theme's slug, label, description and network, from
    themes.yaml as the classifier reads (and validates) it."""
    return [{"slug": t.slug, "label": t.label, "description": t.description, "network": t.network}
            for t in load_theme_set().themes]


def sync_themes(db: Database) -> int:
    """Make the themes table match themes.yaml, so add_theme refuses any other slug."""
    from tracker.store.web import replace_themes

    return replace_themes(db, load_theme_rows())


def make_datasette(db_path: str | Path, *, private: bool = False, secret: str | None = None,
                   base_url: str = "/", session_hours: float | None = None,
                   issue_day: str | None = None) -> Datasette:
    """A Datasette instance for the workspace; tests use it through ``.client``.

    ``base_url`` ("/tracker/") is the path a proxy in front serves it under; ``session_hours``
    how long a login lasts (None: the workspace's default, 12); ``issue_day`` the weekday the
    newsletter goes out (None: Friday)."""
    from datasette.app import Datasette

    return Datasette(
        [str(db_path)],
        metadata=load_metadata(db_path, private=private, session_hours=session_hours,
                               issue_day=issue_day),
        secret=secret or os.environ.get("DATASETTE_SECRET") or None,
        settings={"sql_time_limit_ms": 3000, "facet_time_limit_ms": 500, "suggest_facets": False,
                  "base_url": base_url},
    )


def serve(
    db_path: str | Path,
    sources_path: str | Path | None = None,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    private: bool = False,
    base_url: str = "/",
    session_hours: float | None = None,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve until SIGTERM or Ctrl-C, polling the sources of ``sources_path`` on their schedule
    (None: serve only). ``ready(url)`` is called once the server listens, with the workspace's
    address."""
    import uvicorn

    from tracker.store import open_database

    db_path = Path(db_path)
    db = open_database(db_path, must_exist=True)
    sync_themes(db)
    config = None
    if sources_path is not None:
        from tracker.ingest.config import load_config

        config = load_config(sources_path)
    db.close()
    if not os.environ.get("DATASETTE_SECRET"):
        log.warning("DATASETTE_SECRET is not set: editors are logged out at every restart")
    datasette = make_datasette(db_path, private=private, base_url=base_url,
                               session_hours=session_hours,
                               issue_day=config.settings.issue_day if config else None)
    # Whoever runs the server configures logging (the CLI does): uvicorn adds nothing but its
    # access log, one line per request whatever level tracker's own messages are shown at.
    logging.getLogger("uvicorn.access").setLevel(logging.INFO)
    server = _make_server(uvicorn.Config(datasette.app(), host=host, port=port, log_config=None,
                                         log_level=None), base_url, ready)
    scheduler = Scheduler(db_path, config) if config else None
    retrainer = Retrainer(db_path, config.settings.retrain_after if config else DEFAULT_EVERY)
    # uvicorn catches SIGTERM and Ctrl-C, shuts down, then re-raises the signal: ours turns it
    # into a normal return, so the scheduler is stopped and the exit status is 0.
    previous = {sig: signal.signal(sig, _raise_stopped) for sig in (signal.SIGINT, signal.SIGTERM)}
    if scheduler:
        scheduler.start()
    retrainer.start()
    try:
        server.run()
        if not server.started:
            raise TrackerError(f"could not listen on {host}:{port}")
    except _Stopped:
        pass
    except SystemExit:  # uvicorn exits when it cannot bind
        raise TrackerError(f"could not listen on {host}:{port} (is the port in use?)") from None
    finally:
        retrainer.stop()
        if scheduler:
            scheduler.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _Stopped(Exception):
    pass


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    raise _Stopped()


def _make_server(config: uvicorn.Config, base_url: str = "/",
                 ready: Callable[[str], None] | None = None) -> uvicorn.Server:
    """A uvicorn server that tells ``ready`` where it listens (the real port, when asked for 0)."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: list | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started and ready:
                port = self.servers[0].sockets[0].getsockname()[1]
                ready(f"http://{config.host}:{port}{base_url}")

    return Server(config)


class Scheduler(threading.Thread):
    """Polls due sources, then sleeps until the next one is due (with jitter), until stopped.

    Each pass calls poll_sources(due_only=True): the per-source schedule, backoff and
    Retry-After live in the sources table, and poll_lock keeps a cron poll and ours apart.
    """

    def __init__(self, db_path: Path, config: Config):
        super().__init__(name="scheduler", daemon=True)
        self.db_path, self.config = db_path, config
        self._stopping = threading.Event()
        self.follow_up = FollowUp(db_path, self.after_poll)

    def stop(self, timeout: float = 10) -> None:
        self._stopping.set()
        self.follow_up.stop(timeout)
        self.join(timeout)

    def run(self) -> None:
        from tracker.store import open_database

        self.follow_up.start()
        db = open_database(self.db_path)
        try:
            while not self._stopping.is_set():
                self.run_once(db)
                self._stopping.wait(self.seconds_to_next(db))
        finally:
            db.close()

    def run_once(self, db: Database) -> None:
        from tracker.ingest.poll import poll_sources
        from tracker.store import PollRunning

        try:
            summary = poll_sources(db, self.config, self.config.select(), db_path=self.db_path,
                                   due_only=True)
        except PollRunning as ex:
            log.info("poll skipped: %s", ex)
            return
        except Exception:  # the server must outlive a bad poll; the next one retries
            log.exception("poll failed")
            return
        if summary.outcomes:
            log.info("polled %d sources: %d new, %d failed", len(summary.outcomes),
                     len(summary.new_ids), len(summary.failed))
        self.follow_up.kick()

    def after_poll(self, db: Database) -> None:
        self.save_digest(db)
        self.notify(db)

    def save_digest(self, db: Database) -> None:
        """Regenerate the current issue's list: the coming issue day's, or the next one's once
        that was sent (its London date: the issue day starts at midnight in London, an hour
        before UTC's in summer)."""
        from tracker.dates import LONDON
        from tracker.publish import digest

        try:
            week = digest.current_issue(db, datetime.now(LONDON).date(), self.config.settings.issue_day)
            # With the polling settings, the list's documents (PDF page counts) are looked up
            # here in the worker thread, never during a page view.
            digest.save_digest(db, week, lookup_with=self.config.settings)
        except Exception:
            log.exception("digest not saved")

    def notify(self, db: Database) -> None:
        """Tell the editors what is due, after the poll in this worker thread: a slow mail server
        can delay the next poll, never a page. Failed deliveries are kept and retried."""
        if not self.config.settings.notify:
            return
        from tracker.publish.notify import notify

        try:
            result = notify(db, self.config.settings)
        except Exception:
            log.exception("notifications not sent")
            return
        if result.queued or result.sent or result.failed:
            log.info("notifications: %d due, %d sent, %d failed", len(result.queued), result.sent,
                     len(result.failed))

    def seconds_to_next(self, db: Database) -> float:
        from tracker.store import source_states

        states = source_states(db)
        interval = self.config.settings.interval
        due = [states[source.id]["next_poll"] for source in self.config.select()
               if (states.get(source.id) or {}).get("next_poll")]
        wait = float(interval)
        if due:
            soonest = datetime.fromisoformat(min(due))
            wait = (soonest - datetime.now(timezone.utc)).total_seconds()
        wait = min(max(wait, MIN_WAIT), interval)
        return wait * (1 + random.uniform(0, JITTER))


class FollowUp(threading.Thread):
    """What follows a poll, in a thread of its own: the current issue's list, with its document
    look-ups (a publisher's stalling PDF host), and the notifications (a slow mail server). So
    neither delays the next poll; kicks that arrive while it works make one more run, not many."""

    def __init__(self, db_path: Path, work: Callable[[Database], None]):
        super().__init__(name="after-poll", daemon=True)
        self.db_path, self.work = db_path, work
        self._due, self._stopping = threading.Event(), threading.Event()

    def kick(self) -> None:
        self._due.set()

    def stop(self, timeout: float = 10) -> None:
        self._stopping.set()
        self._due.set()
        if self.is_alive():
            self.join(timeout)

    def run(self) -> None:
        from tracker.store import open_database

        db = open_database(self.db_path)
        try:
            while True:
                self._due.wait()
                if self._stopping.is_set():
                    return
                self._due.clear()
                self.work(db)
        finally:
            db.close()
