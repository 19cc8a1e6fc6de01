"""The data behind the network and the events chart (metadata.yml `network`,
`relation_claims`, `events_per_year`; plugins/pictures.py), checked against the records
worked out here in Python. The browser tests are in tests/test_pictures_browser.py."""
from __future__ import annotations

import calendar
import datetime
import sqlite3
from collections import defaultdict

import pytest
from datasette.utils import module_from_path

from conftest import ROOT
from schema import RELATIONS
from test_queries import get, rows

pictures = module_from_path(str(ROOT / "plugins" / "pictures.py"), name="pictures.py")


# ---------------------------------------------------------------- what a relation's dates allow

def day(text):
    return datetime.date.fromisoformat(text) if text else None


def last_of_month(d: datetime.date) -> datetime.date:
    return d.replace(day=calendar.monthrange(d.year, d.month)[1])


def first_dated(con) -> dict[str, datetime.date]:
    """When the records place each group in being: the earliest day of its formation, else
    the earliest date of its dated records (events; spans by date_start or reported_start)."""
    formations, earliest = defaultdict(list), defaultdict(list)
    for g, start, formation in con.execute(
            "select x.group_id, e.date_start, e.event_type = 'formation' and x.role = 'subject' "
            "from event_groups x join events e on e.id = x.event_id"):
        (formations if formation else earliest)[g].append(day(start))
    for table, columns in (("memberships", ("group_id",)), ("group_relations", ("group_id", "related_group_id"))):
        for r in con.execute(f"select * from {table}"):
            dates = [day(d) for d in (r["date_start"], r["reported_start"]) if d]
            if not dates and r["date_end"]:  # some time before its end: no bound at all
                dates = [datetime.date.min]
            for c in columns:
                earliest[r[c]].extend(dates)
    placed = {g: min(formations[g]) if formations[g] else min(earliest[g])
              for g in set(formations) | set(earliest) if formations[g] or earliest[g]}
    return {g: d for g, d in placed.items() if d != datetime.date.min}


def status_in(r, year: int, placed: dict) -> str | None:
    """holds / may hold / undated / None (the records rule the year out), from the relation's
    dates, its reports and when the records place its groups: its start lies between
    date_start and the end of date_start's unit, its end between the start of date_end's
    unit and date_end (coarser than a year: unknown); it held at some time in each report's
    unit and so between them; it cannot hold before its groups are placed in being."""
    start, end, precision = day(r["date_start"]), day(r["date_end"]), r["date_precision"]
    reported = day(r["reported_start"]), day(r["reported_end"])
    first, last = datetime.date(year, 1, 1), datetime.date(year, 12, 31)
    bounds = [d for d in (start, placed.get(r["group_id"]), placed.get(r["related_group_id"])) if d]
    if (bounds and max(bounds) > last) or (end and end < first):
        return None
    week = datetime.timedelta(days=6)
    start_latest = end_earliest = None
    if start and precision in ("day", "days", "week", "month", "season", "year"):
        start_latest = {"day": start, "days": start + week, "week": start + week,
                        "month": last_of_month(start),
                        "season": last_of_month(start.replace(month=(start.month + 1) % 12 + 1,
                                                              year=start.year + (start.month > 10))),
                        "year": start.replace(month=12, day=31)}[precision]
    if end and precision in ("day", "days", "week", "month", "season", "year"):
        end_earliest = {"day": end, "days": end - week, "week": end - week, "month": end.replace(day=1),
                        "season": (end.replace(day=1) - datetime.timedelta(days=40)).replace(day=1),
                        "year": end.replace(month=1, day=1)}[precision]
    begun_by = min([d for d in (start_latest, reported[0], end) if d], default=None)
    lasted_to = max([d for d in (end_earliest, reported[1], start) if d], default=None)
    if begun_by and lasted_to and begun_by.year <= year <= lasted_to.year:
        return "holds"
    return "may hold" if start or end or reported[0] else "undated"


def expected_network(con, year: int, near: set | None = None) -> dict[str, str]:
    found, placed = {}, first_dated(con)
    for r in con.execute("select * from group_relations"):
        if near is not None and not (r["group_id"] in near and r["related_group_id"] in near):
            continue
        status = status_in(r, year, placed)
        if status:
            found[r["id"]] = status
    return found


