"""The editors' writes on the list: edit_line (through Datasette and the store), a later poll
leaving an edit alone, upstream updates listed or ignored, and sent issues frozen."""

import json
from datetime import date, datetime, timezone

import pytest
import pytest_asyncio
from sqlite_utils import Database

from tracker.entries import Entry
from tracker.ingest.normalise import url_key
from tracker.publish.digest import collect, current_issue, line, mark_sent, publication_line, render, save_digest
from tracker.store import (
    EditRefused,
    FetchRecord,
    IssueSent,
    LineEdit,
    edit_line,
    ignore_update,
    list_issues,
    list_update,
    open_database,
    save_fetch,
)

ISSUE = date(2025, 4, 18)
DB = "newsroom"
KINSHIP = "Kinship care statutory guidance for local authorities"


@pytest.fixture
def ds(workspace_db):
    from tracker.web.serve import make_datasette

    return make_datasette(workspace_db, secret="test-secret")


@pytest_asyncio.fixture
async def editor(ds, editor_password):
    form = await ds.client.get("/-/login")
    token = form.cookies["ds_csrftoken"]
    response = await ds.client.post("/-/login", cookies={"ds_csrftoken": token},
                                    data={"username": "alice", "password": editor_password, "csrftoken": token})
    assert response.status_code == 302
    return {"ds_actor": response.cookies["ds_actor"], "ds_csrftoken": token}


async def edit(ds, cookies, **data):
    response = await ds.client.post(
        f"/{DB}/edit_line", data={**data, "csrftoken": cookies["ds_csrftoken"], "_json": "1"}, cookies=cookies,
    )
    assert response.status_code == 200, response.text
    return response.json()


def kinship(path):
    return next(Database(path).query("select * from publications where title = ?", [KINSHIP]))


def audit(path):
    return list(Database(path).query("select * from audit_log order by id"))


@pytest.mark.asyncio
async def test_edit_line_changes_the_line_and_is_audited(ds, editor, workspace_db):
    pid = kinship(workspace_db)["id"]
    result = await edit(ds, editor, id=str(pid), title="Kinship care: statutory guidance", publisher="",
                        verb="released", published="2025-04-16")
    assert (result["ok"], result["message"]) == (True, "Line saved")
    row = kinship(workspace_db)
    assert (row["edited_title"], row["edited_publisher"], row["edited_verb"], row["edited_published"]) == (
        "Kinship care: statutory guidance", None, "released", "2025-04-16")
    assert row["title"] == KINSHIP  # the polled title is kept apart
    [entry] = audit(workspace_db)
    assert (entry["editor"], entry["publication_id"], entry["action"]) == ("alice", pid, "edit_line")
    assert json.loads(entry["old_value"])["title"] == KINSHIP
    assert json.loads(entry["new_value"]) == {"title": "Kinship care: statutory guidance", "publisher": "DfE",
                                              "verb": "released", "published": "2025-04-16"}
    db = open_database(workspace_db)
    assert line(publication_line(db, pid, ISSUE)) == "On 16 April DfE released Kinship care: statutory guidance"


@pytest.mark.asyncio
async def test_a_saved_line_titles_its_card_after_a_reload(ds, editor, workspace_db):
    # triage.js puts the saved title on the card at once; the page served next must agree.
    pid = kinship(workspace_db)["id"]
    await edit(ds, editor, id=str(pid), title="Kinship care: the statutory guidance")
    for path in ("/-/triage", f"/-/publication/{pid}"):
        page = (await ds.client.get(path, cookies=editor)).text
        card = page[page.index(f'id="card-{pid}"'):]
        heading = card[card.index("<h2>"):card.index("</h2>")]
        assert "Kinship care: the statutory guidance" in heading and KINSHIP not in heading


