"""What a source announced, as the parser found it (RawEntry) and as the store keeps it (Entry)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from .text import title_key


@dataclass(frozen=True)
class RawEntry:
    title: str
    link: str
    summary: str | None = None
    published: str | datetime | time.struct_time | None = None
    updated: str | datetime | time.struct_time | None = None
    entry_id: str | None = None
    category: str | None = None  # GOV.UK display type, e.g. "Research and analysis"
    date_source: str = "feed"  # "feed" or "page": where ``published`` came from
    change_note: str | None = None  # what the publisher says changed at ``updated`` (GOV.UK)


@dataclass(frozen=True)
class Entry:
    """One publication as a source announced it, ready to store."""

    url: str  # clean absolute URL, as announced (tracking parameters and fragment removed)
    url_key: str  # identity: scheme, www. and trailing slash folded
    title: str
    summary: str
    published: str | None  # YYYY-MM-DD, Europe/London
    date_source: str  # "feed", "page" or "first_seen"
    updated: str | None = None  # upstream last-update timestamp, ISO 8601 UTC
    entry_id: str | None = None
    document_type: str | None = None
    change_note: str | None = None

    @property
    def title_key(self) -> str:
        return title_key(self.title)
