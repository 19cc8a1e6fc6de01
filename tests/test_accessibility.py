"""axe-core (4.12, bundled by axe-playwright-python) on every page type a reader meets, at
1280 px and at 390 px: no violation of its rules (WCAG 2.x A and AA, and best practice).
Lighthouse, which runs the same engine among its audits, is in bench/ (issue 21)."""
from __future__ import annotations

import pytest

from conftest import local_only_page

# The 13 page types of issue 21, and a query page and the SQL page besides.
PAGES = ["/", "/about", "/imu/search?q=Rasht", "/imu/events", "/imu/events/2010-rasht-valley-security-sweeps",
         "/imu/groups/imu", "/imu/people/tohir-yoldashev",
         "/imu/claims/2010-rasht-valley-security-sweeps--stratfor-2010-tajikistan-sweeps-5",
         "/imu/sources/blog-2014-has-imu-returned", "/imu/dispute_topics/rasht-sweeps-casualties",
         "/imu/events_map", "/imu/network?group=imu&year=2000", "/imu/events_per_year",
         "/imu/as_of?group=imu&year=2011", "/imu?sql=select+id,+title+from+events+limit+5"]
# What a page draws after it loads, checked once drawn; every other page is whole at its
# load event (waiting for the network to go quiet besides cost half a second a page).
READY = {"/imu/network?group=imu&year=2000": "#imu-network[data-state=drawn]",
         "/imu/events_per_year": "#imu-chart[data-state=drawn]",
         "/imu/events_map": ".leaflet-marker-icon, .marker-cluster", "/imu/events": ".leaflet-marker-icon, .marker-cluster"}


@pytest.fixture(scope="module")
def axe():
    from axe_playwright_python.sync_playwright import Axe

    return Axe()


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("path", PAGES)
def test_no_accessibility_violations(browser, live_server, axe, path, width):
    page = local_only_page(browser, width=width, height=900 if width > 600 else 844)
    try:
        page.goto(live_server + path)
        if path in READY:
            page.wait_for_selector(READY[path], timeout=15_000)
        violations = axe.run(page).response["violations"]
        assert violations == [] or [(v["id"], [n["target"] for n in v["nodes"][:3]]) for v in violations] == [], path
    finally:
        page.close()
