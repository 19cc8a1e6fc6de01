"""Fuzz Datasette's query-string parameters: no request may get HTTP 500.

    .venv/bin/python bench/fuzz.py                  # 20,000 requests, fixed seed
    .venv/bin/python bench/fuzz.py --examples 500 --seed 7

Requests are drawn by Hypothesis: a page of the site (table, row, database, canned
query, index; HTML, JSON or CSV) and one to three parameters, named from Datasette's
own (`_sort`, `_facet`, `_through`, `_where`, `_next`, `_json_infinity`...), column
filters (`id__gt`, `date_start__in`...) and canned-query parameters, with values from
hostile strings (NUL, JSON fragments, 20-digit numbers, quotes, FTS syntax) and random
text. It prints the statuses seen and every request that got a 5xx, and exits 1 if one
did. tests/test_fuzz.py runs the same strategy for a few seconds.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import json
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

import yaml
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

SPECIAL = [
    "_sort", "_sort_desc", "_sort_by_desc", "_next", "_size", "_search", "_searchmode", "_search_title",
    "_facet", "_facet_array", "_facet_date", "_facet_size", "_where", "_through", "_col", "_nocol",
    "_labels", "_label", "_shape", "_json", "_json_infinity", "_nl", "_timelimit", "_stream", "_dl",
    "_header", "_nocount", "_nofacet", "_nosuggest", "_fts_table", "_fts_pk", "_filter_column",
    "_filter_op", "_filter_value", "_filter_column_1", "_filter_op_1", "_filter_value_1", "_trace",
    "_context", "_hash", "_ttl", "_blob_column", "_blob_hash", "_extra", "_ref", "sql", "q", "group",
    "person", "from", "to", "source", "topic",
]
COLUMNS = ["id", "title", "date_start", "fatalities_low", "latitude", "country", "group_id", "rowid", "nope"]
OPS = ["exact", "not", "contains", "endswith", "startswith", "gt", "gte", "lt", "lte", "like", "notlike",
       "glob", "in", "notin", "arraycontains", "arraynotcontains", "date", "isnull", "notnull", "isblank",
       "notblank", "bogus"]
VALUES = [
    "", "{}", "[1", "[]", "[[1]]", '{"table":1}', '{"table":"event_groups","column":"group_id","value":"imu"}',
    '{"table":"nope","column":"x","value":"y"}', "x\x00y", "\x00", "99999999999999999999",
    "-99999999999999999999", "1e999", "nan", "inf", "abc", "-1", "0", "1", "1000", "1001", '"', "'", "%",
    "a*", "NEAR(a b", "col:x", "$null", "~", "~2E", "/", "..", "id", "title", "country", "null", "true",
    "off", "on", "objects", "array", "arrays", "object", "raw", "escaped", "select 1",
    "select 1; select 2", "1=1", "x' or '1'='1", "IMU", "Tashkent", "\u202e", "\ufeff", "Юлдашев",
    "date_start > '2000'", "(select count(*) from claims, claims, claims)",
]
PAGES = [
    "/imu/events", "/imu/events.json", "/imu/events.csv", "/imu/claims.json", "/imu/memberships",
    "/imu/search_index.json", "/imu/disputes.json", "/imu/disputes", "/imu", "/imu.json",
    "/imu/events/1999-tashkent-bombings", "/imu/events/1999-tashkent-bombings.json",
    "/imu/search.json", "/imu/timeline", "/imu/events_map.json", "/", "/.json",
]


def names():
    return st.one_of(st.sampled_from(SPECIAL),
                     st.builds(lambda c, o: f"{c}__{o}", st.sampled_from(COLUMNS), st.sampled_from(OPS)),
                     st.sampled_from(COLUMNS), st.text(min_size=1, max_size=12))


def values():
    return st.one_of(st.sampled_from(VALUES), st.text(max_size=40),
                     st.integers(min_value=-(2**70), max_value=2**70).map(str))


def requests():
    """(page, [(name, value), ...]) pairs."""
    return st.tuples(st.sampled_from(PAGES), st.lists(st.tuples(names(), values()), min_size=1, max_size=3))


def url(page: str, params: list[tuple[str, str]]) -> str:
    query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params)
    return f"{page}?{query}"


def datasette_for(db_path: Path):
    """The site as `make serve` runs it, in-process."""
    from conftest import make_datasette

    metadata = yaml.safe_load((ROOT / "metadata.yml").read_text())
    site_settings = json.loads((ROOT / "settings.json").read_text())
    return make_datasette(db_path, metadata, site_settings)


def fuzz(ds, examples: int, seed_value: int) -> collections.Counter:
    """Send `examples` drawn requests; returns statuses, with each 5xx's URL listed."""
    statuses: collections.Counter = collections.Counter()
    loop = asyncio.new_event_loop()

    @seed(seed_value)
    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(requests())
    def one(request):
        page, params = request
        path = url(page, params)
        status = loop.run_until_complete(ds.client.get(path)).status_code
        statuses[status] += 1
        if status >= 500 and status != 503:
            statuses[f"{status} {path}"] += 1

    try:
        one()
    finally:
        loop.close()
    return statuses


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args(argv)
    import build_db

    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "imu.db"
        build_db.build(ROOT / "seeds", db_path, cache=False)
        statuses = fuzz(datasette_for(db_path), args.examples, args.seed)
    errors = {k: n for k, n in statuses.items() if isinstance(k, str)}
    print(f"{sum(n for k, n in statuses.items() if isinstance(k, int))} requests; statuses: "
          + ", ".join(f"{k}: {n}" for k, n in sorted((k, n) for k, n in statuses.items() if isinstance(k, int))))
    for path in errors:
        print(f"  {path}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
