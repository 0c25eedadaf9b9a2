import json
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from tracker import TrackerError
from tracker.entries import Entry
from tracker.ingest.normalise import url_key
from tracker.store import (
    FetchRecord,
    NotATrackerDatabase,
    PollRunning,
    announcement_changes,
    migrations,
    open_database,
    poll_lock,
    prune_fetch_log,
    save_fetch,
    sync_sources,
    write_transaction,
)
from tracker.store.judgements import Score, save_scores, unscored_since
from tracker.text import title_key

NOW = datetime(2025, 4, 10, 9, 0, tzinfo=timezone.utc)


def entry(url="https://www.gov.uk/government/statistics/family-court-statistics-quarterly",
          title="Family Court Statistics Quarterly: October to December 2024",
          published="2025-04-03", summary="Quarterly data on family courts.", updated=None):
    return Entry(url=url, url_key=url_key(url), title=title, summary=summary, published=published,
                 date_source="feed" if published else "first_seen", updated=updated)


def ok(at=NOW, status=200, **kwargs):
    return FetchRecord(started=at, duration_ms=12, status=status, **kwargs)


@pytest.fixture
def moj(db, make_source):
    source = make_source(id="moj-stats", publisher="MoJ")
    sync_sources(db, [source])
    return source


def publication(db, url_key_value=None):
    rows = list(db["publications"].rows)
    if url_key_value:
        rows = [r for r in rows if r["url_key"] == url_key_value]
    assert len(rows) == 1
    return rows[0]


def test_open_creates_schema_and_is_idempotent(db_path):
    db = open_database(db_path)
    tables = set(db.table_names())
    assert {"publications", "sources", "publication_sources", "fetch_log", "audit_log",
            "publications_fts"} <= tables
    assert db.execute("pragma journal_mode").fetchone()[0] == "wal"
    db.close()
    again = open_database(db_path)
    assert set(again.table_names()) == tables


def schema(db):
    return db.execute("select type, name, tbl_name, sql from sqlite_master order by type, name").fetchall()


def test_migrations_are_registered_in_numeric_order():
    from sqlite_utils import Database

    # pending() lists a set's migrations in the order apply() runs them.
    names = [migration.name for migration in migrations.pending(Database(memory=True))]
    assert names == sorted(names) and names[0] == "m001_initial"


# Before the store was split the migrations were registered, and so applied, in this order.
OLD_ORDER = ["m001_initial", "m005_digest", "m004_web", "m002_classifier", "m003_newsletter"]


@pytest.mark.parametrize("applied", [len(OLD_ORDER), 3, 1])
def test_a_database_migrated_in_the_old_order_opens_with_the_same_schema(tmp_path, applied):
    from sqlite_utils import Database, Migrations

    from tracker.store import schema as schema_module

    old = Migrations(schema_module.MIGRATION_SET)
    for name in OLD_ORDER:
        old(name=name)(getattr(schema_module, name))
    path = tmp_path / "old.db"
    made = Database(path)
    old.apply(made, stop_before=OLD_ORDER[applied:])
    made.close()

    db = open_database(path)
    applied_now = [row[0] for row in db.execute("select name from _sqlite_migrations order by id")]
    assert applied_now[:applied] == OLD_ORDER[:applied]
    # The old order's migrations, then every one registered since, with nothing left pending.
    assert set(OLD_ORDER) <= set(applied_now) and migrations.pending(db) == []
    assert schema(db) == schema(open_database(tmp_path / "fresh.db"))


def test_a_transaction_whose_commit_fails_is_rolled_back_not_left_open(db):
    # A deferred foreign key is checked at COMMIT: the failure must not leave the transaction
    # open, or every later write on this connection would fail to BEGIN.
    db.execute("pragma foreign_keys = on")
    db.execute("create table parent (id integer primary key)")
    db.execute("create table child (parent_id integer references parent(id) deferrable initially deferred)")
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        with write_transaction(db):
            db.execute("insert into child values (99)")
    assert not db.conn.in_transaction
    with write_transaction(db):
        db.execute("insert into parent values (1)")
    assert db.execute("select count(*) from child").fetchone()[0] == 0


def test_must_exist_says_how_to_create(tmp_path):
    with pytest.raises(TrackerError, match="tracker poll"):
        open_database(tmp_path / "missing.db", must_exist=True)
    assert not (tmp_path / "missing.db").exists()


