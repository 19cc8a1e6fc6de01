"""A short run of bench/load.py against the real `datasette serve`: no request may fail."""
from __future__ import annotations

import asyncio
import sys

from conftest import ROOT

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
