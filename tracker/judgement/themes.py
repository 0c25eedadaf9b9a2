"""themes.yaml: the themes (slug, label, network, description, phrases) and the not-candidate
phrases, read and validated here and nowhere else in the project.

``rule_text`` lives here because it is what a phrase *is*: themes.yaml's phrases and the texts
they are matched against are both compared in that form.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from tracker import TrackerError
from tracker.paths import data_file
from tracker.yamlfile import parse_yaml

THEMES_FILE = "themes.yaml"
SLUG = re.compile(r"^[a-z][a-z0-9_]*$")
QUOTES = re.compile(r"['’‘`]")
WORD = re.compile(r"\w+")
THEME_KEYS = {"label", "network", "description", "include", "exclude"}


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
        raw = path.read_bytes()  # the bytes, for the digest that keys the shipped model's cache
    except OSError as ex:
        raise ThemesError(f"cannot read {path}: {ex.strerror or ex}") from None
    data = parse_yaml(raw, path, error=ThemesError)
    return parse_themes(data, name=str(path), digest=hashlib.sha256(raw).hexdigest())


def parse_themes(data: object, *, name: str = THEMES_FILE, digest: str = "") -> ThemeSet:
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


def _phrases(value: object, what: str, required: bool = False) -> tuple[str, ...]:
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


def theme_list(value: str | bytes | None) -> list[str]:
    """The theme slugs in a JSON array as a ``themes`` column holds it (text, or None for none),
    strings only; [] for anything else a script's SQL may have left there."""
    try:
        themes = json.loads(value or "[]")
    except (ValueError, TypeError):
        return []
    return [t for t in themes if isinstance(t, str)] if isinstance(themes, list) else []
