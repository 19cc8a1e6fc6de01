"""The public surface of a read-only site: what it answers, and 4xx, never 500, for bad requests.

Before Datasette sees a request (asgi_wrapper):
- only GET, HEAD and OPTIONS are let in (405): the site has nothing to write, and any POST
  to a canned query gave a 500 ('tuple' object has no attribute 'asgi_send'); the one
  exception is a POST to the reconciliation service (plugins/reconcile.py), the way
  OpenRefine sends its queries, which that service bounds and only reads;
- under /-/ only static files and the metadata are served (404 otherwise): /-/threads
  showed thread idents (memory addresses), /-/versions SQLite's compile options,
  /-/settings and /-/databases the server's set-up, and the rest are debugging pages;
- a data URL's format must be one Datasette or a plugin renders (404): Datasette answered
  /imu/events.kml or .atom with the HTML page and status 200;
- a query string must not hold NUL characters, and search text is bounded (400,
  fold.search_problem);
- a path with a backslash, or starting with two slashes, is no page here (404): Datasette
  would redirect `/\\evil.example/` to `/\\evil.example`, which browsers read as
  `//evil.example`, another site;
- a parameter name that percent-encodes a plain letter, digit or `_.-~` (`%73ql=` for
  `sql=`) is refused (400): no browser or client writes one, and the proxy's limits, which
  read names as written, would not see it for what Datasette reads it as;
- Datasette's own parameters (`_facet`, `_sort`, `_size`...) given twice with the same value
  count once, and a query string holds at most MAX_PARAMS parameters and MAX_FACETS facets
  (400): 300 copies of `_facet=title` in a 4 KB URL made 38 MB of JSON, and a 13 KB one took
  the server to 2.5 GB, with no SQL for the SQL limits to stop.

After Datasette fails on a request (handle_exception): an exception that a query string
caused becomes Datasette's own error page or JSON with status 400. A fuzz of Datasette's
parameters found these classes (tests/test_fuzz.py sends them): booleans that are not
booleans (`_json_infinity=x`), JSON that is not JSON (`_through=`, `_facet={}`,
`id__in=[1`), integers beyond SQLite's 64 bits (`id__gt=99999999999999999999`),
`_timelimit=abc`, a sort by a column the table lacks, several statements in `_where`, and
a query stopped by the time limit before a CSV stream began. A page's own query stopped by
the time limit, with nothing in the query string to blame, is a 503 (busy), not a 500.
"""
from __future__ import annotations

import json
import re
import sqlite3
from urllib.parse import parse_qsl, unquote_to_bytes

import markupsafe
import datasette.database
from datasette import hookimpl
from datasette.database import QueryInterrupted
import datasette.handle_exception
from datasette.handle_exception import handle_exception as datasette_error_page
from datasette.plugins import pm
from datasette.utils import ValueAsBooleanError
from datasette.utils.asgi import Request, Response
from datasette.views.base import DatasetteError

from dataset import RECONCILE
from fold import search_problem

METHODS = {"GET", "HEAD", "OPTIONS"}
PUBLIC_UNDER_DASH = re.compile(r"^/-/(static/|static-plugins/|metadata(\.json)?$)")
# Datasette's index, database, table and row routes with a format (paths with a "-"
# segment are Datasette's own or a plugin's, not data).
DATA_FORMAT = re.compile(r"^/(?:[^/.]+(?:/[^/.]+(?:/[^/]+?)?)?)?\.(?P<format>\w+)$")
SEARCH_PARAM = re.compile(r"^(q|_search(_.+)?)$")
MAX_PARAMS = 100
MAX_FACETS = 10  # _facet, _facet_date and _facet_array together
FACET_PARAM = re.compile(r"^_facet(_date|_array)?$")
# %-encoding of an unreserved ASCII character (RFC 3986: letters, digits, - . _ ~)
NEEDLESS_ESCAPE = re.compile(r"%(?:[46][1-9a-f]|[57][0-9a]|3[0-9]|2d|2e|5f|7e)", re.I)
# Exceptions that a bad value in the query string raises inside Datasette.
PARAMETER_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, sqlite3.Error,
                    QueryInterrupted)


