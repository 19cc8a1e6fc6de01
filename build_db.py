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
import datetime as dt
import gc
import hashlib
import json
import os
import pickle
import re
import reprlib
import shutil
import sqlite3
import sys
import tempfile
import time
import unicodedata
from calendar import monthrange
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pycountry
import sqlite_utils
import yaml

from fold import fold
from schema import (
    EXTRA_COLUMNS, FTS, FTS_TOKENIZE, INDEXES, RECORDS, SLUG, TOP_LEVEL, Field, Record,
)

SLUG_RE = re.compile(SLUG)
MAX_SLUG_LEN = 100  # ids and references; the longest id in the seeds is under 50
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab, newline, CR are fine
DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
COUNTRIES = frozenset(c.alpha_2 for c in pycountry.countries)
MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_DEPTH = 1000  # libyaml's C composer recurses and crashes the process somewhere past 20,000


class BuildError(Exception):
    """Raised with every error of a run; main() prints them and exits 1."""

    def __init__(self, errors: list[str]):
        super().__init__(f"{len(errors)} error(s)")
        self.errors = errors


# ---------------------------------------------------------------- parsing

class Mapping(dict):
    """A YAML mapping that remembers the line of each of its keys, and keys given twice."""

    __slots__ = ("line", "key_lines", "duplicates")

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class SeedLoader(yaml.CSafeLoader):
    """The C loader, keeping line numbers and refusing duplicate keys."""

    def __init__(self, stream):
        super().__init__(stream)
        self.with_duplicates: list[Mapping] = []

    def construct_mapping(self, node, deep=False):
        mapping = Mapping()
        mapping.line = node.start_mark.line + 1
        mapping.key_lines = {}
        mapping.duplicates = []  # (line, key); check_record reports them with the field path
        seen = set()
        for key_node, _ in node.value:  # the mapping's own keys, before any `<<:` merge
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = key_node.value if isinstance(key_node.value, str) else repr(key_node.value)
            if key in seen:
                mapping.duplicates.append((key_node.start_mark.line + 1, key))
            seen.add(key)
        if mapping.duplicates:
            self.with_duplicates.append(mapping)
        self.flatten_mapping(node)  # merged keys come first, so the mapping's own win
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str):
                key = str(key)
            mapping[key] = self.construct_object(value_node, deep=deep)
            mapping.key_lines[key] = key_node.start_mark.line + 1
        return mapping


class Sequence(list):
    """A YAML list that remembers the line of each of its items."""

    __slots__ = ("line", "item_lines")

    def line_of(self, i: int) -> int:
        return self.item_lines[i] if i < len(self.item_lines) else self.line


def construct_sequence(loader, node):
    seq = Sequence()
    seq.line = node.start_mark.line + 1
    seq.item_lines = [n.start_mark.line + 1 for n in node.value]
    yield seq  # filled in afterwards, so a list may contain itself, as in PyYAML
    seq.extend(loader.construct_sequence(node))


SeedLoader.add_constructor("tag:yaml.org,2002:map", SeedLoader.construct_mapping)
SeedLoader.add_constructor("tag:yaml.org,2002:seq", construct_sequence)
# Unquoted dates stay text: PyYAML would raise on 2001-13-45, and check_value
# gives a better message about the field than the parser could.
SeedLoader.add_constructor("tag:yaml.org,2002:timestamp", SeedLoader.construct_yaml_str)


class _ShortRepr(reprlib.Repr):
    """repr() cut short, so a huge or self-referencing value cannot stall an error message."""

    def __init__(self):
        super().__init__()
        self.maxlevel, self.maxlist, self.maxdict, self.maxstring, self.maxother = 2, 4, 4, 60, 60

    def repr_Mapping(self, x, level):
        return self.repr_dict(x, level)

    def repr_Sequence(self, x, level):
        return self.repr_list(x, level)


_short_repr = _ShortRepr()


def short(value) -> str:
    """A value's type and a bounded repr, for error messages."""
    kind = {dict: "mapping", Mapping: "mapping", list: "list", Sequence: "list",
            type(None): "null"}.get(type(value), type(value).__name__)
    return f"{kind} {_short_repr.repr(value)}"


