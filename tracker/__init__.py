"""tracker: a publication tracker and research digest for a children's-services newsletter.

The pipeline runs one way, one module a stage:
config -> fetch -> parse -> normalise -> store -> classify, then digest and web read the store.
"""

import os
from pathlib import Path

__version__ = "0.1.0"


class TrackerError(Exception):
    """An error the user can cause and fix: the CLI prints it on one line and exits 2."""


def project_file(name: str) -> Path:
    """Locate a project file (themes.yaml, metadata.yml, ...) without relying on the cwd.

    ``TRACKER_HOME`` wins, so that an operator can keep edited copies elsewhere; otherwise the
    file next to the package, where an editable install or a checkout keeps it.
    """
    home = os.environ.get("TRACKER_HOME")
    root = Path(home) if home else Path(__file__).resolve().parent.parent
    path = root / name
    if not path.exists():
        raise TrackerError(f"{name} not found in {root} (set TRACKER_HOME to the project folder)")
    return path
