"""A fitted model as plain arrays, and the Classifier that scores publications with it.

Prediction needs numpy only: a model is plain arrays (vocabulary, idf, weights), stored as
``.npz`` without pickle, so loading one from the database or the cache cannot run code, does
not depend on the scikit-learn version, and ``tracker classify`` answers its first line fast.
numpy itself is imported where arrays are first needed: the rules alone never need it.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from itertools import repeat
from typing import TYPE_CHECKING, Any, Iterable

from .features import Features, features, readable_term
from .rules import Rules, rules_candidate_score
from .themes import ThemeSet

if TYPE_CHECKING:
    import numpy as np

MODEL_FORMAT = 5  # also keys the shipped model's cache: raised when fitting changes what it fits
RULES_VERSION = "rules"
STRONGEST_TERMS = 3
# Publications scored per pass of array arithmetic: large enough that numpy's per-call cost
# vanishes, small enough that the (terms x themes) products stay a few megabytes.
BATCH = 512
# Words that carry weight in the model but tell an editor nothing when shown as a reason.
UNINFORMATIVE = set("a an and are as at by for from in into is it its of on or the their to with".split())


@dataclass
class Model:
    """A fitted model as arrays. Columns of ``weights``: one per theme in ``slugs``, then the
    candidate. Rows: the vocabulary's terms, then one per theme in ``rule_slugs`` (its phrases
    fired), then one for a not-candidate phrase."""

    terms: list[str]
    idf: np.ndarray
    rule_slugs: list[str]
    slugs: list[str]
    weights: np.ndarray
    bias: np.ndarray
    calibration: np.ndarray  # (a, b) per column: p = sigmoid(a * decision + b)
    thresholds: np.ndarray  # per theme
    first_weights: np.ndarray  # first stage, one column per theme in ``slugs``
    first_bias: np.ndarray
    stack: np.ndarray  # (theme, theme): first-stage decisions' weights in the second stage
    # The remit gate: is the publication within the networks' remit at all? One weight per row,
    # and (bias, Platt's a, b, threshold). Below the threshold it gets no theme.
    remit_weights: np.ndarray
    remit: np.ndarray
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index = {term: i for i, term in enumerate(self.terms)}
        self.rule_index = {slug: len(self.terms) + i for i, slug in enumerate(self.rule_slugs)}
        self.not_candidate_row = len(self.terms) + len(self.rule_slugs)

    @property
    def version(self) -> str:
        return self.meta.get("version", "unversioned")

    def to_bytes(self) -> bytes:
        import numpy as np

        buffer = io.BytesIO()
        np.savez_compressed(
            buffer, terms=np.array(self.terms, dtype=str), idf=self.idf,
            rule_slugs=np.array(self.rule_slugs, dtype=str), slugs=np.array(self.slugs, dtype=str),
            weights=self.weights, bias=self.bias, calibration=self.calibration,
            thresholds=self.thresholds, first_weights=self.first_weights,
            first_bias=self.first_bias, stack=self.stack,
            remit_weights=self.remit_weights, remit=self.remit,
            meta=np.array(json.dumps({**self.meta, "format": MODEL_FORMAT})),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Model:
        import numpy as np

        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            meta = json.loads(str(arrays["meta"]))
            if meta.get("format") != MODEL_FORMAT:
                raise ValueError(f"model format {meta.get('format')}, expected {MODEL_FORMAT}")
            return cls(
                terms=arrays["terms"].tolist(), idf=arrays["idf"],
                rule_slugs=arrays["rule_slugs"].tolist(), slugs=arrays["slugs"].tolist(),
                weights=arrays["weights"], bias=arrays["bias"], calibration=arrays["calibration"],
                thresholds=arrays["thresholds"], first_weights=arrays["first_weights"],
                first_bias=arrays["first_bias"], stack=arrays["stack"],
                remit_weights=arrays["remit_weights"], remit=arrays["remit"], meta=meta,
            )

    def rows(self, docs: list[Features]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sparse rows of several publications' features, CSR-style (indices, values, offsets):
        sublinear tf-idf, l2-normalised per row, then the rule features; each row keeps its
        terms' order, so a row is the same in any batch (training builds its matrix with it)."""
        import numpy as np

        get, rule_index = self.index.get, self.rule_index
        term_ids: list[int] = []
        counts: list[int] = []
        lengths, rules, rule_lengths = [], [], []
        for terms, fired, blocked in docs:
            term_ids += map(get, terms, repeat(-1))
            counts += terms.values()
            lengths.append(len(terms))
            fired_rows = [rule_index[slug] for slug in fired if slug in rule_index]
            if blocked:
                fired_rows.append(self.not_candidate_row)
            rules += fired_rows
            rule_lengths.append(len(fired_rows))
        ids = np.array(term_ids, dtype=np.int64)
        known = ids >= 0
        ids, row = ids[known], np.repeat(np.arange(len(docs)), lengths)[known]
        values = (1.0 + np.log(np.array(counts, dtype=np.int64)[known])) * self.idf[ids]
        values /= np.sqrt(np.bincount(row, weights=values * values, minlength=len(docs)))[row]
        row = np.concatenate([row, np.repeat(np.arange(len(docs)), rule_lengths)])
        order = np.argsort(row, kind="stable")  # each row's terms, then its rules
        indices = np.concatenate([ids, np.array(rules, dtype=np.int64)])[order]
        values = np.concatenate([values, np.ones(len(rules))])[order]
        offsets = np.zeros(len(docs) + 1, dtype=np.int64)
        np.cumsum(np.bincount(row, minlength=len(docs)), out=offsets[1:])
        return indices, values, offsets


