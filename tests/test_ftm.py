"""The release's FollowTheMoney entities (ftm_export.py): every line loads with FtM's own
model and validates, one entity per group, person, membership, relation, event and party
to an event, with names, dates, sources and links as the README says."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from followthemoney import model

import ftm_export
from test_release import readme_snippets, release

BASE = "https://imu.example.org"


@pytest.fixture(scope="module")
def entities(db_path, tmp_path_factory) -> dict[str, dict]:
    folder = release(db_path, tmp_path_factory.mktemp("ftm"), "--base-url", BASE + "/", "--no-validate")
    package = json.loads((folder / "datapackage.json").read_text())
    listed = [r for r in package["resources"] if r["path"] == "entities.ftm.json"]
    assert listed and listed[0]["type"] == "file" and listed[0]["format"] == "jsonl"
    out = {}
    for line in (folder / "entities.ftm.json").read_text(encoding="utf-8").splitlines():
        data = json.loads(line)
        proxy = model.get_proxy(data, cleaned=False)
        proxy.schema.validate(data)  # raises on an invalid entity
        assert proxy.to_dict() == model.get_proxy(data).to_dict(), "a value FtM's cleaning would change"
        assert proxy.id not in out
        out[proxy.id] = data
    return out


def ids(con: sqlite3.Connection, sql: str, table: str) -> set[str]:
    return {ftm_export.entity_id(table, r[0]) for r in con.execute(sql)}


def of_schema(entities: dict, *schemata: str) -> set[str]:
    return {i for i, e in entities.items() if e["schema"] in schemata}


def test_one_valid_entity_per_record_of_the_database(entities, con):
    expect = {
        ("Organization", "PublicBody"): ids(con, "select id from groups", "groups"),
        ("Person",): ids(con, "select id from people", "people"),
        ("Event",): ids(con, "select id from events", "events"),
        ("Membership",): ids(con, "select id from memberships", "memberships")
        | ids(con, "select id from group_relations where relation = 'part-of'", "group_relations"),
        ("Succession",): ids(con, "select id from group_relations where relation = 'renamed-to'", "group_relations"),
        ("UnknownLink",): ids(con, "select id from group_relations where relation not in ('part-of', 'renamed-to')",
                              "group_relations")
        | ids(con, "select id from event_groups", "event_groups") | ids(con, "select id from event_people", "event_people"),
    }
    for schemata, wanted in expect.items():
        assert of_schema(entities, *schemata) == wanted, schemata
    assert sum(len(w) for w in expect.values()) == len(entities)
    assert of_schema(entities, "PublicBody") == ids(
        con, "select id from groups where kind in ('government', 'security-force', 'armed-forces', "
             "'intelligence-agency')", "groups")


def test_every_link_points_at_an_entity_of_the_file(entities):
    for entity in entities.values():
        schema = model.get(entity["schema"])
        for prop, values in entity["properties"].items():
            if schema.get(prop).type.name == "entity":
                assert set(values) <= set(entities), (entity["id"], prop)


def test_every_name_the_sources_use_is_carried(entities, con):
    for owner, table, alias, kind in con.execute(
            "select coalesce(group_id, person_id), case when group_id is null then 'people' else 'groups' end, "
            "alias, kind from aliases"):
        props = entities[ftm_export.entity_id(table, owner)]["properties"]
        prop = ftm_export.ALIAS_PROPERTY.get(kind, "alias")
        assert alias in props.get(prop, []), (owner, alias, prop)


def test_dates_keep_their_precision(entities, con):
    checked = 0
    for row in con.execute("select id, date_start, date_end, date_precision from events"):
        props = entities[ftm_export.entity_id("events", row["id"])]["properties"]
        if row["date_precision"] == "month" and row["date_start"][:7] == row["date_end"][:7]:
            assert props["date"] == [row["date_start"][:7]] and "startDate" not in props
            checked += 1
        elif row["date_precision"] == "year" and row["date_start"][:4] == row["date_end"][:4] \
                and row["date_start"].endswith("01-01") and row["date_end"].endswith("12-31"):
            assert props["date"] == [row["date_start"][:4]]
            checked += 1
        elif row["date_start"] != row["date_end"] and "date" not in props:
            # a point known only within a range: its bounds, and the range in words
            assert props["startDate"][0] <= props["endDate"][0] + "-99"  # partial dates: 2001-09 is within 2001
            assert any(n.startswith("Date: ") for n in props["notes"])
            checked += 1
    assert checked > 30


def test_each_entity_links_to_its_page_and_names_its_claims_sources(entities, con):
    for entity in entities.values():
        table, record = next((t, entity["id"][len(f"imu-{t.replace('_', '-')}-"):]) for t in (
            "groups", "people", "events", "memberships", "group_relations", "event_groups", "event_people")
            if entity["id"].startswith(f"imu-{t.replace('_', '-')}-"))
        assert entity["properties"]["sourceUrl"] == [f"{BASE}/imu/{table}/{record}"]
    # every fact row has a claim, so every link and event names the sources it quotes
    for entity in entities.values():
        if entity["schema"] not in ("Organization", "PublicBody", "Person"):
            assert entity["properties"].get("publisher"), entity["id"]
    stratfor = con.execute("select url from sources where id = 'stratfor-2010-tajikistan-sweeps'").fetchone()[0]
    assert any(stratfor in e["properties"].get("publisherUrl", []) for e in entities.values())


def test_a_disputed_record_says_so(entities, con):
    disputed = con.execute("select c.subject_type, c.subject_id, d.question from claims c "
                           "join dispute_topics d on d.id = c.dispute_id").fetchall()
    assert disputed
    for table, record, question in disputed:
        props = entities[ftm_export.entity_id(table, record)]["properties"]
        assert any(question in n for n in props.get("notes", []) + props.get("summary", [])), (table, record)


def test_a_value_ftm_would_drop_stops_the_export():
    proxy = model.make_entity("Event")
    proxy.id = "x"
    with pytest.raises(ftm_export.Unmappable, match="x: date 'sometime' is not a valid date"):
        ftm_export.put(proxy, "date", "sometime")
    ftm_export.put(proxy, "date", "1999-02")
    assert proxy.get("date") == ["1999-02"]


def test_the_command_says_what_it_wrote(db_path, tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "ftm_export.py", str(db_path), str(tmp_path / "e.json")],
                          capture_output=True, text=True, cwd=Path(ftm_export.__file__).parent, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith(f"wrote {tmp_path / 'e.json'}: ") and "Event" in done.stdout
    assert '"sourceUrl"' not in (tmp_path / "e.json").read_text()  # no site address: no invented links


def using_elsewhere_snippets() -> list[str]:
    return readme_snippets("python", "Using the data elsewhere")


def test_the_readme_ftm_snippet_runs_in_a_release(db_path, tmp_path, monkeypatch, capsys):
    folder = release(db_path, tmp_path, "--no-validate")
    monkeypatch.chdir(folder)
    ns = {}
    exec(compile(using_elsewhere_snippets()[0], "README.md FtM snippet", "exec"), ns)
    assert len(ns["entities"]) == len((folder / "entities.ftm.json").read_text().splitlines())
    assert ns["people"] and capsys.readouterr().out.startswith(f"{len(ns['entities'])} entities;")