def neighbourhood(con, group: str) -> set:
    near = {group}
    for a, b in con.execute("select group_id, related_group_id from group_relations"):
        if group in (a, b):
            near |= {a, b}
    return near


def test_hand_checked_statuses(ds):
    """Read off the records by hand. The IMU-Taliban alliance is reported from 1998 (the Small
    Wars Journal notes) to November 2015, so it held in 2000 and 2015; the IMU's 2 August
    2015 statement makes it the Taliban's rival in 2015 for certain. Jamaat Ansarullah, "a new
    group" in November 2010, is first dated in 2010: its alleged ties to the IMU, reported in
    November 2010, hold that year, may hold later (a report is not an end) and are not shown
    in 2000. The Islamic State and the IMU's 2015 splinter appear only from 2015."""
    def status(year, relation):
        return {r["id"]: r["status"] for r in rows(ds, "network", group="imu", year=year)}.get(relation)

    assert status(2000, "imu-ally-taliban") == "holds"
    assert status(2015, "imu-ally-taliban") == "holds"
    assert status(2015, "imu--rival--taliban") == "holds"
    assert status(2014, "imu--rival--taliban") is None
    assert status(2000, "jamaat-ansarullah--affiliate--imu") is None
    assert status(2010, "jamaat-ansarullah--affiliate--imu") == "holds"
    assert status(2012, "jamaat-ansarullah--affiliate--imu") == "may hold"
    assert status(1997, "imu-hosted-by-taliban-1998") is None
    assert status(1999, "imu--ally--al-qaeda") == "holds"
    assert status(1997, "imu--ally--al-qaeda") is None
    assert status(2012, "imu--ally--al-qaeda") == "may hold"
    assert status(2015, "taliban--fought-against--imu-is-splinter") == "holds"
    assert status(2014, "taliban--fought-against--imu-is-splinter") is None
    for year in (1991, 2000, 2014):
        assert status(year, "imu--pledged-allegiance-to--islamic-state") is None
        assert status(year, "imu--part-of--islamic-state") is None
        assert status(year, "imu--ally--islamic-state") is None
        assert status(year, "imu-is-splinter--splinter-of--imu") is None
    assert status(2015, "imu--pledged-allegiance-to--islamic-state") == "holds"
    assert status(2016, "imu--pledged-allegiance-to--islamic-state") == "may hold"
    assert status(1999, "islamic-jihad-union--splinter-of--imu") == "undated"
    assert status(1990, "islamic-jihad-union--splinter-of--imu") is None  # before the IMU


@pytest.mark.parametrize("year", [1991, 1997, 1998, 2000, 2001, 2007, 2008, 2010, 2014, 2015])
def test_network_matches_the_dates(ds, con, year):
    got = {r["id"]: r["status"] for r in rows(ds, "network", year=year)}
    assert got == expected_network(con, year)
    focused = {r["id"]: r["status"] for r in rows(ds, "network", group="Islamic Movement of Uzbekistan", year=year)}
    assert focused == expected_network(con, year, neighbourhood(con, "imu"))


def test_blank_year_gives_every_relation(ds, con):
    got = rows(ds, "network")
    assert len(got) == con.execute("select count(*) from group_relations").fetchone()[0]
    undated = {r["id"] for r in con.execute("select id from group_relations where date_start is null and date_end is null "
                                             "and reported_start is null")}
    assert {r["id"] for r in got if r["status"] == "undated"} == undated
    assert {r["status"] for r in got} == {"dated", "undated"}


@pytest.mark.parametrize("spelling", ["imu", "IMU", "Islamic Movement of Uzbekistan", "O'zbekiston Islomiy Harakati"])
def test_any_spelling_centres_on_the_group(ds, con, spelling):
    if not con.execute("select 1 from aliases where alias = ? union select 1 from groups where id = ? or name = ?",
                       (spelling, spelling, spelling)).fetchone():
        pytest.skip(f"no record spells it {spelling!r}")
    got = rows(ds, "network", group=spelling, year="2001")
    assert got and {r["id"] for r in got} == set(expected_network(con, 2001, neighbourhood(con, "imu")))


