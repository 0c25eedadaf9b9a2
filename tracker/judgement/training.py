"""Training and evaluation: the only module that imports scikit-learn.

Per theme (one-vs-rest) and for the candidate score, a logistic regression over tf-idf terms
and the themes.yaml rule features. Its decision values are calibrated (Platt) and each theme's
threshold chosen on out-of-fold predictions *within the training data*, so cross-validation
never tunes anything on the fold it scores.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import KFold, StratifiedKFold

from tracker import TrackerError
from .classify import (
    LABELLED_FILE, Classifier, Model, ThemeSet, classify_publications, extract_terms,
    item_texts, load_theme_set, read_labelled, rule_text, Rules,
)
from tracker.text import title_key

C = 4.0  # fixed a priori (tf-idf rows are unit length), not searched on any fold
MIN_EXAMPLES = 3  # positives and negatives a column needs before the model takes it over
INNER_FOLDS = 3
FOLDS = 5
# First-stage decisions (about -4..4) scaled to the size of the other features (0..1), so the
# regularisation treats them alike.
STACK_SCALE = 0.25
THRESHOLDS = np.round(np.arange(0.2, 0.71, 0.05), 2)


@dataclass
class Example:
    title: str
    summary: str
    publisher: str
    themes: tuple[str, ...] | None  # None: nobody has said which themes it has
    candidate: bool | None  # None: nobody has accepted or rejected it

    def as_item(self) -> dict:
        return {"title": self.title, "summary": self.summary, "publisher": self.publisher}


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


def examples_from_db(db) -> list[Example]:
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
    examples = []
    for row in rows:
        themes = None
        if row["themes_reviewed"]:
            try:
                themes = tuple(t for t in json.loads(row["themes"] or "[]") if isinstance(t, str))
            except ValueError:
                themes = None
        candidate = None if row["status"] == "new" else row["status"] == "accepted"
        examples.append(Example(row["title"], row["summary"] or "", row["publisher"] or "",
                                themes, candidate))
    return examples


def training_examples(db=None, exclude_titles: set[str] = frozenset()) -> list[Example]:
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
                )
            merged[key] = example
    return list(merged.values())


# --- fitting ------------------------------------------------------------------------------

def fit_model(examples: list[Example], theme_set: ThemeSet, *, data_digest: str = "",
              source: str = "trained") -> Model:
    """Two stages per theme. The first reads the text and the rules; the second reads them
    again plus every theme's first-stage decision, so it learns how the editors combine themes
    (a SEND report is rarely also tagged education; adoption rarely also children in care).
    The second stage is trained on out-of-fold first-stage decisions, never on its own fit."""
    rules = Rules(theme_set)
    docs = [_doc(example, rules) for example in examples]
    terms, idf = _vocabulary([terms for terms, _, _ in docs])
    model = Model(
        terms=terms, idf=idf, rule_slugs=theme_set.slugs, slugs=[], weights=np.zeros((0, 0)),
        bias=np.zeros(0), calibration=np.zeros((0, 2)), thresholds=np.zeros(0),
        first_weights=np.zeros((0, 0)), first_bias=np.zeros(0), stack=np.zeros((0, 0)),
    )
    X = _matrix(model, docs)
    rows = [i for i, e in enumerate(examples) if e.themes is not None]
    labels = {slug: np.array([slug in examples[i].themes for i in rows]) for slug in theme_set.slugs}
    slugs = [slug for slug in theme_set.slugs if _enough(labels[slug])]
    first = [_logistic(X[rows], labels[slug]) for slug in slugs]
    stacked = np.column_stack([_out_of_fold(X[rows], labels[slug]) for slug in slugs] or
                              [np.zeros((len(rows), 0))]) * STACK_SCALE
    X2 = sparse.hstack([X[rows], sparse.csr_matrix(stacked)]).tocsr()
    columns = [_fit_column(X2, labels[slug], choose_threshold=True) for slug in slugs]
    candidate_rows = [i for i, e in enumerate(examples) if e.candidate is not None]
    y = np.array([examples[i].candidate for i in candidate_rows])
    candidate = _fit_column(X[candidate_rows], y, False) if _enough(y) else None
    width = X.shape[1]
    stack = np.array([c[0][width:] for c in columns]).T * STACK_SCALE if columns else np.zeros((0, 0))
    columns = [(c[0][:width], *c[1:]) for c in columns]
    columns.append(candidate or _rules_candidate_column(width, model))
    trained_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    model.slugs = slugs
    model.weights = np.column_stack([c[0] for c in columns]).astype(np.float32)
    model.bias = np.array([c[1] for c in columns], dtype=np.float32)
    model.calibration = np.array([c[2] for c in columns], dtype=np.float32)
    model.thresholds = np.array([c[3] for c in columns[:-1]], dtype=np.float32)
    model.first_weights = np.array([f.coef_[0] for f in first], dtype=np.float32).reshape(len(first), width).T
    model.first_bias = np.array([f.intercept_[0] for f in first], dtype=np.float32)
    model.stack = np.asarray(stack, dtype=np.float32).reshape(len(slugs), len(slugs))
    model.meta = {
        "version": f"{source}-{trained_at[:19].replace(':', '').replace('-', '')}-{data_digest[:8] or 'x'}",
        "trained_at": trained_at, "examples": len(examples), "themes_digest": theme_set.digest,
        "data_digest": data_digest,
    }
    return model


def _doc(example: Example, rules: Rules):
    title, summary, publisher = item_texts(example.as_item())
    fired, blocked = rules.match(rule_text(f"{publisher} {title} {summary}"))
    return extract_terms(title, summary, publisher), fired, blocked


def _vocabulary(documents: list[Counter]) -> tuple[list[str], np.ndarray]:
    """Terms in at least two documents (one, for a handful of examples), with smoothed idf."""
    df = Counter(term for terms in documents for term in terms)
    min_df = 2 if len(documents) >= 50 else 1
    terms = sorted(t for t, n in df.items() if n >= min_df)
    n = len(documents)
    idf = np.array([math.log((1 + n) / (1 + df[t])) + 1 for t in terms], dtype=np.float64)
    return terms, idf


def _matrix(model: Model, docs) -> sparse.csr_matrix:
    width = len(model.terms) + len(model.rule_slugs) + 1
    indptr, indices, values = [0], [], []
    for terms, fired, blocked in docs:
        i, v = model.vector(terms, fired, blocked)
        indices.append(i)
        values.append(v)
        indptr.append(indptr[-1] + len(i))
    if not indices:
        return sparse.csr_matrix((0, width))
    return sparse.csr_matrix((np.concatenate(values), np.concatenate(indices), indptr),
                             shape=(len(docs), width))


def _enough(y) -> bool:
    """A column is learnt once it has a few positives and negatives; until then rules decide."""
    positives = int(y.sum())
    return positives >= MIN_EXAMPLES and len(y) - positives >= MIN_EXAMPLES


def _out_of_fold(X, y) -> np.ndarray:
    """Decision values for each row from a model that did not see it."""
    positives = int(y.sum())
    folds = StratifiedKFold(n_splits=min(INNER_FOLDS, positives, len(y) - positives),
                            shuffle=True, random_state=0)
    decision = np.zeros(len(y))
    for train, test in folds.split(X, y):
        decision[test] = _logistic(X[train], y[train]).decision_function(X[test])
    return decision


def _fit_column(X, y, choose_threshold: bool):
    """(weights, bias, (a, b), threshold) for one yes/no column: Platt calibration and the
    threshold come from out-of-fold decisions of the training data alone."""
    decision = _out_of_fold(X, y)
    platt = LogisticRegression(C=100.0).fit(decision.reshape(-1, 1), y)
    a, b = float(platt.coef_[0, 0]), float(platt.intercept_[0])
    threshold = 0.5
    if choose_threshold:
        probability = 1 / (1 + np.exp(-(a * decision + b)))
        scores = [_f1(y, probability >= t) for t in THRESHOLDS]
        threshold = float(THRESHOLDS[int(np.argmax(scores))])
    final = _logistic(X, y)
    return final.coef_[0], float(final.intercept_[0]), (a, b), threshold


def _logistic(X, y) -> LogisticRegression:
    # The dual solver: with far more terms than examples it is ~100x faster than the primal,
    # for the same solution.
    return LogisticRegression(C=C, class_weight="balanced", solver="liblinear", dual=True,
                              max_iter=5000).fit(X, y)


def _rules_candidate_column(width: int, model: Model):
    """No accepted-and-rejected examples yet: score by the rules (themes fired, blocked)."""
    weights = np.zeros(width)
    for slug in model.rule_slugs:
        weights[model.rule_index[slug]] = 0.8
    weights[model.not_candidate_row] = -2.0
    return weights, -1.0, (1.0, 0.0), 0.5


def _f1(y, predicted) -> float:
    tp = int((y & predicted).sum())
    return 2 * tp / (int(y.sum()) + int(predicted.sum())) if tp else 0.0


# --- measuring ----------------------------------------------------------------------------

@dataclass
class Scores:
    """Per theme (precision, recall, F1, support), macro-F1 and the candidate ROC-AUC."""

    per_theme: dict[str, tuple[float, float, float, int]]
    macro_f1: float
    roc_auc: float | None
    examples: int


def score(examples: list[Example], predictions, slugs: list[str]) -> Scores:
    per_theme = {}
    for slug in slugs:
        tp = fp = fn = 0
        for example, prediction in zip(examples, predictions):
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
    labelled = [(e.candidate, p.candidate_score) for e, p in zip(examples, predictions)
                if e.candidate is not None]
    auc = None
    if len({truth for truth, _ in labelled}) == 2:
        auc = float(roc_auc_score([t for t, _ in labelled], [s for _, s in labelled]))
    return Scores(per_theme, sum(supported) / len(supported) if supported else 0.0, auc, len(examples))


def cross_validate(examples: list[Example], theme_set: ThemeSet, folds: int = FOLDS, seed: int = 0):
    """(model scores, keyword-only scores) on held-out folds: each fold is scored by a model
    fitted, calibrated and thresholded on the other folds only."""
    strata = np.array([{True: 1, False: 0, None: 2}[e.candidate] for e in examples])
    smallest = min(Counter(strata.tolist()).values())
    if len(examples) < folds * 2:
        raise TrackerError(f"only {len(examples)} labelled examples: too few to cross-validate")
    if smallest >= folds:
        split = StratifiedKFold(folds, shuffle=True, random_state=seed).split(strata, strata)
    else:
        split = KFold(folds, shuffle=True, random_state=seed).split(strata)
    predictions = [None] * len(examples)
    for train, test in split:
        classifier = Classifier(theme_set, fit_model([examples[i] for i in train], theme_set))
        for i in test:
            predictions[i] = classifier.predict(examples[i].as_item())
    baseline = Classifier(theme_set, None)
    rules_only = [baseline.predict(e.as_item()) for e in examples]
    return score(examples, predictions, theme_set.slugs), score(examples, rules_only, theme_set.slugs)


def render_scores(model: Scores, baseline: Scores, title: str) -> str:
    """A Markdown table: each theme's precision, recall and F1, the baseline's F1 beside it."""
    lines = [f"{title} ({model.examples} examples)", "",
             "| theme | support | precision | recall | F1 | keyword-only F1 |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for slug, (p, r, f1, support) in model.per_theme.items():
        lines.append(f"| {slug} | {support} | {p:.2f} | {r:.2f} | {f1:.2f} | {baseline.per_theme[slug][2]:.2f} |")
    lines.append(f"| **macro** | | | | **{model.macro_f1:.3f}** | {baseline.macro_f1:.3f} |")

    def auc(value):
        return "n/a (needs accepted and rejected examples)" if value is None else f"{value:.3f}"

    lines += ["", f"Candidate ROC-AUC: {auc(model.roc_auc)} (keyword-only: {auc(baseline.roc_auc)})"]
    return "\n".join(lines)


# --- the commands -------------------------------------------------------------------------

def train_command(db_path) -> Model:
    from tracker.store import open_database

    return train(open_database(db_path, must_exist=True))


def train(db, *, echo=print) -> Model:
    """Cross-validate, fit on everything, store a new model version, re-score
    the publications not yet reviewed."""
    theme_set = load_theme_set()
    examples = training_examples(db)
    if not examples:
        raise TrackerError("nothing to train on: no labelled file and no editor decisions yet")
    measured, baseline = cross_validate(examples, theme_set)
    echo(render_scores(measured, baseline, f"Cross-validated ({FOLDS} folds)"))
    digest = _digest(examples)
    model = fit_model(examples, theme_set, data_digest=digest, source="db")
    store_model(db, model, measured)
    count = classify_publications(db, classifier=Classifier(theme_set, model))
    echo(f"\nStored model {model.version}; re-scored {count} unreviewed publications.")
    return model


def store_model(db, model: Model, measured: Scores) -> None:
    from tracker.store import write_transaction

    metrics = {"macro_f1": measured.macro_f1, "roc_auc": measured.roc_auc,
               "per_theme": {s: dict(zip(("precision", "recall", "f1", "support"), v))
                             for s, v in measured.per_theme.items()}}
    with write_transaction(db):
        db["models"].insert({
            "version": model.version, "trained_at": model.meta["trained_at"],
            "examples": model.meta["examples"], "metrics": json.dumps(metrics),
            "themes_digest": model.meta["themes_digest"], "data_digest": model.meta["data_digest"],
            "model": model.to_bytes(),
        }, replace=True)


def evaluate_command(path, db_path=None, *, cross_validate: bool = False) -> Scores:
    from tracker.store import open_database

    db = open_database(db_path, must_exist=True) if db_path else None
    return evaluate(path, db, cross_validate_file=cross_validate)


def evaluate(path: str | Path, db=None, *, cross_validate_file: bool = False, echo=print) -> Scores:
    """Score a labelled JSON-lines file with a model trained on the
    shipped data (and the database's decisions) minus FILE's publications, or cross-validate
    on FILE alone."""
    theme_set = load_theme_set()
    examples = examples_from_records(read_labelled(Path(path)))
    if not examples:
        raise TrackerError(f"{path}: no labelled publications")
    if cross_validate_file:
        measured, baseline = cross_validate(examples, theme_set)
        echo(render_scores(measured, baseline, f"{path}, cross-validated ({FOLDS} folds)"))
        return measured
    training = training_examples(db, exclude_titles={title_key(e.title) for e in examples})
    model = fit_model(training, theme_set) if training else None
    classifier, rules_only = Classifier(theme_set, model), Classifier(theme_set, None)
    measured = score(examples, [classifier.predict(e.as_item()) for e in examples], theme_set.slugs)
    baseline = score(examples, [rules_only.predict(e.as_item()) for e in examples], theme_set.slugs)
    echo(render_scores(measured, baseline, f"{path}, scored by a model trained on {len(training)} other examples"))
    return measured


def _digest(examples: list[Example]) -> str:
    import hashlib

    text = json.dumps([[e.title, e.summary, e.publisher, e.themes, e.candidate] for e in examples])
    return hashlib.sha256(text.encode()).hexdigest()
