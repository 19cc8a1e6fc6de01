"""Datasette over the built database: pages, JSON, search, download, read-only."""
from __future__ import annotations

import asyncio
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
