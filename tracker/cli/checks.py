"""``tracker sources check`` on the terminal: a table of the sources, then the sources.yaml
entries that could replace the failing ones; or the same as JSON."""

from __future__ import annotations

import json
import sys
from datetime import date

import click

from tracker.ingest.check import SourceCheck

from .plural import counted


def render_checks(checks: list[SourceCheck], as_json: bool, today: date) -> None:
    if as_json:
        click.echo(json.dumps([check.as_dict(today) for check in checks], indent=2, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=False)
    for column, justify in (("source", "left"), ("type", "left"), ("works", "left"),
                            ("items", "right"), ("newest", "left"), ("what is wrong", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for check in checks:
        table.add_row(check.source.id, check.source.type, "yes" if check.works else "NO",
                      str(check.items), check.newest or "", check.problem or "")
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    console.print(table, markup=False)
    failing = sum(not check.works for check in checks)
    click.echo(f"{counted(len(checks), 'source')} checked: {len(checks) - failing} work, {failing} do not.")
    proposals = [check for check in checks if check.proposal is not None]
    if proposals:
        click.echo("\nProposed replacements for sources.yaml (found and read just now):\n")
        for check in proposals:
            assert check.proposal is not None
            reason = "it fails" if not check.works else "it depends on CSS selectors"
            click.echo(f"  # {check.source.id}: {reason}; instead:")
            click.echo(check.proposal.snippet(check.source, today) + "\n")
    no_alternative = [c.source.id for c in checks if not c.works and c.proposal is None]
    if no_alternative:
        click.echo("No feed, WordPress API or sitemap found for: " + ", ".join(no_alternative))
