"""Parse fetched bytes into raw entries: RSS/Atom/RDF, GOV.UK Search API JSON, listing pages.

Parsers take bytes, never a URL to fetch: fetching is fetch.py's job and its limits apply.
Every way a body can be wrong ends in a ParseError whose message an editor can act on.
"""

from __future__ import annotations

import codecs
import datetime
import functools
import io
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import replace
from urllib.parse import urljoin
from xml.etree import ElementTree
from xml.etree.ElementTree import Element

import feedparser
from feedparser.datetimes import _parse_date
from selectolax.lexbor import LexborHTMLParser, LexborNode

from tracker.entries import RawEntry
from tracker.text import MAX_NESTING, is_http_url, nesting_depth

from .apis import ApiError, caselaw_entries, parse_parliament_committees, parse_sitemap, parse_wordpress
from .config import Source

log = logging.getLogger(__name__)

GOVUK = "https://www.gov.uk"
# Future release dates, not publications (publishers.md §7.3): GOV.UK's document type, and the
# display type "Official Statistics announcement" that organisation feeds carry instead.
ANNOUNCEMENT_TYPES = {"statistics_announcement"}
ANNOUNCEMENT = re.compile(r"statistics?[\s_]+(release[\s_]+)?announcement", re.I)
# GOV.UK's retired finder feeds answer 200 with this single entry (publishers.md §7.5).
FEED_ENDED = "this feed has ended"

ATOM = "{http://www.w3.org/2005/Atom}"
RSS1 = "{http://purl.org/rss/1.0/}"
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}RDF"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
RDF_ABOUT = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about"
DC = "{http://purl.org/dc/elements/1.1/}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
CHARSET_IN_HEADER = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)
XML_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([\w.:-]+)[\"']", re.I)
XML_DECLARATION_TEXT = re.compile(r"^(\s*<\?xml[^>]*?encoding\s*=\s*)([\"'])[\w.:-]+\2")
META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?([\w.:-]+)", re.I)
ISO_DAY = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})")
FIRST_ELEMENT = re.compile(r"<\w")  # where feedparser's prolog (the part it reads entities from) ends
WEB_PAGE = re.compile(r"^\s*(?:<!--.*?-->\s*)*(?:<!doctype\s+html|<html)", re.I | re.S)
BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"))


class ParseError(Exception):
    """The body is not what the source should serve; the message is shown to editors as is."""


def parse_body(source: Source, body: bytes, content_type: str | None, url: str,
               skipped: list[str] | None = None) -> list[RawEntry]:
    """The entries in ``body``, fetched from ``url`` for ``source``; why an entry that could not
    be read was left out is added to ``skipped``."""
    if not body or not body.strip():
        raise ParseError("the server sent an empty response")
    govuk = functools.partial(parse_govuk_search, skipped=skipped if skipped is not None else [])
    parser: dict[str, Callable[[Source, bytes, str | None, str], list[RawEntry]]] = {
        "feed": parse_feed, "govuk-search": govuk, "html": parse_listing,
        "caselaw": parse_caselaw, "parliament-committees": parse_parliament_committees,
        "wordpress": parse_wordpress, "sitemap": parse_sitemap}
    try:
        entries = parser[source.type](source, body, content_type, url)
    except ApiError as ex:
        raise ParseError(str(ex)) from None
    return [e for e in entries if not is_announcement(e)]


def parse_caselaw(source: Source, body: bytes, content_type: str | None, url: str) -> list[RawEntry]:
    return caselaw_entries(parse_feed(source, body, content_type, url))


def is_announcement(entry: RawEntry) -> bool:
    """GOV.UK announces statistics weeks before their release: the announcement is not a
    publication. Server-side filters (``reject_content_store_document_type``, the finder's
    ``statistics_published``) drop most; organisation feeds cannot be filtered, so this does,
    for every source type."""
    return "/statistics/announcements/" in entry.link or bool(
        entry.category and ANNOUNCEMENT.search(entry.category)
    )


