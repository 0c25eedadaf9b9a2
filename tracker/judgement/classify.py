"""Re-scoring the publications in a database: what `tracker poll` runs on what it stores and
`tracker train` on everything not yet reviewed.
"""

from __future__ import annotations

import json
from typing import Iterable

from sqlite_utils import Database

from tracker.store.judgements import Score, save_scores

from .model import Classifier
from .provenance import classifier_for
from .themes import theme_list

COLUMNS = "id, title, summary, publisher, themes, why, model_version"
# Scored and written a thousand at a time: 100,000 publications' predictions (each with its
# why) are never all in memory at once.
CHUNK = 1000


def classify_publications(db: Database, ids: Iterable[int] | None = None, *,
                          classifier: Classifier | None = None) -> int:
    """Re-score the given publications (default: every one not yet reviewed). Never changes a
    status, nor themes an editor has set (see ``save_scores``). Returns how many were scored."""
    classifier = classifier or classifier_for(db)
    if ids is None:
        rows = db.execute_returning_dicts(f"select {COLUMNS} from publications where status = 'new'")
    else:
        wanted = list(ids)
        rows = []
        for start in range(0, len(wanted), 500):
            some = wanted[start : start + 500]
            rows += db.execute_returning_dicts(
                f"select {COLUMNS} from publications where id in ({','.join('?' * len(some))})", some
            )
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        scores = []
        for row, prediction in zip(chunk, classifier.predict_many(chunk), strict=True):
            why = prediction.why
            # A source's default themes (sources.yaml) are in `themes` before the first scoring;
            # keep them in why so a re-score keeps them too.
            source_themes = _source_themes(row)
            if source_themes:
                why["source_themes"] = source_themes
            themes = prediction.themes + [t for t in source_themes if t not in prediction.themes]
            scores.append(Score(row["id"], themes, prediction.candidate_score, classifier.version, why))
        save_scores(db, scores)
    return len(rows)


def _source_themes(row: dict) -> list[str]:
    if row["model_version"] is None:
        return theme_list(row["themes"])
    try:
        return list(json.loads(row["why"] or "{}").get("source_themes", []))
    except (ValueError, AttributeError):
        return []
