"""The build: contract schema, integrity, determinism and atomic writes."""
from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

CONTRACT = ROOT.parent / "shared" / "CONTRACT.md"


def contract_tables() -> dict[str, set[str]]:
    """Required tables and columns, read from the contract's table."""
    tables = {}
    for line in CONTRACT.read_text().splitlines():
        m = re.match(r"\| `(\w+)` \| (.+) \|$", line)
        if m:
            tables[m[1]] = set(re.findall(r"`(\w+)`", m[2]))
    return tables


def test_contract_is_readable():
    tables = contract_tables()
    assert {"sources", "groups", "people", "aliases", "events", "claims"} <= set(tables)
    assert "fatalities_high" in tables["events"]


def test_every_contract_table_and_column_exists(db_path):
    con = sqlite3.connect(db_path)
    for table, columns in contract_tables().items():
        have = {r[1] for r in con.execute(f"pragma table_info([{table}])")}
        assert have, f"table {table} is missing"
        # claims' "link(s) to what it supports" is prose, not a column name
        assert columns - {"link"} <= have, f"{table} lacks {columns - have}"


def test_every_table_has_rows(db_path):
    con = sqlite3.connect(db_path)
    for table in contract_tables():
        assert con.execute(f"select count(*) from [{table}]").fetchone()[0] > 0, table


def test_integrity_and_foreign_keys(db_path):
    con = sqlite3.connect(db_path)
    assert con.execute("pragma integrity_check").fetchall() == [("ok",)]
    assert con.execute("pragma foreign_key_check").fetchall() == []


def test_foreign_keys_declared_and_indexed(db_path):
    con = sqlite3.connect(db_path)
    fks = con.execute("pragma foreign_key_list(claims)").fetchall()
    assert {(r[2], r[3]) for r in fks} >= {("sources", "source_id"), ("events", "event_id")}
    for table in ("claims", "event_groups", "event_people", "memberships", "group_relations", "aliases"):
        indexed = {
            con.execute(f"pragma index_info([{idx[1]}])").fetchone()[2]
            for idx in con.execute(f"pragma index_list([{table}])")
        }
        for fk in con.execute(f"pragma foreign_key_list([{table}])"):
            assert fk[3] in indexed, f"{table}.{fk[3]} has no index"


def test_filter_columns_indexed(db_path):
    con = sqlite3.connect(db_path)
    indexed = {con.execute(f"pragma index_info([{i[1]}])").fetchone()[2]
               for i in con.execute("pragma index_list(events)")}
    assert {"date_start", "date_end", "country", "event_type"} <= indexed


def test_fts_tables_use_the_tokenizer_and_triggers(db_path):
    con = sqlite3.connect(db_path)
    for table in ("groups", "people", "aliases", "events", "claims", "sources"):
        sql = con.execute("select sql from sqlite_master where name = ?", (f"{table}_fts",)).fetchone()[0]
        assert "porter unicode61 remove_diacritics 2" in sql
        triggers = con.execute(
            "select count(*) from sqlite_master where type='trigger' and tbl_name = ?", (table,)
        ).fetchone()[0]
        assert triggers == 3, f"{table} has {triggers} FTS triggers"


def test_full_text_search_finds_diacritic_free_and_stemmed(db_path):
    con = sqlite3.connect(db_path)
    rows = con.execute(
        "select id from events where rowid in (select rowid from events_fts where events_fts match 'bombings')"
    ).fetchall()
    assert ("1999-tashkent-bombings",) in rows


def dump(path: Path) -> str:
    con = sqlite3.connect(path)
    return "\n".join(con.iterdump())


def test_same_seeds_give_same_dump(tmp_path):
    import build_db

    build_db.build(ROOT / "seeds", tmp_path / "a.db")
    build_db.build(ROOT / "seeds", tmp_path / "b.db")
    assert dump(tmp_path / "a.db") == dump(tmp_path / "b.db")


def test_command_line_build_and_failed_build_leaves_db_untouched(tmp_path):
    out = tmp_path / "imu.db"
    ok = subprocess.run([sys.executable, "build_db.py", "--out", str(out)], cwd=ROOT,
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "events" in ok.stdout
    before = out.read_bytes()

    bad = tmp_path / "seeds"
    bad.mkdir()
    (bad / "events.yml").write_text("events:\n  - id: Not A Slug\n")
    fail = subprocess.run([sys.executable, "build_db.py", "--seeds", str(bad), "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True)
    assert fail.returncode == 1
    assert "Traceback" not in fail.stderr
    assert re.search(r"events\.yml:2: events\[0\]\.id: 'Not A Slug' is not a lower-case slug", fail.stderr)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
