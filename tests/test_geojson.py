"""The `.geojson` format (plugins/geojson.py) and the release's file (geojson_export.py):
RFC 7946 collections, checked with the geojson library, that say the same thing."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from urllib.parse import quote

import geojson
import pytest

import geojson_export
from conftest import ROOT, make_datasette
from test_queries import get

WITH_COORDINATES = "latitude is not null and longitude is not null"


def collection(response):
    """The response as a valid FeatureCollection (the geojson library's checks)."""
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("application/geo+json")
    found = geojson.loads(response.text)
    assert found.is_valid, found.errors()
    assert found["type"] == "FeatureCollection" and "crs" not in found
    return found


def ids(found) -> list[str]:
    return [f["properties"]["id"] for f in found["features"]]


def test_every_event_with_coordinates_is_a_point_longitude_first(ds, con):
    found = collection(get(ds, "/imu/events.geojson"))
    rows = {r["id"]: r for r in con.execute(f"select * from events where {WITH_COORDINATES}")}
    assert len(found["features"]) == con.execute(
        f"select count(*) from events where {WITH_COORDINATES}").fetchone()[0] == len(rows) > 0
    assert sorted(ids(found)) == sorted(rows)
    for feature in found["features"]:
        row = rows[feature["id"]]
        assert feature["geometry"] == {"type": "Point", "coordinates": [row["longitude"], row["latitude"]]}


def test_a_known_event_has_its_properties(ds):
    found = collection(get(ds, "/imu/events.geojson"))
    event = next(f for f in found["features"] if f["id"] == "1999-tashkent-bombings")
    assert event["geometry"]["coordinates"] == [69.2401, 41.2995]
    assert event["properties"] == {
        "id": "1999-tashkent-bombings", "title": "Car bombings in Tashkent", "type": "car-bombing",
        "date_start": "1999-02-01", "date_end": "1999-02-28", "date_precision": "month",
        "date": "February 1999", "date_text": "February 1999", "place": "Tashkent", "country": "UZ",
        "geo_precision": "near", "fatalities_low": 16, "fatalities_high": 16, "fatalities_best": None,
        "fatalities_text": "killed 16 people", "link": "http://localhost/imu/events/1999-tashkent-bombings"}


@pytest.mark.parametrize("query, where, params", [
    ("country=UZ", "country = ?", ["UZ"]),
    ("event_type=ambush&country=TJ", "event_type = ? and country = ?", ["ambush", "TJ"]),
    ("_search=Rasht", "rowid in (select rowid from events_fts where events_fts match ?)", ["Rasht"]),
])
def test_a_filtered_table_gives_only_its_events(ds, con, query, where, params):
    found = collection(get(ds, f"/imu/events.geojson?{query}"))
    expected = [r[0] for r in con.execute(
        f"select id from events where {where} and {WITH_COORDINATES}", params)]
    assert expected and sorted(ids(found)) == sorted(expected)


def test_the_sort_of_the_request_is_kept(ds, con):
    found = collection(get(ds, "/imu/events.geojson?_sort_desc=fatalities_low"))
    assert ids(found) == [r[0] for r in con.execute(
        f"select id from events where {WITH_COORDINATES} order by fatalities_low desc, id")]


def test_the_table_page_it_comes_from_is_not_counted(db_path, metadata, settings):
    """The collection is read through the JSON API without counts; the table page Datasette
    builds first must not count the rows or facets either (they would be thrown away)."""
    import asyncio

    ds = make_datasette(db_path, metadata, settings)
    asyncio.run(ds.invoke_startup())
    db = ds.get_database("imu")
    execute, ran = db.execute, []

    async def recording(sql, *args, **kwargs):
        ran.append(sql)
        return await execute(sql, *args, **kwargs)

    db.execute = recording

    def counts_of_the_request():  # the filtered count and facet counts, not the tables' sizes
        return [sql for sql in ran if "count(*)" in sql and " from [" not in sql]

    assert collection(get(ds, "/imu/events.geojson?country=UZ"))["features"]
    assert ran and not counts_of_the_request(), ran
    get(ds, "/imu/events.json?country=UZ")  # the check can fail: the table's own page counts
    assert counts_of_the_request()


def test_every_page_is_in_the_collection(db_path, metadata, settings, tmp_path):
    """With 10 rows a page, the collection is still every event, once, in the file's order."""
    ds = make_datasette(db_path, metadata, {**settings, "max_returned_rows": 10})
    served = get(ds, "/imu/events.geojson")
    assert len(collection(served)["features"]) > 30
    geojson_export.write_geojson(db_path, tmp_path / "events.geojson", base_url="http://localhost")
    assert served.text == (tmp_path / "events.geojson").read_text(encoding="utf-8")


def test_the_release_file_is_what_the_site_serves(ds, db_path, tmp_path):
    out = tmp_path / "events.geojson"
    count = geojson_export.write_geojson(db_path, out, base_url="http://localhost", page=7)
    assert out.read_text(encoding="utf-8") == get(ds, "/imu/events.geojson").text
    found = geojson.loads(out.read_text(encoding="utf-8"))
    assert found.is_valid, found.errors()
    assert count == len(found["features"]) > 0
    assert not list(tmp_path.glob("*.tmp"))


def test_the_command_writes_site_paths_and_refuses_a_missing_database(db_path, tmp_path):
    out = tmp_path / "events.geojson"
    done = subprocess.run([sys.executable, "geojson_export.py", str(db_path), str(out)],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0 and "events" in done.stdout
    links = [f["properties"]["link"] for f in json.loads(out.read_text())["features"]]
    assert links and all(link.startswith("/imu/events/") for link in links)
    missing = subprocess.run([sys.executable, "geojson_export.py", str(tmp_path / "nope.db"),
                              str(tmp_path / "x.geojson")], cwd=ROOT, capture_output=True, text=True)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr and "nope.db" in missing.stderr
    assert not (tmp_path / "x.geojson").exists()


def test_queries_and_record_pages_with_coordinates_have_it_too(ds):
    mapped = collection(get(ds, "/imu/events_map.geojson?group=imu"))
    assert mapped["features"] and all(f["properties"]["link"].startswith("/imu/events/")
                                      for f in mapped["features"])
    one = collection(get(ds, "/imu/events/1999-tashkent-bombings.geojson"))
    assert ids(one) == ["1999-tashkent-bombings"]
    sql = collection(get(ds, "/imu.geojson?sql=select+id,+latitude,+longitude+from+events+where+country='UZ'"))
    assert sql["features"] and all(set(f["properties"]) == {"id"} for f in sql["features"])


@pytest.mark.parametrize("path", ["/imu/groups.geojson", "/imu.geojson?sql=select+1",
                                  "/imu/events.geojson?_where=nonsense("])
def test_rows_without_coordinates_or_bad_requests_are_refused(ds, path):
    assert get(ds, path).status_code == 400


def test_it_is_offered_where_json_and_csv_are(ds):
    assert 'href="/imu/events.geojson?country=UZ"' in get(ds, "/imu/events?country=UZ").text
    assert 'href="/imu/events_map.geojson"' in get(ds, "/imu/events_map").text
    assert ".geojson" not in get(ds, "/imu/groups").text


def test_a_page_that_fails_leaves_the_collection_unfinished(db_path, metadata, settings):
    """A later page failing (here an SQL error from the 20th event by id on) cannot end as a
    valid, silently short collection."""
    ds = make_datasette(db_path, metadata, {**settings, "max_returned_rows": 10})
    twentieth = sqlite3.connect(db_path).execute(
        "select id from events order by id limit 1 offset 19").fetchone()[0]
    where = f"abs(case when id >= '{twentieth}' then -9223372036854775807 - 1 else 1 end) > 0"
    r = get(ds, "/imu/events.geojson?_sort=id&_nocount=1&_nofacet=1&_where=" + quote(where))
    assert r.status_code == 200 and r.text.startswith(geojson_export.HEAD)
    assert not r.text.endswith(geojson_export.TAIL)
    with pytest.raises(ValueError):
        json.loads(r.text)
