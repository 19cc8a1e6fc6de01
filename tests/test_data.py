"""The curated records themselves: every fact sourced, dated, placed and resolvable."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from conftest import ROOT
from fold import fold

FACT_TABLES = {
    "events": "event_id",
    "memberships": "membership_id",
    "group_relations": "relation_id",
    "event_groups": "event_group_id",
    "event_people": "event_person_id",
}

# Rough bounding boxes (min lat, max lat, min lon, max lon) of the countries events are placed in.
COUNTRY_BOXES = {
    "AF": (29.3, 38.5, 60.5, 74.9),
    "PK": (23.6, 37.1, 60.8, 77.9),
    "UZ": (37.1, 45.6, 55.9, 73.2),
    "TJ": (36.6, 41.1, 67.3, 75.2),
    "KG": (39.1, 43.3, 69.2, 80.3),
    "RU": (41.1, 82.0, 19.6, 180.0),
}


@pytest.mark.parametrize("table,column", FACT_TABLES.items())
def test_every_fact_row_has_a_claim(con, table, column):
    unsupported = con.execute(
        f"select id from [{table}] where id not in (select {column} from claims where {column} is not null)"
    ).fetchall()
    assert [r[0] for r in unsupported] == []


def test_every_claim_supports_exactly_one_existing_fact(con):
    links = ["event_id", "group_id", "person_id", "membership_id", "relation_id",
             "event_group_id", "event_person_id"]
    for row in con.execute(f"select id, subject_type, subject_id, {', '.join(links)} from claims"):
        set_links = [c for c in links if row[c] is not None]
        assert len(set_links) == 1, (row["id"], set_links)
        assert row[set_links[0]] == row["subject_id"]
    assert con.execute("pragma foreign_key_check").fetchall() == []


def test_no_orphan_sources_groups_or_people(con):
    orphans = con.execute(
        "select id from sources where document is null and cited_by_id is null"
    ).fetchall()
    assert orphans == [], "a source must be a document or be cited by one"
    documents = con.execute("select count(*) from sources where document is not null").fetchone()[0]
    assert documents == len(list((ROOT.parent / "shared" / "seeds").glob("*.txt")))
    for table, column in (("groups", "group_id"), ("people", "person_id")):
        lonely = con.execute(f"""
            select id from [{table}] t where not exists (select 1 from claims where {column} = t.id)
              and not exists (select 1 from aliases where {column} = t.id)
              and not exists (select 1 from memberships where {column} = t.id)
              and not exists (select 1 from {'event_groups' if table == 'groups' else 'event_people'}
                              where {column} = t.id)
        """).fetchall()
        if table == "groups":
            lonely = [r for r in lonely if not con.execute(
                "select 1 from group_relations where ? in (group_id, related_group_id)", (r[0],)).fetchone()]
        assert [r[0] for r in lonely] == [], f"{table} linked to nothing"


def test_every_event_has_an_ordered_date_range(con):
    for row in con.execute("select id, date_start, date_end, date_precision, date_text from events"):
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", row["date_start"]), row["id"]
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", row["date_end"]), row["id"]
        assert row["date_start"] <= row["date_end"], row["id"]
        assert row["date_precision"] and row["date_text"], row["id"]


def test_event_coordinates_lie_inside_their_country(con):
    placed = con.execute(
        "select id, country, latitude, longitude, geo_precision from events where latitude is not null"
    ).fetchall()
    assert len(placed) >= 40
    for row in placed:
        assert row["country"] in COUNTRY_BOXES, f"{row['id']}: no box for {row['country']}"
        lat0, lat1, lon0, lon1 = COUNTRY_BOXES[row["country"]]
        assert lat0 <= row["latitude"] <= lat1 and lon0 <= row["longitude"] <= lon1, row["id"]
        assert row["geo_precision"], row["id"]


def test_fatalities_are_ordered_ranges_with_their_wording(con):
    for row in con.execute("select id, fatalities_low, fatalities_high, fatalities_text from events "
                           "where fatalities_low is not null or fatalities_high is not null"):
        if row["fatalities_high"] is not None:
            assert row["fatalities_low"] <= row["fatalities_high"], row["id"]
        assert row["fatalities_text"], row["id"]


def test_every_alias_resolves_to_one_owner_and_folds_to_it(con):
    for row in con.execute("select * from aliases"):
        owners = [row["group_id"], row["person_id"]]
        assert sum(o is not None for o in owners) == 1, row["id"]
        assert row["alias_folded"] == fold(row["alias"])


@pytest.mark.parametrize("spelling", ["Yuldashev", "Yoldashev", "Yo'ldashev", "Yo’ldashev", "Tahir Yuldashev",
                                      "Yo‘ldoshev", "Yuldášev"])
def test_transliterations_reach_one_person(con, spelling):
    owners = {r[0] for r in con.execute(
        "select person_id from aliases where alias_folded like ? and person_id is not null",
        (f"%{fold(spelling)}%",))}
    assert owners == {"tohir-yoldashev"}


def test_disputes_view_lists_both_sides(con):
    rows = con.execute("select dispute_id, position, source_id, quote from disputes").fetchall()
    assert rows
    topics = {r["dispute_id"] for r in rows}
    declared = {r[0] for r in con.execute("select id from dispute_topics")}
    assert topics == declared, f"topics without two sides: {declared - topics}"
    for topic in topics:
        positions = {r["position"] for r in rows if r["dispute_id"] == topic}
        assert len(positions) >= 2, topic
        assert all(r["quote"] for r in rows if r["dispute_id"] == topic)


def test_disputed_claims_say_their_position(con):
    assert con.execute(
        "select count(*) from claims where dispute_id is not null and position is null").fetchone()[0] == 0


HEDGES = re.compile(r"\b(reportedly|allegedly|apparently|were reported|was reported|unconfirmed|"
                    r"is believed|we also believe|speculation|suggested)\b", re.I)


def test_hedged_quotes_are_not_stated_as_fact(con):
    stated = [r["id"] for r in con.execute("select id, quote from claims where certainty = 'stated'")
              if HEDGES.search(r["quote"])]
    assert stated == []


def test_relative_dates_keep_their_wording(con):
    """'last November' in a 2002 statement is resolved to November 2001 and keeps its words."""
    row = con.execute("select date_start, date_end, date_text from events "
                      "where id in (select event_id from claims where quote like '%last November%')").fetchone()
    assert row["date_start"].startswith("2001-11") and "last November" in row["date_text"]


def test_quotes_are_verbatim(db_path):
    tool = ROOT.parent / "shared" / "tools" / "check_quotes.py"
    result = subprocess.run([sys.executable, str(tool), str(db_path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 problems" in result.stdout


def test_corpus_floor(con):
    counts = {t: con.execute(f"select count(*) from [{t}]").fetchone()[0]
              for t in ("events", "groups", "people", "claims")}
    assert counts["events"] >= 40 and counts["groups"] >= 15 and counts["claims"] >= 150, counts
