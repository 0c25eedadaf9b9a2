"""Where a Classifier's model comes from: the newest one `tracker train` stored in the database,
else the one trained on the shipped labelled file, cached on first use.

Only a cache miss imports ``fitting`` (and so scikit-learn): `tracker poll` and `tracker
classify` with a warm cache never load it. ``fitting`` never imports this module back.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from .examples import LABELLED_FILE, examples_from_records, read_labelled
from .model import MODEL_FORMAT, Classifier, Model
from .themes import ThemeSet, load_theme_set

if TYPE_CHECKING:
    from sqlite_utils import Database


def cache_dir() -> Path:
    base = os.environ.get("TRACKER_CACHE")
    if base:
        return Path(base)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tracker"


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
    from .fitting import fit_model  # scikit-learn: over a second to import, needed only here

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


def latest_model(db: Database) -> Model | None:
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


def classifier_for(db: Database | None = None) -> Classifier:
    """themes.yaml's rules with the model that should score for this database (or none)."""
    theme_set = load_theme_set()
    model = latest_model(db) if db is not None else None
    return Classifier(theme_set, model or shipped_model(theme_set))
