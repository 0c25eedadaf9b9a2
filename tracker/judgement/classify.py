"""Themes and a candidate score for each publication: themes.yaml's phrases plus a learnt model.

The phrases give recall from the first poll; the model (trained by ``tracker.train``) learns
from the editors which of them to trust and what else predicts a theme or an acceptance.
Prediction needs numpy only: a model is plain arrays (vocabulary, idf, weights), stored as
``.npz`` without pickle, so loading one from the database or the cache cannot run code, does
not depend on the scikit-learn version, and ``tracker classify`` answers its first line fast.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import sys
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Iterable, Iterator

import yaml

from tracker import TrackerError
from tracker.paths import DATA, data_file

THEMES_FILE = "themes.yaml"
LABELLED_FILE = DATA / "labelled.jsonl"
MODEL_FORMAT = 3
SLUG = re.compile(r"^[a-z][a-z0-9_]*$")
QUOTES = re.compile(r"['’‘`]")
WORD = re.compile(r"\w+")
THEME_KEYS = {"label", "network", "description", "include", "exclude"}
# Only the start of a long summary is read: a 100 kB summary costs what a normal one does, and
# what a publication is about is said at its start.
MAX_SUMMARY = 1500
MAX_TITLE = 500
RULES_VERSION = "rules"
STRONGEST_TERMS = 3
# Publications scored per pass of array arithmetic: large enough that numpy's per-call cost
# vanishes, small enough that the (terms x themes) products stay a few megabytes.
BATCH = 512
# Words that carry weight in the model but tell an editor nothing when shown as a reason.
UNINFORMATIVE = set("a an and are as at by for from in into is it its of on or the their to with".split())


class ThemesError(TrackerError):
    pass


@dataclass(frozen=True)
class Theme:
    slug: str
    label: str
    description: str
    network: str
    include: tuple[str, ...]
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class ThemeSet:
    """themes.yaml as read: the themes, the not-candidate phrases, and a digest of the file."""

    themes: tuple[Theme, ...]
    not_candidate: tuple[str, ...]
    digest: str

    @property
    def slugs(self) -> list[str]:
        return [theme.slug for theme in self.themes]


def load_themes(path: str | Path | None = None) -> list[Theme]:
    return list(load_theme_set(path).themes)


def load_theme_set(path: str | Path | None = None) -> ThemeSet:
    path = Path(path) if path else data_file(THEMES_FILE)
    try:
        raw = path.read_bytes()
        # libyaml's parser, where PyYAML has it, with the same safe constructor: a tenth of the time
        data = yaml.load(raw.decode("utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except OSError as ex:
        raise ThemesError(f"cannot read {path}: {ex.strerror or ex}") from None
    except UnicodeDecodeError:
        raise ThemesError(f"{path}: not UTF-8 text") from None
    except yaml.YAMLError as ex:
        mark = getattr(ex, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ThemesError(f"{path}: not valid YAML{where}") from None
    return parse_themes(data, name=str(path), digest=hashlib.sha256(raw).hexdigest())


def parse_themes(data, *, name: str = THEMES_FILE, digest: str = "") -> ThemeSet:
    if not isinstance(data, dict) or not isinstance(data.get("themes"), dict) or not data["themes"]:
        raise ThemesError(f"{name}: expected a mapping with a 'themes' mapping of slug: theme")
    unknown = set(data) - {"themes", "not_candidate"}
    if unknown:
        raise ThemesError(f"{name}: unknown top-level key: {', '.join(sorted(map(str, unknown)))}")
    themes = []
    for slug, body in data["themes"].items():
        if not isinstance(slug, str) or not SLUG.match(slug):
            raise ThemesError(f"{name}: theme {slug!r}: a slug is lower case letters, digits and _")
        if not isinstance(body, dict):
            raise ThemesError(f"{name}: theme {slug}: expected a mapping of {', '.join(sorted(THEME_KEYS))}")
        unknown = set(body) - THEME_KEYS
        if unknown:
            raise ThemesError(f"{name}: theme {slug}: unknown key: {', '.join(sorted(map(str, unknown)))}")
        text = {}
        for key in ("label", "network", "description"):
            value = body.get(key)
            if not isinstance(value, str) or not value.strip():
                raise ThemesError(f"{name}: theme {slug}: '{key}' is required (text)")
            text[key] = " ".join(value.split())
        include = _phrases(body.get("include"), f"{name}: theme {slug}: 'include'", required=True)
        exclude = _phrases(body.get("exclude"), f"{name}: theme {slug}: 'exclude'")
        themes.append(Theme(slug=slug, include=include, exclude=exclude, **text))
    not_candidate = _phrases(data.get("not_candidate"), f"{name}: 'not_candidate'")
    return ThemeSet(tuple(themes), not_candidate, digest)


def _phrases(value, what: str, required: bool = False) -> tuple[str, ...]:
    if value is None and not required:
        return ()
    if not isinstance(value, list) or (required and not value):
        raise ThemesError(f"{what} must be a list of phrases" + (" (at least one)" if required else ""))
    phrases = []
    for phrase in value:
        if not isinstance(phrase, str) or not rule_text(phrase.rstrip("*")):
            raise ThemesError(f"{what}: {phrase!r} is not a phrase")
        phrases.append(phrase.strip())
    return tuple(phrases)


def rule_text(text: str) -> str:
    """Lower case words separated by single spaces: "Children’s  Homes" -> "childrens homes"."""
    return " ".join(WORD.findall(QUOTES.sub("", unicodedata.normalize("NFKC", text).casefold())))


def _alternatives(phrases: Iterable[str]) -> list[tuple[str, list[str], str, bool]]:
    """Each phrase as (regular expression, its words but the last, the last, whether the last
    is a prefix), longest expression first: the order a pattern of them tries them in."""
    parts = []
    for phrase in phrases:
        words, wildcard = rule_text(phrase.rstrip("*")).split(), phrase.endswith("*")
        parts.append((re.escape(" ".join(words)) + (r"\w*" if wildcard else ""), words[:-1], words[-1], wildcard))
    return sorted(parts, key=lambda part: len(part[0]), reverse=True)


def _pattern(phrases: Iterable[str]) -> re.Pattern | None:
    parts = [expression for expression, *_ in _alternatives(phrases)]
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)") if parts else None


class Rules:
    """themes.yaml's phrases compiled: which themes fire on a text, and on which words.

    A text is matched word by word, as a pattern of a theme's phrases would match it (leftmost
    first, a phrase tried in the pattern's order, matches not overlapping), but in one pass for
    every theme, stopping only at words that start a phrase: a phrase's first word, or a word
    starting with a one-word phrase ending in *. Those words are found by one set intersection
    and one scan for the prefixes."""

    def __init__(self, theme_set: ThemeSet):
        self.slugs = theme_set.slugs
        self._excludes = [_pattern(t.exclude) for t in theme_set.themes]
        # One group of phrases per theme, then the not-candidate phrases, keyed by position.
        self._groups = [_alternatives(t.include) for t in theme_set.themes]
        self._groups.append(_alternatives(theme_set.not_candidate))
        self._start_words = set(head[0] if head else last for group in self._groups
                                      for _, head, last, wildcard in group if head or not wildcard)
        # Every word that starts with a prefix, whole. Alternatives grouped by their first letter
        # (one test rules out a group) scan in half the time of a plain list of them.
        by_letter: dict[str, list[str]] = {}
        for prefix in sorted({last for group in self._groups for _, head, last, wildcard in group
                              if wildcard and not head}):
            by_letter.setdefault(prefix[0], []).append(re.escape(prefix[1:]))
        self._prefix_pattern = re.compile(r"\b(?:" + "|".join(
            re.escape(letter) + "(?:" + "|".join(rests) + ")" for letter, rests in by_letter.items()
        ) + r")\w*") if by_letter else None
        self._starting: dict[str, list] = {}  # word -> [(group, its phrases that can start there)]
        self._pairs: dict[tuple[str, str], list] = {}  # (word, next word) -> the same, fewer

    def _phrases_at(self, word: str, after: str) -> list:
        """[(group, its phrases that can start at ``word`` followed by ``after``)], cached per
        word, then per pair of words: most phrases starting with "childrens" need a second word."""
        found = self._pairs.get((word, after))
        if found is not None:
            return found
        starting = self._starting.get(word)
        if starting is None:
            starting = self._starting[word] = [
                (key, alternatives) for key, group in enumerate(self._groups)
                if (alternatives := [(head, last, wildcard) for _, head, last, wildcard in group
                                     if (head[0] == word if head else word.startswith(last) if wildcard
                                         else word == last)])
            ]
        found = [(key, alternatives) for key, group in starting
                 if (alternatives := [(head, last, wildcard) for head, last, wildcard in group
                                      if not head or (after == head[1] if len(head) > 1 else
                                                      after.startswith(last) if wildcard else after == last)])]
        for cache in (self._starting, self._pairs):
            if len(cache) > 100_000:  # a bound on memory, never reached by real text
                cache.clear()
        self._pairs[(word, after)] = found
        return found

    def match(self, text: str) -> tuple[dict[str, list[str]], list[str]]:
        """({slug: matched phrases} for the themes that fire, not-candidate phrases matched), for
        a text as ``rule_text`` gives it (words separated by single spaces)."""
        words = text.split(" ")
        starts = self._start_words.intersection(words)
        if self._prefix_pattern is not None:
            starts.update(self._prefix_pattern.findall(text))
        found: dict[int, list[str]] = {}
        if starts:
            free: dict[int, int] = {}  # group -> the first word a match of it may start at
            for i in [i for i, word in enumerate(words) if word in starts]:
                for key, alternatives in self._phrases_at(words[i], words[i + 1] if i + 1 < len(words) else ""):
                    if free.get(key, 0) > i:
                        continue
                    for head, last, wildcard in alternatives:
                        j = i + len(head)
                        if j < len(words) and words[i:j] == head and (
                                words[j].startswith(last) if wildcard else words[j] == last):
                            found.setdefault(key, []).append(" ".join(words[i : j + 1]))
                            free[key] = j + 1
                            break
        fired = {}
        for key, (slug, exclude) in enumerate(zip(self.slugs, self._excludes)):
            if key in found and not (exclude and exclude.search(text)):
                fired[slug] = sorted(set(found[key]))
        return fired, sorted(set(found.get(len(self.slugs), ())))


def rules_candidate_score(fired: dict, blocked: list) -> float:
    """The keyword-only candidate score: more themes, likelier; a not-candidate phrase, unlikely."""
    score = 0.2 + 0.6 * (1 - 0.5 ** len(fired))
    return round(score * (0.25 if blocked else 1.0), 4)


# --- features -----------------------------------------------------------------------------

def item_texts(item: dict) -> tuple[str, str, str]:
    """Title, summary and publisher as bounded plain strings, whatever the item holds."""

    def text(key, limit):
        value = item.get(key)
        if value is None:
            return ""
        value = value if isinstance(value, str) else json.dumps(value)
        value = value[: limit * 4]
        if "<" in value or "&" in value:
            from tracker.text import clean_text

            value = clean_text(value)
        return value[:limit]

    return text("title", MAX_TITLE), text("summary", MAX_SUMMARY), text("publisher", 100)


def extract_terms(title: str, summary: str, publisher: str) -> Counter:
    return _terms(rule_text(title), rule_text(summary), rule_text(publisher) if publisher else None)


def _terms(title: str, summary: str, publisher: str | None) -> Counter:
    """The terms one publication is made of (from its texts as ``rule_text`` gives them): words
    and word pairs of title and summary ("w:"), title words again ("t:") because a title says
    more than a summary, and the publisher ("p:"; None when it has none). Character n-grams of
    the title were tried: no better on held-out folds, and they doubled the terms to look up,
    so half the speed."""
    title_words = title.split()
    words = title_words + summary.split()
    found = ["w:" + w for w in words]
    found += ["w:" + a + "_" + b for a, b in zip(words, words[1:])]
    found += ["t:" + w for w in title_words]
    if publisher is not None:
        found.append("p:" + publisher.replace(" ", "_"))
    return Counter(found)


def _document(item: dict, rules: Rules) -> tuple[Counter, dict, list]:
    """(terms, rules fired, not-candidate phrases) of one item. rule_text of the publisher, title
    and summary joined by spaces is theirs joined: each is worked out once for both."""
    texts = item_texts(item)
    title, summary, publisher = (rule_text(text) for text in texts)
    fired, blocked = rules.match(" ".join(text for text in (publisher, title, summary) if text))
    return _terms(title, summary, publisher if texts[2] else None), fired, blocked


def readable_term(term: str) -> str:
    return term[2:].replace("_", " ")


# --- the model ----------------------------------------------------------------------------

@dataclass
class Model:
    """A fitted model as arrays. Columns of ``weights``: one per theme in ``slugs``, then the
    candidate. Rows: the vocabulary's terms, then one per theme in ``rule_slugs`` (its phrases
    fired), then one for a not-candidate phrase."""

    terms: list[str]
    idf: "np.ndarray"
    rule_slugs: list[str]
    slugs: list[str]
    weights: "np.ndarray"
    bias: "np.ndarray"
    calibration: "np.ndarray"  # (a, b) per column: p = sigmoid(a * decision + b)
    thresholds: "np.ndarray"  # per theme
    first_weights: "np.ndarray"  # first stage, one column per theme in ``slugs``
    first_bias: "np.ndarray"
    stack: "np.ndarray"  # (theme, theme): first-stage decisions' weights in the second stage
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
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
            first_bias=self.first_bias, stack=self.stack, meta=np.array(json.dumps({**self.meta, "format": MODEL_FORMAT})),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "Model":
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
                first_bias=arrays["first_bias"], stack=arrays["stack"], meta=meta,
            )

    def rows(self, docs: list[tuple[Counter, dict, list]]):
        """Sparse rows of several documents (terms, rules fired, not-candidate phrases), CSR-style
        (indices, values, offsets): sublinear tf-idf, l2-normalised per row, then the rule
        features; each row keeps its terms' order, so a row is the same in any batch."""
        import numpy as np

        get, rule_index = self.index.get, self.rule_index
        ids, counts, lengths, rules, rule_lengths = [], [], [], [], []
        for terms, fired, blocked in docs:
            ids += map(get, terms, repeat(-1))
            counts += terms.values()
            lengths.append(len(terms))
            fired_rows = [rule_index[slug] for slug in fired if slug in rule_index]
            if blocked:
                fired_rows.append(self.not_candidate_row)
            rules += fired_rows
            rule_lengths.append(len(fired_rows))
        ids = np.array(ids, dtype=np.int64)
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

    def vector(self, terms: Counter, fired: dict, blocked: list):
        """One document's sparse row (indices, values)."""
        indices, values, _ = self.rows([(terms, fired, blocked)])
        return indices, values


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
        docs = [_document(item, self.rules) for item in items]
        whys = []
        for _, fired, blocked in docs:
            whys.append({"rules": fired, "model": self.version})
            if blocked:
                whys[-1]["not_candidate"] = blocked
        if self.model is None:
            return [Prediction([slug for slug in self.theme_set.slugs if slug in fired],
                               rules_candidate_score(fired, blocked), why)
                    for (_, fired, blocked), why in zip(docs, whys)]
        import numpy as np

        model = self.model
        indices, values, offsets = model.rows(docs)
        filled = offsets[1:] > offsets[:-1]

        def row_sums(products, bias):
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
        scores = probability[:, -1].tolist()
        by_column = np.ascontiguousarray(contributions.T)
        candidate = len(model.slugs)
        predictions = []
        for row, ((_, fired, _), why) in enumerate(zip(docs, whys)):
            chosen = {slug for col, slug in self._modelled if above[row][col]}
            chosen |= {slug for slug in fired if slug not in self._model_slugs}
            start, end = offsets[row], offsets[row + 1]
            why["terms"] = {
                name: self._strongest_terms(indices[start:end], by_column[col, start:end])
                for name, col in [*((s, c) for c, s in self._modelled if s in chosen), ("candidate", candidate)]
            }
            predictions.append(Prediction([slug for slug in self.theme_set.slugs if slug in chosen],
                                          round(scores[row], 4), why))
        return predictions

    def _strongest_terms(self, indices, contribution) -> list[str]:
        """The words that pushed hardest towards one theme (or the candidate score)."""
        order = contribution.argsort()[::-1][: int((contribution > 0).sum())]
        best = []
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
        if index >= len(self.model.terms):
            return ""
        word = readable_term(self.model.terms[index])
        return "" if set(word.split()) <= UNINFORMATIVE else word


