"""tracker: a publication tracker and research digest for a children's-services newsletter.

The pipeline runs one way, a sub-package a stage, each importing only the ones before it:
store <- judgement <- ingest <- publish <- web <- ops <- cli, over the shared records in
``entries``, ``text`` and ``dates``, with files found by ``paths``.
"""

__version__ = "0.1.0"


class TrackerError(Exception):
    """An error the user can cause and fix: the CLI prints it on one line and exits 2."""