def test_refuses_other_databases(tmp_path):
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("create table customers (id integer primary key)")
    conn.commit()
    conn.close()
    with pytest.raises(NotATrackerDatabase, match="not a tracker database"):
        open_database(other)
    text = tmp_path / "notes.db"
    text.write_text("this is not sqlite at all" * 100)
    with pytest.raises(NotATrackerDatabase):
        open_database(text)


def test_new_then_unchanged(db, moj):
    first = save_fetch(db, moj, ok(), [entry()])
    assert len(first.new_ids) == 1
    row = publication(db)
    assert (row["status"], row["themes"], row["publisher"], row["published"]) == (
        "new", "[]", "MoJ", "2025-04-03")
    assert row["first_seen"] == "2025-04-10T09:00:00Z"
    second = save_fetch(db, moj, ok(NOW + timedelta(hours=1)), [entry()])
    assert (second.new_ids, second.updated, second.unchanged) == ([], 0, 1)
    assert db["publications"].count == 1


def test_fts_follows_writes(db, moj):
    save_fetch(db, moj, ok(), [entry()])
    hits = db.execute(
        "select title from publications_fts where publications_fts match 'statistic'"
    ).fetchall()
    assert hits == [("Family Court Statistics Quarterly: October to December 2024",)]


def fts_writes(db):
    # Every write to an FTS5 index adds or replaces rows of its data table.
    return db.execute("select count(*), coalesce(max(id), 0) from publications_fts_data").fetchone()


def test_fts_follows_a_new_title_and_only_a_new_title(db, moj):
    save_fetch(db, moj, ok(), [entry()])
    before = fts_writes(db)
    save_scores(db, [Score(publication(db)["id"], ["family_justice"], 0.9, "m1", {})])
    save_fetch(db, moj, ok(NOW + timedelta(hours=1)), [entry()])
    assert fts_writes(db) == before
    save_fetch(db, moj, ok(NOW + timedelta(hours=2)), [entry(title="Family Court Tables Reworded")])
    match = "select title from publications_fts where publications_fts match ?"
    assert db.execute(match, ["tables"]).fetchall() == [("Family Court Tables Reworded",)]
    assert db.execute(match, ["statistic"]).fetchall() == []
    assert db.execute("insert into publications_fts (publications_fts) values ('integrity-check')")


def test_themes_index_follows_an_insert_with_themes(db):
    for key, themes in (("a", '["send", "kinship"]'), ("b", "[]")):
        db["publications"].insert({"url": f"https://example.org/{key}", "url_key": f"example.org/{key}",
                                   "title": key, "first_seen": "2025-04-10T09:00:00Z", "themes": themes})
    assert sorted(db.execute("select theme from publication_themes").fetchall()) == [("kinship",), ("send",)]


def test_later_poll_never_overwrites_editor_decisions(db, moj):
    save_fetch(db, moj, ok(), [entry()])
    db.execute("update publications set status = 'accepted', themes = ?, themes_by_editor = 1",
               [json.dumps(["family_justice"])])
    # GOV.UK re-dates an updated page and may change its wording: neither is a new publication.
    redated = entry(published="2025-05-01", title="Family Court Statistics Quarterly (revised)",
                    updated="2025-05-01T08:30:00Z")
    result = save_fetch(db, moj, ok(NOW + timedelta(days=21)), [redated])
    assert (result.new_ids, result.updated) == ([], 1)
    row = publication(db)
    assert row["status"] == "accepted"
    assert json.loads(row["themes"]) == ["family_justice"]
    assert row["published"] == "2025-04-03"
    # Accepted: the title stays the one the editors read; the new wording is an update to show.
    assert row["title"] == "Family Court Statistics Quarterly: October to December 2024"
    assert row["updated"] == "2025-05-01T08:30:00Z"
    assert updates(db) == [("title", "Family Court Statistics Quarterly: October to December 2024",
                            "Family Court Statistics Quarterly (revised)")]


def updates(db):
    return [(r["kind"], r["old_value"], r["new_value"]) for r in
            db.execute_returning_dicts("select * from publication_updates order by id")]


def poll_audit(db):
    return [(r["action"], r["old_value"], r["new_value"]) for r in
            db.execute_returning_dicts("select * from audit_log where editor = 'poll' order by id")]


