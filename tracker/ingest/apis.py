"""Parsers for sources that publish structured data instead of a feed: the UK Parliament
committees publications API, Find Case Law's Atom feed, the WordPress REST API and sitemaps.

Each takes the fetched bytes, like the parsers in parse.py, and none depends on a page's
markup: these are the types to prefer over an html source wherever a site offers one.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from urllib.parse import unquote, urlsplit
from xml.etree import ElementTree

from tracker.entries import RawEntry
from tracker.text import is_http_url

from .config import Source

COMMITTEES_SITE = "https://committees.parliament.uk"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
# A sitemap lists a whole site, oldest pages included: the newest are what a feed would hold,
# and a first poll must not file years of pages as new publications.
SITEMAP_NEWEST = 100
SLUG_WORDS = re.compile(r"[-_]+")


class ApiError(Exception):
    """What is wrong with a body, in words; parse_body passes it on as a ParseError (this module
    sits below parse.py, which dispatches to it)."""


def _json(body: bytes, what: str) -> object:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        if body.lstrip()[:1] == b"<":
            raise ApiError(f"the {what} URL returned a web page or XML, not JSON") from None
        raise ApiError(f"the {what} answered with something that is not JSON") from None


def parse_parliament_committees(source: Source, body: bytes, content_type: str | None,
                                url: str) -> list[RawEntry]:
    """``GET committees-api.parliament.uk/api/Publications``: ``{"items": [...]}``, each with an
    ``id``, a ``description`` (the title) and a ``publicationStartDate`` in London time without
    an offset (docs/sources.md §4.1)."""
    data = _json(body, "committees API")
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ApiError("the committees API answer has no list of items")
    entries = []
    for item in items:
        if not isinstance(item, dict) or not item.get("id") or not item.get("description"):
            continue
        entries.append(RawEntry(
            title=str(item["description"]),
            link=_committee_link(item),
            published=item.get("publicationStartDate"),
            entry_id=f"{COMMITTEES_SITE}/publications/{item['id']}",
            category=(item.get("type") or {}).get("name"),
        ))
    return entries


def _committee_link(item: dict) -> str:
    """The HTML report when there is one; else the first document's page, the one URL form of a
    publication on the committees website that answers (``/publications/{id}/`` is a 404)."""
    if is_http_url(item.get("additionalContentUrl")):
        return str(item["additionalContentUrl"])
    documents = [d for d in item.get("documents") or [] if isinstance(d, dict) and d.get("documentId")]
    if documents:
        return f"{COMMITTEES_SITE}/publications/{item['id']}/documents/{documents[0]['documentId']}/default/"
    return f"{COMMITTEES_SITE}/publications/{item['id']}/"


def caselaw_entries(entries: list[RawEntry]) -> list[RawEntry]:
    """Find Case Law's Atom entries reduced to title, link and dates.

    The Open Justice Licence does not cover computational analysis of judgments (text mining,
    classification): that needs The National Archives' separate licence. So nothing of a
    judgment's text is kept, only what a person would note from the feed (docs/sources.md §4.2).
    """
    return [replace(entry, summary=None, category="Judgment") for entry in entries]


def parse_wordpress(source: Source, body: bytes, content_type: str | None, url: str) -> list[RawEntry]:
    """``/wp-json/wp/v2/posts`` (or a custom post type's route): a JSON list of posts with
    ``link``, ``title.rendered``, ``excerpt.rendered``, ``date_gmt`` and ``modified_gmt``."""
    posts = _json(body, "WordPress API")
    if isinstance(posts, dict) and posts.get("code"):  # WordPress's own error object
        raise ApiError(f"the WordPress API answered with an error: {posts.get('message') or posts['code']}")
    if not isinstance(posts, list):
        raise ApiError("the WordPress API answer is not a list of posts")
    entries = []
    for post in posts:
        if not isinstance(post, dict) or not post.get("link"):
            continue
        entries.append(RawEntry(
            title=_rendered(post.get("title")),
            link=str(post["link"]),
            summary=_rendered(post.get("excerpt")) or None,
            # date_gmt is UTC without an offset; date (site time) when a site hides it.
            published=_utc(post.get("date_gmt")) or post.get("date"),
            updated=_utc(post.get("modified_gmt")),
            entry_id=_rendered(post.get("guid")) or str(post["link"]),
            category=str(post["type"]) if post.get("type") and post["type"] != "post" else None,
        ))
    return entries


def _rendered(value: object) -> str:
    text = value.get("rendered") if isinstance(value, dict) else value
    return text if isinstance(text, str) else ""


def _utc(value: object) -> str | None:
    return f"{value}+00:00" if isinstance(value, str) and value.strip() else None


def parse_sitemap(source: Source, body: bytes, content_type: str | None, url: str) -> list[RawEntry]:
    """A sitemap's pages under the source's ``paths``, newest ``lastmod`` first, titled from
    their slug (a sitemap has no titles; the poll's normal page reading can do better later)."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        raise ApiError("the sitemap is not valid XML") from None
    if root.tag == SITEMAP + "sitemapindex":
        children = [loc.text.strip() for loc in root.iter(SITEMAP + "loc") if loc.text]
        raise ApiError("this is a sitemap index: set url to one of its sitemaps ("
                       + ", ".join(children[:3]) + (", ..." if len(children) > 3 else "") + ")")
    if root.tag != SITEMAP + "urlset":
        raise ApiError("the response is not a sitemap (no <urlset>)")
    pages = []
    for node in root.iterfind(SITEMAP + "url"):
        loc = (node.findtext(SITEMAP + "loc") or "").strip()
        lastmod = (node.findtext(SITEMAP + "lastmod") or "").strip() or None
        path = urlsplit(loc).path
        if is_http_url(loc) and _wanted(path, source.paths):
            pages.append((lastmod or "", loc, path))
    pages.sort(reverse=True)  # W3C datetimes of one site sort as text; pages without one last
    return [RawEntry(title=_slug_title(path), link=loc, published=lastmod or None,
                     updated=lastmod or None, entry_id=loc)
            for lastmod, loc, path in pages[:SITEMAP_NEWEST]]


def _wanted(path: str, prefixes: tuple[str, ...]) -> bool:
    """A publication page: under one of the prefixes, and not the listing page itself."""
    if not prefixes:
        return path.strip("/") != ""
    return any(path.startswith(p) and path.rstrip("/") != p.rstrip("/") for p in prefixes)


def _slug_title(path: str) -> str:
    slug = unquote(path.rstrip("/").rsplit("/", 1)[-1])
    slug = re.sub(r"\.(html?|aspx|php)$", "", slug)
    words = SLUG_WORDS.sub(" ", slug).strip()
    return words[:1].upper() + words[1:]

