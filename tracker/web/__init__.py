"""The editors' workspace: a Datasette plugin (login, permissions, triage, digests, dashboard).

Registered through ``[project.entry-points.datasette]``. Accounts come from the file beside the
database (tracker.editors), never from metadata, so no hash can reach ``/-/metadata.json``.
Every write goes through the canned queries in metadata.yml; this module only renders pages
and decides who may do what.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

from datasette import hookimpl
from markupsafe import Markup, escape
from datasette.utils import baseconv
from datasette.utils.asgi import Forbidden, NotFound, Response, asgi_static

from .editors import EditorError, check_login

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
EDITOR_ROLE = "editor"
SESSION_DAYS = 30
# Tables that name editors or expose fetch internals. Any other table with one of
# EDITOR_COLUMNS (say a future training table) is treated the same way, by its schema.
PRIVATE_TABLES = {"audit_log", "fetch_log", "publication_edits"}
EDITOR_COLUMNS = {"editor", "reviewed_by", "edited_by"}
WRITE_QUERIES = ("set_status", "add_theme", "remove_theme")


def is_editor(actor) -> bool:
    return bool(actor) and EDITOR_ROLE in (actor.get("roles") or [])


def is_private_instance(datasette) -> bool:
    config = datasette.plugin_config("tracker") or {}
    return bool(config.get("private")) or os.environ.get("TRACKER_PRIVATE", "") in ("1", "true")


def tracker_database(datasette):
    """The served tracker database: the first file database (tracker serve serves one)."""
    for db in datasette.databases.values():
        if db.path and db.name != "_internal":
            return db
    raise NotFound("No tracker database is being served")


@hookimpl
def prepare_connection(conn):
    # The poller writes in short transactions; wait for one rather than fail an editor's click.
    conn.execute("PRAGMA busy_timeout = 30000")


@hookimpl
def startup(datasette):
    from jinja2 import FileSystemLoader

    # Datasette only finds template folders of plugin *packages*; ours sits beside this module.
    datasette.jinja_env.loader.loaders.append(FileSystemLoader(str(TEMPLATES)))


@hookimpl(trylast=True)
def permission_allowed(datasette, actor, action, resource):
    """Runs last so that its refusals win; for editors it defers to metadata.yml."""
    if is_editor(actor):
        return None
    if action == "view-instance" and is_private_instance(datasette):
        return False
    if action in ("execute-sql", "view-database-download"):
        return False
    if action == "view-table":
        database, table = resource

        async def check_table():
            if table in PRIVATE_TABLES or table.startswith("_"):
                return False
            db = datasette.databases.get(database)
            if db is not None and EDITOR_COLUMNS & set(await db.table_columns(table)):
                return False
            return None

        return check_table
    if action == "view-query" and resource[1] in WRITE_QUERIES:
        return False
    return None


@hookimpl
def forbidden(datasette, request, message):
    # A person in a browser who is not logged in gets the login form, not a bare 403.
    if request.actor is None and "text/html" in request.headers.get("accept", ""):
        return Response.redirect("/-/login?next=" + quote(request.full_path))


@hookimpl
def extra_css_urls():
    return ["/-/tracker-static/tracker.css"]


@hookimpl
def render_cell(row, value, column, table):
    """A publication's title links to the publication itself (http(s) only: never javascript:)."""
    if table != "publications" or column != "title" or "url" not in row.keys():
        return None
    url = row["url"] or ""
    if not url.startswith(("http://", "https://")):
        return None
    return Markup(f'<a href="{escape(url)}" rel="noopener noreferrer">{escape(value)}</a>')


@hookimpl
def menu_links(datasette, actor):
    links = [
        {"href": "/-/dashboard", "label": "Dashboard"},
        {"href": "/-/digest", "label": "Digests"},
    ]
    if is_editor(actor):
        return [{"href": "/-/triage", "label": "Triage this week's candidates"}, *links]
    return [*links, {"href": "/-/login", "label": "Log in"}]


@hookimpl
def register_routes():
    from . import pages

    return [
        (r"^/-/login$", login),
        (r"^/-/triage$", pages.triage),
        (r"^/-/dashboard$", pages.dashboard),
        (r"^/-/digest$", pages.digest_index),
        (r"^/-/digest/(?P<week>\d{4}-\d{2}-\d{2})$", pages.digest_week),
        (r"^/-/tracker-static/(?P<path>.*)$", asgi_static(str(STATIC))),
    ]


async def login(request, datasette):
    """GET: the form (with Datasette's CSRF token); POST: check the editors file, set ds_actor."""
    next_path = _safe_next(request.args.get("next"))
    error = None
    if request.method == "POST":
        form = await request.post_vars()
        next_path = _safe_next(form.get("next"))
        username = (form.get("username") or "").strip()
        db_path = tracker_database(datasette).path
        # pbkdf2 with 480,000 rounds takes a good fraction of a second: keep it off the loop.
        try:
            ok = await asyncio.to_thread(check_login, db_path, username, form.get("password") or "")
        except EditorError as ex:  # a damaged accounts file: the details go to the log only
            print(f"login refused: {ex}", file=sys.stderr)
            ok, error = False, "The editors' accounts cannot be read: ask whoever runs the tracker."
        if ok:
            response = Response.redirect(next_path or "/-/triage")
            expires = baseconv.base62.encode(int(time.time()) + SESSION_DAYS * 86400)
            actor = {"id": username, "roles": [EDITOR_ROLE]}
            response.set_cookie(
                "ds_actor", datasette.sign({"a": actor, "e": expires}, "actor"),
                httponly=True, max_age=SESSION_DAYS * 86400,
            )
            return response
        error = error or "That username and password do not match an editor's account."
    html = await datasette.render_template(
        "tracker_login.html",
        {"error": error, "next": next_path or "", "username": ""},
        request=request,
    )
    return Response.html(html, status=401 if error else 200)


def _safe_next(value) -> str | None:
    """Only a path on this site: never an open redirect to somebody else's."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return None
    parts = urlsplit(value)
    return None if parts.scheme or parts.netloc else value


async def require(datasette, request, action="view-instance", resource=None):
    """Our pages obey the same permissions as Datasette's, the instance's first."""
    for check in {("view-instance", None), (action, resource)}:
        if not await datasette.permission_allowed(request.actor, *check, default=True):
            raise Forbidden("You do not have permission to view this page")
