"""Canned queries say when a parameter matches nothing or is not a year (plugins/queries.py)."""
from __future__ import annotations

import asyncio
import html
import re
import sqlite3

import pytest
from datasette.utils import module_from_path
from datasette.utils.asgi import Request

from conftest import ROOT
from fold import sql_fold

queries = module_from_path(str(ROOT / "plugins" / "queries.py"), name="queries.py")
query_problems = queries.query_problems

NAMED = {"timeline": "group", "relations": "group", "events_map": "group", "person": "person",
         "claims_by_source": "source", "network": "group", "events_per_year": "group"}
YEARS = ("timeline", "events_map")


@pytest.fixture(scope="module")
def con(db_path):
    con = sqlite3.connect(f"file:{db_path}?immutable=1", uri=True)
    con.create_function("fold", 1, sql_fold, deterministic=True)
    return con


def get(ds, path, **params):
    return asyncio.run(ds.client.get(path, params=params or None))


def canned(metadata) -> dict:
    return metadata["databases"]["imu"]["queries"]


# ---------------------------------------------------------------- query_problems itself

def test_no_problem_with_good_or_blank_parameters(con):
    assert query_problems(con, "timeline", {"group": "imu", "from": "2009", "to": "2011"}) == []
    assert query_problems(con, "timeline", {"group": "", "from": "", "to": ""}) == []
    assert query_problems(con, "timeline", {"group": "Taliban", "from": " 999 ", "to": "0"}) == []
    assert query_problems(con, "person", {"person": "Yuldashev"}) == []
    assert query_problems(con, "person", {"person": "tohir-yoldashev"}) == []
    assert query_problems(con, "person", {"person": ""}) == []
    assert query_problems(con, "relations", {"group": "IMU"}) == []
    assert query_problems(con, "claims_by_source", {"source": "stratfor-2010-tajikistan-sweeps"}) == []
    assert query_problems(con, "claims_by_source", {"source": ""}) == []
    assert query_problems(con, "disputes", {}) == []


def test_names_that_match_nothing_are_said(con):
    assert query_problems(con, "timeline", {"group": "xyz", "from": "", "to": ""}) == ["No group matches 'xyz'."]
    assert query_problems(con, "relations", {"group": " nobody "}) == ["No group matches 'nobody'."]
    assert query_problems(con, "person", {"person": "Nobody Atall"}) == ["No person matches 'Nobody Atall'."]
    assert query_problems(con, "claims_by_source", {"source": "no-such-source"}) == \
        ["No source matches 'no-such-source'."]
    long = query_problems(con, "events_map", {"group": "x" * 5000, "from": "", "to": ""})
    assert long == [f"No group matches '{'x' * queries.SHOWN}…'."]


@pytest.mark.parametrize("value", ["abc", "20099", "-1", "1999-", "2009.5", "二〇〇九", "٢٠٠٩", "20 09", "2009\n"])
def test_malformed_years_are_said(con, value):
    found = query_problems(con, "timeline", {"group": "imu", "from": value, "to": ""})
    shown = " ".join(value.split())
    assert found == [f"'{shown}' is not a year: give from as a year such as 2009."]
    found = query_problems(con, "events_map", {"group": "", "from": "", "to": value})
    assert found == [f"'{shown}' is not a year: give to as a year such as 2009."]


def test_every_problem_at_once(con):
    assert query_problems(con, "timeline", {"group": "xyz", "from": "abc", "to": "x"}) == [
        "No group matches 'xyz'.",
        "'abc' is not a year: give from as a year such as 2009.",
        "'x' is not a year: give to as a year such as 2009."]


def target_cte(sql: str) -> str:
    return re.search(r"with target as \((.*?)\n\s*\),?\n", sql, re.S).group(1)


def probe_values(con) -> list[str]:
    values = ["imu", "IMU", "Taliban", "taliban", "Yuldashev", "Yo'ldashev", "tohir-yoldashev", "xyz",
              "Imu ", " imu", "'; drop table events; --", "%", "_", "a", "Usman Ghazi", "Islamic State"]
    for table, column in (("groups", "id"), ("groups", "name"), ("people", "id"), ("people", "name"),
                          ("aliases", "alias")):
        values += [r[0] for r in con.execute(f"select {column} from {table} order by rowid limit 25")]
    return values


@pytest.mark.parametrize("query", ["timeline", "relations", "events_map", "person", "network", "events_per_year"])
def test_names_resolve_as_the_canned_queries_resolve_them(con, metadata, query):
    """MATCHES gives the records each query's own `target` CTE gives, for every non-blank value."""
    param = NAMED[query]
    theirs = target_cte(canned(metadata)[query]["sql"])
    for value in probe_values(con):
        if not value.strip(" "):
            continue
        ours = {r[0] for r in con.execute(queries.MATCHES[param], {param: value})}
        assert ours == {r[0] for r in con.execute(theirs, {param: value})}, (query, value)


