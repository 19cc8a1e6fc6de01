"""The dataset described once: its version and records' date (dataset_info), what every
column means (codebook), and CITATION.cff.

Two builds of the same seeds are the same file; every column of every table and view has
exactly one description, in the database and on the site; the version in pyproject.toml,
the database, the README and CITATION.cff is VERSION's.
"""
from __future__ import annotations

import collections
import importlib.metadata
import json
import os
import re
import sqlite3
import subprocess
import sys
from datetime import datetime

import jsonschema
import pytest
import yaml

import build_db
import dataset
from conftest import ROOT
from schema import RECORDS, Field
from test_pages import page, text_of
from test_queries import columns, user_tables

CFF_SCHEMA = ROOT / "tests" / "data" / "cff-schema-1.2.0.json"  # from the cffconvert 2.0.0 wheel


def views(con) -> list[str]:
    return [r[0] for r in con.execute("select name from sqlite_master where type = 'view' order by name")]


# ---------------------------------------------------------------- one version, one date

def test_two_builds_of_the_same_seeds_are_the_same_file(tmp_path):
    """As `make imu.db` runs it, into two folders (each with a cache of its own: two full
    builds); then a rebuild that changed nothing leaves the file as it was."""
    def build(out):
        done = subprocess.run([sys.executable, "build_db.py", "--out", str(out)], cwd=ROOT,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return out.read_bytes()

    first = build(tmp_path / "a" / "imu.db")
    assert build(tmp_path / "b" / "imu.db") == first
    assert build(tmp_path / "b" / "imu.db") == first


def test_dataset_info_gives_the_version_and_the_records_date(dataset_info):
    version = (ROOT / "VERSION").read_text().strip()
    assert dataset_info["version"] == version == importlib.metadata.version("imu-dataset")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", dataset_info["records_date"])
    assert f"version {version} (records as of {dataset_info['records_date']})" in dataset_info["citation"]
    assert dataset_info["title"] == dataset.TITLE and dataset_info["license_url"].startswith("https://")


def at(day: str) -> float:
    return datetime.fromisoformat(f"{day}T12:00:00+00:00").timestamp()


def test_the_records_date_comes_from_the_seeds_not_the_clock(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    files = [seeds / "a.yml", seeds / "b.yml"]
    for f, day in zip(files, ("2019-01-02", "2020-05-17")):
        f.write_text("sources: []\n")
        os.utime(f, (at(day), at(day)))
    # no git (a release tarball): the day the newest seed file was last modified
    assert dataset.records_date(seeds, files) == "2020-05-17"
    # committed as they stand: the day of the last commit that touched them
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]
    env = dict(os.environ, GIT_COMMITTER_DATE="2021-03-04T10:00:00+00:00",
               GIT_AUTHOR_DATE="2021-03-04T10:00:00+00:00")
    for args in (["init", "-q"], ["add", "seeds"], ["commit", "-q", "-m", "records"]):
        subprocess.run(git + args, cwd=tmp_path, env=env, check=True, capture_output=True)
    assert dataset.records_date(seeds, files) == "2021-03-04"
    # edited since: the edited file's day again
    files[0].write_text("sources: []  # edited\n")
    os.utime(files[0], (at("2022-06-30"), at("2022-06-30")))
    assert dataset.records_date(seeds, files) == "2022-06-30"


@pytest.mark.parametrize("text, problem", [("1.0\n", "'1.0' is not a version such as 1.0.0"),
                                           ("", "'' is not a version such as 1.0.0")])
def test_a_bad_version_file_is_a_clear_error(tmp_path, text, problem):
    (tmp_path / "VERSION").write_text(text)
    with pytest.raises(ValueError, match=re.escape(f"{tmp_path / 'VERSION'}: {problem}")):
        dataset.version(tmp_path / "VERSION")
    with pytest.raises(ValueError, match="cannot read the dataset's version"):
        dataset.version(tmp_path / "missing")


def test_version_and_citation_are_in_step_everywhere(dataset_info):
    version = dataset.version()
    readme = (ROOT / "README.md").read_text()
    cite = readme[readme.index("## How to cite"):]
    assert f"version {version}" in cite[:cite.index("\n## ", 3)], "README's How to cite names another version"
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["version"] == version and cff["title"] == dataset.TITLE == dataset_info["title"]


def test_citation_cff_is_valid_cff_1_2_0():
    """Against the Citation File Format's own JSON schema, with a real validator; a broken
    copy must fail, so the check is not vacuous."""
    schema = json.loads(CFF_SCHEMA.read_text())
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "dataset"
    errors = [e.message for e in validator.iter_errors(cff)]
    assert not errors, errors
    assert list(validator.iter_errors({k: v for k, v in cff.items() if k != "authors"}))
    assert list(validator.iter_errors(cff | {"license": "CC BY 4.0"}))


# ---------------------------------------------------------------- the codebook

def test_every_column_of_every_table_and_view_has_exactly_one_codebook_row(con):
    rows = con.execute("select table_name, column_name, description from codebook").fetchall()
    counts = collections.Counter((table, column) for table, column, _ in rows)
    expected = set()
    for table in user_tables(con) + views(con):
        expected |= {(table, None)} | {(table, column) for column in columns(con, table)}
    assert {"codebook", "dataset_info", "search_index", "disputes"} <= {t for t, _ in expected}
    assert set(counts) == expected, set(counts) ^ expected
    assert [key for key, n in counts.items() if n != 1] == []
    assert [(t, c) for t, c, description in rows if not (description or "").strip()] == []


def test_the_codebook_says_types_values_and_keys_as_the_schema_does(con):
    def row(table, column):
        return con.execute("select * from codebook where table_name = ? and column_name = ?",
                           [table, column]).fetchone()

    event_type = row("events", "event_type")
    assert json.loads(event_type["allowed_values"]) == list(RECORDS["events"].field("event_type").choices)
    assert event_type["not_null"] == 1 and event_type["type"] == "TEXT"
    assert row("events", "id")["primary_key"] == 1 and row("events", "id")["format"] == "slug"
    assert row("events", "date_start")["format"] == "date" and row("events", "country")["format"] == "country"
    assert (row("events", "latitude")["minimum"], row("events", "latitude")["maximum"]) == (-90, 90)
    assert row("claims", "source_id")["refers_to"] == "sources.id"
    # a view's column that shows a table's column says what that one says, allowed values too
    assert row("disputes", "certainty")["description"] == RECORDS["claims"].field("certainty").description
    assert row("disputes", "certainty")["allowed_values"] == row("claims", "certainty")["allowed_values"]


def test_an_undescribed_column_is_a_clear_error(tmp_path):
    con = sqlite3.connect(tmp_path / "x.db")
    con.execute("create table things (id text primary key, colour text)")
    con.execute("create table others (id text)")
    described = {"things": ("One row per thing.", (Field("id", description="Its id."),
                                                   Field("size", description="How big.")))}
    rows, problems = dataset.codebook_rows(con, described)
    assert problems == [
        "codebook: things.colour has no description (describe it beside its field)",
        "codebook: things.size is described but is not a column of things",
        "codebook: others is not described (give its description where it is made)",
    ]


def test_a_build_with_an_undescribed_table_fails_and_writes_nothing(tmp_path, monkeypatch):
    whole = build_db.described()
    monkeypatch.setattr(build_db, "described", lambda: {t: d for t, d in whole.items() if t != "events"})
    out = tmp_path / "imu.db"
    with pytest.raises(build_db.BuildError) as failed:
        build_db.build(ROOT / "seeds", out, cache=False)
    assert failed.value.errors == ["codebook: events is not described (give its description where it is made)"]
    assert not out.exists()


def test_the_site_shows_every_description_in_the_codebook(ds, con):
    """The about page shows every table's and column's description, and each table's page
    its columns' (folded under "What each column means"), as the codebook table says them."""
    about = page(ds, "/about")
    tables = collections.defaultdict(dict)
    for table, column, description in con.execute(
            "select table_name, column_name, description from codebook order by table_name, position"):
        tables[table][column] = " ".join(description.split())
    for table, described in tables.items():
        if table == "search_index":  # hidden: the search's machinery, described in its own table page
            continue
        section = re.search(rf'<section class="imu-codebook" id="table-{table}">(.*?)</section>', about, re.S)
        assert section, table
        body = text_of(section.group(1))
        for column, description in described.items():
            assert description in body, (table, column)
    for table in set(tables) - set(views(con)):  # a view's page is the canned query of its name
        markup = page(ds, f"/imu/{table}")
        folded = re.search(r'<details class="imu-codebook-short">(.*?)</details>', markup, re.S)
        assert folded, table
        body = text_of(folded.group(1))
        assert tables[table][None] in text_of(markup), table
        for column, description in tables[table].items():
            if column is not None:
                assert f"{column} {description}" in body, (table, column)


def test_the_readme_promises_every_column_of_both_tables(con):
    """The shared CONTRACT.md is read-only to the project, so the README carries the extension."""
    text = (ROOT / "README.md").read_text()
    for table in ("dataset_info", "codebook"):
        named = re.search(rf"^- `{table}` \(([^)]*)\)$", text, re.M)
        assert named, f"README.md does not list {table}'s columns"
        assert re.findall(r"`(\w+)`", named[1]) == columns(con, table), table


def test_the_readme_promises_columns_that_exist(con):
    """The columns and views the README adds to the contract's promise are in the database."""
    text = (ROOT / "README.md").read_text()
    promised = text[text.index("under the same promise"):text.index("**Migration note")]
    pairs = []
    for line in promised.splitlines():
        if not line.startswith("- `") or line.startswith(("- `dataset_info` (", "- `codebook` (")):
            continue
        head, _, tail = line.partition(": ") if ": " in line else ("", "", line)
        pairs += [tuple(p.split(".")) for p in re.findall(r"`(\w+\.\w+)`", tail)]
        pairs += [(t, c) for t in re.findall(r"`(\w+)`", head) for c in re.findall(r"`(\w+)`", tail)]
    assert len(pairs) >= 13
    for table, column in pairs:
        assert column in columns(con, table), (table, column)
