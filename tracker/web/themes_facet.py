"""The publications page's themes facet and theme filter, read from ``publication_themes``.

Datasette's array facet and its ``__arraycontains`` filter read every row's JSON: at 100,000
publications the facet was most of the page's time, and it grows with the archive. The store
keeps ``publication_themes`` in step with ``publications.themes`` (tracker.store.theme_index),
so both are answered from that table's index instead:

- the facet, configured in metadata.yml as ``- column_index: themes`` (tracker.web.index_facets),
  counts each theme's rows (of the filtered publications, when the page is filtered), and
  each value links to
- the filter ``?_theme=SLUG`` (repeatable: every one must match), which
  ``filters_from_request`` turns into a lookup in the index.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from datasette.filters import FilterArguments

from .workspace import workspace

if TYPE_CHECKING:
    from datasette.app import Datasette
    from datasette.utils.asgi import Request

TABLE, COLUMN, FILTER = "publications", "themes", "_theme"


def theme_filter(request: Request, database: str, table: str,
                 datasette: Datasette) -> FilterArguments | None:
    """``?_theme=SLUG`` on the workspace's publications table: rows with that theme."""
    config = workspace(datasette)
    themes = request.args.getlist(FILTER)
    if config is None or database != config.database or table != TABLE or not themes:
        return None
    clauses, params, described = [], {}, []
    for n, theme in enumerate(dict.fromkeys(themes)):
        params[f"theme_{n}"] = theme
        clauses.append(f"id in (select publication_id from publication_themes "
                       f"where theme = :theme_{n})")
        described.append(f'themes include "{theme}"')
    return FilterArguments(clauses, params, described)