# --- where models come from ---------------------------------------------------------------

def cache_dir() -> Path:
    base = os.environ.get("TRACKER_CACHE")
    if base:
        return Path(base)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tracker"


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


def shipped_model(theme_set: ThemeSet) -> Model | None:
    """The model trained on the shipped labelled file, from the cache or trained now (a few
    seconds) and cached, keyed on the file, themes.yaml and the model format, so a change to
    any of them retrains. None when no labelled file ships: the rules alone then decide."""
    if not LABELLED_FILE.exists():
        return None
    data = LABELLED_FILE.read_bytes()
    key = hashlib.sha256(b"%d\0%s\0" % (MODEL_FORMAT, theme_set.digest.encode()) + data).hexdigest()[:16]
    path = cache_dir() / f"model-{key}.npz"
    try:
        return Model.from_bytes(path.read_bytes())
    except (OSError, ValueError, KeyError):
        pass  # not cached yet, or a damaged file: train again
    from .training import examples_from_records, fit_model

    model = fit_model(examples_from_records(read_labelled(LABELLED_FILE)), theme_set,
                      data_digest=key, source="shipped")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(model.to_bytes())
        partial.replace(path)
    except OSError:
        pass  # a read-only home: the model still serves this run
    return model


def latest_model(db) -> Model | None:
    """The newest model `tracker train` stored in this database, if any. One stored by an
    older release in another format is passed over (the shipped model serves until the next
    `tracker train`), never an error that would stop a poll's scoring."""
    if "models" not in db.table_names():
        return None
    row = db.execute("select model from models order by trained_at desc, rowid desc limit 1").fetchone()
    try:
        return Model.from_bytes(row[0]) if row else None
    except (ValueError, KeyError, OSError):
        return None


