"""Regenerate the README's screenshots (docs/screenshots/*.png).

    .venv/bin/python scripts/screenshots.py

Builds seeds/ into a temporary folder, serves it exactly as the browser tests do
(tests/conftest.py: the options of `make serve`), and photographs each page with
Debian's Chromium, offline: requests off 127.0.0.1 are aborted, so the map's
tiles stay grey and the markers show on a blank background.
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import build_db  # noqa: E402
from conftest import datasette_server, launch_chromium, local_only_page  # noqa: E402

OUT = ROOT / "docs" / "screenshots"

# name, path, what to wait for, what to bring into view (or None for the top), width.
SHOTS = [
    ("home", "/", "h1", None, 1280),
    ("about", "/about", "h1", "#tables", 1280),
    ("search", "/imu/search?q=Rasht", ".imu-found mark", None, 1280),
    ("events", "/imu/events", "table.rows-and-columns", None, 1280),
    ("map", "/imu/events_map", ".leaflet-marker-icon", None, 1280),
    ("event", "/imu/events/2010-rasht-valley-security-sweeps", "dl.imu-profile", None, 1280),
    ("group", "/imu/groups/imu", "dl.imu-profile", None, 1280),
    ("claim", "/imu/claims/2010-rasht-valley-security-sweeps--stratfor-2010-tajikistan-sweeps-5",
     "dl.imu-fields", None, 1280),
    ("person", "/imu/people/tohir-yoldashev", "dl.imu-profile", None, 1280),
    ("disputes", "/imu/disputes", "table.rows-and-columns", None, 1280),
    ("phone", "/imu/events/2010-rasht-valley-security-sweeps", "h1", None, 390),
    ("group_phone", "/imu/groups/imu", "dl.imu-profile", None, 390),
    ("search_phone", "/imu/search?q=Namangani", ".imu-found mark", None, 390),
    ("network", "/imu/network?group=imu&year=2000", "#imu-network[data-state=drawn]", "#imu-network", 1280),
    ("as_of", "/imu/as_of?group=imu&year=2011", "table.rows-and-columns", None, 1280),
    ("chart", "/imu/events_per_year", "#imu-chart[data-state=drawn]", "#imu-chart", 1280),
]
# On the network, the line whose quotes the screenshot shows.
NETWORK_LINE = "imu-ally-taliban"


def main() -> int:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    settings = json.loads((ROOT / "settings.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "imu.db"
        build_db.build(ROOT / "seeds", db_path)
        with datasette_server(db_path, settings, Path(tmp)) as url, sync_playwright() as pw:
            browser = launch_chromium(pw)
            pages = {}
            for name, path, ready, into_view, width in SHOTS:
                if width not in pages:
                    pages[width] = local_only_page(browser, width=width, height=1050 if width > 600 else 844)
                page = pages[width]
                page.goto(url + path)
                page.wait_for_selector(ready)
                if name == "map":
                    page.wait_for_timeout(500)  # let the markers settle
                    page.locator(".leaflet-marker-icon:not(.marker-cluster)").last.click()
                    page.wait_for_selector(".leaflet-popup-content")
                    page.wait_for_timeout(500)  # the map pans to fit the popup
                    page.evaluate("window.scrollTo(0, 0)")
                if name == "network":
                    page.evaluate(f"() => window.imuNetwork.$id('r:{NETWORK_LINE}').emit('tap')")
                    page.wait_for_selector("#imu-edge-claims .imu-claim")
                if into_view:
                    page.locator(into_view).first.evaluate("el => el.scrollIntoView()")
                page.screenshot(path=str(OUT / f"{name}.png"))
                print(f"docs/screenshots/{name}.png  {path}")
            errors = [e for p in pages.values() for e in p.errors]
            if errors:
                print("JavaScript errors:", *errors, sep="\n  ", file=sys.stderr)
                return 1
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
