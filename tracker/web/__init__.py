"""The editors' workspace: a Datasette plugin (login, permissions, triage, digests, dashboard).

Registered through ``[project.entry-points.datasette]``, so every Datasette in the environment
loads it: each hook does nothing unless the metadata configures the plugin (tracker.web.workspace),
and then acts on the database the configuration names. Datasette finds templates/ and static/
because this is a package; every URL comes from ``datasette.urls``, so the workspace works under
any ``base_url``. Accounts come from the file beside the database (tracker.web.editors), never
from metadata, so no hash can reach ``/-/metadata.json``. Every write goes through the canned
queries; the plugin renders pages and decides who may do what.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Generator

from datasette import hookimpl
from datasette.utils import add_cors_headers
from datasette.utils.asgi import Base400, Request, Response
from datasette.views.base import DatasetteError
from markupsafe import Markup

from . import action_pages, coverage_pages, digest_pages, judgement_pages, pages, triage_pages
from .guard import guard_app
from .index_facets import IndexedColumnFacet
from .language_pages import declare_language
from .line_form import line_form_app
from .login import login
from .notify_pages import save_this_search, searches
from .sessions import logout
from .table_pages import table_cell
from .themes_facet import theme_filter
from .wording import day_words, london_time
from .workspace import PLUGIN, WorkspaceError, is_editor, login_redirect, workspace

if TYPE_CHECKING:
    from datasette.app import Datasette

# Tables that name editors or expose fetch internals. Any other table with one of
# EDITOR_COLUMNS (say a future training table) is treated the same way, by its schema.
PRIVATE_TABLES = {"audit_log", "fetch_log", "publication_edits"}
EDITOR_COLUMNS = {"editor", "reviewed_by", "edited_by"}
# A canned query's keys that hold a path on this site (written in the configuration from the
# site's root, so that the plugin can put them under base_url).
REDIRECT_KEYS = ("on_success_redirect", "on_error_redirect")
# Datasette's own error handler: it prints a traceback, with every local variable, for any error.
DEFAULT_ERROR_HANDLER = "datasette.handle_exception"
# The whole file where it fits: SQLite caps the map at its build's ceiling (2 GB as usually built).
MMAP_BYTES = 2 << 30

log = logging.getLogger(__name__)


@hookimpl
def startup(datasette: Datasette) -> None:
    config = workspace(datasette)
    if config is not None and config.database not in datasette.databases:
        raise WorkspaceError(f"`plugins: tracker:` names the database {config.database!r}, "
                             "which is not being served")


@hookimpl
def get_metadata(datasette: Datasette, key: str | None, database: str | None,
                 table: str | None) -> dict | None:
    """The configured tables' metadata under the served database's name, whatever it is."""
    config = workspace(datasette)
    if config is None:
        return None
    # Datasette merges and amends the metadata it gets in place (each table's, at least): new
    # dicts down to the tables' every time. A deep copy would cost more than most pages.
    tables = {name: dict(spec) for name, spec in config.tables.items()}
    return {"databases": {config.database: {"tables": tables}}}


@hookimpl
def canned_queries(datasette: Datasette, database: str, actor: dict | None) -> dict | None:
    config = workspace(datasette)
    if config is None or database != config.database:
        return None
    return {
        name: {**query, **{key: datasette.urls.path(query[key]) for key in REDIRECT_KEYS
                           if key in query}}
        for name, query in config.queries.items()
    }


@hookimpl
def prepare_connection(conn: sqlite3.Connection, database: str, datasette: Datasette) -> None:
    # The poller writes in short transactions; wait for one rather than fail an editor's click.
    config = workspace(datasette)
    if config is not None and database == config.database:
        conn.execute("PRAGMA busy_timeout = 30000")
        # A search or a filtered facet reads its rows one by one, all over the file: mapped,
        # a page already in the OS's cache is read without a system call for each.
        conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")


@hookimpl(trylast=True)
def permission_allowed(
    datasette: Datasette, actor: dict | None, action: str, resource: Any,
) -> bool | Callable[[], Awaitable[bool | None]] | None:
    """Runs last so that its refusals win; for editors it defers to the metadata."""
    config = workspace(datasette)
    if config is None or is_editor(actor):
        return None
    if action == "view-instance":
        return False if config.private else None
    if action in ("execute-sql", "view-database-download"):
        return False if resource == config.database else None
    if action == "view-table" and resource[0] == config.database:
        database, table = resource

        async def check_table() -> bool | None:
            if table in PRIVATE_TABLES or table.startswith("_"):
                return False
            db = datasette.databases.get(database)
            if db is not None and EDITOR_COLUMNS & set(await db.table_columns(table)):
                return False
            return None

        return check_table
    if action == "view-query" and resource[0] == config.database:
        # Besides each write query's own `allow`: whatever that says, editors only.
        return False if (config.queries.get(resource[1]) or {}).get("write") else None
    return None


@hookimpl
def forbidden(datasette: Datasette, request: Request, message: str) -> Response | None:
    # A person in a browser who is not logged in gets the login form, not a bare 403.
    if (workspace(datasette) is not None and request.actor is None
            and "text/html" in request.headers.get("accept", "")):
        return login_redirect(datasette, request)
    return None


@hookimpl(hookwrapper=True)
def handle_exception(datasette: Datasette, request: Request,
                     exception: Exception) -> Generator[None, Any, None]:
    """Datasette's own handler prints a traceback with every local variable for any error, an
    ordinary 404 too. Instead (and before any other plugin's response, which still comes first):
    an expected error is one log line, a real bug one logged traceback, on Datasette's error page.
    """
    outcome = yield
    if workspace(datasette) is None:
        return
    others = [result for result in outcome.get_result()
              if getattr(result, "__module__", None) != DEFAULT_ERROR_HANDLER]
    outcome.force_result([*others, lambda: error_page(datasette, request, exception)])


async def error_page(datasette: Datasette, request: Request, exception: Exception) -> Response:
    """What Datasette's handler answers (the same page or JSON), logged as it deserves: a 4xx
    (a missing page, a search the full-text parser refuses) in one line, anything else with
    its traceback."""
    info: dict = {}
    title = None
    if isinstance(exception, Base400):
        status, message = exception.status, exception.args[0]
    elif isinstance(exception, DatasetteError):
        status, title, info = exception.status, exception.title, dict(exception.error_dict)
        message = Markup(exception.message) if exception.message_is_html else exception.message
    else:
        status, message = 500, str(exception)
    if status < 500:
        log.info("%s %s: %s", status, request.path, message)
    else:
        log.error("%s %s failed", request.method, request.path, exc_info=exception)
    info.update(ok=False, error=message, status=status, title=title)
    headers: dict = {}
    if datasette.cors:
        add_cors_headers(headers)
    if request.path.endswith(".json"):
        return Response.json(info, status=status, headers=headers)
    html = await datasette.render_template([f"{status}.html", "error.html"], info, request=request)
    return Response.html(html, status=status, headers=headers)


@hookimpl
def asgi_wrapper(datasette: Datasette) -> Callable:
    """Outside everything else: the body limit, and only live sessions (tracker.web.guard);
    then edit_line's missing fields posted as empty (tracker.web.line_form); every page's
    language declared (tracker.web.language_pages)."""
    return lambda app: guard_app(datasette, line_form_app(datasette, declare_language(datasette, app)))


@hookimpl
def extra_css_urls(datasette: Datasette) -> list[str] | None:
    if workspace(datasette) is None:
        return None
    return [datasette.urls.static_plugins(PLUGIN, "tracker.css")]


@hookimpl
def prepare_jinja2_environment(env: Any, datasette: Datasette) -> None:
    # Stored stamps are UTC ISO; pages say them in London time, in words (tracker.web.wording).
    env.filters["london_time"] = london_time
    env.filters["day_words"] = day_words


@hookimpl
def render_cell(row: sqlite3.Row, value: Any, column: str, table: str | None, database: str,
                datasette: Datasette) -> Markup | None:
    """A publication's title links to it and its URL shows compact (tracker.web.table_pages)."""
    config = workspace(datasette)
    if config is None or database != config.database:
        return None
    return table_cell(row, value, column, table)


@hookimpl
def menu_links(datasette: Datasette, actor: dict | None) -> list[dict] | None:
    if workspace(datasette) is None:
        return None
    links = [
        {"href": datasette.urls.path("/-/dashboard"), "label": "Dashboard"},
        {"href": datasette.urls.path("/-/digest"), "label": "Digests"},
    ]
    if is_editor(actor):
        return [{"href": datasette.urls.path("/-/triage"),
                 "label": "Triage this week's candidates"}, *links,
                {"href": datasette.urls.path("/-/searches"), "label": "Saved searches"}]
    return [*links, {"href": datasette.urls.path("/-/login"), "label": "Log in"}]


@hookimpl
def table_actions(datasette: Datasette, actor: dict | None, database: str, table: str,
                  request: Request | None) -> list[dict] | None:
    """On the publications table, an editor's current search can be saved for tracker notify."""
    return save_this_search(datasette, actor, database, table, request)


@hookimpl
def register_facet_classes() -> list[type]:
    return [IndexedColumnFacet]


@hookimpl
def filters_from_request(request: Request, database: str, table: str,
                         datasette: Datasette) -> Any:
    return theme_filter(request, database, table, datasette)


@hookimpl
def register_routes(datasette: Datasette) -> list[tuple[str, Callable]] | None:
    if workspace(datasette) is None:
        return None
    return [
        (r"^/-/login$", login),
        (r"^/-/logout$", logout),
        (r"^/-/triage$", triage_pages.triage),
        (r"^/-/dashboard$", pages.dashboard),
        (r"^/-/not-sure$", judgement_pages.not_sure), (r"^/-/model$", judgement_pages.model_page),
        (r"^/-/searches$", searches),
        (r"^/-/coverage$", coverage_pages.coverage),
        (r"^/-/digest$", digest_pages.digest_index),
        (r"^/-/digest/(?P<week>\d{4}-\d{2}-\d{2})$", digest_pages.digest_week),
        (r"^/-/digest/(?P<week>\d{4}-\d{2}-\d{2})/sent$", digest_pages.mark_sent),
        (r"^/-/digest/(?P<week>\d{4}-\d{2}-\d{2})/reopen$", digest_pages.reopen),
        (r"^/-/add$", action_pages.add_url),
        (r"^/-/updates/(?P<id>\d+)$", action_pages.update_action),
        (r"^/-/publication/(?P<id>\d+)$", triage_pages.publication),
    ]
