"""Labelled examples: the shipped labelled file and the editors' decisions, as ``Example``s."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tracker import TrackerError
from tracker.paths import DATA

from .themes import theme_list

if TYPE_CHECKING:
    from sqlite_utils import Database

LABELLED_FILE = DATA / "labelled.jsonl"


@dataclass
class Example:
    title: str
    summary: str
    publisher: str
    themes: tuple[str, ...] | None  # None: nobody has said which themes it has
    candidate: bool | None  # None: nobody has accepted or rejected it

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


def examples_from_db(db: Database) -> list[Example]:
    """The editors' decisions: accepted/rejected gives the candidate label; themes count as
    labels once an editor has set them (themes_by_editor, or an add/remove in the audit log)."""
    rows = db.execute_returning_dicts(
        """select title, summary, publisher, status, themes,
             themes_by_editor or exists (
               select 1 from audit_log a where a.publication_id = p.id
               and a.action in ('add_theme', 'remove_theme')) as themes_reviewed
           from publications p
           where status in ('accepted', 'rejected') or themes_by_editor = 1
              or id in (select publication_id from audit_log
                        where action in ('add_theme', 'remove_theme'))"""
    )
    return [
        Example(row["title"], row["summary"] or "", row["publisher"] or "",
                tuple(theme_list(row["themes"])) if row["themes_reviewed"] else None,
                None if row["status"] == "new" else row["status"] == "accepted")
        for row in rows
    ]
