"""Dates as UK publishers write them, and the Europe/London calendar the newsletter uses."""

from __future__ import annotations

import re
import time
from datetime import date, datetime, timezone
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
# What feeds and pages give as a date: feedparser's UTC struct_time, a datetime or date, or text.
DateLike = str | date | time.struct_time | None

MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)
# Month names and the abbreviations UK publishers write, lower case -> month number.
MONTHS = {
    name: number
    for number, abbreviations in enumerate(
        [
            ("jan",), ("feb",), ("mar",), ("apr",), (), ("jun",), ("jul",), ("aug",),
            ("sep", "sept"), ("oct",), ("nov",), ("dec",),
        ],
        start=1,
    )
    for name in (MONTH_NAMES[number - 1].lower(), *abbreviations)
}
_MONTH = (r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
          r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
DAY_MONTH_YEAR = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+(\d{{4}})\b", re.I)
MONTH_DAY_YEAR = re.compile(rf"\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.I)
NUMERIC_DATE = re.compile(r"\b(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})\b")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
ISO_IN_TEXT = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")


def to_datetime(value: DateLike) -> datetime | None:
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
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=LONDON)
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=LONDON)


def london_date(value: DateLike, order: str = "DMY") -> date | None:
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


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def utc_iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def utc_time_words(moment: datetime) -> str:
    """When a server asked us to wait until: "14:05 UTC" today, "14:05 UTC on 3 Dec" after."""
    moment = moment.astimezone(timezone.utc)
    if moment.date() == utc_now().date():
        return moment.strftime("%H:%M UTC")
    return moment.strftime("%H:%M UTC on %d %b").replace(" 0", " ")


def long_date(day: date, year: bool = True) -> str:
    """"4 December 2026" ("4 December" without the year), as the newsletter writes dates."""
    words = f"{day.day} {MONTH_NAMES[day.month - 1]}"
    return f"{words} {day.year}" if year else words


def london_time(stamp: str, at: str = " at ") -> str:
    """A stored UTC stamp ("2026-11-30T22:56:27Z", naive ones UTC too) as "30 November 2026 at
    22:56" in London time, ``at`` between the day and the time. Raises ValueError for text that
    is no timestamp."""
    moment = datetime.fromisoformat(stamp)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    local = moment.astimezone(LONDON)
    return f"{long_date(local.date())}{at}{local:%H:%M}"
