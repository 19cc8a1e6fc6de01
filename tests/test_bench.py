"""The scaled-up build: generated corpora, the cache, incremental rebuilds, the benchmark.

An incremental rebuild must give the same content as a full build and the same
errors, and leave the database untouched when it fails. The benchmark itself runs at
1,000 events here so that it keeps working; bench/RESULTS.md has the real figures.
"""
from __future__ import annotations

import functools
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import build_db
from conftest import ROOT

pytestmark = pytest.mark.serial  # timed or bounded: run alone (Makefile, `make test`)

sys.path.insert(0, str(ROOT / "bench"))
import generate  # noqa: E402


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """300 generated events in six files, with every other record type beside them."""
    seeds = tmp_path_factory.mktemp("corpus") / "seeds"
    generate.generate(300, seeds, per_file=50)
    return seeds


@pytest.fixture
def seeds(corpus, tmp_path) -> Path:
    """A private copy of the corpus that a test may edit (its documents stay where they are)."""
    copy = tmp_path / "seeds"
    copy.mkdir()
    for path in corpus.glob("*.yml"):
        (copy / path.name).write_bytes(path.read_bytes())
    return copy


@pytest.fixture(autouse=True)
def generated_documents(corpus, monkeypatch):
    """Builds in this module check quotes against the corpus's generated documents."""
    monkeypatch.setattr(build_db, "build", functools.partial(build_db.build, docs=generate.docs_folder(corpus)))


def content(path: Path) -> dict[str, list[tuple]]:
    """Every table's rows, sorted, and the schema; FTS shadow tables and statistics aside
    (their bytes depend on insertion order), but each FTS table's matches included."""
    con = sqlite3.connect(path)
    tables = [r[0] for r in con.execute(
        "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' "
        "and name not like '%_fts%' order by name")]
    out = {t: sorted(con.execute(f"select * from [{t}]").fetchall(), key=repr) for t in tables}
    out["schema"] = sorted(con.execute("select type, name, sql from sqlite_master "
                                       "where name not like 'sqlite_%'").fetchall(), key=repr)
    for table in build_db.FTS:
        matched = con.execute(
            f"select t.* from [{table}] t where t.rowid in (select rowid from [{table}_fts] "
            f"where [{table}_fts] match 'a* OR e* OR n* OR s* OR t*')").fetchall()
        assert matched, table
        out[f"{table}_fts"] = sorted(matched, key=repr)
    return out


def fts_consistent(path: Path) -> None:
    """FTS5's own check that each index matches its content table (raises if not)."""
    con = sqlite3.connect(path)
    for table in build_db.FTS:
        con.execute(f"insert into [{table}_fts]([{table}_fts]) values ('integrity-check')")


def dump(path: Path) -> str:
    return subprocess.run(["sqlite3", str(path), ".dump"], capture_output=True, text=True, check=True).stdout


def edit(path: Path, old: bytes, new: bytes) -> None:
    data = path.read_bytes()
    assert old in data
    path.write_bytes(data.replace(old, new, 1))


def test_generated_corpus_builds_with_every_table(corpus, tmp_path):
    counts = build_db.build(corpus, tmp_path / "imu.db", cache=False)
    assert counts["events"] == 300
    assert counts["claims"] >= 3 * counts["events"]
    assert all(n > 0 for n in counts.values()), counts


def test_generation_is_deterministic(tmp_path):
    a = generate.generate(200, tmp_path / "a", per_file=80)
    b = generate.generate(200, tmp_path / "b", per_file=80)
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert len([p for p in a if p.name.startswith("events-")]) == 3


def test_search_index_made_per_file_equals_one_made_from_the_whole_database(corpus, tmp_path):
    """Search rows are made file by file; that is only right while they join a record
    with nothing from another file."""
    out = tmp_path / "imu.db"
    build_db.build(corpus, out, cache=False)
    db = build_db.sqlite_utils.Database(out)
    columns = list(build_db.SEARCH_COLUMNS)
    whole = sorted(tuple(r[c] for c in columns) for r in build_db.search_rows(db))
    stored = sorted(db.execute(f"select {', '.join(columns)} from search_index").fetchall())
    assert stored == whole


