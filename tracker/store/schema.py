"""The tracker's schema: sqlite-utils migrations, applied in the order they are defined here.

sqlite-utils applies a set's pending migrations in registration order, and remembers each by
name in ``_sqlite_migrations``; the names are numbered in that order. Each migration after
``m001_initial`` builds only on ``m001_initial``, so databases made when they were registered in
another order (m001, m005, m004, m002, m003) hold the same schema and have nothing pending.
"""

from __future__ import annotations

from sqlite_utils import Database, Migrations

from .theme_index import create_theme_index, skip_empty_themes_on_insert

MIGRATION_SET = "tracker"
STATUSES = ("new", "accepted", "rejected")
# The longest value edit_line accepts for each field of the newsletter's line.
LINE_LIMITS = {"title": 500, "publisher": 200, "verb": 60}
# What trim() strips from an edited field: spaces, tabs and line breaks (a form's textarea).
BLANK = "' ' || char(9, 10, 13)"

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


@migrations()
def m006_edits(db: Database) -> None:
    # The newsletter line as an editor wrote it, kept apart from the polled columns so that a
    # later poll, which rewrites title and summary, never overwrites an edit. NULL: not edited.
    existing = db.table("publications").columns_dict
    for column in ("edited_title", "edited_publisher", "edited_verb", "edited_published"):
        if column not in existing:
            db.table("publications").add_column(column, str)
    # A sent issue is frozen: its texts stay as they were sent, and the next issue begins.
    digest_columns = db.table("digests").columns_dict
    for column in ("sent_at", "sent_by"):
        if column not in digest_columns:
            db.table("digests").add_column(column, str)
    # The upstream changes of stored publications, which the ingest stage records (m007) and the
    # list shows as updates.
    db.table("publication_updates").create(
        {
            "id": int, "publication_id": int, "source_id": str, "seen_at": str, "kind": str,
            "change_note": str, "old_value": str, "new_value": str, "upstream_at": str,
            "status": str,
        },
        pk="id",
        foreign_keys=[("publication_id", "publications", "id")],
        defaults={"status": "new"},
        if_not_exists=True,
    )
    # edit_line, like set_status: one INSERT into a view whose trigger validates, applies and
    # audits in that statement's transaction. '' (an empty form field) leaves a field as it is.
    db.execute(
        """create view if not exists line_edits as
          select editor, time, publication_id, new_value as title, new_value as publisher,
            new_value as verb, new_value as published from audit_log where 0"""
    )
    db.execute(
        f"""
        create trigger if not exists line_edits_insert
        instead of insert on line_edits
        begin
          select raise(abort, 'Only a logged-in editor can change publications')
            where coalesce(new.editor, '') = '';
          select raise(abort, 'No publication with that id')
            where not exists (select 1 from publications where id = new.publication_id);
          select raise(abort, 'Nothing to change: give a title, publisher, verb or date')
            where coalesce(new.title, '') = '' and coalesce(new.publisher, '') = ''
              and coalesce(new.verb, '') = '' and coalesce(new.published, '') = '';
          select raise(abort, 'The title cannot be blank')
            where new.title != '' and trim(new.title, {BLANK}) = '';
          select raise(abort, 'The publisher cannot be blank')
            where new.publisher != '' and trim(new.publisher, {BLANK}) = '';
          select raise(abort, 'The verb cannot be blank')
            where new.verb != '' and trim(new.verb, {BLANK}) = '';
          select raise(abort, 'The title is too long (at most {LINE_LIMITS["title"]} characters)')
            where length(trim(new.title, {BLANK})) > {LINE_LIMITS["title"]};
          select raise(abort, 'The publisher is too long (at most {LINE_LIMITS["publisher"]} characters)')
            where length(trim(new.publisher, {BLANK})) > {LINE_LIMITS["publisher"]};
          select raise(abort, 'The verb is too long (at most {LINE_LIMITS["verb"]} characters)')
            where length(trim(new.verb, {BLANK})) > {LINE_LIMITS["verb"]};
          select raise(abort, 'The date must be a real date written YYYY-MM-DD')
            where coalesce(new.published, '') != ''
              and (trim(new.published, {BLANK}) not glob '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'
                   -- date() keeps a 30 February as written; '+0 days' rolls it into March
                   or coalesce(date(trim(new.published, {BLANK}), '+0 days'), '') != trim(new.published, {BLANK}));
          insert into audit_log (editor, time, publication_id, action, old_value, new_value)
            select new.editor, coalesce(new.time, strftime('%Y-%m-%dT%H:%M:%SZ', 'now')), p.id,
              'edit_line',
              json_object('title', coalesce(p.edited_title, p.title),
                          'publisher', coalesce(p.edited_publisher, p.publisher),
                          'verb', coalesce(p.edited_verb, p.verb),
                          'published', coalesce(p.edited_published, p.published)),
              json_object('title', coalesce(nullif(trim(new.title, {BLANK}), ''), p.edited_title, p.title),
                          'publisher', coalesce(nullif(trim(new.publisher, {BLANK}), ''), p.edited_publisher,
                                                p.publisher),
                          'verb', coalesce(nullif(trim(new.verb, {BLANK}), ''), p.edited_verb, p.verb),
                          'published', coalesce(nullif(trim(new.published, {BLANK}), ''), p.edited_published,
                                                p.published))
            from publications p where p.id = new.publication_id;
          update publications set
            edited_title = coalesce(nullif(trim(new.title, {BLANK}), ''), edited_title),
            edited_publisher = coalesce(nullif(trim(new.publisher, {BLANK}), ''), edited_publisher),
            edited_verb = coalesce(nullif(trim(new.verb, {BLANK}), ''), edited_verb),
            edited_published = coalesce(nullif(trim(new.published, {BLANK}), ''), edited_published)
          where id = new.publication_id;
        end
        """
    )


