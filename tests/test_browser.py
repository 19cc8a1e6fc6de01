"""The site in a real browser: Debian's Chromium driven by Playwright, offline.

`live_server` runs `datasette serve` as `make serve` does; `page` aborts every
request that is not to 127.0.0.1 (so map tiles fail, and nothing else may).
Expected counts come from the built database.
"""
from __future__ import annotations

import re
import sqlite3
import subprocess
from urllib.parse import urlsplit

import pytest

from conftest import ROOT, SERVE_OPTIONS

# Markers plus the counts on cluster icons: every event with coordinates, once.
MARKER_TOTAL = """() => {
  let n = 0;
  for (const el of document.querySelectorAll('.leaflet-marker-icon')) {
    n += el.classList.contains('marker-cluster') ? parseInt(el.textContent, 10) : 1;
  }
  return n;
}"""


@pytest.fixture(scope="module")
def con(db_path):
    return sqlite3.connect(db_path)


def only_tiles_blocked(page):
    """Offline, only map tiles may be missing; everything else is served locally."""
    hosts = {urlsplit(u).hostname for u in page.blocked}
    return all(h.endswith("tile.openstreetmap.org") for h in hosts)


def test_make_serve_passes_the_same_options():
    """live_server mirrors `make serve`; fail if the Makefile's serve line drifts."""
    dry = subprocess.run(["make", "-n", "serve"], cwd=ROOT, capture_output=True, text=True).stdout
    line = next(line for line in dry.replace("\\\n", " ").splitlines() if "datasette serve" in line)
    assert " ".join(SERVE_OPTIONS) in " ".join(line.split())
    assert "-i imu.db" in line and "--host 127.0.0.1" in line


def test_home_page(page, live_server):
    page.goto(live_server + "/")
    assert "Islamic Movement of Uzbekistan" in page.title()
    assert page.locator("h2 a", has_text="imu").count() == 1
    page.get_by_role("link", name="search").first.click()
    page.wait_for_url(re.compile(r"/imu/search"))
    assert page.errors == [] and page.blocked == []


@pytest.mark.parametrize("path", ["/imu/events", "/imu/events_map"])
def test_map_shows_every_event_with_coordinates(page, live_server, con, path):
    expected = con.execute("select count(*) from events where latitude is not null "
                           "and longitude is not null").fetchone()[0]
    assert expected > 0
    page.goto(live_server + path)
    page.wait_for_selector(".leaflet-marker-icon")
    try:
        page.wait_for_function(f"({MARKER_TOTAL})() === {expected}", timeout=10_000)
    finally:
        assert page.evaluate(MARKER_TOTAL) == expected
    assert page.errors == []
    assert only_tiles_blocked(page)


def test_map_popup_shows_the_event(page, live_server, con):
    event_id, title, date_text, place = con.execute(
        "select id, title, date_text, place from events where latitude is not null "
        "and date_text is not null and place is not null order by id limit 1").fetchone()
    page.goto(f"{live_server}/imu/events?id={event_id}")
    page.locator(".leaflet-marker-icon").click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    text = popup.inner_text()
    assert title in text and date_text in text and place in text and "fatalities" in text
    popup.locator("a").click()
    page.wait_for_url(f"{live_server}/imu/events/{event_id}")


def test_search_for_yuldashev_finds_the_person(page, live_server):
    page.goto(live_server + "/imu/search")
    page.fill("input[name=q]", "Yuldashev")
    page.locator("input[name=q]").press("Enter")
    page.wait_for_url(re.compile(r"q=Yuldashev"))
    first = page.locator("table.rows-and-columns tbody tr").first
    assert "Tohir Yoldashev" in first.inner_text()
    assert first.locator("mark").first.inner_text() == "Yuldashev"
    first.locator("a[href='/imu/people/tohir-yoldashev']").click()
    page.wait_for_url(re.compile(r"/imu/people/tohir-yoldashev$"))
    assert page.locator("section.imu-names").inner_text().count("Yuldashev") >= 1
    assert page.errors == []


def test_disputes_lists_every_side(page, live_server, con):
    expected = con.execute("select count(*) from disputes").fetchone()[0]
    assert expected > 0
    page.goto(live_server + "/imu/disputes")
    assert page.locator("h1").inner_text().startswith("Disputes")
    assert page.locator("table.rows-and-columns tbody tr").count() == expected
    quote = con.execute("select quote from disputes order by dispute_id, position limit 1").fetchone()[0]
    assert quote in page.locator("table.rows-and-columns").inner_text()


def test_event_page_shows_its_quotes(page, live_server, con):
    event_id = con.execute("select event_id from claims where event_id is not null "
                           "group by event_id order by count(*) desc, event_id limit 1").fetchone()[0]
    quotes = [r[0] for r in con.execute("""
        select quote from claims where event_id = ?1
        or event_group_id in (select id from event_groups where event_id = ?1)
        or event_person_id in (select id from event_people where event_id = ?1)""", [event_id])]
    page.goto(f"{live_server}/imu/events/{event_id}")
    shown = page.locator(".imu-claim blockquote").all_inner_texts()
    assert sorted(s.strip("“”") for s in shown) == sorted(quotes)
    participants = page.locator("section.imu-participants tbody tr").count()
    assert participants == con.execute(
        "select (select count(*) from event_groups where event_id = ?1) + "
        "(select count(*) from event_people where event_id = ?1)", [event_id]).fetchone()[0]
    assert page.errors == []
