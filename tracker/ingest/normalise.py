"""Turn what a parser found into clean, comparable publications.

Everything here is pure: text in, text out. Keys and dates decided here are what makes a poll
idempotent, so each rule has a test in tests/test_normalise.py.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from urllib.parse import quote, unquote_plus, urljoin, urlsplit, urlunsplit

from tracker.dates import london_date, to_datetime, utc_iso
from tracker.entries import Entry, RawEntry
from tracker.text import clean_text

TRACKING_PARAMS = re.compile(
    r"^(utm_\w+|mtm_\w+|pk_\w+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|yclid|igshid|mc_cid|mc_eid"
    r"|_hsenc|_hsmi|hsctatracking|dm_i|dm_t|ref_src|_ga|_gl|cmpid|s_cid)$",
    re.IGNORECASE,
)
# Session ids some sites put in every link, new on each visit: kept, every poll would add every
# item again under a new URL.
SESSION_PARAMS = re.compile(
    r"^(sid|sessionid|session_id|jsessionid|phpsessid|aspsessionid\w*|cfid|cftoken|zenid|oscsid)$",
    re.IGNORECASE,
)
PATH_SESSION = re.compile(r";(?:jsessionid|phpsessid|sid)=[^/?]*", re.IGNORECASE)
# A title longer than this is a feed putting its body in the title: the title is cut (at a word)
# and the whole text kept in the summary.
MAX_TITLE = 500
# Dates outside these bounds are a publisher's placeholder or typo (1 Jan 0001, 9999), not facts.
EARLIEST = date(1990, 1, 1)
LATEST_AHEAD = timedelta(days=366)
WWW = re.compile(r"^www\d*\.")
URL_SAFE = "/%:@!$&'()*+,;=-._~"


def clean_url(url: str, base: str | None = None) -> str:
    """An absolute URL with lower-case scheme and host, no fragment, no tracking or session
    parameters.

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
        if pair and not _dropped(unquote_plus(pair.split("=", 1)[0]))
    )
    path = quote(PATH_SESSION.sub("", parts.path) or "/", safe=URL_SAFE)  # "a b" and "a%20b" are one URL
    return urlunsplit((scheme, netloc, path, query, ""))


def _dropped(name: str) -> bool:
    return bool(TRACKING_PARAMS.match(name) or SESSION_PARAMS.match(name))


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


def normalise_entry(raw: RawEntry, *, base_url: str, date_order: str = "DMY",
                    today: date | None = None) -> Entry | None:
    """A clean Entry, or None when the item has no usable link or title.

    A date before 1990 or more than a year after ``today`` is unknown.
    """
    title = strip_display_type(clean_text(raw.title), raw.category)
    if not raw.link or not title:
        return None
    summary = clean_text(raw.summary)
    if len(title) > MAX_TITLE:
        if title not in summary:
            summary = f"{title} {summary}".strip()
        title = _shorten(title)
    try:
        url = clean_url(raw.link, base_url)
    except ValueError:  # one broken link must not cost the source its other entries
        return None
    if urlsplit(url).scheme not in ("http", "https"):
        return None
    today = today or datetime.now(timezone.utc).date()
    published = _sane(_london_date(raw, date_order), today)
    updated_at = _to_datetime(raw.updated)
    if updated_at is not None and _sane(updated_at.date(), today) is None:
        updated_at = None
    return Entry(
        url=url,
        url_key=url_key(url),
        title=title,
        summary=summary,
        published=published.isoformat() if published else None,
        date_source=raw.date_source if published else "first_seen",
        updated=utc_iso(updated_at) if updated_at else None,
        entry_id=raw.entry_id,
        document_type=clean_text(raw.category) or None,
        change_note=clean_text(raw.change_note) or None,
    )


def _shorten(title: str) -> str:
    cut = title[: MAX_TITLE - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > MAX_TITLE // 2 else cut).rstrip() + "\u2026"


def _london_date(raw: RawEntry, date_order: str) -> date | None:
    if raw.published is None:
        return None
    try:
        return london_date(raw.published, date_order)
    except (OverflowError, ValueError):  # year 1 or 9999 with an offset: out of datetime's range
        return None


def _to_datetime(value: object) -> datetime | None:
    if value is None:
        return None
    try:
        moment = to_datetime(value)  # type: ignore[arg-type]
        return moment.astimezone(timezone.utc) if moment else None
    except (OverflowError, ValueError):
        return None


def _sane(day: date | None, today: date) -> date | None:
    return day if day is not None and EARLIEST <= day <= today + LATEST_AHEAD else None