def test_an_accepted_title_changes_only_by_an_editor_and_the_change_is_recorded_once(db, moj):
    save_fetch(db, moj, ok(), [entry()])
    db.execute("update publications set status = 'accepted'")
    for hours in (1, 2):  # the feed repeats its new wording every poll: one update, one audit row
        save_fetch(db, moj, ok(NOW + timedelta(hours=hours)), [entry(title="Rewritten by the feed")])
    assert publication(db)["title"] == "Family Court Statistics Quarterly: October to December 2024"
    expected = [("title", "Family Court Statistics Quarterly: October to December 2024", "Rewritten by the feed")]
    assert updates(db) == expected
    assert poll_audit(db) == [("upstream_" + kind, old, new) for kind, old, new in expected]


def test_an_unreviewed_title_still_follows_its_source(db, moj):
    save_fetch(db, moj, ok(), [entry()])
    save_fetch(db, moj, ok(NOW + timedelta(hours=1)), [entry(title="Reworded")])
    assert publication(db)["title"] == "Reworded" and updates(db) == []


@pytest.mark.parametrize("status", ["new", "accepted"])
def test_another_source_cannot_pull_a_date_far_back(db, moj, make_source, status):
    """Announcing the same URL dated weeks earlier would push a publication out of the list."""
    other = make_source(id="other", publisher="Other")
    sync_sources(db, [moj, other])
    save_fetch(db, moj, ok(), [entry(published="2025-04-03")])
    db.execute("update publications set status = ?", [status])
    save_fetch(db, other, ok(), [entry(published="2025-01-02")])
    assert publication(db)["published"] == "2025-04-03"
    assert updates(db) == [("date", "2025-04-03", "2025-01-02")]
    assert poll_audit(db) == [("upstream_date", "2025-04-03", "2025-01-02")]


def test_an_accepted_date_is_not_lowered_even_a_little(db, moj, make_source):
    other = make_source(id="other", publisher="Other")
    sync_sources(db, [moj, other])
    save_fetch(db, moj, ok(), [entry(published="2025-04-03")])
    db.execute("update publications set status = 'accepted'")
    save_fetch(db, other, ok(), [entry(published="2025-04-01")])
    assert publication(db)["published"] == "2025-04-03"
    assert updates(db) == [("date", "2025-04-03", "2025-04-01")]


def test_an_earlier_date_within_the_bound_is_applied_and_audited(db, moj, make_source):
    other = make_source(id="other", publisher="Other")
    sync_sources(db, [moj, other])
    save_fetch(db, moj, ok(), [entry(published="2025-04-03")])
    save_fetch(db, other, ok(), [entry(published="2025-03-20")])
    assert publication(db)["published"] == "2025-03-20" and updates(db) == []
    assert poll_audit(db) == [("poll_published", "2025-04-03", "2025-03-20")]


def test_a_later_upstream_timestamp_is_an_update_with_its_change_note(db, moj, make_source):
    save_fetch(db, moj, ok(), [entry(updated="2025-04-03T09:30:00Z")])
    later = Entry(**{**entry(updated="2025-04-20T10:00:00Z").__dict__, "change_note": "Table 3 corrected."})
    save_fetch(db, moj, ok(NOW + timedelta(days=10)), [later])
    [row] = db.execute_returning_dicts("select * from publication_updates")
    assert (row["kind"], row["old_value"], row["new_value"], row["change_note"], row["upstream_at"]) == (
        "updated", "2025-04-03T09:30:00Z", "2025-04-20T10:00:00Z", "Table 3 corrected.", "2025-04-20T10:00:00Z")
    assert (row["source_id"], row["status"]) == ("moj-stats", "new")


def test_a_redated_copy_from_another_source_is_not_an_update(db, moj, make_source):
    other = make_source(id="other", publisher="Other")
    sync_sources(db, [moj, other])
    save_fetch(db, moj, ok(), [entry(updated="2025-04-03T09:30:00Z")])
    save_fetch(db, other, ok(), [entry(updated="2025-04-21T09:30:00Z")])
    save_fetch(db, moj, ok(NOW + timedelta(hours=1)), [entry(updated="2025-04-03T09:30:00Z")])
    assert updates(db) == [] and publication(db)["updated"] == "2025-04-03T09:30:00Z"


