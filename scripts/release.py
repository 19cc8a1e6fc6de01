"""Write a release of the dataset (`make release`): a Frictionless data package a
researcher can cite, check and load anywhere.

    .venv/bin/python scripts/release.py [--db imu.db] [--out dist] [--previous OLD.db]

writes dist/imu-dataset-<version>/ and dist/imu-dataset-<version>.zip. The folder holds
datapackage.json, one CSV per table and view in data/, imu.db, the events
as GeoJSON, every record as FollowTheMoney entities (ftm_export.py), CITATION.cff, CHANGELOG.md against --previous when one is given, and
SHA256SUMS (`sha256sum -c SHA256SUMS` in the folder checks them).

Everything the package says about the data comes from the database itself: the Table
Schemas from its `codebook` (types, required fields, allowed values, bounds, primary and
foreign keys, descriptions), the title, version, licence and citation from its
`dataset_info`, so a release cannot describe columns differently from the site.

`search_index` is left out of the CSVs: it is made at build time from the other tables,
only for the site's search, and is still in imu.db. The full-text index tables are too.

The same imu.db gives the same bytes every time: rows in primary-key order, the zip's
entries sorted and dated by the records' date, never the clock. The package is validated
with frictionless before it is zipped (--no-validate skips that, for speed in tests that
validate it themselves).
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import json
import shutil
import sqlite3
import sys
import zipfile
from pathlib import Path

import ftm_export
import geojson_export
from dataset import read_info
from dbdiff import Unreadable, changelog
from files import temp_path

ROOT = Path(__file__).resolve().parent.parent
LEFT_OUT = {"search_index": "made at build time from the other tables for the site's search; it is in imu.db"}
TYPES = {"TEXT": "string", "INTEGER": "integer", "REAL": "number", "FLOAT": "number", "NUMERIC": "number"}
# Formats a pattern can check (a slug has none: child rows' ids join two slugs with "--").
PATTERNS = {"country": r"^[A-Z]{2}$"}
GEOJSON = "events.geojson"
FTM = "entities.ftm.json"
# The package's files that are not tables: listed as such, so frictionless checks them
# byte for byte rather than reading them as rows.
FILES = {
    GEOJSON: ("events-geojson", "application/geo+json", "geojson",
              "The events with coordinates as an RFC 7946 GeoJSON FeatureCollection."),
    FTM: ("entities-ftm", "application/x-ndjson", "jsonl",
          "Every group, person, membership, relation, event and party to an event as a FollowTheMoney "
          "entity, one JSON object per line (ftm_export.py; the README says what maps to what)."),
}


def field(row: sqlite3.Row) -> dict:
    """A Table Schema field from a codebook row."""
    out = {"name": row["column_name"], "type": TYPES.get((row["type"] or "").upper(), "any"),
           "description": row["description"]}
    if row["format"] == "date":
        out["type"] = "date"  # ISO 8601 days, Table Schema's default date format
    constraints = {}
    if row["not_null"]:
        constraints["required"] = True
    if row["allowed_values"]:
        constraints["enum"] = json.loads(row["allowed_values"])
    if row["format"] in PATTERNS:
        constraints["pattern"] = PATTERNS[row["format"]]
    for key in ("minimum", "maximum"):
        if row[key] is not None:
            constraints[key] = row[key]
    if constraints:
        out["constraints"] = constraints
    return out


def table_schema(conn: sqlite3.Connection, table: str) -> dict:
    """The Table Schema of a table or view, from its codebook rows."""
    rows = conn.execute("select * from codebook where table_name = ? and position > 0 order by position",
                        [table]).fetchall()
    out = {"fields": [field(r) for r in rows], "missingValues": [""]}
    keys = sorted((r["primary_key"], r["column_name"]) for r in rows if r["primary_key"])
    if keys:
        out["primaryKey"] = [name for _, name in keys]
    foreign = []
    for r in rows:
        if r["refers_to"]:
            other, column = r["refers_to"].split(".")
            foreign.append({"fields": [r["column_name"]], "reference": {"resource": other, "fields": [column]}})
    if foreign:
        out["foreignKeys"] = foreign
    return out


def resources(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
    """(name, 'table' or 'view', description) of what goes into the CSVs: what the codebook
    lists, in its order, less LEFT_OUT."""
    return [(name, kind, description) for name, kind, description in conn.execute(
        "select table_name, table_type, description from codebook where position = 0 order by rowid")
        if name not in LEFT_OUT]


def write_csv(conn: sqlite3.Connection, table: str, out: Path) -> int:
    """The table's rows as CSV (RFC 4180, UTF-8, a header row, NULL as an empty field) in
    primary-key order, or by every column for a view; returns how many rows."""
    described = conn.execute(f"pragma table_info([{table}])").fetchall()
    columns = [r[1] for r in described]
    keys = [r[1] for r in sorted(described, key=lambda r: r[5]) if r[5]]
    order = ", ".join(f"[{c}]" for c in (keys or columns))
    n = 0
    with open(out, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\r\n")
        writer.writerow(columns)
        for row in conn.execute(f"select {', '.join(f'[{c}]' for c in columns)} from [{table}] order by {order}"):
            writer.writerow(tuple(row))
            n += 1
    return n


def descriptor(conn: sqlite3.Connection, about: dict[str, str], listed: list[tuple[str, str, str]],
               counts: dict[str, int], folder: Path) -> dict:
    """datapackage.json: the package's metadata from dataset_info (`about`), a resource per CSV
    and one per other file of `folder` (FILES)."""
    documents = conn.execute("select title, url from sources where document is not null order by id").fetchall()
    left_out = "; ".join(f"{t} ({why})" for t, why in LEFT_OUT.items())
    return {
        "name": "imu-dataset",
        "title": about["title"],
        "version": about["version"],
        "description": (
            f"{about['title']}, version {about['version']}, records as of {about['records_date']}. "
            "Every fact row is supported by a verbatim quote in `claims`; where the documents disagree, "
            "`disputes` lists every side. The package also holds imu.db (the same records, with full-text "
            f"search), {GEOJSON} (events with coordinates, RFC 7946), {FTM} (FollowTheMoney entities) "
            "and CITATION.cff. "
            f"Not in the CSVs: {left_out}."),
        "records_date": about["records_date"],
        "citation": about["citation"],
        "licenses": [{"name": "CC-BY-4.0", "path": about["license_url"], "title": about["license"]}],
        "sources": [{"title": title, **({"path": url} if url else {})} for title, url in documents],
        "resources": [{
            "name": name,
            "type": "table",
            "path": f"data/{name}.csv",
            "scheme": "file",
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "description": description + (" (a view in imu.db)" if kind == "view" else ""),
            "schema": table_schema(conn, name),
            "rows": counts[name],
        } for name, kind, description in listed] + [{
            "name": name,
            "type": "file",
            "path": path,
            "scheme": "file",
            "format": file_format,
            "mediatype": mediatype,
            "encoding": "utf-8",
            "description": description,
            "hash": f"sha256:{sha256(folder / path)}",
            "bytes": (folder / path).stat().st_size,
        } for path, (name, mediatype, file_format, description) in FILES.items()],
    }


def sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def write_sums(folder: Path) -> None:
    """SHA256SUMS in sha256sum's own format, every other file of the folder, sorted."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "SHA256SUMS")
    lines = [f"{sha256(p)}  {p.relative_to(folder).as_posix()}\n" for p in files]
    (folder / "SHA256SUMS").write_text("".join(lines), encoding="utf-8")


