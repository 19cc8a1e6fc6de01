"""The published site under hostile input: read-only, time-limited, row-limited, escaped.

This module builds the real seeds plus one extra seed file of hostile text (markup and
script in names, descriptions, quotes, aliases, places) and serves that build through
the shared `ds` fixture, which picks up the `db_path` defined here.
"""
from __future__ import annotations

import asyncio
import hashlib
import shutil
import sqlite3
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
import yaml

import build_db
import seedparse
from fold import search_problem
from conftest import ROOT, datasette_server

pytestmark = pytest.mark.serial  # timed or bounded: run alone (Makefile, `make test`)

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
SVG = '"><svg onload=alert(1)>'
MARK = "<mark onmouseover=alert(1)>hostile</mark> and </textarea><script>alert(2)</script>"
HOSTILE = (SCRIPT, IMG, SVG, MARK)


def hostile_records(source: str) -> dict:
    """Records whose every text field is an attempt at markup; `source` is a real source id."""
    def claim(quote, statement):
        return {"source": source, "quote": quote, "statement": statement, "certainty": "stated"}

    return {
        "groups": [{
            "id": "hostile-group", "name": SCRIPT, "kind": "militant-group", "description": IMG,
            "aliases": [{"alias": SVG, "kind": "nickname", "note": MARK}],
            "claims": [claim(MARK, IMG)],
        }],
        "people": [{
            "id": "hostile-person", "name": IMG, "description": SCRIPT,
            "aliases": [{"alias": SCRIPT, "kind": "nickname"}],
            "claims": [claim(SCRIPT, SVG)],
        }],
        "events": [{
            "id": "hostile-event", "title": SCRIPT, "event_type": "other",
            "date_start": "2001-01", "date_end": "2001-02", "date_precision": "month", "date_text": SVG,
            "place": IMG, "country": "UZ", "latitude": 41.3, "longitude": 69.2, "geo_precision": "near",
            "description": MARK,
            "groups": [{"group": "hostile-group", "role": "perpetrator", "note": SVG, "claims": [claim(SCRIPT, IMG)]}],
            "people": [{"person": "hostile-person", "role": "leader", "claims": [claim(IMG, SCRIPT)]}],
            "claims": [claim(SVG, MARK)],
        }],
        "memberships": [{"person": "hostile-person", "group": "hostile-group", "role": "member",
                         "claims": [claim(MARK, SVG)]}],
    }


@pytest.fixture(scope="module")
def db_path(tmp_path_factory) -> Path:
    """The real seeds plus zz-hostile.yml, built like imu.db (overrides conftest's db_path)."""
    tmp = tmp_path_factory.mktemp("hostile")
    seeds = tmp / "seeds"
    shutil.copytree(ROOT / "seeds", seeds)
    source = yaml.safe_load((ROOT / "seeds" / "sources.yml").read_text())["sources"][0]["id"]
    (seeds / "zz-hostile.yml").write_text(seedparse.dump(hostile_records(source),
                                                         sort_keys=False), encoding="utf-8")
    out = tmp / "imu.db"
    build_db.build(seeds, out, docs=None)  # the hostile claims quote no document
    return out


