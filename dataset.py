"""What imu.db says about itself: which version it is and how recent its records are
(`dataset_info`), and what every table, view and column means (`codebook`).

The version is written once, in VERSION (pyproject.toml and CITATION.cff read or repeat
it; tests/test_dataset.py keeps them in step). The records' date comes from the seeds,
never the clock, so two builds of the same seeds are the same file, byte for byte.
Columns are described once, beside their fields (schema.py; build_db.py for the derived
search_index and the views); this module only gathers those descriptions into the
database, where the site reads them (plugins/pages.py) and a downloaded imu.db keeps them.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import subprocess
from pathlib import Path

from schema import Field

ROOT = Path(__file__).resolve().parent
DB = "imu"  # the database's name, written once: the build writes DB.db, the site serves it at /DB
RECONCILE = f"/{DB}/-/reconcile"  # the OpenRefine reconciliation service (plugins/reconcile.py)
VERSION_FILE = ROOT / "VERSION"
VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")

TITLE = "Islamic Movement of Uzbekistan (IMU) dataset"
LICENSE = "CC BY 4.0 (curated records); quotes remain their publishers'"
LICENSE_URL = "https://creativecommons.org/licenses/by/4.0/"
CITATION = ("IMU dataset: the Islamic Movement of Uzbekistan, its allies, people and events, curated from "
            "{documents}, version {version} (records as of {date}), imu.db. "
            "Cite the claim's own source too: the dataset is a finding aid to what the documents say, not a "
            "source in itself.")


def version(path: Path = VERSION_FILE) -> str:
    """The dataset's version, from VERSION: MAJOR.MINOR.PATCH."""
    try:
        text = path.read_text().strip()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the dataset's version: {exc.strerror or exc}") from None
    if not VERSION_RE.fullmatch(text):
        raise ValueError(f"{path}: {text[:40]!r} is not a version such as 1.0.0 (MAJOR.MINOR.PATCH)")
    return text


def records_date(seeds: Path, files: list[Path]) -> str:
    """The day the records last changed, taken from the seeds so that the same seeds always
    give the same date: the day of the last commit touching the seed files when they are
    committed as they stand; otherwise (edited since, or no git at all, as in a release
    tarball) the day, in UTC, the newest of them was last modified. tar and zip keep those
    times, and `git archive` sets them to the commit's."""
    names = [p.name for p in files]
    committed = _git(seeds, "log", "-1", "--format=%cs", "--", *names)
    if committed and _git(seeds, "status", "--porcelain", "--", *names) == "":
        return committed
    newest = max(p.stat().st_mtime for p in files)
    return dt.datetime.fromtimestamp(newest, dt.timezone.utc).date().isoformat()


def _git(cwd: Path, *args: str) -> str | None:
    """git's output, stripped; None where git is missing or the folder is not in a repository."""
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


# ---------------------------------------------------------------- the two tables

INFO_DESCRIPTION = "What this database is: one row per fact about the dataset as a whole (version, date, licence, citation)."
INFO_FIELDS = (
    Field("key", description="The fact: title, version, records_date, license, license_url or citation."),
    Field("value", description="Its value."),
    Field("description", description="What the fact means."),
)
INFO_SQL = "CREATE TABLE [dataset_info] ([key] TEXT PRIMARY KEY, [value] TEXT NOT NULL, [description] TEXT NOT NULL)"

CODEBOOK_DESCRIPTION = (
    "What every table, view and column of this database means: one row per table or view (position 0, "
    "no column) and one per column, in the table's order. The full-text indexes (*_fts and their shadow "
    "tables) and SQLite's own sqlite_stat1 are machinery and are not listed.")
CODEBOOK_FIELDS = (
    Field("table_name", description="The table or view."),
    Field("column_name", description="The column; empty on the row that describes the table or view itself."),
    Field("position", "integer", description="The column's place in its table, from 1; 0 for the table itself."),
    Field("table_type", choices=("table", "view"), description="Whether table_name is a table or a view."),
    Field("type", description="The column's SQLite type (TEXT, INTEGER, FLOAT)."),
    Field("format", choices=("date", "slug", "country"),
          description="What the text holds, where that is narrower than its type: an ISO 8601 day (date), a "
                      "lower-case id such as tohir-yoldashev (slug), an ISO 3166-1 alpha-2 code (country)."),
    Field("not_null", "integer", description="1 when every row has a value (NOT NULL or part of the primary key)."),
    Field("primary_key", "integer", description="The column's place in the primary key, from 1; 0 when not part of it."),
    Field("refers_to", description="The table.column a foreign key points at, e.g. groups.id."),
    Field("allowed_values", description="The values the column may hold, as a JSON array; empty when any."),
    Field("minimum", "real", description="The smallest value allowed, for numbers."),
    Field("maximum", "real", description="The largest value allowed, for numbers."),
    Field("description", description="What the table, view or column means."),
)
CODEBOOK_SQL = ("CREATE TABLE [codebook] ([table_name] TEXT NOT NULL, [column_name] TEXT, "
                "[position] INTEGER NOT NULL, [table_type] TEXT NOT NULL, [type] TEXT, [format] TEXT, "
                "[not_null] INTEGER, [primary_key] INTEGER, [refers_to] TEXT, [allowed_values] TEXT, "
                "[minimum] NUMERIC, [maximum] NUMERIC, [description] TEXT NOT NULL, "
                "PRIMARY KEY ([table_name], [position]))")
OWN = {"dataset_info": (INFO_DESCRIPTION, INFO_FIELDS), "codebook": (CODEBOOK_DESCRIPTION, CODEBOOK_FIELDS)}
FORMATS = {"date": "date", "slug": "slug", "ref": "slug", "country": "country"}


NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                "eleven", "twelve")


def documents_phrase(conn: sqlite3.Connection) -> str:
    """"five public documents published 2010-2015": how many documents the records are
    curated from, and the years they were published, as the sources table says."""
    count, first, last = conn.execute(
        "select count(*), min(substr(published, 1, 4)), max(substr(published, 1, 4)) from sources "
        "where document is not null").fetchone()
    words = NUMBER_WORDS[count] if count < len(NUMBER_WORDS) else f"{count:,}"
    phrase = f"{words} public document{'s' if count != 1 else ''}"
    if first:
        phrase += f" published {first}" if first == last else f" published {first}-{last}"
    return phrase


def info_rows(version: str, date: str, documents: str) -> list[tuple[str, str, str]]:
    return [
        ("title", TITLE, "The dataset's name."),
        ("version", version, "The dataset's version, MAJOR.MINOR.PATCH: cite it with the records' date."),
        ("records_date", date, "The day the records last changed (from the seeds, not the day of the build)."),
        ("license", LICENSE, "The licence of the curated records."),
        ("license_url", LICENSE_URL, "The licence's text."),
        ("documents", documents, "What the records are curated from, as the sources table says: how many "
                                 "documents, and the years they were published."),
        ("citation", CITATION.format(version=version, date=date, documents=documents),
         "How to cite this version of the dataset."),
    ]


def shown_tables(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """(name, 'table' or 'view') of everything a reader sees: not the full-text indexes,
    their shadow tables or SQLite's own, in the order they were made."""
    found = conn.execute("select name, type, sql from sqlite_master where type in ('table', 'view') "
                         "and name not like 'sqlite_%' order by rowid").fetchall()
    fts = {name for name, _, sql in found if (sql or "").upper().startswith("CREATE VIRTUAL TABLE")}
    return [(name, kind) for name, kind, _ in found
            if name not in fts and not any(name.startswith(f + "_") for f in fts)]


def codebook_rows(conn: sqlite3.Connection, described: dict[str, tuple[str, tuple[Field, ...]]]):
    """One row per table or view and per column, from the database's own schema and the
    descriptions given; returns (rows, problems): every column must be described, once,
    and every description must name a column that exists."""
    described = described | OWN
    rows, problems = [], []
    for table, kind in shown_tables(conn):
        if table not in described:
            problems.append(f"codebook: {table} is not described (give its description where it is made)")
            continue
        text, fields = described[table]
        by_column = {}
        for f in fields:
            if f.col in by_column:
                problems.append(f"codebook: {table}.{f.col} is described twice")
            by_column[f.col] = f
        rows.append((table, None, 0, kind, None, None, None, None, None, None, None, None, text))
        refs = {r[3]: f"{r[2]}.{r[4]}" for r in conn.execute(f"pragma foreign_key_list([{table}])")}
        columns = conn.execute(f"pragma table_info([{table}])").fetchall()
        for cid, column, sql_type, notnull, _, pk in columns:
            f = by_column.get(column)
            if f is None or not f.description.strip():
                problems.append(f"codebook: {table}.{column} has no description (describe it beside its field)")
                continue
            rows.append((table, column, cid + 1, kind, sql_type or None, FORMATS.get(f.type),
                         int(bool(notnull or pk)), pk, refs.get(column),
                         json.dumps(list(f.choices), ensure_ascii=False) if f.choices else None,
                         f.min, f.max, f.description))
        for column in sorted(set(by_column) - {c[1] for c in columns}):
            problems.append(f"codebook: {table}.{column} is described but is not a column of {table}")
    return rows, problems


def read_info(conn: sqlite3.Connection) -> dict[str, str]:
    """dataset_info as {key: value}."""
    return {key: value for key, value in conn.execute("select key, value from dataset_info")}


def read_codebook(conn: sqlite3.Connection) -> dict[str, dict]:
    """The codebook as {table: {"description": ..., "columns": {column: description}}}."""
    tables: dict[str, dict] = {}
    for table, column, description in conn.execute(
            "select table_name, column_name, description from codebook order by table_name, position"):
        entry = tables.setdefault(table, {"description": "", "columns": {}})
        if column is None:
            entry["description"] = description
        else:
            entry["columns"][column] = description
    return tables


def write(path: Path, seeds: Path, files: list[Path], described: dict) -> list[str]:
    """Write dataset_info and codebook into the database at `path`; returns the problems
    (an undescribed column, a bad VERSION), and writes nothing if there are any. Leaves
    the tables as they are when they already say the same (an unchanged rebuild)."""
    try:
        when = version(), records_date(seeds, files)
    except ValueError as exc:
        return [str(exc)]
    conn = sqlite3.connect(path)
    try:
        info = info_rows(*when, documents_phrase(conn))
        for table, sql in (("dataset_info", INFO_SQL), ("codebook", CODEBOOK_SQL)):
            have = conn.execute("select sql from sqlite_master where name = ?", [table]).fetchone()
            if have is None or have[0] != sql:
                conn.execute(f"drop table if exists [{table}]")
                conn.execute(sql)
        codebook, problems = codebook_rows(conn, described)
        if problems:
            return problems
        for table, rows in (("dataset_info", info), ("codebook", codebook)):
            if conn.execute(f"select * from [{table}] order by rowid").fetchall() != rows:
                conn.execute(f"delete from [{table}]")
                conn.executemany(f"insert into [{table}] values ({', '.join('?' * len(rows[0]))})", rows)
        conn.commit()
    finally:
        conn.close()
    return []
