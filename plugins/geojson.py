"""The `.geojson` format: rows with latitude and longitude as an RFC 7946 FeatureCollection.

`/imu/events.geojson` is every event with coordinates, `/imu/events.geojson?country=UZ`
those a filtered table page would list: any table whose rows have `latitude` and
`longitude` gets it, and so do SQL and canned queries (`/imu/events_map.geojson`) and
record pages. Events are made into features by geojson_export.py, which also writes the
release's file, so the two cannot differ; other rows keep their columns as properties.

datasette-geojson 0.4.0 does not fit: it needs a `geometry` column (or SpatiaLite for
blobs), gives one page of rows, and registers a `pause()` SQL function besides.

A renderer gets one page of a table. For a table, this one pages through Datasette's own
JSON API instead (`_size=max`, so at most max_returned_rows rows a page, each page under
the SQL time limit, with the filters, search and sort of the request) and streams the
collection a page at a time: memory holds one page, and time grows with the number of
rows (about 100 pages for 100,000 events). A query gives at most max_returned_rows rows,
as its JSON does. If a later page fails (the time limit; 503 when too many requests with
SQL of their own run, plugins/lanes.py, each page counting as one), the stream stops
before the closing brackets: the text is then not valid JSON, rather than a silently
short collection. A `_where` costs what it costs in a streamed CSV (`_stream=on`), which
pages the same way.
"""
from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode

from datasette import hookimpl
from datasette.utils.asgi import Response
from datasette.views.base import DatasetteError

import geojson_export as gx

MEDIA_TYPE = "application/geo+json; charset=utf-8"
# What a table request passes on to the pages it is made from: its column filters, search,
# SQL filter, joins, sort and time limit; not its shape, size, columns, facets or labels.
PASSED_ON = re.compile(r"^(?!_)|^_(search(_.+)?|where|through|sort|sort_desc|timelimit)$")


def has_coordinates(columns) -> bool:
    return "latitude" in columns and "longitude" in columns


class Streamed(Response):
    """A Response whose body is sent as its text chunks come."""

    def __init__(self, chunks, headers=None):
        super().__init__(body="", headers=headers, content_type=MEDIA_TYPE)
        self.chunks = chunks

    async def asgi_send(self, send):
        headers = {**self.headers, "content-type": self.content_type}
        await send({"type": "http.response.start", "status": self.status,
                    "headers": [[k.encode(), v.encode()] for k, v in headers.items()]})
        async for text in self.chunks:
            if text:
                await send({"type": "http.response.body", "body": text.encode(), "more_body": True})
        await send({"type": "http.response.body", "body": b""})


async def table_pages(datasette, request, database: str, table: str, columns: list[str]):
    """The rows of the table that the request filters, a page at a time, from the JSON API."""
    args = [(k, v) for k, v in parse_qsl(request.query_string, keep_blank_values=True)
            if PASSED_ON.match(k)]
    args += [("_col", c) for c in columns]
    args += [("_shape", "objects"), ("_size", "max"), ("_nocount", "1"), ("_nofacet", "1")]
    path = datasette.urls.table(database, table, format="json")  # its route, hashed or not
    token = request.args.get("_next")
    while True:
        response = await datasette.client.get(
            path + "?" + urlencode(args + ([("_next", token)] if token else [])))
        if response.status_code != 200:  # a bad filter, the time limit, or 503 when busy
            try:
                message = response.json().get("error")
            except ValueError:
                message = response.text
            raise DatasetteError(message or "Could not read the table", status=response.status_code)
        body = response.json()
        yield body["rows"]
        token = body.get("next")
        if not token:
            return


async def pages_from(first: list, rest=None):
    yield first
    if rest is not None:
        async for page in rest:
            yield page


async def stream(pages, make):
    """The collection's text: HEAD, each page's features, TAIL."""
    yield gx.HEAD
    count = 0
    try:
        async for page in pages:
            features = [f for f in map(make, page) if f is not None]
            yield gx.page_text(features, first=count == 0)
            count += len(features)
    except DatasetteError:
        return  # the status has been sent: end without the closing brackets
    yield gx.TAIL


async def render(datasette, columns, rows, request, database, table, view_name):
    base_url = datasette.absolute_url(request, "/").rstrip("/")
    event = table == "events"

    def make(row):
        return gx.event_feature(row, base_url) if event else gx.row_feature(row)

    if view_name == "table" and table:  # a canned query comes through the table view too
        db = datasette.get_database(database)
        table_columns = await db.table_columns(table)
        if not has_coordinates(table_columns):
            raise DatasetteError(f"{table} has no latitude and longitude columns", status=400)
        pks = await db.primary_keys(table)
        wanted = [c for c in (gx.EVENT_COLUMNS if event else table_columns) if c not in pks]
        pages = table_pages(datasette, request, database, table, wanted)
        first = await anext(pages)  # a bad request fails here, before the response starts
        return Streamed(stream(pages_from(first, pages), make))
    if not has_coordinates(columns):
        raise DatasetteError("GeoJSON needs latitude and longitude columns", status=400)
    rows = [dict(zip(columns, row)) for row in rows]
    return Streamed(stream(pages_from(rows), make))


@hookimpl
def register_output_renderer(datasette):
    return {"extension": "geojson", "render": render, "can_render": has_coordinates}


def without_counts(scope) -> dict:
    """Datasette builds a table's whole page, its count and facets included, before it hands
    a renderer the rows, and table_pages then reads the rows again through the JSON API: a
    `.geojson` request asks Datasette not to count (each facet counts every matching row)."""
    if scope.get("type") != "http" or not scope.get("path", "").endswith(".geojson"):
        return scope
    query = scope.get("query_string", b"")
    return dict(scope, query_string=(query + b"&" if query else b"") + b"_nocount=1&_nofacet=1")


@hookimpl
def asgi_wrapper():
    def wrap(app):
        async def geojson_without_counts(scope, receive, send):
            await app(without_counts(scope), receive, send)
        return geojson_without_counts
    return wrap
