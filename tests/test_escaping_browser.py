"""Hostile text in records is shown as text in a real browser: no script from a record runs.

A build of the real seeds plus one hostile seed file is served by `datasette serve`, and
Chromium visits every page that shows the hostile record. Each payload, if it ran, would
set `window.__xss`; dialogs (alert) are counted too.
"""
from __future__ import annotations

import shutil

import pytest

import build_db
import seedparse
from conftest import ROOT, datasette_server, local_only_page

SCRIPT = "<script>window.__xss = 'script'</script>"
IMG = "<img src=x onerror=\"window.__xss = 'img'\">"
SVG = "<svg onload=\"window.__xss = 'svg'\"></svg>"

CLAIM = {"source": "globalsecurity-imu-profile",
         "quote": "The IMU participated in attacks on US and Coalition soldiers in Afghanistan",
         "certainty": "stated"}
HOSTILE = {
    "groups": [{
        "id": "xss-group", "name": f"{SCRIPT} Group", "kind": "militant-group",
        "description": f"{IMG} and {SVG}",
        "aliases": [{"alias": IMG, "kind": "nickname"}],
    }],
    "events": [{
        "id": "xss-event", "title": f"{SCRIPT} attack", "event_type": "attack",
        "date_start": "2015-01-01", "date_end": "2015-01-02", "date_precision": "days",
        "date_text": IMG, "place": SVG, "country": "RU", "latitude": 60.0, "longitude": 100.0,
        "geo_precision": "region", "description": IMG,
        "groups": [{"group": "xss-group", "role": "perpetrator", "claims": [{**CLAIM, "statement": IMG}]}],
        "claims": [{**CLAIM, "statement": SCRIPT}],
    }],
}

PAGES = [
    "/imu/groups",
    "/imu/groups/xss-group",
    "/imu/events?id=xss-event",
    "/imu/events/xss-event",
    "/imu/aliases",
    "/imu/claims?event_id=xss-event",
    "/imu/search?q=window",
    "/imu/search?q=xss",
    "/imu/timeline?group=xss-group",
    "/imu/events_map?group=xss-group",
    "/imu/relations?group=xss-group",
]


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory, settings):
    work = tmp_path_factory.mktemp("hostile")
    seeds = work / "seeds"
    shutil.copytree(ROOT / "seeds", seeds)
    (seeds / "zz-hostile.yml").write_text(seedparse.dump(HOSTILE))
    db = work / "imu.db"
    build_db.build(seeds, db, docs=None)  # the hostile claims quote no document
    with datasette_server(db, settings, work) as url:
        yield url


def test_hostile_text_is_stored_verbatim(hostile_server, tmp_path_factory):
    import sqlite3

    db = next(tmp_path_factory.getbasetemp().glob("hostile*/imu.db"))
    con = sqlite3.connect(db)
    assert con.execute("select name from groups where id = 'xss-group'").fetchone()[0] == f"{SCRIPT} Group"
    assert con.execute("select description from events where id = 'xss-event'").fetchone()[0] == IMG


@pytest.mark.parametrize("path", PAGES)
def test_no_script_from_a_record_runs(browser, hostile_server, path):
    page = local_only_page(browser)
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        response = page.goto(hostile_server + path)
        assert response.status == 200
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__xss") is None, f"a payload ran on {path}"
        assert dialogs == []
        body = page.inner_text("body")
        if path in ("/imu/groups", "/imu/groups/xss-group"):
            assert SCRIPT in body, "the hostile name is shown as text"
    finally:
        page.context.close()


def test_map_popup_shows_hostile_title_as_text(browser, hostile_server):
    page = local_only_page(browser)
    try:
        page.goto(hostile_server + "/imu/events?id=xss-event")
        marker = page.locator(".leaflet-marker-icon").first
        marker.wait_for()
        marker.click()
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for()
        assert SCRIPT in popup.inner_text()
        assert page.evaluate("window.__xss") is None
    finally:
        page.context.close()


@pytest.mark.parametrize("payload,marker", [(SCRIPT, "script"), (IMG, "img"), (SVG, "svg")])
def test_the_payloads_would_run_if_unescaped(browser, payload, marker):
    """The detector works: each payload, inserted raw, does set window.__xss."""
    page = local_only_page(browser)
    try:
        page.set_content(f"<html><body>{payload}</body></html>")
        page.wait_for_function("window.__xss !== undefined", timeout=5000)
        assert page.evaluate("window.__xss") == marker
    finally:
        page.context.close()
