"""The workspace's dashboard (a route of tracker.web): charts drawn server-side as SVG.

Pages read through Datasette's connections and render with its Jinja environment
(autoescape on: feed text is never marked safe).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from datasette.utils.asgi import Request, Response

from .judgement_pages import model_summary
from .workspace import ensure_table_visible, theme_labels, workspace_database

if TYPE_CHECKING:
    from datasette.app import Datasette

DASHBOARD_WEEKS = 12
TOP_PUBLISHERS = 15


async def dashboard(request: Request, datasette: Datasette) -> Response:
    """Charts drawn server-side as SVG: no script, no CDN, and no execute-sql for viewers."""
    db = workspace_database(datasette)
    private = await ensure_table_visible(datasette, request.actor, "publications")
    weeks = _week_starts(date.today(), DASHBOARD_WEEKS)
    # By default the week a publication reached us (the editors' workload); ?by=published
    # counts by the publisher's own date instead (late-found and imported items move back).
    by = "published" if request.args.get("by") == "published" else "first_seen"
    day = "published" if by == "published" else "substr(first_seen, 1, 10)"
    counts = await db.execute(
        f"""select t.value as theme, date(d, '-' || ((strftime('%w', d) + 6) % 7) || ' days') as week,
              count(*) as n
            from (select themes, {day} as d from publications where status != 'rejected') p,
              json_each(p.themes) t
            where d >= :since group by theme, week""",
        {"since": weeks[0].isoformat()},
    )
    labels = await theme_labels(db)
    grid: dict[str, dict[str, int]] = {}
    for row in counts.rows:
        grid.setdefault(row["theme"], {})[row["week"]] = row["n"]
    theme_rows = sorted(grid, key=lambda slug: -sum(grid[slug].values()))
    peak = max([n for per_week in grid.values() for n in per_week.values()] or [1])
    publishers = (await db.execute(
        """select publisher, count(*) as n from publications where status = 'accepted'
           group by publisher order by n desc, publisher limit :top""",
        {"top": TOP_PUBLISHERS},
    )).rows
    statuses = (await db.execute(
        "select status, count(*) as n from publications group by status order by status")).rows
    model = await model_summary(db)
    html = await datasette.render_template(
        "tracker_dashboard.html",
        {
            "database": db.name, "private": private, "by": by,
            "weeks": [w.isoformat() for w in weeks],
            "grid": grid, "theme_rows": theme_rows, "labels": labels, "peak": peak,
            "publishers": publishers,
            "publisher_peak": max([row["n"] for row in publishers] or [1]),
            "statuses": statuses, "model": model,
        },
        request=request,
    )
    return Response.html(html)


def _week_starts(today: date, count: int) -> list[date]:
    monday = today - timedelta(days=today.weekday())
    return [monday - timedelta(weeks=n) for n in range(count - 1, -1, -1)]