def read_seed(path: Path, label: str) -> tuple[object, list[str], list[Mapping]]:
    """Parse one seed file; syntax and encoding problems come back as errors.

    Also returns the mappings that have a key twice, for check_file to report.
    """
    data = path.read_bytes()
    if len(data) > MAX_FILE_BYTES:
        return None, [f"{label}:1: file is {len(data)} bytes, more than the {MAX_FILE_BYTES} allowed"], []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, [f"{label}:{line}: file is not UTF-8 (byte {data[exc.start]:#04x} at offset {exc.start})"], []
    if not text.strip():
        return None, [f"{label}:1: file is empty; expected a mapping such as 'events: [...]'"], []
    deep = too_deep(text)
    if deep:
        return None, [f"{label}:{deep}: YAML nesting is deeper than {MAX_DEPTH} levels"], []
    loader = SeedLoader(text)
    try:
        doc = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        lines = text.splitlines()
        if mark and mark.line < len(lines) and "\t" in lines[mark.line][: mark.column + 1]:
            problem += " (a tab: indent with spaces)"
        return None, [f"{label}:{line}: YAML syntax error: {problem}"], []
    except yaml.YAMLError as exc:
        return None, [f"{label}:1: YAML error: {exc}"], []
    except RecursionError:
        return None, [f"{label}:1: YAML nesting is too deep"], []
    finally:
        loader.dispose()
    return doc, [], loader.with_duplicates


def duplicate_errors(mapping: Mapping, label: str, where: str) -> list[str]:
    """Errors for the keys given twice in one mapping; reported once, then forgotten."""
    prefix = f"{where}." if where else ""
    errors = [f"{label}:{line}: {prefix}{key}: duplicate key (each key may appear once per mapping; "
              f"PyYAML would keep only the last)" for line, key in mapping.duplicates]
    mapping.duplicates = []
    return errors


def too_deep(text: str) -> int | None:
    """The line where nesting passes MAX_DEPTH, if it does.

    Each level of nesting needs a bracket or more indentation, so most files are
    cleared by counting; only the rest are walked event by event.
    """
    bound = text.count("[") + text.count("{") + 2 * max(map(len, text.splitlines()), default=0) + 2
    if bound <= 5 * MAX_DEPTH:
        return None
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.CSafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    return event.start_mark.line + 1
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        pass  # the real parse reports it with its line
    return None


# ------------------------------------------------------------- validation

@dataclass
class FileResult:
    """What one seed file contributes: rows per table, ids it refers to, errors."""

    rows: dict[str, list[dict]] = field(default_factory=dict)
    where: dict[tuple[str, str], str] = field(default_factory=dict)  # (table, id) -> location
    refs: list[tuple[str, str, str]] = field(default_factory=list)  # (table, id, location)
    errors: list[str] = field(default_factory=list)


def parse_date(value, side: str) -> str | None:
    """'1999', '1999-02' or '1999-02-16' -> the earliest/latest ISO day it allows."""
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    m = DATE_RE.match(value)
    if not m:
        return None
    year, month, day = int(m[1]), m[2] and int(m[2]), m[3] and int(m[3])
    try:
        if day:
            return dt.date(year, month, day).isoformat()
        if month:
            day = 1 if side == "start" else monthrange(year, month)[1]
            return dt.date(year, month, day).isoformat()
        return dt.date(year, 1, 1).isoformat() if side == "start" else dt.date(year, 12, 31).isoformat()
    except ValueError:
        return None