def classifier_for(db=None) -> Classifier:
    theme_set = load_theme_set()
    model = latest_model(db) if db is not None else None
    return Classifier(theme_set, model or shipped_model(theme_set))


# --- applying it --------------------------------------------------------------------------

def classify_publications(db, ids: Iterable[int] | None = None, *, classifier: Classifier | None = None) -> int:
    """Re-score the given publications (default: every one not yet reviewed). Never changes a
    status, nor themes an editor has set: the update itself checks ``themes_by_editor``, so an
    editor's edit made meanwhile still wins. Returns how many were scored."""
    from tracker.store import write_transaction

    classifier = classifier or classifier_for(db)
    columns = "id, title, summary, publisher, themes, why, model_version"
    if ids is None:
        rows = db.execute_returning_dicts(f"select {columns} from publications where status = 'new'")
    else:
        wanted = list(ids)
        rows = []
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows += db.execute_returning_dicts(
                f"select {columns} from publications where id in ({','.join('?' * len(chunk))})", chunk
            )
    # Scored and written a thousand at a time: 100,000 publications' predictions (each with
    # its why) are never all in memory at once.
    for start in range(0, len(rows), 1000):
        chunk = rows[start : start + 1000]
        updates = []
        for row, prediction in zip(chunk, classifier.predict_many(chunk)):
            why = prediction.why
            # A source's default themes (sources.yaml) are in `themes` before the first scoring;
            # keep them in why so a re-score keeps them too.
            source_themes = _source_themes(row)
            if source_themes:
                why["source_themes"] = source_themes
            themes = prediction.themes + [t for t in source_themes if t not in prediction.themes]
            updates.append([json.dumps(themes), prediction.candidate_score, classifier.version,
                            json.dumps(why), row["id"]])
        with write_transaction(db):
            db.conn.executemany(
                """update publications set
                     themes = case when themes_by_editor = 1 then themes else ? end,
                     candidate_score = ?, model_version = ?, why = ?
                   where id = ?""",
                updates,
            )
    return len(rows)


