"""publication_themes: the index of publications.themes that the triggers keep in step, and the
publications page's themes facet and ?_theme filter that read it (real SQLite, real Datasette)."""

import json
from collections import Counter

import pytest
from sqlite_utils import Database

from tracker.store import open_database
from tracker.store.judgements import Score, save_scores
from tracker.web.serve import make_datasette

DB = "newsroom"  # the workspace_db fixture's stem


def indexed(db):
    """{publication id: sorted themes} as publication_themes holds them."""
    found = {}
    for row in db.query("select publication_id, theme from publication_themes order by theme"):
        found.setdefault(row["publication_id"], []).append(row["theme"])
    return found


def from_json(db):
    """The same, read from the JSON arrays the index must follow."""
    return {row["id"]: sorted(set(json.loads(row["themes"])))
            for row in db.query("select id, themes from publications") if json.loads(row["themes"])}


def test_insert_update_and_delete_keep_the_index_in_step(db, add_publication):
    first = add_publication("Kinship care guidance", themes=["kinship", "send", "kinship"])
    second = add_publication("Fostering statistics", themes=["fostering"])
    add_publication("Teachers' pay", themes=[])
    assert indexed(db) == {first: ["kinship", "send"], second: ["fostering"]}
    # The classifier's path: a batch of scores rewrites themes (unchanged ones included).
    save_scores(db, [Score(first, ["kinship"], 0.9, "m1", {}),
                     Score(second, ["fostering"], 0.8, "m1", {})])
    assert indexed(db) == {first: ["kinship"], second: ["fostering"]}
    db.execute("delete from publications where id = ?", [second])
    db.conn.commit()
    assert indexed(db) == {first: ["kinship"]} == from_json(db)


def test_an_editors_theme_edits_reach_the_index(db, add_publication):
    pid = add_publication("SEND review", themes=["send"])
    db["themes"].insert_all([{"slug": "send"}, {"slug": "education"}])
    for action, theme in (("add_theme", "education"), ("remove_theme", "send")):
        db.execute("insert into publication_edits (editor, publication_id, action, value) "
                   "values ('alice', ?, ?, ?)", [pid, action, theme])
    db.conn.commit()
    assert indexed(db) == {pid: ["education"]} == from_json(db)


@pytest.mark.parametrize("themes", ["not json", '{"a": "send"}', '"send"', "[1, null]"])
def test_a_value_that_is_not_an_array_of_slugs_indexes_nothing_and_is_still_written(
        db, add_publication, themes):
    pid = add_publication("Odd themes")
    db.execute("update publications set themes = ? where id = ?", [themes, pid])
    db.conn.commit()
    assert db.execute("select themes from publications where id = ?", [pid]).fetchone()[0] == themes
    assert indexed(db) == {}


def test_the_migration_indexes_publications_stored_before_it(db_path):
    db = open_database(db_path)
    db["publications"].insert_all([
        {"url": f"https://example.org/{n}", "url_key": f"example.org/{n}", "title": f"T{n}",
         "first_seen": "2026-01-01T00:00:00Z", "themes": json.dumps(themes)}
        for n, themes in enumerate([["send"], ["kinship", "fostering"], []])])
    # As a database from before m009: no table, no triggers, the migration not yet applied.
    for trigger in ("insert", "update", "delete"):
        db.execute(f"drop trigger publication_themes_{trigger}")
    db.execute("drop table publication_themes")
    db.execute("delete from _sqlite_migrations where name = 'm009_page_indexes'")
    db.conn.commit()
    db.close()
    db = open_database(db_path)
    assert indexed(db) == from_json(db) == {1: ["send"], 2: ["fostering", "kinship"]}
    db.close()


@pytest.fixture
def ds(workspace_db):
    return make_datasette(workspace_db, secret="test-secret")


async def page(ds, query=""):
    response = await ds.client.get(f"/{DB}/publications.json?_shape=objects&_size=max{query}")
    assert response.status_code == 200, response.text
    return response.json()


def facet_counts(data):
    return {row["value"]: row["count"] for row in data["facet_results"]["themes"]["results"]}


@pytest.mark.asyncio
async def test_the_facet_counts_what_datasettes_array_facet_counts(ds, workspace_db):
    data = await page(ds)
    expected = Counter(t for row in data["rows"] for t in set(json.loads(row["themes"])))
    assert facet_counts(data) == dict(expected)
    assert {"kinship", "fostering", "send", "inspection", "workforce"} <= set(expected)
    # Filtered, the counts are those of the filtered rows only.
    ofsted = await page(ds, "&publisher=Ofsted")
    assert facet_counts(ofsted) == {"fostering": 1, "send": 1, "inspection": 1}


