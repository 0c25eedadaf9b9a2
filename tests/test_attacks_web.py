"""Issue 16, the hostile visitor: sessions that end with their account, a body limit, login
throttling, and `next` kept on the site. Through Datasette's own client (the plugin's ASGI guard
included) and, for what needs a real server, `tracker serve` as a real process."""

import re
import socket
import sqlite3
import time
from urllib.parse import urlsplit

import httpx
import pytest
import pytest_asyncio
from datasette.utils import baseconv

from tracker.web import guard
from tracker.web.editors import editor_add, editor_remove, load_editors
from tracker.web.serve import make_datasette

SECRET = "attacks-test-secret"


@pytest_asyncio.fixture
async def ds(workspace_db):
    datasette = make_datasette(workspace_db, secret=SECRET)
    await datasette.invoke_startup()
    return datasette


def _token(html):
    return re.search(r'name="csrftoken" value="([^"]+)"', html).group(1)


async def login(ds, password, username="alice", next_path=None):
    form = await ds.client.get("/-/login")
    token = form.cookies["ds_csrftoken"]
    data = {"username": username, "password": password, "csrftoken": token}
    if next_path is not None:
        data["next"] = next_path
    return await ds.client.post("/-/login", cookies={"ds_csrftoken": token}, data=data)


async def session(ds, password, username="alice"):
    response = await login(ds, password, username)
    assert response.status_code == 302, response.text
    return {"ds_actor": response.cookies["ds_actor"]}


async def is_editor(ds, cookies):
    """Whether the cookie still gets an editor's page (the audit log is for editors only)."""
    name = ds.get_database().name
    status = (await ds.client.get(f"/{name}/audit_log", cookies=cookies)).status_code
    assert status in (200, 403)
    return status == 200


# --- sessions bound to accounts -------------------------------------------------------------

@pytest.mark.asyncio
async def test_removing_an_editor_ends_their_sessions_at_once(ds, workspace_db, editor_password):
    editor_add(workspace_db, "bob", "bobs long password", iterations=1000)
    alice, bob = await session(ds, editor_password), await session(ds, "bobs long password", "bob")
    assert await is_editor(ds, alice) and await is_editor(ds, bob)
    editor_remove(workspace_db, "alice")
    assert not await is_editor(ds, alice)
    assert (await ds.client.get("/-/actor.json", cookies=alice)).json() == {"actor": None}
    assert await is_editor(ds, bob)
    # An account made again under the same name does not bring the old cookie back.
    editor_add(workspace_db, "alice", editor_password, iterations=1000)
    assert not await is_editor(ds, alice)


@pytest.mark.asyncio
async def test_a_new_password_ends_the_sessions_opened_before(ds, workspace_db, editor_password):
    before = await session(ds, editor_password)
    editor_add(workspace_db, "alice", "a brand new password", iterations=1000)
    assert not await is_editor(ds, before)
    after = await session(ds, "a brand new password")
    assert await is_editor(ds, after)
    # Even the same password set again: the reset is what counts.
    editor_add(workspace_db, "alice", "a brand new password", iterations=1000)
    assert not await is_editor(ds, after)


@pytest.mark.asyncio
async def test_logout_ends_that_session_even_when_the_cookie_is_replayed(ds, editor_password):
    laptop, phone = await session(ds, editor_password), await session(ds, editor_password)
    page = await ds.client.get("/-/logout", cookies=laptop)
    assert page.status_code == 200
    token = page.cookies.get("ds_csrftoken") or _token(page.text)
    response = await ds.client.post("/-/logout", cookies={**laptop, "ds_csrftoken": token},
                                    data={"csrftoken": token})
    assert response.status_code == 302
    assert 'ds_actor=""' in response.headers["set-cookie"] or "Max-Age=0" in response.headers["set-cookie"]
    assert not await is_editor(ds, laptop)  # replayed after logout: refused
    assert await is_editor(ds, phone)  # the editor's other session goes on


@pytest.mark.asyncio
async def test_a_cookie_without_a_session_is_not_an_editor(ds):
    """The cookies of before (an actor and an expiry, signed) no longer make an editor: a
    forged or old one must name a live session of an existing account."""
    expires = baseconv.base62.encode(int(time.time()) + 3600)
    for actor in ({"id": "alice", "roles": ["editor"]}, {"id": "root", "roles": ["editor"]}):
        cookie = ds.sign({"a": actor, "e": expires}, "actor")
        assert not await is_editor(ds, {"ds_actor": cookie})