@pytest.mark.asyncio
@pytest.mark.parametrize("data, message", [
    ({"title": "   "}, "The title cannot be blank"),
    ({"title": "\n\t "}, "The title cannot be blank"),
    ({"verb": " \r\n"}, "The verb cannot be blank"),
    ({"published": "2025-02-30"}, "The date must be a real date written YYYY-MM-DD"),
    ({"published": "16/04/2025"}, "The date must be a real date written YYYY-MM-DD"),
    ({"published": "2025-4-16"}, "The date must be a real date written YYYY-MM-DD"),
    ({"verb": "v" * 500}, "The verb is too long (at most 60 characters)"),
    ({"title": "t" * 501}, "The title is too long (at most 500 characters)"),
    ({"publisher": "p" * 201}, "The publisher is too long (at most 200 characters)"),
    ({"title": "", "publisher": "", "verb": "", "published": ""}, "Nothing to change"),
    ({"id": "99999", "title": "Anything"}, "No publication with that id"),
])
async def test_edit_line_refuses_bad_values_and_changes_nothing(ds, editor, workspace_db, data, message):
    before = kinship(workspace_db)
    # A good value beside the bad one is not applied either.
    result = await edit(ds, editor, **{"id": str(before["id"]), "verb": "launched", **data})
    assert result["ok"] is False and message in result["message"]
    assert kinship(workspace_db) == before and audit(workspace_db) == []


@pytest.mark.asyncio
async def test_edit_line_is_for_editors_only(ds, workspace_db):
    response = await ds.client.post(f"/{DB}/edit_line", data={"id": "1", "title": "Hijacked", "_json": "1"})
    assert response.status_code == 403
    assert audit(workspace_db) == [] and kinship(workspace_db)["edited_title"] is None


def test_a_later_poll_never_overwrites_an_edit(workspace_db, make_source):
    db = open_database(workspace_db)
    pid = kinship(workspace_db)["id"]
    edit_line(db, pid, "alice", LineEdit(title="Kinship care guidance", publisher="the DfE",
                                         published="2026-01-02"))
    source = make_source("dfe-activity", "DfE")
    url = "https://www.gov.uk/government/publications/kinship-guidance"
    repolled = Entry(url=url, url_key=url_key(url), title="Kinship care statutory guidance (2026 edition)",
                     summary="Reworded upstream.", published="2025-12-01", date_source="feed")
    save_fetch(db, source, FetchRecord(started=datetime.now(timezone.utc), duration_ms=5, status=200), [repolled])
    row = kinship_by_id(db, pid)
    assert row["title"] == "Kinship care statutory guidance (2026 edition)"  # the poll did its job
    assert line(publication_line(db, pid, date(2026, 1, 9))) == (
        "On 2 January the DfE published Kinship care guidance")


def kinship_by_id(db, pid):
    return next(db.query("select * from publications where id = ?", [pid]))


def test_empty_fields_leave_earlier_edits(db, add_publication):
    pid = add_publication("Original")
    edit_line(db, pid, "alice", LineEdit(title="First edit", verb="released"))
    edit_line(db, pid, "bob", LineEdit(publisher="MoJ's analysts"))
    assert line(collect(db, ISSUE).accepted[0]) == "On 7 April MoJ's analysts released First edit"


def test_an_edited_date_moves_the_line_into_the_window(db, add_publication):
    pid = add_publication("Old report", published="2023-05-01", first_seen="2023-05-01T09:00:00Z")
    assert collect(db, ISSUE).accepted == []
    edit_line(db, pid, "alice", LineEdit(published="2025-04-10"))
    assert line(collect(db, ISSUE).accepted[0]) == "On 10 April MoJ published Old report"


def test_store_edit_refused_changes_nothing(db, add_publication):
    pid = add_publication("Original")
    with pytest.raises(EditRefused, match="real date"):
        edit_line(db, pid, "alice", LineEdit(title="Changed", published="2025-02-30"))
    assert kinship_by_id(db, pid)["edited_title"] is None
    assert db["audit_log"].count == 0


