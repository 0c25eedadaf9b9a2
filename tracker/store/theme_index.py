"""``publication_themes``: one row per (theme, publication), kept in step with
``publications.themes`` by triggers.

``publications.themes`` stays the JSON array the CONTRACT names and every writer sets; this
table is derived from it, so no writer has to know it exists. It lets the workspace count and
filter publications by theme from an index: Datasette's array facet reads every row's JSON, which
grows with the archive (132 ms of a 154 ms page at 100,000 publications).

A themes value that is not a JSON array of strings indexes nothing rather than failing the
write: the array is the record, this table only an index of it.
"""

from __future__ import annotations

from sqlite_utils import Database

# The publication's theme slugs, as rows; nothing for a value that is not a JSON array.
_SLUGS = """select distinct value from json_each(
      case when json_valid(new.themes) and json_type(new.themes) = 'array'
        then new.themes else '[]' end)
    where type = 'text'"""

# Most publications arrive without themes (classifying comes after storing): for those the
# trigger's JSON walk is skipped, about a sixth of an insert's cost.
INSERT_TRIGGER = f"""create trigger if not exists publication_themes_insert
    after insert on publications
    when new.themes is not '[]'
    begin
      insert or ignore into publication_themes (theme, publication_id)
        select value, new.id from ({_SLUGS});
    end"""

CREATE = [
    # WITHOUT ROWID: the primary key is the table, so a theme's publications (and their count)
    # are one range of it; the second index serves the triggers' deletes.
    """create table if not exists publication_themes (
      theme text not null,
      publication_id integer not null references publications(id),
      primary key (theme, publication_id)
    ) without rowid""",
    """create index if not exists publication_themes_publication
      on publication_themes (publication_id)""",
    INSERT_TRIGGER,
    # Classifying rewrites themes with the same value for most rows: only a change costs a write.
    f"""create trigger if not exists publication_themes_update
    after update of themes on publications
    when old.themes is not new.themes or old.id is not new.id
    begin
      delete from publication_themes where publication_id = old.id;
      insert or ignore into publication_themes (theme, publication_id)
        select value, new.id from ({_SLUGS});
    end""",
    # Before, so that the foreign key never sees a row pointing at a deleted publication.
    """create trigger if not exists publication_themes_delete
    before delete on publications
    begin
      delete from publication_themes where publication_id = old.id;
    end""",
]


def create_theme_index(db: Database) -> None:
    """The table, its index and triggers, filled from the publications already stored."""
    for statement in CREATE:
        db.execute(statement)
    db.execute(
        """insert or ignore into publication_themes (theme, publication_id)
        select distinct j.value, p.id from publications p, json_each(
          case when json_valid(p.themes) and json_type(p.themes) = 'array'
            then p.themes else '[]' end) j
        where j.type = 'text'"""
    )


def skip_empty_themes_on_insert(db: Database) -> None:
    """Replace an older database's insert trigger with INSERT_TRIGGER (a trigger cannot be altered)."""
    db.execute("drop trigger if exists publication_themes_insert")
    db.execute(INSERT_TRIGGER)