@migrations()
def m007_ingest_limits(db: Database) -> None:
    # publication_updates (made by m006, which always runs first): an upstream change of a stored
    # publication that editors should see, never applied silently; looked up by publication.
    db.table("publication_updates").create_index(["publication_id"], if_not_exists=True)
    # Entries of a fetch that could not be read: how many on the source, why in the fetch log.
    if "skipped_entries" not in db.table("sources").columns_dict:
        db.table("sources").add_column("skipped_entries", int, not_null_default=0)
    if "skipped" not in db.table("fetch_log").columns_dict:
        db.table("fetch_log").add_column("skipped", str)


@migrations()
def m008_notify(db: Database) -> None:
    # Each message once: `key` names the event (a source's failure streak, an issue's draft), so
    # a second process or a restart that builds the same message finds it already there.
    db.table("notifications").create(
        {"id": int, "key": str, "kind": str, "subject": str, "text": str, "html": str,
         "created_at": str},
        pk="id", not_null={"key", "kind", "subject", "text", "created_at"}, if_not_exists=True,
    )
    db.table("notifications").create_index(["key"], unique=True, if_not_exists=True)
    # One row per message and destination (a hash of its Apprise URL as written, never the
    # expanded secret): a failure is kept in words and retried after next_attempt, never lost.
    db.table("notification_deliveries").create(
        {"notification_id": int, "destination": str, "status": str, "attempts": int,
         "next_attempt": str, "last_attempt": str, "last_error": str, "sent_at": str},
        pk=("notification_id", "destination"),
        foreign_keys=[("notification_id", "notifications", "id")],
        defaults={"status": "pending", "attempts": 0}, if_not_exists=True,
    )
    db.table("notification_deliveries").create_index(["status", "next_attempt"], if_not_exists=True)
    # A source's open alert (failing, silent): one message when it opens, one when it closes.
    db.table("source_alerts").create(
        {"source_id": str, "kind": str, "since": str, "reason": str, "opened_at": str,
         "closed_at": str},
        pk=("source_id", "kind", "since"), if_not_exists=True,
    )
    db.table("saved_searches").create(
        {"id": int, "name": str, "query": str, "theme": str, "publisher": str, "frequency": str,
         "editor": str, "created_at": str, "updated_at": str},
        pk="id", not_null={"name", "query", "frequency", "created_at"},
        defaults={"frequency": "daily"}, if_not_exists=True,
    )
    # A publication found by a search, told once: in an at-once message or the day's message.
    db.table("saved_search_hits").create(
        {"search_id": int, "publication_id": int, "found_at": str, "notification_id": int},
        pk=("search_id", "publication_id"),
        foreign_keys=[("search_id", "saved_searches", "id"),
                      ("publication_id", "publications", "id")],
        if_not_exists=True,
    )


