"""Build imu.db from seeds/*.yml.

Every record is validated first, and all errors are reported together as
`file:line: path.field: message`; nothing is written unless every record is
good. The database is built in a temporary file beside the target and renamed
into place, so a failed build leaves an existing imu.db untouched.

Big inputs are parsed on every core, file by file. Each file's checked rows are
cached by content in .NAME.cache/ beside the database, so a rebuild after a few
files changed only swaps their rows in a copy of the last database.

    python build_db.py [--seeds DIR] [--out PATH] [--jobs N] [--no-cache]
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import pickle
import re
import shutil
import sqlite3
import sys
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import pycountry
import sqlite_utils

import dataset
import labels
import sentences
import spans
from cache import Cache, code_version, file_key
from dates import date_phrase, parse_date
from files import Terminated, out_problem, seed_files, sweep, temp_path, terminate_on_sigterm, worker_pool
from fold import fold
from quotes import DOCS, QUOTING, Documents, check_claims
import seedparse
from seedparse import Mapping, duplicate_errors, line_of, read_seed, short
from schema import (
    EVENT_CATEGORY, FTS, FTS_TOKENIZE, INDEXES, RECORDS, SLUG, TOP_LEVEL, Field, Record, table_fields,
)

SLUG_RE = re.compile(SLUG)
MAX_SLUG_LEN = 100  # ids and references; the longest id in the seeds is under 50
MAX_REPEATS = 20_000  # records a file may validate again through aliases
# Characters no text may hold: C0 and C1 controls (tab, newline and CR are fine) and the
# invisible format characters (Unicode's Cf: zero-width spaces and joiners, bidi overrides
# and isolates, a BOM). The pattern finds the controls and every non-ASCII character;
# unseen() asks Unicode about the few non-ASCII ones a text has.
CANDIDATE_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\U0010ffff]")


def unseen(value: str) -> re.Match | None:
    """The first control or invisible format character of a text."""
    for m in CANDIDATE_RE.finditer(value):
        if unicodedata.category(m[0]) in ("Cc", "Cf"):
            return m
    return None


COUNTRIES = frozenset(c.alpha_2 for c in pycountry.countries)


class BuildError(Exception):
    """Raised with every error of a run; main() prints them and exits 1."""

    def __init__(self, errors: list[str], notes: list[str] | None = None):
        super().__init__(f"{len(errors)} error(s)")
        self.errors = errors
        self.notes = notes or []  # what was not checked because of the errors


# ------------------------------------------------------------- validation

@dataclass
class FileResult:
    """What one seed file contributes: rows per table, ids it refers to, errors."""

    rows: dict[str, list[dict]] = field(default_factory=dict)
    where: dict[tuple[str, str], str] = field(default_factory=dict)  # (table, id) -> location
    refs: list[tuple[str, str, str]] = field(default_factory=list)  # (table, id, location)
    errors: list[str] = field(default_factory=list)
    suffixes: dict[str, int] = field(default_factory=dict)  # generated id -> next number to try
    seen: set[int] = field(default_factory=set)  # records validated, by object: aliases share them
    open: set[int] = field(default_factory=set)  # records being validated (a record and its parents)
    visits: int = 0
    too_many: bool = False
    unread: str = ""  # the label of a file that could not be parsed: its records are unknown
    lined: bool = True  # its locations name lines (the fast reader keeps none: seedparse.line_of)
    keys: int = 0  # keys of the document and of the records validated, each mapping once


def check_value(f: Field, value) -> tuple[object, str | None]:
    """Coerce one field's value to its column type, or say why it is wrong."""
    if f.type in ("text", "slug", "ref", "country"):
        if not isinstance(value, str):
            return None, f"expected text, got {short(value)}"
        if not value.strip():
            return None, "is empty"
        bad = unseen(value)
        if bad:
            c = bad[0]
            what = f"control character U+{ord(c):04X}" if unicodedata.category(c) == "Cc" else \
                f"invisible character U+{ord(c):04X} ({unicodedata.name(c, 'format').lower()})"
            return None, f"contains the {what} at position {bad.start()}"
        limit = min(f.max_len, MAX_SLUG_LEN) if f.type in ("slug", "ref") else f.max_len
        if len(value) > limit:
            return None, f"is {len(value)} characters long, more than the {limit} allowed"
        if f.type in ("slug", "ref") and not SLUG_RE.fullmatch(value):
            return None, f"{value!r:.80} is not a lower-case slug (letters, digits, single hyphens)"
        if f.type == "country" and value not in COUNTRIES:
            return None, f"{value!r:.20} is not an ISO 3166-1 alpha-2 country code"
        if f.choices and value not in f.choices:
            return None, f"{value!r:.60} is not one of: {', '.join(f.choices)}"
        return value, None
    if f.type == "date":
        iso = parse_date(value, f.side)
        if iso is None:
            shown = repr(value[:40]) if isinstance(value, str) else short(value)
            return None, f"{shown} is not a valid date (YYYY, YYYY-MM or YYYY-MM-DD)"
        return iso, None
    if f.type in ("integer", "real"):
        ok = (int,) if f.type == "integer" else (int, float)
        if isinstance(value, bool) or not isinstance(value, ok):
            wanted = "a whole number" if f.type == "integer" else "a number"
            return None, f"expected {wanted}, got {short(value)}"
        if value != value:  # NaN
            return None, "is not a number"
        if (f.min is not None and value < f.min) or (f.max is not None and value > f.max):
            return None, f"{value!r} is outside {f.min:g}..{f.max:g}"
        return (float(value) if f.type == "real" else value), None
    raise AssertionError(f"unknown field type {f.type}")


def check_record(rec_type: str, item, where: str, label: str, result: FileResult,
                 parent: tuple[str, str] | None = None, line: int | None = None) -> str | None:
    """Validate one record (and what it nests) into rows; returns its id.

    `line` is where the item starts, for items (null, text, lists) that do not carry it.
    A record reached again through an alias is validated again, as each use makes rows
    of its own; a file may do that MAX_REPEATS times (events x participants x claims,
    each an alias, otherwise grew as the sixth power of the file's size), and a record
    may not contain itself.
    """
    if not isinstance(item, dict):
        result.errors.append(f"{label}:{getattr(item, 'line', line or '?')}: {where}: expected a mapping "
                             f"of fields, got {short(item)}")
        return None
    key = id(item)
    if key in result.open:
        result.errors.append(f"{label}:{line_of(item)}: {where}: an alias makes this record contain itself")
        return None
    result.visits += 1
    if key not in result.seen:
        result.seen.add(key)
        result.keys += len(item)
    if result.visits - len(result.seen) > MAX_REPEATS:
        if not result.too_many:
            result.too_many = True
            result.errors.append(f"{label}:{line_of(item)}: {where}: aliases repeat records more than "
                                 f"{MAX_REPEATS:,} times in this file")
        return None
    result.open.add(key)
    try:
        return _check_record(rec_type, item, where, label, result, parent)
    finally:
        result.open.discard(key)