@dataclass
class Prediction:
    themes: list[str]
    candidate_score: float
    why: dict


class Classifier:
    """themes.yaml's rules with an optional model. Without one (cold start), or for a theme the
    model has no examples of, the rules decide; otherwise the model, which sees the rules as
    features, does."""

    def __init__(self, theme_set: ThemeSet, model: Model | None = None):
        self.theme_set = theme_set
        self.rules = Rules(theme_set)
        self.model = model
        if model is not None:
            current = set(theme_set.slugs)
            self._modelled = [(col, slug) for col, slug in enumerate(model.slugs) if slug in current]
            self._model_slugs = set(model.slugs)
            self._words: dict[int, str] = {}  # vocabulary index -> as shown in why
        self.version = model.version if model else RULES_VERSION

    def predict(self, item: dict) -> Prediction:
        return self.predict_many([item])[0]

    def predict_many(self, items: Iterable[dict]) -> list[Prediction]:
        """What ``predict`` says of each item, worked out BATCH items at a time with one set of
        array operations per batch: `tracker poll` scores thousands at once."""
        items = list(items)
        return [prediction for start in range(0, len(items), BATCH)
                for prediction in self._predict_batch(items[start : start + BATCH])]

    def _predict_batch(self, items: list[dict]) -> list[Prediction]:
        docs = [features(item, self.rules) for item in items]
        whys: list[dict[str, Any]] = []
        for _, fired, blocked in docs:
            whys.append({"rules": fired, "model": self.version})
            if blocked:
                whys[-1]["not_candidate"] = blocked
        if self.model is None:
            return [Prediction([slug for slug in self.theme_set.slugs if slug in fired],
                               rules_candidate_score(fired, blocked), why)
                    for (_, fired, blocked), why in zip(docs, whys, strict=True)]
        import numpy as np

        model = self.model
        indices, values, offsets = model.rows(docs)
        filled = offsets[1:] > offsets[:-1]

        def row_sums(products: np.ndarray, bias: np.ndarray) -> np.ndarray:
            # reduceat adds each row's products in order: a row's sum is the same in any batch
            sums = np.zeros((len(docs), products.shape[1]))
            if filled.any() and products.shape[1]:
                sums[filled] = np.add.reduceat(products, offsets[:-1][filled], axis=0)
            return sums + bias

        contributions = values[:, None] * model.weights[indices]
        decision = row_sums(contributions, model.bias)
        first = row_sums(values[:, None] * model.first_weights[indices], model.first_bias)
        stacked = np.zeros_like(first)
        for theme in range(first.shape[1]):  # not a matrix product: its sums depend on the batch
            stacked += first[:, theme, None] * model.stack[theme]
        decision[:, :-1] += stacked
        probability = 1.0 / (1.0 + np.exp(-(model.calibration[:, 0] * decision + model.calibration[:, 1])))
        above = (probability[:, :-1] >= model.thresholds).tolist()
        bias, a, b, threshold = model.remit.tolist()
        remit = 1.0 / (1.0 + np.exp(-(a * row_sums(values[:, None] * model.remit_weights[indices, None],
                                                   np.array([bias]))[:, 0] + b)))
        in_remit = (remit >= threshold).tolist()
        scores = probability[:, -1].tolist()
        boundary = self._boundaries(probability, model.thresholds, scores, remit, threshold, in_remit)
        by_column = np.ascontiguousarray(contributions.T)
        candidate = len(model.slugs)
        predictions = []
        for row, ((_, fired, _), why) in enumerate(zip(docs, whys, strict=True)):
            why["remit"] = round(float(remit[row]), 4)
            why["boundary"] = boundary[row]
            # Out of the networks' remit, no theme the model knows applies however topical. A
            # theme it has no examples of (one the editors added since) widens the remit the
            # gate learnt, so its phrases decide alone.
            chosen = {slug for slug in fired if slug not in self._model_slugs}
            if in_remit[row]:
                chosen |= {slug for col, slug in self._modelled if above[row][col]}
            start, end = offsets[row], offsets[row + 1]
            why["terms"] = {
                name: self._strongest_terms(indices[start:end], by_column[col, start:end])
                for name, col in [*((s, c) for c, s in self._modelled if s in chosen), ("candidate", candidate)]
            }
            predictions.append(Prediction([slug for slug in self.theme_set.slugs if slug in chosen],
                                          round(scores[row], 4), why))
        return predictions

    def _boundaries(self, probability: np.ndarray, thresholds: np.ndarray, scores: list[float],
                    remit: np.ndarray, remit_threshold: float, in_remit: list[bool]) -> list[list]:
        """[what, distance] per publication: the decision it is nearest to flipping and how near
        (in probability): the candidate score's 0.5, a theme's threshold, or, out of remit, the
        gate's. An editor's click on the nearest teaches the model most (the not-sure view)."""
        import numpy as np

        columns = [col for col, _ in self._modelled]
        names = [slug for _, slug in self._modelled]
        candidate = np.abs(np.array(scores) - 0.5)
        inside = np.array(in_remit, dtype=bool)
        nearest_theme = np.zeros(len(scores), dtype=np.int64)
        theme_margin = np.full(len(scores), np.inf)
        if columns:
            margins = np.abs(probability[:, columns] - thresholds[columns])
            nearest_theme = margins.argmin(axis=1)
            theme_margin = margins[np.arange(len(scores)), nearest_theme]
        other = np.where(inside, theme_margin, np.abs(remit - remit_threshold))
        closer = (other < candidate).tolist()
        margin = np.round(np.minimum(other, candidate), 4).tolist()
        return [[(names[theme] if is_in else "remit") if is_closer else "candidate", m]
                for theme, is_in, is_closer, m in zip(nearest_theme.tolist(), in_remit, closer, margin,
                                                      strict=True)]

    def _strongest_terms(self, indices: np.ndarray, contribution: np.ndarray) -> list[str]:
        """The words that pushed hardest towards one theme (or the candidate score)."""
        order = contribution.argsort()[::-1][: int((contribution > 0).sum())]
        best: list[str] = []
        for index in indices[order].tolist():
            if len(best) == STRONGEST_TERMS:
                break
            word = self._words.get(index)
            if word is None:
                word = self._words[index] = self._readable(index)
            if word and word not in best:
                best.append(word)
        return best

    def _readable(self, index: int) -> str:
        """A term as shown in why; "" for a rule feature or a word that tells an editor nothing."""
        terms = self.model.terms if self.model is not None else []
        if index >= len(terms):
            return ""
        word = readable_term(terms[index])
        return "" if set(word.split()) <= UNINFORMATIVE else word
