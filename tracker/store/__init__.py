"""The SQLite store: the only part of tracker that writes to the database.

Rules the CONTRACT fixes, enforced here and nowhere else:
- one row per publication, keyed on its URL, or on its folded title when another publisher
  announces the same report (``publications``);
- a later poll never changes ``status``, editor-set ``themes`` or ``published`` of a row, except
  that a *different* source announcing an earlier date lowers ``published`` (earliest wins);
- each source's fetch, entries and health are written in one short transaction, so a killed
  poll leaves every source either fully stored or untouched (``sources``).

Modules: ``schema`` (migrations, in order), ``database`` (opening, transactions, the poll
lock), ``publications``, ``sources``, ``digests``; each stage above the store may add a module of
its own writes. Everything a caller needs is importable from ``tracker.store``.
"""

from .database import DatabaseUnavailable, NotATrackerDatabase, PollRunning, open_database, poll_lock, write_transaction
from .digests import (
    Document,
    IssueNotSent,
    IssueSent,
    list_issues,
    reopen_issue,
    replace_digest,
    save_documents,
    sent_weeks,
)
from .edits import (
    MANUAL_SOURCE,
    Added,
    EditRefused,
    LineEdit,
    ManualPublication,
    add_manual,
    edit_line,
    ignore_update,
    line_verbs,
    list_update,
    set_status,
)
from .publications import PastEntry, StoreResult, announcement_changes, store_past_entries
from .schema import LINE_LIMITS, MIGRATION_SET, STATUSES, migrations
from .sources import FetchRecord, postpone, prune_fetch_log, save_fetch, save_fetches, source_states, sync_sources

__all__ = [
    "LINE_LIMITS", "MANUAL_SOURCE", "Added", "EditRefused", "IssueNotSent", "IssueSent", "reopen_issue",
    "LineEdit", "ManualPublication",
    "add_manual", "edit_line", "ignore_update", "line_verbs", "list_issues", "list_update", "sent_weeks", "set_status",
    "MIGRATION_SET", "STATUSES", "DatabaseUnavailable", "Document", "FetchRecord", "NotATrackerDatabase", "PastEntry",
    "PollRunning", "StoreResult", "announcement_changes", "migrations", "open_database",
    "poll_lock", "prune_fetch_log", "replace_digest", "save_documents", "save_fetch", "save_fetches",
    "source_states", "store_past_entries", "sync_sources", "write_transaction", "postpone",
]