def _check_record(rec_type: str, item: dict, where: str, label: str, result: FileResult,
                  parent: tuple[str, str] | None) -> str | None:
    spec: Record = RECORDS[rec_type]
    errors = result.errors
    if isinstance(item, Mapping):
        errors.extend(duplicate_errors(item, label, where))
    row: dict[str, object] = {}
    known = {f.name for f in spec.fields} | set(spec.children)
    for key in item:
        if key not in known:
            errors.append(f"{label}:{line_of(item, key)}: {where}.{key}: unknown field "
                          f"(allowed: {', '.join(sorted(known))})")
    for f in spec.fields:
        value = item.get(f.name)
        if value is None:
            if f.required:
                errors.append(f"{label}:{line_of(item)}: {where}.{f.name}: required field is missing"
                              + (f": {f.description}" if f.description else ""))
            row[f.col] = None
            continue
        value, problem = check_value(f, value)
        if problem:
            errors.append(f"{label}:{line_of(item, f.name)}: {where}.{f.name}: {problem}")
        row[f.col] = value
        if f.ref and value is not None and problem is None:
            result.refs.append((f.ref, value, f"{label}:{line_of(item, f.name)}: {where}.{f.name}"))

    if spec.distinct:
        one, other = spec.distinct
        if item.get(one) is not None and item.get(one) == item.get(other):
            errors.append(f"{label}:{line_of(item, other)}: {where}.{other}: {item.get(other)!r} is the "
                          f"{one} itself; a {spec.table[:-1].replace('_', ' ')} links two different records")
    if spec.date_pair:
        check_dates(row, item, where, label, errors, spec.field("date_precision").required,
                    span=spec.table != "events")
    if rec_type == "events":
        check_place(row, item, where, label, errors)
        row["event_category"] = EVENT_CATEGORY.get(row.get("event_type"))
    if "reported_start" in row:  # a span (schema.TIME_ORDER)
        row["time_order"] = row.get("date_start") or row.get("reported_start") or row.get("date_end")

    if parent:
        parent_type, parent_id = parent
        row[spec.parent_column[parent_type]] = parent_id
        if rec_type == "claims":
            row["subject_type"] = parent_type
            row["subject_id"] = parent_id
        if rec_type == "aliases":
            row["alias_folded"] = fold(row["alias"] or "")
    generated = not row.get("id")
    if generated:
        row["id"] = make_id(spec, row, parent)
    rec_id = row["id"]
    if rec_id is None:
        return None
    if generated and rec_type in ("claims", "aliases", "passages_left_out") and (spec.table, rec_id) in result.where:
        # e.g. two claims of one source: -2, -3...; each base remembers where it got to
        n = result.suffixes.get(rec_id, 2)
        while (spec.table, f"{rec_id}-{n}") in result.where:
            n += 1
        result.suffixes[rec_id] = n + 1
        rec_id = row["id"] = f"{rec_id}-{n}"

    key = (spec.table, rec_id)
    loc = f"{label}:{line_of(item)}: {where}"
    if key in result.where:
        errors.append(f"{loc}.id: duplicate id {rec_id!r} (first at {result.where[key]})")
    else:
        result.where[key] = loc
    result.rows.setdefault(spec.table, []).append(row)

    claims = 0
    for child_key, child_type in spec.children.items():
        children = item.get(child_key)
        if children is None:
            continue
        if not isinstance(children, list):
            errors.append(f"{label}:{line_of(item, child_key)}: {where}.{child_key}: expected a list")
            continue
        for i, child in enumerate(children):
            child_id = check_record(child_type, child, f"{where}.{child_key}[{i}]", label, result,
                                    parent=(rec_type, rec_id), line=line_of(children, i))
            if child_type == "claims" and child_id:
                claims += 1
    if spec.needs_claim and claims == 0:
        kind = {"people": "person"}.get(rec_type, rec_type[:-1].replace("_", " "))
        errors.append(f"{label}:{line_of(item)}: {where}.claims: {'an' if kind[0] in 'aeiou' else 'a'} {kind} "
                      f"needs at least one claim quoting its source")
    return rec_id


def make_id(spec: Record, row: dict, parent) -> str | None:
    if spec.table == "aliases":
        return f"{parent[1]}--{slugify(row['alias'] or '')}"
    if spec.table == "claims":
        return f"{parent[1]}--{row['source_id']}" if row.get("source_id") else None
    if spec.table == "passages_left_out":
        words = slugify(str(row.get("passage") or ""))
        words = words if len(words) <= 40 else words[:41].rsplit("-", 1)[0]
        return f"{row['source_id']}--{words}" if row.get("source_id") else None
    if spec.id_from and all(row.get(c) for c in spec.id_from):
        return "--".join(str(row[c]) for c in spec.id_from)
    return None


