"""The judgement's pages (routes of tracker.web): "not sure", the unreviewed publications the
classifier is least sure of, where an editor's click teaches it most; and the model page, the
scoring model's version and figures beside the weekly scorecard of sent issues.

Both only read. Decisions post to the canned queries, as triage's do.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import TYPE_CHECKING

from datasette.utils.asgi import Request, Response
from sqlite_utils import Database as UtilsDatabase

from tracker.dates import LONDON
from tracker.judgement.scorecard import TOPS, scorecard
from tracker.store.judgements import decisions_since, model_history, newest_model_time

from .digest_pages import coming_issue
from .triage_pages import _card, why_in_words
from .workspace import editors_only, ensure_table_visible, theme_labels, workspace_database

if TYPE_CHECKING:
    from datasette.app import Datasette
    from datasette.database import Database

NOT_SURE = 40
# The unreviewed publications nearest a decision boundary (see Classifier._boundaries), nearest
# first: the recorded distance is in why, so this is one indexed scan of the unreviewed rows.
NOT_SURE_SQL = """
select id, title, url, publisher, published, date_source, first_seen, summary, themes,
  candidate_score, why, verb, document_type, edited_title, edited_publisher, edited_verb, edited_published,
  status, json_extract(why, '$.boundary[0]') as boundary, json_extract(why, '$.boundary[1]') as margin
from publications
where status = 'new' and json_extract(why, '$.boundary[1]') is not null
order by margin, candidate_score desc, id desc
limit :limit
"""


@editors_only
async def not_sure(request: Request, datasette: Datasette) -> Response:
    db = workspace_database(datasette)
    themes = await theme_labels(db)
    today = datetime.now(LONDON).date()
    cards = []
    for row in (await db.execute(NOT_SURE_SQL, {"limit": NOT_SURE})).rows:
        card = _card(row, themes, today)
        card["unsure_about"] = f"{boundary_in_words(row['boundary'], themes)} ({nearness(row['margin'])})"
        cards.append(card)
    html = await datasette.render_template(
        "tracker_not_sure.html",
        {"database": db.name, "themes": themes, "cards": cards,
         "issue": (await coming_issue(datasette)).isoformat()},
        request=request)
    return Response.html(html)


def boundary_in_words(boundary: str | None, themes: dict[str, str]) -> str:
    """What the classifier is least sure of, as an editor reads it."""
    if boundary == "candidate":
        return "whether the newsletter lists it"
    if boundary == "remit":
        return "whether it is within the networks' remit at all"
    return f"whether it is about {themes.get(boundary or '', boundary)}"


def nearness(margin: float) -> str:
    """How near the line a score sits, to the three decimals an editor can tell apart (two
    said "within 0.00" of a score a thousandth from it)."""
    if margin < 0.0005:
        return "on the line"
    return f"within {margin:.3f} of the line"


async def model_page(request: Request, datasette: Datasette) -> Response:
    """The model that scores, the ones before it, and the weekly scorecard's trend."""
    db = workspace_database(datasette)
    private = await ensure_table_visible(datasette, request.actor, "publications")

    def read(conn: sqlite3.Connection) -> tuple[list[dict], list, int]:  # in Datasette's read thread
        database = UtilsDatabase(conn)
        if "models" not in database.table_names():
            return [], [], 0
        return (model_history(database), scorecard(database),
                decisions_since(database, newest_model_time(database)))

    models, weeks, pending = await db.execute_fn(read)
    themes = await theme_labels(db)
    for week in weeks:
        for row in week.low:
            row["why_words"] = why_in_words(row.get("why"), themes)
    html = await datasette.render_template(
        "tracker_model.html",
        {"database": db.name, "private": private, "models": models, "weeks": weeks, "tops": TOPS,
         "pending": pending, "themes": themes, "dumps": json.dumps},
        request=request,
    )
    return Response.html(html)


async def model_summary(db: Database) -> dict | None:
    """The scoring model's version, when it was trained and its cross-validated figures, for
    the dashboard; None while the shipped model scores."""
    if not await db.table_exists("models"):
        return None
    rows = (await db.execute("select version, trained_at, decisions, metrics from models"
                             " order by trained_at desc, rowid desc limit 1")).rows
    if not rows:
        return None
    row = dict(rows[0])
    try:
        row["metrics"] = json.loads(row["metrics"] or "{}")
    except ValueError:
        row["metrics"] = {}
    return row