def test_disputed_relations_are_marked(ds, con):
    disputed = {r[0] for r in con.execute("select distinct relation_id from claims where relation_id is not null "
                                          "and dispute_id is not null")}
    assert disputed
    got = rows(ds, "network")
    assert {r["id"] for r in got if r["disputed"]} == disputed


def test_relation_claims_are_its_quotes(ds, con):
    for relation in ("imu-ally-taliban", "jamaat-ansarullah--affiliate--imu"):
        got = rows(ds, "relation_claims", relation=relation)
        quotes = {r[0] for r in con.execute("select quote from claims where relation_id = ?", (relation,))}
        assert quotes and {r["quote"] for r in got} == quotes
        assert all(r["source"] and r["certainty"] and r["link"].startswith("/imu/claims/") for r in got)
    assert rows(ds, "relation_claims", relation="no-such-relation") == []


def test_every_relation_type_has_its_own_look():
    styles = pictures.RELATION_STYLES
    assert set(styles) == set(RELATIONS)
    assert len({c for c, _ in styles.values()}) == len(RELATIONS)
    assert len({a for _, a in styles.values()}) == len(RELATIONS)


# ---------------------------------------------------------------- events per year

def expected_events(con, group: str | None = None, country: str | None = None) -> dict:
    """{(year, type): (dated within the year, share of wider events, wider events)}."""
    sql = "select * from events e where 1"
    args = []
    if group:
        sql += " and id in (select event_id from event_groups where group_id = ?)"
        args.append(group)
    if country:
        sql += " and country = ?"
        args.append(country)
    found = defaultdict(lambda: [0, 0.0, 0])
    for e in con.execute(sql, args):
        start, end = day(e["date_start"]), day(e["date_end"])
        if start.year == end.year:
            found[(start.year, e["event_type"])][0] += 1
            continue
        days = (end - start).days + 1
        for year in range(start.year, end.year + 1):
            inside = (min(end, datetime.date(year, 12, 31)) - max(start, datetime.date(year, 1, 1))).days + 1
            cell = found[(year, e["event_type"])]
            cell[1] += inside / days
            cell[2] += 1
    return {k: (v[0], round(v[1], 2), v[2]) for k, v in found.items()}


@pytest.mark.parametrize("params", [{}, {"group": "imu"}, {"group": "IMU", "country": "uz"}, {"country": "TJ"}])
def test_events_per_year_match_the_records(ds, con, params):
    got = {(r["year"], r["event_type"]): (r["dated_in_year"], r["share_of_wider"], r["wider"])
           for r in rows(ds, "events_per_year", **params)}
    group = "imu" if params.get("group") else None
    want = expected_events(con, group, (params.get("country") or "").upper() or None)
    assert got and set(got) == set(want)
    for key, (dated, share, wider) in want.items():
        assert got[key][0] == dated and got[key][2] == wider, key
        assert got[key][1] == pytest.approx(share, abs=0.011), key


def test_each_event_counts_once_in_all(ds, con):
    total = sum(r["events"] for r in rows(ds, "events_per_year"))
    assert total == pytest.approx(con.execute("select count(*) from events").fetchone()[0], abs=0.5)


@pytest.mark.parametrize("params", [{"country": "UZ"}, {"group": "IMU", "country": "uz"}, {"group": "taliban"}])
def test_a_bar_links_to_its_events(ds, con, params):
    """The link lists every event whose range reaches into the year, dated there or wider:
    the events table filtered, or for a group its timeline."""
    found = rows(ds, "events_per_year", **params)
    assert found
    for r in found:
        path, query = r["link"].split("?", 1)
        assert path == ("/imu/timeline" if params.get("group") else "/imu/events")
        linked = get(ds, f"{path}.json?{query}&_shape=array&_size=max").json()
        assert len(linked) == r["dated_in_year"] + r["wider"], r
        if path == "/imu/events":
            assert {e["event_type"] for e in linked} == {r["event_type"]}
            assert {e["country"] for e in linked} == {params["country"]}
        else:
            assert {e["event_type"] for e in linked} == {r["event_type"]}


