"""scripts/dbdiff.py: the change log between two builds names every record added, removed
and changed, calls out a claim's changed quote and certainty, and refuses what is not a
database without a traceback."""
from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys

import pytest

from conftest import ROOT

SCRIPT = ROOT / "scripts" / "dbdiff.py"


def dbdiff(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def edited(db_path, tmp_path_factory):
    """A copy of the build with one change of each kind; (new database, what was changed)."""
    new = tmp_path_factory.mktemp("dbdiff") / "new.db"
    shutil.copy(db_path, new)
    con = sqlite3.connect(new)
    claim, quote, certainty = con.execute(
        "select id, quote, certainty from claims where certainty != 'alleged' order by id limit 1").fetchone()
    alias = con.execute("select id from aliases order by id desc limit 1").fetchone()[0]
    with con:
        con.execute("update claims set quote = ?, certainty = 'alleged' where id = ?",
                    (quote + " (edited)", claim))
        con.execute("delete from aliases where id = ?", (alias,))
        con.execute("insert into groups (id, name, description) values ('zz-test-group', 'Test', 'x')")
        con.execute("update events set title = 'Car bombings in Tashkent, 1999' "
                    "where id = '1999-tashkent-bombings'")
        con.execute("alter table people add column born text")
        con.execute("create table later (id text primary key, v text)")
        con.execute("drop table dispute_topics")
    con.close()
    return new, {"claim": claim, "quote": quote, "certainty": certainty, "alias": alias}


def test_the_change_log_names_each_change(db_path, edited, tmp_path):
    new, was = edited
    out = tmp_path / "CHANGELOG.md"
    done = dbdiff(db_path, new, "--out", out)
    assert done.returncode == 0, done.stderr
    log = out.read_text(encoding="utf-8")
    top = log.split("## Summary")[0]
    assert "## Claims whose quote or certainty changed" in top
    assert f'claim `{was["claim"]}`, `certainty`: `"{was["certainty"]}"` → `"alleged"`' in top
    assert f'claim `{was["claim"]}`, `quote`:' in top and " (edited)\"`" in top
    assert "| `aliases` | 0 | 1 | 0 |" in log and f"### Removed\n\n- `{was['alias']}`" in log
    assert "| `groups` | 1 | 0 | 0 |" in log and "### Added\n\n- `zz-test-group`" in log
    assert ('- `1999-tashkent-bombings`\n  - `title`: `"Car bombings in Tashkent"` → '
            '`"Car bombings in Tashkent, 1999"`') in log
    assert "| `dispute_topics` | table removed (" in log and "| `later` | new table (0 rows)" in log
    assert "## `people`\n\nColumns added: `born`" in log
    assert "search_index" in log and "_fts" not in log


def test_the_change_log_is_the_same_every_time_and_says_when_nothing_changed(db_path, edited):
    new, _ = edited
    first, second = dbdiff(db_path, new), dbdiff(db_path, new)
    assert first.stdout == second.stdout and first.stdout
    same = dbdiff(db_path, db_path)
    assert same.returncode == 0 and "No records were added, removed or changed." in same.stdout


def test_a_missing_or_foreign_file_is_refused_clearly(db_path, tmp_path):
    not_db = tmp_path / "notes.db"
    not_db.write_text("not a database")
    for args, message in (((db_path, tmp_path / "missing.db"), "missing.db: no such file"),
                          ((not_db, db_path), "notes.db: not an SQLite database")):
        done = dbdiff(*args)
        assert done.returncode == 2 and message in done.stderr
        assert "Traceback" not in done.stderr and not done.stdout