def test_earliest_date_from_another_source_wins(db, moj, make_source):
    finder = make_source(id="moj-finder", publisher="MoJ")
    sync_sources(db, [moj, finder])
    save_fetch(db, moj, ok(), [entry(published="2025-04-07")])
    save_fetch(db, finder, ok(), [entry(url="https://gov.uk/government/statistics/family-court-statistics-quarterly/",
                                       published="2025-04-03")])
    row = publication(db)
    assert row["published"] == "2025-04-03"
    sources = {r["source_id"] for r in db["publication_sources"].rows}
    assert sources == {"moj-stats", "moj-finder"}
    # and a later date from a third announcement changes nothing
    save_fetch(db, finder, ok(NOW + timedelta(days=1)), [entry(published="2025-04-20")])
    assert publication(db)["published"] == "2025-04-03"


def test_undated_row_takes_a_date_another_source_gives(db, moj, make_source):
    listing = make_source(id="moj-page", publisher="MoJ", type="html", url="https://example.org/list",
                          item="li", title="a", link="a")
    sync_sources(db, [moj, listing])
    save_fetch(db, listing, ok(), [entry(published=None)])
    assert publication(db)["date_source"] == "first_seen"
    save_fetch(db, moj, ok(), [entry(published="2025-04-03")])
    row = publication(db)
    assert (row["published"], row["date_source"]) == ("2025-04-03", "feed")


def test_same_report_from_two_publishers_is_one_row(db, make_source):
    table = make_source(id="children-at-the-table", publisher="Children at the Table")
    nspcc = make_source(id="nspcc", publisher="NSPCC")
    sync_sources(db, [table, nspcc])
    title = "Children’s services spending report: A long road to recovery"
    save_fetch(db, table, ok(), [entry(url="https://childrenatthetable.org.uk/?p=1066", title=title,
                                       published="2025-04-07")])
    result = save_fetch(db, nspcc, ok(), [entry(url="https://www.nspcc.org.uk/spending-report",
                                                title="Children's Services Spending Report - a long road to recovery",
                                                published="2025-04-08")])
    assert result.new_ids == []
    assert db["publications"].count == 1
    assert publication(db)["publisher"] == "Children at the Table"
    urls = {r["url"] for r in db["publication_sources"].rows}
    assert urls == {"https://childrenatthetable.org.uk/?p=1066", "https://www.nspcc.org.uk/spending-report"}


@pytest.mark.parametrize("second_source", [False, True])
def test_generic_or_same_source_titles_are_not_merged(db, make_source, second_source):
    first = make_source(id="lga-news", publisher="LGA")
    other = make_source(id="ccn", publisher="County Councils Network")
    sync_sources(db, [first, other])
    title = "Annual report" if second_source else "Towards an effective and financially sustainable approach to SEND"
    save_fetch(db, first, ok(), [entry(url="https://www.local.gov.uk/a", title=title)])
    save_fetch(db, other if second_source else first, ok(),
               [entry(url="https://www.local.gov.uk/b", title=title)])
    assert db["publications"].count == 2


STORED = {"id": 1, "title": "Report", "summary": "About it.", "published": "2025-04-07",
          "source_id": "moj-stats", "updated": None}


# What another announcement of a stored publication changes (the store applies it as it stands).
@pytest.mark.parametrize("source_id, linked, announced, changes", [
    pytest.param("moj-stats", True, {}, {}, id="same-again"),
    pytest.param("moj-stats", True, {"published": "2025-04-01"}, {}, id="own-source-never-redates"),
    pytest.param("moj-stats", True, {"title": "Report (revised)"},
                 {"title": "Report (revised)", "summary": "About it.", "title_key": "report revised"},
                 id="own-source-keeps-wording-current"),
    pytest.param("moj-finder", True, {"title": "Another wording"}, {}, id="other-source-never-rewords"),
    pytest.param("moj-finder", False, {"published": "2025-04-03"},
                 {"published": "2025-04-03", "date_source": "feed"}, id="new-source-earlier-date-wins"),
    pytest.param("moj-finder", False, {"published": "2025-04-20"}, {}, id="new-source-later-date-ignored"),
    pytest.param("moj-finder", False, {"published": None}, {}, id="new-source-without-date"),
    pytest.param("moj-finder", True, {"published": "2025-04-01"}, {}, id="known-source-never-redates"),
    pytest.param("moj-stats", True, {"updated": "2025-05-01T08:30:00Z"},
                 {"updated": "2025-05-01T08:30:00Z"}, id="upstream-update-recorded"),
])
def test_announcement_changes(source_id, linked, announced, changes):
    announcement = {"title": "Report", "summary": "About it.", "published": "2025-04-07", **announced}
    found = entry(url="https://example.org/report", **announcement)
    assert announcement_changes(STORED, found, source_id, linked) == changes


