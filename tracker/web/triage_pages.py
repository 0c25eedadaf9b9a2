"""Triage (a route of tracker.web): this week's candidates as cards an editor decides in minutes.

The page writes nothing itself: its buttons post to the canned queries (set_status, add_theme,
remove_theme, edit_line) or to the audited routes of tracker.web.action_pages, so the same checks
and audit apply to every client. What a card says in words (why the classifier scored it so,
its age) are pure functions of the row, tested without a server.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime
from typing import TYPE_CHECKING, Collection

from datasette.utils.asgi import NotFound, Request, Response

from tracker.dates import LONDON, london_date
from tracker.judgement.themes import theme_list
from tracker.publish.kinds import suggest_verb
from tracker.text import is_http_url

from .action_pages import forget_add_form, typed_add_form
from .digest_pages import coming_issue
from .workspace import digits, editors_only, theme_labels, workspace_database

if TYPE_CHECKING:
    from datasette.app import Datasette

# Scores at or above this are the likely candidates, shown first; the rest fold into a tail.
LIKELY = 0.5
# Cards a page: what an editor decides at a sitting, and what renders fast at a million rows.
PAGE = 50
DECIDED = 50  # the latest decisions shown for Undo
UNITS = (("year", 365), ("month", 30), ("week", 7), ("day", 1))


def why_in_words(why: str | None, labels: dict[str, str], assigned: Collection[str] = ()) -> list[str]:
    """The classifier's ``why`` (rules fired per theme, strongest terms per theme and for the
    candidate score, phrases that mark a non-candidate) as short sentences for an editor.

    The sentences agree with the themes the card shows (``assigned``): a theme's phrases may
    match while the classifier judged the publication outside the networks' remit, or not about
    that theme (or an editor removed it), and the card then says so rather than list a theme
    it does not carry."""
    try:
        value = json.loads(why or "{}")
    except ValueError:
        return []
    if not isinstance(value, dict):
        return []
    said = []
    rules = value.get("rules")
    if isinstance(rules, dict) and rules:
        fired = {slug: f"{labels.get(slug, slug)} ({', '.join(_quoted(phrases))})"
                 for slug, phrases in rules.items() if isinstance(phrases, list)}
        kept = [words for slug, words in fired.items() if slug in assigned]
        left = [words for slug, words in fired.items() if slug not in assigned]
        if kept:
            said.append(f"Matched the phrases of its themes: {'; '.join(kept)}.")
        if left and not assigned:
            said.append(f"Phrases of {'; '.join(left)} matched, but it was judged outside the "
                        "networks' remit, so it has no theme.")
        elif left:
            said.append(f"Phrases of {'; '.join(left)} matched, but it was not judged to be about "
                        f"{'that theme' if len(left) == 1 else 'those themes'}.")
    terms = value.get("terms")
    if isinstance(terms, dict) and isinstance(terms.get("candidate"), list) and terms["candidate"]:
        said.append(f"Words that raised its score: {', '.join(_quoted(terms['candidate']))}.")
    blocked = value.get("not_candidate")
    if isinstance(blocked, list) and blocked:
        said.append(f"Looks like something the newsletter does not list: {', '.join(_quoted(blocked))}.")
    return said


def _quoted(words: list) -> list[str]:
    return [f"“{word}”" for word in words if isinstance(word, str) and word]


def age(day: date | None, today: date, *, seen: bool = False) -> str:
    """"published 5 months ago", or "first seen 3 days ago" for a publication without a date."""
    if day is None:
        return ""
    verb = "first seen" if seen else "published"
    days = (today - day).days
    if days < 0:
        return f"{verb} {day.isoformat()}, in the future"
    if days == 0:
        return f"{verb} today"
    if days == 1:
        return f"{verb} yesterday"
    count, unit = next((days // size, unit) for unit, size in UNITS if days >= size)
    return f"{verb} {count} {unit}{'' if count == 1 else 's'} ago"


@editors_only
async def triage(request: Request, datasette: Datasette) -> Response:
    """This week's unreviewed candidates a page at a time (``?after=ID`` goes on from that card):
    the likely ones first, the unlikely tail folded; the upstream updates of stored
    publications; the latest decisions of the same days, each with Undo."""
    db = workspace_database(datasette)
    days = digits(request.args.get("days")) or "7"
    after = digits(request.args.get("after"))
    rank_from = digits(request.args.get("rank"))
    first_rank = int(rank_from) if rank_from and after else 1
    themes = await theme_labels(db)
    typed = typed_add_form(datasette, request)  # the add form's fields before a refusal
    today = datetime.now(LONDON).date()
    rows = (await db.execute(CANDIDATES_SQL, {"days": days, "after": after, "page": PAGE + 1})).rows
    candidates = [_card(row, themes, today) for row in rows[:PAGE]]
    for rank, item in enumerate(candidates, first_rank):
        item["rank"] = rank
    more = None
    if len(rows) > PAGE:
        more = {"days": days, "after": candidates[-1]["id"], "rank": first_rank + PAGE}
    count = (await db.execute(COUNT_SQL, {"days": days})).first()[0]
    decided = [_card(row, themes, today) for row in (await db.execute(DECIDED_SQL, {"days": days})).rows]
    updates = []
    if await db.table_exists("publication_updates"):
        updates = [{**row, "link": row["url"] if is_http_url(row["url"]) else None}
                   for row in map(dict, (await db.execute(UPDATES_SQL)).rows)]
    html = await datasette.render_template(
        "tracker_triage.html",
        {"database": db.name, "themes": themes, "days": days, "updates": updates,
         "likely": [item for item in candidates if (item["candidate_score"] or 0) >= LIKELY],
         "unlikely": [item for item in candidates if (item["candidate_score"] or 0) < LIKELY],
         "decided": decided, "likely_score": LIKELY, "count": count, "first_rank": first_rank,
         "more": more, "page": PAGE, "decided_shown": DECIDED,
         "issue": (await coming_issue(datasette)).isoformat(), "add": typed},
        request=request,
    )
    response = Response.html(html)
    if typed is not None:
        forget_add_form(datasette, response)
    return response


CARD_COLUMNS = """id, title, url, publisher, published, date_source, first_seen, summary, themes,
  candidate_score, why, verb, document_type, edited_title, edited_publisher, edited_verb, edited_published,
  status, reviewed_at"""
WINDOW = """status = 'new'
  and first_seen >= strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-' || :days || ' days')"""
