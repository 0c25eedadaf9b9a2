"""One test (or a parametrised family) per threat in SECURITY.md, against the real parts:
the Datasette workspace through its own client, the poller against the local feed server, the
digest through the CLI."""

import json
import sqlite3
import time
from datetime import date

import pytest
import pytest_asyncio
from datasette.utils import baseconv

from tracker.web.serve import make_datasette

SECRET = "security-test-secret"
WRITES = {"set_status": {"status": "accepted"}, "add_theme": {"theme": "kinship"},
          "remove_theme": {"theme": "kinship"}}


# --- helpers -------------------------------------------------------------------------------

@pytest_asyncio.fixture
async def workspace(workspace_db):
    datasette = make_datasette(workspace_db, secret=SECRET)
    await datasette.invoke_startup()
    return datasette


def actor_cookie(datasette, actor=None, *, expires_in=3600):
    """A cookie as /-/login sets it (a live session of alice's account), signed with
    ``datasette``'s secret, with another actor or expiry where asked."""
    from tracker.web.sessions import open_session

    session = datasette.unsign(open_session(datasette, "alice"), "actor")
    session["a"] = actor or session["a"]
    session["e"] = baseconv.base62.encode(int(time.time()) + expires_in)
    return datasette.sign(session, "actor")


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


# --- hostile feeds -------------------------------------------------------------------------

SCRIPT, IMG, JS = "<script>window.pwned=1</script>", '<img src=x onerror="window.pwned=2">', "javascript:window.pwned=3"
MARKERS = ("<script>window.pwned", "<img src=x onerror", 'href="javascript:', "href='javascript:")


def hostile_feed(base: str) -> bytes:
    """Script in every field a feed controls, raw, entity-escaped and double-escaped."""
    from xml.sax.saxutils import escape

    entries = [
        ("text", f"Kinship care guidance {SCRIPT}", f"{base}/one", f"Summary {SCRIPT}{IMG}"),
        ("html", f"Fostering data {IMG}", f"{base}/two", f"<p>Read <a href=\"{JS}\">this</a></p>"),
        ("html", f"Adoption report {escape(SCRIPT)}", f"{base}/three", escape(escape(SCRIPT))),
        ("text", "Youth justice statistics", JS, "A link that is a script"),
    ]
    body = "".join(
        f"<entry><id>tag:hostile:{n}</id><title type=\"{kind}\">{escape(title)}</title>"
        f"<link href=\"{escape(link)}\"/><updated>2026-11-23T09:00:00Z</updated>"
        f"<summary type=\"html\">{escape(summary)}</summary></entry>"
        for n, (kind, title, link, summary) in enumerate(entries)
    )
    return (f"<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
            f"<id>tag:hostile</id><title>{escape(SCRIPT)}</title>{body}</feed>").encode()


def poll(db, db_path, feed_server, sources, **options):
    from tracker.ingest.config import parse_config
    from tracker.ingest.poll import poll_sources

    config = parse_config({"sources": [
        {"id": source_id, "publisher": "DfE", "type": "feed",
         "url": url if url.startswith("http") else feed_server.url(url)}
        for source_id, url in sources.items()]})
    return poll_sources(db, config, config.select(), db_path=db_path, **options)


def good_feed(feed_server):
    return feed_server.serve_file("/good.atom", "govuk-org.atom")


def test_script_in_a_feed_never_reaches_a_page_the_digest_or_the_atom_feed(db, db_path, feed_server):
    import asyncio

    from tracker.publish.digest import DigestRequest, digest_report, save_digest
    from tracker.web.editors import editor_add
    from tracker.web.serve import sync_themes

    feed_server.serve("/hostile.atom", hostile_feed("https://publisher.example"))
    summary = poll(db, db_path, feed_server, {"hostile": "/hostile.atom"})
    assert summary.failed == []
    sync_themes(db)
    editor_add(db_path, "alice", "correct horse battery", iterations=1000)
    rows = db.execute_returning_dicts("select id, url, title from publications")
    assert len(rows) >= 3
    assert not [r for r in rows if not r["url"].startswith("https://")]
    db.execute("update publications set status = 'accepted' where id % 2 = 0")
    week = db.execute("select min(substr(first_seen, 1, 10)) from publications").fetchone()[0]
    save_digest(db, date.fromisoformat(week))

    datasette = make_datasette(db_path, secret=SECRET)
    name = datasette.get_database().name
    editor = {"ds_actor": actor_cookie(datasette)}
    pages = [f"/{name}/publications", f"/{name}/publications?_search=guidance",
             f"/{name}/candidates", f"/{name}/accepted_atom.atom", f"/{name}/digests",
             f"/-/digest/{week}", "/-/triage"]
    pages += [f"/{name}/publications/{r['id']}" for r in rows]

    async def browse():
        await datasette.invoke_startup()
        return [(page, await datasette.client.get(page, cookies=editor)) for page in pages]

    shown = set()
    for page, response in asyncio.run(browse()):
        assert response.status_code == 200, page
        for marker in MARKERS:
            assert marker not in response.text, (page, marker)
        shown |= {r["title"] for r in rows if r["title"] and r["title"][:15] in response.text}
    assert len(shown) == len(rows)  # the pages did show the hostile publications
    for fmt in ("html", "markdown", "text"):
        text = digest_report(db_path, DigestRequest(date.fromisoformat(week), fmt=fmt))
        assert "Kinship care guidance" in text or "Fostering data" in text
        if fmt == "html":
            for marker in MARKERS:
                assert marker not in text
    assert "javascript:" not in digest_report(db_path, DigestRequest(date.fromisoformat(week),
                                                                     fmt="markdown"))


