"""A poll on the terminal: a progress bar while sources are polled, a summary after."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from tracker.ingest.poll import PollSummary, ProgressCallback, SourceOutcome

from .plural import counted

if TYPE_CHECKING:
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
        from rich.console import Console
        from rich.progress import Progress

        bar = self._bar = Progress(transient=True, console=Console(stderr=True, highlight=False))
        bar.start()
        task = bar.add_task("Polling", total=None)

        def advance(done: int, total: int, outcome: SourceOutcome | None) -> None:
            bar.update(task, completed=done, total=total,
                       description=outcome.source_id if outcome else "Polling")

        return advance

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def render_summary(summary: PollSummary, every_source: bool = False) -> None:
    """Print a row for each source with something to say (new or updated publications, skipped
    entries, an error), the quiet rest counted on one line, and a closing total;
    ``every_source``: a row for every source."""
    told = [o for o in summary.outcomes if every_source or _has_news(o)]
    # Plain aligned text, not a rich table: the same for a terminal, a pipe and cron's mail,
    # and a few milliseconds for hundreds of rows rather than most of a second.
    lines = _aligned([("source", "new", "updated", "unchanged", "result")] + [
        (o.source_id, str(o.new), str(o.updated), str(o.unchanged), _result(o)) for o in told
    ]) if told else []
    quiet = len(summary.outcomes) - len(told)
    if quiet:
        lines.append(f"{counted(quiet, 'source')} unchanged")
    # Deferred (a failing host, a rate limit, the pass's time limit): not counted as polled.
    deferred = sum(o.outcome == "deferred" for o in summary.outcomes)
    lines.append(
        f"{counted(len(summary.outcomes) - deferred, 'source')} polled in {summary.seconds:.1f}s: "
        f"{counted(len(summary.new_ids), 'new publication')}, "
        f"{counted(len(summary.failed), 'source')} failed" + (f"; {deferred} not polled" if deferred else "")
    )
    click.echo("\n".join(lines))
    if summary.classify_error:
        click.echo(f"New publications stored but not classified: {summary.classify_error}")


def _aligned(rows: list[tuple[str, str, str, str, str]]) -> list[str]:
    """The source left-aligned, the three counts right-aligned, the result as it is."""
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    return ["  ".join([row[0].ljust(widths[0]),
                       *(cell.rjust(width) for cell, width in zip(row[1:4], widths[1:4], strict=True)),
                       row[4]]) for row in rows]


def _has_news(outcome: SourceOutcome) -> bool:
    return bool(outcome.new or outcome.updated or outcome.skipped or outcome.error)


def _result(outcome: SourceOutcome) -> str:
    if outcome.error:
        return outcome.error
    if outcome.skipped:
        return f"{outcome.outcome}, {counted(outcome.skipped, 'entry', 'entries')} skipped"
    return outcome.outcome

