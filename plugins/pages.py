"""The pages a reader starts from, and what every page shares.

- `/`: the home page (templates/home.html): what the dataset is, a search box, the ways
  in, the tables in reading order with their counts, the licence and how to cite.
- `/about`: the codebook (every table and column), how to read a row, the sources with
  their publishers, how to cite (templates/about.html).
- What the database says about itself, read once at start-up: its dataset_info (title,
  version, records' date, licence, citation) and its codebook (dataset.py writes both).
  `get_metadata` gives Datasette the title, the licence and every table's and column's
  description from there, so the site describes the very file it serves and metadata.yml
  keeps only what is Datasette's own.
- `imu_site` on every page, error pages too, for the footer (templates/_footer.html):
  licence, citation, the dataset's version and date.
- `/-/static-plugins/imu/<file>`: the site's own files (FILES): the stylesheet, and the
  scripts of the network and chart pages with the libraries they use.
- Table pages: `imu_shown` leaves the machinery columns (labels.MACHINERY) out of the
  HTML table, and shows a membership's or relation's time_order as its date in words, in
  date_start's place. Every cell the site renders specially goes through the one `render_cell`.
- The JSON API gets `popup` as a JSON object (`asgi_wrapper`).
"""
from __future__ import annotations

import functools
import json
import re
import weakref
from pathlib import Path
from urllib.parse import parse_qsl

import markupsafe
from datasette import hookimpl
from datasette.utils.asgi import AsgiFileDownload, NotFound, Response

import dataset
import labels
from dataset import DB  # the database's name, written once
import spans
from dates import row_phrase
from schema import CLAIM, RECORDS

HERE = Path(__file__).resolve().parent
# The site's own files, beside the plugins so that a deploy carries them: the stylesheet,
# the pictures' scripts and the libraries they draw with (plugins/vendor/, from npm).
FILES = {p.name: p for p in [HERE / "site.css", *HERE.glob("*.js"), *(HERE / "vendor").glob("*.js")]}
FILE_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
SITE = f"/{DB}/"
# The order a reader meets the tables in: who and what first, the evidence, then the links.
TABLE_ORDER = ["people", "groups", "events", "claims", "sources", "documents", "passages_left_out", "dispute_topics",
               "memberships", "group_relations", "event_groups", "event_people", "aliases",
               "codebook", "dataset_info"]
VIEWS = ["disputes", *(view for view, _ in spans.SPAN_TABLES.values())]
# Columns that link a row to one of several tables; a table page shows the one that is set.
POLYMORPHIC = {table: set(RECORDS[table].parent_column.values())
               for table in ("claims", "aliases")}
POLYMORPHIC_TITLE = {"claims": "supports", "aliases": "name of"}
# Cells no table page shows (`shown` drops them): not worth rendering.
NEVER_SHOWN = (labels.MACHINERY | labels.DATE_PARTS) - set().union(*POLYMORPHIC.values())
CUT = 160  # characters of long text a table cell shows; the record page shows it whole


# The metadata keys get_metadata's answer can hold (at the top, a database's or a table's
# level); Datasette asks for others, `allow` most, hundreds of times a page.
ABOUT_KEYS = frozenset({None, "databases", "title", "license", "license_url", "description", "columns"})
# What each server's database says about itself: {"info": dataset_info, "tables": the codebook}.
ABOUT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


async def read_about(datasette) -> dict:
    """dataset_info as {key: value} and the codebook as {table: {description, columns}};
    empty for a database without them."""
    info, tables = {}, {}
    if DB in datasette.databases:
        db = datasette.get_database(DB)
        names = set(await db.table_names())
        if "dataset_info" in names:
            info = await db.execute_fn(dataset.read_info)
        if "codebook" in names:
            tables = await db.execute_fn(dataset.read_codebook)
    return {"info": info, "tables": tables}