def decode(body: bytes, content_type: str | None, declared: re.Pattern[bytes] = XML_DECLARATION) -> str:
    """Text from bytes whose declared encodings may be missing or wrong.

    A BOM wins; then UTF-8 if the bytes are valid UTF-8 (a feed labelled Latin-1 that is really
    UTF-8 is common, the reverse passing UTF-8 validation is vanishingly rare); then what the
    document declares, what the HTTP header says, and Windows-1252, which browsers use for
    "ISO-8859-1" because publishers mean it.
    """
    for bom, encoding in BOMS:
        if body.startswith(bom):
            return body.decode(encoding, "replace")
    inside = declared.search(body[:2048])
    header = CHARSET_IN_HEADER.search(content_type or "")
    names = ([inside.group(1).decode("ascii")] if inside else []) + ([header.group(1)] if header else [])
    wide = [n for n in names if n.lower().replace("-", "").startswith(("utf16", "utf32"))]
    for name in [*wide, "utf-8", *names, "cp1252", "latin-1"]:
        if name.lower().replace("-", "").replace("_", "") in ("iso88591", "latin1", "usascii", "ascii"):
            name = "cp1252"
        try:
            return body.decode(name)
        except (LookupError, UnicodeDecodeError):
            continue
    return body.decode("latin-1")  # unreachable: latin-1 decodes any bytes


def parse_feed(source: Source, body: bytes, content_type: str | None, url: str) -> list[RawEntry]:
    text = decode(body, content_type)
    first = FIRST_ELEMENT.search(text)
    prolog = text[: first.start()] if first else text
    if "<!ENTITY" in prolog:
        # feedparser's fallback parser expands "safe" entities from the prolog without limit: a
        # 100 kB entity used 20,000 times took 65 s and 6 GB. No real feed declares entities.
        # Declarations it does not see (after a "<a" in a comment) reach only expat, whose
        # amplification limit (expat >= 2.4) stops bombs.
        raise ParseError("the feed declares XML entities, which tracker refuses (a possible entity bomb)")
    utf8 = XML_DECLARATION_TEXT.sub(r"\1\2utf-8\2", text, count=1).encode("utf-8")
    # Well-formed RSS/Atom/RDF (nearly every feed) goes through the C parser, ~15 times faster
    # than feedparser; anything unusual, broken or empty gets feedparser's tolerance and errors.
    items, problem = read_fast(utf8, url), None
    if items is None:
        log.debug("%s: read by feedparser (not a plain RSS, RDF or Atom document)", url)
        _refuse_deep(text, "feed")
        items, problem = read_with_feedparser(utf8, text, content_type, url)
    entries = []
    for item in items:
        if item.title.strip().lower() == FEED_ENDED:
            raise ParseError("GOV.UK says this feed has ended: find its replacement and update sources.yaml")
        link = entry_link(item, url)
        if link:
            entries.append(replace(item, link=link))
    if not entries and problem is not None:  # e.g. a truncated feed whose items lost their links
        raise ParseError(f"the feed is not valid XML ({_xml_problem(problem)})")
    return entries


def _refuse_deep(text: str, what: str) -> None:
    """Markup nested thousands deep costs the tolerant parsers quadratic time (100,000 deep:
    over a minute a poll): refused in words instead."""
    if nesting_depth(text) > MAX_NESTING:
        raise ParseError(f"the {what} nests its elements more than {MAX_NESTING:,} deep, which tracker "
                         "refuses (real pages nest a few dozen)")


def entry_link(item: RawEntry, url: str) -> str:
    """Where a feed item points: its link, else its guid when that is a URL (an RSS permalink),
    resolved against the feed's URL; "" when it has neither."""
    return _join(url, item.link or _permalink(item.entry_id))


# The two readers of a feed are public so that tests can hold them to giving the same items.

def read_with_feedparser(utf8: bytes, text: str, content_type: str | None,
                         url: str) -> tuple[list[RawEntry], Exception | None]:
    """Any feed feedparser can read, however broken: its items and the XML problem, if any."""
    # A stream, never a str: feedparser would treat a str as a URL or a file name to open.
    # No sanitising or URI rewriting inside content: normalise.clean_text reduces every title
    # and summary to plain text anyway, and skipping them halves feedparser's time.
    parsed = feedparser.parse(io.BytesIO(utf8), sanitize_html=False, resolve_relative_uris=False,
                              response_headers={"content-type": "application/xml; charset=utf-8",
                                                "content-location": url})
    if not parsed.entries:
        if not parsed.version and (WEB_PAGE.match(text[:4096])
                                   or (content_type or "").lower().startswith("text/html")):
            raise ParseError("the feed URL returned a web page, not a feed")
        if parsed.bozo:
            raise ParseError(f"the feed is not valid XML ({_xml_problem(parsed.bozo_exception)})")
        if not parsed.version:
            raise ParseError("the response is not an RSS, Atom or RDF feed")
    items = []
    for item in parsed.entries:
        tags = item.get("tags") or []
        # dict.get: FeedParserDict.get("updated_parsed") silently (and with a warning) falls
        # back to published_parsed.
        updated = _checked(dict.get(item, "updated_parsed"), dict.get(item, "updated"))
        items.append(RawEntry(
            title=item.get("title") or "",
            link=item.get("link") or "",
            summary=item.get("summary"),
            # GOV.UK organisation feeds have no <published>: <updated> is the only date they give.
            published=_checked(dict.get(item, "published_parsed"), dict.get(item, "published")) or updated,
            updated=updated,
            entry_id=item.get("id"),
            category=(tags[0].get("label") or tags[0].get("term")) if tags else None,
        ))
    return items, parsed.bozo_exception if parsed.bozo else None