def get(ds, path):
    return asyncio.run(ds.client.get(path))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Page(HTMLParser):
    """What a browser would make of a page: the text shown, scripts, event-handler attributes."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.text, self.scripts, self.handlers, self.tags = [], [], [], []
        self._in_script = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")
        self.handlers += [(tag, name, value) for name, value in attrs if name.startswith("on")]

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data
        else:
            self.text.append(data)


def assert_inert(html: str, *shown: str) -> None:
    """No hostile markup became a tag, script or handler; `shown` strings appear as text."""
    page = Page(html)
    assert not [s for s in page.scripts if "alert(" in s], "a record's text became a script"
    assert not [h for h in page.handlers if "alert" in (h[2] or "")], page.handlers
    assert not [t for t, attrs in page.tags if t == "svg" or (t == "img" and attrs.get("src") == "x")]
    text = " ".join(" ".join(page.text).split())
    for s in shown:
        assert " ".join(s.split()) in text, f"{s!r} is not shown as text"


# ---------------------------------------------------------------- escaping

def test_hostile_text_is_stored_verbatim(db_path):
    con = sqlite3.connect(db_path)
    assert con.execute("select name, description from groups where id = 'hostile-group'").fetchone() == (SCRIPT, IMG)
    assert con.execute("select title, place, description from events where id = 'hostile-event'").fetchone() \
        == (SCRIPT, IMG, MARK)
    quotes = {r[0] for r in con.execute("select quote from claims where subject_id like 'hostile-%' "
                                        "or subject_id like '%hostile-%'")}
    assert {SCRIPT, IMG, SVG, MARK} <= quotes


@pytest.mark.parametrize("path, shown", [
    ("/imu/groups", [SCRIPT, IMG]),
    ("/imu/groups/hostile-group", [SCRIPT, IMG, SVG, MARK]),
    ("/imu/people/hostile-person", [IMG, SCRIPT, SVG]),
    ("/imu/events/hostile-event", [SCRIPT, IMG, MARK, SVG]),
    ("/imu/events?id=hostile-event", [SCRIPT, IMG]),
    ("/imu/aliases?group_id=hostile-group", [SVG, MARK]),
    ("/imu/claims?subject_id=hostile-group", [MARK, IMG]),
    ("/imu/event_groups?event_id=hostile-event", [SVG]),
    ("/imu/search?q=hostile", []),
    ("/imu/person?person=hostile-person", []),
    ("/imu/groups?_search=alert", [SCRIPT]),
    ("/imu?" + urlencode({"sql": "select name, description from groups where id = 'hostile-group'"}), [SCRIPT, IMG]),
])
def test_hostile_text_is_escaped_in_html(ds, path, shown):
    r = get(ds, path)
    assert r.status_code == 200, r.text[:500]
    for raw in HOSTILE:
        assert raw not in r.text
    assert_inert(r.text, *shown)


def test_search_page_shows_hostile_quote_as_text(ds):
    """The search snippet lets <mark> through as HTML; a record's own <mark ...> must not pass."""
    r = get(ds, "/imu/search?q=alert")
    assert r.status_code == 200
    assert_inert(r.text)
    assert "onmouseover" not in r.text.replace("&lt;mark onmouseover", "")


def test_hostile_text_is_verbatim_in_json(ds):
    row = get(ds, "/imu/groups/hostile-group.json?_shape=array").json()[0]
    assert (row["name"], row["description"]) == (SCRIPT, IMG)
    event = get(ds, "/imu/events.json?_shape=array&id=hostile-event").json()[0]
    assert (event["title"], event["place"], event["description"]) == (SCRIPT, IMG, MARK)
    popup = event["popup"]  # JSON in the API; datasette-cluster-map escapes it when it draws the popup
    assert popup["title"] == SCRIPT
    aliases = get(ds, "/imu/aliases.json?_shape=array&group_id=hostile-group").json()
    assert [(a["alias"], a["note"]) for a in aliases] == [(SVG, MARK)]


# ---------------------------------------------------------------- read-only

WRITES = [
    "delete from events",
    "update groups set name = 'x'",
    "insert into sources (id, title, kind) values ('x', 'x', 'analysis')",
    "replace into sources (id, title, kind) values ('x', 'x', 'analysis')",
    "drop table events",
    "create table x (y)",
    "create temp table x (y)",
    "alter table events add column x",
    "attach database ':memory:' as other",
    "attach database 'file:/tmp/imu-attach-test.db?mode=rwc' as other",
    "detach database imu",
    "vacuum into '/tmp/imu-vacuum-test.db'",
    "pragma writable_schema = 1",
    "pragma user_version = 5",
    "with x as (select 1) delete from events",
    "select 1; drop table events",
    "select load_extension('/tmp/x')",
    "reindex",
    "analyze",
]