# The candidates query's ranking (metadata.yml), as one descending key so that a page can go on
# after a card: the score (none last), the themes matched, the date, the id.
RANK_TERMS = ("coalesce(candidate_score, -1)", "json_array_length(themes)",
              "coalesce(published, substr(first_seen, 1, 10))", "id")
RANK_KEY = ", ".join(RANK_TERMS)
# A page and one more (to know whether there is a next page), read from the window of the
# (status, first_seen) index; the key of ?after= is that card's key as it is now.
CANDIDATES_SQL = f"""
select {CARD_COLUMNS}
from publications
where {WINDOW}
  and (:after = '' or ({RANK_KEY}) < (select {RANK_KEY} from publications where id = :after))
order by {", ".join(f"{term} desc" for term in RANK_TERMS)}
limit :page
"""
COUNT_SQL = f"select count(*) from publications where {WINDOW}"
# The same days' latest decisions, newest first, so that one made by mistake can be undone.
DECIDED_SQL = f"""
select {CARD_COLUMNS}
from publications
where status in ('accepted', 'rejected')
  and reviewed_at >= strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-' || :days || ' days')
order by reviewed_at desc, id desc
limit {DECIDED}
"""
UPDATES_SQL = """
select u.id, u.publication_id, u.kind, u.change_note, u.old_value, u.new_value, u.upstream_at,
  u.seen_at, coalesce(p.edited_title, p.title) as title, p.url,
  coalesce(p.edited_publisher, p.publisher) as publisher
from publication_updates u join publications p on p.id = u.publication_id
where u.status = 'new'
order by coalesce(u.upstream_at, u.seen_at) desc, u.id desc
limit 200
"""


@editors_only
async def publication(request: Request, datasette: Datasette) -> Response:
    """One publication's card, whatever its status: the page the issue's list links each line
    to, so that an editor who spots a wrong verb or date fixes it there."""
    db = workspace_database(datasette)
    rows = (await db.execute(f"select {CARD_COLUMNS} from publications where id = :id",
                             {"id": request.url_vars["id"]})).rows
    if not rows:
        raise NotFound(f"No publication #{request.url_vars['id']}")
    themes = await theme_labels(db)
    html = await datasette.render_template(
        "tracker_publication.html",
        {"database": db.name, "themes": themes, "issue": (await coming_issue(datasette)).isoformat(),
         "item": _card(rows[0], themes, datetime.now(LONDON).date())},
        request=request,
    )
    return Response.html(html)


def _card(row: sqlite3.Row, themes: dict[str, str], today: date) -> dict:
    """A publication as its triage card shows it: the line as edited, why it scored, its age."""
    item = dict(row)
    item["theme_list"] = theme_list(item.get("themes"))
    item["link"] = item["url"] if is_http_url(item["url"]) else None
    item["why_words"] = why_in_words(item.get("why"), themes, item["theme_list"])
    item["score"] = score_text(item.get("candidate_score"))
    day = item.get("edited_published") or item.get("published")
    seen = london_date(item["first_seen"])
    item["age"] = age(_date(day), today) if day else age(seen, today, seen=True)
    item["line"] = {
        "title": item.get("edited_title") or item["title"],
        "publisher": item.get("edited_publisher") or item.get("publisher") or "",
        "verb": item.get("edited_verb") or item.get("verb")
        or suggest_verb(item["title"], item.get("document_type"), item["url"]),
        "published": day or (seen.isoformat() if seen else ""),
    }
    return item


def score_text(score: float | None) -> str:
    """The score to the four decimals it is stored with, trailing zeros dropped down to two:
    "0.91", "0.9996" (near 1 the calibrated scores crowd, and two decimals would show ties)."""
    if score is None:
        return "–"
    text = f"{score:.4f}"
    while text.endswith("0") and len(text) > 4:
        text = text[:-1]
    return text


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None