def read_fast(utf8: bytes, url: str) -> list[RawEntry] | None:
    """The entries of a well-formed RSS 2.0, RSS 1.0 (RDF) or Atom 1.0 feed, read the way
    feedparser reads them (tests/test_parse.py checks both agree); None to leave it to feedparser."""
    try:
        root = ElementTree.fromstring(utf8)
    except ElementTree.ParseError:
        return None
    # Drupal puts xml:base on <rss>; nested bases (rare) are left to feedparser.
    if utf8.count(b"xml:base") > (XML_BASE in root.attrib):
        return None
    url = _join(url, root.get(XML_BASE, "")) or url
    items: list[RawEntry | None]
    if root.tag == ATOM + "feed":
        items = [_atom_item(entry, url) for entry in root.iterfind(ATOM + "entry")]
    elif root.tag == "rss":
        items = [_rss_item(item, "", url) for item in root.iterfind("channel/item")]
    elif root.tag == RDF:
        items = [_rss_item(item, RSS1, url) for item in root.iterfind(RSS1 + "item")]
    else:
        return None
    entries = [item for item in items if item is not None]
    # One item the fast path does not read (xhtml content) leaves the whole feed to feedparser.
    return entries if entries and len(entries) == len(items) else None


def _rss_item(item: Element, ns: str, url: str) -> RawEntry:
    guid = item.find("guid")
    entry_id = _xml_text(guid).strip() or item.get(RDF_ABOUT)
    permalink = guid is not None and guid.get("isPermaLink", "true").lower() != "false"
    if entry_id and permalink:
        entry_id = _join(url, entry_id) or entry_id
    updated = _xml_date(item.find(DC + "date"))
    category = item.find("category")
    return RawEntry(
        title=_xml_text(item.find(ns + "title")).strip(),
        link=_join(url, _xml_text(item.find(ns + "link")).strip() or (entry_id if permalink else "")),
        summary=_xml_text(item.find(ns + "description")) or _xml_text(item.find(CONTENT + "encoded")) or None,
        published=_xml_date(item.find("pubDate")) or updated,
        updated=updated,
        entry_id=entry_id,
        category=_xml_text(category).strip() or None,
    )


def _atom_item(entry: Element, url: str) -> RawEntry | None:
    title, summary, content = (entry.find(ATOM + name) for name in ("title", "summary", "content"))
    if any(node is not None and node.get("type") == "xhtml" for node in (title, summary, content)):
        return None
    link = next((node.get("href", "") for node in entry.iterfind(ATOM + "link")
                 if node.get("rel", "alternate") == "alternate"), "")
    entry_id = _xml_text(entry.find(ATOM + "id")).strip()
    updated = _xml_date(entry.find(ATOM + "updated"))
    category = entry.find(ATOM + "category")
    return RawEntry(
        title=_xml_text(title).strip(),
        link=_join(url, link.strip()),
        summary=_xml_text(summary) or _xml_text(content) or None,
        published=_xml_date(entry.find(ATOM + "published")) or updated,
        updated=updated,
        entry_id=(_join(url, entry_id) or entry_id) if entry_id else None,
        category=(category.get("label") or category.get("term")) if category is not None else None,
    )


def _join(base: str, link: str | None) -> str:
    """``link`` resolved against ``base``; "" for none, or for one that is not a URL at all
    ("http://[bad"), which costs its entry its link, never the feed its other entries."""
    try:
        return urljoin(base, link) if link else ""
    except ValueError:
        return ""


def _xml_text(node: Element | None) -> str:
    return (node.text or "") if node is not None else ""