def check_value(f: Field, value) -> tuple[object, str | None]:
    """Coerce one field's value to its column type, or say why it is wrong."""
    if f.type in ("text", "slug", "ref", "country"):
        if not isinstance(value, str):
            return None, f"expected text, got {short(value)}"
        if not value.strip():
            return None, "is empty"
        bad = CONTROL_RE.search(value)
        if bad:
            return None, f"contains the control character U+{ord(bad[0]):04X} at position {bad.start()}"
        limit = min(f.max_len, MAX_SLUG_LEN) if f.type in ("slug", "ref") else f.max_len
        if len(value) > limit:
            return None, f"is {len(value)} characters long, more than the {limit} allowed"
        if f.type in ("slug", "ref") and not SLUG_RE.match(value):
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
    """
    spec: Record = RECORDS[rec_type]
    if not isinstance(item, Mapping):
        result.errors.append(f"{label}:{getattr(item, 'line', line or '?')}: {where}: expected a mapping "
                             f"of fields, got {short(item)}")
        return None
    errors = result.errors
    errors.extend(duplicate_errors(item, label, where))
    row: dict[str, object] = {}
    known = {f.name for f in spec.fields} | set(spec.children)
    for key in item:
        if key not in known:
            errors.append(f"{label}:{item.line_of(key)}: {where}.{key}: unknown field "
                          f"(allowed: {', '.join(sorted(known))})")
    for f in spec.fields:
        value = item.get(f.name)
        if value is None:
            if f.required:
                errors.append(f"{label}:{item.line}: {where}.{f.name}: required field is missing")
            row[f.col] = None
            continue
        value, problem = check_value(f, value)
        if problem:
            errors.append(f"{label}:{item.line_of(f.name)}: {where}.{f.name}: {problem}")
        row[f.col] = value
        if f.ref and value is not None and problem is None:
            result.refs.append((f.ref, value, f"{label}:{item.line_of(f.name)}: {where}.{f.name}"))

    if spec.date_pair:
        check_dates(row, item, where, label, errors, spec.field("date_precision").required)
    if rec_type == "events":
        check_place(row, item, where, label, errors)

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
    if generated and rec_type in ("claims", "aliases"):  # e.g. two claims of one source
        n = 2
        while (spec.table, row["id"]) in result.where:
            row["id"] = f"{rec_id}-{n}"
            n += 1
        rec_id = row["id"]

    key = (spec.table, rec_id)
    loc = f"{label}:{item.line}: {where}"
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
            errors.append(f"{label}:{item.line_of(child_key)}: {where}.{child_key}: expected a list")
            continue
        for i, child in enumerate(children):
            child_id = check_record(child_type, child, f"{where}.{child_key}[{i}]", label, result,
                                    parent=(rec_type, rec_id), line=children.line_of(i))
            if child_type == "claims" and child_id:
                claims += 1
    if spec.needs_claim and claims == 0:
        kind = {"people": "person"}.get(rec_type, rec_type[:-1].replace("_", " "))
        errors.append(f"{label}:{item.line}: {where}.claims: {'an' if kind[0] in 'aeiou' else 'a'} {kind} "
                      f"needs at least one claim quoting its source")
    return rec_id


def make_id(spec: Record, row: dict, parent) -> str | None:
    if spec.table == "aliases":
        return f"{parent[1]}--{slugify(row['alias'] or '')}"
    if spec.table == "claims":
        return f"{parent[1]}--{row['source_id']}" if row.get("source_id") else None
    if spec.id_from and all(row.get(c) for c in spec.id_from):
        return "--".join(str(row[c]) for c in spec.id_from)
    return None


def slugify(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", text.replace("'", "")).strip("-") or "x"


def check_dates(row, item, where, label, errors, precision_required=False):
    """Cross-field date checks; a value already reported as bad is not reported again."""
    start, end, precision = row.get("date_start"), row.get("date_end"), row.get("date_precision")
    if start and end and start > end:
        errors.append(f"{label}:{item.line_of('date_end')}: {where}.date_end: {end} is before "
                      f"date_start {start}")
    if (start or end) and item.get("date_precision") is None and not precision_required:
        errors.append(f"{label}:{item.line}: {where}.date_precision: required when a date is given")
    if precision and item.get("date_start") is None and item.get("date_end") is None:
        errors.append(f"{label}:{item.line_of('date_precision')}: {where}: date_precision needs "
                      f"date_start or date_end")


def check_place(row, item, where, label, errors):
    lat, lon = item.get("latitude"), item.get("longitude")  # as given, even if invalid
    if (lat is None) != (lon is None):
        errors.append(f"{label}:{item.line}: {where}: latitude and longitude go together")
    if lat is not None and item.get("geo_precision") is None:
        errors.append(f"{label}:{item.line}: {where}.geo_precision: required with coordinates")
    low, high = row.get("fatalities_low"), row.get("fatalities_high")
    if low is not None and high is not None and low > high:
        errors.append(f"{label}:{item.line_of('fatalities_high')}: {where}.fatalities_high: "
                      f"{high} is less than fatalities_low {low}")


def check_file(path_str: str, label: str) -> FileResult:
    """Parse and validate one seed file on its own (runs in a worker process)."""
    result = FileResult()
    doc, result.errors, with_duplicates = read_seed(Path(path_str), label)
    check_doc(doc, label, result)
    for mapping in with_duplicates:  # those outside any record: in a value, an unused anchor
        result.errors.extend(duplicate_errors(mapping, label, ""))
    return result


def check_doc(doc, label: str, result: FileResult) -> None:
    if doc is None:  # a parse error, already reported, or a file of comments only
        if not result.errors:
            result.errors.append(f"{label}:1: file is empty; expected a mapping such as 'events: [...]'")
        return
    if not isinstance(doc, Mapping):
        result.errors.append(f"{label}:1: expected a mapping of record lists such as 'events:', "
                             f"got {short(doc)}")
        return
    result.errors.extend(duplicate_errors(doc, label, ""))
    for rec_type, items in doc.items():
        line = doc.line_of(rec_type)
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
            check_record(rec_type, item, f"{rec_type}[{i}]", label, result, line=items.line_of(i))


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
    for r in results:
        for table, ref_id, loc in r.refs:
            if (table, ref_id) not in where:
                errors.append(f"{loc}: {ref_id!r} is not the id of any record in {table}")
    if errors:
        raise BuildError(errors)


# ---------------------------------------------------------------- loading

def table_columns(table: str) -> dict[str, type]:
    spec = next(s for s in RECORDS.values() if s.table == table)
    cols = {"id": str}
    cols.update({f.col: f.sql_type for f in spec.fields})
    cols.update(EXTRA_COLUMNS.get(table, {}))
    return cols


def foreign_keys(table: str) -> list[tuple[str, str, str]]:
    spec = next(s for s in RECORDS.values() if s.table == table)
    fks = [(f.col, f.ref, "id") for f in spec.fields if f.ref]
    for parent_type, col in spec.parent_column.items():
        fks.append((col, RECORDS[parent_type].table, "id"))
    return fks


# Tables in an order where each one's foreign keys point at tables already made.
TABLE_ORDER = ("sources", "dispute_topics", "groups", "people", "aliases", "events",
               "event_groups", "event_people", "memberships", "group_relations", "claims")

NOT_NULL = {
    "sources": {"title", "kind"}, "groups": {"name", "description"},
    "people": {"name", "description"}, "aliases": {"alias", "kind"},
    "events": {"title", "event_type", "date_start", "date_end", "date_precision", "description"},
    "event_groups": {"event_id", "group_id", "role"}, "event_people": {"event_id", "person_id", "role"},
    "memberships": {"person_id", "group_id", "role"},
    "group_relations": {"group_id", "related_group_id", "relation"},
    "claims": {"source_id", "quote", "statement", "certainty", "subject_type", "subject_id"},
    "dispute_topics": {"question"},
}

VIEWS = {
    # Every claim on a disputed point, one row per side, with its source.
    "disputes": """
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
}


