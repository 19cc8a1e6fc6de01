"""A short run of bench/load.py against the real `datasette serve`: no request may fail."""
from __future__ import annotations

import asyncio
import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.serial  # timed or bounded: run alone (Makefile, `make test`)

sys.path.insert(0, str(ROOT / "bench"))

import load  # noqa: E402


def test_the_mix_covers_the_site(db_path, metadata):
    mix = load.request_mix(db_path, metadata)
    kinds = {kind for kind, _ in mix}
    assert kinds == {"home", "database", "table+facets", "search", "canned", "json", "row", "download"}
    canned = {path.split("?")[0].removesuffix(".json") for kind, path in mix if kind == "canned"}
    assert canned == {f"/imu/{name}" for name in metadata["databases"]["imu"]["queries"]}
    assert any("_search=" in path for _, path in mix)


def test_short_load_run_has_no_errors(live_server, db_path, metadata):
    mix = load.request_mix(db_path, metadata)
    assert len(mix) <= 200  # so that every request of the mix is sent at least once
    figures = asyncio.run(load.run(live_server, mix, count=200, concurrency=10))
    assert figures["requests"] == 200
    assert figures["errors"] == []
    assert set(figures["kinds"]) == {kind for kind, _ in mix}
    assert figures["p50"] <= figures["p95"] <= figures["p99"]
    assert load.report(figures).splitlines()[3] == "errors: 0"


def test_plans_ask_what_they_say(db_path, metadata):
    """bench/load.py --compare: the cacheable plan repeats the site's own paths under the
    route; the first-time plan never asks the same thing twice; the mixed plan is between."""
    mix = load.request_mix(db_path, metadata)
    cacheable = load.mixed_plan(mix, "imu-abc1234", 1000, 1, load.PLANS["cacheable"])
    assert all(path.startswith(("/imu-abc1234/", "/imu-abc1234.", "/imu-abc1234?")) or path in ("/", "/imu-abc1234")
               for _, path in cacheable)
    assert len({path for _, path in cacheable}) <= len(mix)
    first = load.mixed_plan(mix, "imu-abc1234", 1000, 1, load.PLANS["first-time"])
    assert len({path for _, path in first}) == 1000
    mixed = load.mixed_plan(mix, "imu-abc1234", 1000, 1, load.PLANS["mixed"])
    new = sum(kind.startswith("uncached") for kind, _ in mixed)
    assert 0.05 < new / 1000 < 0.15


def test_short_run_in_two_processes(live_server, db_path, metadata):
    mix = load.request_mix(db_path, metadata)
    plan = load.mixed_plan(mix, "imu", 120, 1, load.PLANS["mixed"])
    figures = load.run_processes(live_server, plan, concurrency=6, processes=2)
    assert figures["requests"] == 120 and figures["errors"] == []


def test_a_short_hostile_load_run_sends_its_attacks_beside_the_readers(db_path, metadata):
    """bench/load.py --hostile, short: serve-prod with readers alone, with hostile.py's attacks
    sent open-loop from addresses of their own, and under 10,000 half-open connections."""
    rows = load.hostile_runs(db_path, load.request_mix(db_path, metadata), count=1500, processes=2, clients=40)
    assert [r["run"] for r in rows] == ["no attack", "1% attacks", "10,000 half-open connections"]
    assert rows[1]["attacks"] > 0 and rows[0]["attacks"] == rows[2]["attacks"] == 0
    assert rows[1]["share"] == rows[1]["rps"] / rows[0]["rps"] == load.attacked_share(rows)
    assert rows[0]["share"] is None and rows[2]["share"] == rows[2]["rps"] / rows[0]["rps"]
    for row in rows:
        assert row["rps"] > 0 and len(row["errors"]) < 1500 // 20, row["errors"][:5]
    report = load.hostile_report(rows, "test", ("0", "0"))
    assert "| 1% attacks | 1 |" in report and "| no attack | 1 |" in report
    assert f"all rounds together: **{rows[1]['share']:.0%}**" in report
