"""What changed between two builds of the dataset, as a Markdown change log.

    .venv/bin/python scripts/dbdiff.py OLD.db NEW.db [--out CHANGELOG.md]

A researcher who cited one version reads what a later one added, removed and changed,
table by table. Records are matched by their `id`; a changed record lists each field
old → new. A claim whose quote or certainty changed is listed first, since that changes
what a source is said to say. Tables or columns that only one database has are named.
Full-text index tables and `search_index` (made from the other tables) are not compared;
a table without an `id` column is compared row by row (added and removed rows only).

Both tables are read in `id` order and merged, so memory holds one row of each at a
time. The output is sorted throughout: the same two files give the same text. It exits 0
with or without changes, 2 with a message when a file is missing or not SQLite.
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

from dataset import shown_tables
from files import SQLITE_HEADER

DERIVED = {"search_index": "made from the other tables at build time"}
CALLED_OUT = ("quote", "certainty")  # of a claim


class Unreadable(Exception):
    pass


def connect(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise Unreadable(f"{path}: no such file")
    with open(path, "rb") as f:
        if f.read(16) != SQLITE_HEADER:
            raise Unreadable(f"{path}: not an SQLite database")
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def tables(conn) -> dict[str, list[str]]:
    """{table: columns} of the tables worth comparing: no SQLite internals, full-text
    indexes or their shadow tables."""
    return {name: [c[1] for c in conn.execute(f"pragma table_info([{name}])")]
            for name, kind in shown_tables(conn) if kind == "table"}


def code(text: str) -> str:
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def show(value) -> str:
    """A value on one line, text in JSON quotes, so that empty, "" and 16 vs "16" stay apart."""
    if value is None:
        return "*empty*"
    return code(json.dumps(value, ensure_ascii=False) if isinstance(value, str) else str(value))


def label(record) -> str:
    """An added or removed record: its id, or a whole row of a table without one."""
    return code(record) if isinstance(record, str) else ", ".join(map(show, record))


def rows_word(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


def merged(old, new, key):
    """Pairs (old row or None, new row or None) of two row iterators sorted by key."""
    a, b = next(old, None), next(new, None)
    while a is not None or b is not None:
        if b is None or (a is not None and key(a) < key(b)):
            yield a, None
            a = next(old, None)
        elif a is None or key(b) < key(a):
            yield None, b
            b = next(new, None)
        else:
            yield a, b
            a, b = next(old, None), next(new, None)


def rows(conn, table: str, columns: list[str], keyed: bool):
    """The table's rows in `id` order; without an id, whole rows sorted in memory."""
    select = f"select {', '.join(f'[{c}]' for c in columns)} from [{table}]"
    if keyed:
        return iter(conn.execute(select + " order by id"))
    return iter(sorted(conn.execute(select), key=whole_row))


def whole_row(row) -> tuple:
    return tuple(map(repr, row))


def compare(old_conn, new_conn, table: str, columns: list[str]):
    """(added, removed, {id: [(column, old, new)]}) over the columns both tables have; the
    `id` column first, or whole rows for a table without one."""
    keyed = "id" in columns
    if keyed:
        columns = ["id"] + [c for c in columns if c != "id"]
    added, removed, changed = [], [], {}
    pairs = merged(rows(old_conn, table, columns, keyed), rows(new_conn, table, columns, keyed),
                   key=(lambda row: row[0]) if keyed else whole_row)
    for a, b in pairs:
        if a is None:
            added.append(b[0] if keyed else b)
        elif b is None:
            removed.append(a[0] if keyed else a)
        elif keyed and a != b:
            changed[a[0]] = [(c, x, y) for c, x, y in zip(columns, a, b) if x != y]
    return added, removed, changed


def changelog(old_path: Path, new_path: Path, title: str | None = None) -> str:
    """The change log as Markdown; `title` replaces the heading naming the two files
    (a release names the versions instead)."""
    old_conn, new_conn = connect(old_path), connect(new_path)
    try:
        old_tables, new_tables = tables(old_conn), tables(new_conn)
    except sqlite3.DatabaseError as exc:
        raise Unreadable(f"cannot read the databases: {exc}") from None
    out = [f"# {title or f'Changes from `{old_path.name}` to `{new_path.name}`'}", ""]
    summary, sections, called_out = [], [], []
    for table in sorted(set(old_tables) | set(new_tables)):
        if table in DERIVED:
            continue
        if table not in new_tables:
            n = old_conn.execute(f"select count(*) from [{table}]").fetchone()[0]
            summary.append(f"| `{table}` | table removed ({rows_word(n)}) | | |")
            continue
        if table not in old_tables:
            n = new_conn.execute(f"select count(*) from [{table}]").fetchone()[0]
            summary.append(f"| `{table}` | new table ({rows_word(n)}) | | |")
            continue
        shared = [c for c in new_tables[table] if c in old_tables[table]]
        added, removed, changed = compare(old_conn, new_conn, table, shared)
        lines = []
        for word, cols in (("added", [c for c in new_tables[table] if c not in old_tables[table]]),
                           ("removed", [c for c in old_tables[table] if c not in new_tables[table]])):
            if cols:
                lines += [f"Columns {word}: " + ", ".join(f"`{c}`" for c in sorted(cols)), ""]
        if added:
            lines += ["### Added", ""] + [f"- {label(i)}" for i in added] + [""]
        if removed:
            lines += ["### Removed", ""] + [f"- {label(i)}" for i in removed] + [""]
        if changed:
            lines += ["### Changed", ""]
            for id_, fields in changed.items():
                lines.append(f"- {code(id_)}")
                lines += [f"  - `{c}`: {show(x)} → {show(y)}" for c, x, y in fields]
                if table == "claims":
                    called_out += [f"- claim {code(id_)}, `{c}`: {show(x)} → {show(y)}"
                                   for c, x, y in fields if c in CALLED_OUT]
            lines.append("")
        if lines:
            summary.append(f"| `{table}` | {len(added)} | {len(removed)} | {len(changed)} |")
            sections += [f"## `{table}`", ""] + lines
    if called_out:
        out += ["## Claims whose quote or certainty changed", ""] + called_out + [""]
    if summary:
        out += ["## Summary", "", "| table | added | removed | changed |", "| --- | ---: | ---: | ---: |"]
        out += summary + [""] + sections
    else:
        out += ["No records were added, removed or changed.", ""]
    skipped = ", ".join(f"`{t}` ({why})" for t, why in DERIVED.items())
    out += [f"Not compared: full-text index tables, and {skipped}.", ""]
    old_conn.close()
    new_conn.close()
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Compare two builds of imu.db as a Markdown change log.")
    parser.add_argument("old", type=Path, help="the earlier database")
    parser.add_argument("new", type=Path, help="the later database")
    parser.add_argument("--out", type=Path, help="write the change log here (default: standard output)")
    args = parser.parse_args(argv)
    try:
        text = changelog(args.old, args.new)
    except Unreadable as exc:
        print(f"dbdiff: {exc}", file=sys.stderr)
        return 2
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
