"""Where else a site publishes its list of publications: the sources to try before guessing CSS
selectors, in order of how well they survive a redesign.

1. the feed a page advertises (``<link rel="alternate" type="application/rss+xml">``), as
   browsers and feed readers discover it;
2. the WordPress REST API (``/wp-json/wp/v2/posts``, dated and structured), at the address the
   page advertises (``<link rel="https://api.w.org/">``) or at the site's root;
3. the site's sitemap (``/sitemap.xml``; WordPress's own is ``/wp-sitemap.xml``), for sites with
   no feed at all.

Everything here is pure: pages in, candidate URLs out. Fetching and trying them is check.py's.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit
from xml.etree import ElementTree

from selectolax.lexbor import LexborHTMLParser

from tracker.text import is_http_url

from .apis import SITEMAP

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+json")
WORDPRESS_API = "https://api.w.org/"
WORDPRESS_POSTS = "wp/v2/posts"
# Comment feeds are advertised beside the posts feed and are never a publisher's list.
COMMENT_FEED = ("comments", "comment feed")
# In a sitemap index, the child sitemaps most likely to list publications come first.
LIKELY_SITEMAPS = ("post", "blog", "publication", "news", "report", "resource", "page")


@dataclass(frozen=True)
class Candidate:
    type: str  # a sources.yaml type: feed, wordpress or sitemap
    url: str
    how: str  # how it was found, in words


def site_root(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/", "", ""))


def advertised_feeds(page: str, page_url: str) -> list[str]:
    """The feeds a page advertises, in its order, comment feeds left out."""
    tree = LexborHTMLParser(page)
    feeds = []
    for link in tree.css("link[rel~=alternate][href]"):
        kind = (link.attributes.get("type") or "").lower().split(";")[0].strip()
        title = (link.attributes.get("title") or "").lower()
        href = urljoin(page_url, (link.attributes.get("href") or "").strip())
        if kind in FEED_TYPES and is_http_url(href) and not any(c in title for c in COMMENT_FEED):
            if href not in feeds:
                feeds.append(href)
    return feeds


def wordpress_api(page: str, page_url: str) -> str | None:
    """The posts route of the REST API a WordPress page advertises, if it does."""
    link = LexborHTMLParser(page).css_first(f'link[rel="{WORDPRESS_API}"][href]')
    if link is None:
        return None
    root = urljoin(page_url, (link.attributes.get("href") or "").strip())
    # Sites without pretty permalinks advertise /?rest_route=/, where the route is a parameter.
    if "rest_route=" in root:
        return root.rstrip("/") + "/" + WORDPRESS_POSTS
    return urljoin(root.rstrip("/") + "/", WORDPRESS_POSTS) if is_http_url(root) else None


def candidates(source_url: str, page: str | None, page_url: str | None) -> list[Candidate]:
    """What to try instead of ``source_url``, best first, from the site's page (if one was read)."""
    root = site_root(page_url or source_url)
    found: list[Candidate] = []
    if page is not None and page_url is not None:
        found += [Candidate("feed", url, f"the feed {page_url} advertises") for url in advertised_feeds(page, page_url)]
        advertised = wordpress_api(page, page_url)
        if advertised:
            found.append(Candidate("wordpress", advertised, "the WordPress API the page advertises"))
    found += [
        Candidate("wordpress", urljoin(root, "/wp-json/" + WORDPRESS_POSTS), "the WordPress API at the site's root"),
        Candidate("sitemap", urljoin(root, "/sitemap.xml"), "the site's sitemap"),
        Candidate("sitemap", urljoin(root, "/wp-sitemap.xml"), "WordPress's sitemap"),
    ]
    unique: dict[str, Candidate] = {}
    for candidate in found:
        if candidate.url != source_url:
            unique.setdefault(candidate.url, candidate)
    return list(unique.values())


def sitemap_children(body: bytes) -> list[str]:
    """A sitemap index's sitemaps, those likeliest to list publications first; [] for anything
    that is not a sitemap index."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return []
    if root.tag != SITEMAP + "sitemapindex":
        return []
    urls = [loc.text.strip() for loc in root.iter(SITEMAP + "loc") if loc.text and is_http_url(loc.text.strip())]

    def rank(url: str) -> int:
        path = urlsplit(url).path.lower()
        return next((i for i, word in enumerate(LIKELY_SITEMAPS) if word in path), len(LIKELY_SITEMAPS))

    return sorted(urls, key=rank)
