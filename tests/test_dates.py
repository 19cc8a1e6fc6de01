"""Dates read as their precision says (dates.py): in words, in SQL, in popups and canned queries."""
from __future__ import annotations

import asyncio
import json
import re

import pytest

from dates import DASH, date_phrase

ISO = re.compile(r"\d{4}-\d{2}")  # 1991-01-01, and any 1991-01 left of one


@pytest.mark.parametrize("start, end, precision, phrase", [
    # a whole unit
    ("1999-01-01", "1999-12-31", "year", "1999"),
    ("1999-02-01", "1999-02-28", "month", "February 1999"),
    ("2000-02-01", "2000-02-29", "month", "February 2000"),
    ("1999-02-16", "1999-02-16", "day", "16 February 1999"),
    ("1990-01-01", "1999-12-31", "decade", "the 1990s"),
    ("1990-01-01", "1999-12-31", "years", "the 1990s"),
    ("1998-01-01", "1998-12-31", "years", "1998"),  # a span that is one whole year
    # spans
    ("1992-01-01", "1997-12-31", "years", f"1992{DASH}1997"),
    ("2001-03-01", "2001-05-31", "season", f"March{DASH}May 2001"),
    ("1999-02-16", "1999-02-18", "days", f"16{DASH}18 February 1999"),
    ("2010-09-22", "2010-11-11", "season", f"22 September {DASH} 11 November 2010"),
    ("2010-08-01", "2010-11-11", "season", f"1 August {DASH} 11 November 2010"),
    ("1992-01-01", "1992-04-30", "season", f"January{DASH}April 1992"),
    ("2014-03-01", "2015-11-30", "years", f"March 2014 {DASH} November 2015"),
    ("2001-01-01", "2007-11-30", "years", f"2001 {DASH} November 2007"),
    ("2007-12-01", "2009-12-31", "years", f"December 2007 {DASH} 2009"),
    ("1999-01-01", "2002-09-25", "years", f"1999 {DASH} 25 September 2002"),
    ("1991-12-26", "1999-12-31", "years", f"26 December 1991 {DASH} 1999"),
    ("1999-02-15", "1999-02-21", "week", f"the week of 15{DASH}21 February 1999"),
    # one unknown point in a range wider than its unit
    ("2010-08-20", "2010-12-31", "day", "between 20 August and 31 December 2010"),
    ("2010-01-01", "2010-06-14", "year", "between 1 January and 14 June 2010"),
    ("2013-01-01", "2013-06-30", "year", "between January and June 2013"),
    ("1999-02-03", "1999-02-09", "day", "between 3 and 9 February 1999"),
    ("1998-01-01", "1999-12-31", "year", "between 1998 and 1999"),
    ("2001-11-01", "2002-02-28", "month", "between November 2001 and February 2002"),
    # open ends
    (None, "2009-08-31", "month", "until August 2009"),
    (None, "2010-11-11", "day", "until 11 November 2010"),
    (None, "2001-12-31", "season", "until 2001"),
    ("2013-01-01", None, "years", "from 2013"),
    ("2015-07-01", None, "month", "from July 2015"),
    ("2015-08-02", None, "day", "from 2 August 2015"),
    # no date, or no precision
    (None, None, None, "undated"),
    (None, None, "year", "undated"),
    ("", "", "", "undated"),
    ("1992-01-01", "2009-08-31", None, "undated: between 1992 and August 2009"),
    ("1992-01-01", "2009-08-31", "", "undated: between 1992 and August 2009"),
    (None, "2009-08-31", None, "undated: until August 2009"),
    ("2013-01-01", None, "", "undated: from 2013"),
    ("1999-01-01", "1999-12-31", None, "undated: within 1999"),
])
def test_date_phrase(start, end, precision, phrase):
    assert date_phrase(start, end, precision) == phrase


def test_reversed_bounds_and_odd_values_still_read():
    assert date_phrase("1997-12-31", "1992-01-01", "years") == f"1992{DASH}1997"
    assert date_phrase("1999", None, "year") == "undated: 1999"  # not an ISO day: said as given
    assert date_phrase(" 1999-02-16 ", "1999-02-16", "DAY") == "16 February 1999"


FACT_TABLES = ("events", "memberships", "group_relations")


@pytest.mark.parametrize("table", FACT_TABLES)
def test_every_real_date_reads_in_words(con, table):
    for row in con.execute(f"select id, date_start, date_end, date_precision from {table}"):
        phrase = date_phrase(row["date_start"], row["date_end"], row["date_precision"])
        assert phrase and not ISO.search(phrase), (table, row["id"], phrase)
        assert ".." not in phrase and "None" not in phrase, (table, row["id"], phrase)
        if row["date_start"] and row["date_end"] and row["date_precision"]:
            years = {row["date_start"][:4], row["date_end"][:4]}
            assert all(y in phrase for y in years) or phrase.startswith("the "), (table, row["id"], phrase)


def test_whole_year_events_are_just_the_year(con):
    events = con.execute("""select * from events where date_precision = 'year'
        and substr(date_start, 6) = '01-01' and substr(date_end, 6) = '12-31'
        and substr(date_start, 1, 4) = substr(date_end, 1, 4)""").fetchall()
    assert events
    for e in events:
        assert date_phrase(e["date_start"], e["date_end"], "year") == e["date_start"][:4]


def test_popups_say_the_date_in_words(con):
    for e in con.execute("select * from events"):
        description = json.loads(e["popup"])["description"]
        assert description.startswith(date_phrase(e["date_start"], e["date_end"], e["date_precision"]))
        assert not ISO.search(description.split(" · ")[0].replace(e["date_text"] or "", ""))


def get(ds, path, **params):
    return asyncio.run(ds.client.get(path, params=params or None))


def test_date_phrase_is_an_sql_function(ds):
    data = get(ds, "/imu.json", _shape="array",
               sql="select date_phrase('1999-02-01', '1999-02-28', 'month') as a, "
                   "date_phrase(null, null, null) as b").json()
    assert data == [{"a": "February 1999", "b": "undated"}]


@pytest.mark.parametrize("query, params, raw", [
    ("timeline", {"group": "imu"}, ("date_start", "date_end", "date_text")),
    ("person", {"person": "tohir-yoldashev"}, ("date_start", "date_end", "date_text")),
    ("relations", {"group": "imu"}, ("date_start", "date_end", "date_text")),
    ("events_map", {}, ("date_text",)),
    ("claims_by_source", {}, ("fact_date",)),
])
def test_canned_queries_give_the_date_in_words_beside_the_raw_columns(ds, query, params, raw):
    data = get(ds, f"/imu/{query}.json", _shape="array", **params).json()
    assert data
    for row in data:
        assert set(raw) <= set(row)
        if row["date"] is not None:
            assert not ISO.search(row["date"]), (query, row)
    assert any(row["date"] for row in data)
    if "date_start" in raw:
        for row in data:
            if row["date_start"] or row["date_end"]:
                assert row["date"] and row["date"] != "undated", (query, row)
