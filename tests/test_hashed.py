"""Content-hashed database URLs (plugins/hashed.py), on as `make serve-prod` and the deploy
folder turn them on (IMU_HASHED_URLS=1), and off for `make serve`."""
from __future__ import annotations

import asyncio
import re
from urllib.parse import urlsplit

import pytest

from conftest import ROOT
from dataset import RECONCILE
from test_queries import get

FAR = "public, max-age=31536000, immutable"



# Sections whose URLs are not offered as working: the benchmark's are synthetic, and the
# guarantees name the refused ones (a format nothing renders is a 404).
NOT_OFFERED = ("Performance", "What the dataset guarantees")


def readme_urls() -> list[str]:
    """Every local URL the README's other sections give."""
    sections = re.split(r"(?m)^(?=## )", (ROOT / "README.md").read_text())
    text = "".join(s for s in sections if not s.startswith(tuple(f"## {n}" for n in NOT_OFFERED)))
    urls = re.findall(r"http://127\.0\.0\.1:8001(/imu[^\s)>`\]]*)", text)
    urls += re.findall(r"`(/imu[/.][^`\s]*)`", text)
    return sorted(set(urls) - {RECONCILE})  # an address OpenRefine keeps: never redirected (below)


def test_the_reconciliation_service_keeps_its_address(hashed):
    r = get(hashed, RECONCILE)
    assert r.status_code == 200 and r.json()["defaultTypes"]
    assert RECONCILE in (ROOT / "README.md").read_text()


def test_the_readme_gives_urls_to_check():
    assert len(readme_urls()) >= 8


@pytest.mark.parametrize("path", readme_urls())
def test_readme_urls_redirect_to_the_hashed_url_which_answers(hashed, route, path):
    r = get(hashed, path)
    assert r.status_code == 302
    location = r.headers["location"]
    assert location.startswith(f"/{route}")
    assert urlsplit(location).query == urlsplit(path).query  # the query is kept whole
    assert r.headers["cache-control"] == "public, max-age=300"  # the next build moves it
    answer = get(hashed, location)
    assert answer.status_code == 200, location
    if not urlsplit(path).path.endswith(".geojson"):  # streamed: see below
        assert answer.headers["cache-control"] == FAR


@pytest.mark.parametrize("path", ["/imu", "/imu.db", "/imu.json", "/imu/groups/imu", "/imu/groups/imu.json",
                                  "/imu-0000000/groups/imu", "/imu-deadbee.db"])
def test_unhashed_and_old_hashes_redirect_to_the_current_hash(hashed, route, path):
    r = get(hashed, path)
    assert r.status_code == 302
    assert r.headers["location"] == re.sub(r"^/imu(-[0-9a-f]+)?", f"/{route}", path)


def test_the_download_under_its_hash_is_the_file(hashed, route, db_path):
    r = get(hashed, f"/{route}.db")
    assert r.status_code == 200 and r.content == db_path.read_bytes()
    assert r.headers["cache-control"] == FAR


def test_pages_link_straight_to_the_hashed_urls(hashed, route):
    for path in ["/", "/about", f"/{route}/groups/imu", f"/{route}/events", f"/{route}/timeline?group=imu"]:
        html = get(hashed, path).text
        assert f'href="/{route}/' in html, path
        assert not re.search(r'(href|action)="/imu[/."?]', html), path


def test_the_data_keeps_stable_links(hashed, route):
    rows = get(hashed, f"/{route}/search.json?q=Namangani&_shape=array").json()
    assert rows and all(row["link"].startswith("/imu/") for row in rows)
    event = get(hashed, f"/{route}/events.json?_shape=array&_size=1").json()[0]
    assert isinstance(event["popup"], dict)  # the API's popup is JSON under the hash too


@pytest.mark.parametrize("path, why", [
    ("/{route}/groups/no-such-group", "an error"),
    ("/{route}.json?sql=select+abs(random())", "the visitor's own SQL"),
    ("/{route}/events?_where=abs(random())%25%202%3D0", "the visitor's own SQL"),
])
def test_only_what_depends_on_the_database_alone_is_kept_a_year(hashed, route, path, why):
    r = get(hashed, path.format(route=route))
    assert r.headers.get("cache-control") != FAR, why


def test_make_serve_keeps_plain_urls(ds):
    asyncio.run(ds.invoke_startup())
    r = get(ds, "/imu/groups/imu")
    assert r.status_code == 200 and r.headers["cache-control"] != FAR
    assert 'href="/imu/' in r.text


def test_answers_streamed_in_pieces_keep_a_short_lifetime(hashed, route):
    """A streamed CSV or a many-page GeoJSON can stop early on an error after its 200."""
    for path in [f"/{route}/events.csv?_stream=on", f"/{route}/events.geojson?_size=5"]:
        r = get(hashed, path)
        assert r.status_code == 200 and r.headers.get("cache-control") != FAR, path


def test_geojson_works_under_the_hash(hashed, route, db_path):
    import sqlite3

    features = get(hashed, f"/{route}/events.geojson").json()["features"]
    with sqlite3.connect(db_path) as con:
        assert len(features) == con.execute(
            "select count(*) from events where latitude is not null and longitude is not null").fetchone()[0]


def test_whole_answers_carry_their_length(hashed, route):
    r = get(hashed, f"/{route}/groups/imu")
    assert r.headers["content-length"] == str(len(r.content))
    assert "transfer-encoding" not in r.headers