def _xml_date(node: Element | None) -> time.struct_time | str | None:
    """Parsed as feedparser parses dates (a UTC struct_time), else the text for normalise.py."""
    text = _xml_text(node).strip()
    return _checked(_parse_date(text), text) if text else None


def _checked(parsed: time.struct_time | None, text: str | None) -> time.struct_time | str | None:
    """feedparser's reading of ``text``, unless it rolled an impossible date over (it reads
    2025-02-30 as 2 March): then None, an unknown date, not a wrong one."""
    match = ISO_DAY.match(text or "")
    if match:
        try:
            datetime.date(*(int(part) for part in match.groups()))
        except ValueError:
            return None
    return parsed or text or None


def _permalink(guid: str | None) -> str | None:
    return guid if is_http_url(guid) else None


def _xml_problem(exception: BaseException | None) -> str:
    if exception is None:
        return "unreadable"
    # No line number: feedparser rewrites the prolog first, so expat's lines are off.
    get_message = getattr(exception, "getMessage", None)
    return (get_message() if get_message else str(exception))[:200] or type(exception).__name__


def parse_govuk_search(source: Source, body: bytes, content_type: str | None, url: str, *,
                       skipped: list[str] | None = None) -> list[RawEntry]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        if WEB_PAGE.match(decode(body, content_type)[:4096]):
            raise ParseError("the Search API URL returned a web page, not JSON") from None
        raise ParseError("the Search API answered with something that is not JSON") from None
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list):
        raise ParseError("the Search API answer has no list of results")
    entries = []
    for number, result in enumerate(results, start=1):
        if not isinstance(result, dict) or not result.get("link") or not result.get("title"):
            continue
        if not isinstance(result["link"], str) or not isinstance(result["title"], str):
            if skipped is not None:
                skipped.append(f"result {number}: its link or title is not text")
            continue
        kinds = {result.get(k) for k in ("content_store_document_type", "format", "document_type")
                 if isinstance(result.get(k), str)}
        if kinds & ANNOUNCEMENT_TYPES:
            continue
        link = _join(GOVUK, result["link"])
        # Every other field as text or nothing: a number or a list in one must not reach the
        # store (or a regex) and cost the source its other results.
        entries.append(RawEntry(
            title=result["title"],
            link=link,
            summary=_string(result.get("description")),
            published=_string(result.get("public_timestamp")),
            updated=_string(result.get("public_timestamp")),
            entry_id=_string(result.get("_id")) or result["link"],
            category=_string(result.get("display_type")),
            change_note=_string(result.get("latest_change_note")),
        ))
    return entries


def _string(value: object) -> str | None:
    return value if isinstance(value, str) else None


def parse_listing(source: Source, body: bytes, content_type: str | None, url: str) -> list[RawEntry]:
    selectors = source.selectors
    assert selectors is not None  # config.py gives every html source selectors that compile
    text = decode(body, content_type, declared=META_CHARSET)
    _refuse_deep(text, "page")
    tree = LexborHTMLParser(text)
    items = tree.css(selectors.item)
    if not items:
        raise ParseError(f"the item selector {selectors.item!r} matched nothing on the page "
                         "(the page layout has probably changed)")
    entries = []
    for item in items:
        title_node = item.css_first(selectors.title)
        link_node = item.css_first(selectors.link)
        href = link_node.attributes.get("href") if link_node is not None else None
        if title_node is None or not href:
            continue
        date_node = item.css_first(selectors.date) if selectors.date else None
        summary_node = item.css_first(selectors.summary) if selectors.summary else None
        entries.append(RawEntry(
            title=_text(title_node),
            link=_join(url, href.strip()),
            summary=_text(summary_node) if summary_node is not None else None,
            published=_date(date_node) if date_node is not None else None,
            date_source="page",
        ))
    if not entries:
        raise ParseError(f"{len(items)} items matched {selectors.item!r} but none had both a title "
                         f"({selectors.title!r}) and a link ({selectors.link!r})")
    return entries


def _text(node: LexborNode) -> str:
    return node.text(separator=" ", strip=True)


def _date(node: LexborNode) -> str | None:
    """A machine-readable date (<time datetime>, itemprop content) if there is one, else the
    visible text, which normalise.py reads in UK styles."""
    stamp = node.css_first("[datetime]")  # the node itself or a <time> inside it
    for value in (stamp.attributes.get("datetime") if stamp is not None else None,
                  node.attributes.get("content")):
        if value and value.strip():
            return value.strip()
    return _text(node) or None
