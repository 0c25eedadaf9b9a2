"""How Datasette's publications table and the canned queries' results read at 1280 px: the title
links to the publication, the URL shows compact (its host and the end of its path, the whole
address in the tooltip), so the title is what the eye meets first; long summaries and the
classifier's why are clipped to three lines, whole in their tooltip; the themes read as a list of
slugs, not as the JSON they are stored in; a stored UTC stamp reads as London time in words, the
stamp in its tooltip. http(s) links only: never javascript:.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any
from urllib.parse import urlsplit

from markupsafe import Markup, escape

from tracker.judgement.themes import theme_list
from tracker.text import is_http_url

from .wording import london_time

TAIL = 24  # a path this short is shown whole
KEY_TAIL = 16
CLIPPED = ("summary", "why")  # long text, clipped to three lines by tracker.css
CLIP_AT = 160
# The stamps the store writes ("2026-12-01T03:20:20Z"): first_seen, reviewed_at, last_success, ...
STAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]00:00)")


def table_cell(row: sqlite3.Row, value: Any, column: str, table: str | None) -> Markup | None:
    """A publications row's title as a link, and the URL columns compact (in the publications
    table and in the canned queries' results, whose ``table`` is None); stamps in words in every
    table of the workspace."""
    if table == "publications" and column == "title" and "url" in row.keys() and is_http_url(row["url"]):
        return Markup(f'<a href="{escape(row["url"])}" rel="noopener noreferrer">{escape(value)}</a>')
    if isinstance(value, str) and STAMP.fullmatch(value):
        return Markup(f'<time datetime="{escape(value)}" title="{escape(value)}">{escape(london_time(value))}</time>')
    if table not in ("publications", None) or not isinstance(value, str):
        return None
    if column == "url" and is_http_url(value):
        return Markup(f'<a class="compact-url" href="{escape(value)}" title="{escape(value)}" '
                      f'rel="noopener noreferrer">{escape(compact_url(value))}</a>')
    if column == "url_key" and len(value) > KEY_TAIL:  # the URL folded for matching: rarely read
        return Markup(f'<span class="compact-url" title="{escape(value)}">…{escape(value[-KEY_TAIL:])}</span>')
    if column == "themes" and ((slugs := theme_list(value)) or value.strip() == "[]"):  # CSV, JSON: the array
        # None as Datasette shows an empty value: an empty string would read as no answer at all.
        return Markup(escape(", ".join(slugs)) or "&nbsp;")
    if column in CLIPPED and len(value) > CLIP_AT:  # three lines; the whole text in the tooltip
        return Markup(f'<div class="clip" title="{escape(value)}">{escape(value)}</div>')
    return None


def compact_url(url: str) -> str:
    """"gov.uk/…/kinship-care-guidance": the host without www and the path's last segment."""
    parts = urlsplit(url)
    host = parts.netloc.removeprefix("www.")
    path = parts.path.rstrip("/")
    if len(path) <= TAIL:
        return host + path
    return f"{host}/…/{path.rsplit('/', 1)[-1]}"
