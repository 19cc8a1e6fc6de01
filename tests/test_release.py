"""The release (`make release`, scripts/release.py): a Frictionless data package that
validates, whose CSVs hold every row of the database, whose checksums and zip hold every
file, that is the same bytes from the same seeds, and that carries a change log when
given the previous release. README's "Loading the data elsewhere" Python snippets run
here against a fresh release and a live site (the R snippets are documentation only: R
is not installed for the tests)."""
from __future__ import annotations

import contextlib
import csv
import json
import re
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import frictionless
import pandas  # noqa: F401  the README's snippets need it: a missing pandas fails, never skips
import pytest

import build_db
import geojson_export
from conftest import ROOT

SCRIPT = ROOT / "scripts" / "release.py"


def release(db: Path, out: Path, *args) -> Path:
    """Run scripts/release.py as `make release` does; returns the release folder."""
    done = subprocess.run([sys.executable, str(SCRIPT), "--db", str(db), "--out", str(out), *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    return folder


def read_info_of(db: Path) -> dict:
    import contextlib

    import dataset

    with contextlib.closing(sqlite3.connect(db)) as conn:
        return dataset.read_info(conn)


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def errors(report) -> str:
    return "\n".join(f"{row}" for row in report.flatten(["taskName", "rowNumber", "fieldName", "type", "message"]))


@pytest.fixture(scope="module")
def folder(db_path, tmp_path_factory) -> Path:
    return release(db_path, tmp_path_factory.mktemp("release"))


@pytest.fixture(scope="module")
def package(folder) -> dict:
    return json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))


def test_the_package_validates(folder):
    report = frictionless.validate(str(folder / "datapackage.json"))
    assert report.valid, errors(report)


def test_foreign_key_checks_run(folder, tmp_path):
    """A dangling reference, in a nullable column pointing at another table and in one
    pointing at its own table, is caught: the valid result above is not vacuous."""
    broken = tmp_path / folder.name
    shutil.copytree(folder, broken)
    for table, column, value in (("claims", "event_id", "no-such-event"), ("sources", "cited_by_id", "no-such-source")):
        path = broken / "data" / f"{table}.csv"
        rows = list(csv.reader(path.open(encoding="utf-8", newline="")))
        i = rows[0].index(column)
        next(r for r in rows[1:] if r[i])[i] = value
        with path.open("w", encoding="utf-8", newline="") as f:
            csv.writer(f, lineterminator="\r\n").writerows(rows)
    report = frictionless.validate(str(broken / "datapackage.json"))
    found = {(task.name, e.type) for task in report.tasks for e in task.errors}
    assert found == {("claims", "foreign-key"), ("sources", "foreign-key")}, errors(report)


def test_the_schemas_come_from_the_codebook(package, db_path, dataset_info):
    info = dataset_info
    with contextlib.closing(sqlite3.connect(db_path)) as con:
        refs = con.execute("select table_name, column_name, refers_to from codebook where refers_to is not null "
                           "and table_name != 'search_index'").fetchall()
        certainties = json.loads(con.execute("select allowed_values from codebook where table_name = 'claims' "
                                             "and column_name = 'certainty'").fetchone()[0])
    assert package["version"] == info["version"] and package["title"] == info["title"]
    assert package["citation"] == info["citation"] and package["licenses"][0]["path"] == info["license_url"]
    schemas = {r["name"]: r["schema"] for r in package["resources"] if r["type"] == "table"}
    fields = {(t, f["name"]): f for t, s in schemas.items() for f in s["fields"]}
    assert fields["claims", "certainty"]["constraints"] == {"required": True, "enum": certainties}
    assert fields["events", "date_start"]["type"] == "date"
    assert fields["events", "latitude"]["constraints"] == {"minimum": -90, "maximum": 90}
    assert fields["claims", "quote_offset"]["type"] == "integer"
    assert all(f.get("description") for f in fields.values())
    assert schemas["codebook"]["primaryKey"] == ["table_name", "position"]
    assert "primaryKey" not in schemas["disputes"]
    declared = {(t, fk["fields"][0], "{resource}.{fields[0]}".format(**fk["reference"]))
                for t, s in schemas.items() for fk in s.get("foreignKeys", [])}
    assert declared == set(refs) and ("claims", "event_id", "events.id") in declared