def slugify(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", text.replace("'", "")).strip("-") or "x"


def check_dates(row, item, where, label, errors, precision_required=False, span=False):
    """Cross-field date checks; a value already reported as bad is not reported again.
    A span's (a membership's, a relation's) precision must say what its bounds,
    as written, say (spans.precision_problem), and what a document reports in force must
    lie within its dates (spans.report_problems)."""
    start, end, precision = row.get("date_start"), row.get("date_end"), row.get("date_precision")
    if start and end and start > end:
        errors.append(f"{label}:{line_of(item, 'date_end')}: {where}.date_end: {end} is before "
                      f"date_start {start}")
    if (start or end) and item.get("date_precision") is None and not precision_required:
        errors.append(f"{label}:{line_of(item)}: {where}.date_precision: required when a date is given")
    if precision and item.get("date_start") is None and item.get("date_end") is None:
        errors.append(f"{label}:{line_of(item, 'date_precision')}: {where}: date_precision needs "
                      f"date_start or date_end")
    if span and precision and (start or end):
        problem = spans.precision_problem(precision, item.get("date_start") if start else None,
                                          item.get("date_end") if end else None)
        if problem:
            errors.append(f"{label}:{line_of(item, 'date_precision')}: {where}.date_precision: {problem}")
    if "reported_start" in row:
        for name, problem in spans.report_problems(row, item):
            errors.append(f"{label}:{line_of(item, name)}: {where}.{name}: {problem}")


def check_place(row, item, where, label, errors):
    lat, lon = item.get("latitude"), item.get("longitude")  # as given, even if invalid
    if (lat is None) != (lon is None):
        errors.append(f"{label}:{line_of(item)}: {where}: latitude and longitude go together")
    if lat is not None and item.get("geo_precision") is None:
        errors.append(f"{label}:{line_of(item)}: {where}.geo_precision: required with coordinates")
    low, high = row.get("fatalities_low"), row.get("fatalities_high")
    if low is not None and high is not None and low > high:
        errors.append(f"{label}:{line_of(item, 'fatalities_high')}: {where}.fatalities_high: "
                      f"{high} is less than fatalities_low {low}")


def check_file(data: bytes, label: str, fast: bool = True) -> FileResult:
    """Parse and validate one seed file's bytes on their own (runs in a worker process).

    By the fast reader where it can (seedparse.read_fast); a file with an error is read
    again with lines, so that every error names its line."""
    result = check_file_read(data, label, fast)
    if result.errors and not result.lined:  # read by the fast reader: again, with lines
        result = check_file_read(data, label, False)
    return result


def check_file_read(data: bytes, label: str, fast: bool) -> FileResult:
    result = FileResult()
    try:
        doc, result.errors, with_duplicates, colons = read_seed(data, label, fast)
        result.lined = colons is None
        check_doc(doc, label, result)
        if colons is not None and colons != result.keys and not result.errors:
            # a key given twice, or a colon in a value (seedparse.key_colons): read with lines
            result.errors.append(f"{label}: {colons} key colons, {result.keys} keys read")
    except MemoryError:
        return FileResult(errors=[f"{label}:1: out of memory reading this file: it holds more than "
                                  "this machine can parse (split it, or look for a runaway list)"])
    for mapping in with_duplicates:  # those outside any record: in a value, an unused anchor
        result.errors.extend(duplicate_errors(mapping, label, ""))
    return result


def check_doc(doc, label: str, result: FileResult) -> None:
    if doc is None:  # a parse error, already reported, or a file of comments only
        result.unread = label if result.errors else ""
        if not result.errors:
            result.errors.append(f"{label}:1: file is empty; expected a mapping such as 'events: [...]'")
        return
    if not isinstance(doc, dict):
        result.errors.append(f"{label}:1: expected a mapping of record lists such as 'events:', "
                             f"got {short(doc)}")
        return
    result.keys += len(doc)
    if isinstance(doc, Mapping):
        result.errors.extend(duplicate_errors(doc, label, ""))
    for rec_type, items in doc.items():
        line = line_of(doc, rec_type)
        if rec_type not in TOP_LEVEL:
            result.errors.append(f"{label}:{line}: {rec_type}: unknown record type "
                                 f"(allowed: {', '.join(TOP_LEVEL)})")
            continue
        if items is None:
            continue
        if not isinstance(items, list):
            result.errors.append(f"{label}:{line}: {rec_type}: expected a list of records")
            continue
        for i, item in enumerate(items):
            check_record(rec_type, item, f"{rec_type}[{i}]", label, result, line=line_of(items, i))


def merge(results: list[FileResult]) -> None:
    """Join per-file results: raise BuildError with every file's errors, ids used in two
    files and references to ids that no file defines."""
    errors: list[str] = []
    where: dict[tuple[str, str], str] = {}
    for r in results:
        errors.extend(r.errors)
        for key, loc in r.where.items():
            if key in where:
                hint = ""  # generated ids are made from the parent's id, and kinds may share ids
                if key[0] == "claims" and "--" in key[1]:
                    hint = ("; two records of different kinds share an id and cite the same source: "
                            "give one of the claims an explicit `id:`")
                elif key[0] == "aliases":
                    hint = "; a group and a person share an id and this alias"
                errors.append(f"{loc}.id: duplicate id {key[1]!r} (first at {where[key]}){hint}")
            else:
                where[key] = loc
    # A file that could not be read may define any id: one syntax error there had buried
    # itself under 188 references to its records.
    unread = [r.unread for r in results if r.unread]
    unchecked = 0
    for r in results:
        for table, ref_id, loc in r.refs:
            if (table, ref_id) not in where:
                if unread:
                    unchecked += 1
                else:
                    errors.append(f"{loc}: {ref_id!r} is not the id of any record in {table}")
    notes = [f"{unchecked:,} reference(s) to ids no file defines were not checked: "
             f"{', '.join(unread)} could not be read, and may define them"] if unchecked else []
    if errors:
        raise BuildError(errors, notes)


# ---------------------------------------------------------------- loading

def table_columns(table: str) -> dict[str, type]:
    return {"id": str} | {f.col: f.sql_type for f in table_fields(table)}


def foreign_keys(table: str) -> list[tuple[str, str, str]]:
    return [(f.col, f.ref, "id") for f in table_fields(table) if f.ref]


def described() -> dict[str, tuple[str, tuple[Field, ...]]]:
    """Each table's and view's description and the fields that describe its columns, for
    the codebook (dataset.py); each is written where the table or view is defined."""
    return ({t: (RECORDS[t].description, table_fields(t)) for t in TABLE_ORDER}
            | {"search_index": (SEARCH_DESCRIPTION, SEARCH_FIELDS)}
            | {"documents": (sentences.DESCRIPTION, sentences.FIELDS)}
            | {name: (view.description, view.fields) for name, view in VIEWS.items()})


# Tables in an order where each one's foreign keys point at tables already made.
TABLE_ORDER = ("sources", "dispute_topics", "groups", "people", "aliases", "events",
               "event_groups", "event_people", "memberships", "group_relations", "claims", "passages_left_out")

NOT_NULL = {
    "sources": {"title", "kind"}, "groups": {"name", "description"},
    "people": {"name", "description"}, "aliases": {"alias", "kind"},
    "events": {"title", "event_type", "date_start", "date_end", "date_precision", "description"},
    "event_groups": {"event_id", "group_id", "role"}, "event_people": {"event_id", "person_id", "role"},
    "memberships": {"person_id", "group_id", "role"},
    "group_relations": {"group_id", "related_group_id", "relation"},
    "claims": {"source_id", "quote", "statement", "certainty", "subject_type", "subject_id"},
    "dispute_topics": {"question"},
    "passages_left_out": {"source_id", "passage", "reason"},
}

@dataclass(frozen=True)
class View:
    """A view: its SQL, and what it and each of its columns mean (the codebook's)."""

    description: str
    fields: tuple[Field, ...]
    sql: str


def same_as(table: str, column: str, name: str | None = None) -> Field:
    """A view's column that shows a table's column: described and constrained as that one."""
    f = next(f for f in table_fields(table) if f.col == column)
    return replace(f, name=name or column, column=None, required=False)


VIEWS = {
    "disputes": View(
        description="View: every claim on a disputed point, one row per side, with its source. Its page "
                    "/imu/disputes shows the disputes canned query (same name, richer columns); the view "
                    "itself is in imu.db and in SQL (select * from disputes).",
        fields=(
            Field("dispute_id", description="The disputed point (dispute_topics)."),
            same_as("dispute_topics", "question"),
            same_as("claims", "position"),
            same_as("claims", "certainty"),
            same_as("claims", "quote"),
            same_as("claims", "statement"),
            same_as("claims", "source_id"),
            Field("source_title", description="The title of the document quoted."),
            Field("source_published", "date", description="Its publication date (earliest possible day)."),
            same_as("claims", "cited_source_id"),
            same_as("claims", "subject_type"),
            same_as("claims", "subject_id"),
            Field("claim_id", description="The claim."),
        ),
        sql="""
select
  d.id as dispute_id,
  d.question,
  c.position,
  c.certainty,
  c.quote,
  c.statement,
  c.source_id,
  s.title as source_title,
  s.published as source_published,
  c.cited_source_id,
  c.subject_type,
  c.subject_id,
  c.id as claim_id
from claims c
join dispute_topics d on d.id = c.dispute_id
join sources s on s.id = c.source_id
where d.id in (
  select dispute_id from claims where dispute_id is not null
  group by dispute_id having count(distinct coalesce(position, id)) > 1
)
order by d.id, c.position, c.source_id, c.id
""",
    ),
}


def span_view(table: str) -> View:
    """A span table's view with its years (spans.py), each column described as the table's."""
    columns = list(table_columns(table))
    kind = "membership" if table == "memberships" else "relation between groups"
    return View(
        description=f"View: every {kind} of {table} with the years it may have held and the years it surely "
                    f"held, by the one rule the site's network and year queries follow (spans.py): "
                    f"select * from {spans.SPAN_TABLES[table][0]} where 2011 between first_year_held and "
                    f"last_year_held.",
        fields=(*(same_as(table, c) for c in columns),
                *(Field(name, type_, description=text) for name, type_, text in spans.YEAR_FIELDS)),
        sql=spans.view_sql(table, columns),
    )


VIEWS |= {view: span_view(table) for table, (view, _) in spans.SPAN_TABLES.items()}


# ---------------------------------------------------------------- derived: map popups, one search

def popup(event: dict) -> str:
    """The event's map popup as JSON; datasette-cluster-map renders a `popup` column."""
    killed = labels.toll(event.get("fatalities_low"), event.get("fatalities_best"),
                         event.get("fatalities_high")) or "no death toll given"
    when = date_phrase(event.get("date_start"), event.get("date_end"), event.get("date_precision"))
    text = (event.get("date_text") or "").strip()
    if text:  # the source's own words after ours
        when += f" {text}" if text.startswith("(") and text.endswith(")") else f" ({text})"
    country = labels.code_words("country", event.get("country")) or event.get("country")
    where = ", ".join(x for x in (event.get("place"), country) if x) or "place unknown"
    return json.dumps({
        "title": event["title"],
        "description": f"{when} · {where} · {killed}",
        "link": f"/imu/events/{event['id']}",
    }, ensure_ascii=False, sort_keys=True)


def add_popups(rows: dict[str, list[dict]]) -> None:
    for event in rows.get("events", []):
        event["popup"] = popup(event)


_NAME_WORD = re.compile(r"[\w'\u2019\u2018\u02bc\u02bb`]+")


def names_in(text: str | None) -> str:
    """The capitalised words of a text: the names worth folding (folding 'there' would meet 'Tahir')."""
    return " ".join(w for w in _NAME_WORD.findall(text or "") if w[0].isupper())


def search_rows(db: sqlite_utils.Database):
    """One row per searchable thing: `text` for plain search, `folded` (names only) for spellings,
    and `name` / `name_folded`, its names one a line, which the search ranks first and weights
    above the rest; an alias row's `owner_link` is the record it names, which it is listed under."""
    from labels import source_label

    def lines(*parts):
        return "\n".join(p for p in parts if p)

    def named(*spellings):
        spellings = [s for s in dict.fromkeys(spellings) if s]
        return dict(name=lines(*spellings), name_folded=lines(*dict.fromkeys(map(fold, spellings))))

    names = {}
    for r in db.query("select a.*, coalesce(g.name, p.name) as owner from aliases a "
                      "left join groups g on g.id = a.group_id left join people p on p.id = a.person_id "
                      "order by a.id"):
        owner = ("groups", r["group_id"]) if r["group_id"] else ("people", r["person_id"])
        names.setdefault(owner, []).append(r["alias"])
        yield dict(type="alias", item_id=r["id"], label=f"{r['alias']} ({r['owner']})",
                   link=f"/imu/aliases/{r['id']}", text=lines(r["alias"], r["note"]), folded=fold(r["alias"]),
                   **named(r["alias"]), owner_link=f"/imu/{owner[0]}/{owner[1]}")
    for table, kind in (("groups", "group"), ("people", "person")):
        for r in db.query(f"select * from {table} order by id"):
            spellings = " ".join(dict.fromkeys([r["name"], *names.get((table, r["id"]), [])]))
            yield dict(type=kind, item_id=r["id"], label=r["name"], link=f"/imu/{table}/{r['id']}",
                       text=lines(spellings, r["description"]), folded=fold(spellings),
                       **named(r["name"], *names.get((table, r["id"]), [])), owner_link=None)
    for r in db.query("select * from events order by id"):
        yield dict(type="event", item_id=r["id"], label=r["title"], link=f"/imu/events/{r['id']}",
                   text=lines(r["title"], r["date_text"], r["place"], r["description"]),
                   folded=fold(lines(r["title"], r["place"], names_in(r["description"]))),
                   **named(r["title"]), owner_link=None)
    for r in db.query("select * from sources order by id"):
        yield dict(type="source", item_id=r["id"], label=source_label(r["title"], r["publisher"], r["author"]),
                   link=f"/imu/sources/{r['id']}",
                   text=lines(r["title"], r["author"], r["publisher"], r["notes"]),
                   folded=fold(lines(r["title"], r["author"], r["publisher"])),
                   **named(r["title"], r["publisher"], r["author"]), owner_link=None)
    for r in db.query("select * from claims order by id"):  # a claim has no name: quote and statement
        yield dict(type="claim", item_id=r["id"], label=r["statement"], link=f"/imu/claims/{r['id']}",
                   text=lines(r["quote"], r["statement"], r["position"]),
                   folded=fold(names_in(lines(r["quote"], r["statement"]))),
                   **named(), owner_link=None)


SEARCH_DESCRIPTION = ("Derived at build time for the search canned query: one row per group, person, alias, "
                      "event, source and claim, with its plain text, a folded text of its names, and its names "
                      "one a line, as written and folded, for ranking.")
# What the search reads of every hit comes before the long `text`, which may overflow its page.
SEARCH_FIELDS = (
    Field("type", choices=("alias", "group", "person", "event", "source", "claim"),
          description="What the row stands for (group, person, alias, event, source, claim)."),
    Field("item_id", description="The id of that row in its own table."),
    Field("label", description="Its name, title or statement."),
    Field("link", description="Its page on this site."),
    Field("name", description="Its names, one a line (a group's or person's name and aliases; an event's title; "
                              "a source's title, publisher and author; empty for a claim): an exact match comes "
                              "first, a word here weighs more."),
    Field("name_folded", description="The folded key (fold.py) of each line of name, one a line."),
    Field("owner_link", description="For an alias, the page of the group or person it names, which it is listed "
                                    "under; empty otherwise."),
    Field("text", description="The words searched as written (names, aliases, titles, descriptions, quotes)."),
    Field("folded", description="Spelling-forgiving keys (fold.py) of its names only, so \"Yuldashev\" finds "
                                "\"Yo'ldashev\"."),
)
SEARCH_COLUMNS = {f.col: f.sql_type for f in SEARCH_FIELDS}


def create_search_index(db: sqlite_utils.Database) -> None:
    """The table behind the `search` canned query; its FTS is enabled with the others."""
    db["search_index"].create(SEARCH_COLUMNS, pk=("type", "item_id"),
                              not_null={"label", "link", "text", "folded", "name", "name_folded"})


def file_search_rows(rows: dict[str, list[dict]]) -> list[dict]:
    """search_rows() for one file's records, read back from a database in memory.

    Per file is enough because a search row joins a record only with what it nests
    (a group's or person's aliases), which is always in the same file;
    tests/test_bench.py checks the result against search_rows() over a whole build.
    """
    db = sqlite_utils.Database(memory=True)
    for table in TABLE_ORDER:
        columns = TABLES[table]
        db[table].create(table_columns(table), pk="id")
        db.conn.executemany(INSERT_SQL[table], with_rowids([tuple(map(r.get, columns))
                                                            for r in rows.get(table, [])], 0))
    return sorted(search_rows(db), key=lambda r: (r["type"], r["item_id"]))


# ---------------------------------------------------------------- loading, file by file
#
# Each seed file becomes a Part: its rows as tuples per table, checked on their own
# (in parallel for big inputs). The parts are inserted one after another into a new
# file; what spans files (ids used twice, references) is checked by SQLite's keys and
# `foreign_key_check`, and on any failure merge() words every error from the parts.
# Parts are cached by content (cache.py), so a rebuild after a few files changed
# updates a copy of the last database instead: the old parts' rows out, the new in.
#
# A row's rowid is its file's place among the seed files and its own place among that
# file's rows of the table, so a table's rows stand in the same order however the
# database was made, and an incremental build's `.dump` is the full build's, byte for
# byte; a full build appends every row, in rowid order.

TABLES = {t: list(table_columns(t)) for t in TABLE_ORDER} | {"search_index": list(SEARCH_COLUMNS)}
INSERT_SQL = {t: f"insert into [{t}] (rowid, {', '.join(f'[{c}]' for c in cols)}) "
                 f"values (?, {', '.join('?' for _ in cols)})" for t, cols in TABLES.items()}
PARALLEL_BYTES = 2_000_000  # below this, worker processes cost more than they save
ROWS_PER_FILE = 2**31  # rowids of the n-th file's rows of a table: n * ROWS_PER_FILE + 0, 1, ...


def with_rowids(rows: list[tuple], rank: int):
    base = (rank + 1) * ROWS_PER_FILE
    return ((base + i, *row) for i, row in enumerate(rows))


@dataclass
class Part:
    """What one seed file adds: rows per table (tuples in TABLES order) and its checks."""

    label: str
    key: str
    tables: dict[str, list[tuple]]
    result: FileResult  # errors, ids and references (its rows are in `tables`)


def make_part(label: str, data: bytes, key: str = "", fast: bool = True) -> Part:
    """Check one file's bytes and derive its rows for every table (runs in a worker process)."""
    result = check_file(data, label, fast)
    tables = {}
    if not result.errors:
        rows = dict(result.rows)
        add_popups(rows)
        rows["search_index"] = file_search_rows(rows)
        tables = {t: [tuple(map(r.get, TABLES[t])) for r in rows[t]] for t in TABLES if rows.get(t)}
    result.rows = {}
    return Part(label, key, tables, result)


@contextlib.contextmanager
def no_gc():
    """Parsing and loading make millions of small objects and no cycles worth collecting;
    the cyclic garbage collector would spend a quarter of the time walking them."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def part_job(label: str, version: bytes | None, cache_dir: str | None, fast: bool = True) -> bytes:
    """Read the file once, key it by those bytes, and make_part() from the same bytes;
    pickled once, both for the parent process and for the cache (under that key).

    Plain tuples, so that `python build_db.py` and `import build_db` share the cache.
    """
    try:
        data = Path(label).read_bytes()
    except OSError as exc:
        return pickle.dumps((label, "", {}, [f"{label}: cannot read: {exc.strerror or exc}"], {}, [], label, True))
    key = file_key(version, label, data) if version is not None else ""
    with no_gc():
        p = make_part(label, data, key, fast)
    blob = pickle.dumps((p.label, p.key, p.tables, p.result.errors, p.result.where, p.result.refs,
                         p.result.unread, p.result.lined), pickle.HIGHEST_PROTOCOL)
    if cache_dir and not p.result.errors:
        Cache.write_to(Path(cache_dir), key, blob)
    return blob


def unpickle_part(blob: bytes) -> Part:
    label, key, tables, errors, where, refs, unread, lined = pickle.loads(blob)
    return Part(label, key, tables, FileResult(where=where, refs=refs, errors=errors, unread=unread, lined=lined))


def cached_part(cache: Cache, key: str) -> Part | None:
    """A part from the cache, or None when it is missing or damaged (it is then made again)."""
    blob = cache.read(key)
    try:
        return unpickle_part(blob) if blob else None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError):
        return None


VERBOSE = {"on": False, "start": 0.0}


def log(message: str) -> None:
    """With --verbose, say how long the build has taken so far."""
    if VERBOSE["on"]:
        print(f"{time.perf_counter() - VERBOSE['start']:7.2f} s  {message}", file=sys.stderr)


def parts(labels: list[str], keys: dict[str, str], jobs: int | None, cache: Cache | None):
    """Each file's Part, in order: from the cache (read as it is needed), or made (by
    `jobs` processes), by the fast reader where it can."""
    todo = {label for label in labels if not (cache and cache.has(keys[label]))}
    size = sum(Path(label).stat().st_size for label in todo)
    jobs = jobs or (min(len(todo), os.cpu_count() or 1) if size > PARALLEL_BYTES else 1)
    version = cache.version if cache else None
    cache_dir = str(cache.dir) if cache else None

    def cached_or_made(label: str) -> Part:
        part = cached_part(cache, keys[label]) if label not in todo else None
        return part or unpickle_part(part_job(label, version, cache_dir))

    if jobs > 1 and len(todo) > 1:
        with worker_pool(jobs) as pool:
            futures = {label: pool.submit(part_job, label, version, cache_dir) for label in labels if label in todo}
            for label in labels:
                yield unpickle_part(futures.pop(label).result()) if label in futures else cached_or_made(label)
    else:
        for label in labels:
            yield cached_or_made(label)


def lined_parts(labels: list[str], keys: dict[str, str], cache: Cache | None):
    """parts(), each with the lines of its records: what the fast reader read is read again
    (one process: only to word errors), and cached in place of the part without lines."""
    version = cache.version if cache else None
    cache_dir = str(cache.dir) if cache else None
    for part in parts(labels, keys, None, cache):
        yield part if part.result.lined else unpickle_part(part_job(part.label, version, cache_dir, fast=False))


def locate(labels: list[str], keys: dict[str, str], cache: Cache | None,
           problems: list[tuple[str, str, str]]) -> list[str]:
    """`file:line: record.field: message` for problems found in the database, as (table, id, message)."""
    wanted = {(table, rec_id) for table, rec_id, _ in problems}
    where = {}
    for part in lined_parts(labels, keys, cache):
        where.update({k: v for k, v in part.result.where.items() if k in wanted})
    return [f"{where.get((table, rec_id), f'{table} {rec_id!r}')}.{message}" for table, rec_id, message in problems]


def report(labels: list[str], keys: dict[str, str], cache: Cache | None) -> None:
    """Raise BuildError with every error, as merge() words them, when the seeds have any."""
    merge([part.result for part in lined_parts(labels, keys, cache)])


def check_quotes(conn: sqlite3.Connection, docs: Documents | None, only: dict[str, set[str]] | None = None):
    """Problems (table, id, message) with claims' quotes and passages left out; sets their
    offsets where found. Returns the problems and the tables whose offsets changed."""
    if docs is None:
        return [], set()
    problems, offsets = check_claims(conn, docs, only)
    return problems, store_offsets(conn, offsets)


def store_offsets(conn: sqlite3.Connection, offsets: list[tuple[str, int, str]]) -> set[str]:
    """claims.quote_offset and passages_left_out.passage_offset from (table, offset, id);
    returns the tables where one changed."""
    changed = set()
    for table, (_, column) in QUOTING.items():
        pairs = [(at, row_id, at) for t, at, row_id in offsets if t == table]
        if pairs and conn.executemany(f"update [{table}] set [{column}] = ? where id = ? and [{column}] is not ?",
                                      pairs).rowcount:
            changed.add(table)
    return changed


def finish(db: sqlite_utils.Database, path: Path, docs: Documents | None) -> tuple[list[str], list]:
    """Quotes, indexes, views and full-text search once every row is in, and the checks.

    Work overlaps where WAL lets a reader and the writer go on together: the quotes are
    found in their documents (Python) on a connection of their own while the indexes are
    made (SQLite); the full integrity and foreign-key checks read a committed snapshot
    while the FTS indexes are built; those, whose tables have no other index, get a
    quick_check after. Returns the database problems found and the quotes' problems
    (table, id, message); nothing is built past the quotes when they have any.
    """
    db.conn.commit()
    db.execute("pragma journal_mode = wal")
    with ThreadPoolExecutor(2) as threads:
        quotes_found = threads.submit(find_quotes, path, docs)
        db.index_foreign_keys()
        for table, indexes in INDEXES.items():
            for columns in indexes:
                db[table].create_index(columns, if_not_exists=True)
        for name, view in VIEWS.items():
            db.create_view(name, view.sql.strip())
        spans.derive(db.conn)  # groups' first dates and people's deaths, from the other tables
        timed = spans.time_problems(db.conn)  # records placed before or after their parties
        quoted, offsets = quotes_found.result()
        if quoted or timed:
            return [], quoted + timed
        store_offsets(db.conn, offsets)
        db.conn.commit()
        log("indexed, and checked every quote against its document")
        checked = threads.submit(db_problems, path)
        # Search last: a later table rebuild would silently drop the FTS triggers.
        for table, columns in FTS.items():
            db[table].enable_fts(columns, tokenize=FTS_TOKENIZE, create_triggers=True)
        analyze(db.conn)
        db.conn.commit()
        problems = checked.result()
    problems += db_problems(path, quick=True, foreign_keys=False)
    db.execute("pragma journal_mode = delete")  # back to one file, ready to rename
    return problems, []


def find_quotes(path: Path, docs: Documents | None) -> tuple[list, list]:
    """check_claims() on a connection of its own."""
    if docs is None:
        return [], []
    conn = sqlite3.connect(path)
    try:
        return check_claims(conn, docs)
    finally:
        conn.close()


def analyze(conn: sqlite3.Connection, tables: list[str] | None = None) -> None:
    """ANALYZE (every table, or those named), with sqlite_stat1's rows in one order
    whatever the database's history. Naming no table does nothing, so that a rebuild that
    changed nothing leaves the file as it was, byte for byte."""
    if tables is not None and not tables:
        return
    for table in tables if tables is not None else [None]:
        conn.execute("analyze" if table is None else f"analyze [{table}]")
    rows = conn.execute("select tbl, idx, stat from sqlite_stat1 order by tbl, idx").fetchall()
    conn.execute("delete from sqlite_stat1")
    conn.executemany("insert into sqlite_stat1 (tbl, idx, stat) values (?, ?, ?)", rows)


def db_problems(path: Path, quick: bool = False, foreign_keys: bool = True) -> list[str]:
    """What integrity_check (or quick_check) and foreign_key_check find, on a connection of its own."""
    conn = sqlite3.connect(path)
    try:
        problems = [r[0] for r in conn.execute(f"pragma {'quick' if quick else 'integrity'}_check")
                    if r[0] != "ok"]
        if foreign_keys:
            problems += [f"foreign key: {table} rowid {rowid} -> {parent}"
                         for table, rowid, parent, _ in conn.execute("pragma foreign_key_check")]
    finally:
        conn.close()
    return [f"database check failed: {p}" for p in problems]


def load(labels: list[str], keys: dict[str, str], path: Path, jobs: int | None,
         cache: Cache | None, docs: Documents | None) -> tuple[dict[str, int], dict[str, str]]:
    """Write every file's rows into a new SQLite file at path; returns rows per table and
    the key of each file's content as parsed."""
    db = sqlite_utils.Database(path)
    for table in TABLE_ORDER:
        db[table].create(table_columns(table), pk="id", foreign_keys=foreign_keys(table),
                         not_null=NOT_NULL.get(table, ()))
    create_search_index(db)
    counts = dict.fromkeys(TABLES, 0)
    failed, problems, parsed = False, [], {}
    for rank, part in enumerate(parts(labels, keys, jobs, cache)):
        parsed[part.label] = part.key
        failed = failed or bool(part.result.errors)
        if failed:  # keep reading: every file's errors are reported
            continue
        try:
            for table, rows in part.tables.items():
                db.conn.executemany(INSERT_SQL[table], with_rowids(rows, rank))
                counts[table] += len(rows)
        except sqlite3.IntegrityError as exc:  # an id used in two files
            failed = f"database check failed: {exc}"
    log(f"parsed {len(labels)} files and inserted their rows")
    if not failed:
        problems, quoted = finish(db, path, docs)
        if quoted:  # with any dangling reference or duplicate id too: every error at once
            db.close()
            try:
                report(labels, keys, cache)
            except BuildError as exc:
                raise BuildError(exc.errors + locate(labels, keys, cache, quoted)) from None
            raise BuildError(locate(labels, keys, cache, quoted))
        log("searchable and checked")
    db.close()
    if failed or problems:
        report(labels, keys, cache)  # a dangling reference or a duplicate id: the seeds' error
        raise BuildError(problems or [failed if isinstance(failed, str) else "database check failed"])
    return counts, parsed


