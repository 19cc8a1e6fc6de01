"""Datasette over the built database: pages, JSON, search, download, read-only."""
from __future__ import annotations

import asyncio
import contextlib
import sqlite3

import pytest

TABLES = ["sources", "groups", "people", "aliases", "events", "event_groups", "event_people",
          "memberships", "group_relations", "claims", "dispute_topics"]


def get(ds, path):
    return asyncio.run(ds.client.get(path))


def test_home_page(ds):
    r = get(ds, "/")
    assert r.status_code == 200
    assert "Islamic Movement of Uzbekistan" in r.text


@pytest.mark.parametrize("path", ["/", "/about", "/imu/groups"])
def test_home_and_about_may_be_cached_as_datasettes_pages_are(ds, settings, path):
    """A proxy keeps them (make serve-prod): under load they went to a replica every time.
    (/imu/groups: Datasette's own page, for comparison.)"""
    assert get(ds, path).headers["cache-control"] == f"max-age={settings['default_cache_ttl']}"


def test_cluster_map_plugin_loaded(ds):
    assert "/-/static-plugins/datasette-cluster-map/" in get(ds, "/imu/events").text



def test_connections_read_through_a_memory_map(ds):
    """plugins/speed.py: search pages read events by rowid through mmap, not read()."""
    size = asyncio.run(ds.get_database("imu").execute_fn(
        lambda conn: conn.execute("pragma mmap_size").fetchone()[0]))
    assert size >= 2**30


def test_startup_freezes_what_is_loaded(ds):
    """plugins/speed.py: start-up objects leave full garbage collections (the serving tail)."""
    import gc

    gc.unfreeze()
    try:
        assert gc.get_freeze_count() == 0
        assert get(ds, "/imu").status_code == 200
        assert gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()

@pytest.mark.parametrize("table", TABLES)
def test_table_html_and_json(ds, db_path, table):
    assert get(ds, f"/imu/{table}").status_code == 200
    r = get(ds, f"/imu/{table}.json?_shape=array&_size=max")
    assert r.status_code == 200
    count = sqlite3.connect(db_path).execute(f"select count(*) from [{table}]").fetchone()[0]
    assert len(r.json()) == min(count, 1000)


def test_full_text_search_on_table(ds):
    rows = get(ds, "/imu/events.json?_search=Tashkent&_shape=array").json()
    assert "1999-tashkent-bombings" in {r["id"] for r in rows}
    rows = get(ds, "/imu/people.json?_search=Namangani&_shape=array").json()
    assert [r["id"] for r in rows][:1] == ["juma-namangani"]


def test_database_download(ds):
    r = get(ds, "/imu.db")
    assert r.status_code == 200
    assert r.content.startswith(b"SQLite format 3\x00")


@pytest.mark.parametrize("sql", [
    "delete from events",
    "update events set title = 'x'",
    "insert into groups (id, name, kind, description) values ('x', 'x', 'x', 'x')",
    "drop table events",
    "attach database ':memory:' as other",
])
def test_sql_writes_are_refused(ds, db_path, sql):
    before = sqlite3.connect(db_path).execute("select count(*), group_concat(title) from events").fetchone()
    r = get(ds, "/imu.json?" + __import__("urllib.parse").parse.urlencode({"sql": sql}))
    assert r.status_code in (400, 403)
    after = sqlite3.connect(db_path).execute("select count(*), group_concat(title) from events").fetchone()
    assert before == after


def traced_sql(ds, path) -> list[str]:
    """The SQL a request ran, from Datasette's own trace (?_trace=1)."""
    import html
    import json
    import re

    text = get(ds, path + ("&" if "?" in path else "?") + "_trace=1").text
    return [t["sql"] for t in json.loads(html.unescape(re.findall(r"<pre>(.*?)</pre>", text, re.S)[-1]))["traces"]
            if "sql" in t]


@pytest.fixture
def traced(db_path, metadata, settings):
    from conftest import make_datasette

    return make_datasette(db_path, metadata, dict(settings, trace_debug=True))


def test_counts_of_the_immutable_database_are_remembered(traced):
    """plugins/lanes.py: a table page's facet and row counts run once per process; the
    page says the same the second time."""
    path = "/imu/events?country=UZ"
    first = traced_sql(traced, path)
    counts = [s for s in first if "count(*)" in s]
    assert len(counts) >= 4  # the filtered count and a count per default facet
    second = traced_sql(traced, path)
    assert not [s for s in second if "count(*)" in s]
    assert [s for s in second if "count(*)" not in s]  # the page's rows are read each time
    one, two = (get(traced, "/imu/events.json?country=UZ&_facet=event_type").json() for _ in range(2))
    assert one["facet_results"] == two["facet_results"] and one["filtered_table_rows_count"] == two["filtered_table_rows_count"]
    with sqlite3.connect(traced.get_database("imu").path) as con:
        assert two["filtered_table_rows_count"] == con.execute("select count(*) from events where country = 'UZ'").fetchone()[0]


