"""/-/coverage (a route of tracker.web): for each sent or imported issue, how much of its list
the sources had found by the issue date, how early, and what editors had to add by hand.

The same measure as ``tracker coverage`` (tracker.publish.coverage), with the sources the
last poll was configured with, as the sources table keeps them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from datasette.utils.asgi import Request, Response
from sqlite_utils import Database

from tracker.publish.coverage import Coverage, measure_coverage, past_issues, stored_sources

from .workspace import ensure_table_visible, workspace_database

if TYPE_CHECKING:
    import sqlite3

    from datasette.app import Datasette

ISSUES_SHOWN = 26  # half a year of weekly issues


def _measure(conn: sqlite3.Connection) -> list[Coverage]:
    db = Database(conn)
    sources = stored_sources(db)
    issues = list(past_issues(db).items())[:ISSUES_SHOWN]
    return [measure_coverage(db, items, issue_date, sources) for issue_date, items in issues]


async def coverage(request: Request, datasette: Datasette) -> Response:
    db = workspace_database(datasette)
    private = await ensure_table_visible(datasette, request.actor, "publications")
    measured = await db.execute_fn(_measure)
    rows = []
    for issue in measured:
        leads = [e.lead_days for e in issue.entries if e.found and e.lead_days is not None]
        rows.append({
            "issue": issue.issue_date.isoformat(), "entries": len(issue.entries), "found": issue.found,
            "recall": issue.recall, "polled": issue.polled, "publisher_coverage": issue.publisher_coverage,
            "median_lead": sorted(leads)[len(leads) // 2] if leads else None,
            "missed": [(p, n - f) for p, (f, n) in issue.by_publisher().items() if n > f],
        })
    manual = measured[0].manual.most_common() if measured else []
    html = await datasette.render_template(
        "tracker_coverage.html", {"database": db.name, "private": private, "rows": rows, "manual": manual},
        request=request,
    )
    return Response.html(html)
