"""The workspace's own pages: triage, digests and the dashboard (routes of tracker.web).

Pages read through Datasette's connections and render with its Jinja environment
(autoescape on: feed text is never marked safe). The triage page writes nothing itself: its
buttons post to the canned queries, so the same checks and audit apply to every client.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import TYPE_CHECKING

from datasette.utils.asgi import NotFound, Request, Response

from tracker.text import is_http_url

from .workspace import ensure_table_visible, is_editor, login_redirect, workspace_database

if TYPE_CHECKING:
    from datasette.app import Datasette

DASHBOARD_WEEKS = 12
TOP_PUBLISHERS = 15


async def triage(request: Request, datasette: Datasette) -> Response:
    """This week's unreviewed candidates, best first, with accept/reject and theme chips."""
    if not is_editor(request.actor):
        return login_redirect(datasette, request)
    db = workspace_database(datasette)
    query = await datasette.get_canned_query(db.name, "candidates", request.actor)
    if query is None:
        raise NotFound("The candidates query is missing from metadata.yml")
    days = request.args.get("days", "7")
    days = days if days.isdigit() else "7"
    result = await db.execute(query["sql"], {"days": days})
    themes = {row["slug"]: row["label"] or row["slug"] for row in await db.execute(
        "select slug, label from themes order by coalesce(label, slug)")}
    candidates = []
    for row in result.rows:
        item = dict(row)
        item["theme_list"] = _json_list(item.get("themes"))
        item["link"] = item["url"] if is_http_url(item["url"]) else None
        candidates.append(item)
    html = await datasette.render_template(
        "tracker_triage.html",
        {"database": db.name, "candidates": candidates, "themes": themes, "days": days},
        request=request,
    )
    return Response.html(html)


async def digest_index(request: Request, datasette: Datasette) -> Response:
    db = workspace_database(datasette)
    private = await ensure_table_visible(datasette, request.actor, "digests")
    weeks = []
    if await db.table_exists("digests"):
        weeks = (await db.execute(
            "select week, generated_at from digests order by week desc limit 200")).rows
    html = await datasette.render_template(
        "tracker_digests.html", {"database": db.name, "private": private, "weeks": weeks},
        request=request,
    )
    return Response.html(html)


async def digest_week(request: Request, datasette: Datasette) -> Response:
    """One issue's list: the stored html (our own, every feed string escaped) and a copy button."""
    db = workspace_database(datasette)
    private = await ensure_table_visible(datasette, request.actor, "digests")
    week = request.url_vars["week"]
    rows = []
    if await db.table_exists("digests"):
        rows = (await db.execute("select * from digests where week = ?", [week])).rows
    if not rows:
        raise NotFound(f"No digest has been generated for {week}")
    html = await datasette.render_template(
        "tracker_digest.html", {"database": db.name, "private": private, "digest": dict(rows[0])},
        request=request,
    )
    return Response.html(html)


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
    labels = {row["slug"]: row["label"] or row["slug"] for row in await db.execute(
        "select slug, label from themes")}
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
    html = await datasette.render_template(
        "tracker_dashboard.html",
        {
            "database": db.name, "private": private, "by": by,
            "weeks": [w.isoformat() for w in weeks],
            "grid": grid, "theme_rows": theme_rows, "labels": labels, "peak": peak,
            "publishers": publishers,
            "publisher_peak": max([row["n"] for row in publishers] or [1]),
            "statuses": statuses,
        },
        request=request,
    )
    return Response.html(html)


def _week_starts(today: date, count: int) -> list[date]:
    monday = today - timedelta(days=today.weekday())
    return [monday - timedelta(weeks=n) for n in range(count - 1, -1, -1)]


def _json_list(text: str | None) -> list[str]:
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []
