"""Time told truthfully (spans.py): a report is not an end, and nothing is shown in a year
the records rule out. Checked over the whole database, on the pages and queries that show
a span's time, and on the build's errors for records that contradict their own dates."""
from __future__ import annotations

import calendar
import re
import sqlite3
from pathlib import Path

import pytest

import build_db
import spans
from conftest import ROOT
from test_pages import label, page
from test_queries import rows
from test_validation import BASE, build_errors, line, write_docs

SPANS = ("memberships", "group_relations")


# ---------------------------------------------------------------- the words

@pytest.mark.parametrize("args, words", [
    (("2001-01-01", "2009-08-31", "month", None, None), "2001 – August 2009"),
    ((None, "2009-08-31", "month", None, None), "until August 2009"),  # it ended: "until" is true
    ((None, None, None, "2010-11-11", "2010-11-11"), "reported on 11 November 2010"),
    ((None, None, None, "2015-11-01", "2015-11-30"), "reported in November 2015"),
    ((None, None, None, "2015-08-01", "2015-11-30"), "reported August–November 2015"),
    (("2015-08-02", None, "day", None, None), "from 2 August 2015"),
    (("2015-08-02", None, "day", "2015-08-02", "2015-11-30"), "from 2 August 2015, still so in November 2015"),
    (("2015-01-01", None, "year", "2015-08-01", "2015-08-31"), "from 2015 (reported in August 2015)"),
    (("2001-01-01", None, "years", None, None), "not before 2001"),
    (("2001-01-01", None, "years", "2007-01-01", "2011-11-14"),
     "reported 2007 – 14 November 2011; began no earlier than 2001"),
    ((None, None, None, None, None), "undated"),
])
def test_a_span_in_words(args, words):
    assert spans.phrase(*args) == words


@pytest.mark.parametrize("year, expected", [(1990, None), (1998, "may hold"), (2007, "holds"), (2011, "holds"),
                                            (2012, "may hold"), (2030, "may hold"), ("", None), ("x", None)])
def test_status_of_a_year(year, expected):
    # may hold from 1998, surely held 2007-2011, no end known
    assert spans.status(year, 1998, None, 2007, 2011, 1) == expected


def test_an_undated_span_is_undated_only_while_its_parties_are():
    assert spans.status(1999, 1991, None, None, None, 0) == "undated"
    assert spans.status(1990, 1991, None, None, None, 0) is None
    assert spans.status(2002, None, 2001, None, None, 0) is None


# ---------------------------------------------------------------- the whole database

def month_end(day: str) -> str:
    y, m = int(day[:4]), int(day[5:7])
    return f"{day[:7]}-{calendar.monthrange(y, m)[1]:02d}"


def test_no_span_ends_on_the_day_its_source_was_written(con):
    """A span's date_end is set only where a document says or implies that it ended: never
    merely the day, month or year its source (or the work it cites) was published."""
    found = []
    for table in SPANS:
        column = "membership_id" if table == "memberships" else "relation_id"
        for r in con.execute(f"select id, date_end from {table} where date_end is not null"):
            for (published,) in con.execute(
                    f"select s.published from claims c join sources s on s.id in (c.source_id, c.cited_source_id) "
                    f"where c.{column} = ? and s.published is not null", (r["id"],)):
                if r["date_end"] in (published, month_end(published), published[:4] + "-12-31"):
                    found.append((table, r["id"], r["date_end"], published))
    assert found == []


def test_every_span_is_shown_only_when_its_parties_are(con):
    assert spans.time_problems(con) == []
    for view, _ in spans.SPAN_TABLES.values():
        for r in con.execute(f"select * from {view}"):
            if r["first_year_held"] is not None:
                assert (r["first_year"] or 0) <= r["first_year_held"] <= r["last_year_held"] \
                    <= (r["last_year"] or 9999), dict(r)


def test_what_the_records_place_groups_and_people_from(con):
    """The IMU from its formation (the earliest account, 1991); the Islamic State and the
    IMU's splinter loyal to it from 2015, when the documents first date them; Jamaat
    Ansarullah, "a new group" in 2010, from its Khujand bombing; Mullah Omar died in 2013."""
    placed = dict(con.execute("select id, first_dated from groups"))
    assert placed["imu"].startswith("1991")
    assert placed["islamic-state"][:4] == placed["imu-is-splinter"][:4] == "2015"
    assert placed["jamaat-ansarullah"][:4] == "2010"
    assert placed["northern-alliance"] is None  # no dated record of it at all
    died = dict(con.execute("select id, died_by from people where died_by is not null"))
    assert died == {"juma-namangani": "2001-11-30", "tohir-yoldashev": "2009-08-31", "mullah-omar": "2013-12-31"}


# ---------------------------------------------------------------- the questions

def leaders(ds, year):
    return {r["label"].split(",")[0]: r["status"] for r in rows(ds, "as_of", group="imu", year=year)
            if r["kind"] == "role" and ", leader of " in r["label"]}


def test_who_led_the_imu_in_a_given_year(ds):
    """Namangani led until his death in late 2001 and Yoldashev until his in August 2009;
    Usmon Odil was "reportedly" the new leader in November 2010 and Usman Ghazi is reported
    as leader in 2015. Neither is said to have stopped, so both may lead in 2011."""
    assert leaders(ds, 2001) == {"Juma Namangani": "holds", "Tohir Yoldashev": "may hold",
                                 "Usman Ghazi": "may hold"}
    assert leaders(ds, 2010) == {"Usmon Odil": "holds", "Usman Ghazi": "may hold"}
    assert leaders(ds, 2011) == {"Usmon Odil": "may hold", "Usman Ghazi": "may hold"}
    assert leaders(ds, 2015) == {"Usmon Odil": "may hold", "Usman Ghazi": "holds"}
    assert leaders(ds, 1990) == {}  # before the IMU


def test_which_ties_may_still_hold_after_2015(ds, con):
    """No document is dated after 2015, so every tie that did not end may still hold in 2016;
    the ended ones (the Pakistani Taliban's hosting, the Zabul fighting) do not."""
    after = {r["link"].rsplit("/", 1)[1] for r in rows(ds, "as_of", group="imu", year=2016) if r["kind"] == "relation"}
    ended = {r["id"] for r in con.execute("select id from group_relations where date_end < '2016-01-01'")}
    involved = {r["id"] for r in con.execute(
        "select id from group_relations where 'imu' in (group_id, related_group_id)")}
    assert after == involved - ended
    assert {"imu-ally-taliban", "imu--pledged-allegiance-to--islamic-state", "jamaat-ansarullah--affiliate--imu"} <= after
    assert "imu--hosted-by--pakistani-taliban" not in after


def test_as_of_names_each_role_and_tie_as_its_record_does(ds, con):
    """A relation reads 'X allied with Y', 'X a splinter of Y', a role 'P, deputy leader of G',
    in the words of the record's own page (labels.LABELS), for every group."""
    for (group,) in con.execute("select id from groups"):
        for r in rows(ds, "as_of", group=group, year=""):
            table, id = r["link"].split("/")[2:]
            assert r["label"] == label(con, table, id), r["link"]


@pytest.mark.parametrize("year", range(1989, 2018))
def test_the_network_shows_no_tie_before_the_records_place_it(ds, con, year):
    """In every year: a tie is shown only from the first year its dates and its groups allow,
    as relation_years says, and the Islamic State and the 2015 splinter not before 2015."""
    shown = {r["id"]: r for r in rows(ds, "network", year=year)}
    allowed = {r["id"] for r in con.execute(
        "select id from relation_years where coalesce(first_year, 0) <= ? and ? <= coalesce(last_year, 9999)",
        (year, year))}
    assert set(shown) == allowed
    late = {"islamic-state", "imu-is-splinter"}
    if year < 2015:
        assert not any(late & {r["group_id"], r["related_group_id"]} for r in shown.values())


@pytest.mark.parametrize("year", [1991, 2000])
def test_the_network_of_1991_and_2000_against_sql(ds, con, year):
    """What a reader can check by hand: in 1991 only undated ties of the newly formed IMU and
    Uzbekistan's clampdown; in 2000 the IMU's Taliban and al-Qaeda ties, not the Islamic
    State's, not Jamaat Ansarullah's."""
    got = {r["id"]: r["status"] for r in rows(ds, "network", group="imu", year=year)}
    if year == 1991:
        assert got == {"uzbekistan-government--fought-against--imu": "may hold",
                       "imu--affiliate--transnational-salafi-jihad": "undated",
                       "islamic-jihad-union--splinter-of--imu": "undated"}
    else:
        assert got["imu-hosted-by-taliban-1998"] == "holds" and got["imu--ally--al-qaeda"] == "holds"
        assert not any("islamic-state" in r or "jamaat" in r or "imu-is-splinter" in r for r in got)