@pytest.mark.asyncio
async def test_a_damaged_accounts_file_ends_every_session(ds, workspace_db, editor_password):
    cookies = await session(ds, editor_password)
    with open(f"{workspace_db}.editors.json", "w") as handle:
        handle.write("{not json")
    assert not await is_editor(ds, cookies)


@pytest.mark.asyncio
@pytest.mark.parametrize("hours", [None, 1.5])
async def test_sessions_last_twelve_hours_unless_configured(workspace_db, editor_password, hours):
    ds = make_datasette(workspace_db, secret=SECRET, session_hours=hours)
    response = await login(ds, editor_password)
    seconds = int((hours or 12) * 3600)
    assert f"Max-Age={seconds}" in response.headers["set-cookie"]
    expires = int(baseconv.base62.decode(ds.unsign(response.cookies["ds_actor"], "actor")["e"]))
    assert abs(expires - (time.time() + seconds)) < 60


# --- the body limit -------------------------------------------------------------------------

@pytest.mark.asyncio
async def test_a_body_over_the_limit_is_refused_with_413(ds, editor_password):
    big = b"username=alice&password=" + b"x" * (guard.MAX_BODY + 1)
    headers = {"content-type": "application/x-www-form-urlencoded"}
    declared = await ds.client.post("/-/login", content=big, headers=headers)
    assert declared.status_code == 413

    async def chunks():  # no Content-Length: read up to the limit, then refused
        for _ in range(40):
            yield b"x" * 65536

    chunked = await ds.client.post("/-/login", content=chunks(), headers=headers)
    assert chunked.status_code == 413
    assert (await ds.client.post("/-/login", content=b"a=1", headers={"content-length": "-5"})).status_code == 413
    # A form of ordinary size, chunked or not, still logs in.
    assert (await login(ds, editor_password)).status_code == 302


# --- login throttling -----------------------------------------------------------------------

@pytest.mark.asyncio
async def test_repeated_failed_logins_are_slowed_down(ds, editor_password):
    for _ in range(guard.FREE_FAILURES):
        assert (await login(ds, "wrong password")).status_code == 401
    assert (await login(ds, "wrong password")).status_code == 401  # the first delayed one
    # During the delay even the right password is refused, without being checked.
    refused = await login(ds, editor_password)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert "Too many failed logins" in refused.text and "ds_actor" not in refused.cookies


def test_the_delay_grows_per_account_and_per_address_and_is_forgotten():
    now = [1000.0]
    throttle = guard.Throttle(clock=lambda: now[0])
    account = "account:alice"
    for n in range(guard.FREE_FAILURES):  # a few typos cost nothing
        assert throttle.wait(account, f"address:10.0.0.{n}") == 0
        throttle.failed(account, f"address:10.0.0.{n}")
    delays = []
    for n in range(12):
        address = f"address:10.0.1.{n}"  # a new address each time: the account still waits
        now[0] += throttle.wait(account, address)
        throttle.failed(account, address)
        delays.append(throttle.wait(account))
    assert delays[:4] == [2, 4, 8, 16] and delays[-1] == guard.MAX_DELAY
    assert delays == sorted(delays)
    # One address trying many accounts waits as well.
    for n in range(guard.FREE_FAILURES + 1):
        throttle.failed(f"account:user{n}", "address:192.0.2.1")
    assert throttle.wait("account:someone-else", "address:192.0.2.1") > 0
    assert throttle.wait("account:someone-else", "address:192.0.2.2") == 0
    now[0] += guard.FORGET_AFTER + guard.MAX_DELAY + 1
    assert throttle.wait(account, "address:192.0.2.1") == 0
    throttle.succeeded(account)


def test_the_throttle_remembers_a_bounded_number_of_keys():
    throttle = guard.Throttle()
    for n in range(guard.MAX_KEYS + 500):
        throttle.failed(f"account:random-{n}")
    assert len(throttle._keys) == guard.MAX_KEYS


# --- where a login sends the editor ---------------------------------------------------------

@pytest.mark.asyncio
@pytest.mark.parametrize("next_path", [
    "/\\evil.example/", "//evil.example/", "https://evil.example/", "/\t/evil.example/",
    "/\r\nSet-Cookie: stolen=1", "/x\nLocation: https://evil.example/", "/\x00evil", "/\\/evil",
    "http:/evil.example", " //evil.example/", "",
])
async def test_next_is_only_ever_a_path_on_this_site(ds, editor_password, next_path):
    response = await login(ds, editor_password, next_path=next_path)
    assert response.status_code == 302
    assert response.headers["location"] == "/-/triage"
    assert "stolen" not in str(response.headers)