def test_a_new_source_dates_an_undated_publication():
    found = entry(url="https://example.org/report", title="Report", summary="About it.")
    assert announcement_changes({**STORED, "published": None}, found, "moj-page", False) == {
        "published": "2025-04-03", "date_source": "feed"}


def test_failed_fetch_records_error_and_keeps_state(db, moj):
    save_fetch(db, moj, ok(etag='"v1"', last_modified="Thu, 10 Apr 2025 08:00:00 GMT"), [entry()])
    later = NOW + timedelta(hours=1)
    for attempt in (1, 2):
        result = save_fetch(db, moj, FetchRecord(started=later, duration_ms=30000,
                                                 error="no answer within 30 seconds"), [entry(title="X")])
        assert result.new_ids == []
        state = db["sources"].get("moj-stats")
        assert state["consecutive_errors"] == attempt
    assert state["last_error"] == "no answer within 30 seconds"
    assert state["last_success"] == "2025-04-10T09:00:00Z"
    assert state["etag"] == '"v1"'
    assert publication(db)["title"].startswith("Family Court")
    save_fetch(db, moj, ok(later, not_modified=True, status=304), [])
    state = db["sources"].get("moj-stats")
    assert (state["last_error"], state["consecutive_errors"], state["etag"]) == (None, 0, '"v1"')
    log = list(db["fetch_log"].rows)
    assert [r["error"] for r in log] == [None, "no answer within 30 seconds",
                                         "no answer within 30 seconds", None]


def test_permanent_redirect_updates_fetch_url(db, moj):
    save_fetch(db, moj, ok(fetch_url="https://example.org/new-feed"), [])
    assert db["sources"].get("moj-stats")["fetch_url"] == "https://example.org/new-feed"


def test_changing_configured_url_forgets_validators(db, moj, make_source):
    save_fetch(db, moj, ok(etag='"v1"', fetch_url="https://example.org/moved"), [])
    sync_sources(db, [make_source(id="moj-stats", publisher="MoJ", url="https://example.org/other")])
    state = db["sources"].get("moj-stats")
    assert (state["etag"], state["fetch_url"], state["url"]) == (None, None, "https://example.org/other")


def test_sync_marks_removed_sources(db, moj, make_source):
    sync_sources(db, [make_source(id="ofsted", publisher="Ofsted")])
    assert db["sources"].get("moj-stats")["configured"] == 0
    assert db["sources"].get("ofsted")["configured"] == 1


def test_prune_fetch_log(db, moj):
    save_fetch(db, moj, ok(NOW - timedelta(days=40)), [])
    save_fetch(db, moj, ok(NOW), [])
    assert prune_fetch_log(db, 30, now=NOW) == 1
    assert db["fetch_log"].count == 1


def test_poll_lock_is_exclusive(db_path):
    with poll_lock(db_path):
        with pytest.raises(PollRunning, match="already running"):
            with poll_lock(db_path):
                pass
    with poll_lock(db_path):
        pass


def test_title_key_folds_quotes_and_punctuation():
    assert title_key("Children’s services: “spending” & more") == title_key(
        "children's services - \"spending\" and more")


def test_an_entry_clashing_with_a_stored_row_costs_itself_only(db, moj):
    """A URL stored under an older key (before a key rule changed) made the INSERT fail on the
    unique url, and with it the source's every entry, on every poll."""
    legacy = "https://www.gov.uk/government/statistics/legacy"
    db["publications"].insert({"url": legacy, "url_key": "old-rule/legacy", "title": "Legacy",
                               "status": "new", "themes": "[]", "first_seen": "2025-01-01T00:00:00Z"})
    result = save_fetch(db, moj, ok(), [entry(url=legacy, title="Legacy again"), entry()])
    assert len(result.new_ids) == 1 and db["publications"].count == 2
    assert result.skipped == [f"{legacy} clashes with a stored publication "
                              "(UNIQUE constraint failed: publications.url)"]
    health = db["sources"].get("moj-stats")
    assert health["skipped_entries"] == 1 and health["last_error"] is None
    assert db.execute("select skipped from fetch_log").fetchone()[0].startswith("1 skipped: ")