def _source_themes(row: dict) -> list[str]:
    try:
        if row["model_version"] is None:
            return [t for t in json.loads(row["themes"] or "[]") if isinstance(t, str)]
        return list(json.loads(row["why"] or "{}").get("source_themes", []))
    except (ValueError, AttributeError):
        return []


def classify_stream(stream, classifier: Classifier) -> Iterator[list[str]]:
    """One output line per input line, in order, in lists: one per batch of the lines that had
    arrived, so a file is scored BATCH lines at a time while a caller feeding one line at a time
    still gets each answer at once. A bad line gets an ``error`` key, never an exception, and
    the lines after it are still classified. ``stream`` is a binary file or lines of bytes."""
    number = 0
    for lines in _arrived_lines(stream):
        parsed = []
        for line in lines:
            number += 1
            parsed.append((number, *_parse_line(line, number)))
        items = [item for _, item, error in parsed if error is None]
        try:
            predictions = iter(classifier.predict_many(items))
        except Exception:  # one odd line must not stop the rest: find it by scoring one by one
            predictions = iter([_predict_one(classifier, item) for item in items])
        results = []
        for n, item, error in parsed:
            if error is None:
                prediction = next(predictions)
                if isinstance(prediction, Exception):
                    error = f"line {n}: could not classify ({type(prediction).__name__}: {prediction})"
                else:
                    item = {**item, "themes": prediction.themes,
                            "candidate_score": prediction.candidate_score, "why": prediction.why}
            results.append(json.dumps(item if error is None else {**item, "error": error},
                                      ensure_ascii=False))
        yield results