@pytest.mark.asyncio
async def test_the_facet_reads_the_index_not_the_json(ds, workspace_db):
    db = Database(workspace_db)
    # Only possible by hand: the index and the JSON disagree, and the facet follows the index.
    db.execute("delete from publication_themes where theme = 'kinship'")
    db.conn.commit()
    assert "kinship" not in facet_counts(await page(ds))


@pytest.mark.asyncio
async def test_a_facet_value_links_to_the_theme_filter_and_back(ds):
    data = await page(ds)
    send = next(r for r in data["facet_results"]["themes"]["results"] if r["value"] == "send")
    assert f"/{DB}/publications.json?" in send["toggle_url"]
    assert "_theme=send" in send["toggle_url"]
    filtered = await ds.client.get(f"/{DB}/publications.json?_shape=objects&_theme=send")
    rows = filtered.json()["rows"]
    assert [r["title"] for r in rows] == ["Annual report on SEND inspections"]
    selected = facet_counts(filtered.json())
    assert selected == {"send": 1, "inspection": 1}
    chosen = next(r for r in filtered.json()["facet_results"]["themes"]["results"]
                  if r["value"] == "send")
    assert chosen["selected"] and "_theme" not in chosen["toggle_url"]


@pytest.mark.asyncio
async def test_a_theme_is_shown_by_its_label_and_filtered_by_its_slug(ds):
    results = (await page(ds))["facet_results"]["themes"]["results"]
    labels = {r["value"]: r["label"] for r in results}
    assert labels["send"] == "SEND" and labels["kinship"] == "Kinship care"
    html = (await ds.client.get(f"/{DB}/publications")).text
    assert ">Kinship care</a>" in html and "_theme=kinship" in html


@pytest.mark.asyncio
async def test_several_themes_must_all_match(ds):
    both = await page(ds, "&_theme=send&_theme=inspection")
    assert [r["title"] for r in both["rows"]] == ["Annual report on SEND inspections"]
    assert (await page(ds, "&_theme=send&_theme=kinship"))["rows"] == []
    assert (await page(ds, "&_theme=cooking"))["rows"] == []
    html = (await ds.client.get(f"/{DB}/publications?_theme=send")).text
    assert 'themes include &#34;send&#34;' in html or 'themes include "send"' in html


@pytest.mark.asyncio
async def test_by_theme_query_reads_the_index(ds):
    response = await ds.client.get(f"/{DB}/by_theme.json?_shape=objects&theme=fostering")
    assert [r["title"] for r in response.json()["rows"]] == ["Fostering in England 2025 to 2026"]


@pytest.mark.asyncio
async def test_the_index_table_is_hidden_from_the_listing(ds):
    listing = (await ds.client.get(f"/{DB}.json")).json()
    hidden = {t["name"] for t in listing["tables"] if t["hidden"]}
    assert "publication_themes" in hidden


@pytest.mark.asyncio
@pytest.mark.parametrize("query", ["", "&publisher=Ofsted", "&_search=kinship", "&_search=report",
                                   "&status=new&_facet_size=1", "&_search=nothing-matches"])
async def test_the_indexed_column_facets_say_what_datasettes_column_facets_say(ds, workspace_db, query):
    with Database(workspace_db).conn as conn:  # ties and a NULL, to check the order and the skip
        conn.execute("update publications set source_id = null where title like 'School%'")
        conn.execute("update publications set status = 'rejected' where title like 'Annual%'")
    # ?_facet= asks Datasette's own facet for the same columns (hideable, being asked for).
    data = await page(ds, "&_facet=status&_facet=publisher&_facet=source_id&_facet_array=themes" + query)
    # The themes' counts are those of Datasette's array facet (whose links filter otherwise).
    themes = [data["facet_results"][name]["results"] for name in ("themes", "themes_2")]
    assert [(r["value"], r["count"]) for r in themes[0]] == [(r["value"], r["count"]) for r in themes[1]]
    for column in ("status", "publisher", "source_id"):
        both = [data["facet_results"][column], data["facet_results"][f"{column}_2"]]
        ours, datasettes = sorted(both, key=lambda facet: facet["hideable"])
        assert not ours["hideable"] and datasettes["hideable"]
        assert ours["results"] == datasettes["results"]
        assert ours["truncated"] == datasettes["truncated"]
        if query == "&publisher=Ofsted" and column == "status":
            assert [(r["value"], r["count"]) for r in ours["results"]] == [("new", 1), ("rejected", 1)]
