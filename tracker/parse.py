"""Parse fetched bytes into raw entries: RSS/Atom/RDF, GOV.UK Search API JSON, listing pages.

Parsers take bytes, never a URL to fetch: fetching is fetch.py's job and its limits apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
import time


class ParseError(Exception):
    """The body is not what the source should serve; the message is shown to editors as is."""


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