@pytest.mark.asyncio
async def test_a_same_site_next_is_kept_and_sent_as_plain_ascii(ds, editor_password):
    name = ds.get_database().name
    kept = await login(ds, editor_password, next_path=f"/{name}/publications?_search=café")
    assert kept.headers["location"] == f"/{name}/publications?_search=caf%C3%A9"
    # The form itself survives a hostile next (it is escaped into the page, not a header).
    form = await ds.client.get("/-/login?next=%2F%0D%0ASet-Cookie%3A+x%3D1")
    assert form.status_code == 200 and "Set-Cookie: x" not in str(form.headers)


# --- a real server --------------------------------------------------------------------------

def _rss_kb(pid):
    with open(f"/proc/{pid}/status") as status:
        return int(next(line for line in status if line.startswith("VmRSS")).split()[1])


def _real_login(base, password):
    client = httpx.Client(base_url=base, follow_redirects=False, timeout=30)
    form = client.get("/-/login")
    token = _token(form.text)
    response = client.post("/-/login", data={"username": "alice", "password": password,
                                             "csrftoken": token})
    assert response.status_code == 302, response.text
    return client


def test_a_running_server_ends_a_removed_editors_sessions(workspace_db, serve_process, run_tracker,
                                                          editor_password):
    proc, base = serve_process("--db", str(workspace_db), "--no-poll")
    client = _real_login(base, editor_password)
    name = workspace_db.stem
    assert client.get(f"/{name}/audit_log").status_code == 200
    result = run_tracker("editor", "remove", "alice", "--db", workspace_db)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"Removed editor alice from {workspace_db}; their sessions have ended\n"
    assert client.get(f"/{name}/audit_log").status_code == 403
    assert "alice" not in load_editors(workspace_db)


def test_a_200_mb_post_is_refused_early_and_costs_the_server_nothing(workspace_db, serve_process):
    proc, base = serve_process("--db", str(workspace_db), "--no-poll")
    host, port = urlsplit(base).hostname, urlsplit(base).port
    before = _rss_kb(proc.pid)
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(b"POST /-/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-"
                     b"urlencoded\r\nContent-Length: %d\r\n\r\n" % (200 * 1024 * 1024))
        sent, chunk = 0, b"x" * 65536
        try:  # keep sending, as the attacker would, until the server closes the connection
            while sent < 200 * 1024 * 1024:
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass
        answer = b""
        try:
            while data := sock.recv(65536):
                answer += data
        except OSError:
            pass
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 50 * 1024 * 1024  # refused long before the 200 MB were through
    assert _rss_kb(proc.pid) - before < 30 * 1024
    # ... and still answering.
    assert httpx.get(f"{base}-/login", timeout=30).status_code == 200


def test_a_chunked_flood_is_cut_off_at_the_limit(workspace_db, serve_process):
    proc, base = serve_process("--db", str(workspace_db), "--no-poll")
    host, port = urlsplit(base).hostname, urlsplit(base).port
    before = _rss_kb(proc.pid)
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(b"POST /-/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        sent = 0
        try:
            while sent < 100 * 1024 * 1024:
                sock.sendall(b"10000\r\n" + b"x" * 65536 + b"\r\n")
                sent += 65536
        except OSError:
            pass
        answer = sock.recv(65536) if sent < 100 * 1024 * 1024 else b""
        try:
            answer += sock.recv(65536)
        except OSError:
            pass
    assert b" 413 " in answer[:20], answer[:200]
    assert _rss_kb(proc.pid) - before < 30 * 1024


@pytest.mark.asyncio
async def test_the_guard_acts_only_where_the_workspace_is_configured(tmp_path, workspace_db):
    """Another Datasette in the same environment keeps its own rules: no body limit, its own
    cookies; under a base_url the workspace's guard still applies."""
    from datasette.app import Datasette

    sqlite3.connect(tmp_path / "other.db").close()
    plain = Datasette([str(tmp_path / "other.db")], secret=SECRET)
    big = b"x" * (guard.MAX_BODY + 1)
    assert (await plain.client.post("/-/nothing-here", content=big)).status_code != 413
    cookie = plain.sign({"a": {"id": "someone"}}, "actor")
    actor = (await plain.client.get("/-/actor.json", cookies={"ds_actor": cookie})).json()
    assert actor == {"actor": {"id": "someone"}}
    proxied = make_datasette(workspace_db, secret=SECRET, base_url="/tracker/")
    assert (await proxied.client.post("/tracker/-/login", content=big)).status_code == 413
