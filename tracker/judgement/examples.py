"""Labelled examples: the shipped labelled file and the editors' decisions, as ``Example``s."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from tracker import TrackerError
from tracker.paths import DATA

from .themes import theme_list

if TYPE_CHECKING:
    from sqlite_utils import Database

LABELLED_FILE = DATA / "labelled.jsonl"
EDITOR_WEIGHT = 2.0
HALF_LIFE_DAYS = 182.0


@dataclass
class Example:
    title: str
    summary: str
    publisher: str
    themes: tuple[str, ...] | None  # None: nobody has said which themes it has
    candidate: bool | None  # None: nobody has accepted or rejected it
    # How much the fit counts it: 1 for a shipped example, more for an editor's decision (this
    # newsletter's own taste), less the older that decision is (see ``decision_weight``).
    weight: float = 1.0
    by_editor: bool = False  # an editor's decision, not a shipped example

    def as_item(self) -> dict:
        return {"title": self.title, "summary": self.summary, "publisher": self.publisher}


def read_labelled(path: Path) -> list[dict]:
    """A labelled JSON-lines file's records; a broken line is an error naming its line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as ex:
        raise TrackerError(f"cannot read {path}: {ex}") from None
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as ex:
            raise TrackerError(f"{path}, line {number}: not valid JSON ({ex.msg})") from None
        if not isinstance(record, dict) or not isinstance(record.get("title"), str):
            raise TrackerError(f"{path}, line {number}: expected an object with a title")
        records.append(record)
    return records


def examples_from_records(records: list[dict]) -> list[Example]:
    examples = []
    for record in records:
        themes = record.get("themes")
        candidate = record.get("candidate")
        examples.append(Example(
            title=record["title"], summary=record.get("summary") or "",
            publisher=record.get("publisher") or "",
            themes=tuple(themes) if isinstance(themes, list) else None,
            candidate=candidate if isinstance(candidate, bool) else None,
        ))
    return examples


def decision_weight(age_days: float) -> float:
    """An editor's decision counts EDITOR_WEIGHT shipped examples when it is the newest, half
    that HALF_LIFE_DAYS older. The weight was chosen on development streams cut from the shipped
    labelled file (benchmarks/bench_learning.py --develop; 2 against 1, 5 and 10), never on the
    independent file; the half-life was fixed a priori. The editors' own taste is heard through
    each column's correction fitted on their decisions alone (fitting), so a decision need not
    outweigh several shipped examples for it to count."""
    return EDITOR_WEIGHT * 0.5 ** (max(age_days, 0.0) / HALF_LIFE_DAYS)


def examples_from_db(db: Database) -> list[Example]:
    """The editors' decisions: accepted/rejected gives the candidate label; themes count as
    labels once they are the editors' (themes_by_editor: set by an editor's add or remove, by a
    script's SQL, or accepted as the card showed them, see migrations m014 and m015; or an
    add/remove in the audit log). A rejection untouched says nothing of its themes. Read only
    where changed, the themes were a sample of the classifier's mistakes alone, and learning
    from 160 decisions fell to nothing (benchmarks/data/EVALUATIONS.md, evaluation 13).
    Each is weighted by ``decision_weight`` of its age relative to the newest decision (so a
    database nobody touches does not decay), reviewed_at, else first_seen, dating it."""
    rows = db.execute_returning_dicts(
        """select title, summary, publisher, status, themes,
             coalesce(reviewed_at, first_seen) as decided,
             themes_by_editor or exists (
               select 1 from audit_log a where a.publication_id = p.id
               and a.action in ('add_theme', 'remove_theme')) as themes_reviewed
           from publications p
           where status in ('accepted', 'rejected') or themes_by_editor = 1
              or id in (select publication_id from audit_log
                        where action in ('add_theme', 'remove_theme'))"""
    )
    moments = [_moment(row["decided"]) for row in rows]
    newest = max((m for m in moments if m is not None), default=None)
    return [
        Example(row["title"], row["summary"] or "", row["publisher"] or "",
                tuple(theme_list(row["themes"])) if row["themes_reviewed"] else None,
                None if row["status"] == "new" else row["status"] == "accepted",
                decision_weight((newest - moment).total_seconds() / 86400 if moment and newest else 0.0),
                by_editor=True)
        for row, moment in zip(rows, moments, strict=True)
    ]


def _moment(value: str | None) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
    return moment.replace(tzinfo=moment.tzinfo or timezone.utc) if moment else None