def test_a_csv_per_table_and_view_with_every_row(folder, package, db_path):
    """Every table the codebook lists but search_index, and the disputes view; a CSV's
    empty field is a NULL in the database and nothing else."""
    with contextlib.closing(sqlite3.connect(db_path)) as con:
        listed = [t for (t,) in con.execute("select table_name from codebook where position = 0 order by rowid")]
        tables = [r for r in package["resources"] if r["type"] == "table"]
        assert [r["name"] for r in tables] == [t for t in listed if t != "search_index"]
        assert "disputes" in listed
        # the other files, listed as files, with the hash and size frictionless checks
        assert {(r["name"], r["path"]) for r in package["resources"] if r["type"] == "file"} == {
            ("events-geojson", "events.geojson"), ("entities-ftm", "entities.ftm.json")}
        for resource in tables:
            table = resource["name"]
            rows = list(csv.reader((folder / resource["path"]).open(encoding="utf-8", newline="")))
            columns = [r[1] for r in con.execute(f"pragma table_info([{table}])")]
            assert rows[0] == columns == [f["name"] for f in resource["schema"]["fields"]]
            n = con.execute(f"select count(*) from [{table}]").fetchone()[0]
            assert len(rows) - 1 == n == resource["rows"], table
            nulls = sum(con.execute(f"select count(*) from [{table}] where [{c}] is null").fetchone()[0]
                        for c in columns)
            assert sum(cell == "" for row in rows[1:] for cell in row) == nulls, table
    assert sorted(p.name for p in (folder / "data").iterdir()) == sorted(f"{t}.csv" for t in listed
                                                                          if t != "search_index")


def test_the_other_files(folder, db_path, tmp_path):
    assert (folder / "imu.db").read_bytes() == db_path.read_bytes()
    info = read_info_of(db_path)
    assert (folder / "CITATION.cff").read_text() == (ROOT / "CITATION.cff").read_text() \
        + f'date-released: "{info["records_date"]}"\n'
    geojson_export.write_geojson(db_path, tmp_path / "events.geojson")
    assert (folder / "events.geojson").read_bytes() == (tmp_path / "events.geojson").read_bytes()
    assert not (folder / "CHANGELOG.md").exists()


