"""The Datasette workspace through Datasette's own client, on a real database (newsroom.db)."""

import json
import re
import sqlite3
import threading
import time
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import pytest_asyncio
from sqlite_utils import Database

from tracker.web.serve import make_datasette

DB = "newsroom"  # the file stem, not "tracker": the metadata must follow it


@pytest.fixture
def ds(workspace_db):
    return make_datasette(workspace_db, secret="test-secret")


async def login(ds, password, username="alice"):
    form = await ds.client.get("/-/login")
    token = form.cookies["ds_csrftoken"]
    response = await ds.client.post(
        "/-/login",
        data={"username": username, "password": password, "csrftoken": token},
        cookies={"ds_csrftoken": token},
    )
    return response, token


@pytest_asyncio.fixture
async def editor(ds, editor_password):
    """Cookies of a logged-in editor (through the real login form) plus a CSRF token."""
    response, token = await login(ds, editor_password)
    assert response.status_code == 302
    return {"ds_actor": response.cookies["ds_actor"], "ds_csrftoken": token}


async def post(ds, query, cookies, **data):
    response = await ds.client.post(
        f"/{DB}/{query}", data={**data, "csrftoken": cookies["ds_csrftoken"], "_json": "1"},
        cookies=cookies,
    )
    assert response.status_code == 200, response.text
    return response.json()


def publication(db_path, title):
    return next(Database(db_path).query("select * from publications where title = ?", [title]))


def audit_rows(db_path):
    return list(Database(db_path).query("select * from audit_log order by id"))


KINSHIP = "Kinship care statutory guidance for local authorities"
FOSTERING = "Fostering in England 2025 to 2026"


@pytest.mark.asyncio
async def test_metadata_follows_the_database_stem(ds):
    data = (await ds.client.get(f"/{DB}/publications.json?_shape=objects")).json()
    assert set(data["facet_results"]) == {"status", "themes", "publisher", "source_id"}
    assert data["human_description_en"] == "sorted by published descending"
    themes = {row["value"] for row in data["facet_results"]["themes"]["results"]}
    assert {"kinship", "fostering", "send"} <= themes
    listing = (await ds.client.get(f"/{DB}.json")).json()
    queries = {q["name"] for q in listing["queries"]}
    assert {"candidates", "needs_decision", "by_theme", "recently_accepted",
            "source_health"} <= queries
    assert not {"set_status", "add_theme", "remove_theme"} & queries  # hidden from anonymous
    assert not {"audit_log", "fetch_log"} & {t["name"] for t in listing["tables"]}


@pytest.mark.asyncio
async def test_internal_tables_are_hidden_from_editors_listing_too(ds, editor):
    listing = (await ds.client.get(f"/{DB}.json", cookies=editor)).json()
    hidden = {t["name"] for t in listing["tables"] if t["hidden"]}
    assert {"audit_log", "fetch_log", "publication_sources", "_sqlite_migrations"} <= hidden


@pytest.mark.asyncio
async def test_search_box_finds_by_stemmed_words(ds):
    page = await ds.client.get(f"/{DB}/publications")
    assert 'name="_search"' in page.text
    rows = (await ds.client.get(f"/{DB}/publications.json?_search=fostered&_shape=array")).json()
    assert [row["title"] for row in rows] == ["Fostering in England 2025 to 2026"]


@pytest.mark.asyncio
@pytest.mark.parametrize("path", [
    f"/{DB}", f"/{DB}/publications", f"/{DB}/sources", f"/{DB}/themes", f"/{DB}/digests",
    f"/{DB}/candidates", f"/{DB}/source_health", "/-/dashboard", "/-/digest", "/-/login",
])
async def test_anonymous_may_browse(ds, path):
    assert (await ds.client.get(path)).status_code == 200


@pytest.mark.asyncio
@pytest.mark.parametrize("path", [
    f"/{DB}/audit_log", f"/{DB}/audit_log.json", f"/{DB}/fetch_log", f"/{DB}/_sqlite_migrations",
    f"/{DB}.json?sql=select+*+from+audit_log", f"/{DB}/set_status", f"/{DB}/add_theme",
    f"/{DB}/remove_theme",
])
async def test_private_parts_are_for_editors(ds, editor, path):
    assert (await ds.client.get(path)).status_code == 403
    assert (await ds.client.get(path, cookies=editor)).status_code == 200


@pytest.mark.asyncio
async def test_a_signed_in_non_editor_cannot_write(ds, workspace_db):
    cookies = {"ds_actor": ds.sign({"a": {"id": "mallory"}}, "actor")}
    assert (await ds.client.get(f"/{DB}/set_status", cookies=cookies)).status_code == 403
    response = await ds.client.post(f"/{DB}/set_status", data={"id": "1", "status": "accepted"})
    assert response.status_code == 403
    assert audit_rows(workspace_db) == []


@pytest.mark.asyncio
async def test_login_sets_an_editor_actor(ds, editor_password):
    response, _ = await login(ds, editor_password)
    assert response.status_code == 302 and response.headers["location"] == "/-/triage"
    actor = ds.unsign(response.cookies["ds_actor"], "actor")["a"]
    assert actor == {"id": "alice", "roles": ["editor"]}


@pytest.mark.asyncio
@pytest.mark.parametrize("username,password", [
    ("alice", "wrong password"), pytest.param("nobody", None, id="nobody-alice's password"), ("alice", ""),
])
async def test_wrong_credentials_are_refused(ds, editor_password, username, password):
    response, _ = await login(ds, editor_password if password is None else password, username)
    assert response.status_code == 401
    assert "ds_actor" not in response.cookies
    assert "do not match" in response.text


@pytest.mark.asyncio
async def test_a_refused_login_keeps_the_name_typed(ds):
    response, _ = await login(ds, "wrong password", 'alice"><script>x</script>')
    assert response.status_code == 401
    assert 'value="alice&#34;&gt;&lt;script&gt;x&lt;/script&gt;">' in response.text  # escaped, kept
    assert 'autocomplete="current-password" required autofocus>' in response.text  # on to the password


@pytest.mark.asyncio
async def test_login_never_redirects_off_site(ds, editor_password):
    form = await ds.client.get("/-/login")
    token = form.cookies["ds_csrftoken"]
    response = await ds.client.post(
        "/-/login", cookies={"ds_csrftoken": token},
        data={"username": "alice", "password": editor_password, "csrftoken": token,
              "next": "//evil.example/"},
    )
    assert response.headers["location"] == "/-/triage"


@pytest.mark.asyncio
async def test_no_password_hash_is_served(ds, editor, workspace_db):
    stored = json.loads(open(f"{workspace_db}.editors.json").read())["editors"]["alice"]["hash"]
    for path in ["/-/metadata.json", f"/{DB}.json", f"/{DB}/publications.json", "/-/plugins.json"]:
        for cookies in (None, editor):
            text = (await ds.client.get(path, cookies=cookies)).text
            assert "pbkdf2" not in text and stored not in text
    tables = Database(workspace_db).table_names()
    dump = "\n".join(Database(workspace_db).iterdump())
    assert "pbkdf2" not in dump, tables


@pytest.mark.asyncio
async def test_csrf_token_is_required(ds, editor, workspace_db):
    response = await ds.client.post(
        f"/{DB}/set_status", data={"id": "1", "status": "accepted"}, cookies=editor
    )
    assert response.status_code == 403
    assert publication(workspace_db, KINSHIP)["status"] == "new"
    assert audit_rows(workspace_db) == []