# Datasette prints a rich traceback, every local variable included, for each error it
# handles (a 404, a visitor's bad SQL) whenever rich can be imported (frictionless, in the
# test extra, brings it in): visitors' input in the log, a quarter of a second an error, and
# outside an `except` block (send_error below) a ValueError, hence a 500. Errors are logged
# as Datasette logs them without rich: a traceback for a 500, nothing for a 4xx.
datasette.handle_exception.rich = None


def known_formats(datasette) -> set[str]:
    return set(datasette.renderers) | {"csv", "jsono", "db"}


def plugin_routes(datasette) -> list[re.Pattern]:
    """The paths plugins serve themselves (robots.txt, the sitemaps...): files, not data with a format."""
    return [re.compile(pattern) for routes in pm.hook.register_routes(datasette=datasette)
            for pattern, _ in routes or ()]


def refusal(datasette, scope, routes: list[re.Pattern] = ()) -> tuple[int, str] | None:
    """(status, message) for a request refused before Datasette sees it; `routes` are
    plugin_routes()."""
    if scope["method"] not in METHODS and not (scope["method"] == "POST" and scope["path"] == RECONCILE):
        return 405, "Method not allowed: this site is read-only"
    path = scope["path"]
    if "\\" in path or path.startswith("//"):
        return 404, "Not found"
    if path.startswith("/-/") and not PUBLIC_UNDER_DASH.match(path):
        return 404, "Not found"
    m = DATA_FORMAT.match(path)
    static = m and (path == "/favicon.ico" or any(r.match(path) for r in routes)
                    or any(path.startswith(f"/{mount}/") for mount, _ in datasette.static_mounts))
    if m and not static and "/-/" not in path and m["format"] not in known_formats(datasette):
        return 404, f"Not found: this site has no .{m['format']} format"
    query = scope.get("query_string", b"").decode("latin-1")
    if "%00" in query or "\x00" in query:
        return 400, "The query string contains a NUL character"
    for part in query.split("&"):
        if NEEDLESS_ESCAPE.search(part.split("=", 1)[0]):
            return 400, "A parameter name is written with %-escapes for plain letters: write it plainly"
    pairs = parse_qsl(query, keep_blank_values=True)
    if len(pairs) > MAX_PARAMS:
        return 400, f"Too many parameters: at most {MAX_PARAMS} in one request"
    if len({(k, v) for k, v in pairs if FACET_PARAM.match(k)}) > MAX_FACETS:
        return 400, f"Too many facets: at most {MAX_FACETS} in one request"
    for key, value in pairs:
        if SEARCH_PARAM.match(key) and (problem := search_problem(value)):
            return 400, f"{key}: {problem}"
    return None


def folded(scope):
    """The request with Datasette's own parameters given twice alike counted once."""
    query = scope.get("query_string", b"")
    if b"_" not in query:
        return scope
    seen, kept, changed = set(), [], False
    for part in query.split(b"&"):
        key = unquote_to_bytes(part.split(b"=", 1)[0].replace(b"+", b" "))
        if key.startswith(b"_"):
            whole = (key, unquote_to_bytes(part.partition(b"=")[2].replace(b"+", b" ")))
            if whole in seen:
                changed = True
                continue
            seen.add(whole)
        kept.append(part)
    return dict(scope, query_string=b"&".join(kept)) if changed else scope


