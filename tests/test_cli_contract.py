"""Issue 16, the unlucky operator: every failure a user can cause is one line on stderr and exit
status 2, never a traceback (CONTRACT). Most cases run the real command in process (Click's
runner: the same code, parsing and error handling as the installed command); what needs separate
processes (a lock between them, another user's permissions) runs `tracker` as a real process."""

import json
import os
import sqlite3
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
from click.testing import CliRunner

from tracker.cli import cli
from tracker.store import open_database
from tracker.web.editors import load_editors


@pytest.fixture
def tracker_db(db_path):
    open_database(db_path).close()
    return db_path


def run(*args, input=None, env=None):
    """`tracker ARGS` in process: (exit code, stdout, stderr)."""
    result = CliRunner().invoke(cli, [str(arg) for arg in args], input=input, env=env)
    return result.exit_code, result.stdout, result.stderr


def assert_one_line(code, stderr, *words):
    assert code == 2, stderr
    assert "Traceback" not in stderr and stderr.count("\n") == 1, stderr
    assert stderr.startswith("Error: "), stderr
    for word in words:
        assert word in stderr, stderr


# --- extreme dates and numbers --------------------------------------------------------------

@pytest.mark.parametrize("week", ["0001-01-01", "0001-03-01", "9999-12-31", "9999-12-30",
                                  "10000-01-01", "1899-12-31"])
@pytest.mark.parametrize("extra", [(), ("--save", "--format", "html")])
def test_extreme_weeks_are_one_line_and_exit_2(tracker_db, week, extra):
    code, _, stderr = run("digest", "--week", week, "--db", tracker_db, *extra)
    assert_one_line(code, stderr, "--week")


@pytest.mark.parametrize("weeks", ["100000000", "100000000000000000000000", "0", "-3"])
def test_a_window_beyond_the_calendar_is_one_line_and_exit_2(tracker_db, weeks):
    code, _, stderr = run("digest", "--week", "2025-04-18", "--weeks", weeks, "--db", tracker_db)
    assert_one_line(code, stderr, "--weeks")


@pytest.mark.parametrize("week", ["1900-01-05", "2025-04-18", "2999-12-31"])
def test_a_sane_week_still_gives_its_list(tracker_db, week):
    code, stdout, stderr = run("digest", "--week", week, "--db", tracker_db)
    assert code == 0, stderr


# --- Click's own errors, under every command ----------------------------------------------

@pytest.mark.parametrize("args", [
    ("poll", "--frequency", "daily"), ("poll", "--db", "/"), ("notify", "--sources"), ("classify", "--db"),
    ("train", "extra"), ("serve", "--port", "http"), ("demo", "--port", "x"), ("evaluate",),
    ("editor", "add"), ("editor", "rename", "alice"), ("sources", "list"), ("sources", "check", "--nope"),
    ("nosuch",), ("--log-level", "loud", "poll"), ("digest", "--week", "x"), ("add",),
])
def test_a_bad_option_argument_or_command_is_one_line_and_exit_2(args):
    code, stdout, stderr = run(*args)
    assert_one_line(code, stderr)
    assert stdout == ""


def test_a_group_run_bare_still_prints_its_help():
    code, _, stderr = run("editor")
    assert code == 2 and "Usage: cli editor" in stderr and "remove" in stderr


# --- damaged, missing and unwritable databases ----------------------------------------------

def damaged(path, kind):
    if kind == "random bytes":
        path.write_bytes(os.urandom(8192))
    elif kind == "truncated":
        with sqlite3.connect(path) as conn:
            conn.execute("create table t (x)")
            conn.executemany("insert into t values (?)", [("x" * 500,)] * 200)
        path.write_bytes(path.read_bytes()[:1500])
    elif kind == "a text file":
        path.write_text("not a database at all\n" * 100)
    elif kind == "empty header":
        path.write_bytes(b"SQLite format 3\x00" + b"\x00" * 84)
    return path


COMMANDS = {
    "digest": ("digest", "--week", "2025-04-18", "--db"),
    "digest --save": ("digest", "--week", "2025-04-18", "--save", "--db"),
    "train": ("train", "--db"),
    "editor remove": ("editor", "remove", "alice", "--db"),
    "backup": ("backup", "{tmp}/copy.db", "--db"),
}


@pytest.mark.parametrize("kind", ["random bytes", "truncated", "a text file", "empty header"])
@pytest.mark.parametrize("command", COMMANDS)
def test_a_damaged_database_is_one_line_and_exit_2(tmp_path, kind, command):
    path = damaged(tmp_path / "tracker.db", kind)
    args = [arg.format(tmp=tmp_path) for arg in COMMANDS[command]]
    code, _, stderr = run(*args, path)
    assert_one_line(code, stderr)