@migrations()
def m009_page_indexes(db: Database) -> None:
    # What the workspace's pages need to stay quick at a million publications: the themes facet
    # and filter read an index of publications.themes, not every row's JSON; the publisher
    # facet groups an index, not the table (1 s -> 0.2 s); the candidates and triage read this
    # week's unreviewed rows, not every unreviewed one (0.7 s -> 0.02 s).
    create_theme_index(db)
    db.table("publications").create_index(["publisher"], if_not_exists=True)
    db.table("publications").create_index(["status", "first_seen"], if_not_exists=True)


@migrations()
def m011_model_history(db: Database) -> None:
    # What each stored model learnt from and what made it: how many editors' decisions it
    # weighed, and whether `tracker train` or `tracker serve`'s background retraining fitted
    # it. The dashboard shows them; retraining counts decisions since the newest model.
    existing = db.table("models").columns_dict
    for column, kind in (("decisions", int), ("trigger", str)):
        if column not in existing:
            db.table("models").add_column(column, kind)


@migrations()
def m012_digest_indexes(db: Database) -> None:
    # The digest's accepted list at a million publications: an index for each branch of its
    # condition (the line's date, the review date; first_seen has m009's), so it reads the
    # window's rows, not every accepted one (its query 81 ms -> 12 ms warm).
    db.execute("create index if not exists idx_publications_status_list_date"
               " on publications (status, coalesce(edited_published, published))")
    db.table("publications").create_index(["status", "reviewed_at"], if_not_exists=True)


@migrations()
def m013_fts_on_text_changes(db: Database) -> None:
    # sqlite-utils' update trigger rewrote a row's full-text entry on every update: each score
    # classifying stores and each poll's last_seen. Only the indexed words need it (re-scoring
    # 100,000 rows: storing the scores 13.6 s -> 2.7 s). The name is kept for sqlite-utils'
    # disable_fts.
    db.execute("drop trigger if exists publications_au")
    db.execute(
        """create trigger publications_au after update of id, title, summary on publications
        when old.id is not new.id or old.title is not new.title or old.summary is not new.summary
        begin
          insert into publications_fts (publications_fts, rowid, title, summary)
            values ('delete', old.rowid, old.title, old.summary);
          insert into publications_fts (rowid, title, summary) values (new.rowid, new.title, new.summary);
        end"""
    )
    skip_empty_themes_on_insert(db)


@migrations()
def m014_themes_set_by_scripts(db: Database) -> None:
    # Themes written without a score are the editors': a script deciding for them in SQL (as
    # it may set status, CONTRACT) that sets themes too is learnt from by `tracker train`, and
    # the next scoring never overwrites them. A scorer writes themes with their score and
    # their explanation (why), which change whenever they do; an editor's action in the
    # workspace marks its themes itself.
    db.execute(
        """create trigger if not exists publications_themes_by_script after update of themes on publications
        when new.themes_by_editor = 0 and new.themes is not old.themes and new.why is old.why
          and new.candidate_score is old.candidate_score
        begin
          update publications set themes_by_editor = 1 where id = new.id;
        end"""
    )


@migrations()
def m015_accepted_themes(db: Database) -> None:
    # Accepting a publication whose card showed the classifier's themes lets them stand on a line
    # of the newsletter: from then on they are the editors' (tracker train learns them, and no
    # later scoring rewrites them). One accepted before it was scored (a poll's scoring still to
    # come, `tracker add --accept`) showed none, and a past issue's imported lines are inserted
    # accepted: their themes stay the classifier's. Rows accepted before this migration are left
    # as they were.
    db.execute(
        """create trigger if not exists publications_accepted_themes after update of status on publications
        when new.status = 'accepted' and old.status is not 'accepted' and new.themes_by_editor = 0
          and old.model_version is not null
        begin
          update publications set themes_by_editor = 1 where id = new.id;
        end"""
    )


@migrations()
def m016_sources_scored(db: Database) -> None:
    # Whether a source's publications may be scored: judgments may only be stored (the Open
    # Justice Licence leaves out their automated classification), and `tracker train`, which
    # re-scores every unreviewed publication, reads this. sync_sources keeps it from sources.yaml.
    if "scored" not in db.table("sources").columns_dict:
        db.table("sources").add_column("scored", int, not_null_default=1)
    db.execute("update sources set scored = 0 where type = 'caselaw'")
