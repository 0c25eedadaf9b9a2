"""The publications page's themes facet and theme filter, read from ``publication_themes``.

Datasette's array facet and its ``__arraycontains`` filter read every row's JSON: at 100,000
publications the facet was most of the page's time, and it grows with the archive. The store
keeps ``publication_themes`` in step with ``publications.themes`` (tracker.store.theme_index),
so both are answered from that table's index instead:

- the facet, configured in metadata.yml as ``- theme_index: themes``, counts each theme's rows
  (of the filtered publications, when the page is filtered), and each value links to
- the filter ``?_theme=SLUG`` (repeatable: every one must match), which
  ``filters_from_request`` turns into a lookup in the index.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from datasette.database import QueryInterrupted
from datasette.facets import Facet
from datasette.filters import FilterArguments

from .index_facets import facet_result, is_whole_table
from .workspace import workspace

if TYPE_CHECKING:
    from datasette.app import Datasette
    from datasette.utils.asgi import Request

TABLE, COLUMN, FILTER = "publications", "themes", "_theme"


class ThemeIndexFacet(Facet):
    type = "theme_index"

    async def facet_results(self) -> tuple[list[dict[str, Any]], list[str]]:
        results: list[dict[str, Any]] = []
        timed_out: list[str] = []
        if self.table != TABLE or not any(
            (c["config"].get("column") or c["config"].get("simple")) == COLUMN
            for c in self.get_configs()
        ):
            return results, timed_out
        size = self.get_facet_size()
        # Unfiltered, the page's SQL ends at its FROM: count the whole index; else count the
        # index's rows for the publications the page's filters select.
        if is_whole_table(self.sql, TABLE):
            which = ""
        else:
            which = f"where publication_id in (select id from ({self.sql}))"
        sql = (f"select theme as value, count(*) as count from publication_themes {which} "
               f"group by theme order by count(*) desc, theme limit {size + 1}")
        try:
            rows = (await self.ds.execute(
                self.database, sql, self.params, truncate=False,
                custom_time_limit=self.ds.setting("facet_time_limit_ms"),
            )).rows
        except QueryInterrupted:
            return results, [COLUMN]
        selected = {value for key, value in self.get_querystring_pairs() if key == FILTER}
        # "array": what the column holds, as Datasette's own array facet reported it.
        results.append(facet_result(self, COLUMN, "array", rows[:size], FILTER, selected,
                                    hideable=False, truncated=len(rows) > size))
        return results, timed_out


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
