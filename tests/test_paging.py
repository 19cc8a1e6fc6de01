"""Following `next` yields every row exactly once (plugins/paging.py): for every table and
sortable column, ascending and descending, through JSON `next_url`, HTML next links and
the streamed CSV; on the real data and on generated data full of ties."""
from __future__ import annotations

import asyncio
import csv
import io
import json
import random
import re
import sqlite3
from html import unescape

import pytest
import sqlite_utils
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from conftest import make_datasette


def walk_json(ds, path: str) -> list[str]:
    """Every row of every page, following next_url, each row as JSON text."""
    rows, url = [], path
    while url:
        data = asyncio.run(ds.client.get(url.removeprefix("http://localhost"))).json()
        assert "rows" in data, data
        rows += [json.dumps(r, sort_keys=True) for r in data["rows"]]
        url = data.get("next_url")
    return rows


def walk_html(ds, path: str) -> list[str]:
    """The row links of every page, following the page's own next link."""
    links, url = [], path
    while url:
        html = asyncio.run(ds.client.get(url)).text
        links += re.findall(r'<td class="col-id type-pk"><a href="([^"]+)"', html)
        nxt = re.search(r'<a href="([^"]*_next=[^"]*)">Next page</a>', html)
        url = unescape(nxt[1]).removeprefix("http://localhost") if nxt else None
    return links


def walk_csv(ds, path: str) -> list[str]:
    body = asyncio.run(ds.client.get(path)).text
    return [json.dumps(r) for r in list(csv.reader(io.StringIO(body)))[1:]]


def sort_params(column: str, descending: bool) -> str:
    return f"_sort_desc={column}" if descending else f"_sort={column}"


# ---------------------------------------------------------------- the real data

def real_orders(metadata, db_path):
    con = sqlite3.connect(db_path)
    tables = metadata["databases"]["imu"]["tables"]
    for table in ("events", "memberships", "claims", "group_relations", "aliases", "event_groups",
                  "search_index", "disputes", "sources"):
        columns = tables.get(table, {}).get("sortable_columns") or [
            r[1] for r in con.execute(f"pragma table_info([{table}])")]
        for column in columns:
            yield table, column


def test_every_real_table_pages_every_row_once_in_every_order(ds, db_path, metadata):
    con = sqlite3.connect(db_path)
    failures = []
    for table, column in real_orders(metadata, db_path):
        expected = con.execute(f"select count(*) from [{table}]").fetchone()[0]
        for descending in (False, True):
            rows = walk_json(ds, f"/imu/{table}.json?_shape=objects&_size=25&{sort_params(column, descending)}")
            if len(rows) != expected or len(set(rows)) != expected:
                failures.append((table, column, descending, len(rows), len(set(rows)), expected))
    assert failures == []


def test_the_streamed_csv_of_events_has_each_event_once(ds, db_path):
    count = sqlite3.connect(db_path).execute("select count(*) from events").fetchone()[0]
    for order in ("", "&_sort=country", "&_sort_desc=date_precision"):
        rows = walk_csv(ds, f"/imu/events.csv?_stream=on&_size=10{order}")
        assert len(rows) == len(set(rows)) == count, order


# ---------------------------------------------------------------- generated data, heavy ties

@pytest.fixture(scope="module")
def tied(tmp_path_factory, metadata, settings):
    """A database of tables with few distinct values per column (and NULLs): a table with a
    text key, one with a compound key, one with only a rowid, and a view."""
    rnd = random.Random(10)
    path = tmp_path_factory.mktemp("tied") / "tied.db"
    db = sqlite_utils.Database(path)

    def pick(*values):
        return rnd.choice(values)

    db["things"].insert_all(({"id": f"t{i:05d}", "kind": pick("a", "b", "c", None), "n": pick(1, 2, 3, 5, None),
                              "x": pick(0.5, 1.25, -3.0), "label": pick("same", "same", "other"),
                              "flag": pick(0, 1)} for i in rnd.sample(range(99999), 1200)), pk="id")
    db["pairs"].insert_all(({"a": pick("x", "y"), "b": f"b{i:05d}", "kind": pick("p", "q", None),
                             "n": pick(1, 2)} for i in range(1100)), pk=("a", "b"))
    db["plain"].insert_all({"kind": pick("k", "l", None), "n": pick(7, 8)} for _ in range(1050))
    db.create_view("things_view", "select id, kind, n, label from things")
    db.close()
    return make_datasette(path, {}, settings)


ORDERS = {
    "things": ["kind", "n", "x", "label", "flag", "id"],
    "pairs": ["a", "kind", "n", "b"],
    "plain": ["kind", "n", "rowid"],
    "things_view": ["kind", "n", "label"],
}
SIZES = {"things": 1200, "pairs": 1100, "plain": 1050, "things_view": 1200}


@hsettings(max_examples=12, deadline=None, derandomize=True,
           suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.sampled_from([(t, c) for t, columns in ORDERS.items() for c in columns]),
       descending=st.booleans(), size=st.integers(min_value=60, max_value=300))
def test_following_next_url_yields_every_row_once(tied, order, descending, size):
    table, column = order
    rows = walk_json(tied, f"/tied/{table}.json?_shape=objects&_size={size}&{sort_params(column, descending)}")
    assert len(rows) == len(set(rows)) == SIZES[table]


@hsettings(max_examples=4, deadline=None, derandomize=True,
           suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(column=st.sampled_from(ORDERS["things"]), descending=st.booleans())
def test_following_the_html_next_link_yields_every_row_once(tied, column, descending):
    links = walk_html(tied, f"/tied/things?_size=150&{sort_params(column, descending)}")
    assert len(links) == len(set(links)) == SIZES["things"]


@pytest.mark.parametrize("table, column", [("things", "kind"), ("pairs", "kind"), ("plain", "n"),
                                           ("things_view", "label")])
def test_the_streamed_csv_yields_every_row_once(tied, table, column):
    for descending in (False, True):
        rows = walk_csv(tied, f"/tied/{table}.csv?_stream=on&_size=40&{sort_params(column, descending)}")
        assert len(rows) == SIZES[table]
        if table != "things_view":  # a view's rows may repeat exactly; the others have keys
            assert len(set(rows)) == SIZES[table]


def test_a_binary_column_is_not_a_sort_order(ds):
    """The full-text indexes' own tables hold blobs, which cannot mark a page's end: a sort
    by one is a 400 saying so, not a next page that repeats for ever; other sorts page on."""
    for sort in ("_sort", "_sort_desc"):
        r = asyncio.run(ds.client.get(f"/imu/aliases_fts_docsize.json?{sort}=sz&_size=20"))
        assert r.status_code == 400 and "binary data" in r.json()["error"], r.text[:200]
    rows = walk_json(ds, "/imu/aliases_fts_docsize.json?_sort=id&_size=20")
    with sqlite3.connect(ds.get_database("imu").path) as con:
        assert len(rows) == len(set(rows)) == con.execute("select count(*) from aliases_fts_docsize").fetchone()[0]