# ---------------------------------------------------------------- derived: map popups, one search

def popup(event: dict) -> str:
    """The event's map popup as JSON; datasette-cluster-map renders a `popup` column."""
    low, high = event.get("fatalities_low"), event.get("fatalities_high")
    if low is None and high is None:
        killed = "no figure given"
    elif low is None:
        killed = f"up to {high}"
    elif high is None:
        killed = f"at least {low}"
    else:
        killed = str(low) if low == high else f"{low}-{high}"
    if event.get("fatalities_best") is not None:
        killed += f" (best estimate {event['fatalities_best']})"
    when = event.get("date_text") or f"{event['date_start']} .. {event['date_end']}"
    where = ", ".join(x for x in (event.get("place"), event.get("country")) if x) or "place unknown"
    return json.dumps({
        "title": event["title"],
        "description": f"{when} · {where} · fatalities: {killed}",
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
    """One row per searchable thing: `text` for plain search, `folded` (names only) for spellings."""
    def lines(*parts):
        return "\n".join(p for p in parts if p)

    names = {}
    for r in db.query("select a.*, coalesce(g.name, p.name) as owner from aliases a "
                      "left join groups g on g.id = a.group_id left join people p on p.id = a.person_id "
                      "order by a.id"):
        owner = ("groups", r["group_id"]) if r["group_id"] else ("people", r["person_id"])
        names.setdefault(owner, []).append(r["alias"])
        yield dict(type="alias", item_id=r["id"], label=f"{r['alias']} ({r['owner']})",
                   link=f"/imu/aliases/{r['id']}", text=lines(r["alias"], r["note"]), folded=fold(r["alias"]))
    for table, kind in (("groups", "group"), ("people", "person")):
        for r in db.query(f"select * from {table} order by id"):
            spellings = " ".join(dict.fromkeys([r["name"], *names.get((table, r["id"]), [])]))
            yield dict(type=kind, item_id=r["id"], label=r["name"], link=f"/imu/{table}/{r['id']}",
                       text=lines(spellings, r["description"]), folded=fold(spellings))
    for r in db.query("select * from events order by id"):
        yield dict(type="event", item_id=r["id"], label=r["title"], link=f"/imu/events/{r['id']}",
                   text=lines(r["title"], r["date_text"], r["place"], r["description"]),
                   folded=fold(lines(r["title"], r["place"], names_in(r["description"]))))
    for r in db.query("select * from sources order by id"):
        yield dict(type="source", item_id=r["id"], label=r["title"], link=f"/imu/sources/{r['id']}",
                   text=lines(r["title"], r["author"], r["publisher"], r["notes"]),
                   folded=fold(lines(r["title"], r["author"], r["publisher"])))
    for r in db.query("select * from claims order by id"):
        yield dict(type="claim", item_id=r["id"], label=r["statement"], link=f"/imu/claims/{r['id']}",
                   text=lines(r["quote"], r["statement"], r["position"]),
                   folded=fold(names_in(lines(r["quote"], r["statement"]))))


SEARCH_COLUMNS = {"type": str, "item_id": str, "label": str, "link": str, "text": str, "folded": str}


def create_search_index(db: sqlite_utils.Database) -> None:
    """The table behind the `search` canned query; its FTS is enabled with the others."""
    db["search_index"].create(SEARCH_COLUMNS, pk=("type", "item_id"),
                              not_null={"label", "link", "text", "folded"})


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
        db.conn.executemany(INSERT_SQL[table], [tuple(r.get(c) for c in columns)
                                                for r in rows.get(table, [])])
    return sorted(search_rows(db), key=lambda r: (r["type"], r["item_id"]))


# ---------------------------------------------------------------- loading, file by file
#
# Each seed file becomes a Part: its rows as tuples per table, checked on their own
# (in parallel for big inputs). The parts are inserted one after another into a new
# file; what spans files (ids used twice, references) is checked by SQLite's keys and
# `foreign_key_check`, and on any failure merge() words every error from the parts.
# Parts are cached by content, so a rebuild after a few files changed updates a copy
# of the last database instead: the old parts' rows out, the new parts' rows in.

TABLES = {t: list(table_columns(t)) for t in TABLE_ORDER} | {"search_index": list(SEARCH_COLUMNS)}
KEYS = {t: ("type", "item_id") if t == "search_index" else ("id",) for t in TABLES}
INSERT_SQL = {t: f"insert into [{t}] ({', '.join(f'[{c}]' for c in cols)}) "
                 f"values ({', '.join('?' for _ in cols)})" for t, cols in TABLES.items()}
PARALLEL_BYTES = 2_000_000  # below this, worker processes cost more than they save


@dataclass
class Part:
    """What one seed file adds: rows per table (tuples in TABLES order) and its checks."""

    label: str
    key: str
    tables: dict[str, list[tuple]]
    result: FileResult  # errors, ids and references (its rows are in `tables`)


def make_part(label: str, key: str = "") -> Part:
    """Check one file and derive its rows for every table (runs in a worker process)."""
    result = check_file(label, label)
    tables = {}
    if not result.errors:
        rows = dict(result.rows)
        add_popups(rows)
        rows["search_index"] = file_search_rows(rows)
        tables = {t: [tuple(r.get(c) for c in TABLES[t]) for r in rows[t]] for t in TABLES if rows.get(t)}
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


def part_job(label: str, key: str, cache_dir: str | None) -> bytes:
    """make_part() pickled once, both for the parent process and for the cache.

    Plain tuples, so that `python build_db.py` and `import build_db` share the cache.
    """
    with no_gc():
        p = make_part(label, key)
    blob = pickle.dumps((p.label, p.key, p.tables, p.result.errors, p.result.where, p.result.refs),
                        pickle.HIGHEST_PROTOCOL)
    if cache_dir:
        Cache.write(Path(cache_dir), key, blob)
    return blob


def unpickle_part(blob: bytes) -> Part:
    label, key, tables, errors, where, refs = pickle.loads(blob)
    return Part(label, key, tables, FileResult(where=where, refs=refs, errors=errors))


class Cache:
    """Parts by file content, in a folder beside the database, with a manifest of the
    files that made the database as it is now."""

    def __init__(self, out: Path):
        self.dir = out.parent / f".{out.name}.cache"

    @staticmethod
    def version() -> bytes:
        """A part is only as good as the code that made it."""
        here = Path(__file__).resolve().parent
        code = b"".join((here / name).read_bytes() for name in ("build_db.py", "schema.py", "fold.py"))
        return code + " ".join(sorted(COUNTRIES)).encode() + sqlite3.sqlite_version.encode()

    def keys(self, labels: list[str]) -> dict[str, str]:
        version = hashlib.sha256(self.version()).digest()
        keys = {}
        for label in labels:
            h = hashlib.sha256(version)
            h.update(label.encode() + b"\0")
            h.update(Path(label).read_bytes())
            keys[label] = h.hexdigest()[:32]
        return keys

    @staticmethod
    def write(folder: Path, key: str, blob: bytes) -> None:
        folder.mkdir(exist_ok=True)
        tmp = folder / f".{key}.{os.getpid()}.tmp"
        tmp.write_bytes(blob)
        os.replace(tmp, folder / f"{key}.part")

    def get(self, key: str) -> Part | None:
        try:
            return unpickle_part((self.dir / f"{key}.part").read_bytes())
        except (OSError, pickle.UnpicklingError, EOFError, ValueError):
            return None

    def has(self, key: str) -> bool:
        return (self.dir / f"{key}.part").exists()

    @staticmethod
    def stamp(out: Path) -> list[int]:
        st = out.stat()
        return [st.st_ino, st.st_size, st.st_mtime_ns]

    def manifest(self, out: Path) -> dict[str, str] | None:
        """The files (label -> key) that made `out`, if `out` is still what they made."""
        try:
            saved = json.loads((self.dir / "manifest.json").read_text())
            return saved["files"] if saved["db"] == self.stamp(out) else None
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, stamp: list[int], keys: dict[str, str]) -> None:
        """Record what made the database with this stamp, and forget the parts of files
        that are gone or changed."""
        self.dir.mkdir(exist_ok=True)
        tmp = self.dir / f".manifest.{os.getpid()}.tmp"
        tmp.write_text(json.dumps({"db": stamp, "files": keys}, indent=1))
        os.replace(tmp, self.dir / "manifest.json")
        keep = {f"{k}.part" for k in keys.values()}
        for path in self.dir.glob("*.part"):
            if path.name not in keep:
                path.unlink(missing_ok=True)


VERBOSE = {"on": False, "start": 0.0}


def log(message: str) -> None:
    """With --verbose, say how long the build has taken so far."""
    if VERBOSE["on"]:
        print(f"{time.perf_counter() - VERBOSE['start']:7.2f} s  {message}", file=sys.stderr)


def seed_paths(seeds: Path) -> list[Path]:
    paths = sorted(seeds.glob("*.yml")) + sorted(seeds.glob("*.yaml"))
    if not paths:
        raise BuildError([f"{seeds}: no *.yml seed files found"])
    return paths


def parts(labels: list[str], keys: dict[str, str], jobs: int | None, cache: Cache | None):
    """Each file's Part, in order: from the cache, or made (by `jobs` processes)."""
    todo = [label for label in labels if not (cache and cache.has(keys[label]))]
    size = sum(Path(label).stat().st_size for label in todo)
    jobs = jobs or (min(len(todo), os.cpu_count() or 1) if size > PARALLEL_BYTES else 1)
    cache_dir = str(cache.dir) if cache else None
    if jobs > 1 and len(todo) > 1:
        with ProcessPoolExecutor(jobs) as pool:
            futures = {label: pool.submit(part_job, label, keys[label], cache_dir) for label in todo}
            for label in labels:
                part = unpickle_part(futures.pop(label).result()) if label in futures else cache.get(keys[label])
                yield part or unpickle_part(part_job(label, keys[label], cache_dir))
    else:
        for label in labels:
            part = cache.get(keys[label]) if cache and label not in todo else None
            yield part or unpickle_part(part_job(label, keys[label], cache_dir))


def report(labels: list[str], keys: dict[str, str], cache: Cache | None) -> None:
    """Raise BuildError with every error, as merge() words them, when the seeds have any."""
    merge([part.result for part in parts(labels, keys, None, cache)])


# The source documents, beside the project in ../shared/seeds; claims of a source whose
# `document` is found there get `quote_offset`, so they can be read in document order.
DOCS = Path(__file__).resolve().parent.parent / "shared" / "seeds"
_QUOTE_MARKS = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'",
                              "\u02bc": "'", "\u02bb": "'", "\u201c": '"', "\u201d": '"',
                              "\u201e": '"', "\u00ab": '"', "\u00bb": '"', "\u2010": "-",
                              "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
                              "\u2212": "-", "\u00a0": " "})