async def send_error(datasette, scope, receive, send, status: int, message: str) -> None:
    """The site's error page (or Datasette's JSON, for a .json URL) from outside Datasette,
    where no CSRF token is made (an error page has no form that posts)."""
    await datasette.invoke_startup()  # the page's template reads what start-up reads
    request = Request(dict(scope, csrftoken=lambda: ""), receive)
    response = await site_error_page(datasette, request, DatasetteError(message, status=status))()
    if status == 405:
        response.headers["allow"] = ", ".join(sorted(METHODS))
    await response.asgi_send(send)


@hookimpl
def asgi_wrapper(datasette):
    routes = plugin_routes(datasette)

    def wrap(app):
        async def public_surface(scope, receive, send):
            if scope["type"] == "http":
                refused = refusal(datasette, scope, routes)
                if refused:
                    return await send_error(datasette, scope, receive, send, *refused)
                scope = folded(scope)
            await app(scope, receive, send)

        return public_surface

    return wrap


def bad_request(request, exception) -> str | None:
    """The message for an exception that a bad query string caused, else None."""
    args = request.args
    if not request.query_string or not isinstance(exception, PARAMETER_ERRORS):
        return None
    if isinstance(exception, QueryInterrupted):
        return "SQL query took too long"
    cut_short = getattr(datasette.database.sqlite_timelimit, "cut_short", None)  # plugins/sqlguard.py
    if isinstance(exception, sqlite3.OperationalError) and str(exception) == cut_short:
        return cut_short[0].upper() + cut_short[1:]  # cut short for other visitors' queries
    timelimit = args.get("_timelimit")
    if isinstance(exception, ValueError) and timelimit is not None and not timelimit.isdigit():
        return "_timelimit must be a whole number of milliseconds"
    if isinstance(exception, json.JSONDecodeError):
        return f"A parameter that should hold JSON does not: {exception}"
    if isinstance(exception, OverflowError):
        return "A number in the query string is too large (SQLite integers are 64-bit)"
    if "one statement at a time" in str(exception):
        return "_where must be a single SQL expression"
    if isinstance(exception, ValueAsBooleanError):
        return "A parameter that should be a boolean (on, off, 1, 0, true, false) is not"
    detail = str(exception) or type(exception).__name__
    return f"Bad request: the query string could not be used ({detail[:200]})"


def site_error_page(datasette, request, exception):
    """Datasette's error page or JSON, its HTML rendered as every other page is.

    Datasette renders an error without the plugins' hooks, so its error pages had neither
    the site's stylesheet nor its scripts. Datasette's own handler still decides the
    status, the title and the words (asked as for a `.json` address)."""
    async def inner():
        as_json = await datasette_error_page(datasette, Request.fake("/error.json"), exception)()
        if request.path.split("?")[0].endswith(".json"):
            return as_json
        info = json.loads(as_json.body)
        if isinstance(exception, DatasetteError) and exception.message_is_html:
            info["error"] = markupsafe.Markup(exception.message)
        try:
            html = await datasette.render_template([f"{info['status']}.html", "error.html"], info, request=request)
        except Exception:  # a request too broken for the site's hooks gets Datasette's plain page
            return await datasette_error_page(datasette, request, exception)()
        headers = {k: v for k, v in as_json.headers.items() if k.lower() != "content-type"}
        return Response.html(html, status=as_json.status, headers=headers)
    return inner


@hookimpl
def handle_exception(datasette, request, exception):
    if isinstance(exception, DatasetteError) and exception.status == 500 and request.query_string:
        # Datasette's own words about a bad request ("Cannot sort table by x", "Cannot use
        # _sort and _sort_desc at the same time"), raised without a status
        exception = DatasetteError(exception.message, status=400)
    elif (message := bad_request(request, exception)) is not None:
        exception = DatasetteError(message, status=400)
    elif isinstance(exception, QueryInterrupted):
        # one of the page's own queries ran out of time: the server is busy, or the page
        # too big for it; not a fault of the request, and no reason for a 500
        exception = DatasetteError("This page took too long to make: the server may be busy. "
                                   "Try again in a moment.", status=503)
    return site_error_page(datasette, request, exception)