def test_full_build_from_the_cache_gives_the_same_dump(seeds, tmp_path):
    cold = tmp_path / "cold.db"
    build_db.build(seeds, cold, cache=False)
    warm = tmp_path / "warm.db"
    build_db.build(seeds, warm)
    assert list((tmp_path / ".warm.db.cache").glob("*.part"))
    warm.unlink()  # no database: every part comes from the cache, and nothing is parsed
    build_db.build(seeds, warm)
    dump = lambda p: "\n".join(sqlite3.connect(p).iterdump())  # noqa: E731
    assert dump(warm) == dump(cold)


def test_incremental_rebuild_equals_a_full_build(seeds, tmp_path, monkeypatch):
    out = tmp_path / "imu.db"
    build_db.build(seeds, out)
    # in one file: a title changed, the first event removed, and an event added that
    # refers to records of other files
    edit(seeds / "events-0002.yml", b"    title: ", b"    title: Changed ")
    head, first, rest = (seeds / "events-0002.yml").read_text().split("\n  - id: ", 2)
    (seeds / "events-0002.yml").write_text(head + "\n  - id: " + rest + "\n  - id: ev-new-one\n"
                                           + first.split("\n", 1)[1])

    def no_full_build(*args, **kwargs):
        raise AssertionError("the rebuild loaded everything instead of updating")

    with monkeypatch.context() as patched:
        patched.setattr(build_db, "load", no_full_build)
        counts = build_db.build(seeds, out)
    full = tmp_path / "full.db"
    assert build_db.build(seeds, full, cache=False) == counts
    assert content(out) == content(full)
    assert dump(out) == dump(full)  # byte for byte, FTS indexes and statistics included
    fts_consistent(out)
    con = sqlite3.connect(out)
    assert con.execute("pragma integrity_check").fetchall() == [("ok",)]
    assert con.execute("pragma foreign_key_check").fetchall() == []
    assert con.execute("select count(*) from events where title like 'Changed %'").fetchone() == (1,)
    assert con.execute("select count(*) from search_index where item_id = 'ev-new-one'").fetchone() == (1,)


def test_a_file_added_or_removed_rebuilds_in_full_and_dumps_the_same(seeds, tmp_path):
    """Rowids follow the files' order, so a new or removed file means a full build."""
    out = tmp_path / "imu.db"
    build_db.build(seeds, out)
    block = (seeds / "events-0003.yml").read_text().split("\n  - id: ")[1]
    (seeds / "events-0009.yml").write_text("events:\n  - id: ev-new-one\n" + block.split("\n", 1)[1])
    (seeds / "events-0001.yml").unlink()
    build_db.build(seeds, out)
    full = tmp_path / "full.db"
    build_db.build(seeds, full, cache=False)
    assert dump(out) == dump(full)


@pytest.mark.parametrize("change", ["dangling reference", "referenced record removed", "duplicate id"])
def test_failed_incremental_rebuild_reports_like_a_full_build_and_leaves_the_db(seeds, tmp_path, change):
    out = tmp_path / "imu.db"
    build_db.build(seeds, out)
    before = out.read_bytes()
    if change == "dangling reference":
        edit(seeds / "events-0002.yml", b"      - group: grp-", b"      - group: missing-grp-")
    elif change == "referenced record removed":
        text = (seeds / "groups.yml").read_text()
        first = text.index("\n  - id: ")
        (seeds / "groups.yml").write_text(text[:first] + text[text.index("\n  - id: ", first + 1):])
    else:
        block = (seeds / "events-0003.yml").read_text().split("\n  - id: ")[1]
        (seeds / "events-0009.yml").write_text("events:\n  - id: " + block)
    with pytest.raises(build_db.BuildError) as incremental:
        build_db.build(seeds, out)
    with pytest.raises(build_db.BuildError) as full:
        build_db.build(seeds, tmp_path / "other.db", cache=False)
    assert incremental.value.errors == full.value.errors
    assert out.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith((".tmp", "-journal"))]