def write_zip(folder: Path, out: Path, date: str) -> None:
    """The folder as a zip whose bytes depend only on its files: entries sorted, each dated
    the records' date, with the same permissions."""
    stamp = tuple(int(x) for x in date.split("-")) + (0, 0, 0)
    tmp = temp_path(out)
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for p in sorted(p for p in folder.rglob("*") if p.is_file()):
            entry = zipfile.ZipInfo(f"{folder.name}/{p.relative_to(folder).as_posix()}", stamp)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o100644 << 16
            entry.create_system = 3  # Unix, so the permissions above are read as such
            with open(p, "rb") as f, z.open(entry, "w") as dest:
                shutil.copyfileobj(f, dest)
    tmp.replace(out)


def validate(folder: Path) -> list[str]:
    """frictionless's errors for the package (types, constraints, primary and foreign keys)."""
    import frictionless

    report = frictionless.validate(str(folder / "datapackage.json"))
    found = [f"{e.type}: {e.message}" for e in report.errors]
    found += [f"{task.name}: {e.type}: {e.message}" for task in report.tasks for e in task.errors]
    return found


def build(db: Path, out: Path, previous: Path | None = None, base_url: str = "",
          check: bool = True) -> Path:
    """Write the release of `db` into `out`; returns its folder. Raises ValueError when
    the package does not validate (nothing is zipped then) or PREVIOUS is unreadable."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        conn.row_factory = sqlite3.Row
        about = read_info(conn)
        name = f"imu-dataset-{about['version']}"
        folder = out / name
        if folder.exists():
            shutil.rmtree(folder)
        (folder / "data").mkdir(parents=True)
        listed = resources(conn)
        counts = {t: write_csv(conn, t, folder / "data" / f"{t}.csv") for t, _, _ in listed}
        shutil.copyfile(db, folder / "imu.db")
        geojson_export.write_geojson(folder / "imu.db", folder / GEOJSON, base_url)
        try:
            ftm_export.write(folder / "imu.db", folder / FTM, base_url)  # every entity validated by the FtM model
        except (ftm_export.Unmappable, ftm_export.InvalidData) as exc:
            raise ValueError(f"{FTM}: {exc}") from None
        package = descriptor(conn, about, listed, counts, folder)  # the files' hashes with them
    (folder / "datapackage.json").write_text(json.dumps(package, indent=2, ensure_ascii=False) + "\n",
                                             encoding="utf-8")
    (folder / "CITATION.cff").write_text(citation_cff(about["records_date"], base_url), encoding="utf-8")
    if previous is not None:
        try:
            text = changelog(Path(previous), folder / "imu.db",
                             title=f"Changes from {describe(Path(previous))} to version {about['version']} "
                                   f"(records as of {about['records_date']})")
        except Unreadable as exc:
            raise ValueError(f"--previous: {exc}") from None
        (folder / "CHANGELOG.md").write_text(text, encoding="utf-8")
    if check and (errors := validate(folder)):
        raise ValueError("the data package does not validate:\n" + "\n".join(errors[:50]))
    write_sums(folder)
    write_zip(folder, out / f"{name}.zip", about["records_date"])
    return folder


def citation_cff(released: str, url: str = "") -> str:
    """The project's CITATION.cff with the release's date (the records' date, so the same
    records give the same file) and, when the publisher gives it, the site's address."""
    text = (ROOT / "CITATION.cff").read_text(encoding="utf-8").rstrip("\n") + "\n"
    text += f"date-released: {json.dumps(released)}\n"
    return text + (f"url: {json.dumps(url)}\n" if url else "")


def describe(db: Path) -> str:
    """'version X (records as of D)' from a database's dataset_info; builds before 1.0.0
    have none, and are named by their file."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            about = read_info(conn)
        return f"version {about['version']} (records as of {about['records_date']})"
    except (sqlite3.Error, KeyError):
        return f"`{db.name}`"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Write the dataset's release: a Frictionless data package and its zip.")
    parser.add_argument("--db", type=Path, default=ROOT / "imu.db", help="the database (default: imu.db)")
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="where to write it (default: dist)")
    parser.add_argument("--previous", type=Path, help="the previous release's imu.db: write CHANGELOG.md against it")
    parser.add_argument("--base-url", default="",
                        help="the site's address: absolute links in the GeoJSON and the FtM entities, "
                             "and CITATION.cff's url")
    parser.add_argument("--no-validate", dest="check", action="store_false", help="skip frictionless's validation")
    args = parser.parse_args(argv)
    try:
        folder = build(args.db, args.out, args.previous, args.base_url.rstrip("/"), args.check)
    except (ValueError, sqlite3.Error, OSError) as exc:
        print(f"release: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {folder}/ and {folder}.zip")
    return 0


if __name__ == "__main__":
    sys.exit(main())