_ELLIPSIS = re.compile(r"\s*(?:\.\.\.|\u2026)\s*")


def normalise(text: str) -> str:
    """The comparison shared/tools/check_quotes.py makes: NFKC, plain quotes and dashes, single spaces."""
    return " ".join(unicodedata.normalize("NFKC", text).translate(_QUOTE_MARKS).split())


def set_quote_offsets(conn: sqlite3.Connection, docs: Path = DOCS) -> None:
    """claims.quote_offset: where the quote's first part starts in its (normalised) document."""
    texts: dict[str, str | None] = {}
    updates = []
    for claim_id, quote, document in conn.execute(
            "select c.id, c.quote, s.document from claims c join sources s on s.id = c.source_id "
            "where s.document is not null order by c.id"):
        if document not in texts:
            path = docs / document
            texts[document] = normalise(path.read_text(encoding="utf-8")) if path.is_file() else None
        first = next((part for part in _ELLIPSIS.split(quote) if part.strip()), "")
        if texts[document] is not None and first:
            at = texts[document].find(normalise(first))
            updates.append((at if at >= 0 else None, claim_id))
    conn.executemany("update claims set quote_offset = ? where id = ?", updates)


def finish(db: sqlite_utils.Database, path: Path) -> list[str]:
    """Indexes, views and full-text search once every row is in, and the checks.

    The full integrity and foreign-key checks of the tables and their indexes read a
    committed snapshot in a second thread (WAL lets a reader and the writer go on
    together) while the FTS indexes are built; those, whose tables have no other
    index, get a quick_check after. Returns the problems found.
    """
    set_quote_offsets(db.conn)
    db.index_foreign_keys()
    for table, indexes in INDEXES.items():
        for columns in indexes:
            db[table].create_index(columns, if_not_exists=True)
    for name, sql in VIEWS.items():
        db.create_view(name, sql.strip())
    db.conn.commit()
    db.execute("pragma journal_mode = wal")
    with ThreadPoolExecutor(1) as thread:
        checked = thread.submit(db_problems, path)
        # Search last: a later table rebuild would silently drop the FTS triggers.
        for table, columns in FTS.items():
            db[table].enable_fts(columns, tokenize=FTS_TOKENIZE, create_triggers=True)
        db.execute("analyze")
        db.conn.commit()
        problems = checked.result()
    problems += db_problems(path, quick=True, foreign_keys=False)
    db.execute("pragma journal_mode = delete")  # back to one file, ready to rename
    return problems


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
         cache: Cache | None) -> dict[str, int]:
    """Write every file's rows into a new SQLite file at path; returns rows per table."""
    db = sqlite_utils.Database(path)
    for table in TABLE_ORDER:
        db[table].create(table_columns(table), pk="id", foreign_keys=foreign_keys(table),
                         not_null=NOT_NULL.get(table, ()))
    create_search_index(db)
    counts = dict.fromkeys(TABLES, 0)
    failed, problems = False, []
    for part in parts(labels, keys, jobs, cache):
        failed = failed or bool(part.result.errors)
        if failed:  # keep reading: every file's errors are reported
            continue
        try:
            for table, rows in part.tables.items():
                db.conn.executemany(INSERT_SQL[table], rows)
                counts[table] += len(rows)
        except sqlite3.IntegrityError as exc:  # an id used in two files
            failed = f"database check failed: {exc}"
    log(f"parsed {len(labels)} files and inserted their rows")
    if not failed:
        problems = finish(db, path)
        log("indexed, searchable and checked")
    db.close()
    if failed or problems:
        report(labels, keys, cache)  # a dangling reference or a duplicate id: the seeds' error
        raise BuildError(problems or [failed if isinstance(failed, str) else "database check failed"])
    return counts


