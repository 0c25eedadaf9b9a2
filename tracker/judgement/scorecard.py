"""The weekly scorecard: for each issue sent, how many of the week's accepted publications were
among tracker's top 10, 20 and 30 candidates that week, and the accepted ones it ranked low.

"That week's candidates" are the publications first seen (as a London date) in the 7 days
ending on the issue date, whatever became of them, ranked by candidate score: the order the
digest's candidate list and triage showed them in. Scores are as stored: retraining re-scores
only what is not yet reviewed, so a decided publication keeps the score it was decided on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

from tracker.dates import london_date

if TYPE_CHECKING:
    from sqlite_utils import Database

TOPS = (10, 20, 30)
WEEKS = 12
SHOWN_LOW = 5  # accepted publications ranked below the top 30, shown per week


@dataclass
class WeekScore:
    week: date
    sent: bool
    candidates: int  # publications first seen that week
    accepted: int  # of them, accepted
    within: dict[int, int]  # top N -> accepted ones ranked within it
    low: list[dict] = field(default_factory=list)  # accepted ones ranked below max(TOPS)


def scorecard(db: Database, weeks: int = WEEKS) -> list[WeekScore]:
    """The newest ``weeks`` issues marked sent, newest first; while none is marked sent, the
    stored issues (drafts) instead, so the trend shows from the first week."""
    issues = db.execute_returning_dicts("select week, sent_at from digests order by week desc")
    sent = [row for row in issues if row.get("sent_at")]
    return [_week(db, date.fromisoformat(row["week"]), bool(row.get("sent_at")))
            for row in (sent or issues)[:weeks]]


def _week(db: Database, week: date, sent: bool) -> WeekScore:
    first = week - timedelta(days=6)
    # first_seen is UTC: a day wider on each side, then the London date decides.
    rows = db.execute_returning_dicts(
        """select id, title, publisher, status, candidate_score, why, first_seen from publications
           where first_seen >= :lo and first_seen < :hi""",
        {"lo": (first - timedelta(days=1)).isoformat(), "hi": (week + timedelta(days=2)).isoformat()})
    pool = [row for row in rows if (seen := london_date(row["first_seen"])) and first <= seen <= week]
    pool.sort(key=lambda row: (-(row["candidate_score"] or 0.0), row["id"]))
    accepted = [(rank, row) for rank, row in enumerate(pool, 1) if row["status"] == "accepted"]
    return WeekScore(
        week=week, sent=sent, candidates=len(pool), accepted=len(accepted),
        within={top: sum(rank <= top for rank, _ in accepted) for top in TOPS},
        low=[{**row, "rank": rank} for rank, row in accepted if rank > max(TOPS)][:SHOWN_LOW],
    )
