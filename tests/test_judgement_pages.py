"""The judgement's pages and the weekly scorecard (issue 12): the not-sure view lists the
unreviewed publications nearest a decision boundary, nearest first, for editors only; the model
page shows the scoring model's version, its figures and the scorecard of sent issues."""

import json
from datetime import date, datetime, timezone

import pytest
from sqlite_utils import Database

from tracker.judgement.classify import classify_publications
from tracker.judgement.scorecard import scorecard
from tracker.store import open_database, replace_digest
from tracker.store.judgements import save_model
from tracker.web.judgement_pages import nearness
from tracker.web.serve import make_datasette
from tracker.web.wording import day_words


@pytest.fixture(autouse=True)
def cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("TRACKER_CACHE", str(tmp_path_factory.getbasetemp() / "model-cache"))


@pytest.fixture
def ds(workspace_db):
    db = open_database(workspace_db)
    classify_publications(db)  # the shipped model: every unreviewed row gets why.boundary
    db.close()
    return make_datasette(workspace_db, secret="test-secret")


@pytest.mark.asyncio
async def test_not_sure_lists_the_nearest_to_a_boundary_first(ds, workspace_db, editor_cookies):
    rows = list(Database(workspace_db).query(
        "select title, why from publications where status = 'new'"))
    margins = {row["title"]: json.loads(row["why"])["boundary"][1] for row in rows}
    assert margins and all(0 <= m <= 0.5 for m in margins.values())
    page = await ds.client.get("/-/not-sure", cookies=await editor_cookies(ds))
    assert page.status_code == 200
    listed = sorted(margins, key=lambda title: page.text.index(title.replace("'", "&#39;")))
    assert [margins[t] for t in listed] == sorted(margins.values())
    assert "Not sure whether" in page.text and 'action="/newsroom/set_status"' in page.text
    # Each card decides in place, as triage's do: its status shows its Accept and Reject.
    assert page.text.count('class="card candidate"') == len(margins) == page.text.count('data-status="new"')
    assert "triage.js" in page.text and 'id="triage-status"' in page.text


def test_nearness_tells_a_thousandth_from_the_line():
    assert nearness(0.001) == "within 0.001 of the line"  # two decimals said "within 0.00"
    assert nearness(0.25) == "within 0.250 of the line"
    assert nearness(0.0002) == "on the line"


@pytest.mark.asyncio
async def test_not_sure_is_for_editors(ds):
    response = await ds.client.get("/-/not-sure")
    assert response.status_code == 302 and response.headers["location"] == "/-/login?next=/-/not-sure"


def add(db, title, first_seen, score, status="new"):
    url = f"https://example.org/{abs(hash((title, first_seen)))}"
    return db["publications"].insert({"url": url, "url_key": url, "title": title, "first_seen": first_seen,
                                      "status": status, "candidate_score": score,
                                      "why": json.dumps({"rules": {}, "model": "m"})}).last_pk


def test_the_scorecard_counts_accepted_publications_within_the_top_candidates(db):
    week = date(2026, 11, 27)
    # 35 publications first seen that week (London dates 21..27 Nov): scores 0.99 down to 0.65.
    ids = [add(db, f"Publication {n}", f"2026-11-{21 + n % 7:02d}T10:00:00Z", round(0.99 - n / 100, 2))
           for n in range(35)]
    for rank in (1, 5, 15, 25, 34):  # accepted at these ranks
        db["publications"].update(ids[rank - 1], {"status": "accepted"})
    add(db, "Seen the week before", "2026-11-20T10:00:00Z", 1.0, status="accepted")
    # 27 Nov 23:30 UTC is 27 Nov in London (GMT); 28 Nov 00:30 is the next week
    add(db, "Late on the issue day", "2026-11-27T23:30:00Z", 0.0, status="accepted")
    add(db, "After the issue day", "2026-11-28T00:30:00Z", 1.0, status="accepted")
    replace_digest(db, week, 12, {"text": ""}, {}, datetime(2026, 11, 27, 12, tzinfo=timezone.utc), sent_by="alice")
    replace_digest(db, date(2026, 12, 4), 12, {"text": ""}, {})  # a draft: not scored once one is sent
    [card] = scorecard(db)
    assert card.week == week and card.sent and card.candidates == 36 and card.accepted == 6
    assert card.within == {10: 2, 20: 3, 30: 4}
    assert [row["title"] for row in card.low] == ["Publication 33", "Late on the issue day"]
    assert [row["rank"] for row in card.low] == [34, 36]


def test_before_any_issue_is_sent_the_drafts_are_scored(db):
    add(db, "Kinship care guide", "2026-12-01T10:00:00Z", 0.9, status="accepted")
    replace_digest(db, date(2026, 12, 4), 12, {"text": ""}, {})
    [card] = scorecard(db)
    assert not card.sent and card.within == {10: 1, 20: 1, 30: 1}


@pytest.mark.asyncio
async def test_the_model_page_shows_the_version_its_figures_and_the_scorecard(ds, workspace_db):
    db = open_database(workspace_db)
    save_model(db, "db-20261130T100000-abcdef12", b"arrays", trained_at="2026-11-30T10:00:00Z", examples=990,
               metrics={"macro_f1": 0.8123, "roc_auc": 0.9456}, themes_digest="", data_digest="",
               decisions=42, trigger="background")
    replace_digest(db, date.today(), 12, {"text": ""}, {})
    db.close()
    page = await ds.client.get("/-/model")
    assert page.status_code == 200
    assert "db-20261130T100000-abcdef12" in page.text and "in the background" in page.text
    assert "0.812" in page.text and "0.946" in page.text and "42 of them the editors" in page.text
    # The issue in the newsletter's words, as every page says a date.
    assert "Weekly scorecard" in page.text and f'<td class="issue">{day_words(date.today())}' in page.text
    dashboard = (await ds.client.get("/-/dashboard")).text
    assert "Scoring with model" in dashboard and "db-20261130T100000-abcdef12" in dashboard
    assert "macro-F1 0.812" in dashboard and 'href="/-/model"' in dashboard


@pytest.mark.asyncio
async def test_the_dashboard_says_when_the_shipped_model_scores(ds):
    assert "Scoring with the shipped model" in (await ds.client.get("/-/dashboard")).text
