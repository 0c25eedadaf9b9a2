"""The publications page's facets, counted the way a million rows allow.

Datasette's column facet runs one group-by per column over the page's rows: on the whole
table, a walk through every entry of the column's index (about 50 ms each at a million rows);
on a search, the full-text match and a read of every matching row, once per facet. Configured
in metadata.yml as ``- column_index: status`` (the column must be indexed), this facet gives
the same values, counts, order and links, and counts them:

- on the whole table, value by value: each distinct value found by a seek in the index, then
  the length of its range (about half the work of the group-by, which compares every entry),
  but the most common value's by subtraction from the table's count (status: 'new' is most
  of the rows);
- on a filtered page (a search, a filter), all the configured columns in one query over the
  page's rows, read once.

A column holding a JSON array that a table indexes (``publications.themes``, indexed by
``publication_themes``: tracker.web.themes_facet) is counted from that table, each value
linking to the filter that selects it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable

from datasette.database import QueryInterrupted
from datasette.facets import Facet
from datasette.utils import escape_sqlite, path_with_added_args, path_with_removed_args

from .themes_facet import COLUMN as THEMES
from .themes_facet import FILTER as THEME
from .themes_facet import TABLE as PUBLICATIONS
from .workspace import theme_labels

if TYPE_CHECKING:
    from datasette.database import Database

# The most common value (guessed from 64 rows spread over the rowids) is counted by
# subtraction from the table's count, which SQLite reads from the b-tree's pages without a
# walk; one statement, so one snapshot: the counts are exact whatever the guess.
WHOLE_TABLE_COUNTS = """
with recursive found(value) as (
  select min({column}) from {table}
  union all
  select (select min({column}) from {table} where {column} > found.value)
  from found where found.value is not null
),
probe(n) as (select 0 union all select n + 1 from probe where n < 63),
guess as materialized (
  select {column} as value from {table}
  where rowid in (select low + (high - low) * n / 63 from probe,
                  (select (select min(rowid) from {table}) as low,
                          (select max(rowid) from {table}) as high))
    and {column} is not null
  group by {column} order by count(*) desc, {column} limit 1
),
counted as materialized (
  select value, (select count(*) from {table} where {column} = found.value) as count
  from found where value is not null and value is not (select value from guess)
)
select value, count from counted
union all
select value, (select count(*) from {table}) - (select count(*) from {table} where {column} is null)
  - (select coalesce(sum(count), 0) from counted)
from guess
order by count desc, value limit {limit}
"""


@dataclass(frozen=True)
class ArrayIndex:
    """A table with a row for each value of each row's JSON array, the filter for one value,
    and what reads each value's words to show, if any."""
    table: str
    row_id: str
    value: str
    filter: str
    labels: Callable[[Database], Awaitable[dict[str, str]]] | None = None


# (table, column): the index that counts that column's values. Themes show their labels
# ("Children in care"), as the rest of the workspace does, not their slugs.
ARRAY_INDEXES = {(PUBLICATIONS, THEMES): ArrayIndex("publication_themes", "publication_id", "theme", THEME,
                                                    theme_labels)}


def is_whole_table(sql: str, table: str) -> bool:
    """Datasette's SQL for an unfiltered table page ends at its FROM."""
    return sql.rstrip().endswith(f"from {escape_sqlite(table)}")


class IndexedColumnFacet(Facet):
    type = "column_index"

    async def facet_results(self) -> tuple[list[dict[str, Any]], list[str]]:
        columns = {c["config"].get("column") or c["config"]["simple"]: c["source"]
                   for c in self.get_configs()}
        if not columns or self.table is None:
            return [], []
        size = self.get_facet_size()
        try:
            if is_whole_table(self.sql, self.table):
                counted = {column: (await self._execute(self._whole_table_counts(column, size + 1))).rows
                           for column in columns}
            else:
                counted = await self._counts_of_the_page(list(columns), size + 1)
        except QueryInterrupted:
            return [], list(columns)
        pairs = self.get_querystring_pairs()
        results = []
        for column, rows in counted.items():
            index = ARRAY_INDEXES.get((self.table, column))
            key = index.filter if index else column
            selected = {value for name, value in pairs if name == key}
            labels = await index.labels(self.ds.get_database(self.database)) if index and index.labels else {}
            results.append(facet_result(
                self, column, "array" if index else "column", rows[:size], key, selected,
                hideable=columns[column] != "metadata", truncated=len(rows) > size, labels=labels))
        return results, []

    def _whole_table_counts(self, column: str, limit: int) -> str:
        assert self.table is not None
        index = ARRAY_INDEXES.get((self.table, column))
        if index:
            return (f"select {index.value} as value, count(*) as count from {index.table} "
                    f"group by value order by count desc, value limit {limit}")
        return WHOLE_TABLE_COUNTS.format(column=escape_sqlite(column), table=escape_sqlite(self.table),
                                         limit=limit)

    async def _counts_of_the_page(self, columns: list[str], limit: int) -> dict[str, list]:
        """Every column's counts from one read of the page's rows (its id for an array's index)."""
        assert self.table is not None
        read, branches = ["id"], []
        for n, column in enumerate(columns):
            index = ARRAY_INDEXES.get((self.table, column))
            if index:
                counts = (f"select {n} as facet, {index.value} as value, count(*) as count "
                          f"from {index.table} where {index.row_id} in (select id from page)")
            else:
                name = escape_sqlite(column)
                read.append(name)
                counts = (f"select {n} as facet, {name} as value, count(*) as count from page "
                          f"where {name} is not null")
            branches.append(f"select * from ({counts} group by value order by count desc, value "
                            f"limit {limit})")
        sql = (f"with page as materialized (select {', '.join(read)} from ({self.sql})) "
               + " union all ".join(branches))
        counted: dict[str, list] = {column: [] for column in columns}
        for row in (await self._execute(sql)).rows:
            counted[columns[row["facet"]]].append(row)
        return counted

    async def _execute(self, sql: str) -> Any:
        return await self.ds.execute(self.database, sql, self.params, truncate=False,
                                     custom_time_limit=self.ds.setting("facet_time_limit_ms"))


def facet_result(facet: Facet, name: str, type_: str, rows: Iterable, key: str, selected: set[str], *,
                 hideable: bool, truncated: bool, labels: dict | None = None) -> dict[str, Any]:
    """One facet as Datasette's templates and JSON show it: each value a link that adds
    ``key=value`` to the page's query string, or takes it away when it is selected, shown by
    its label in ``labels`` (else itself)."""
    values = []
    for row in rows:
        value = row["value"]
        chosen = str(value) in selected
        toggle = (path_with_removed_args(facet.request, {key: str(value)}) if chosen
                  else path_with_added_args(facet.request, {key: value}))
        values.append({"value": value, "label": (labels or {}).get(value, value), "count": row["count"],
                       "toggle_url": facet.ds.absolute_url(facet.request, facet.ds.urls.path(toggle)),
                       "selected": chosen})
    return {"name": name, "type": type_, "hideable": hideable, "results": values,
            "toggle_url": facet.ds.urls.path(path_with_removed_args(
                facet.request, {f"_facet_{facet.type}": name})),
            "truncated": truncated}
