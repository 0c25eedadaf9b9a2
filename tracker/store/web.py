"""The web stage's writes: the themes table, which the workspace's add_theme checks slugs against."""

from __future__ import annotations

import json
from typing import Iterable

from sqlite_utils import Database

from .database import write_transaction


def replace_themes(db: Database, rows: Iterable[dict]) -> int:
    """Make the themes table hold exactly these themes (slug, label, description, network).
    Publications keep the slugs they have: a dropped theme can still be removed from them."""
    rows = list(rows)
    with write_transaction(db):
        db.execute("delete from themes where slug not in (select value from json_each(?))",
                   [json.dumps([row["slug"] for row in rows])])
        db.table("themes").upsert_all(rows, pk="slug", alter=True)
    return len(rows)