def test_a_redirect_to_an_internal_address_is_refused(db, db_path, feed_server):
    """A public feed (reached here through a proxy on loopback, since nothing else is
    reachable) that redirects to loopback or the cloud metadata address is refused."""
    import httpx

    feed_server.redirect("/to-loopback", feed_server.url("/secret"))
    feed_server.redirect("/to-metadata", "http://169.254.169.254/latest/meta-data/")
    feed_server.serve("/secret", b"internal")
    good_feed(feed_server)
    proxied = httpx.AsyncClient(proxy=feed_server.url("/"), follow_redirects=False)
    summary = poll(db, db_path, feed_server, {
        "loopback": "http://publisher.example/to-loopback",
        "metadata": "http://publisher.example/to-metadata",
        "good": "http://publisher.example/good.atom",
    }, client=proxied)
    errors = {o.source_id: o.error for o in summary.outcomes}
    assert "private address" in errors["loopback"] and "private address" in errors["metadata"]
    assert errors["good"] is None and db["publications"].count > 0
    assert feed_server.requests_to("/secret") == []


BILLION_LAUGHS = (b"<?xml version='1.0'?><!DOCTYPE rss [<!ENTITY a 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'>"
                  + b"".join(b"<!ENTITY %s '%s'>" % (bytes([98 + i]), (b"&%s;" % bytes([97 + i])) * 10)
                             for i in range(9))
                  + b"]><rss version='2.0'><channel><title>t</title><item><title>&j;</title>"
                  + b"<link>https://publisher.example/laugh</link></item></channel></rss>")


@pytest.mark.parametrize("attack", ["billion laughs", pytest.param("gzip bomb", marks=pytest.mark.slow),
                                    "endless body", "declared 6 MB"])
def test_bombs_and_enormous_bodies_cost_one_source_and_little_memory(db, db_path, feed_server, attack):
    import resource

    if attack == "billion laughs":
        feed_server.serve("/bad.rss", BILLION_LAUGHS)
    elif attack == "gzip bomb":
        feed_server.fault("/bad.rss", "gzip-bomb", size=1024 * 1024 * 1024)
    elif attack == "endless body":
        feed_server.fault("/bad.rss", "endless")
    else:  # over the 5 MB cap by its Content-Length: refused before the body is read
        feed_server.serve("/bad.rss", b"<rss>" + b" " * 6 * 1024 * 1024 + b"</rss>")
    good_feed(feed_server)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    summary = poll(db, db_path, feed_server, {"bad": "/bad.rss", "good": "/good.atom"})
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    outcomes = {o.source_id: o for o in summary.outcomes}
    assert outcomes["good"].error is None and outcomes["good"].new > 0
    # Refused with a reason the editors can read, and nothing of it stored.
    reason = "entit" if attack == "billion laughs" else "larger than 5 MB"
    assert reason in outcomes["bad"].error
    assert db.execute("select count(*) from publications where source_id = 'bad'").fetchone()[0] == 0
    assert grown_mb < 200  # the bombs' gigabyte never reached memory


# --- secrets -------------------------------------------------------------------------------

@pytest.mark.asyncio
@pytest.mark.parametrize("as_editor", [False, True])
async def test_no_password_hash_is_served(workspace, workspace_db, as_editor):
    from tracker.web.editors import editors_path, load_editors

    secrets = [account["hash"] for account in load_editors(workspace_db).values()]
    secrets += [h.split("$")[2] for h in secrets]  # the salt alone
    assert editors_path(workspace_db).stat().st_mode & 0o077 == 0  # owner-only file
    name = workspace.get_database().name
    cookies = {"ds_actor": actor_cookie(workspace)} if as_editor else {}
    pages = ["/-/metadata.json", "/-/settings.json", "/-/databases.json", "/-/plugins.json",
             "/-/actor.json", f"/{name}.json", f"/{name}/publications.json", f"/{name}/sources.json",
             f"/{name}/themes.json", f"/{name}/audit_log.json",
             f"/{name}.json?sql=select+name,+sql+from+sqlite_master"]
    for page in pages:
        text = (await workspace.client.get(page, cookies=cookies)).text
        assert "pbkdf2" not in text and not any(s in text for s in secrets), page


@pytest.mark.asyncio
async def test_the_cookie_secret_comes_from_the_environment(workspace_db, monkeypatch):
    monkeypatch.setenv("DATASETTE_SECRET", "from-the-environment")
    served = make_datasette(workspace_db)
    await served.invoke_startup()
    name = served.get_database().name
    same = make_datasette(workspace_db, secret="from-the-environment")
    other = make_datasette(workspace_db, secret="another-secret")
    path = f"/{name}/audit_log"
    assert (await served.client.get(path, cookies={"ds_actor": actor_cookie(same)})).status_code == 200
    assert (await served.client.get(path, cookies={"ds_actor": actor_cookie(other)})).status_code == 403
    # Without it each start makes a random one: a cookie never outlives the process.
    monkeypatch.delenv("DATASETTE_SECRET")
    assert make_datasette(workspace_db)._secret != make_datasette(workspace_db)._secret