@pytest.fixture
def damaged_inside(tmp_path):
    """A tracker database whose header and schema read fine but whose pages of publications
    are damaged: found only in the middle of a query."""
    path = tmp_path / "tracker.db"
    db = open_database(path)
    db["publications"].insert_all(
        [{"url": f"https://example.org/{n}", "url_key": f"example.org/{n}", "title": "t" * 200,
          "status": "accepted", "published": "2025-04-01", "first_seen": "2025-04-01T09:00:00Z",
          "themes": "[]"} for n in range(3000)], alter=False)
    db.conn.execute("pragma wal_checkpoint(truncate)")
    db.close()
    data = bytearray(path.read_bytes())
    for offset in range(len(data) // 3, len(data), 4096 * 7):
        data[offset:offset + 600] = b"\xa5" * 600
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("command", ["digest", "digest --save", "train"])
def test_damage_found_in_the_middle_of_a_query_is_one_line_and_exit_2(damaged_inside, command):
    code, _, stderr = run(*COMMANDS[command], damaged_inside)
    assert_one_line(code, stderr, "malformed")


@pytest.mark.parametrize("command", ["digest", "train", "editor remove"])
def test_a_missing_database_is_one_line_and_exit_2(tmp_path, command):
    code, _, stderr = run(*COMMANDS[command], tmp_path / "missing.db")
    assert_one_line(code, stderr)


@pytest.mark.parametrize("command", ["add", "remove"])
def test_editor_accounts_are_only_for_a_tracker_database(tmp_path, command):
    """A mistyped --db: no accounts file, nor its lock, is left beside another file or none."""
    for path in (damaged(tmp_path / "notes.db", "a text file"), tmp_path / "missing.db"):
        code, _, stderr = run("editor", command, "alice", "--db", path, input="a long password\n")
        assert_one_line(code, stderr, str(path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]


def test_editor_remove_of_nobody_is_one_line_and_exit_2(tracker_db):
    code, _, stderr = run("editor", "remove", "nobody", "--db", tracker_db)
    assert_one_line(code, stderr, "no editor named 'nobody'")


# --- hostile YAML -----------------------------------------------------------------------------

BILLION_LAUGHS = "\n".join(
    ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    + [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]" for i in range(9)]
) + "\n"


def test_billion_laughs_in_sources_yaml_is_one_line_and_exit_2(tmp_path):
    sources = tmp_path / "sources.yaml"
    sources.write_text(BILLION_LAUGHS + "sources: *j\n")
    code, _, stderr = run("poll", "--sources", sources, "--db", tmp_path / "t.db")
    assert_one_line(code, stderr, str(sources))


def test_billion_laughs_in_themes_yaml_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "themes.yaml").write_text(BILLION_LAUGHS + "themes: *j\n")
    line = json.dumps({"title": "Kinship care"}) + "\n"
    code, _, stderr = run("classify", "--rules-only", input=line,
                          env={"TRACKER_HOME": str(tmp_path)})
    assert_one_line(code, stderr, "themes.yaml")


@pytest.mark.parametrize("interval", ["1e400", "10**100", "99999999999999999999999999", "-1", "inf"])
def test_a_huge_interval_is_one_line_and_exit_2(tmp_path, interval):
    sources = tmp_path / "sources.yaml"
    sources.write_text(f"settings:\n  interval: {interval}\nsources:\n"
                       "  - {id: a, publisher: DfE, type: feed, url: 'https://example.org/feed'}\n")
    code, _, stderr = run("poll", "--sources", sources, "--db", tmp_path / "t.db")
    assert_one_line(code, stderr, "interval")


# --- tracker classify: an unencodable character -----------------------------------------------

def test_classify_answers_a_lone_surrogate_with_an_error_line_and_carries_on():
    lines = ['{"title": "Kinship care \\ud800 strategy"}', '{"title": "Fostering allowances"}',
             '{"title": "ok", "summary": "\\udfff"}', '{"title": "Adoption support fund \\ud83d\\ude00"}']
    code, stdout, stderr = run("classify", "--rules-only", input="\n".join(lines) + "\n")
    assert code == 0, stderr
    out = [json.loads(line) for line in stdout.splitlines()]
    assert len(out) == 4
    assert "error" in out[0] and "line 1" in out[0]["error"] and "surrogate" in out[0]["error"]
    assert "fostering" in out[1]["themes"]
    assert "error" in out[2] and "line 3" in out[2]["error"]
    assert out[3]["title"] == "Adoption support fund \U0001F600" and "adoption" in out[3]["themes"]


# --- between processes ------------------------------------------------------------------------

def test_ten_concurrent_editor_adds_keep_all_ten(tracker_db, run_tracker):
    names = [f"editor{n}" for n in range(10)]

    def add(name):
        return run_tracker("editor", "add", name, "--db", tracker_db, input=f"password of {name}\n")

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(add, names))
    assert [r.returncode for r in results] == [0] * 10, [r.stderr for r in results]
    assert sorted(load_editors(tracker_db)) == names


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder holding a tracker database that cannot be written: a read-only filesystem
    (a tmpfs mounted read-only) when the tests run as root, who may write any file, else the
    permissions taken away."""
    folder = tmp_path / "ro"
    folder.mkdir()
    as_root = os.getuid() == 0
    if as_root and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tracker-test", str(folder)],
                                  capture_output=True).returncode != 0:
        pytest.skip("running as root without the right to mount a read-only filesystem")
    open_database(folder / "tracker.db").close()
    if as_root:
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
    else:
        os.chmod(folder / "tracker.db", 0o444)
        os.chmod(folder, 0o555)
    yield folder
    if as_root:
        subprocess.run(["umount", str(folder)], check=True)
    else:
        os.chmod(folder, 0o755)


@pytest.mark.parametrize("what", ["new database", "existing database"])
@pytest.mark.parametrize("command", ["poll", "digest --save", "editor add"])
def test_a_read_only_filesystem_or_folder_is_one_line_and_exit_2(read_only_folder, tmp_path,
                                                                  run_tracker, what, command):
    target = read_only_folder / ("new.db" if what == "new database" else "tracker.db")
    sources = tmp_path / "sources.yaml"
    sources.write_text("sources:\n  - {id: a, publisher: DfE, type: feed, url: 'http://127.0.0.1:9/feed'}\n")
    args = {"poll": ["poll", "--sources", sources, "--db", target],
            "digest --save": ["digest", "--week", "2025-04-18", "--save", "--db", target],
            "editor add": ["editor", "add", "alice", "--db", target]}[command]
    result = run_tracker(*args, input="a long password\n", cwd="/", timeout=120)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1, result.stderr