@pytest.mark.asyncio
async def test_set_status_is_audited_and_reviewed(ds, editor, workspace_db):
    pid = publication(workspace_db, KINSHIP)["id"]
    result = await post(ds, "set_status", editor, id=str(pid), status="accepted")
    assert result["ok"] is True and result["message"] == "Status saved"
    row = publication(workspace_db, KINSHIP)
    assert row["status"] == "accepted" and row["reviewed_at"].endswith("Z")
    [audit] = audit_rows(workspace_db)
    assert (audit["editor"], audit["publication_id"], audit["action"], audit["old_value"],
            audit["new_value"]) == ("alice", pid, "set_status", "new", "accepted")
    assert audit["time"] == row["reviewed_at"]


@pytest.mark.asyncio
async def test_theme_edits_are_audited_and_marked_as_editors(ds, editor, workspace_db):
    pid = str(publication(workspace_db, KINSHIP)["id"])
    assert (await post(ds, "add_theme", editor, id=pid, theme="fostering"))["ok"]
    assert (await post(ds, "remove_theme", editor, id=pid, theme="kinship"))["ok"]
    row = publication(workspace_db, KINSHIP)
    assert json.loads(row["themes"]) == ["fostering"] and row["themes_by_editor"] == 1
    assert [(a["action"], json.loads(a["old_value"]), json.loads(a["new_value"]))
            for a in audit_rows(workspace_db)] == [
        ("add_theme", ["kinship"], ["kinship", "fostering"]),
        ("remove_theme", ["kinship", "fostering"], ["fostering"]),
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize("query,params,message", [
    ("set_status", {"status": "maybe"}, "Status must be one of: new, accepted, rejected"),
    ("set_status", {"status": ""}, "Status must be one of"),
    ("add_theme", {"theme": "cooking"}, "Unknown theme"),
    ("remove_theme", {"theme": "'; drop table publications; --"}, "Unknown theme"),
    ("set_status", {"id": "99999", "status": "accepted"}, "No publication with that id"),
    ("add_theme", {"id": "abc", "theme": "send"}, "No publication with that id"),
])
async def test_invalid_edits_are_refused_and_change_nothing(
    ds, editor, workspace_db, query, params, message
):
    before = list(Database(workspace_db).query("select * from publications order by id"))
    params = {"id": str(publication(workspace_db, KINSHIP)["id"]), **params}
    result = await post(ds, query, editor, **params)
    assert result["ok"] is False and result["message"].startswith(message)
    assert list(Database(workspace_db).query("select * from publications order by id")) == before
    assert audit_rows(workspace_db) == []


@pytest.mark.asyncio
async def test_form_post_without_json_comes_back_to_triage_with_a_message(ds, editor, workspace_db):
    pid = str(publication(workspace_db, KINSHIP)["id"])
    response = await ds.client.post(
        f"/{DB}/set_status", cookies=editor,
        data={"id": pid, "status": "rejected", "csrftoken": editor["ds_csrftoken"]},
    )
    assert response.status_code == 302 and response.headers["location"] == "/-/triage"
    assert ds.unsign(response.cookies["ds_messages"], "messages") == [["Status saved", ds.INFO]]


async def query_rows(ds, name, cookies=None, **params):
    args = "&".join(f"{k}={v}" for k, v in params.items())
    response = await ds.client.get(f"/{DB}/{name}.json?_shape=array&{args}", cookies=cookies)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.asyncio
async def test_candidates_are_unreviewed_best_first(ds, editor, workspace_db):
    titles = [row["title"] for row in await query_rows(ds, "candidates")]
    assert titles[:2] == [KINSHIP, "Fostering in England 2025 to 2026"]
    assert titles[-1] == "School teachers' pay award"
    await post(ds, "set_status", editor, id=str(publication(workspace_db, KINSHIP)["id"]),
               status="accepted")
    assert KINSHIP not in [row["title"] for row in await query_rows(ds, "candidates")]
    assert [row["title"] for row in await query_rows(ds, "recently_accepted")] == [KINSHIP]


@pytest.mark.asyncio
async def test_direct_sql_status_edits_are_respected(ds, editor, workspace_db):
    with sqlite3.connect(workspace_db) as conn:
        conn.execute("update publications set status = 'accepted' where title = ?", [KINSHIP])
    assert KINSHIP not in [row["title"] for row in await query_rows(ds, "candidates")]
    assert KINSHIP in [row["title"] for row in await query_rows(ds, "recently_accepted")]
    assert KINSHIP not in (await ds.client.get("/-/triage", cookies=editor)).text
    atom = (await ds.client.get(f"/{DB}/accepted_atom.atom")).text
    assert KINSHIP in atom


@pytest.mark.asyncio
async def test_other_canned_queries(ds):
    by_theme = await query_rows(ds, "by_theme", theme="send")
    assert [row["title"] for row in by_theme] == ["Annual report on SEND inspections"]
    needs = await query_rows(ds, "needs_decision", min_score="0.8")
    assert {row["title"] for row in needs} == {KINSHIP, "Fostering in England 2025 to 2026"}
    health = await query_rows(ds, "source_health")
    assert health[0]["id"] == "broken-feed" and health[0]["health"] == "failing"
    assert health[0]["last_error"] == "the server answered 500"
    assert health[0]["last_success"] is None and health[1]["last_success"]


@pytest.mark.asyncio
async def test_tables_say_stamps_in_london_time(ds, editor, workspace_db):
    Database(workspace_db).execute("update sources set last_success = '2026-07-01T08:05:09Z'").connection.commit()
    for path in (f"/{DB}/source_health", f"/{DB}/sources"):
        page = (await ds.client.get(path, cookies=editor)).text
        # British Summer Time: an hour on from UTC; the stored stamp in the tooltip
        assert ('<time datetime="2026-07-01T08:05:09Z" title="2026-07-01T08:05:09Z">1 July 2026 at 09:05</time>'
                in page), path
        assert not re.search(r">\d{4}-\d{2}-\d{2}T[\d:]+Z<", page), path
    health = await query_rows(ds, "source_health")
    assert health[1]["last_success"] == "2026-07-01T08:05:09Z"  # the data keeps the stamp


@pytest.mark.asyncio
async def test_atom_feed_with_nothing_accepted_is_not_a_500(ds):
    response = await ds.client.get(f"/{DB}/accepted_atom.atom")
    assert response.status_code == 200
    assert "Nothing has been accepted yet" in response.text


@pytest.mark.asyncio
async def test_triage_page_lists_candidates_with_escaped_feed_text(ds, editor):
    page = await ds.client.get("/-/triage", cookies=editor)
    assert page.status_code == 200
    text = page.text
    assert text.index(KINSHIP) < text.index("Fostering in England")
    assert "&lt;children&gt;" in text and "<children>" not in text
    assert f'action="/{DB}/set_status"' in text and f'action="/{DB}/add_theme"' in text
    assert f'value="{editor["ds_csrftoken"]}"' in text


@pytest.mark.asyncio
async def test_the_workspace_reads_its_database_through_a_memory_map(ds):
    # Each of Datasette's connections to it, the ones pages read through.
    for _ in range(3):
        assert (await ds.get_database(DB).execute("pragma mmap_size")).first()[0] > 0


def add_candidates(db_path, count):
    """``count`` more of this week's candidates, scores from 0.99 down, some tied in score."""
    with sqlite3.connect(db_path) as conn:
        conn.executemany(
            "insert into publications (url, url_key, title, first_seen, status, themes, candidate_score)"
            " values (?, ?, ?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-1 day'), 'new', ?, ?)",
            [(f"https://example.org/{n}", f"example.org/{n}", f"Candidate number {n}",
              json.dumps(["kinship"] * (n % 2)), round(0.99 - (n // 2) / 200, 4)) for n in range(count)])


def card_ids(page):
    return [int(i) for i in re.findall(r'<li class="card candidate" id="card-(\d+)"', page)]


@pytest.mark.asyncio
async def test_triage_pages_the_cards_and_goes_on_after_the_last(ds, editor, workspace_db):
    from tracker.web.triage_pages import PAGE

    add_candidates(workspace_db, PAGE + 20)
    first = (await ds.client.get("/-/triage", cookies=editor)).text
    shown = card_ids(first)
    # The best page, ranked as the candidates query ranks them.
    ranked = [row["id"] for row in await query_rows(ds, "candidates", cookies=editor)]
    assert shown == ranked[:PAGE]
    assert f"{PAGE + 25} unreviewed publications" in first and f"here #1 to #{PAGE}" in first
    link = re.search(r'<a rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    assert link == f"?days=7&after={shown[-1]}&rank={PAGE + 1}"
    # Deciding a card of the first page does not move the next page on past one not yet seen.
    await post(ds, "set_status", editor, id=str(shown[0]), status="rejected")
    second = (await ds.client.get("/-/triage" + link, cookies=editor)).text
    assert card_ids(second) == ranked[PAGE:]
    assert f">#{PAGE + 1}</span>" in second and 'rel="next"' not in second
    assert "Back to the most likely" in second
    assert shown[0] not in card_ids((await ds.client.get("/-/triage", cookies=editor)).text)
    # A card that is no longer a candidate still marks where the next page starts.
    await post(ds, "set_status", editor, id=str(shown[-1]), status="accepted")
    assert card_ids((await ds.client.get("/-/triage" + link, cookies=editor)).text) == ranked[PAGE:]


@pytest.mark.asyncio
@pytest.mark.parametrize("query", [
    "?days=%C2%B2", "?after=%C2%B2&rank=%C2%B2", "?after=5&rank=%C2%B2", "?days=%D9%A3&after=%D9%A3",
    "?days=-1", "?after=x&rank=9999999999999999999999",
])
async def test_triage_reads_a_number_it_cannot_use_as_none_given(ds, editor, query):
    # "²" and "٣" are digits to str.isdigit: int("²") raised, a 500.
    response = await ds.client.get("/-/triage" + query, cookies=editor)
    assert response.status_code == 200
    default = (await ds.client.get("/-/triage", cookies=editor)).text
    assert card_ids(response.text) and set(card_ids(response.text)) <= set(card_ids(default))


@pytest.mark.asyncio
@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("path", [
    "/-/triage", "/-/not-sure", "/-/searches", "/-/add", "/-/updates/1", "/-/publication/1",
    "/-/digest/2025-04-11/sent", "/-/digest/2025-04-11/reopen",
])
async def test_editors_pages_send_anyone_else_to_login_and_change_nothing(ds, workspace_db, method, path):
    def audited():
        return sqlite3.connect(workspace_db).execute("select count(*) from audit_log").fetchone()

    before = audited()
    response = await getattr(ds.client, method)(path)
    assert response.status_code == 302
    assert response.headers["location"] == f"/-/login?next={path}"
    assert audited() == before


@pytest.mark.asyncio
async def test_dashboard_draws_themes_per_week_and_accepted_per_publisher(ds, editor, workspace_db):
    await post(ds, "set_status", editor, id=str(publication(workspace_db, KINSHIP)["id"]),
               status="accepted")
    page = (await ds.client.get("/-/dashboard")).text
    assert "<svg" in page and "Kinship" in page
    assert "DfE: 1</title>" in page
    assert f"/{DB}/by_theme?theme=fostering" in page
    # The weeks as the newsletter says a date ("30 Nov"), not the ISO date's tail ("11-30").
    weeks = re.findall(r'<text class="axis"[^>]*>([^<]*)</text>', page)
    assert len(weeks) == 12 and all(re.fullmatch(r"\d{1,2} [A-Z][a-z]{2}", week) for week in weeks), weeks


@pytest.mark.asyncio
async def test_digest_page_shows_the_stored_html(ds, workspace_db):
    from tracker.publish.digest import save_digest
    from tracker.store import open_database

    db = open_database(workspace_db)
    save_digest(db, date(2026, 11, 27))
    db.close()
    index = await ds.client.get("/-/digest")
    assert 'href="/-/digest/2026-11-27"' in index.text
    page = await ds.client.get("/-/digest/2026-11-27")
    assert page.status_code == 200 and 'id="copy-digest"' in page.text
    assert (await ds.client.get("/-/digest/2001-01-05")).status_code == 404


@pytest.mark.asyncio
async def test_private_instance_needs_login(workspace_db, editor_password):
    ds = make_datasette(workspace_db, private=True, secret="test-secret")
    for path in ("/", f"/{DB}/publications", "/-/dashboard", "/-/digest"):
        assert (await ds.client.get(path)).status_code == 403
    browser = await ds.client.get("/", headers={"accept": "text/html"})
    assert browser.headers["location"] == "/-/login?next=/"
    response, _ = await login(ds, editor_password)
    assert (await ds.client.get(f"/{DB}/publications",
                                cookies={"ds_actor": response.cookies["ds_actor"]})).status_code == 200


@pytest.mark.slow  # holds the write lock for 6 s
@pytest.mark.asyncio
async def test_an_edit_waits_for_a_poll_instead_of_failing(ds, editor, workspace_db):
    """A poll holds the write lock for a moment: the editor's click waits, it does not fail."""
    locked = threading.Event()

    def hold_lock():
        conn = sqlite3.connect(workspace_db, isolation_level=None)
        conn.execute("begin immediate")
        conn.execute("update sources set items_seen = items_seen where 0")
        locked.set()
        time.sleep(6)  # longer than sqlite3's default 5 s timeout: busy_timeout must be ours
        conn.execute("commit")
        conn.close()

    thread = threading.Thread(target=hold_lock)
    thread.start()
    locked.wait()
    result = await post(ds, "set_status", editor,
                        id=str(publication(workspace_db, KINSHIP)["id"]), status="accepted")
    thread.join()
    assert result == {"ok": True, "message": "Status saved", "redirect": "/-/triage"}


@pytest.mark.asyncio
async def test_hostile_feed_text_and_urls_are_never_live(ds, editor, workspace_db):
    with sqlite3.connect(workspace_db) as conn:
        conn.execute(
            "insert into publications (url, url_key, title, summary, publisher, first_seen) "
            "values ('javascript:alert(1)', 'x', '<script>alert(1)</script> Kinship pack', "
            "'<img src=x onerror=alert(1)>', 'Evil', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))"
        )
    for path in (f"/{DB}/publications", "/-/triage", "/-/dashboard", f"/{DB}/candidates"):
        text = (await ds.client.get(path, cookies=editor)).text
        assert "<script>alert(1)" not in text and "<img src=x" not in text, path
        assert 'href="javascript:' not in text, path


@pytest.mark.asyncio
async def test_a_damaged_accounts_file_refuses_login_without_a_500(ds, workspace_db, editor_password):
    Path(f"{workspace_db}.editors.json").write_text("{not json")
    response, _ = await login(ds, editor_password)
    assert response.status_code == 401
    assert "accounts cannot be read" in response.text and str(workspace_db) not in response.text


@pytest.mark.asyncio
async def test_a_theme_dropped_from_themes_yaml_can_still_be_removed(ds, editor, workspace_db):
    with sqlite3.connect(workspace_db) as conn:
        conn.execute("update publications set themes = '[\"kinship\", \"retired\"]' where title = ?",
                     [KINSHIP])
    pid = str(publication(workspace_db, KINSHIP)["id"])
    assert not (await post(ds, "add_theme", editor, id=pid, theme="retired"))["ok"]
    assert (await post(ds, "remove_theme", editor, id=pid, theme="retired"))["ok"]
    assert json.loads(publication(workspace_db, KINSHIP)["themes"]) == ["kinship"]


@pytest.mark.asyncio
@pytest.mark.parametrize("next_path", ["/\\evil.example/", "/\t/evil.example/", "https://evil.example/"])
async def test_login_never_redirects_off_site_however_the_path_is_disguised(ds, next_path, editor_password):
    form = await ds.client.get("/-/login")
    token = form.cookies["ds_csrftoken"]
    response = await ds.client.post(
        "/-/login", cookies={"ds_csrftoken": token},
        data={"username": "alice", "password": editor_password, "csrftoken": token,
              "next": next_path},
    )
    assert response.headers["location"] == "/-/triage"


# --- the plugin elsewhere: opt-in, and under a base_url -------------------------------------

@pytest.fixture
def other_db(tmp_path):
    """Somebody else's database, with tables our plugin would hide in the workspace's."""
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("create table audit_log (editor text, change text)")
        conn.execute("create table notes (edited_by text, body text)")
    return path


@pytest.mark.asyncio
async def test_a_plain_datasette_gets_nothing_of_the_workspace(other_db):
    """The entry point loads the plugin into every Datasette here: unconfigured, it does nothing."""
    from datasette.app import Datasette

    plain = Datasette([str(other_db)])
    for path in ("/-/login", "/-/triage", "/-/dashboard", "/-/digest"):
        assert (await plain.client.get(path)).status_code == 404, path
    for path in ("/other/audit_log", "/other/notes", "/other.json?sql=select+1"):
        assert (await plain.client.get(path)).status_code == 200, path
    browser = await plain.client.get("/other.json?sql=select+1", headers={"accept": "text/html"})
    assert browser.status_code == 200
    page = (await plain.client.get("/")).text
    assert "tracker.css" not in page and "Log in" not in page and "Dashboard" not in page


@pytest.mark.asyncio
async def test_the_workspace_acts_only_on_its_own_database(workspace_db, other_db):
    from datasette.app import Datasette

    from tracker.web.serve import load_metadata

    both = Datasette([str(workspace_db), str(other_db)], metadata=load_metadata(workspace_db))
    assert (await both.client.get(f"/{DB}/audit_log")).status_code == 403
    assert (await both.client.get("/other/audit_log")).status_code == 200
    assert (await both.client.get("/other/notes")).status_code == 200
    data = (await both.client.get("/other.json")).json()
    assert data["queries"] == []  # the workspace's canned queries are for its database only
    assert (await both.client.get(f"/{DB}/candidates")).status_code == 200


def page_links(page_path: str, html: str) -> set[str]:
    """Every link, script and form target of a page, resolved against it, on this site."""
    import re
    from urllib.parse import urljoin, urlsplit

    found = set()
    for value in re.findall(r'(?:href|src|action)="([^"]*)"', html):
        url = urlsplit(urljoin(f"http://localhost{page_path}", value.replace("&amp;", "&")))
        if url.netloc == "localhost" and url.scheme == "http":
            found.add(url.path + (f"?{url.query}" if url.query else ""))
    return found


@pytest.mark.asyncio
async def test_the_workspace_works_under_a_base_url(workspace_db, editor_password):
    """Behind a proxy that serves it at /tracker/: every link, form, script, redirect and the
    canned queries' own redirects stay under it."""
    from datasette.utils import PrefixedUrlString

    from tracker.publish.digest import save_digest
    from tracker.store import open_database

    with open_database(workspace_db) as db:
        save_digest(db, date(2026, 11, 27))
    ds = make_datasette(workspace_db, secret="test-secret", base_url="/tracker/")

    def get(path, **kwargs):  # a path as the pages give it: already under /tracker/
        return ds.client.get(PrefixedUrlString(path), **kwargs)

    anonymous = await get("/tracker/-/triage")
    assert anonymous.headers["location"] == "/tracker/-/login?next=/tracker/-/triage"
    form = await get("/tracker/-/login?next=/tracker/-/triage")
    assert 'action="/tracker/-/login"' in form.text
    token = form.cookies["ds_csrftoken"]
    response = await ds.client.post(
        PrefixedUrlString("/tracker/-/login"), cookies={"ds_csrftoken": token},
        data={"username": "alice", "password": editor_password, "csrftoken": token,
              "next": "/tracker/-/triage"},
    )
    assert response.headers["location"] == "/tracker/-/triage"
    editor = {"ds_actor": response.cookies["ds_actor"], "ds_csrftoken": token}

    triage = (await get("/tracker/-/triage", cookies=editor)).text
    pid = publication(workspace_db, KINSHIP)["id"]
    assert f'action="/tracker/{DB}/set_status"' in triage
    accepted = await ds.client.post(
        PrefixedUrlString(f"/tracker/{DB}/set_status"), cookies=editor,
        data={"id": str(pid), "status": "accepted", "csrftoken": token, "_json": "1"},
    )
    assert accepted.json() == {"ok": True, "message": "Status saved", "redirect": "/tracker/-/triage"}
    assert publication(workspace_db, KINSHIP)["status"] == "accepted"
    form_post = await ds.client.post(
        PrefixedUrlString(f"/tracker/{DB}/add_theme"), cookies=editor,
        data={"id": str(pid), "theme": "workforce", "csrftoken": token},
    )
    assert form_post.headers["location"] == "/tracker/-/triage"

    links = set()
    for path in ["/tracker/-/triage", "/tracker/-/dashboard", "/tracker/-/digest",
                 "/tracker/-/digest/2026-11-27", "/tracker/-/login"]:
        page = await get(path, cookies=editor)
        assert page.status_code == 200, path
        links |= page_links(path, page.text)
    assert {"/tracker/-/static-plugins/tracker/tracker.css",
            "/tracker/-/static-plugins/tracker/triage.js",
            "/tracker/-/static-plugins/tracker/digest.js",
            "/tracker/-/dashboard", "/tracker/-/digest", "/tracker/-/digest/2026-11-27",
            f"/tracker/{DB}/by_theme?theme=kinship",
            f"/tracker/{DB}/publications/{publication(workspace_db, FOSTERING)['id']}",
            f"/tracker/{DB}/accepted_atom.atom"} <= links
    assert [link for link in links if not link.startswith("/tracker/")] == []
    for link in sorted(links - {"/tracker/-/logout"}):
        if link.endswith(("/set_status", "/add_theme", "/remove_theme", "/edit_line", "/-/add", "/sent")):
            continue  # the triage and digest forms post: accepted above and in their own tests
        assert (await get(link, cookies=editor)).status_code == 200, link
    # Datasette's front page: metadata.yml's description and the menu link to our pages. (Not
    # all its own links: Datasette 0.65 puts base_url twice in some, simonw/datasette#2759.)
    front = page_links("/tracker/", (await get("/tracker/", cookies=editor)).text)
    assert {"/tracker/-/dashboard", "/tracker/-/digest", "/tracker/-/triage", "/tracker/-/login",
            "/tracker/-/static-plugins/tracker/tracker.css"} <= front


@pytest.mark.asyncio
async def test_an_expected_error_is_one_log_line_and_a_bug_its_traceback(ds, workspace_db, caplog,
                                                                         capsys):
    import logging

    caplog.set_level(logging.INFO, logger="tracker")
    missing = await ds.client.get("/-/digest/2001-01-05")
    no_table = await ds.client.get(f"/{DB}/no_such_table")
    bad_search = await ds.client.get(f"/{DB}/publications?_search=%22")
    bad_json = await ds.client.get(f"/{DB}/publications.json?_search=%22")
    assert (missing.status_code, no_table.status_code, bad_search.status_code) == (404, 404, 400)
    assert "Invalid SQL" in bad_search.text and "fts5: syntax error" in bad_search.text
    assert bad_json.json() == {"ok": False, "error": 'fts5: syntax error near ""', "status": 400,
                               "title": "Invalid SQL"}
    assert [(r.levelname, r.getMessage(), r.exc_info) for r in caplog.records] == [
        ("INFO", "404 /-/digest/2001-01-05: No digest has been generated for 2001-01-05", None),
        ("INFO", f"404 /{DB}/no_such_table: Table not found", None),
        ("INFO", f'400 /{DB}/publications: fts5: syntax error near ""', None),
        ("INFO", f'400 /{DB}/publications.json: fts5: syntax error near ""', None),
    ]
    assert "Traceback" not in capsys.readouterr().err
    caplog.clear()
    with sqlite3.connect(workspace_db) as conn:  # a broken database: the dashboard cannot work
        conn.execute("drop table themes")
    broken = await ds.client.get("/-/dashboard")
    assert broken.status_code == 500 and "no such table: themes" in broken.text
    [record] = caplog.records
    assert (record.levelname, record.getMessage()) == ("ERROR", "GET /-/dashboard failed")
    assert "Traceback" in caplog.text and "no such table: themes" in caplog.text
    assert "Traceback" not in capsys.readouterr().err  # logged once, not printed as well


@pytest.mark.asyncio
@pytest.mark.parametrize("config,message", [
    ({"database": "newsroom"}, "names the database 'newsroom', which is not being served"),
    ({"private": True}, "needs `database:`"),
])
async def test_a_workspace_configured_wrongly_stops_the_start(other_db, config, message):
    from datasette.app import Datasette

    from tracker.web.workspace import WorkspaceError

    with pytest.raises(WorkspaceError, match=message):
        await Datasette([str(other_db)], metadata={"plugins": {"tracker": config}}).invoke_startup()


@pytest.mark.asyncio
async def test_pages_of_a_private_instance_say_so_to_editors(ds, workspace_db, editor):
    private = make_datasette(workspace_db, private=True, secret="test-secret")
    for instance, padlock in ((ds, False), (private, True)):
        page = await instance.client.get("/-/dashboard", cookies={"ds_actor": editor["ds_actor"]})
        assert ("<h1>Dashboard 🔒</h1>" in page.text) is padlock


# The week's page, triage cards and the workspace's audited routes (issue 10).

async def accept(ds, editor, db_path, title, status="accepted"):
    return await post(ds, "set_status", editor, id=str(publication(db_path, title)["id"]), status=status)


def issue_week():
    from tracker.dates import LONDON
    from tracker.publish.digest import next_issue_date

    return next_issue_date(datetime.now(LONDON).date())


@pytest.mark.asyncio
async def test_the_weeks_page_follows_decisions_at_once_and_copies_the_list_alone(ds, editor, workspace_db):
    week = issue_week().isoformat()
    with sqlite3.connect(workspace_db) as conn:  # published long ago, accepted this week
        conn.execute("update publications set published = '2024-12-17' where title = ?", [FOSTERING])
    page = (await ds.client.get(f"/-/digest/{week}")).text
    assert "Nothing accepted for this issue yet" in page and KINSHIP in page  # a candidate
    await accept(ds, editor, workspace_db, KINSHIP)
    await accept(ds, editor, workspace_db, FOSTERING)
    page = (await ds.client.get(f"/-/digest/{week}")).text
    listed = page[page.index('id="digest-text"'):page.index("</pre>")]
    plain = listed.split(">", 1)[1].splitlines()
    today = datetime.now(timezone.utc).date()
    assert plain == [
        f"On {today.day} {today.strftime('%B')} DfE published {KINSHIP}",
        f"On 17 December 2024 Ofsted published {FOSTERING}",
    ]
    # The candidates are shown apart, after the list and outside what Copy takes.
    candidates = page[page.index("New this week, for the editors to review"):]
    assert "Children&#39;s social care workforce census 2026" in candidates
    assert "workforce census" not in listed and KINSHIP not in candidates
    assert 'id="copy-digest"' in page and "Mark this issue sent" not in page  # editors only
    assert "Mark this issue sent" in (await ds.client.get(f"/-/digest/{week}", cookies=editor)).text


@pytest.mark.asyncio
async def test_marking_an_issue_sent_freezes_its_list(ds, editor, workspace_db):
    week = issue_week().isoformat()
    await accept(ds, editor, workspace_db, KINSHIP)
    anonymous = await ds.client.post(f"/-/digest/{week}/sent", data={})
    assert anonymous.headers["location"] == f"/-/login?next=/-/digest/{week}/sent"
    no_token = await ds.client.post(f"/-/digest/{week}/sent", cookies=editor, data={})
    assert no_token.status_code == 403  # Datasette's CSRF check, before the route runs
    assert not Database(workspace_db)["digests"].count
    sent = await ds.client.post(f"/-/digest/{week}/sent", cookies=editor,
                                data={"csrftoken": editor["ds_csrftoken"]})
    assert sent.status_code == 302 and sent.headers["location"] == f"/-/digest/{week}"
    row = next(Database(workspace_db).query("select * from digests where week = ?", [week]))
    assert row["sent_by"] == "alice" and row["sent_at"]
    await accept(ds, editor, workspace_db, FOSTERING)  # after sending: not in the sent issue
    page = (await ds.client.get(f"/-/digest/{week}", cookies=editor)).text
    assert "Sent " in page and "Mark this issue sent" not in page
    listed = page[page.index('id="digest-text"'):page.index("</pre>")]
    assert KINSHIP in listed and FOSTERING not in listed
    index = (await ds.client.get("/-/digest")).text
    assert f'href="/-/digest/{week}"' in index and "sent" in index and "draft" in index
    again = await ds.client.post(f"/-/digest/{week}/sent", cookies=editor,
                                 data={"csrftoken": editor["ds_csrftoken"]})
    assert again.status_code == 302
    assert next(Database(workspace_db).query("select sent_at from digests where week = ?",
                                             [week]))["sent_at"] == row["sent_at"]


@pytest.mark.asyncio
async def test_triage_cards_say_why_how_old_and_rank_ties(ds, editor, workspace_db):
    why = {"rules": {"kinship": ["kinship care", "kinship carers"]},
           "terms": {"candidate": ["statutory guidance", "local authorities"]}}
    with sqlite3.connect(workspace_db) as conn:
        conn.execute("update publications set why = ?, published = date('now', '-150 days') where title = ?",
                     [json.dumps(why), KINSHIP])
        # A tie at the top: the one with more themes matched first, then the newest.
        conn.execute("update publications set candidate_score = 0.9996 where title in (?, ?)",
                     [KINSHIP, "Annual report on SEND inspections"])
    page = (await ds.client.get("/-/triage", cookies=editor)).text
    assert "Kinship care (“kinship care”, “kinship carers”)" in page
    assert "Words that raised its score: “statutory guidance”, “local authorities”" in page
    assert "published 5 months ago" in page
    assert page.index("Annual report on SEND inspections") < page.index(KINSHIP)  # two themes
    assert ">#1</span>" in page and ">0.9996</span>" in page and ">0.72</span>" in page
    # The unlikely tail (teachers' pay, 0.05) is folded, with one button to reject it all.
    tail = page[page.index('<details class="tail">'):]
    assert "School teachers&#39; pay award" in tail and "Reject all shown" in tail
    assert KINSHIP not in tail
    assert "<kbd>j</kbd> next" in page


@pytest.mark.asyncio
async def test_a_decision_stays_on_triage_with_undo(ds, editor, workspace_db):
    await accept(ds, editor, workspace_db, FOSTERING, status="rejected")
    page = (await ds.client.get("/-/triage", cookies=editor)).text
    decided = page[page.index('class="decided-list"'):]
    assert FOSTERING in decided and 'data-status="rejected"' in decided
    assert 'name="status" value="new">Undo</button>' in decided
    await accept(ds, editor, workspace_db, FOSTERING, status="new")
    assert publication(workspace_db, FOSTERING)["status"] == "new"
    assert [r["new_value"] for r in audit_rows(workspace_db)] == ["rejected", "new"]


@pytest.mark.asyncio
async def test_the_line_editor_is_prefilled_with_the_suggested_verb(ds, editor, workspace_db):
    with sqlite3.connect(workspace_db) as conn:
        conn.execute("update publications set title = 'Job vacancy: Senior Policy Officer', "
                     "candidate_score = 0.99 where title = ?", [KINSHIP])
    page = (await ds.client.get("/-/triage", cookies=editor)).text
    assert f'action="/{DB}/edit_line"' in page
    assert 'name="verb" value="advertised for"' in page
    pid = publication(workspace_db, FOSTERING)["id"]
    result = await post(ds, "edit_line", editor, id=str(pid), verb="released", title="", publisher="",
                        published="")
    assert result["ok"] is True
    page = (await ds.client.get("/-/triage", cookies=editor)).text
    card = page[page.index(f'id="card-{pid}"'):]
    assert 'name="verb" value="released"' in card[:card.index("</li>")]


@pytest.mark.asyncio
async def test_an_update_is_listed_with_its_change_note_or_ignored(ds, editor, workspace_db):
    pid = publication(workspace_db, KINSHIP)["id"]
    with sqlite3.connect(workspace_db) as conn:
        conn.executemany(
            "insert into publication_updates (publication_id, source_id, seen_at, kind, change_note,"
            " upstream_at) values (?, 'dfe-activity', '2026-05-12T10:00:00Z', 'updated', ?,"
            " '2026-05-12T09:00:00Z')",
            [(pid, "Added <b>annex</b> on kinship allowances"), (pid, "Typo fixed")])
    page = (await ds.client.get("/-/triage", cookies=editor)).text
    assert "Change note: Added &lt;b&gt;annex&lt;/b&gt; on kinship allowances" in page
    assert "List as update" in page and 'action="/-/updates/1"' in page
    listed = await ds.client.post("/-/updates/1", cookies=editor, data={
        "csrftoken": editor["ds_csrftoken"], "action": "list", "_json": "1"})
    assert listed.json() == {"ok": True, "message": "Listed as an update"}
    ignored = await ds.client.post("/-/updates/2", cookies=editor, data={
        "csrftoken": editor["ds_csrftoken"], "action": "ignore"})
    assert ignored.status_code == 302 and ignored.headers["location"] == "/-/triage"
    again = await ds.client.post("/-/updates/2", cookies=editor, data={
        "csrftoken": editor["ds_csrftoken"], "action": "list", "_json": "1"})
    assert again.json()["ok"] is False and "already ignored" in again.json()["message"]
    row = publication(workspace_db, KINSHIP)
    assert (row["status"], row["edited_verb"], row["edited_published"]) == ("accepted", "updated", "2026-05-12")
    assert "Change note" not in (await ds.client.get("/-/triage", cookies=editor)).text


def test_why_and_age_in_words():
    from tracker.web.triage_pages import age, why_in_words

    assert why_in_words('{"not_candidate": ["vacancy"]}', {}) == [
        "Looks like something the newsletter does not list: “vacancy”."]
    assert why_in_words("not json", {}) == [] and why_in_words(None, {}) == []
    today = date(2026, 11, 30)
    assert age(date(2026, 6, 30), today) == "published 5 months ago"
    assert age(date(2026, 11, 29), today) == "published yesterday"
    assert age(date(2026, 11, 16), today, seen=True) == "first seen 2 weeks ago"
    assert age(date(2024, 11, 30), today) == "published 2 years ago"


MISSED_PAGE = b"""<!doctype html><html><head><title>Kinship toolkit | Example</title>
<meta property="og:title" content="Kinship carers' toolkit for social workers">
<meta property="og:site_name" content="Kinship">
<meta property="article:published_time" content="2025-10-01T09:00:00+01:00">
<meta name="description" content="A practice toolkit.">
</head><body></body></html>"""


async def add_form(ds, editor, url, **extra):
    return await ds.client.post("/-/add", cookies=editor, data={
        "csrftoken": editor["ds_csrftoken"], "url": url, **extra})


@pytest.mark.asyncio
async def test_the_paste_a_url_form_refuses_private_addresses(ds, editor, workspace_db, feed_server):
    feed_server.serve("/missed", MISSED_PAGE, headers={"Content-Type": "text/html; charset=utf-8"})
    before = Database(workspace_db)["publications"].count
    for url in (feed_server.url("/missed"), "http://localhost:9/x", "http://169.254.169.254/latest",
                "http://10.0.0.1/", "ftp://example.org/x"):
        refused = await add_form(ds, editor, url, _json="1")
        assert refused.json()["ok"] is False, url
    assert "only public web addresses can be added here" in (
        await add_form(ds, editor, feed_server.url("/missed"), _json="1")).json()["message"]
    assert Database(workspace_db)["publications"].count == before
    assert feed_server.requests == []  # refused before anything was fetched
    page = await add_form(ds, editor, "http://127.0.0.1:9/x")  # a form post: back with a message
    assert page.status_code == 302 and page.headers["location"] == "/-/triage"


@pytest.mark.asyncio
async def test_the_form_adds_from_a_host_the_operator_configured(ds, editor, workspace_db, feed_server):
    with sqlite3.connect(workspace_db) as conn:  # the operator polls a source on that host
        conn.execute("insert into sources (id, publisher, type, url, configured) values "
                     "('local', 'Kinship', 'feed', ?, 1)", [feed_server.url("/feed.atom")])
    feed_server.serve("/missed", MISSED_PAGE, headers={"Content-Type": "text/html; charset=utf-8"})
    added = (await add_form(ds, editor, feed_server.url("/missed"), accept="1", _json="1")).json()
    assert added["ok"] is True and "Kinship carers' toolkit for social workers" in added["message"]
    row = publication(workspace_db, "Kinship carers' toolkit for social workers")
    assert (row["source_id"], row["status"], row["published"]) == ("manual", "accepted", "2025-10-01")
    again = (await add_form(ds, editor, feed_server.url("/missed"), _json="1")).json()
    assert again["ok"] is False and again["message"].startswith(f"Already stored as #{row['id']}")
    assert [r["action"] for r in audit_rows(workspace_db)] == ["add", "set_status"]


@pytest.mark.asyncio
async def test_tables_show_the_url_compact_and_the_title_as_the_link(ds, editor):
    page = (await ds.client.get(f"/{DB}/publications")).text
    assert ('<a class="compact-url" href="https://www.gov.uk/government/publications/kinship-guidance" '
            'title="https://www.gov.uk/government/publications/kinship-guidance" '
            'rel="noopener noreferrer">gov.uk/…/kinship-guidance</a>') in page
    assert f'rel="noopener noreferrer">{KINSHIP}</a>' in page
    candidates = (await ds.client.get(f"/{DB}/candidates", cookies=editor)).text
    assert 'class="compact-url"' in candidates
    assert candidates.index('class="col-title"') < candidates.index('class="col-url"')


@pytest.mark.asyncio
@pytest.mark.parametrize("path", [f"/{DB}/publications", f"/{DB}/publications/1", f"/{DB}/candidates", "/-/triage"])
async def test_every_page_leads_to_the_workspace_s_pages(ds, editor, path):
    """Datasette's own pages (a table, a row, a query) carry the workspace's links after their
    crumbs, as the workspace's pages do: triage and not sure for editors only."""
    html = (await ds.client.get(path, cookies=editor)).text
    crumbs = html[html.index('<p class="crumbs">'):]
    crumbs = crumbs[:crumbs.index("</p>")]
    assert f'<a href="/{DB}">{DB}</a>' in crumbs
    for page in ("dashboard", "model", "digest", "coverage", "triage", "not-sure"):
        assert f'href="/-/{page}"' in crumbs, page
    if path != "/-/triage":
        anonymous = (await ds.client.get(path)).text
        assert 'href="/-/dashboard"' in anonymous and 'href="/-/triage"' not in anonymous


@pytest.mark.asyncio
async def test_tables_show_themes_as_a_list_not_json(ds, editor, workspace_db):
    pid = publication(workspace_db, KINSHIP)["id"]
    Database(workspace_db).execute("update publications set themes = ? where id = ?",
                                   ['["kinship", "workforce"]', pid]).connection.commit()
    for path in (f"/{DB}/publications", f"/{DB}/publications/{pid}", f"/{DB}/recently_accepted"):
        page = (await ds.client.get(path, cookies=editor)).text
        assert "[&#34;" not in page and "[&quot;" not in page, path
    row_page = (await ds.client.get(f"/{DB}/publications/{pid}")).text
    assert '<td class="col-themes type-str">kinship, workforce</td>' in row_page
    exported = (await ds.client.get(f"/{DB}/publications/{pid}.json?_shape=array")).json()
    assert exported[0]["themes"] == '["kinship", "workforce"]'  # the data itself is the array
    # No themes reads as nothing, not as "[]".
    Database(workspace_db).execute("update publications set themes = '[]' where id = ?", [pid]).connection.commit()
    assert '<td class="col-themes type-str">&nbsp;</td>' in (await ds.client.get(f"/{DB}/publications/{pid}")).text


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/", f"/{DB}/publications", "/-/triage", "/-/digest", "/-/login"])
async def test_pages_declare_their_language(ds, editor, path):
    page = await ds.client.get(path, cookies=editor)
    assert page.status_code == 200
    assert page.text.startswith('<!DOCTYPE html>\n<html lang="en-GB">'), page.text[:60]


@pytest.mark.asyncio
async def test_each_line_of_the_list_links_editors_to_its_publications_page(ds, editor, workspace_db):
    week = issue_week().isoformat()
    await accept(ds, editor, workspace_db, KINSHIP)
    pid = publication(workspace_db, KINSHIP)["id"]
    page = (await ds.client.get(f"/-/digest/{week}", cookies=editor)).text
    assert f'href="/-/publication/{pid}"' in page
    assert f'href="/-/publication/{pid}"' not in (await ds.client.get(f"/-/digest/{week}")).text
    own = await ds.client.get(f"/-/publication/{pid}", cookies=editor)
    assert own.status_code == 200
    assert f'action="/{DB}/edit_line"' in own.text and 'data-status="accepted"' in own.text
    assert "Undo</button>" in own.text
    assert (await ds.client.get(f"/-/publication/{pid}")).headers["location"].startswith("/-/login")
    assert (await ds.client.get("/-/publication/9999", cookies=editor)).status_code == 404


@pytest.mark.asyncio
@pytest.mark.parametrize("week", ["2026-02-30", "2001-01-05"])
async def test_no_issue_is_sent_for_a_date_that_is_not_one(ds, editor, workspace_db, week):
    sent = await ds.client.post(f"/-/digest/{week}/sent", cookies=editor,
                                data={"csrftoken": editor["ds_csrftoken"]})
    assert sent.status_code == 404
    assert (await ds.client.get(f"/-/digest/{week}")).status_code == 404
    assert not Database(workspace_db)["digests"].count


# What the QA review of the editors' workspace found (issue 10, wave 2).

@pytest.mark.asyncio
async def test_marking_sent_asks_first_and_reopen_undoes_it(ds, editor, workspace_db):
    import re

    week = issue_week().isoformat()
    await accept(ds, editor, workspace_db, KINSHIP)
    page = (await ds.client.get(f"/-/digest/{week}", cookies=editor)).text
    assert f'<form class="mark-sent" method="get" action="/-/digest/{week}/sent"' in page
    confirm = await ds.client.get(f"/-/digest/{week}/sent", cookies=editor)  # the step without JS
    assert confirm.status_code == 200 and "Yes, mark it sent" in confirm.text
    assert f'method="post" action="/-/digest/{week}/sent"' in confirm.text and 'name="csrftoken"' in confirm.text
    assert not Database(workspace_db)["digests"].count  # asking changed nothing
    await ds.client.post(f"/-/digest/{week}/sent", cookies=editor, data={"csrftoken": editor["ds_csrftoken"]})
    page = (await ds.client.get(f"/-/digest/{week}", cookies=editor)).text
    assert re.search(r"Sent \d{1,2} [A-Z][a-z]+ \d{4} at \d\d:\d\d by alice", page)  # London time, in words
    assert f'action="/-/digest/{week}/reopen"' in page and "Reopen this issue" in page
    assert "Reopen this issue" not in (await ds.client.get(f"/-/digest/{week}")).text  # editors only
    anonymous = await ds.client.post(f"/-/digest/{week}/reopen", data={})
    assert anonymous.headers["location"].startswith("/-/login")
    assert (await ds.client.post(f"/-/digest/{week}/reopen", cookies=editor, data={})).status_code == 403
    reopened = await ds.client.post(f"/-/digest/{week}/reopen", cookies=editor,
                                    data={"csrftoken": editor["ds_csrftoken"]})
    assert reopened.status_code == 302 and reopened.headers["location"] == f"/-/digest/{week}"
    row = next(Database(workspace_db).query("select * from digests where week = ?", [week]))
    assert (row["sent_at"], row["sent_by"]) == (None, None)
    reopen_audit = [r for r in audit_rows(workspace_db) if r["action"] == "reopen_issue"]
    assert [(r["editor"], r["new_value"]) for r in reopen_audit] == [("alice", week)]
    await accept(ds, editor, workspace_db, FOSTERING)  # a draft again: it follows decisions
    page = (await ds.client.get(f"/-/digest/{week}", cookies=editor)).text
    assert "Mark this issue sent" in page and FOSTERING in page
    again = await ds.client.post(f"/-/digest/{week}/reopen", cookies=editor,
                                 data={"csrftoken": editor["ds_csrftoken"]})
    assert again.status_code == 302
    assert len([r for r in audit_rows(workspace_db) if r["action"] == "reopen_issue"]) == 1
    await ds.client.post(f"/-/digest/{week}/sent", cookies=editor, data={"csrftoken": editor["ds_csrftoken"]})
    sent = next(Database(workspace_db).query("select sent_by from digests where week = ?", [week]))
    assert sent["sent_by"] == "alice"


def test_times_are_said_in_london_time_in_words():
    from tracker.web.wording import day_words, london_time

    assert london_time("2026-11-30T22:56:27Z") == "30 November 2026 at 22:56"
    assert london_time("2026-07-01T22:56:27Z") == "1 July 2026 at 23:56"  # BST
    assert london_time("not a time") == "not a time" and london_time(None) == ""
    assert day_words("2026-12-04") == "4 December 2026" and day_words(date(2026, 12, 4), False) == "4 December"


@pytest.mark.asyncio
async def test_next_weeks_draft_marks_the_lines_already_sent(ds, editor, workspace_db):
    from datetime import timedelta

    week = issue_week()
    with sqlite3.connect(workspace_db) as conn:
        conn.execute("update publications set published = '2024-12-17' where title = ?", [FOSTERING])
    await accept(ds, editor, workspace_db, KINSHIP)
    await ds.client.post(f"/-/digest/{week}/sent", cookies=editor, data={"csrftoken": editor["ds_csrftoken"]})
    await accept(ds, editor, workspace_db, FOSTERING)
    page = (await ds.client.get(f"/-/digest/{week + timedelta(days=7)}", cookies=editor)).text
    said = f"{week.day} {week.strftime('%B')}"
    shown = page[page.index('id="digest-list"'):page.index("</article>")]
    assert f"New since the issue of {said}" in shown and f"Already in the issue of {said}" in shown
    assert shown.index(FOSTERING) < shown.index(f"Already in the issue of {said}") < shown.index(KINSHIP)
    kinship_line = shown[shown.rindex("<p", 0, shown.index(KINSHIP)):]
    assert kinship_line.startswith('<p data-order="0" class="earlier">')
    assert f'<span class="earlier-mark">in the issue of {said}</span>' in kinship_line
    assert "earlier-mark" not in shown[:shown.index(KINSHIP)]
    # Copy's text is the list as the CONTRACT has it: every line, newest first.
    listed = page[page.index('id="digest-text"'):page.index("</pre>")].split(">", 1)[1].splitlines()
    assert [KINSHIP in listed[0], FOSTERING in listed[1], len(listed)] == [True, True, 2]
    assert "issue of" not in " ".join(listed)


@pytest.mark.asyncio
async def test_an_unreadable_page_says_why_and_can_be_added_by_hand(ds, editor, workspace_db, feed_server):
    missing = "http://no-such-host.invalid/kinship-report"  # .invalid never resolves (RFC 2606)
    refused = (await add_form(ds, editor, missing, _json="1")).json()
    assert refused["ok"] is False and "could not be found (DNS lookup failed)" in refused["message"]
    assert "only public web addresses" not in refused["message"]
    with sqlite3.connect(workspace_db) as conn:  # an error page on a host the operator configured
        conn.execute("insert into sources (id, publisher, type, url, configured) values "
                     "('local', 'Kinship', 'feed', ?, 1)", [feed_server.url("/feed.atom")])
    feed_server.serve("/gone", b"<h1>Not found</h1>", status=404)
    gone = (await add_form(ds, editor, feed_server.url("/gone"), _json="1")).json()
    assert gone["ok"] is False and "answered 404 Not Found" in gone["message"] and "only public" not in gone["message"]
    bad_date = (await add_form(ds, editor, missing, title="T", published="2026-02-30", _json="1")).json()
    assert bad_date == {"ok": False, "message": "'2026-02-30' is not a date (YYYY-MM-DD)"}
    # Without JavaScript: back to triage, with the form filled in as the editor typed it.
    back = await add_form(ds, editor, missing, publisher="Kinship <b>")
    assert back.status_code == 302 and back.headers["location"] == "/-/triage"
    page = await ds.client.get("/-/triage", cookies={**editor, "tracker_add": back.cookies["tracker_add"]})
    start = page.text.index('id="add-url" open')
    form = page.text[start:page.text.index("</details>", start)]
    assert f'value="{missing}"' in form and 'value="Kinship &lt;b&gt;"' in form
    assert 'name="title"' in form and 'name="published"' in form
    assert 'id="add-url" open' not in (await ds.client.get("/-/triage", cookies=editor)).text
    added = (await add_form(ds, editor, missing, title="Kinship report", publisher="Kinship",
                            published="2026-10-01", accept="1", _json="1")).json()
    assert added["ok"] is True, added
    row = publication(workspace_db, "Kinship report")
    assert (row["source_id"], row["publisher"], row["published"], row["status"]) == (
        "manual", "Kinship", "2026-10-01", "accepted")


def test_the_why_agrees_with_the_themes_the_card_shows():
    from tracker.web.triage_pages import why_in_words

    why = json.dumps({"rules": {"send": ["SEND"], "workforce": ["social workers"]}})
    labels = {"send": "SEND", "workforce": "Workforce"}
    assert why_in_words(why, labels, ["send"]) == [
        "Matched the phrases of its themes: SEND (“SEND”).",
        "Phrases of Workforce (“social workers”) matched, but it was not judged to be about that theme."]
    out_of_remit = why_in_words(why, labels, [])
    assert out_of_remit == ["Phrases of SEND (“SEND”); Workforce (“social workers”) matched, but it was "
                            "judged outside the networks' remit, so it has no theme."]


@pytest.mark.asyncio
async def test_a_card_without_themes_does_not_claim_its_phrases_as_themes(ds, editor, workspace_db):
    with sqlite3.connect(workspace_db) as conn:
        conn.execute("update publications set themes = '[]', why = ? where title = ?",
                     [json.dumps({"rules": {"workforce": ["social workers"]}}), KINSHIP])
    page = (await ds.client.get("/-/triage", cookies=editor)).text
    card = page[page.index(f'id="card-{publication(workspace_db, KINSHIP)["id"]}"'):]
    card = card[:card.index('class="card-status"')]
    assert "Matched the" not in card and 'class="chip"' not in card
    assert "judged outside the networks&#39; remit, so it has no theme" in card


@pytest.mark.asyncio
async def test_a_saved_search_shows_its_themes_label(ds, editor, workspace_db):
    label = next(Database(workspace_db).query("select label from themes where slug = 'kinship'"))["label"]
    assert label and label != "kinship"
    await ds.client.post("/-/searches", cookies=editor, data={
        "csrftoken": editor["ds_csrftoken"], "action": "save", "name": "Kin", "q": "allowance",
        "theme": "kinship", "frequency": "daily"})
    page = (await ds.client.get("/-/searches", cookies=editor)).text
    listed = page[page.index('class="saved-searches"'):]
    assert f"theme {label}" in listed and "theme kinship" not in listed


@pytest.mark.asyncio
@pytest.mark.parametrize("issue_day", ["thursday", "friday"])
async def test_the_coming_issue_is_on_the_served_settings_issue_day(workspace_db, issue_day):
    """A newsletter that goes out on Thursdays drafts Thursday's issue in the workspace too, as
    tracker serve's scheduler does (settings.issue_day)."""
    from tracker.dates import LONDON
    from tracker.publish.digest import next_issue_date

    ds = make_datasette(workspace_db, secret="test-secret", issue_day=issue_day)
    coming = next_issue_date(datetime.now(LONDON).date(), issue_day)
    page = await ds.client.get("/-/digest")
    assert page.status_code == 200
    assert f"/-/digest/{coming.isoformat()}" in page.text


def test_an_issue_day_that_is_no_weekday_stops_the_workspace(workspace_db):
    from tracker.web.workspace import Workspace, WorkspaceError

    with pytest.raises(WorkspaceError, match="issue_day"):
        Workspace.from_config({"database": "newsroom", "issue_day": "caturday"})
