"""Measuring a classifier against labelled examples: per-theme precision, recall and F1, the
candidate score's ROC-AUC, and cross-validation (each fold scored by a model fitted without it).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import KFold, StratifiedKFold

from tracker import TrackerError

from .examples import Example
from .fitting import fit_model
from .model import Classifier, Prediction
from .themes import ThemeSet

FOLDS = 5


@dataclass
class Scores:
    """Per theme (precision, recall, F1, support), macro-F1 and the candidate ROC-AUC."""

    per_theme: dict[str, tuple[float, float, float, int]]
    macro_f1: float
    roc_auc: float | None
    examples: int


@dataclass(frozen=True)
class Evaluation:
    """A model's scores beside the keyword-only baseline's on the same examples, and how the
    model was kept from seeing them: cross-validated in ``folds`` folds, or else trained on
    ``trained_on`` other examples."""

    scores: Scores
    baseline: Scores
    folds: int | None = None
    trained_on: int = 0


def score(examples: list[Example], predictions: Sequence[Prediction], slugs: list[str]) -> Scores:
    per_theme = {}
    for slug in slugs:
        tp = fp = fn = 0
        for example, prediction in zip(examples, predictions, strict=True):
            if example.themes is None:
                continue
            truth, said = slug in example.themes, slug in prediction.themes
            tp += truth and said
            fp += said and not truth
            fn += truth and not said
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_theme[slug] = (precision, recall, f1, tp + fn)
    supported = [f1 for (_, _, f1, support) in per_theme.values() if support]
    labelled = [(e.candidate, p.candidate_score) for e, p in zip(examples, predictions, strict=True)
                if e.candidate is not None]
    auc = None
    if len({truth for truth, _ in labelled}) == 2:
        auc = float(roc_auc_score([t for t, _ in labelled], [s for _, s in labelled]))
    return Scores(per_theme, sum(supported) / len(supported) if supported else 0.0, auc, len(examples))


def cross_validate(examples: list[Example], theme_set: ThemeSet, folds: int = FOLDS, seed: int = 0) -> Evaluation:
    """The model's scores on held-out folds, beside the keyword-only rules': each fold is scored
    by a model fitted, calibrated and thresholded on the other folds only."""
    strata = np.array([{True: 1, False: 0, None: 2}[e.candidate] for e in examples])
    smallest = min(Counter(strata.tolist()).values())
    if len(examples) < folds * 2:
        raise TrackerError(f"only {len(examples)} labelled examples: too few to cross-validate")
    if smallest >= folds:
        split = StratifiedKFold(folds, shuffle=True, random_state=seed).split(strata, strata)
    else:
        split = KFold(folds, shuffle=True, random_state=seed).split(strata)
    predicted: dict[int, Prediction] = {}
    for train, test in split:
        classifier = Classifier(theme_set, fit_model([examples[i] for i in train], theme_set))
        items = [examples[i].as_item() for i in test]
        predicted.update(zip(test.tolist(), classifier.predict_many(items), strict=True))
    predictions = [predicted[i] for i in range(len(examples))]
    return Evaluation(score(examples, predictions, theme_set.slugs),
                      score(examples, Classifier(theme_set, None).predict_many(
                          e.as_item() for e in examples), theme_set.slugs), folds=folds)


def held_out(examples: list[Example], training: list[Example], theme_set: ThemeSet) -> Evaluation:
    """The scores of a model fitted on ``training`` (the rules alone if it is empty) on
    ``examples``, beside the keyword-only rules'."""
    model = fit_model(training, theme_set) if training else None
    items = [e.as_item() for e in examples]
    return Evaluation(score(examples, Classifier(theme_set, model).predict_many(items), theme_set.slugs),
                      score(examples, Classifier(theme_set, None).predict_many(items), theme_set.slugs),
                      trained_on=len(training))