@pytest.mark.parametrize("sql", WRITES)
def test_sql_that_writes_or_attaches_is_refused(ds, db_path, sql):
    before = sha256(db_path)
    r = get(ds, "/imu.json?" + urlencode({"sql": sql}))
    assert r.status_code in (400, 403), (r.status_code, r.text[:300])
    assert sha256(db_path) == before
    assert not Path("/tmp/imu-vacuum-test.db").exists() and not Path("/tmp/imu-attach-test.db").exists()


@pytest.mark.parametrize("method, path", [
    ("post", "/imu/events/-/insert"),
    ("post", "/imu/-/create"),
    ("post", "/imu/events/hostile-event/-/delete"),
    ("post", "/imu/search"),  # Datasette 0.65.5 alone answers 500 here (plugins/readonly.py)
    ("post", "/imu/disputes?q=x"),
    ("post", "/imu"),
    ("post", "/-/permissions"),
    ("put", "/imu/events"),
    ("patch", "/imu/events/hostile-event"),
    ("delete", "/imu/events/hostile-event"),
])
def test_only_reading_methods_are_let_in(ds, db_path, method, path):
    before = sha256(db_path)
    r = asyncio.run(getattr(ds.client, method)(path))
    assert r.status_code == 405, (r.status_code, r.text[:300])
    assert sha256(db_path) == before
    assert get(ds, "/imu/events.json?_size=1").status_code == 200


@pytest.mark.parametrize("query", [
    "_timelimit=abc", "_timelimit=-1", "_sort=nonexistent", "_sort_desc=nonexistent", "_sort=title%27",
    "_where=1;drop+table+events", "_where=1=1)", "_size=abc", "_size=-1", "_next=%27", "_shape=nope",
    "_facet=nonexistent", "_facet_array=title", "_facet_date=nonexistent", "_col=nope", "_nocol=nope",
    "_fts_table=nope&_search=x", "_searchmode=raw&_search=NEAR(", "_search=%22", "_search=" + "NEAR(" * 200,
    "_search=" + "a%20" * 3000, "title__glob=" + "*" * 3000, "title__like=" + "%25_" * 2000,
    "id__in=" + ",".join(["x"] * 2000), "title__gt=%27", "_labels=on&_size=max",
])
# A facet that fails leaves Datasette's other facet coroutines unawaited; only a warning.
@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
def test_bad_query_strings_get_4xx_not_500(ds, db_path, query):
    before = sha256(db_path)
    for path in ("/imu/events.json?", "/imu/events?"):
        r = get(ds, path + query)
        assert r.status_code < 500, (path + query, r.status_code, r.text[:300])
    assert sha256(db_path) == before
    assert get(ds, "/imu/events.json?_size=1").status_code == 200


# ---------------------------------------------------------------- limits

RUNAWAY = "with recursive r(n) as (select 1 union all select n + 1 from r) select count(*) from r"


def test_runaway_query_is_cut_off_and_the_server_keeps_answering(db_path, settings, tmp_path):
    """Against the real `datasette serve`: the runaway query errors out near the time limit,
    and while it runs, and after, other pages answer."""
    limit = settings["sql_time_limit_ms"] / 1000
    with datasette_server(db_path, settings, tmp_path) as url, httpx.Client(base_url=url, timeout=30) as client:
        result = {}

        def runaway():
            start = time.monotonic()
            result["response"] = client.get("/imu.json", params={"sql": RUNAWAY})
            result["seconds"] = time.monotonic() - start

        worker = threading.Thread(target=runaway)
        worker.start()
        time.sleep(0.2)  # the runaway query is now running
        start = time.monotonic()
        assert client.get("/imu/groups.json?_shape=array&_size=1").status_code == 200
        assert time.monotonic() - start < limit  # answered while the runaway query ran
        worker.join(30)
        r = result["response"]
        assert r.status_code == 400
        assert "too long" in r.json()["error"].lower()
        assert result["seconds"] < limit + 2
        assert client.get("/").status_code == 200


