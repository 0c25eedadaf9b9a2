"""``tracker coverage`` on the terminal: each entry of the issue with what tracker held, then
recall and publisher coverage, overall and by publisher; or the same as JSON."""

from __future__ import annotations

import json

import click

from tracker.publish.coverage import Coverage


def coverage_dict(coverage: Coverage) -> dict:
    return {
        "issue": coverage.issue_date.isoformat(),
        "entries": [
            {"date": e.item.date.isoformat(), "publisher": e.item.publisher, "title": e.item.title,
             "polled": e.polled, "found": e.found, "publication_id": e.publication_id,
             "source": e.source_id, "first_seen": e.first_seen.isoformat() if e.first_seen else None,
             "lead_days": e.lead_days}
            for e in coverage.entries
        ],
        "found": coverage.found, "polled": coverage.polled, "total": len(coverage.entries),
        "recall": coverage.recall, "publisher_coverage": coverage.publisher_coverage,
        "by_publisher": {p: {"found": f, "entries": n} for p, (f, n) in coverage.by_publisher().items()},
        "added_by_hand": dict(coverage.manual.most_common()),
    }


def render_coverage(coverage: Coverage, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(coverage_dict(coverage), indent=2, ensure_ascii=False))
        return
    for e in coverage.entries:
        if e.found:
            held = f"found by {e.source_id}, {e.lead_days} days before"
        elif e.source_id:
            held = "missed: added by hand"
        else:
            held = "missed" + ("" if e.polled else " (no source polls this publisher)")
        click.echo(f"{e.item.date.isoformat()}  {e.item.publisher}: {e.item.title[:70]}\n    {held}")
    total = len(coverage.entries)
    click.echo(f"\nRecall: {coverage.found} of {total} entries found by a source ({_share(coverage.recall)})")
    click.echo(f"Publisher coverage: {coverage.polled} of {total} entries from a polled publisher "
               f"({_share(coverage.publisher_coverage)})")
    click.echo("\nBy publisher (found / entries):")
    for publisher, (found, entries) in coverage.by_publisher().items():
        click.echo(f"  {found}/{entries}  {publisher}")
    if coverage.manual:
        click.echo("\nAdded by hand, so missed by every source (the sources to add next):")
        for publisher, count in coverage.manual.most_common():
            click.echo(f"  {count}  {publisher}")


def _share(value: float | None) -> str:
    return "no entries" if value is None else f"{value:.2f}"