@contextlib.contextmanager
def counted_trips(ds):
    """A list that gets an item for each query sent through the SQL threads meanwhile;
    each waits its turn behind every other request's queries."""
    executor, sent = ds.executor, []
    submit = executor.submit
    executor.submit = lambda *args, **kwargs: sent.append(1) or submit(*args, **kwargs)
    try:
        yield sent
    finally:
        del executor.submit


def trips(ds, path) -> int:
    """How many queries a visit to `path` sends through the SQL threads, once a first visit
    has filled the memos."""
    assert get(ds, path).status_code == 200
    with counted_trips(ds) as sent:
        assert get(ds, path + ("&" if "?" in path else "?") + "_v=again").status_code == 200
    return len(sent)


def test_schema_reads_of_the_immutable_database_are_remembered(ds):
    """plugins/lanes.py: the database page read each table's columns, keys and full-text
    index through the SQL threads on every visit, 162 queries, and under 200 readers it ran
    past nginx's 15 s; table and record pages likewise, fewer. The answers stay the same."""
    assert trips(ds, "/imu") <= 10
    assert trips(ds, "/imu/events") <= 10
    assert trips(ds, "/imu/groups/imu") <= 20
    first, again = ({k: v for k, v in get(ds, "/imu.json").json().items() if k != "query_ms"} for _ in range(2))
    assert first == again and {t["name"] for t in first["tables"]} >= {"events", "groups", "claims"}
    events = next(t for t in again["tables"] if t["name"] == "events")
    assert events["columns"][:2] == ["id", "title"] and events["fts_table"] == "events_fts"
    assert events["primary_keys"] == ["id"]


def test_a_replicas_first_database_pages_read_no_schema(ds):
    """A replica's first moments: the schema is read at start-up in one trip, so twenty
    first visits to the database page at once send a few queries each through the SQL
    threads. Each had read every table's columns, keys, full-text index and name (228
    queries, one after another, each queued behind the other readers' queries): under 200
    readers the database page ran past nginx's 15 s, as 504s."""
    get(ds, "/-/versions")  # start-up done; no page of the database asked for yet

    async def together():
        return await asyncio.gather(*(ds.client.get(f"/imu?_v={i}") for i in range(20)))

    with counted_trips(ds) as sent:
        pages = asyncio.run(together())
    assert {p.status_code for p in pages} == {200}
    assert len(sent) <= 20 * 15, len(sent)


def test_a_table_pages_links_are_named_in_one_query_per_table(traced, con):
    """plugins/pages.py prefetch_labels: the links of a first page of event_groups (an event
    and a group in each of 50 rows) are named by one query per table they point to; each
    cell had asked for its own, 47 trips through the SQL threads one after another."""
    import labels

    labels._labels.clear()  # the process's memo of names, which other tests fill
    named = [s for s in traced_sql(traced, "/imu/event_groups") if " as label from " in s]
    assert len(named) == 2, named
    page = get(traced, "/imu/event_groups").text
    event, title = con.execute("select e.id, e.title from event_groups x join events e on e.id = x.event_id "
                               "order by x.id limit 1").fetchone()
    assert f'<a href="/imu/events/{event}">{title}</a>' in page


def test_counts_of_visitors_sql_are_not_remembered(traced):
    """SQL of the visitor's own may call random(): its counts run every time."""
    path = "/imu/events?_where=" + "abs(random()) % 2 = 0"
    for _ in range(2):
        assert [s for s in traced_sql(traced, path) if "count(*)" in s]


@pytest.mark.parametrize("path,status,words", [
    ("/no-such-page", 404, "Database not found"),
    ("/imu/events/no-such-event", 404, "Record not found"),
    ("/imu/events?_sort=no_such_column", 400, "Cannot sort table by no_such_column"),
    ("/imu?sql=selec", 400, "Invalid SQL"),
    ("/\\evil.example/", 404, "Not found")])  # refused before Datasette sees it
def test_error_pages_are_the_sites_pages(ds, path, status, words):
    """plugins/readonly.py: Datasette renders its errors without the plugins' hooks, so its
    error pages had neither the site's stylesheet nor its scripts; the JSON is Datasette's.
    A request refused before Datasette sees it gets the same page."""
    r = get(ds, path)
    assert r.status_code == status and words in r.text
    assert "/-/static-plugins/imu/site.css" in r.text and "/-/static-plugins/imu/a11y.js" in r.text
    base, _, query = path.partition("?")
    if base != "/imu":
        r = get(ds, f"{base}.json" + (f"?{query}" if query else ""))
        assert r.status_code == status and r.json()["ok"] is False and words in r.json()["error"]