def test_runaway_query_in_process(ds, settings):
    start = time.monotonic()
    r = get(ds, "/imu.json?" + urlencode({"sql": RUNAWAY}))
    assert r.status_code == 400
    assert time.monotonic() - start < settings["sql_time_limit_ms"] / 1000 + 2
    assert get(ds, "/imu/events.json?_shape=array&_size=1").status_code == 200


def test_arbitrary_sql_returns_at_most_max_returned_rows(ds, settings):
    limit = settings["max_returned_rows"]
    sql = f"with recursive r(n) as (select 1 union all select n + 1 from r where n < {limit * 3}) select n from r"
    body = get(ds, "/imu.json?" + urlencode({"sql": sql})).json()
    assert len(body["rows"]) == limit
    assert body["truncated"] is True


def test_page_size_above_the_limit_is_refused(ds, settings):
    r = get(ds, f"/imu/claims.json?_size={settings['max_returned_rows'] + 1}")
    assert r.status_code == 400


def test_table_pages_are_capped(ds, db_path, settings):
    count = sqlite3.connect(db_path).execute("select count(*) from claims").fetchone()[0]
    rows = get(ds, "/imu/claims.json?_shape=array&_size=max").json()
    assert len(rows) == min(count, settings["max_returned_rows"])
    rows = get(ds, "/imu/claims.json?_shape=array").json()
    assert len(rows) == min(count, settings["default_page_size"])


# ---------------------------------------------------------------- canned queries

HOSTILE_PARAMS = [
    "'; drop table events; --",
    "' or '1'='1",
    '"',
    '""',
    "*",
    "NEAR(",
    "NEAR(a b",
    "-",
    "^",
    "(",
    ")",
    "a OR",
    "AND",
    "col:x",
    "{a b}:c",
    "%",
    "_",
    "\\",
    "'x'",
    "\n:x",
    ":q",
    "?",
    "x" * 5_000,
    "Юлдашев " * 300,
    SCRIPT,
    "",
    " ",
]


def canned_queries(metadata) -> dict[str, dict]:
    return metadata["databases"]["imu"].get("queries", {})


def test_there_are_canned_queries(metadata):
    assert canned_queries(metadata)


def test_canned_query_parameters_are_bound(ds, db_path, metadata):
    """Every canned query, every parameter, every hostile value: HTTP 200, nothing changed;
    search text beyond fold.search_problem's bound gets a 400 that says so."""
    before = sha256(db_path)
    failures = []
    for name, query in canned_queries(metadata).items():
        params = query.get("params") or []
        for value in HOSTILE_PARAMS:
            for chosen in ([params] if params else [[]]) + [[p] for p in params if len(params) > 1]:
                path = f"/imu/{name}.json?" + urlencode({p: value for p in chosen} | {"_shape": "array"})
                r = get(ds, path)
                too_long = "q" in chosen and search_problem(value)
                expected = (400, "q: search text") if too_long else (200, "")
                if (r.status_code, expected[1] in r.text) != (expected[0], True):
                    failures.append((name, chosen, value[:40], r.status_code, r.text[:200]))
    assert failures == []
    assert sha256(db_path) == before
    assert get(ds, "/imu/events.json?_shape=array&_size=1").status_code == 200


@pytest.mark.parametrize("value", [SCRIPT, IMG, SVG])
def test_canned_query_pages_escape_the_parameters_they_echo(ds, metadata, value):
    for name, query in canned_queries(metadata).items():
        params = query.get("params") or []
        r = get(ds, f"/imu/{name}?" + urlencode({p: value for p in params}))
        assert r.status_code == 200, name
        assert value not in r.text, name
        assert_inert(r.text)