def update(labels: list[str], keys: dict[str, str], out: Path, tmp: Path, jobs: int | None,
           cache: Cache, docs: Documents | None, docs_digest: str) -> tuple[dict[str, int], dict[str, str], set] | None:
    """Apply the files changed since the last build to a copy of its database.

    The swapped rows' references are checked (and those to records that are gone),
    their quotes, and the full-text indexes and statistics of the tables they touch
    are made again as a full build makes them.

    Returns rows per table, the parsed keys and the tables touched ("documents" when the
    sentences quoted or left out must be counted again), or None when a full build is needed: no
    usable manifest, a file added or removed (rowids follow the files' order), many
    files changed, the sources or documents changed (every quote is then checked
    again), or anything wrong (the full build then reports it).
    """
    manifest = cache.manifest(out) if out.exists() else None
    if manifest is None or manifest.get("docs") != docs_digest or list(manifest["files"]) != labels:
        return None
    old = manifest["files"]
    changed = [label for label in labels if old[label] != keys[label]]
    size = {label: Path(label).stat().st_size for label in labels}
    if sum(size[label] for label in changed) > sum(size.values()) // 4:
        return None  # swapping that many rows one by one is slower than loading them all
    old_parts = [cached_part(cache, old[label]) for label in changed]
    if None in old_parts:
        return None
    new_parts = list(parts(changed, keys, jobs, cache))
    ranks = [labels.index(label) for label in changed]
    log(f"parsed {len(changed)} changed file(s) of {len(labels)}")
    if any(part.result.errors for part in new_parts):
        return None
    parsed = dict(keys) | {part.label: part.key for part in new_parts}
    shutil.copyfile(out, tmp)
    conn = sqlite3.connect(tmp)
    try:
        inserted, deleted = apply(conn, old_parts, new_parts, ranks)
        touched = {t for t in TABLES if inserted.get(t) or deleted.get(t)} | spans.derive(conn)
        if "sources" in touched or dangling(conn, inserted, deleted):
            return None
        log("swapped their rows in a copy of the database")
        quoted, changed_offsets = check_quotes(conn, docs, {t: {row[0] for row in inserted.get(t, ())}
                                                            for t in QUOTING})
        if quoted or spans.time_problems(conn):
            return None
        touched |= changed_offsets
        searched = sorted(touched & set(FTS))
        for table in searched:
            conn.execute(f"insert into [{table}_fts]([{table}_fts]) values ('rebuild')")
        conn.commit()  # FTS5 writes its index at commit; ANALYZE must see it
        analyze(conn, [*sorted(touched), *(f"{t}_fts_{shadow}" for t in searched
                                           for shadow in ("data", "idx", "docsize", "config"))])
        conn.commit()
        search = f"the search of {', '.join(searched)} and " if searched else ""
        log(f"rebuilt {search}the statistics of the tables touched")
        # "documents": the sentences quoted or left out may have changed (inserted rows always
        # get their offsets anew, so only their words and sources tell)
        recount = {"documents"} if requoted(old_parts, inserted, deleted) else set()
        return ({t: conn.execute(f"select count(*) from [{t}]").fetchone()[0] for t in TABLES}, parsed,
                touched | recount)
    except sqlite3.IntegrityError:  # an id used in two files
        return None
    finally:
        conn.close()


