"""One test (or a parametrised family) per threat in SECURITY.md, against the real parts:
the Datasette workspace through its own client, the poller against the local feed server, the
digest through the CLI."""

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import pytest_asyncio
from datasette.utils import baseconv

from tracker.serve import make_datasette

SECRET = "security-test-secret"
TRACKER = Path(sys.executable).parent / "tracker"
WRITES = {"set_status": {"status": "accepted"}, "add_theme": {"theme": "kinship"},
          "remove_theme": {"theme": "kinship"}}


# --- helpers -------------------------------------------------------------------------------

@pytest_asyncio.fixture
async def workspace(workspace_db):
    datasette = make_datasette(workspace_db, secret=SECRET)
    await datasette.invoke_startup()
    return datasette


def actor_cookie(datasette, actor=None, *, expires_in=3600):
    actor = actor or {"id": "alice", "roles": ["editor"]}
    expires = baseconv.base62.encode(int(time.time()) + expires_in)
    return datasette.sign({"a": actor, "e": expires}, "actor")


async def post(datasette, path, data, cookies=None, csrf=True):
    """POST a form as a browser would: with the CSRF token Datasette handed out on a GET."""
    cookies = dict(cookies or {})
    if csrf:
        page = await datasette.client.get("/-/login")
        cookies["ds_csrftoken"] = page.cookies["ds_csrftoken"]
        data = {**data, "csrftoken": _token(page.text)}
    return await datasette.client.post(path, data=data, cookies=cookies)


def _token(html: str) -> str:
    import re

    return re.search(r'name="csrftoken" value="([^"]+)"', html).group(1)


def snapshot(path):
    with sqlite3.connect(path) as conn:
        return (conn.execute("select id, status, themes, themes_by_editor from publications order by id").fetchall(),
                conn.execute("select count(*) from audit_log").fetchone()[0])


def first_id(path):
    with sqlite3.connect(path) as conn:
        return conn.execute("select min(id) from publications").fetchone()[0]


# --- who can write -------------------------------------------------------------------------

@pytest.mark.asyncio
@pytest.mark.parametrize("query", WRITES)
@pytest.mark.parametrize("who", ["anonymous", "wrong secret", "unsigned", "expired", "no role"])
async def test_only_editors_write(workspace, workspace_db, query, who):
    other = make_datasette(workspace_db, secret="not-the-server-secret")
    cookies = {
        "anonymous": {},
        "wrong secret": {"ds_actor": actor_cookie(other)},
        "unsigned": {"ds_actor": json.dumps({"a": {"id": "alice", "roles": ["editor"]}})},
        "expired": {"ds_actor": actor_cookie(workspace, expires_in=-60)},
        "no role": {"ds_actor": actor_cookie(workspace, {"id": "alice"})},
    }[who]
    before = snapshot(workspace_db)
    db = workspace.get_database().name
    response = await post(workspace, f"/{db}/{query}",
                          {"id": first_id(workspace_db), **WRITES[query], "_json": "1"}, cookies)
    assert response.status_code == 403
    assert snapshot(workspace_db) == before


@pytest.mark.asyncio
async def test_editor_write_needs_the_csrf_token_and_is_audited(workspace, workspace_db):
    db, pid = workspace.get_database().name, first_id(workspace_db)
    cookies = {"ds_actor": actor_cookie(workspace)}
    before = snapshot(workspace_db)
    refused = await post(workspace, f"/{db}/set_status", {"id": pid, "status": "rejected"},
                         cookies, csrf=False)
    assert refused.status_code == 403 and snapshot(workspace_db) == before
    done = await post(workspace, f"/{db}/set_status",
                      {"id": pid, "status": "rejected", "_json": "1"}, cookies)
    assert done.json()["ok"] is True
    with sqlite3.connect(workspace_db) as conn:
        assert conn.execute("select editor, publication_id, action, old_value, new_value "
                            "from audit_log").fetchall() == [("alice", pid, "set_status", "new", "rejected")]


@pytest.mark.asyncio
@pytest.mark.parametrize("path, editors_may", [
    ("/{db}/audit_log", True), ("/{db}/audit_log.json", True), ("/{db}/fetch_log", True),
    ("/{db}/publication_edits", True), ("/{db}?sql=select+*+from+audit_log", True),
    ("/{db}.db", False),  # the whole file: nobody downloads it through the web
])
async def test_private_data_and_arbitrary_sql_are_for_editors_only(workspace, path, editors_may):
    path = path.format(db=workspace.get_database().name)
    assert (await workspace.client.get(path)).status_code == 403
    editor = await workspace.client.get(path, cookies={"ds_actor": actor_cookie(workspace)})
    assert editor.status_code == (200 if editors_may else 403)


# --- hostile editor input ------------------------------------------------------------------

@pytest.mark.asyncio
@pytest.mark.parametrize("query, values", [
    ("set_status", {"id": "1 or 1=1", "status": "accepted"}),
    ("set_status", {"id": "{id}", "status": "accepted' or '1'='1"}),
    ("set_status", {"id": "{id}", "status": "accepted'); drop table publications; --"}),
    ("set_status", {"id": "{id}", "status": "accepted" * 20000}),
    ("add_theme", {"id": "{id}", "theme": "kinship' or 1=1 --"}),
    ("add_theme", {"id": "{id}", "theme": "k" * 200_000}),
    ("remove_theme", {"id": "{id}) or (1=1", "theme": "kinship"}),
])
async def test_hostile_parameters_are_refused_and_change_nothing(workspace, workspace_db, query, values):
    db = workspace.get_database().name
    values = {k: v.replace("{id}", str(first_id(workspace_db))) for k, v in values.items()}
    before = snapshot(workspace_db)
    response = await post(workspace, f"/{db}/{query}", {**values, "_json": "1"},
                          {"ds_actor": actor_cookie(workspace)})
    assert response.json()["ok"] is False
    assert snapshot(workspace_db) == before
