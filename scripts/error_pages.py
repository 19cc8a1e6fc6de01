"""The site's own error pages for the errors nginx answers itself (prod/nginx.conf).

    .venv/bin/python scripts/error_pages.py DB FOLDER

A request nginx refuses before Datasette sees it (a request line past 8 KB, a header too
large, no Host, too much SQL from one address) or that no replica could answer got
nginx's bare "400 Bad Request / nginx" page. serve_prod.py runs this once at start: each
status is rendered with the site's error template, as the site renders its own errors
(plugins/readonly.py), into FOLDER/STATUS.html, and as Datasette's error JSON into
FOLDER/STATUS.json for `.json` addresses.
"""
from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent

# status: (title, what happened and what to do), in the reader's words
ERRORS = {
    400: ("Bad request", "This request could not be read: it has no Host, a malformed line, "
          "or a header or cookie longer than the site reads (8 KB). Check the address, or try "
          "again from another browser."),
    404: ("Not found", "There is no page at this address. Start again from the home page."),
    405: ("Method not allowed", "This site is read-only: it answers GET and HEAD requests only (and "
          "OpenRefine's reconciliation queries, posted as a form to /imu/-/reconcile)."),
    413: ("Request too large", "This site is read-only and reads no request body, but for a "
          "reconciliation query's form of at most 64 KB."),
    414: ("Address too long", "This address is longer than the site reads (8 KB). Shorten the "
          "query, or download the database and run it on your own machine."),
    429: ("Too many requests", "This address has sent more SQL queries than the site answers "
          "for one visitor (5 a second), or opened too many connections at once. Wait a few "
          "seconds and try again, or download the database and run the queries on your own "
          "machine."),
    500: ("Server error", "The site failed to answer this request. Try again in a minute."),
    502: ("Server busy", "The site could not answer this request just now. Try again in a "
          "few seconds."),
    503: ("Server busy", "The site is busy. Try again in a few seconds."),
    504: ("Took too long", "The site took too long to answer this request. Pages answer in "
          "well under a second: a request this slow is usually a query that asks too much. "
          "Ask for less, or download the database and run it on your own machine."),
}


async def render(db: Path) -> dict[str, str]:
    from datasette.app import Datasette
    from datasette.utils.asgi import Request

    ds = Datasette(immutables=[str(db)], metadata=yaml.safe_load((ROOT / "metadata.yml").read_text()),
                   plugins_dir=str(ROOT / "plugins"), template_dir=str(ROOT / "templates"))
    await ds.invoke_startup()
    request = Request.fake("/")
    request.scope["csrftoken"] = lambda: ""  # no form on these pages
    pages = {}
    for status, (title, message) in ERRORS.items():
        info = {"ok": False, "error": message, "status": status, "title": title}
        pages[f"{status}.html"] = await ds.render_template(["error.html"], info, request=request)
        pages[f"{status}.json"] = json.dumps(info)
    return pages


def write(db: Path, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in asyncio.run(render(db)).items():
        (folder / name).write_text(text)


if __name__ == "__main__":
    write(Path(sys.argv[1]), Path(sys.argv[2]))
