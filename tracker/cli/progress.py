"""A poll on the terminal: a progress bar while sources are polled, a summary table after."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Literal

from tracker.ingest.poll import PollSummary, ProgressCallback, SourceOutcome

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress


class ProgressBar:
    """``with ProgressBar(enabled) as on_progress``: a bar on stderr while a pass runs, given to
    poll_sources as its progress callback; nothing when output is piped (cron, tests)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._bar: Progress | None = None

    def __enter__(self) -> ProgressCallback | None:
        if not self.enabled:
            return None
        from rich.progress import Progress

        bar = self._bar = Progress(transient=True, console=_console(stderr=True))
        bar.start()
        task = bar.add_task("Polling", total=None)

        def advance(done: int, total: int, outcome: SourceOutcome | None) -> None:
            bar.update(task, completed=done, total=total,
                       description=outcome.source_id if outcome else "Polling")

        return advance

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def render_summary(summary: PollSummary) -> None:
    """Print one row per source (new, updated, unchanged, error) and a closing total."""
    from rich.table import Table

    table = Table(title=None, show_lines=False)
    columns: list[tuple[str, Literal["left", "right"]]] = [
        ("source", "left"), ("new", "right"), ("updated", "right"), ("unchanged", "right"),
        ("result", "left")]
    for column, justify in columns:
        table.add_column(column, justify=justify)
    for o in summary.outcomes:
        result = o.error if o.error else o.outcome
        table.add_row(o.source_id, str(o.new), str(o.updated), str(o.unchanged), result)
    console = _console()
    console.print(table)
    console.print(
        f"{_count(len(summary.outcomes), 'source')} polled in {summary.seconds:.1f}s: "
        f"{_count(len(summary.new_ids), 'new publication')}, "
        f"{_count(len(summary.failed), 'source')} failed"
    )
    if summary.classify_error:
        console.print(f"New publications stored but not classified: {summary.classify_error}")


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, width=None if sys.stdout.isatty() else 120)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