def test_a_release_for_a_site_links_to_it(db_path, tmp_path):
    """With the site's address (make release URL=...), CITATION.cff has its url and the
    GeoJSON's links are absolute; both files validate (CFF's schema, RFC 7946)."""
    from test_dataset import CFF_SCHEMA
    import jsonschema
    import yaml

    folder = release(db_path, tmp_path, "--base-url", "https://imu.example.org/", "--no-validate")
    cff = yaml.safe_load((folder / "CITATION.cff").read_text())
    assert cff["url"] == "https://imu.example.org" and str(cff["date-released"]) == read_info_of(db_path)["records_date"]
    validator = jsonschema.Draft7Validator(json.loads(CFF_SCHEMA.read_text()),
                                           format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    assert list(validator.iter_errors(cff)) == []
    links = {f["properties"]["link"] for f in json.loads((folder / "events.geojson").read_text())["features"]}
    assert links and all(link.startswith("https://imu.example.org/imu/events/") for link in links)


def test_sha256sums_match_every_file(folder):
    listed = [line.split("  ", 1)[1] for line in (folder / "SHA256SUMS").read_text().splitlines()]
    assert listed == sorted(set(files(folder)) - {"SHA256SUMS"})
    done = subprocess.run(["sha256sum", "--strict", "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_zip_holds_the_folder(folder):
    with zipfile.ZipFile(folder.parent / f"{folder.name}.zip") as z:
        assert z.testzip() is None
        held = {name: z.read(name) for name in z.namelist()}
    assert held == {f"{folder.name}/{name}": data for name, data in files(folder).items()}


def test_the_same_seeds_give_the_same_bytes(folder, tmp_path):
    """A second build of the seeds, released again: every CSV, every file and the zip
    are byte for byte the first release's."""
    db = tmp_path / "imu.db"
    build_db.build(ROOT / "seeds", db)
    again = release(db, tmp_path / "dist")
    assert again.name == folder.name
    first, second = files(folder), files(again)
    assert [n for n in first if n.endswith(".csv")] and first.keys() == second.keys()
    assert [n for n in first if first[n] != second[n]] == []
    zip_name = f"{folder.name}.zip"
    assert (again.parent / zip_name).read_bytes() == (folder.parent / zip_name).read_bytes()


def test_a_change_log_against_the_previous_release(db_path, tmp_path):
    new = tmp_path / "new.db"
    shutil.copy(db_path, new)
    with contextlib.closing(sqlite3.connect(new)) as con, con:
        claim, certainty = con.execute("select id, certainty from claims where certainty = 'stated' "
                                       "order by id limit 1").fetchone()
        con.execute("update claims set certainty = 'reported' where id = ?", [claim])
        version, date = [v for (v,) in con.execute("select value from dataset_info where key in "
                                                   "('version', 'records_date') order by key desc")]
    folder = release(new, tmp_path / "dist", "--previous", db_path)
    log = (folder / "CHANGELOG.md").read_text(encoding="utf-8")
    assert log.startswith(f"# Changes from version {version} (records as of {date}) to version {version}")
    assert f'- claim `{claim}`, `certainty`: `"stated"` → `"reported"`' in log
    assert "| `claims` | 0 | 0 | 1 |" in log
    assert "CHANGELOG.md" in (folder / "SHA256SUMS").read_text()
    assert frictionless.validate(str(folder / "datapackage.json")).valid


def test_a_bad_previous_is_an_error(db_path, tmp_path):
    (tmp_path / "old.db").write_text("not a database")
    done = subprocess.run([sys.executable, str(SCRIPT), "--db", str(db_path), "--out", str(tmp_path / "dist"),
                           "--previous", str(tmp_path / "old.db")], capture_output=True, text=True)
    assert done.returncode == 1 and "not an SQLite database" in done.stderr and "Traceback" not in done.stderr
    assert not list((tmp_path / "dist").glob("*.zip"))


def test_a_package_that_does_not_validate_is_not_released(db_path, tmp_path):
    bad = tmp_path / "bad.db"
    shutil.copy(db_path, bad)
    with contextlib.closing(sqlite3.connect(bad)) as con, con:
        con.execute("update claims set certainty = 'guessed' where id = (select min(id) from claims)")
    done = subprocess.run([sys.executable, str(SCRIPT), "--db", str(bad), "--out", str(tmp_path / "dist")],
                          capture_output=True, text=True)
    assert done.returncode == 1 and "does not validate" in done.stderr and '"guessed"' in done.stderr
    assert not list((tmp_path / "dist").glob("*.zip"))


def test_make_release_passes_previous():
    done = subprocess.run(["make", "-n", "release", "PREVIOUS=old/imu.db"], cwd=ROOT, capture_output=True, text=True)
    assert "scripts/release.py --db imu.db --out dist --previous old/imu.db" in done.stdout, done.stdout


# ---------------------------------------------------------------- README: loading the data elsewhere

def readme_snippets(language: str, heading: str = "Loading the data elsewhere") -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.S)


def test_the_readme_has_each_snippet():
    python, r = readme_snippets("python"), readme_snippets("r")
    assert len(python) == 3 and len(r) == 1
    assert "read_csv" in python[0] and "read_sql_query" in python[1] and "next_url" in python[2]
    assert "readr" in r[0] and "RSQLite" in r[0]


@pytest.mark.parametrize("n", range(3))
def test_the_readme_python_snippets_run(n, folder, live_server, db_path, monkeypatch, capsys):
    """Each snippet alone, from the release folder, as a reader copies it; the JSON API one
    against the live site in place of make serve's address."""
    code = readme_snippets("python")[n].replace("http://127.0.0.1:8001", live_server)
    monkeypatch.chdir(folder)
    ns = {}
    exec(compile(code, f"README.md python snippet {n + 1}", "exec"), ns)
    capsys.readouterr()
    with contextlib.closing(sqlite3.connect(db_path)) as con:
        def count(sql):
            return con.execute(sql).fetchone()[0]
        if n == 0:
            assert len(ns["events"]) == count("select count(*) from events")
            assert str(ns["events"]["date_start"].dtype).startswith("datetime64")
            assert len(ns["behind"]) == count("select count(*) from claims where event_id is not null")
        elif n == 1:
            assert len(ns["disputes"]) == count("select count(*) from disputes")
            assert list(ns["columns"]["column_name"]) == [r[0] for r in con.execute(
                "select name from pragma_table_info('events')")]
        else:
            assert ns["hits"] and ns["hits"][0]["link"].startswith("/imu/")
            assert len(ns["claims"]) == count("select count(*) from claims") > 100
            assert len({c["id"] for c in ns["claims"]}) == len(ns["claims"])