def update(labels: list[str], keys: dict[str, str], out: Path, tmp: Path, jobs: int | None,
           cache: Cache) -> dict[str, int] | None:
    """Apply the files changed since the last build to a copy of its database.

    Returns rows per table, or None when a full build is needed: no usable manifest,
    many files changed, or anything wrong (the full build then reports it).
    """
    old = cache.manifest(out) if out.exists() else None
    if old is None:
        return None
    changed = [label for label in labels if old.get(label) != keys[label]]
    removed = [label for label in old if label not in keys]
    size = {label: Path(label).stat().st_size for label in labels}
    if sum(size[label] for label in changed) > sum(size.values()) // 4 or len(removed) > len(labels) // 4:
        return None  # swapping that many rows one by one is slower than loading them all
    old_parts = [cache.get(old[label]) for label in changed + removed if label in old]
    if any(part is None for part in old_parts):
        return None
    new_parts = list(parts(changed, keys, jobs, cache))
    log(f"parsed {len(changed)} changed file(s) of {len(labels)}; {len(removed)} removed")
    if any(part.result.errors for part in new_parts):
        return None
    shutil.copyfile(out, tmp)
    conn = sqlite3.connect(tmp)
    try:
        apply(conn, old_parts, new_parts)
        set_quote_offsets(conn)
        conn.commit()
        log("swapped their rows in a copy of the database")
        if db_problems(tmp, quick=True):  # every page's structure, every foreign key
            return None
        log("checked")
        return {t: conn.execute(f"select count(*) from [{t}]").fetchone()[0] for t in TABLES}
    except sqlite3.IntegrityError:  # an id used in two files
        return None
    finally:
        conn.close()