def add_update(db, publication_id, **extra):
    row = {"publication_id": publication_id, "source_id": "dfe-activity", "seen_at": "2025-05-12T10:00:00Z",
           "kind": "updated", "change_note": "Added the 2025 annex", "upstream_at": "2025-05-12T08:30:00Z",
           **extra}
    return db["publication_updates"].insert(row).last_pk


def test_list_update_puts_it_in_the_list_as_updated(db, add_publication):
    pid = add_publication("Keeping children safe in education", publisher="DfE", published="2024-09-01",
                          first_seen="2024-09-01T09:00:00Z", status="rejected")
    update = add_update(db, pid)
    assert list_update(db, update, "alice", now=datetime(2025, 5, 13, 9, tzinfo=timezone.utc)) == pid
    [item] = collect(db, date(2025, 5, 16)).accepted
    assert line(item) == "On 12 May DfE updated Keeping children safe in education"
    assert db["publication_updates"].get(update)["status"] == "listed"
    assert [(row["action"], row["editor"]) for row in db["audit_log"].rows] == [
        ("set_status", "alice"), ("edit_line", "alice"), ("list_update", "alice")]
    with pytest.raises(EditRefused, match="already listed"):
        list_update(db, update, "alice")


def test_ignore_update_changes_no_publication(db, add_publication):
    pid = add_publication("Keeping children safe in education", status="new")
    before = kinship_by_id(db, pid)
    update = add_update(db, pid)
    ignore_update(db, update, "alice")
    assert kinship_by_id(db, pid) == before
    assert db["publication_updates"].get(update)["status"] == "ignored"
    assert [row["action"] for row in db["audit_log"].rows] == ["ignore_update"]
    with pytest.raises(EditRefused, match="No update"):
        ignore_update(db, 999, "alice")


def test_a_sent_issue_is_frozen_and_the_next_begins(db, add_publication):
    add_publication("In the sent issue")
    add_publication("A candidate", status="new", first_seen="2025-04-15T09:00:00Z")
    assert current_issue(db, date(2025, 4, 16)) == ISSUE
    row = mark_sent(db, ISSUE, "alice", now=datetime(2025, 4, 17, 16, tzinfo=timezone.utc))
    assert row["text"] == "Tools & Templates\n=================\n\nOn 7 April MoJ published In the sent issue\n"
    assert (row["sent_at"], row["sent_by"]) == ("2025-04-17T16:00:00Z", "alice")
    assert current_issue(db, date(2025, 4, 17)) == date(2025, 4, 25)

    add_publication("Accepted after sending", published="2025-04-17")
    with pytest.raises(IssueSent, match="sent by alice"):
        save_digest(db, ISSUE)
    with pytest.raises(IssueSent):
        mark_sent(db, ISSUE, "bob")
    assert db["digests"].get("2025-04-18")["text"] == row["text"]
    # The draft is still rendered from the store on request; the sent text stays as sent.
    assert "Accepted after sending" in render(collect(db, ISSUE), "text")

    save_digest(db, date(2025, 4, 25))
    assert [(issue["week"], issue["sent_by"]) for issue in list_issues(db)] == [
        ("2025-04-25", None), ("2025-04-18", "alice")]
    assert list_issues(db)[1]["counts"] == {"accepted": 1, "candidates": 0}


@pytest.mark.asyncio
async def test_edit_line_with_one_field_leaves_the_others(ds, editor, workspace_db):
    pid = kinship(workspace_db)["id"]
    result = await edit(ds, editor, id=str(pid), verb="advertised for")
    assert result["ok"] is True, result
    row = kinship(workspace_db)
    assert (row["edited_title"], row["edited_verb"]) == (None, "advertised for")


def test_missing_line_fields_are_posted_empty():
    from tracker.web.line_form import with_every_field

    assert with_every_field(b"id=3&verb=released") == b"id=3&verb=released&title=&publisher=&published="
    assert json.loads(with_every_field(b'{"id": 3, "title": "T"}')) == {
        "id": 3, "title": "T", "publisher": "", "verb": "", "published": ""}
