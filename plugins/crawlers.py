"""What search engines may crawl: `/robots.txt` and a sitemap of the record pages.

Record pages, the home and about pages, table pages and canned queries without
parameters may be indexed. Anything with a query string (`?sql=`, facets, sorts, filters,
`_next` pages, a canned query's parameters), the JSON, GeoJSON, CSV and `.db` downloads may not:
their permutations are endless, and on a pay-per-request host a crawler indexing every
one runs up the bill (Datasette's publishing docs warn of exactly this).

`/sitemap.xml` is an index of `/sitemap-<table>-<n>.xml` files, 50,000 URLs each (the
sitemap protocol's limit), so 100,000 events and their claims fit.
"""
from __future__ import annotations

from xml.sax.saxutils import escape

from datasette import hookimpl
from datasette.utils import tilde_encode
from datasette.utils.asgi import NotFound, Response

import labels
from dataset import DB  # the database's name, written once
PER_FILE = 50_000
# Everything else is allowed; no Allow line, since the longest matching rule wins and an
# "Allow: /imu/" would outrank "Disallow: /*?".
ROBOTS = """User-agent: *
Disallow: /*?
Disallow: /*.json
Disallow: /*.csv
Disallow: /*.geojson
Disallow: /*.db
Disallow: /-/
Sitemap: {sitemap}
"""


# Links name the site as the request reached it (behind a proxy, its Host) through
# datasette.absolute_url: the scheme is the server's, since uvicorn takes X-Forwarded-Proto
# only from the proxy in front (127.0.0.1: serve-prod's nginx, which sets it itself) and the
# deploy, behind Fly's HTTPS, says https (force_https_urls); a visitor's own header is ignored.


async def robots(datasette, request):
    return Response.text(ROBOTS.format(sitemap=datasette.absolute_url(request, "/sitemap.xml")),
                         headers={"Cache-Control": "max-age=3600"})


def xml(body: str) -> Response:
    return Response(f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n',
                    content_type="application/xml; charset=utf-8",
                    headers={"Cache-Control": "max-age=3600"})


async def parts(datasette) -> dict[str, int]:
    """How many sitemap files each table's record pages take."""
    found = await datasette.get_database(DB).table_counts(limit=1000)
    return {t: ((found.get(t) or 0) + PER_FILE - 1) // PER_FILE for t in labels.LABELS}


async def sitemap_index(datasette, request):
    files = [datasette.absolute_url(request, "/sitemap-pages.xml")]
    for table, n in (await parts(datasette)).items():
        files += [datasette.absolute_url(request, f"/sitemap-{table}-{i}.xml") for i in range(n)]
    entries = "\n".join(f"  <sitemap><loc>{escape(f)}</loc></sitemap>" for f in files)
    return xml(f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{entries}\n</sitemapindex>')


def urlset(urls) -> Response:
    entries = "\n".join(f"  <url><loc>{escape(u)}</loc></url>" for u in urls)
    return xml(f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{entries}\n</urlset>')


async def sitemap_pages(datasette, request):
    """The home and about pages, every table, and the canned queries as they open."""
    paths = ["/", "/about"] + [f"/{DB}/{t}" for t in labels.LABELS]
    paths += [f"/{DB}/{name}" for name in (datasette.metadata("queries", database=DB) or {})]
    return urlset(datasette.absolute_url(request, p) for p in paths)


async def sitemap_table(datasette, request):
    table, part = request.url_vars["table"], int(request.url_vars["part"])
    if table not in labels.LABELS or part >= max(1, (await parts(datasette))[table]):
        raise NotFound("No such sitemap")
    db = datasette.get_database(DB)
    rows = await db.execute(f"select id from [{table}] order by rowid limit {PER_FILE} offset {part * PER_FILE}",
                            custom_time_limit=10_000)
    return urlset(datasette.absolute_url(request, f"/{DB}/{table}/{tilde_encode(str(r[0]))}") for r in rows)


@hookimpl
def register_routes():
    return [
        (r"^/robots\.txt$", robots),
        (r"^/sitemap\.xml$", sitemap_index),
        (r"^/sitemap-pages\.xml$", sitemap_pages),
        (r"^/sitemap-(?P<table>[a-z_]+)-(?P<part>[0-9]{1,6})\.xml$", sitemap_table),
    ]

