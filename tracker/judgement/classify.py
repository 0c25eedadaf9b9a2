"""Re-scoring the publications in a database: what `tracker poll` runs on what it stores and
`tracker train` on everything not yet reviewed.
"""

from __future__ import annotations

import json
from typing import Iterable, Iterator

from sqlite_utils import Database

from tracker.store.judgements import MAY_BE_SCORED, Score, save_scores

from .model import Classifier
from .provenance import classifier_for
from .themes import theme_list

COLUMNS = "id, title, summary, publisher, themes, why, model_version"
# Read, scored and written a thousand at a time: however many publications there are, only one
# chunk's rows and predictions (each with its why) are in memory at once.
CHUNK = 1000


def classify_publications(db: Database, ids: Iterable[int] | None = None, *,
                          classifier: Classifier | None = None) -> int:
    """Re-score the given publications (default: every one not yet reviewed). Never changes a
    status, nor themes an editor has set (see ``save_scores``). Returns how many were scored."""
    classifier = classifier or classifier_for(db)
    scored = 0
    for rows in _rows_to_score(db, ids):
        scores = []
        for row, prediction in zip(rows, classifier.predict_many(rows), strict=True):
            why = prediction.why
            # A source's default themes (sources.yaml) are in `themes` before the first scoring;
            # keep them in why so a re-score keeps them too.
            source_themes = _source_themes(row)
            if source_themes:
                why["source_themes"] = source_themes
            themes = prediction.themes + [t for t in source_themes if t not in prediction.themes]
            scores.append(Score(row["id"], themes, prediction.candidate_score, classifier.version, why))
        save_scores(db, scores)
        scored += len(rows)
    return scored


def _rows_to_score(db: Database, ids: Iterable[int] | None) -> Iterator[list[dict]]:
    """The rows to score, CHUNK at a time. Without ids, every row still 'new' but those of a
    source never scored (judgments: see migration m016), read in id order after the last
    chunk's (scoring never changes a status, so none is skipped or read twice)."""
    if ids is None:
        after = 0
        while rows := db.execute_returning_dicts(
            f"select {COLUMNS} from publications where status = 'new' and id > ? and {MAY_BE_SCORED}"
            f" order by id limit {CHUNK}", [after]
        ):
            yield rows
            after = rows[-1]["id"]
        return
    wanted = list(ids)
    for start in range(0, len(wanted), CHUNK):
        # One JSON parameter, not a placeholder per id: no limit on bound variables applies.
        rows = db.execute_returning_dicts(
            f"select {COLUMNS} from publications where id in (select value from json_each(?))",
            [json.dumps(wanted[start : start + CHUNK])],
        )
        if rows:
            yield rows


def _source_themes(row: dict) -> list[str]:
    if row["model_version"] is None:
        return theme_list(row["themes"])
    try:
        return list(json.loads(row["why"] or "{}").get("source_themes", []))
    except (ValueError, AttributeError):
        return []