def _arrived_lines(stream) -> Iterator[list[bytes]]:
    """A binary file's lines, in lists of up to BATCH of those already read (``read1`` returns
    what has arrived, waiting only when nothing has), or each of an iterable's lines alone."""
    read = getattr(stream, "read1", None)
    if read is None:
        for line in stream:
            yield [line]
        return
    pending = bytearray()
    while data := read(1 << 16):
        end = data.rfind(b"\n")
        if end < 0:
            pending += data
            continue
        lines = (bytes(pending) + data[:end]).split(b"\n")
        pending[:] = data[end + 1 :]
        for start in range(0, len(lines), BATCH):
            yield lines[start : start + BATCH]
    if pending:
        yield [bytes(pending)]


def _predict_one(classifier: Classifier, item: dict):
    try:
        return classifier.predict(item)
    except Exception as ex:
        return ex


def _parse_line(line: bytes, number: int) -> tuple[dict, str | None]:
    """(the item, None) for a line to classify, else (what to echo back, the error)."""
    text = line.decode("utf-8", errors="replace").strip()
    if not text:
        return {}, f"line {number}: empty line"
    try:
        item = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as ex:
        return {}, f"line {number}: not valid JSON ({getattr(ex, 'msg', 'too deeply nested')})"
    if not isinstance(item, dict):
        return {}, f"line {number}: expected a JSON object, got {type(item).__name__}"
    title = item.get("title")
    if not isinstance(title, str) or not item_texts(item)[0].strip():
        return item, f"line {number}: a non-empty 'title' string is required"
    return item, None


def classify_command(stdin=None, stdout=None, *, rules_only: bool = False) -> None:
    """`tracker classify`: JSON lines in, JSON lines out, flushed after each batch of the lines
    that had arrived, so a caller feeding one line at a time gets each answer at once."""
    stdin = stdin or sys.stdin.buffer
    stdout = stdout or sys.stdout
    classifier = Classifier(load_theme_set()) if rules_only else classifier_for()
    for outputs in classify_stream(stdin, classifier):
        stdout.write("".join(output + "\n" for output in outputs))
        stdout.flush()