def requoted(old_parts: list[Part], inserted: dict[str, list[tuple]], deleted: dict[str, set[str]]) -> bool:
    """Whether the swapped rows changed what any document has quoted or left out: a claim or
    passage added, removed, or given other words or another source. A claim whose statement
    alone changed does not: recounting every document's sentences took 3.4 s at 100,000 events."""
    for table, (column, _) in QUOTING.items():
        columns = TABLES[table]
        at = [columns.index(c) for c in ("id", "source_id", column)]
        new = {tuple(row[i] for i in at) for row in inserted.get(table, ())}
        gone = deleted.get(table, set())
        old = {tuple(row[i] for i in at) for part in old_parts for row in part.tables.get(table, ())
               if row[at[0]] in gone}
        if new != old:
            return True
    return False


def dangling(conn: sqlite3.Connection, inserted: dict[str, list[tuple]], deleted: dict[str, set[str]]) -> bool:
    """Whether the swapped rows left a reference pointing nowhere: a new row's, or one to a
    record that is gone. Reads only the rows concerned, through the foreign keys' indexes."""
    def missing(parent: str, ids: set) -> bool:
        found = conn.execute(f"select count(*) from [{parent}] where id in (select value from json_each(?))",
                             [json.dumps(sorted(ids))]).fetchone()[0]
        return found != len(ids)

    for table, rows in inserted.items():
        for column, parent, _ in foreign_keys(table) if table in TABLE_ORDER else ():
            at = TABLES[table].index(column)
            if missing(parent, {row[at] for row in rows if row[at] is not None}):
                return True
    for table, ids in deleted.items():
        gone = ids.difference(row[0] for row in inserted.get(table, ()))
        for child in TABLE_ORDER:
            for column, parent, _ in foreign_keys(child):
                if parent == table and gone and conn.execute(
                        f"select 1 from [{child}] where [{column}] in (select value from json_each(?)) limit 1",
                        [json.dumps(sorted(gone))]).fetchone():
                    return True
    return False


