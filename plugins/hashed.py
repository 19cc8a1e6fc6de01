"""Content-hashed database URLs: `/imu-1a2b3c4/...`, cacheable for a year.

The database never changes between builds, so every page under a URL that names the
database's content (the first seven hex digits of its SHA-256, Datasette's own hash of an
immutable file) can be kept by a CDN or proxy for ever; a new build is a new hash, hence
new URLs. datasette-hashed-urls does this; this is the same idea with five differences:

- only a 200 answer to GET or HEAD is marked far-future (`public, max-age=31536000,
  immutable`): an error, a 429 or a 503 "busy" keeps Datasette's own short lifetime, and
  so does an answer streamed in pieces (a streamed CSV, a GeoJSON of many pages), which
  can stop early on an error after its status has gone;
- a request carrying SQL of the visitor's own (`sql=`, `_where=`, which may call
  random()) is not marked either;
- the site's own pages link straight to the hashed URLs (their `href`s and `action`s
  naming `/imu` are rewritten as they leave), so a click costs no redirect;
- the unhashed URL, or one with an old hash, redirects (302) to the same path and query
  under the current hash, and that redirect may be kept for REDIRECT_MAX_AGE only, since
  the next build moves it;
- the data keeps stable links: the JSON, CSV and `.db` keep `/imu/...` in `link`
  columns, which redirect;
- the reconciliation service stays at `/imu/-/reconcile`, never redirected: OpenRefine
  keeps the address it is given, and POSTs its queries there (a redirect loses the form).

It is on where the site is published (`make serve-prod`, the deploy folder) and off for
`make serve`, through `plugins.imu.hashed_urls` in metadata.yml, which reads the
environment variable IMU_HASHED_URLS ("1" turns it on).

Compression (gzip, asgi-gzip) is composed here too, outside the rewriting, so that the
links are rewritten before the bytes are compressed: on in the deploy folder
(`plugins.imu.compress`, IMU_COMPRESS), where Datasette answers the internet itself; off
behind `make serve-prod`'s nginx, which compresses what it sends (and caches it plain),
and off for `make serve`. The `.db` download is never compressed on the fly.
"""
from __future__ import annotations

import re
from urllib.parse import parse_qsl

from datasette import hookimpl
from dataset import DB, RECONCILE  # the database's name, written once; a service's stable address
HASH_LENGTH = 7
FAR_FUTURE = b"public, max-age=31536000, immutable"
REDIRECT_MAX_AGE = 300
VISITOR_SQL = frozenset({"sql", "_where"})
OURS = re.compile(rf"^/{DB}(?:-[0-9a-f]*)?(?=[/.]|$)")


def enabled(datasette, setting: str = "hashed_urls") -> bool:
    value = (datasette.plugin_config("imu") or {}).get(setting)
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def compressing(app):
    """`app` with gzip for clients that accept it, but for the `.db` download."""
    from asgi_gzip import GZipMiddleware

    gzipped = GZipMiddleware(app, minimum_size=1024, compresslevel=5)

    async def compress(scope, receive, send):
        if scope.get("type") == "http" and not scope.get("path", "").endswith(".db"):
            return await gzipped(scope, receive, send)
        return await app(scope, receive, send)

    return compress


def route(datasette) -> str | None:
    """The database's hashed route, or None when hashed URLs are off."""
    db = datasette.databases.get(DB)
    return db.route if db is not None and db.route != DB else None


@hookimpl
def startup(datasette):
    if not enabled(datasette) or DB not in datasette.databases:
        return
    db = datasette.databases[DB]
    if db.hash is None:
        raise ValueError(f"hashed_urls needs {DB}.db served immutable (-i), so it has a hash")
    db.route = f"{DB}-{db.hash[:HASH_LENGTH]}"


def relinked(body: bytes, current: str) -> bytes:
    """HTML whose links to /imu... lead to the current hash instead (attribute values only:
    text from the data is escaped, so it cannot hold a literal `href="`)."""
    for attr in (b'href="', b'action="'):
        for tail in (b"/", b".", b'"', b"?"):
            body = body.replace(attr + f"/{DB}".encode() + tail, attr + f"/{current}".encode() + tail)
    return body


async def redirect(scope, send, location: str) -> None:
    await send({"type": "http.response.start", "status": 302,
                "headers": [(b"location", location.encode("latin-1")),
                            (b"cache-control", f"public, max-age={REDIRECT_MAX_AGE}".encode()),
                            (b"content-type", b"text/plain; charset=utf-8")]})
    await send({"type": "http.response.body", "body": f"Moved to {location}\n".encode("latin-1")})


@hookimpl(trylast=True)  # the outermost wrapper: the others see the hashed path
def asgi_wrapper(datasette):
    def wrap(app):
        async def hashed_urls(scope, receive, send):
            current = route(datasette) if scope.get("type") == "http" else None
            if current is None or scope["path"] == RECONCILE:  # OpenRefine keeps it, and POSTs there
                return await app(scope, receive, send)
            raw = scope.get("raw_path") or scope["path"].encode("latin-1")
            path = raw.decode("latin-1")
            m = OURS.match(path)
            if m and m[0] != f"/{current}":
                query = scope.get("query_string", b"").decode("latin-1")
                return await redirect(scope, send, f"/{current}{path[m.end():]}" + (f"?{query}" if query else ""))
            query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
            far = (m is not None and scope["method"] in ("GET", "HEAD")
                   and not any(k in VISITOR_SQL or k == "_trace" for k, _ in query))
            download = path == f"/{current}.db"  # a file, sent in pieces but never cut short
            await app(scope, receive, relinking(send, current, far, download))

        return compressing(hashed_urls) if enabled(datasette, "compress") else hashed_urls

    return wrap


def far_future(start: dict) -> dict:
    headers = [(k, v) for k, v in start.get("headers") or [] if k.lower() != b"cache-control"]
    return dict(start, headers=headers + [(b"cache-control", FAR_FUTURE)])


def relinking(send, current: str, far: bool, file: bool = False):
    """`send`, marking a 200 that comes whole far-future cacheable when `far`, and rewriting
    HTML's links. The start is held until the first piece of the body shows whether the
    answer comes whole; HTML is held until its body is whole, since its length changes."""
    start: dict | None = None
    html = False
    pieces: list[bytes] = []

    async def send_(event):
        nonlocal start, html
        if event["type"] == "http.response.start":
            start = event
            html = any(k.lower() == b"content-type" and v.startswith(b"text/html")
                       for k, v in event.get("headers") or [])
            return
        if start is None or event["type"] != "http.response.body":
            return await send(event)  # already started, or not a response
        pieces.append(event.get("body", b""))
        if html and event.get("more_body"):
            return
        whole = file or (len(pieces) == 1 and not event.get("more_body"))
        head = far_future(start) if far and whole and start["status"] == 200 else start
        body = b"".join(pieces)
        if html:
            body = relinked(body, current)
        if body and (whole or html) and not file:  # HTML is held whole, so its length is known
            # Its length, not chunks: a proxy or client can tell a whole answer from a cut one.
            head = dict(head, headers=[(k, v) for k, v in head["headers"] if k.lower() != b"content-length"]
                        + [(b"content-length", str(len(body)).encode())])
        start = None
        await send(head)
        await send(dict(event, body=body))

    return send_
