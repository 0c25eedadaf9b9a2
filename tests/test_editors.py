"""Editor accounts: `tracker editor add` as a real process, and the file it keeps."""

import base64
import json
import stat
from pathlib import Path

import pytest

from tracker.store import open_database
from tracker.web.editors import (
    ITERATIONS,
    check_login,
    editor_add,
    editors_path,
    hash_password,
    load_editors,
    verify_password,
)


@pytest.fixture
def tracker_db(db_path):
    open_database(db_path).close()
    return db_path


@pytest.fixture
def run_add(run_tracker):
    """`tracker editor add NAME --db DB` as a real process, ``stdin`` its standard input."""

    def run(name, db_path, stdin):
        return run_tracker("editor", "add", name, "--db", db_path, input=stdin, cwd="/", timeout=60)

    return run


def test_editor_add_reads_the_password_from_stdin(tracker_db, run_add):
    result = run_add("alice", tracker_db, "a long secret phrase\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"Created editor alice for {tracker_db}\n"
    path = editors_path(tracker_db)
    assert path == Path(f"{tracker_db}.editors.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    record = load_editors(tracker_db)["alice"]
    algorithm, iterations, _, _ = record["hash"].split("$")
    assert (algorithm, int(iterations)) == ("pbkdf2_sha256", ITERATIONS)
    assert "a long secret phrase" not in path.read_text()
    assert check_login(tracker_db, "alice", "a long secret phrase")
    assert not check_login(tracker_db, "alice", "a long secret phrase ")


def test_editor_add_resets_and_keeps_the_others(tracker_db, run_add):
    editor_add(tracker_db, "bob", "bobs password", iterations=1000)
    result = run_add("alice", tracker_db, "first password")
    assert result.returncode == 0
    result = run_add("alice", tracker_db, "second password")
    assert result.stdout.startswith("Reset the password of editor alice")
    assert not check_login(tracker_db, "alice", "first password")
    assert check_login(tracker_db, "alice", "second password")
    assert check_login(tracker_db, "bob", "bobs password")


def test_no_account_is_stored_in_the_database(tracker_db, run_add):
    run_add("alice", tracker_db, "a long secret phrase")
    conn = open_database(tracker_db).conn
    dump = "\n".join(conn.iterdump())
    assert "pbkdf2" not in dump and "alice" not in dump


@pytest.mark.parametrize("name,password,message", [
    ("alice smith", "long enough", "invalid editor name"),
    ("../../etc", "long enough", "invalid editor name"),
    ("alice", "short", "at least 8 characters"),
    ("alice", "", "at least 8 characters"),
])
def test_editor_add_refuses_bad_input(tracker_db, name, password, message, run_add):
    result = run_add(name, tracker_db, password)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not editors_path(tracker_db).exists()


def test_editor_add_needs_the_database(tmp_path, run_add):
    result = run_add("alice", tmp_path / "missing.db", "long enough")
    assert result.returncode == 2
    assert "no database at" in result.stderr


def test_a_corrupt_accounts_file_is_a_clear_error(tracker_db, run_add):
    editors_path(tracker_db).write_text("{not json")
    result = run_add("alice", tracker_db, "long enough")
    assert result.returncode == 2
    assert "cannot read the editors file" in result.stderr


@pytest.mark.parametrize("encoded", [
    None, "", "md5$1$x$y", "pbkdf2_sha256$abc$salt$hash", "pbkdf2_sha256$1000$salt",
])
def test_verify_refuses_malformed_hashes(encoded):
    assert verify_password("anything", encoded) is False


def test_hash_matches_datasette_auth_passwords_format():
    # datasette-auth-passwords: pbkdf2_sha256$<iterations>$<salt>$<base64 digest>
    # The published PBKDF2-HMAC-SHA256 vector for ("password", "salt", 1 iteration, 32 bytes).
    digest = bytes.fromhex("120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b")
    encoded = hash_password("password", iterations=1, salt="salt")
    assert encoded == "pbkdf2_sha256$1$salt$" + base64.b64encode(digest).decode()
    assert json.dumps(encoded)  # plain text, safe in JSON
    assert verify_password("password", encoded)


def test_editor_remove_removes_that_account_only(tracker_db, run_tracker):
    editor_add(tracker_db, "alice", "alices password", iterations=1000)
    editor_add(tracker_db, "bob", "bobs password", iterations=1000)
    result = run_tracker("editor", "remove", "alice", "--db", tracker_db, cwd="/", timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"Removed editor alice from {tracker_db}; their sessions have ended\n"
    assert sorted(load_editors(tracker_db)) == ["bob"]
    assert not check_login(tracker_db, "alice", "alices password")
    assert check_login(tracker_db, "bob", "bobs password")
    again = run_tracker("editor", "remove", "alice", "--db", tracker_db, cwd="/", timeout=60)
    assert again.returncode == 2 and "no editor named 'alice'" in again.stderr


def test_the_accounts_lock_is_private_and_a_logout_is_remembered_until_it_expires(tracker_db):
    import time

    from tracker.web.editors import end_session

    editor_add(tracker_db, "alice", "alices password", iterations=1000)
    end_session(tracker_db, "alice", "old-session", int(time.time()) - 1)
    end_session(tracker_db, "alice", "new-session", int(time.time()) + 3600)
    assert list(load_editors(tracker_db)["alice"]["ended"]) == ["new-session"]  # the past one pruned
    lock = Path(f"{editors_path(tracker_db)}.lock")
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600
    end_session(tracker_db, "nobody", "x", int(time.time()) + 60)  # a removed account: nothing to do
    assert sorted(load_editors(tracker_db)) == ["alice"]
