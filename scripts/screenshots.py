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

# name, path, what to wait for, what to bring into view (or None for the top).
SHOTS = [
    ("home", "/", "h1", None),
    ("database", "/imu", "h1", None),
    ("search", "/imu/search?q=Yuldashev", "table.rows-and-columns mark", "table.rows-and-columns"),
    ("map", "/imu/events_map", ".leaflet-marker-icon", None),
    ("event", "/imu/events/1999-tashkent-bombings", ".imu-claim", "section.imu-participants"),
    ("person", "/imu/people/tohir-yoldashev", ".imu-section", "section.imu-names"),
    ("disputes", "/imu/disputes", "table.rows-and-columns", None),
]


def main() -> int:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    settings = json.loads((ROOT / "settings.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "imu.db"
        build_db.build(ROOT / "seeds", db_path)
        with datasette_server(db_path, settings, Path(tmp)) as url, sync_playwright() as pw:
            browser = launch_chromium(pw)
            page = local_only_page(browser, height=1050)
            for name, path, ready, into_view in SHOTS:
                page.goto(url + path)
                page.wait_for_selector(ready)
                if name == "map":
                    page.wait_for_timeout(500)  # let the markers settle
                    page.locator(".leaflet-marker-icon:not(.marker-cluster)").last.click()
                    page.wait_for_selector(".leaflet-popup-content")
                    page.wait_for_timeout(500)  # the map pans to fit the popup
                    page.evaluate("window.scrollTo(0, 0)")
                if into_view:
                    page.locator(into_view).first.evaluate("el => el.scrollIntoView()")
                page.screenshot(path=str(OUT / f"{name}.png"))
                print(f"docs/screenshots/{name}.png  {path}")
            if page.errors:
                print("JavaScript errors:", *page.errors, sep="\n  ", file=sys.stderr)
                return 1
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