@hookimpl
def get_metadata(datasette, key, database, table):
    """The title, the licence and every table's and column's description, from the database
    served. Datasette asks many times a page and merges each answer into its own
    dictionaries (metadata.yml's win), so each answer is made of new ones."""
    about = ABOUT.get(datasette)
    if not about or key not in ABOUT_KEYS:
        return {}
    meta = {k: about["info"][k] for k in ("title", "license", "license_url") if k in about["info"]}
    meta["databases"] = {DB: {"tables": {
        t: {"description": d["description"], "columns": dict(d["columns"])} for t, d in about["tables"].items()}}}
    return meta


def site(datasette, info: dict) -> dict:
    meta = datasette.metadata() or {}
    config = datasette.plugin_config("imu") or {}
    zip_file = release_file(datasette, info.get("version"))
    documents = info.get("documents", "public documents")
    return {
        "title": info.get("title"), "license": info.get("license"), "license_url": info.get("license_url"),
        "source": meta.get("source"), "source_url": meta.get("source_url"),
        "citation": info.get("citation", ""), "documents": documents,
        # metadata.yml's summary names what the records are curated from as {documents}
        "summary": config.get("summary", "").replace("{documents}", documents),
        "version": info.get("version"), "date": info.get("records_date"),
        "release": f"/{zip_file.name}" if zip_file else None,
        "release_mb": round(zip_file.stat().st_size / 1e6, 1) if zip_file else None,
    }


def release_file(datasette, version: str | None) -> Path | None:
    """The release of the database served (scripts/release.py, `make build`): the zip in dist/
    beside it, named by its version, if it is there."""
    db = datasette.databases.get(DB)
    if not version or db is None or not db.path:
        return None
    path = Path(db.path).parent / "dist" / f"imu-dataset-{version}.zip"
    return path if path.is_file() else None


async def release_zip(datasette, request):
    """The release package, for researchers: only the one of the database served."""
    version = (ABOUT.get(datasette) or {}).get("info", {}).get("version")
    path = release_file(datasette, version)
    if path is None or request.url_vars["version"] != version:
        raise NotFound("No such release here")
    return AsgiFileDownload(path, filename=path.name, content_type="application/zip",
                            headers={"Cache-Control": f"max-age={datasette.setting('default_cache_ttl')}"})


@hookimpl
def prepare_jinja2_environment(env, datasette):
    """Globals, not template variables: Datasette renders its error pages without hooks.
    Read before any page is served (Datasette awaits this before its startup hooks)."""
    async def inner():
        ABOUT[datasette] = about = await read_about(datasette)
        env.globals.update(imu_site=site(datasette, about["info"]), imu_shown=shown,
                           imu_label_column=labels.label_column, imu_code_words=labels.code_words,
                           imu_url=lambda request, path: datasette.absolute_url(request, path) if request else path)
    return inner


@hookimpl
def extra_css_urls():
    return ["/-/static-plugins/imu/site.css"]


@hookimpl
def extra_js_urls():
    return [{"url": "/-/static-plugins/imu/a11y.js", "module": True}]  # a module runs once the page is read


# ---------------------------------------------------------------- table pages

def shown(table, display_columns, display_rows):
    """(columns, rows) of a table page without its machinery: the API keeps every column.
    A table whose rows link to one of several tables shows the link that is set, once.
    A span's date is its time_order, said in words and sorted by, in date_start's place."""
    if table not in labels.LABELS:
        return display_columns, display_rows
    poly = POLYMORPHIC.get(table, set())
    hide = labels.MACHINERY | labels.DATE_PARTS | poly
    date = "time_order" if table in spans.SPAN_TABLES else "date_start"
    names = [c["name"] for c in display_columns]
    moved = date != "date_start" and {date, "date_start"} <= set(names)  # the date takes date_start's place
    order = []  # each shown column's place among Datasette's
    for i, n in enumerate(names):
        if n in hide or (moved and n == date):
            continue
        order.append(names.index(date) if moved and n == "date_start" else i)
    columns = [dict(display_columns[i], title="date" if names[i] == date else names[i]) for i in order]
    rows = []
    for row in display_rows:
        cells = list(row)
        cells = [cells[i] for i in order]
        if poly:
            chosen = next((c for c in row if c["column"] in poly and c["raw"] not in (None, "")), None)
            cells.append(chosen or {"column": "none", "value": "", "raw": None, "value_type": "none"})
        rows.append(cells)
    if poly:
        columns.append({"name": POLYMORPHIC_TITLE[table], "title": POLYMORPHIC_TITLE[table],
                        "sortable": False, "is_pk": False, "type": "text", "notnull": 0,
                        "description": "The record this row is about."})
    return columns, rows