def apply(conn: sqlite3.Connection, old_parts: list[Part], new_parts: list[Part],
          ranks: list[int]) -> tuple[dict[str, list[tuple]], dict[str, set[str]]]:
    """Delete the rows only the old parts have, insert those only the new ones have (the
    parts of the files at `ranks`, rowids included); returns the rows inserted (without
    their rowids) and the ids deleted, per table.

    A row left exactly as it was, in its place, is not touched, so editing one record of a
    big file rewrites only that record's rows (and their indexes, and their FTS entries).
    """
    inserted, deleted = {}, {}
    for table in TABLES:
        old = {row for part, rank in zip(old_parts, ranks) for row in with_rowids(part.tables.get(table, []), rank)}
        new_rows = [row for part, rank in zip(new_parts, ranks) for row in with_rowids(part.tables.get(table, []), rank)]
        new = [row for row in new_rows if row not in old]
        gone = old.difference(new_rows)
        conn.executemany(f"delete from [{table}] where rowid = ?", [(row[0],) for row in gone])
        conn.executemany(INSERT_SQL[table], new)
        if new:
            inserted[table] = [row[1:] for row in new]
        if gone:
            deleted[table] = {row[1] for row in gone}
    return inserted, deleted


def file_keys(store: Cache | None, labels: list[str]) -> dict[str, str]:
    """Each file's cache key (none without a cache); every file that cannot be read is an error."""
    if store is None:
        return dict.fromkeys(labels, "")
    keys, errors = {}, []
    for label in labels:
        try:
            keys[label] = store.key(label, Path(label).read_bytes())
        except OSError as exc:
            errors.append(f"{label}: cannot read: {exc.strerror or exc}")
    if errors:
        raise BuildError(errors)
    return keys


