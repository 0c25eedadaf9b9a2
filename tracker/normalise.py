"""Turn what a parser found into clean, comparable publications.

Everything here is pure: text in, text out. Keys and dates decided here are what makes a poll
idempotent, so each rule has a test in tests/test_normalise.py.
"""

from __future__ import annotations

import html
import re
import time
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import quote, unquote_plus, urljoin, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from selectolax.lexbor import LexborHTMLParser

from .parse import RawEntry

LONDON = ZoneInfo("Europe/London")

TRACKING_PARAMS = re.compile(
    r"^(utm_\w+|mtm_\w+|pk_\w+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|yclid|igshid|mc_cid|mc_eid"
    r"|_hsenc|_hsmi|hsctatracking|dm_i|dm_t|ref_src|_ga|_gl|cmpid|s_cid)$",
    re.IGNORECASE,
)
MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
            ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
            ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
DAY_MONTH_YEAR = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+(\d{{4}})\b", re.I)
MONTH_DAY_YEAR = re.compile(rf"\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.I)
NUMERIC_DATE = re.compile(r"\b(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})\b")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
ISO_IN_TEXT = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
WWW = re.compile(r"^www\d*\.")
URL_SAFE = "/%:@!$&'()*+,;=-._~"
# Closing a block (or a <br>) separates words; inline tags ("Barnardo<span>’</span>s") don't.
BLOCK_END = re.compile(r"<(?:br|hr|/p|/div|/li|/h[1-6]|/td|/th|/tr|/blockquote|/dt|/dd)\b[^>]*>", re.I)
QUOTES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "‛": "'", "“": '"', "”": '"', "„": '"'})


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

    @property
    def title_key(self) -> str:
        return title_key(self.title)


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


def clean_text(value: str | None) -> str:
    """Plain text from feed text that may hold markup or (doubly) escaped entities."""
    if not value:
        return ""
    text = str(value)
    if "<" in text or "&" in text:
        tree = LexborHTMLParser(f"<body>{BLOCK_END.sub(lambda m: m.group(0) + ' ', text)}</body>")
        tree.strip_tags(["script", "style", "noscript", "template"])
        body = tree.body
        text = body.text(separator="") if body is not None else ""
        # Feeds that escape twice leave "&amp;#8217;" behind as "&#8217;" after one pass.
        if "&" in text:
            text = html.unescape(text)
    text = unicodedata.normalize("NFC", text).replace("\u00a0", " ")
    # Control and format characters never belong in a title; checking first (in C) spares the
    # character-by-character filter for the usual text that has none.
    if not text.replace("\t", "").replace("\n", "").isprintable():
        text = "".join(ch for ch in text if ch in "\t\n " or unicodedata.category(ch)[0] != "C")
    return re.sub(r"\s+", " ", text).strip()


def strip_display_type(title: str, category: str | None) -> str:
    """GOV.UK organisation feeds prefix every title with its display type ("Guidance: ...")."""
    if category and title.lower().startswith(category.lower() + ": "):
        return title[len(category) + 2 :].strip()
    return title


def title_key(title: str) -> str:
    """A title folded for matching the same report announced by several publishers."""
    folded = unicodedata.normalize("NFKC", title).translate(QUOTES).casefold()
    folded = folded.replace("&", " and ")
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", folded)).strip()


def to_datetime(value) -> datetime | None:
    """An aware datetime from a feedparser struct_time, a datetime or an ISO/RFC 822 string.

    Naive values are taken as London local time: that is what UK publishers mean by them.
    """
    if value is None or value == "":
        return None
    if isinstance(value, time.struct_time):
        # feedparser's *_parsed values are always UTC
        return datetime(*value[:6], tzinfo=timezone.utc)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=LONDON)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, 12, tzinfo=LONDON)
    text = str(value).strip()
    if ISO_DATE.match(text):
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=LONDON)
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=LONDON)


def london_date(value, order: str = "DMY") -> date | None:
    """The Europe/London calendar date of a timestamp or of a date written in UK styles.

    Handles "7th February 2025", "Monday 17 July 2023", "04 Oct 2023", "26/02/25",
    "Decision date : 04 Oct 2023", and month-first "October 10, 2022" when ``order="MDY"``.
    """
    moment = to_datetime(value)
    if moment is not None:
        return moment.astimezone(LONDON).date()
    if not isinstance(value, str):
        return None
    return _date_in_text(value, order)


def _date_in_text(text: str, order: str) -> date | None:
    patterns = [DAY_MONTH_YEAR, MONTH_DAY_YEAR] if order == "DMY" else [MONTH_DAY_YEAR, DAY_MONTH_YEAR]
    for pattern in patterns:
        match = pattern.search(text)
        if match:
            if pattern is DAY_MONTH_YEAR:
                day, month, year = match.group(1), match.group(2), match.group(3)
            else:
                month, day, year = match.group(1), match.group(2), match.group(3)
            found = _make_date(int(year), MONTHS[month.lower().rstrip(".")], int(day))
            if found:
                return found
    match = ISO_IN_TEXT.search(text)
    if match:
        return _make_date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    match = NUMERIC_DATE.search(text)
    if match:
        first, second, year = int(match.group(1)), int(match.group(2)), int(match.group(3))
        year += 2000 if year < 100 else 0
        day, month = (first, second) if order == "DMY" else (second, first)
        return _make_date(year, month, day)
    return None


def _make_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def utc_iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


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
