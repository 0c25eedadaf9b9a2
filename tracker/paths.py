"""Where tracker finds its files, by one rule for all of them.

An explicit path (a command's option) wins; else the file of that name in ``TRACKER_HOME``, where
an operator keeps edited copies; else the default packaged with tracker, so that a plain
``pip install .`` works from any directory (cron runs commands from ``/``).

The two files that are the user's own rather than tracker's, the sources file and the database,
are not looked up here: the commands default them to ``sources.yaml`` and ``db/tracker.db`` in
the current directory, as cron jobs name them.
"""

from __future__ import annotations

import os
from pathlib import Path

from tracker import TrackerError

DATA = Path(__file__).resolve().parent / "data"


def data_file(name: str, explicit: str | Path | None = None) -> Path:
    """The path of ``name`` (themes.yaml, metadata.yml, samples, ...) by the rule above."""
    if explicit:
        path = Path(explicit)
        if not path.exists():
            raise TrackerError(f"{path} not found")
        return path
    home = os.environ.get("TRACKER_HOME")
    if home and (Path(home) / name).exists():
        return Path(home) / name
    path = DATA / name
    if not path.exists():
        raise TrackerError(f"{name} not found in {home or DATA} (set TRACKER_HOME to a folder holding it)")
    return path
