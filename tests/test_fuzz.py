"""A short run of bench/fuzz.py: no query string gets HTTP 500."""
from __future__ import annotations

import asyncio
import sys
from urllib.parse import quote

import pytest

from conftest import ROOT

# Datasette leaves its facet coroutines unawaited when a bad _facet stops the page.
pytestmark = pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")

sys.path.insert(0, str(ROOT / "bench"))

import fuzz  # noqa: E402


def test_drawn_query_strings_never_get_a_500(db_path):
    statuses = fuzz.fuzz(fuzz.datasette_for(db_path), examples=300, seed_value=2026)
    assert [k for k in statuses if isinstance(k, str)] == []
    assert sum(n for k, n in statuses.items() if isinstance(k, int)) == 300
    assert {200, 400} <= set(statuses)


# The classes of 500 the first fuzz found, each with the message that replaces it.
FOUND = [
    ("/imu/events.json?_json_infinity=x", "should be a boolean"),
    ("/imu/events?_through=", "should hold JSON"),
    ("/imu/events?_through=" + quote('{"table":1}'), "could not be used"),
    ("/imu/events?_facet=" + quote("{}"), "could not be used"),
    ("/imu/events?_facet_array=" + quote("{}"), "could not be used"),
    ("/imu/events?_facet=x%00y", "NUL"),
    ("/imu/events?_where=x%00y", "NUL"),
    ("/imu/events.json?id__gt=99999999999999999999", "too large"),
    ("/imu/events.json?id__in=%5B1", "should hold JSON"),
    ("/imu/events.json?_timelimit=abc", "_timelimit"),
    ("/imu/events.json?_sort=nope", "Cannot sort"),
    ("/imu/events.json?_sort=id&_sort_desc=id", "Cannot use _sort and _sort_desc"),
    ("/imu/events.json?_where=1%3B+select+1", "single SQL expression"),
]


@pytest.mark.parametrize("path, message", FOUND)
def test_each_class_found_gets_a_400_that_says_why(ds, path, message):
    r = asyncio.run(ds.client.get(path))
    assert r.status_code == 400, r.text[:300]
    assert message in r.text


def test_a_csv_stream_stopped_by_the_time_limit_gets_a_400(db_path, metadata, settings):
    from conftest import make_datasette

    ds = make_datasette(db_path, metadata, settings | {"sql_time_limit_ms": 50})
    where = "(with recursive n(i) as (select 1 union all select i + 1 from n) select count(*) from n where i < 0) = 0"
    r = asyncio.run(ds.client.get("/imu/events.csv?_stream=on&_where=" + quote(where)))
    assert r.status_code == 400
    assert "too long" in r.text