def build(seeds: Path, out: Path, jobs: int | None = None, cache: bool = True,
          docs: Path | None = DOCS) -> dict[str, int]:
    """Validate, load into a temporary file beside `out`, then rename it into place.

    With the cache (the folder .NAME.cache beside `out`), files unchanged since the
    last build are not parsed again, and when few files changed, their rows are
    swapped in a copy of the last database rather than loading everything again.
    Claims' quotes are checked against the documents in `docs` when that folder exists.
    """
    VERBOSE["start"] = time.perf_counter()
    if (problem := out_problem(out, seeds)):
        raise BuildError([f"{out}: {problem}"])
    paths, errors = seed_files(seeds)
    if errors:
        raise BuildError(errors)
    labels = [str(p) for p in paths]
    documents = Documents.at(docs) if docs is not None and docs.is_dir() else None
    docs_digest = documents.digest() if documents and cache else ""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        sweep(out.parent, out.name)
        tmp = temp_path(out)
    except OSError as exc:
        raise BuildError([f"{out}: cannot write here: {exc.strerror or exc}"]) from None
    # a part is only as good as the code that made it, the countries it knew and its parsers
    store = Cache(out, code_version(" ".join(sorted(COUNTRIES)).encode() + seedparse.readers().encode())) if cache else None
    try:
        keys = file_keys(store, labels)
        result = update(labels, keys, out, tmp, jobs, store, documents, docs_digest) if store else None
        if result is None:
            log("full build")
            tmp.unlink(missing_ok=True)
            result = (*load(labels, keys, tmp, jobs, store, documents), None)
        counts, parsed, touched = result
        if touched is None or "documents" in touched:  # how much of each document is quoted or left out
            if both := sentences.write(tmp, documents):
                raise BuildError(locate(labels, keys, store, both))
        problems = dataset.write(tmp, seeds, paths, described())
        if problems:
            raise BuildError(problems)
        stamp = Cache.stamp(tmp)  # taken before the rename: another build may rename its file after
        os.replace(tmp, out)
    except OSError as exc:
        raise BuildError([f"{exc.filename or out}: {exc.strerror or exc}"]) from None
    finally:
        for leftover in (tmp, *(Path(f"{tmp}-{end}") for end in ("journal", "wal", "shm"))):
            leftover.unlink(missing_ok=True)
    if store:
        store.save(stamp, parsed, docs_digest)
    log(f"wrote {out}")
    return {table: counts[table] for table in TABLE_ORDER}


