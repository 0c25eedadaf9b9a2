"""Dates and times as the workspace's pages say them: London time, in words (Jinja filters
registered by tracker.web's prepare_jinja2_environment)."""

from __future__ import annotations

from datetime import date

from tracker import dates


def london_time(stamp: str | None) -> str:
    """A stored UTC stamp ("2026-11-30T22:56:27Z") as "30 November 2026 at 22:56", London time;
    anything that is not a timestamp as it is."""
    if not stamp:
        return ""
    try:
        return dates.london_time(stamp)
    except ValueError:
        return stamp


def day_words(day: date | str | None, year: bool = True) -> str:
    """"4 December 2026" ("4 December" without the year); a string that is no date as it is."""
    if isinstance(day, str):
        try:
            return day_words(date.fromisoformat(day), year)
        except ValueError:
            return day
    return "" if day is None else dates.long_date(day, year)