# ---------------------------------------------------------------- one wording everywhere

def test_every_page_and_query_says_a_span_the_same_way(ds, con):
    """The record page, its group's page, the table page and the canned queries all give a
    span's time in spans.phrase's words, and never "until" for a span that did not end."""
    imu = page(ds, "/imu/groups/imu")
    relations = {r["link"].rsplit("/", 1)[1]: r["date"] for r in rows(ds, "relations", group="imu")}
    network = {r["id"]: r["date"] for r in rows(ds, "network")}
    as_of = {r["link"].rsplit("/", 1)[1]: r["date"] for r in rows(ds, "as_of", group="imu", year="")}
    person = {r["link"].rsplit("/", 1)[1]: r["date"] for r in rows(ds, "person", person="usmon-odil")}
    for table in SPANS:
        for r in con.execute(f"select * from {table}"):
            words = spans.row_phrase(r)
            if r["date_end"] is None:
                assert "until" not in words, (r["id"], words)
            record = page(ds, f"/imu/{table}/{r['id']}")
            assert f'<dd class="imu-field-date_start">{words} <span class="imu-raw">' in record, r["id"]
            cell = page(ds, f"/imu/{table}?id={r['id']}")
            assert f">{words}</span>" in cell, r["id"]
            if "imu" in (r["group_id"], r["related_group_id"] if table == "group_relations" else None):
                assert f"· {words}</span>" in imu, r["id"]
                assert as_of[r["id"]] == words
                if table == "group_relations":
                    assert relations[r["id"]] == words
            if table == "group_relations":
                assert network[r["id"]] == words
    assert person["usmon-odil--imu--leader"] == "reported on 11 November 2010; began no earlier than August 2009"
    assert "until 11 November 2010" not in imu


def test_table_pages_sort_spans_in_time(ds, con):
    """The date column is time_order, said in words: undated rows first, then in time."""
    html = page(ds, "/imu/memberships?_size=max")
    ids = re.findall(r'<td class="col-id[^"]*"[^>]*><a href="/imu/memberships/([^"]+)"', html)
    expected = [r[0] for r in con.execute(
        "select id from memberships order by time_order is not null, time_order, id")]
    assert ids == expected


# ---------------------------------------------------------------- the build's errors

SPAN = """\
memberships:
  - person: per
    group: grp
    role: leader
{fields}
    claims:
      - {{source: src, quote: A group exists., statement: The person led it., certainty: stated}}
"""


def span_errors(tmp_path, monkeypatch, fields: str, extra: dict | None = None):
    text = SPAN.format(fields=fields)
    return text, build_errors(tmp_path, monkeypatch, {"spans.yml": text, **(extra or {})})


@pytest.mark.parametrize("fields, field, message", [
    ("    date_start: 2015-07\n    date_end: 2015-11\n    date_precision: year", "date_precision",
     "'year' is coarser than the dates: date_start is written to the month and date_end is written to the "
     "month; use 'month', or 'season', or 'years' if they are rough bounds"),
    ("    date_start: 2015\n    date_end: 2016\n    date_precision: day", "date_precision",
     "'day' says the dates are known to the day, but date_start is written to the year and date_end is "
     "written to the year: use 'year', or 'years' if they are rough bounds"),
    ("    date_start: 2007-12\n    date_precision: years\n    reported_start: 2007-11", "reported_start",
     "a document shows it in force by 2007-11-30, before date_start 2007-12-01, the earliest it can have begun"),
    ("    date_end: 2009\n    date_precision: year\n    reported_end: 2010-03", "reported_end",
     "a document shows it in force from 2010-03-01, after date_end 2009-12-31, the latest it can have ended"),
    ("    reported_start: 2011\n    reported_end: 2010", "reported_end", "2010-12-31 is before reported_start 2011-01-01"),
])
def test_a_span_that_contradicts_its_dates_is_refused(tmp_path, monkeypatch, fields, field, message):
    text, errors = span_errors(tmp_path, monkeypatch, fields)
    assert errors == [f"seeds/spans.yml:{line(text, field + ':', after='')}: memberships[0].{field}: {message}"]