def prefetch_labels() -> None:
    """A table page's links in words, read before its cells are rendered: one query per
    table its foreign keys point to. render_cell (below) asked for each cell's label on
    its own: a first page of event_groups made 47 trips through the SQL threads, one after
    another, and under 200 readers, each queued behind their queries, it ran past nginx's
    15 s. Datasette's module function is wrapped, once per process."""
    import datasette.views.table as module

    if getattr(module.display_columns_and_rows, "imu_labels", False):
        return
    original = module.display_columns_and_rows

    async def display_columns_and_rows(datasette, database_name, table_name, description, rows, *args, **kwargs):
        if database_name == DB and rows:
            db = datasette.get_database(DB)
            columns = {d[0] for d in description}
            for column, other in (await labels.keys(db)).outgoing.get(table_name, {}).items():
                if other in labels.LABELS and column in columns:
                    values = [row[column] for row in rows]  # expanded by Datasette: {"value", "label"}
                    await labels.labels_for(db, other, [v["value"] if isinstance(v, dict) else v for v in values])
        return await original(datasette, database_name, table_name, description, rows, *args, **kwargs)

    display_columns_and_rows.imu_labels = True
    module.display_columns_and_rows = display_columns_and_rows


prefetch_labels()


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    """Every cell the site renders specially, in one hook (Datasette calls each plugin's
    hook for each of up to 9,000 cells of the map page; one call costs less than three).

    Table pages: a foreign key is a link labelled with its record's name (labels.py), a
    row's name links to its page, dates are in words and long text is cut.
    Canned queries: the row's label links to the record `link` leads to, a search
    `snippet` keeps its <mark> highlights, and paths in `*_link` columns become links."""
    if database != DB:
        return None
    if table is None:
        return query_cell(row, value, column)
    if column == "time_order" and table in spans.SPAN_TABLES:  # said even when it has no date
        escape = markupsafe.escape
        return markupsafe.Markup(f'<span title="{escape(value or "")}">{escape(spans.row_phrase(row))}</span>')
    if value is None or value == "" or table not in labels.LABELS or column in NEVER_SHOWN:
        return None
    if isinstance(value, dict):  # a foreign key Datasette has expanded
        value = value["value"]
    db = datasette.get_database(DB)
    known = labels.keys_read(db)
    other = known.outgoing.get(table, {}).get(column) if known else None
    if other in labels.LABELS:
        async def fk_link():
            return labels.link(other, value, (await labels.labels_for(db, other, [value])).get(str(value)))
        return fk_link()
    if column == "date_start":
        end = row["date_end"] if "date_end" in row.keys() else None
        escape = markupsafe.escape
        return markupsafe.Markup(f'<span title="{escape(value)} to {escape(end or "")}">{escape(row_phrase(row))}</span>')
    words = labels.code_words(column, value)
    if words:  # a code in words, the code itself on hover; the API keeps the code
        return coded(words, value)
    text = value
    if isinstance(value, str) and len(value) > CUT and column != "id":
        text = value[:CUT].rsplit(" ", 1)[0] + "…"
    if column == table_label_column(datasette, table):
        return labels.link(table, row["id"], text)  # a row's name links to its page, as its id does
    return text if text is not value else None


_label_columns: dict[tuple[int, str], str | None] = {}


def table_label_column(datasette, table: str) -> str | None:
    """metadata.yml's label_column of a table (read once: Datasette's look-up costs 20 us
    and a table page asks for every cell)."""
    key = (id(datasette), table)
    if key not in _label_columns:
        _label_columns[key] = datasette.table_metadata(DB, table).get("label_column")
    return _label_columns[key]


def coded(words: str, code: str) -> markupsafe.Markup:
    escape = markupsafe.escape
    return markupsafe.Markup(f'<span class="imu-code" title="{escape(code)}">{escape(words)}</span>')