def test_sources_resolve_as_claims_by_source_does(metadata):
    assert "s.id = trim(:source)" in canned(metadata)["claims_by_source"]["sql"]
    assert queries.MATCHES["source"] == "select id from sources where id = trim(:source)"


# ---------------------------------------------------------------- the SQL refuses a malformed year

@pytest.mark.parametrize("query", YEARS)
@pytest.mark.parametrize("param", ["from", "to"])
@pytest.mark.parametrize("value", ["abc", "20099", "-1", "1999-", "0x7d9", "2009.0", "1e3"])
def test_malformed_year_gives_no_rows(ds, query, param, value):
    r = get(ds, f"/imu/{query}.json", _shape="array", group="imu", **{param: value})
    assert r.status_code == 200 and r.json() == []


@pytest.mark.parametrize("query", YEARS)
def test_good_years_still_filter(ds, query):
    every = get(ds, f"/imu/{query}.json", _shape="array", group="imu").json()
    some = get(ds, f"/imu/{query}.json", _shape="array", group="imu", **{"from": "2009", "to": " 2011 "}).json()
    assert some and len(some) < len(every)
    assert all(r["date_end"] >= "2009" for r in some if "date_end" in r)
    assert get(ds, f"/imu/{query}.json", _shape="array", group="imu", **{"from": "0", "to": "9999"}).json() == every


# ---------------------------------------------------------------- the hook and the page

def hook_vars(ds, path, query):
    async def run():
        await ds.invoke_startup()
        request = Request.fake(path, url_vars={"database": "imu", "table": query})
        inner = queries.extra_template_vars(view_name="table", table=None, database="imu",
                                            request=request, datasette=ds)
        return await inner() if callable(inner) else inner
    return asyncio.run(run())


def test_hook_gives_problems_and_labels(ds):
    found = hook_vars(ds, "/imu/timeline?group=xyz&from=abc", "timeline")
    assert found["imu_query_problems"] == ["No group matches 'xyz'.",
                                           "'abc' is not a year: give from as a year such as 2009."]
    assert found["imu_param_labels"] == queries.PARAM_LABELS
    assert hook_vars(ds, "/imu/person?person=Yuldashev", "person")["imu_query_problems"] == []
    assert hook_vars(ds, "/imu/no-such-query", "no-such-query") == {}


def test_hook_leaves_other_pages_alone(ds):
    request = Request.fake("/imu/events", url_vars={"database": "imu", "table": "events"})
    assert queries.extra_template_vars(view_name="table", table="events", database="imu",
                                       request=request, datasette=ds) == {}
    assert queries.extra_template_vars(view_name="database", table=None, database="imu",
                                       request=request, datasette=ds) == {}


def test_every_canned_parameter_has_a_label(metadata):
    for name, query in canned(metadata).items():
        for param in query.get("params") or []:
            assert param in queries.PARAM_LABELS, (name, param)


@pytest.mark.parametrize("path, message", [
    ("/imu/timeline?group=xyz", "No group matches 'xyz'."),
    ("/imu/relations?group=xyz", "No group matches 'xyz'."),
    ("/imu/events_map?group=xyz", "No group matches 'xyz'."),
    ("/imu/person?person=xyz", "No person matches 'xyz'."),
    ("/imu/claims_by_source?source=xyz", "No source matches 'xyz'."),
    ("/imu/timeline?from=abc", "'abc' is not a year: give from as a year such as 2009."),
    ("/imu/events_map?to=abc", "'abc' is not a year: give to as a year such as 2009."),
])
def test_pages_say_what_is_wrong(ds, path, message):
    r = get(ds, path)
    assert r.status_code == 200
    # templates/query.html (the lead's) renders imu_query_problems, once each.
    assert html.unescape(r.text).count(message) == 1


def test_pages_with_good_parameters_say_nothing_is_wrong(ds):
    for path in ("/imu/timeline?group=imu&from=2009&to=2011", "/imu/person?person=Yuldashev",
                 "/imu/claims_by_source", "/imu/relations", "/imu/events_map"):
        r = get(ds, path)
        assert "imu-problem" not in r.text and "matches '" not in html.unescape(r.text), path


def test_pages_label_the_parameter_fields(ds):
    text = html.unescape(get(ds, "/imu/timeline").text)
    for label in ("Group (id or any name)", "From year", "To year"):
        assert label in text
