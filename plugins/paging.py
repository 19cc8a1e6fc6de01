"""Every row exactly once when paging through a sorted table.

Datasette 0.65.5 sorts a table page by the `_sort` column alone, and adds the primary
key as a tie-breaker only from the second page on (`?_next=`), where it also selects the
rows after the last one shown in (sort column, primary key) order. Rows that tie on the
sort column can therefore come in one order on the first page and another after it, so
some were shown twice and others never: `/imu/events?_sort=country` skipped Tajik
events, `memberships.json?_size=10` lost 7 of 23 rows, the streamed CSV of events had
68 rows for 66 events. Upstream's 1.0 alphas have the same code.

The fix gives every page the same total order: the table page's main query gets the
primary key (or rowid) after its sort column, on the first page too. A view has no key
and pages by offset, so a sorted view gets all its columns as the tie-breaker. HTML next
links, JSON `next_url`, the `_stream=on` CSV and the map's paging all read that query.

A column of binary data (declared BLOB: the full-text indexes' own tables) cannot be sorted
on: Datasette writes a blob into `_next` as Python's repr, which the next page compares as
text, so `aliases_fts_docsize.json?_sort=sz` gave the same page for ever. Such a sort is a
400 saying so.
"""
from __future__ import annotations

import contextvars
import re
import weakref

import datasette.database
import datasette.views.table
from datasette.utils import escape_sqlite, tilde_decode
from datasette.views.base import DatasetteError

# (database name, table) while a table page is being made
TABLE_PAGE: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("table_page", default=None)
_ORDER_TAIL = re.compile(r"(?P<order>.+?) limit (?P<limit>\d+)(?P<offset> offset \d+)?", re.S)


def with_tiebreaker(sql: str, tiebreaker: str) -> str:
    """A table page's SQL with `tiebreaker` after its sort column (unchanged if already there)."""
    head, found, tail = sql.rpartition(" order by ")
    m = _ORDER_TAIL.fullmatch(tail) if found else None
    if not m or m["order"] == tiebreaker or m["order"].endswith(", " + tiebreaker):
        return sql
    return f"{head} order by {m['order']}, {tiebreaker} limit {m['limit']}{m['offset'] or ''}"


async def tiebreaker(db, table: str) -> str:
    """The columns that make the order total: primary keys, rowid, or a view's columns."""
    cache = db.__dict__.setdefault("_imu_tiebreakers", {})
    if table not in cache:
        if await db.get_view_definition(table):
            columns = await db.table_columns(table)
        else:
            columns = await db.primary_keys(table) or ["rowid"]
        cache[table] = ", ".join(c if c == "rowid" else escape_sqlite(c) for c in columns)
    return cache[table]


# (database, table) -> its binary columns, read once: the database never changes while served
_BINARY: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


async def refuse_binary_sort(db, table: str, request) -> None:
    column = request.args.get("_sort") or request.args.get("_sort_desc")
    if not column:
        return
    known = _BINARY.setdefault(db, {})
    if table not in known:
        known[table] = {r[1] for r in await db.execute("select * from pragma_table_info(:t)", {"t": table})
                        if "BLOB" in (r[2] or "").upper()}
    if column in known[table]:
        raise DatasetteError(f"Cannot sort by {column}: it holds binary data, which cannot mark "
                             "where a page ends", status=400)


def patch() -> None:
    """Wrap TableView.data (to know a table page is being made) and Database.execute
    (to add the tie-breaker to that page's main query); once per process."""
    table_view = datasette.views.table.TableView
    database = datasette.database.Database
    if getattr(table_view.data, "imu_paging", False):
        return
    view_data, execute = table_view.data, database.execute

    async def data(self, request, *args, **kwargs):
        token = None
        try:
            db = self.ds.get_database(route=tilde_decode(request.url_vars["database"]))
            table = tilde_decode(request.url_vars["table"])
            if not await self.ds.get_canned_query(db.name, table, request.actor):
                await refuse_binary_sort(db, table, request)
                token = TABLE_PAGE.set((db.name, table))
        except KeyError:
            pass  # no such database: Datasette answers 404
        try:
            return await view_data(self, request, *args, **kwargs)
        finally:
            if token is not None:
                TABLE_PAGE.reset(token)

    async def execute_with_tiebreaker(self, sql, params=None, truncate=False, *args, **kwargs):
        page = TABLE_PAGE.get()
        if truncate and page and page[0] == self.name and sql.startswith("select ") \
                and f" from {escape_sqlite(page[1])} " in sql:
            sql = with_tiebreaker(sql, await tiebreaker(self, page[1]))
        return await execute(self, sql, params, truncate, *args, **kwargs)

    data.imu_paging = True
    table_view.data = data
    database.execute = execute_with_tiebreaker


patch()