def query_cell(row, value, column):
    if isinstance(value, (int, float)):
        return value  # as Datasette would show it, without its look for a URL in str(value)
    if not isinstance(value, str) or value == "":
        return None
    words = labels.code_words(column, value)
    if column == "snippet":
        # Escape everything, then let the highlight markers alone back through.
        escaped = str(markupsafe.escape(value))
        return markupsafe.Markup(escaped.replace("&lt;mark&gt;", "<mark>").replace("&lt;/mark&gt;", "</mark>"))
    if column in labels.LABEL_COLUMNS:
        if column == labels.label_column(row.keys()) and str(row["link"]).startswith(SITE):
            return anchor(row["link"], words or value)
        return coded(words, value) if words else None
    if column == "link" or column.endswith("_link"):
        if value.startswith(SITE) and not (column == "link" and labels.label_column(row.keys())):
            return anchor(value, value)
    return coded(words, value) if words else None


def anchor(href: str, text: str) -> markupsafe.Markup:
    """<a href="href">text</a>, both escaped: an f-string, since Markup.format costs
    ten times as much and the map page makes a thousand of these."""
    escape = markupsafe.escape
    return markupsafe.Markup(f'<a href="{escape(href)}">{escape(text)}</a>')


@hookimpl
def startup(datasette):
    """Read the foreign keys before the first request: render_cell must know at once
    whether a cell is one (it may only return a coroutine Datasette will await)."""
    async def inner():
        if DB in datasette.databases:
            await labels.keys(datasette.get_database(DB))
    return inner


# ---------------------------------------------------------------- home and about

async def table_counts(datasette) -> dict[str, int]:
    db = datasette.get_database(DB)
    return await db.table_counts(limit=1000)


# What the records cover, for the home page's schema.org description: read once per server.
COVERAGE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
COVERAGE_SQL = {
    # The two ends of the date indexes, not every event (plugins/pictures.py reads them so too).
    "years": "select substr(min(date_start), 1, 4), substr(max(date_end), 1, 4) from events",
    "countries": "select distinct country from events where country is not null order by country",
    "documents": "select title, url, published from sources where document is not null order by published, id",
}


async def coverage(datasette) -> dict:
    if datasette not in COVERAGE:
        db = datasette.get_database(DB)
        COVERAGE[datasette] = {k: [tuple(r) for r in await db.execute(sql)] for k, sql in COVERAGE_SQL.items()}
    return COVERAGE[datasette]


async def json_ld(datasette, request) -> markupsafe.Markup:
    """schema.org's Dataset for search engines' dataset search: what, which version, how far
    in time and space, under what licence, from which documents, and where to download it."""
    info, found = ABOUT.get(datasette, {}).get("info", {}), await coverage(datasette)
    (first, last), = found["years"] or [(None, None)]
    absolute = functools.partial(datasette.absolute_url, request)
    data = {
        "@context": "https://schema.org", "@type": "Dataset",
        "name": info.get("title"), "description": site(datasette, info)["summary"],
        "url": absolute("/"), "version": info.get("version"), "dateModified": info.get("records_date"),
        "license": info.get("license_url"), "citation": info.get("citation"),
        "temporalCoverage": f"{first}/{last}" if first and last else None,
        "spatialCoverage": [{"@type": "Place", "name": labels.code_words("country", code) or code} for (code,) in found["countries"]],
        "isBasedOn": [{"@type": "CreativeWork", "name": title, **({"url": url} if url else {}),
                       **({"datePublished": published} if published else {})}
                      for title, url, published in found["documents"]],
        "distribution": [
            {"@type": "DataDownload", "encodingFormat": "application/vnd.sqlite3", "contentUrl": absolute(f"/{DB}.db")},
            {"@type": "DataDownload", "encodingFormat": "application/geo+json",
             "contentUrl": absolute(f"/{DB}/events.geojson")},
        ],
    }
    text = json.dumps({k: v for k, v in data.items() if v not in (None, [], "")}, ensure_ascii=False, indent=1)
    return markupsafe.Markup(text.replace("</", "<\\/"))  # nothing in it may close the script