def test_a_report_within_its_unit_is_no_contradiction(tmp_path):
    """Reported "in 2007" and begun in December 2007: it held at some time in 2007."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "base.yml").write_text(BASE)
    (seeds / "spans.yml").write_text(SPAN.format(
        fields="    date_start: 2007-12\n    date_precision: month\n    reported_start: 2007\n    reported_end: 2010-11"))
    out = tmp_path / "imu.db"
    build_db.build(seeds, out, docs=write_docs(tmp_path))
    r = sqlite3.connect(out).execute("select reported_start, reported_end, time_order from memberships").fetchone()
    assert r == ("2007-01-01", "2010-11-30", "2007-12-01")


DEATH = """\
events:
  - id: ev-death
    title: A death
    event_type: death
    date_start: 2009-08
    date_end: 2009-08
    date_precision: month
    description: The person died.
    people:
      - person: per
        role: killed
        claims:
          - {source: src, quote: Something happened., statement: The person died., certainty: stated}
    claims:
      - {source: src, quote: Something happened., statement: The person died., certainty: stated}
"""
FORMATION = DEATH.replace("ev-death", "ev-formed").replace("event_type: death", "event_type: formation") \
    .replace("    people:\n      - person: per\n        role: killed", "    groups:\n      - group: grp\n        role: subject")


def test_a_role_reported_after_its_holder_died_is_refused(tmp_path, monkeypatch):
    text, errors = span_errors(tmp_path, monkeypatch, "    reported_end: 2010-11-11", {"death.yml": DEATH})
    assert errors == [f"seeds/spans.yml:{line(text, '- person:', after='')}: memberships[0].reported_start: "
                      "shown in force from 2010-11-11, after A person died (by 2009-08-31, by the record of the death)"]


def test_a_role_ended_before_its_group_was_formed_is_refused(tmp_path, monkeypatch):
    text, errors = span_errors(tmp_path, monkeypatch, "    date_end: 2001\n    date_precision: year",
                               {"formed.yml": FORMATION})
    assert errors == [f"seeds/spans.yml:{line(text, '- person:', after='')}: memberships[0].date_end: "
                      "ended by 2001-12-31, before 2009-08-01, the earliest day of the formation of A group"]


# ---------------------------------------------------------------- the build, again

def test_a_rebuild_that_moves_a_formation_gives_the_full_builds_database(tmp_path, monkeypatch):
    """groups.first_dated is derived from other files' records: when the IMU's formation moves,
    an incremental rebuild updates it (and the groups' search index) as a full build does."""
    import shutil

    from test_bench import dump

    seeds = tmp_path / "seeds"
    shutil.copytree(ROOT / "seeds", seeds)
    out = tmp_path / "imu.db"
    build_db.build(seeds, out)
    events = seeds / "events-1991-2001.yml"
    text = events.read_text()
    assert text.count("    date_start: 1991-12-26\n") == 1
    events.write_text(text.replace("    date_start: 1991-12-26\n", "    date_start: 1992-01-01\n"))

    def no_full_build(*args, **kwargs):
        raise AssertionError("the rebuild loaded everything instead of updating")

    with monkeypatch.context() as patched:
        patched.setattr(build_db, "load", no_full_build)
        build_db.build(seeds, out)
    full = tmp_path / "full.db"
    build_db.build(seeds, full, cache=False)
    assert sqlite3.connect(out).execute("select first_dated from groups where id = 'imu'").fetchone() == ("1992-01-01",)
    assert dump(out) == dump(full)


def test_a_span_dated_only_by_its_end_bounds_nothing(tmp_path):
    """A role that ended by 1999 shows its group in being at some time before then, so an
    event of the group in 2001 does not place the group from 2001: it has no first date."""
    from test_validation import events

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "base.yml").write_text(BASE)
    (seeds / "events.yml").write_text(events())
    out = tmp_path / "imu.db"
    build_db.build(seeds, out, docs=write_docs(tmp_path))
    assert sqlite3.connect(out).execute("select first_dated from groups").fetchone() == ("2001-02-03",)
    (seeds / "spans.yml").write_text(SPAN.format(fields="    date_end: 1999\n    date_precision: year"))
    build_db.build(seeds, out, docs=write_docs(tmp_path))
    con = sqlite3.connect(out)
    assert con.execute("select first_dated from groups").fetchone() == (None,)
    assert con.execute("select first_year, last_year from membership_years").fetchone() == (None, 1999)
