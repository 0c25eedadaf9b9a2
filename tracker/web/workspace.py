"""What the plugin's hooks and pages share: its configuration, who is an editor, the login redirect.

The plugin is loaded into every Datasette in the environment (an entry point), so it acts only
where the metadata configures it, ``plugins: tracker: {database: NAME, ...}``, and then only on
that database: ``tracker serve`` names the file it serves there, whatever its stem.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote
from weakref import WeakKeyDictionary

from datasette.utils.asgi import Forbidden, Request, Response

from tracker import TrackerError
from tracker.ingest.config import WEEKDAYS

if TYPE_CHECKING:
    from datasette.app import Datasette
    from datasette.database import Database

PLUGIN = "tracker"
EDITOR_ROLE = "editor"


class WorkspaceError(TrackerError):
    pass


@dataclass(frozen=True)
class Workspace:
    """``plugins: tracker:`` of the metadata: the database the workspace is for, and the tables'
    metadata and canned queries the plugin gives that database."""

    database: str
    private: bool = False
    tables: dict = field(default_factory=dict)
    queries: dict = field(default_factory=dict)
    session_hours: float = 12.0  # how long a login lasts (tracker serve --session-hours)
    issue_day: str = "friday"  # settings.issue_day of the sources tracker serve polls

    @classmethod
    def from_config(cls, config: object) -> Workspace:
        if not isinstance(config, dict) or not isinstance(config.get("database"), str):
            raise WorkspaceError("the metadata's `plugins: tracker:` needs `database:`, "
                                 "the name of the database the workspace is for")
        hours = config.get("session_hours", cls.session_hours)
        if isinstance(hours, bool) or not isinstance(hours, (int, float)) or not 0 < hours <= 24 * 90:
            raise WorkspaceError("the metadata's `plugins: tracker: session_hours:` must be a "
                                 "number of hours from 0 to 2160 (90 days)")
        issue_day = config.get("issue_day", cls.issue_day)
        if issue_day not in WEEKDAYS:
            raise WorkspaceError("the metadata's `plugins: tracker: issue_day:` must be a day of the "
                                 f"week: {', '.join(WEEKDAYS)}")
        return cls(config["database"], bool(config.get("private")),
                   config.get("tables") or {}, config.get("queries") or {}, float(hours), issue_day)


_workspaces: WeakKeyDictionary[Datasette, Workspace | None] = WeakKeyDictionary()


def workspace(datasette: Datasette) -> Workspace | None:
    """This Datasette's workspace configuration; None where the plugin is not configured."""
    if datasette not in _workspaces:
        # Reading the configuration runs the metadata hooks, the plugin's get_metadata among
        # them, which asks here: until the configuration is read, the answer is None.
        _workspaces[datasette] = None
        try:
            config = datasette.plugin_config(PLUGIN)
            _workspaces[datasette] = None if config is None else Workspace.from_config(config)
        except BaseException:
            del _workspaces[datasette]
            raise
    return _workspaces[datasette]


def configured(datasette: Datasette) -> Workspace:
    """The workspace's configuration, for its pages (registered only where there is one)."""
    config = workspace(datasette)
    if config is None:
        raise WorkspaceError("the tracker plugin is not configured in this Datasette's metadata")
    return config


def workspace_database(datasette: Datasette) -> Database:
    return datasette.get_database(configured(datasette).database)


def digits(text: str | None) -> str:
    """``text`` if it is a whole number written in ASCII digits, else "": "²" and "٣" are
    digits to str.isdigit, but "²" is no number to int() and neither is one to SQLite."""
    return text if text and text.isascii() and text.isdigit() else ""


def is_editor(actor: dict | None) -> bool:
    return actor is not None and EDITOR_ROLE in (actor.get("roles") or [])


def login_redirect(datasette: Datasette, request: Request) -> Response:
    """To the login form, which comes back to this page once the editor has logged in."""
    return Response.redirect(datasette.urls.path("/-/login") + "?next=" + quote(request.full_path))


Route = Callable[[Request, "Datasette"], Awaitable[Response]]


def editors_only(route: Route) -> Route:
    """A page for editors alone: anyone else goes to the login form, which comes back to it.
    Datasette passes a route the arguments its signature names, which ``wraps`` keeps."""

    @functools.wraps(route)
    async def for_editors(request: Request, datasette: Datasette) -> Response:
        if not is_editor(request.actor):
            return login_redirect(datasette, request)
        return await route(request, datasette)

    return for_editors


async def ensure_table_visible(datasette: Datasette, actor: dict | None, table: str) -> bool:
    """Our pages show a table's rows, so they obey that table's permissions, the way Datasette
    applies them to its table page (the most specific decided check wins: table, database,
    instance). Raises Forbidden, else returns whether the page is private (hidden from others)."""
    database = configured(datasette).database
    visible, private = await datasette.check_visibility(actor, permissions=[
        ("view-table", (database, table)), ("view-database", database), "view-instance",
    ])
    if not visible:
        raise Forbidden("You do not have permission to view this page")
    return private


async def theme_labels(db: Database) -> dict[str, str]:
    """Each theme's slug and its label (the slug where it has none), in the order of the labels."""
    return {row["slug"]: row["label"] or row["slug"] for row in await db.execute(
        "select slug, label from themes order by coalesce(label, slug)")}
