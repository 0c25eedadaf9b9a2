"""Editor accounts: a small JSON file beside the database, never inside it.

The database is served by Datasette and a copy may travel, so password hashes live in
``<db>.editors.json`` (mode 0600). Hashes use the format of datasette-auth-passwords
(``pbkdf2_sha256$iterations$salt$hash``) so an operator can move to that plugin unchanged.

The file is also what binds sessions to accounts: a session carries its account's
``session_key`` (which changes with every new password, so also when an account is removed and
made again) and ends when that changes, when the account goes, or when it is listed among the
account's ``ended`` sessions (logged out). Every change to the file is made under a lock
(``<db>.editors.json.lock``) and lands by rename, so concurrent `tracker editor add` runs and a
server's logouts never lose each other's writes, and a reader never sees half a file.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
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


def session_key(record: dict) -> str:
    """What a session of this account must carry: a fingerprint of its password hash, so a new
    password (a new random salt, even for the same password) ends the sessions opened before."""
    return hashlib.sha256(str(record.get("hash")).encode()).hexdigest()[:32]


# The server's view of each accounts file, re-read whenever the file is replaced: (the file's
# identity, its accounts) by path. Every request with a session cookie asks, so a stat, not a read.
_current: dict[Path, tuple[tuple[int, int, int], dict[str, dict]]] = {}
_current_lock = threading.Lock()


def current_editors(db_path: str | Path) -> dict[str, dict]:
    """The accounts as the file holds them now (cached until the file changes; do not modify)."""
    path = editors_path(db_path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        return {}
    except OSError as ex:
        raise EditorError(f"cannot read the editors file {path}: {ex}") from None
    # Every write replaces the file (a new inode), so the identity changes with each one.
    identity = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    with _current_lock:
        cached = _current.get(path)
        if cached is not None and cached[0] == identity:
            return cached[1]
    editors = load_editors(db_path)
    with _current_lock:
        _current[path] = (identity, editors)
    return editors


@contextmanager
def _locked(db_path: str | Path) -> Iterator[None]:
    """Hold the accounts file's lock: one read-modify-write at a time, across processes."""
    lock = Path(f"{editors_path(db_path)}.lock")
    try:
        fd = os.open(lock, os.O_WRONLY | os.O_CREAT, 0o600)
    except OSError as ex:
        raise EditorError(f"cannot lock the editors file: {ex}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def editor_add(db_path: str | Path, name: str, password: str, *, iterations: int = ITERATIONS) -> bool:
    """Create or reset ``name``'s account. Returns True when the account is new.

    A reset ends the account's sessions (its session key changes with the hash)."""
    if not NAME_PATTERN.match(name or ""):
        raise EditorError(
            f"invalid editor name {name!r}: use letters, digits, '.', '_' or '-' (at most 40)"
        )
    if len(password) < MIN_PASSWORD:
        raise EditorError(f"the password must be at least {MIN_PASSWORD} characters")
    db_path = Path(db_path)
    if not db_path.exists():
        raise EditorError(f"no database at {db_path}: create one with `tracker poll --db {db_path}`")
    hashed = hash_password(password, iterations=iterations)  # slow: before taking the lock
    with _locked(db_path):
        editors = load_editors(db_path)
        created = name not in editors
        editors[name] = {"hash": hashed,
                         "updated": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
        _save(db_path, editors)
    return created


def editor_remove(db_path: str | Path, name: str) -> None:
    """Remove ``name``'s account: its sessions end at once, in a running server too (the
    server re-reads the file when it changes)."""
    with _locked(db_path):
        editors = load_editors(db_path)
        if name not in editors:
            raise EditorError(f"no editor named {name!r} for {db_path}")
        del editors[name]
        _save(db_path, editors)


def end_session(db_path: str | Path, name: str, session: str, until: int) -> None:
    """Record that session ``session`` of ``name`` was logged out; it would have expired at
    ``until`` (epoch seconds), after which it is forgotten (a cookie past it is refused anyway)."""
    with _locked(db_path):
        editors = load_editors(db_path)
        record = editors.get(name)
        if record is None:  # the account went meanwhile, and its sessions with it
            return
        now = time.time()
        ended = {sid: expiry for sid, expiry in (record.get("ended") or {}).items() if expiry > now}
        record["ended"] = {**ended, session: until}
        _save(db_path, editors)


def _save(db_path: str | Path, editors: dict[str, dict]) -> None:
    _write_private(editors_path(db_path), json.dumps({"editors": editors}, indent=2) + "\n")


def check_login(db_path: str | Path, name: str, password: str) -> bool:
    """True when ``name`` is an editor of this database and ``password`` is theirs."""
    global _DUMMY_HASH
    record = current_editors(db_path).get(name or "")
    if record is None:
        _DUMMY_HASH = _DUMMY_HASH or hash_password(secrets.token_hex(8))
        verify_password(password, _DUMMY_HASH)
        return False
    return verify_password(password, record.get("hash"))


def _write_private(path: Path, text: str) -> None:
    """Write via a 0600 temporary file and rename: never a moment world-readable or half-written."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
