"""The one way every command fails for a reason the user can fix: a line on stderr, exit 2."""

from __future__ import annotations

import errno
import functools
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any, ParamSpec, TypeVar

import click

from tracker import TrackerError

P = ParamSpec("P")
R = TypeVar("R")
# Failures of the file or the machine rather than of tracker, which may surface in the middle
# of any command: a database damaged inside (its header and schema read fine), a full or
# read-only disk. Any other database or OS error is a bug, and keeps its traceback.
DATABASE_FAULTS = ("malformed", "not a database", "disk i/o error", "readonly database",
                   "unable to open", "disk is full", "database is locked")
DISK_FAULTS = {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT}


class UsageError(click.ClickException):
    """CONTRACT: a user-caused error is one line on stderr and exit status 2."""

    exit_code = 2

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True)


class Interrupted(UsageError):
    """Ctrl-C: the shell's status for a process ended by SIGINT (128 + 2), so that cron and
    scripts can tell it from a failure."""

    exit_code = 130


class OneLineErrors(click.Group):
    """The command group under which Click's own errors are reported as every user error is
    (CONTRACT), one line on stderr: a bad option, argument or command of any command, where
    Click prints the usage and a hint first, and Ctrl-C, where it prints a blank line and
    "Aborted!" with exit status 1."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        with _in_one_line():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        # Every subcommand and subgroup parses its arguments and runs inside this.
        with _in_one_line():
            return super().invoke(ctx)


# A group run bare prints its help: Click 8.2 on raises this usage error to do it, which is not
# one to shorten; 8.1 (pyproject allows it) prints the help and exits, and has no such class.
BARE_GROUP: Any = getattr(click.exceptions, "NoArgsIsHelpError", ())


@contextmanager
def _in_one_line() -> Iterator[None]:
    try:
        yield
    except BARE_GROUP:
        raise
    except click.UsageError as ex:
        # Without a context Click prints the reason alone.
        raise click.UsageError(ex.format_message()) from None
    except KeyboardInterrupt:
        raise Interrupted("interrupted (Ctrl-C)") from None
    except click.Abort:
        # What Click's prompts raise for Ctrl-C or Ctrl-D (end of input) at the prompt.
        raise Interrupted("interrupted at the prompt (Ctrl-C or Ctrl-D)") from None


def user_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn the package's known errors into a one-line message and exit 2, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except TrackerError as ex:
            raise UsageError(str(ex)) from None
        except sqlite3.DatabaseError as ex:
            if not any(fault in str(ex).lower() for fault in DATABASE_FAULTS):
                raise
            raise UsageError(f"the database cannot be used: {ex} (restore it from a backup if it "
                             "is damaged)") from None
        except OSError as ex:
            if ex.errno not in DISK_FAULTS:
                raise
            raise UsageError(f"{ex.filename or 'a file'}: {ex.strerror}") from None

    return wrapper
