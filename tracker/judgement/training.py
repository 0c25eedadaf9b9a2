"""`tracker train` and `tracker evaluate`: training data gathered, a model measured, fitted and
stored. Results are returned, never printed: the commands render them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Collection

from sqlite_utils import Database

from tracker import TrackerError
from tracker.store.judgements import decisions_since, save_model
from tracker.text import title_key

from .classify import classify_publications
from .examples import LABELLED_FILE, Example, examples_from_db, examples_from_records, read_labelled
from .fitting import fit_model
from .metrics import Evaluation, cross_validate, held_out
from .model import Classifier, Model
from .themes import load_theme_set


@dataclass(frozen=True)
class Training:
    model: Model  # stored in the database: it scores what later polls store
    evaluation: Evaluation  # cross-validated on the same examples before the final fit
    rescored: int  # publications not yet reviewed, scored again by the new model


def training_examples(db: Database | None = None, exclude_titles: Collection[str] = ()) -> list[Example]:
    """The shipped labelled file plus the database's decisions; where both hold a publication
    the editors' later decision wins."""
    merged: dict[str, Example] = {}
    sources = [examples_from_records(read_labelled(LABELLED_FILE))] if LABELLED_FILE.exists() else []
    if db is not None:
        sources.append(examples_from_db(db))
    for examples in sources:
        for example in examples:
            key = title_key(example.title)
            if key in exclude_titles:
                continue
            old = merged.get(key)
            if old is not None:
                example = Example(
                    example.title, example.summary or old.summary, example.publisher or old.publisher,
                    example.themes if example.themes is not None else old.themes,
                    example.candidate if example.candidate is not None else old.candidate,
                    example.weight, example.by_editor,
                )
            merged[key] = example
    return list(merged.values())


def train(db: Database, *, trigger: str = "train") -> Training:
    """Cross-validate, fit on everything, store a new model version, re-score the
    publications not yet reviewed. ``trigger`` says what asked for it ('train': the command,
    'background': `tracker serve` after enough new decisions), stored with the model."""
    theme_set = load_theme_set()
    examples = training_examples(db)
    if not examples:
        raise TrackerError("nothing to train on: no labelled file and no editor decisions yet")
    evaluation = cross_validate(examples, theme_set)
    model = fit_model(examples, theme_set, data_digest=_fingerprint(examples), source="db")
    scores = evaluation.scores
    metrics = {"macro_f1": scores.macro_f1, "roc_auc": scores.roc_auc,
               "per_theme": {s: dict(zip(("precision", "recall", "f1", "support"), v, strict=True))
                             for s, v in scores.per_theme.items()}}
    save_model(db, model.version, model.to_bytes(), trained_at=model.meta["trained_at"],
               examples=model.meta["examples"], metrics=metrics,
               themes_digest=model.meta["themes_digest"], data_digest=model.meta["data_digest"],
               decisions=decisions_since(db, None), trigger=trigger)
    rescored = classify_publications(db, classifier=Classifier(theme_set, model))
    return Training(model, evaluation, rescored)


def evaluate(path: str | Path, db: Database | None = None, *, cross_validate_file: bool = False) -> Evaluation:
    """Score a labelled JSON-lines file with a model trained on the shipped data (and the
    database's decisions) minus the file's publications, or cross-validate on the file alone."""
    theme_set = load_theme_set()
    examples = examples_from_records(read_labelled(Path(path)))
    if not examples:
        raise TrackerError(f"{path}: no labelled publications")
    if cross_validate_file:
        return cross_validate(examples, theme_set)
    training = training_examples(db, exclude_titles={title_key(e.title) for e in examples})
    return held_out(examples, training, theme_set)


def _fingerprint(examples: list[Example]) -> str:
    """A hash of the training data, stored as the model's data_digest."""
    text = json.dumps([[e.title, e.summary, e.publisher, e.themes, e.candidate] for e in examples])
    return hashlib.sha256(text.encode()).hexdigest()
