"""What the commands share for reading their options: Click parses and checks every value, so
the library is handed dates and ints, and a bad value is one line and exit 2 like any user error."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

import click

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
DEFAULT_DB = "db/tracker.db"
DEFAULT_SOURCES = "sources.yaml"
Decorated = TypeVar("Decorated", bound=Callable[..., Any])


def file_option(flag: str, dest: str, help: str,
                default: str | None = None) -> Callable[[Decorated], Decorated]:
    """An option naming a file, relative to the current directory; a folder is refused."""
    return click.option(flag, dest, default=default, show_default=default is not None,
                        type=click.Path(dir_okay=False), help=help)


db_option = file_option("--db", "db_path", "SQLite database file", DEFAULT_DB)
sources_option = file_option("--sources", "sources_path", "Sources file (YAML)", DEFAULT_SOURCES)


class IsoDate(click.ParamType):
    """A date written YYYY-MM-DD, strictly: "4/7/2025" is never guessed at; and within the
    years a newsletter can mean, so that the windows and next days computed from it stay
    inside the calendar Python has (year 1 to 9999)."""

    name = "date"
    earliest, latest = date(1900, 1, 1), date(2999, 12, 31)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        if not ISO_DATE.fullmatch(value):
            self.fail(f"expected a date as YYYY-MM-DD, got {value!r}", param, ctx)
        try:
            day = date.fromisoformat(value)
        except ValueError:
            self.fail(f"{value} is not a real date", param, ctx)
        if not self.earliest <= day <= self.latest:
            self.fail(f"{value} is out of range: use a date from {self.earliest} to {self.latest}",
                      param, ctx)
        return day