SHOWN_ERRORS = 200  # a flood of errors: the first ones and how many more


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Validate seeds/*.yml and build imu.db.")
    ap.add_argument("--seeds", default="seeds", type=Path, help="folder of *.yml records (default: seeds)")
    ap.add_argument("--out", default="imu.db", type=Path, help="database to write (default: imu.db)")
    ap.add_argument("--docs", default=DOCS, type=Path,
                    help="folder of the source documents, to check every quote against "
                         "(default: ../shared/seeds; skipped if that folder is missing)")
    ap.add_argument("--jobs", type=int, default=None, help="parser processes (default: by input size)")
    ap.add_argument("--no-cache", action="store_true",
                    help="parse every file and load from scratch, without reading or writing .OUT.cache")
    ap.add_argument("-v", "--verbose", action="store_true", help="say how long each step took")
    args = ap.parse_args(argv)
    VERBOSE["on"] = args.verbose
    problem = None
    if not args.seeds.exists():
        problem = f"{args.seeds}: seeds folder does not exist"
    elif not args.seeds.is_dir():
        problem = f"{args.seeds}: --seeds must name a folder of *.yml files, not a file"
    elif args.docs != DOCS and not args.docs.is_dir():
        problem = f"{args.docs}: --docs must name the folder of source documents"
    if problem:
        print(problem, file=sys.stderr)
        return 1
    if not args.docs.is_dir():
        print(f"note: no documents at {args.docs}; quotes are not checked against them", file=sys.stderr)
    try:
        with terminate_on_sigterm():
            counts = build(args.seeds, args.out, args.jobs, cache=not args.no_cache, docs=args.docs)
    except BuildError as exc:
        for line in exc.errors[:SHOWN_ERRORS]:
            print(line, file=sys.stderr)
        if len(exc.errors) > SHOWN_ERRORS:
            print(f"... and {len(exc.errors) - SHOWN_ERRORS:,} more, not shown: mend the first ones and "
                  "build again", file=sys.stderr)
        for note in exc.notes:
            print(f"note: {note}", file=sys.stderr)
        print(f"{len(exc.errors):,} error(s); {args.out} was not changed", file=sys.stderr)
        return 1
    except MemoryError:
        print(f"{args.seeds}: out of memory while building; {args.out} was not changed", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, Terminated) as exc:
        print(f"{'terminated' if isinstance(exc, Terminated) else 'interrupted'}; {args.out} was not changed",
              file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    print(f"wrote {args.out}: " + ", ".join(f"{n} {t}" for t, n in counts.items()))
    return 0


if __name__ == "__main__":
    code = main()
    if code in (130, 143):
        # Interrupted: the cleanup is done, and the parser pool's threads may be stuck on a
        # killed parser's half-written result (files.worker_pool); joining them at exit
        # would hang, so the process ends here.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
