"""What the judgement stage keeps: each publication's themes and candidate score as the
classifier last gave them, and the models `tracker train` fits."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Iterable, NamedTuple

from sqlite_utils import Database

from tracker.dates import utc_iso

from .database import write_transaction


class Score(NamedTuple):
    publication_id: int
    themes: list[str]
    candidate_score: float
    model_version: str
    why: dict


def save_scores(db: Database, scores: Iterable[Score]) -> None:
    """Store a batch of scores in one transaction. Never changes a status, nor themes an editor
    has set: the update itself checks ``themes_by_editor``, so an editor's edit made while the
    batch was being scored still wins."""
    # Encoded before the write lock is taken, so the lock is held for the updates alone.
    rows = [(json.dumps(s.themes), s.candidate_score, s.model_version, json.dumps(s.why), s.publication_id)
            for s in scores]
    with write_transaction(db):
        db.conn.executemany(
            """update publications set
                 themes = case when themes_by_editor = 1 then themes else ? end,
                 candidate_score = ?, model_version = ?, why = ?
               where id = ?""",
            rows,
        )


# A publication that may be scored: not one of a source never scored (judgments, whose
# automated classification the Open Justice Licence leaves out; sources.scored, migration m016).
MAY_BE_SCORED = "coalesce(source_id, '') not in (select id from sources where scored = 0)"


def unscored_since(db: Database, since: datetime) -> list[int]:
    """Publications still 'new' first seen since ``since`` that have no score and may have one:
    stored by a poll stopped before it classified them. Read through the (status, first_seen)
    index, so the rows older than ``since`` are never visited."""
    return [row[0] for row in db.execute(
        f"select id from publications where status = 'new' and first_seen >= ?"
        f" and candidate_score is null and {MAY_BE_SCORED}", [utc_iso(since)])]


def save_model(db: Database, version: str, model: bytes, *, trained_at: str, examples: int,
               metrics: dict, themes_digest: str, data_digest: str, decisions: int = 0,
               trigger: str = "train") -> None:
    """Store a fitted model (``model``: its arrays as .npz bytes) under its version, with how
    many editors' decisions it learnt from and what fitted it ('train' or 'background')."""
    with write_transaction(db):
        db.table("models").insert({
            "version": version, "trained_at": trained_at, "examples": examples,
            "metrics": json.dumps(metrics), "themes_digest": themes_digest,
            "data_digest": data_digest, "model": model, "decisions": decisions, "trigger": trigger,
        }, replace=True)


def decisions_since(db: Database, moment: str | None) -> int:
    """Editors' accept/reject decisions made after ``moment`` (an ISO UTC time; None: ever)."""
    return db.execute(
        "select count(*) from publications where status in ('accepted', 'rejected')"
        " and reviewed_at is not null and (? is null or reviewed_at > ?)", [moment, moment]
    ).fetchone()[0]


def newest_model_time(db: Database) -> str | None:
    """When the newest stored model was trained (ISO UTC), None before the first."""
    return db.execute("select max(trained_at) from models").fetchone()[0]


def model_history(db: Database, limit: int = 10) -> list[dict]:
    """The newest stored models, newest first, without their arrays: version, trained_at,
    examples, decisions, trigger and metrics (a dict)."""
    rows = db.execute_returning_dicts(
        "select version, trained_at, examples, decisions, trigger, metrics from models"
        " order by trained_at desc, rowid desc limit ?", [limit])
    for row in rows:
        try:
            row["metrics"] = json.loads(row["metrics"] or "{}")
        except ValueError:
            row["metrics"] = {}
    return rows
