"""A read-only site answers bad requests with 4xx, not 500.

Datasette 0.65.5 answers some requests built from bad input with HTTP 500
(tests/test_hardening.py sends each of them):

- any POST to a canned query that is not writable ('tuple' object has no attribute
  'asgi_send'); the site has nothing to write, so only GET, HEAD and OPTIONS are let in;
- `?_timelimit=abc` (int() on the raw value);
- `?_sort=` or `?_sort_desc=` a column the table does not have ("Cannot sort table by x",
  raised without a status);
- `?_where=` holding two statements (sqlite3's "You can only execute one statement").

Each becomes Datasette's own error page or JSON with status 400 (405 for the methods).
"""
from __future__ import annotations

import sqlite3

from datasette import hookimpl
from datasette.handle_exception import handle_exception as datasette_error_page
from datasette.views.base import DatasetteError

METHODS = {"GET", "HEAD", "OPTIONS"}


@hookimpl
def asgi_wrapper():
    def wrap(app):
        async def read_only(scope, receive, send):
            if scope["type"] == "http" and scope["method"] not in METHODS:
                await send({"type": "http.response.start", "status": 405,
                            "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                        (b"allow", ", ".join(sorted(METHODS)).encode())]})
                await send({"type": "http.response.body", "body": b"Method not allowed: this site is read-only"})
                return
            await app(scope, receive, send)

        return read_only

    return wrap


def bad_request(request, exception) -> str | None:
    """The message for an exception that a bad query string caused, else None."""
    args = request.args
    timelimit = args.get("_timelimit")
    if isinstance(exception, ValueError) and timelimit is not None and not timelimit.isdigit():
        return "_timelimit must be a whole number of milliseconds"
    if isinstance(exception, DatasetteError) and exception.status == 500 \
            and str(exception.message).startswith("Cannot sort table by"):
        return exception.message
    if isinstance(exception, (sqlite3.ProgrammingError, sqlite3.Warning)) and "_where" in args \
            and "one statement at a time" in str(exception):
        return "_where must be a single SQL expression"
    return None


@hookimpl
def handle_exception(datasette, request, exception):
    message = bad_request(request, exception)
    if message is None:
        return None
    return datasette_error_page(datasette, request, DatasetteError(message, status=400))
