"""Turn what a parser found into clean, comparable publications.

Everything here is pure: text in, text out. Keys and dates decided here are what makes a poll
idempotent, so each rule has a test in tests/test_normalise.py.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote_plus, urljoin, urlsplit, urlunsplit

from tracker.dates import london_date, to_datetime, utc_iso
from tracker.entries import Entry, RawEntry
from tracker.text import clean_text

TRACKING_PARAMS = re.compile(
    r"^(utm_\w+|mtm_\w+|pk_\w+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|yclid|igshid|mc_cid|mc_eid"
    r"|_hsenc|_hsmi|hsctatracking|dm_i|dm_t|ref_src|_ga|_gl|cmpid|s_cid)$",
    re.IGNORECASE,
)
WWW = re.compile(r"^www\d*\.")
URL_SAFE = "/%:@!$&'()*+,;=-._~"


def clean_url(url: str, base: str | None = None) -> str:
    """An absolute URL with lower-case scheme and host, no fragment, no tracking parameters.

    Raises ValueError for a URL that cannot be one (a bad port, a broken IPv6 host).
    """
    url = (url or "").strip()
    if base:
        url = urljoin(base, url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or (scheme, port) in (("http", 80), ("https", 443)) else f"{host}:{port}"
    # Filter the raw pairs rather than re-encoding them: the URL people see stays as published.
    query = "&".join(
        pair for pair in parts.query.split("&")
        if pair and not TRACKING_PARAMS.match(unquote_plus(pair.split("=", 1)[0]))
    )
    path = quote(parts.path or "/", safe=URL_SAFE)  # "a b" and "a%20b" are one URL
    return urlunsplit((scheme, netloc, path, query, ""))


def url_key(url: str) -> str:
    """What makes two URLs the same publication: http/https, www. (www2. ...) and a trailing
    slash don't (local.gov.uk serves the same pages on all three hosts)."""
    parts = urlsplit(clean_url(url))
    host = WWW.sub("", parts.netloc)
    path = parts.path.rstrip("/") or "/"
    return urlunsplit(("", host, path, parts.query, "")).lstrip("/")


def strip_display_type(title: str, category: str | None) -> str:
    """GOV.UK organisation feeds prefix every title with its display type ("Guidance: ...")."""
    if category and title.lower().startswith(category.lower() + ": "):
        return title[len(category) + 2 :].strip()
    return title


def normalise_entry(raw: RawEntry, *, base_url: str, date_order: str = "DMY") -> Entry | None:
    """A clean Entry, or None when the item has no usable link or title."""
    title = strip_display_type(clean_text(raw.title), raw.category)
    if not raw.link or not title:
        return None
    try:
        url = clean_url(raw.link, base_url)
    except ValueError:  # one broken link must not cost the source its other entries
        return None
    if urlsplit(url).scheme not in ("http", "https"):
        return None
    published = london_date(raw.published, date_order) if raw.published is not None else None
    updated_at = to_datetime(raw.updated) if raw.updated is not None else None
    return Entry(
        url=url,
        url_key=url_key(url),
        title=title,
        summary=clean_text(raw.summary),
        published=published.isoformat() if published else None,
        date_source=raw.date_source if published else "first_seen",
        updated=utc_iso(updated_at) if updated_at else None,
        entry_id=raw.entry_id,
        document_type=clean_text(raw.category) or None,
    )
