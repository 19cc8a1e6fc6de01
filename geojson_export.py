"""Events as an RFC 7946 GeoJSON FeatureCollection: the site's `.geojson` format
(plugins/geojson.py) and the file a release ships (`python geojson_export.py imu.db OUT`).

Both make their features and their bytes here, so the two cannot differ. RFC 7946:
coordinates are [longitude, latitude] in WGS84 and there is no `crs` member. An event
without coordinates has no feature. The file is written a page of rows at a time, in the
events table's default order on the site (date_start, then id), so memory stays flat
whatever the number of events.
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections.abc import Mapping
from pathlib import Path

from dates import row_phrase
from files import temp_path
from labels import record_url

# The events columns a feature is made from (the site asks its JSON API for these only).
EVENT_COLUMNS = ("id", "title", "event_type", "date_start", "date_end", "date_precision",
                 "date_text", "place", "country", "latitude", "longitude", "geo_precision",
                 "fatalities_low", "fatalities_high", "fatalities_best", "fatalities_text")
EVENTS_SQL = (f"select {', '.join(EVENT_COLUMNS)} from events "
              "where latitude is not null and longitude is not null order by date_start, id")

HEAD = '{"type": "FeatureCollection", "features": [\n'
SEPARATOR = ",\n"
TAIL = "\n]}\n"


def point(row: Mapping) -> dict | None:
    """A Point geometry from a row's latitude and longitude, or None when either is missing."""
    lat, lon = row.get("latitude"), row.get("longitude")
    if lat in (None, "") or lon in (None, ""):
        return None
    return {"type": "Point", "coordinates": [float(lon), float(lat)]}


def event_feature(row: Mapping, base_url: str = "") -> dict | None:
    """An event as a Feature: what a GIS user needs to label, filter and cite it; the date
    also in the site's words (dates.row_phrase), and a link to its page on the site."""
    geometry = point(row)
    if geometry is None:
        return None
    return {"type": "Feature", "id": row["id"], "geometry": geometry, "properties": {
        "id": row["id"],
        "title": row["title"],
        "type": row["event_type"],
        "date_start": row["date_start"],
        "date_end": row["date_end"],
        "date_precision": row["date_precision"],
        "date": row_phrase(row),
        "date_text": row["date_text"],
        "place": row["place"],
        "country": row["country"],
        "geo_precision": row["geo_precision"],
        "fatalities_low": row["fatalities_low"],
        "fatalities_high": row["fatalities_high"],
        "fatalities_best": row["fatalities_best"],
        "fatalities_text": row["fatalities_text"],
        "link": base_url + record_url("events", row["id"]),
    }}


def row_feature(row: Mapping) -> dict | None:
    """Any other row with latitude and longitude (an SQL query's, say): its other columns
    become the properties."""
    geometry = point(row)
    if geometry is None:
        return None
    properties = {k: v for k, v in row.items() if k not in ("latitude", "longitude")}
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def dumps(feature: dict) -> str:
    return json.dumps(feature, ensure_ascii=False)


def page_text(features: list[dict], first: bool) -> str:
    """Some of the collection's features as text, after a separator unless they are its
    first; the collection is HEAD, these in order, TAIL."""
    if not features:
        return ""
    return ("" if first else SEPARATOR) + SEPARATOR.join(map(dumps, features))


def write_geojson(db_path: str | Path, out_path: str | Path, base_url: str = "",
                  page: int = 1000) -> int:
    """Write every event with coordinates to out_path, `page` rows at a time; returns how
    many. `base_url` (the site's address, no trailing slash) makes each `link` absolute;
    without it the links are the site's paths (/imu/events/<id>)."""
    tmp = temp_path(Path(out_path))
    conn = sqlite3.connect(f"file:{Path(db_path)}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    count = 0
    try:
        cursor = conn.execute(EVENTS_SQL)
        with open(tmp, "w", encoding="utf-8") as out:
            out.write(HEAD)
            while rows := cursor.fetchmany(page):
                features = [event_feature(dict(row), base_url) for row in rows]
                out.write(page_text(features, first=count == 0))
                count += len(features)
            out.write(TAIL)
        tmp.replace(out_path)
    finally:
        conn.close()
        tmp.unlink(missing_ok=True)
    return count


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Write the events with coordinates as GeoJSON.")
    parser.add_argument("db", help="the database, e.g. imu.db")
    parser.add_argument("out", help="the file to write, e.g. dist/imu-events.geojson")
    parser.add_argument("--base-url", default="", help="the site's address, for absolute links "
                        "(e.g. https://imu-dataset.fly.dev); default: site paths")
    args = parser.parse_args(argv)
    try:
        n = write_geojson(args.db, args.out, args.base_url.rstrip("/"))
    except (sqlite3.Error, OSError) as exc:
        print(f"{args.db}: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}: {n} events")
    return 0


if __name__ == "__main__":
    sys.exit(main())
