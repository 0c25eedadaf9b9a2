"""What a publication's own page says about it: title, date, publisher and summary, read from
the metadata publishers put there for search engines and reference managers.

Each reader takes the bytes as fetched. For a web page the most specific source wins, field by
field: ``citation_*`` (Highwire tags, on research pages), then JSON-LD (schema.org), then
OpenGraph, then the plain ``<title>`` and description. GOV.UK pages are read from the Content
API's JSON instead, and a PDF from its document information.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Iterator

from tracker.dates import london_date
from tracker.text import clean_text

# The part of a <title> after the last separator is usually the site: "Report | NSPCC Learning".
TITLE_SITE = re.compile(r"\s+[|\u2013\u2014-]\s+[^|\u2013\u2014-]{2,60}$")
SLASHED_DATE = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$")


@dataclass(frozen=True)
class PageMeta:
    title: str = ""
    published: date | None = None
    publisher: str = ""
    summary: str = ""
    document_type: str | None = None  # GOV.UK's display type, where known ("Statutory guidance")

    def over(self, fallback: PageMeta) -> PageMeta:
        """These values, each one missing taken from ``fallback``."""
        return PageMeta(
            title=self.title or fallback.title, published=self.published or fallback.published,
            publisher=self.publisher or fallback.publisher, summary=self.summary or fallback.summary,
            document_type=self.document_type or fallback.document_type,
        )


def read_html(body: bytes) -> PageMeta:
    """The page's own description of itself (see the module's docstring for the order)."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(body)
    meta: dict[str, str] = {}
    for node in tree.css("meta[content]"):
        key = (node.attributes.get("name") or node.attributes.get("property") or "").strip().lower()
        value = clean_text(node.attributes.get("content") or "")
        if key and value and key not in meta:
            meta[key] = value
    title_node = tree.css_first("title")
    plain = PageMeta(
        title=TITLE_SITE.sub("", clean_text(title_node.text())) if title_node else "",
        summary=meta.get("description", ""),
        publisher=meta.get("dc.publisher", ""),
        published=_day(meta.get("dc.date") or meta.get("date")),
    )
    opengraph = PageMeta(
        title=meta.get("og:title", ""), summary=meta.get("og:description", ""),
        publisher=meta.get("og:site_name", ""),
        published=_day(meta.get("article:published_time")),
    )
    citation = PageMeta(
        title=meta.get("citation_title", ""), summary=meta.get("citation_abstract", ""),
        publisher=meta.get("citation_publisher") or meta.get("citation_author_institution", ""),
        published=_day(meta.get("citation_publication_date") or meta.get("citation_date")
                       or meta.get("citation_online_date")),
    )
    linked = PageMeta()
    for script in tree.css('script[type="application/ld+json"]'):
        linked = linked.over(_json_ld(script.text()))
    return citation.over(linked).over(opengraph).over(plain)


def _json_ld(text: str) -> PageMeta:
    try:
        data = json.loads(text)
    except ValueError:
        return PageMeta()
    found = PageMeta()
    for thing in _things(data):
        if not ({"headline", "datePublished"} & thing.keys()):
            continue  # an Organization or a WebSite: not the publication
        found = found.over(PageMeta(
            title=clean_text(_text(thing.get("headline") or thing.get("name"))),
            published=_day(_text(thing.get("datePublished"))),
            publisher=clean_text(_name(thing.get("publisher")) or _name(thing.get("author"))),
            summary=clean_text(_text(thing.get("description"))),
        ))
    return found


def _things(data: Any) -> Iterator[dict]:
    if isinstance(data, list):
        for item in data:
            yield from _things(item)
    elif isinstance(data, dict):
        yield data
        yield from _things(data.get("@graph"))


def _name(value: Any) -> str:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        return _text(value.get("name"))
    return _text(value)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _day(value: str | None) -> date | None:
    if not value:
        return None
    slashed = SLASHED_DATE.match(value.strip())
    if slashed:  # citation_publication_date is often 2025/04/07
        value = "-".join(part.zfill(2) for part in slashed.groups())
    try:
        return london_date(value)
    except (ValueError, OverflowError):
        return None


def read_govuk_content(body: bytes) -> PageMeta:
    """A GOV.UK page from its Content API answer (``/api/content/<path>``)."""
    try:
        data = json.loads(body)
    except ValueError:
        return PageMeta()
    if not isinstance(data, dict):
        return PageMeta()
    links = data.get("links")
    if not isinstance(links, dict):
        links = {}
    organisations = [org for org in links.get("primary_publishing_organisation") or links.get("organisations")
                     or [] if isinstance(org, dict)]
    kind = _text(data.get("document_type")).replace("_", " ")
    return PageMeta(
        title=clean_text(_text(data.get("title"))),
        published=_day(_text(data.get("first_published_at")) or _text(data.get("public_updated_at"))),
        publisher=clean_text(_text(organisations[0].get("title")) if organisations else ""),
        summary=clean_text(_text(data.get("description"))),
        document_type=kind[:1].upper() + kind[1:] or None,
    )


def read_pdf(body: bytes) -> PageMeta:
    """A PDF's own title and creation date (its Author is usually a person, not a publisher)."""
    from pypdf import PdfReader

    try:
        info = PdfReader(io.BytesIO(body)).metadata
        if info is None:
            return PageMeta()
        created = info.creation_date
    except Exception:  # noqa: BLE001 - pypdf raises many kinds on a damaged file or date
        return PageMeta()
    return PageMeta(title=clean_text(info.title or ""), published=london_date(created) if created else None)