async def home(datasette, request):
    counts = await table_counts(datasette)
    meta = datasette.metadata(database=DB) or {}
    tables = [{"name": t, "count": counts.get(t),
               "description": datasette.table_metadata(DB, t).get("description", "")}
              for t in TABLE_ORDER]
    queries = [{"name": n, "title": q.get("title") or n}
               for n, q in (datasette.metadata("queries", database=DB) or {}).items()]
    return cached(datasette, Response.html(await datasette.render_template(
        "home.html", {"tables": tables, "queries": queries, "database_description": meta.get("description"),
                      "json_ld": await json_ld(datasette, request)},
        request=request, view_name="imu-home")))


def cached(datasette, response: Response) -> Response:
    """The home and about pages depend only on the database, as Datasette's own pages do:
    they may be kept as long (default_cache_ttl), by a proxy too."""
    response.headers["Cache-Control"] = f"max-age={datasette.setting('default_cache_ttl')}"
    return response


async def about(datasette, request):
    counts = await table_counts(datasette)
    db = datasette.get_database(DB)
    tables = []
    for t in TABLE_ORDER + VIEWS:
        meta = datasette.table_metadata(DB, t)
        tables.append({"name": t, "count": counts.get(t), "description": meta.get("description", ""),
                       "columns": (meta.get("columns") or {}).items(),
                       "kind": "view" if t in VIEWS else "table"})
    # each document's quoted sentences (sentences.py), where the database has them
    coverage, join = ((f", {labels.LABELS['documents'].format(t='d')} as coverage",
                       "left join documents d on d.source_id = s.id")
                      if "documents" in await db.table_names() else ("", ""))
    documents = [dict(r) for r in await db.execute(
        f"select s.id, {labels.SOURCE_LABEL_SQL.format(t='s')} as label, author, publisher, "
        f"published_text, url, kind, s.document{coverage} from sources s {join} "
        "where s.document is not null order by published is null, published, s.id")]
    cited = (await db.execute("select count(*) from sources where document is null")).first()[0]
    queries = [{"name": n, "title": q.get("title") or n, "params": q.get("params") or [],
                "description_html": markupsafe.Markup(q.get("description_html") or "")}
               for n, q in (datasette.metadata("queries", database=DB) or {}).items()]
    return cached(datasette, Response.html(await datasette.render_template(
        "about.html", {"tables": tables, "documents": documents, "cited_count": cited, "queries": queries,
                       "certainties": CLAIM.field("certainty").choices},
        request=request, view_name="imu-about")))


@functools.cache
def file_bytes(name: str) -> bytes:
    return FILES[name].read_bytes()  # read once: the scripts run to 435 KB


async def site_file(request):
    name = request.url_vars["name"]
    if name not in FILES:
        raise NotFound("No such file")
    return Response(file_bytes(name), content_type=FILE_TYPES[FILES[name].suffix],
                    headers={"Cache-Control": "max-age=3600"})


@hookimpl
def register_routes():
    return [(r"^/$", home), (r"^/about$", about),
            (r"^/-/static-plugins/imu/(?P<name>[a-z0-9_.-]+\.(?:css|js))$", site_file),
            (r"^/imu-dataset-(?P<version>[0-9]{1,4}\.[0-9]{1,4}\.[0-9]{1,4})\.zip$", release_zip)]


# ---------------------------------------------------------------- the API's popup

JSON_PATH = re.compile(r"^/imu(-[0-9a-f]+)?(/[^/]+)?(/[^/]+)?\.json$")  # hashed or not


def popup_as_json(scope) -> dict:
    """A JSON request gets `popup` as a JSON object, not a string holding JSON: Datasette's
    own `_json=popup` parameter, added unless the request names its own `_json` columns."""
    if scope.get("type") != "http" or not JSON_PATH.match(scope.get("path", "")):
        return scope
    query = scope.get("query_string", b"")
    if any(k == "_json" for k, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True)):
        return scope
    return dict(scope, query_string=(query + b"&" if query else b"") + b"_json=popup")


@hookimpl
def asgi_wrapper():
    def wrap(app):
        async def add_json(scope, receive, send):
            await app(popup_as_json(scope), receive, send)
        return add_json
    return wrap
