"""Background retraining for `tracker serve`: after every N editors' decisions (settings'
``retrain_after``, default 20) the model is fitted again, so the next poll and the not-sure view
already follow the editors.

Training runs as `tracker train --background` in a process of its own: scikit-learn's fitting
would otherwise hold the interpreter the web server answers editors from, and a crash or a
memory spike in it cannot take the server down. One at a time; stopping the server ends it.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from pathlib import Path

from tracker.store import open_database
from tracker.store.judgements import decisions_since, newest_model_time

CHECK_SECONDS = 60.0  # how often the decisions are counted: a count is one indexed query
DEFAULT_EVERY = 20

log = logging.getLogger(__name__)


class Retrainer(threading.Thread):
    """Counts the editors' decisions since the newest model every ``check`` seconds and, once
    there are ``every`` of them, runs `tracker train --background` on the database."""

    def __init__(self, db_path: Path, every: int = DEFAULT_EVERY, check: float = CHECK_SECONDS):
        super().__init__(name="retrainer", daemon=True)
        self.db_path, self.every, self.check = Path(db_path), every, check
        self._stopping = threading.Event()
        self._failed_at: int | None = None  # decisions counted when training last failed

    def stop(self, timeout: float = 10) -> None:
        self._stopping.set()
        self.join(timeout)

    def run(self) -> None:
        while not self._stopping.wait(self.check):
            try:
                self.run_once()
            except Exception:  # the server must outlive a failed retraining; the next check retries
                log.exception("retraining failed")

    def due(self) -> int:
        """Decisions since the newest model, or 0 when that is too few (or training failed
        and fewer than ``every`` more have been made since)."""
        db = open_database(self.db_path, must_exist=True)
        try:
            count = decisions_since(db, newest_model_time(db))
        finally:
            db.close()
        if count < self.every or (self._failed_at is not None and count < self._failed_at + self.every):
            return 0
        return count

    def run_once(self) -> bool:
        """Retrain if due; True when a new model was stored."""
        count = self.due()
        if not count:
            return False
        log.info("retraining after %d new decisions", count)
        process = subprocess.Popen(
            [sys.executable, "-m", "tracker", "train", "--db", str(self.db_path), "--background"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        while process.poll() is None:
            if self._stopping.wait(0.2):
                process.terminate()
                process.wait(10)
                return False
        error = process.communicate()[1].decode(errors="replace").strip()
        if process.returncode:
            self._failed_at = count
            log.warning("retraining failed: %s", error.splitlines()[-1] if error else process.returncode)
            return False
        self._failed_at = None
        log.info("retrained: a new model scores from now")
        return True