def apply(conn: sqlite3.Connection, old_parts: list[Part], new_parts: list[Part]) -> None:
    """Delete the rows only the old parts have, insert those only the new ones have.

    A row left exactly as it was is not touched, so editing one record of a big file
    rewrites only that record's rows (and their indexes and FTS entries, by trigger).
    """
    for table in TABLES:
        old = {row for part in old_parts for row in part.tables.get(table, ())}
        new = [row for part in new_parts for row in part.tables.get(table, ()) if row not in old]
        gone = old.difference(row for part in new_parts for row in part.tables.get(table, ()))
        at = [TABLES[table].index(c) for c in KEYS[table]]
        conn.executemany(f"delete from [{table}] where " + " and ".join(f"[{c}] = ?" for c in KEYS[table]),
                         [tuple(row[i] for i in at) for row in gone])
        conn.executemany(INSERT_SQL[table], new)


def temp_path(out: Path) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    os.unlink(tmp)
    return Path(tmp)


def build(seeds: Path, out: Path, jobs: int | None = None, cache: bool = True) -> dict[str, int]:
    """Validate, load into a temporary file beside `out`, then rename it into place.

    With the cache (the folder .NAME.cache beside `out`), files unchanged since the
    last build are not parsed again, and when few files changed, their rows are
    swapped in a copy of the last database rather than loading everything again.
    """
    VERBOSE["start"] = time.perf_counter()
    labels = [str(p) for p in seed_paths(seeds)]
    out.parent.mkdir(parents=True, exist_ok=True)
    store = Cache(out) if cache else None
    keys = store.keys(labels) if store else dict.fromkeys(labels, "")
    tmp = temp_path(out)
    try:
        counts = update(labels, keys, out, tmp, jobs, store) if store else None
        if counts is None:
            log("full build")
            tmp.unlink(missing_ok=True)
            counts = load(labels, keys, tmp, jobs, store)
        stamp = Cache.stamp(tmp)  # taken before the rename: another build may rename its file after
        os.replace(tmp, out)
    finally:
        for leftover in (tmp, *(Path(f"{tmp}-{end}") for end in ("journal", "wal", "shm"))):
            leftover.unlink(missing_ok=True)
    if store:
        store.save(stamp, keys)
    log(f"wrote {out}")
    return {table: counts[table] for table in TABLE_ORDER}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Validate seeds/*.yml and build imu.db.")
    ap.add_argument("--seeds", default="seeds", type=Path, help="folder of *.yml records (default: seeds)")
    ap.add_argument("--out", default="imu.db", type=Path, help="database to write (default: imu.db)")
    ap.add_argument("--jobs", type=int, default=None, help="parser processes (default: by input size)")
    ap.add_argument("--no-cache", action="store_true",
                    help="parse every file and load from scratch, without reading or writing .OUT.cache")
    ap.add_argument("-v", "--verbose", action="store_true", help="say how long each step took")
    args = ap.parse_args(argv)
    VERBOSE["on"] = args.verbose
    if not args.seeds.is_dir():
        print(f"error: seeds folder {args.seeds} does not exist", file=sys.stderr)
        return 2
    try:
        counts = build(args.seeds, args.out, args.jobs, cache=not args.no_cache)
    except BuildError as exc:
        for line in exc.errors:
            print(line, file=sys.stderr)
        print(f"{len(exc.errors)} error(s); {args.out} was not changed", file=sys.stderr)
        return 1
    print(f"wrote {args.out}: " + ", ".join(f"{n} {t}" for t, n in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
