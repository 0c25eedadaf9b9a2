"""The tracker's schema: sqlite-utils migrations, applied in the order they are defined here.

sqlite-utils applies a set's pending migrations in registration order, and remembers each by
name in ``_sqlite_migrations``; the names are numbered in that order. Each migration after
``m001_initial`` builds only on ``m001_initial``, so databases made when they were registered in
another order (m001, m005, m004, m002, m003) hold the same schema and have nothing pending.
"""

from __future__ import annotations

from sqlite_utils import Database, Migrations

MIGRATION_SET = "tracker"
STATUSES = ("new", "accepted", "rejected")

migrations = Migrations(MIGRATION_SET)


@migrations()
def m001_initial(db: Database) -> None:
    db.table("sources").create(
        {
            "id": str, "publisher": str, "type": str, "url": str, "fetch_url": str,
            "confidence": str, "interval": int, "configured": int,
            "etag": str, "last_modified": str,
            "last_attempt": str, "last_success": str, "last_error": str, "last_status": int,
            "consecutive_errors": int, "next_poll": str, "retry_after": str,
            "last_new": str, "items_seen": int,
        },
        pk="id",
        defaults={"consecutive_errors": 0, "configured": 1, "items_seen": 0},
    )
    db.table("publications").create(
        {
            "id": int, "url": str, "url_key": str, "title": str, "summary": str,
            "publisher": str, "published": str, "date_source": str, "source_id": str,
            "first_seen": str, "last_seen": str, "updated": str, "document_type": str,
            "status": str, "themes": str, "themes_by_editor": int,
            "candidate_score": float, "model_version": str, "why": str,
            "reviewed_at": str, "title_key": str,
        },
        pk="id",
        not_null={"url", "url_key", "title", "status", "themes", "first_seen"},
        defaults={"status": "new", "themes": "[]", "themes_by_editor": 0, "summary": ""},
    )
    db.table("publications").create_index(["url"], unique=True)
    db.table("publications").create_index(["url_key"], unique=True)
    for column in ("status", "first_seen", "published", "title_key", "source_id"):
        db.table("publications").create_index([column])
    db.table("publications").enable_fts(["title", "summary"], create_triggers=True, tokenize="porter")
    db.table("publication_sources").create(
        {
            "publication_id": int, "source_id": str, "url": str, "publisher": str,
            "published": str, "entry_id": str, "first_seen": str, "last_seen": str,
        },
        pk=("publication_id", "source_id"),
        foreign_keys=[("publication_id", "publications", "id")],
    )
    db.table("publication_sources").create_index(["source_id"])
    db.table("fetch_log").create(
        {
            "id": int, "source_id": str, "started": str, "status": int, "bytes": int,
            "duration_ms": int, "new_items": int, "updated_items": int, "error": str,
        },
        pk="id",
    )
    db.table("fetch_log").create_index(["source_id", "started"])
    db.table("audit_log").create(
        {
            "id": int, "editor": str, "time": str, "publication_id": int, "action": str,
            "old_value": str, "new_value": str,
        },
        pk="id",
    )
    db.table("audit_log").create_index(["publication_id"])


@migrations()
def m002_classifier(db: Database) -> None:
    # One row per `tracker train`: the newest is the one that scores. `model` is numpy .npz
    # bytes (arrays only, no pickle), so reading it back cannot run code.
    db.table("models").create(
        {
            "version": str, "trained_at": str, "examples": int, "metrics": str,
            "themes_digest": str, "data_digest": str, "model": bytes,
        },
        pk="version",
        if_not_exists=True,
    )
    db.table("models").create_index(["trained_at"], if_not_exists=True)


@migrations()
def m003_newsletter(db: Database) -> None:
    # Entries imported from past issues: the verb the newsletter used ("released", "premiered")
    # for the digest to write it again, and the entry as the issue wrote it, typos and all.
    existing = db.table("publications").columns_dict
    for column in ("verb", "newsletter_line"):
        if column not in existing:
            db.table("publications").add_column(column, str)


@migrations()
def m004_web(db: Database) -> None:
    # The theme slugs editors may use; `tracker serve` refreshes them from themes.yaml.
    db.table("themes").create(
        {"slug": str, "label": str, "description": str, "network": str},
        pk="slug",
        if_not_exists=True,
    )
    # Datasette's canned queries run one statement each, so an editor's edit is an INSERT into
    # this view: the trigger validates it, applies it and audits it in that one statement's
    # transaction; RAISE(ABORT) undoes everything and its text becomes the editor's message.
    db.execute(
        """create view if not exists publication_edits as
          select editor, time, publication_id, action, new_value as value from audit_log where 0"""
    )
    db.execute(
        """
        create trigger if not exists publication_edits_insert
        instead of insert on publication_edits
        begin
          select raise(abort, 'Only a logged-in editor can change publications')
            where coalesce(new.editor, '') = '';
          select raise(abort, 'No publication with that id')
            where not exists (select 1 from publications where id = new.publication_id);
          select raise(abort, 'Status must be one of: new, accepted, rejected')
            where new.action = 'set_status'
              and coalesce(new.value, '') not in ('new', 'accepted', 'rejected');
          -- A slug dropped from themes.yaml can still be removed from a publication that has it.
          select raise(abort, 'Unknown theme: use a slug listed in the themes table')
            where new.action in ('add_theme', 'remove_theme')
              and not exists (select 1 from themes where slug = new.value)
              and not (new.action = 'remove_theme' and exists (
                select 1 from publications p, json_each(p.themes) t
                where p.id = new.publication_id and t.value = new.value));
          select raise(abort, 'Unknown action')
            where new.action not in ('set_status', 'add_theme', 'remove_theme');
          insert into audit_log (editor, time, publication_id, action, old_value, new_value)
            select new.editor, coalesce(new.time, strftime('%Y-%m-%dT%H:%M:%SZ', 'now')), p.id,
              new.action,
              case new.action when 'set_status' then p.status else p.themes end,
              case
                when new.action = 'set_status' then new.value
                when new.action = 'add_theme' then
                  case when exists (select 1 from json_each(p.themes) where value = new.value)
                    then p.themes else json_insert(p.themes, '$[#]', new.value) end
                else (select json_group_array(value) from json_each(p.themes)
                      where value != new.value)
              end
            from publications p where p.id = new.publication_id;
          update publications set
            status = case when new.action = 'set_status' then new.value else status end,
            reviewed_at = case when new.action = 'set_status'
              then (select time from audit_log where id = last_insert_rowid())
              else reviewed_at end,
            themes = case when new.action = 'set_status' then themes
              else (select new_value from audit_log where id = last_insert_rowid()) end,
            themes_by_editor = case when new.action = 'set_status' then themes_by_editor else 1 end
          where id = new.publication_id;
        end
        """
    )


@migrations()
def m005_digest(db: Database) -> None:
    # One row per issue date: regenerating a week replaces that week and nothing else.
    db.table("digests").create(
        {
            "week": str, "generated_at": str, "weeks": int, "markdown": str, "html": str,
            "text": str, "counts": str,
        },
        pk="week",
        if_not_exists=True,
    )
    # The document behind a publication (GOV.UK attachment or the publisher's PDF), looked up
    # once: a row, even one with an error, means "do not fetch again".
    db.table("documents").create(
        {
            "publication_id": int, "url": str, "content_type": str, "pages": int,
            "bytes": int, "checked_at": str, "error": str,
        },
        pk="publication_id",
        foreign_keys=[("publication_id", "publications", "id")],
        if_not_exists=True,
    )