def test_a_new_upstream_timestamp_is_news_not_an_audited_change(db, moj):
    save_fetch(db, moj, ok(), [entry(updated="2025-04-03T09:30:00Z")])
    save_fetch(db, moj, ok(NOW + timedelta(days=1)), [entry(updated="2025-04-09T09:30:00Z")])
    assert [kind for kind, _, _ in updates(db)] == ["updated"] and poll_audit(db) == []


def test_themes_a_script_sets_in_sql_are_the_editors_and_scoring_keeps_them(db, add_publication):
    """A script deciding for the editors sets status and themes in SQL: the themes count as the
    editors' (tracker train learns them) and the next scoring leaves them; the classifier's own
    changes of themes stay the classifier's."""
    from tracker.judgement.examples import examples_from_db

    decided, scored = add_publication(status="new"), add_publication("Kinship care statistics", status="new")
    save_scores(db, [Score(pid, ["finance"], 0.3, "m1", {"model": "m1"}) for pid in (decided, scored)])
    db.execute("update publications set status = 'accepted', themes = ?, reviewed_at = ? where id = ?",
               ['["family_justice"]', "2025-04-10T09:00:00Z", decided])
    save_scores(db, [Score(pid, ["kinship"], 0.9, "m2", {"model": "m2"}) for pid in (decided, scored)])
    rows = {row["id"]: row for row in db["publications"].rows}
    assert (json.loads(rows[decided]["themes"]), rows[decided]["themes_by_editor"]) == (["family_justice"], 1)
    assert (json.loads(rows[scored]["themes"]), rows[scored]["themes_by_editor"]) == (["kinship"], 0)
    assert [(e.themes, e.candidate) for e in examples_from_db(db)] == [(("family_justice",), True)]


def test_unscored_since_reads_the_recent_unscored_rows_through_the_status_first_seen_index(db):
    rows = [("a", "new", "2025-04-09T08:00:00Z", None, "dfe"), ("b", "new", "2025-04-09T08:00:00Z", 0.4, "dfe"),
            ("c", "new", "2025-02-01T08:00:00Z", None, "dfe"), ("d", "accepted", "2025-04-09T08:00:00Z", None, "dfe"),
            ("e", "new", "2025-04-09T08:00:00Z", None, "case-law"), ("f", "new", "2025-04-10T09:00:00Z", None, "dfe")]
    db["sources"].insert({"id": "case-law", "publisher": "the Family Court", "type": "caselaw",
                          "url": "https://caselaw.example/atom.xml", "scored": 0})
    for name, status, first_seen, score, source_id in rows:
        db["publications"].insert({"url": f"https://example.org/{name}", "url_key": name, "title": name,
                                   "status": status, "first_seen": first_seen, "candidate_score": score,
                                   "source_id": source_id})
    statements = []
    db.conn.set_trace_callback(statements.append)
    try:
        found = unscored_since(db, NOW - timedelta(days=30))
    finally:
        db.conn.set_trace_callback(None)
    assert sorted(db["publications"].get(i)["url_key"] for i in found) == ["a", "f"]
    # Only the window's unreviewed rows are visited, not every unreviewed one ("status=?" alone).
    plan = [row[3] for row in db.execute("explain query plan " + statements[-1])]
    assert any("idx_publications_status_first_seen (status=? AND first_seen>?)" in step for step in plan), plan
    assert not any(step.startswith("SCAN publications") for step in plan), plan


def test_a_database_error_python_raises_itself_is_still_reported_in_words():
    """Errors sqlite3 raises without SQLite's code (a ProgrammingError) have no sqlite_errorcode:
    reading it raised AttributeError, which hid the error itself."""
    from pathlib import Path

    from tracker.store.database import _refusal

    refusal = _refusal(Path("x.db"), sqlite3.ProgrammingError("Cannot operate on a closed database."))
    assert "x.db" in str(refusal) and "closed database" in str(refusal)