# ---------------------------------------------------------------- the pages

@pytest.mark.parametrize("path", ["/", "/about", "/imu/groups/imu", "/imu/groups/taliban"])
def test_pages_link_to_the_pictures(ds, path):
    html = get(ds, path).text
    assert "/imu/network" in html and "/imu/events_per_year" in html


def test_picture_pages_carry_their_data_urls_and_fallback_table(ds):
    html = get(ds, "/imu/network", group="Taliban", year="2001").text
    assert 'data-data="/imu/network.json"' in html and 'data-claims="/imu/relation_claims.json"' in html
    assert 'data-focus="taliban"' in html
    assert "<table" in html and "hidden" in html.split('id="imu-network"')[1].split(">")[0]
    html = get(ds, "/imu/events_per_year", country="TJ").text
    assert 'data-data="/imu/events_per_year.json"' in html and "<table" in html


def test_the_year_control_spans_every_dated_year(ds, con):
    """Every year any event, relation or quoted document falls in."""
    years = [int(y) for (y,) in con.execute(
        "select substr(date_start, 1, 4) from events union select substr(date_end, 1, 4) from events "
        "union select substr(date_start, 1, 4) from group_relations union select substr(date_end, 1, 4) "
        "from group_relations union select substr(published, 1, 4) from sources where document is not null")
        if y]
    html = get(ds, "/imu/network").text
    assert f'data-first-year="{min(years)}" data-last-year="{max(years)}"' in html


def test_the_year_span_reads_the_ends_of_the_date_indexes_not_every_event(con):
    """Its cost must not grow with the events (a scan took 35 ms at 100,000): SQLite's
    virtual-machine steps are counted for 10 events and for 20,000."""
    schema = [sql for (sql,) in con.execute(
        "select sql from sqlite_master where tbl_name in ('events', 'group_relations', 'sources') "
        "and type in ('table', 'index') and sql is not null")]

    def steps(n_events):
        mem = sqlite3.connect(":memory:")
        for sql in schema:
            mem.execute(sql)
        mem.executemany("insert into events (id, title, event_type, date_start, date_end, date_precision, "
                        "country, description) values (?, 't', 'attack', ?, ?, 'day', 'UZ', 'd')",
                        [(f"e{i}", f"{1990 + i % 30}-01-01", f"{1990 + i % 30}-01-02") for i in range(n_events)])
        counted = []
        mem.set_progress_handler(lambda: counted.append(1), 100)
        assert mem.execute(pictures.YEARS).fetchone() == ("1990", str(1990 + min(n_events, 30) - 1))
        return len(counted)

    assert steps(20_000) <= steps(10) + 1


@pytest.mark.parametrize("name", ["cytoscape.min.js", "d3.min.js", "plot.umd.min.js", "network.js", "chart.js"])
def test_scripts_are_served_by_the_site(ds, name):
    r = get(ds, f"/-/static-plugins/imu/{name}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert get(ds, "/-/static-plugins/imu/nothing.js").status_code == 404


def test_the_stylesheet_is_served_beside_them(ds):
    r = get(ds, "/-/static-plugins/imu/site.css")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/css")
    assert r.content == (ROOT / "plugins" / "site.css").read_bytes()
    assert "/-/static-plugins/imu/site.css" in get(ds, "/").text


def test_scripts_never_hard_code_the_database_url():
    from conftest import ROOT

    for name in ("network.js", "chart.js"):
        assert "/imu" not in (ROOT / "plugins" / name).read_text()


def test_data_urls_follow_hashed_routes(hashed, route):
    """Published with content-hashed URLs, the page names the hashed data URLs, and they answer."""
    html = get(hashed, f"/{route}/network", group="imu").text
    assert f'data-data="/{route}/network.json"' in html and f'data-claims="/{route}/relation_claims.json"' in html
    assert get(hashed, f"/{route}/network.json", group="imu", year="2000", _shape="array").json()
    html = get(hashed, f"/{route}/events_per_year").text
    assert f'data-data="/{route}/events_per_year.json"' in html