def test_benchmark_runs_at_300_events(tmp_path):
    results = tmp_path / "RESULTS.md"
    run = subprocess.run(
        [sys.executable, "bench/run.py", "--sizes", "300", "--requests", "3",
         "--workdir", str(tmp_path / "out"), "--results", str(results)],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    text = results.read_text()
    assert "| 300 |" in text
    table = [line for line in text.splitlines() if line.startswith("| 300 |")][0]
    assert "not run" not in table  # the naive pipeline ran
    cells = [c.strip() for c in table.strip("|").split("|")]
    assert cells[2].endswith(" s") and cells[3].endswith(" s") and cells[6].endswith("x")  # both parse floors
    for page in ("events table, default facets", "events sorted by date", "full-text search", "JSON API"):
        row = next(line for line in text.splitlines() if line.startswith(f"| {page}"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert all(c.isdigit() for c in cells[1:5]), row  # ours and naive, p50 and p95
    plain = next(line for line in text.splitlines() if line.startswith("| canned query `events_map` in plain"))
    cells = [c.strip() for c in plain.strip("|").split("|")]
    assert cells[1].isdigit() and cells[2].isdigit(), plain  # Datasette's own floor, p50 and p95


def test_lighthouse_tile_stand_in_serves_sharp_blank_tiles(monkeypatch):
    """bench/lighthouse.py's offline map provider: a 512 px white PNG for any tile, named in
    the environment the way plugins/tiles.py accepts a published site's provider."""
    import struct
    import urllib.request
    import zlib

    import lighthouse

    for name in ("IMU_TILE_URL", "IMU_TILE_ATTRIBUTION"):  # put back as they were after the test
        monkeypatch.setenv(name, "")
    server = lighthouse.tile_stand_in()
    try:
        import os

        url = os.environ["IMU_TILE_URL"]
        assert url.startswith("http://127.0.0.1:") and os.environ["IMU_TILE_ATTRIBUTION"]
        sys.path.insert(0, str(ROOT / "plugins"))
        import tiles

        assert tiles.tile_config(os.environ)  # accepted as a provider
        with urllib.request.urlopen(url.format(z=3, x=4, y=1)) as r:
            assert r.headers["Content-Type"] == "image/png"
            png = r.read()
    finally:
        server.shutdown()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (512, 512)
    length = struct.unpack(">I", png[33:37])[0]
    assert set(zlib.decompress(png[41:41 + length])) == {0, 255}  # filter bytes and white


def test_every_table_answers_size_max_with_more_records_than_a_page(tmp_path, metadata, settings):
    """`_size=max` (1,000 rows and one more) on every table of 1,200 generated events: each row
    names its records through one foreign-key look-up per column, up to 1,001 of them."""
    import asyncio

    from conftest import make_datasette

    seeds = tmp_path / "seeds"
    generate.generate(1200, seeds, per_file=400)
    db = tmp_path / "imu.db"
    build_db.build(seeds, db, docs=generate.docs_folder(seeds))
    ds = make_datasette(db, metadata, settings)
    with sqlite3.connect(db) as con:
        assert con.execute("select count(distinct event_id) from event_groups").fetchone()[0] > 1001
        tables = [t for (t,) in con.execute("select name from sqlite_master where type = 'table' "
                                            "and name not like '%fts%' and name not like 'sqlite%'")]
    for table in tables:
        for suffix in ("", ".json"):
            r = asyncio.run(ds.client.get(f"/imu/{table}{suffix}?_size=max"))
            assert r.status_code == 200, (table, suffix, r.text[:300])
