"""Editor accounts: a small JSON file beside the database, never inside it.

The database is served by Datasette and a copy may travel, so password hashes live in
``<db>.editors.json`` (mode 0600). Hashes use the format of datasette-auth-passwords
(``pbkdf2_sha256$iterations$salt$hash``) so an operator can move to that plugin unchanged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
from datetime import datetime, timezone
from pathlib import Path

from tracker import TrackerError

ALGORITHM = "pbkdf2_sha256"
ITERATIONS = 480_000  # datasette-auth-passwords' (and Django 4.2's) figure
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
MIN_PASSWORD = 8
# Verified against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = None


class EditorError(TrackerError):
    pass


def editors_path(db_path: str | Path) -> Path:
    return Path(f"{db_path}.editors.json")


def hash_password(password: str, *, iterations: int = ITERATIONS, salt: str | None = None) -> str:
    salt = salt or secrets.token_urlsafe(12)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt.encode(), iterations)
    encoded = base64.b64encode(digest).decode("ascii").strip()
    return f"{ALGORITHM}${iterations}${salt}${encoded}"


def verify_password(password: str, encoded: str | None) -> bool:
    if not encoded or encoded.count("$") != 3:
        return False
    algorithm, iterations, salt, _ = encoded.split("$")
    if algorithm != ALGORITHM or not iterations.isdigit():
        return False
    candidate = hash_password(password, iterations=int(iterations), salt=salt)
    return hmac.compare_digest(candidate.encode(), encoded.encode())


def load_editors(db_path: str | Path) -> dict[str, dict]:
    """The accounts for this database: {name: {"hash": ..., "updated": ...}}; {} if none."""
    path = editors_path(db_path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as ex:
        raise EditorError(f"cannot read the editors file {path}: {ex}") from None
    editors = data.get("editors") if isinstance(data, dict) else None
    if not isinstance(editors, dict):
        raise EditorError(f"{path}: expected an object with an 'editors' object")
    return editors


def editor_add(db_path: str | Path, name: str, password: str, *, iterations: int = ITERATIONS) -> bool:
    """Create or reset ``name``'s account. Returns True when the account is new."""
    if not NAME_PATTERN.match(name or ""):
        raise EditorError(
            f"invalid editor name {name!r}: use letters, digits, '.', '_' or '-' (at most 40)"
        )
    if len(password) < MIN_PASSWORD:
        raise EditorError(f"the password must be at least {MIN_PASSWORD} characters")
    db_path = Path(db_path)
    if not db_path.exists():
        raise EditorError(f"no database at {db_path}: create one with `tracker poll --db {db_path}`")
    editors = load_editors(db_path)
    created = name not in editors
    editors[name] = {
        "hash": hash_password(password, iterations=iterations),
        "updated": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    _write_private(editors_path(db_path), json.dumps({"editors": editors}, indent=2) + "\n")
    return created


def check_login(db_path: str | Path, name: str, password: str) -> bool:
    """True when ``name`` is an editor of this database and ``password`` is theirs."""
    global _DUMMY_HASH
    record = load_editors(db_path).get(name or "")
    if record is None:
        _DUMMY_HASH = _DUMMY_HASH or hash_password(secrets.token_hex(8))
        verify_password(password, _DUMMY_HASH)
        return False
    return verify_password(password, record.get("hash"))


def _write_private(path: Path, text: str) -> None:
    """Write via a 0600 temporary file and rename: never a moment world-readable or half-written."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
