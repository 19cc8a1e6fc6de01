"""Canned-query pages: what is wrong with the parameters, and their human labels.

A canned query given a group, person or source that matches nothing returns no rows,
and one given a malformed year (`from=abc`) returns none either (its SQL checks the
year). On the page, `imu_query_problems` says why, in plain text:
"No group matches 'xyz'.", "'abc' is not a year: give from as a year such as 2009.".
`imu_param_labels` names the parameter fields ("Group (id or any name)"), and `imu_lede`
splits the query's description into its first sentence, which the page shows above the
question, and the rest, folded below the answer. templates/query.html renders all three. The JSON and CSV stay as they are: no rows.

Names are resolved as the canned queries resolve them (metadata.yml's `target` CTEs):
by id, name or alias, as written or by fold() (tests/test_query_problems.py checks that
MATCHES gives the same records as each query's own CTE).
"""
from __future__ import annotations

import re

import markupsafe
from datasette import hookimpl
from datasette.utils import tilde_decode

import labels

PARAM_LABELS = {
    "group": "Group (id or any name)",
    "person": "Person (id or any spelling)",
    "source": "Source id",
    "from": "From year",
    "to": "To year",
    "year": "Year (blank: all years)",
    "country": "Country (two-letter code: UZ, TJ, KG, AF, PK...)",
    "relation": "Relation id",
    "type": "Type of event (blank: any)",
    "q": "Search for",
}

# The records a parameter names, in the canned queries' own SQL (labels.names_sql: the
# `target` CTE of events_map and person; claims_by_source's `s.id = trim(:source)`).
MATCHES = {
    "group": labels.names_sql("groups", "group_id", "group"),
    "person": labels.names_sql("people", "person_id", "person"),
    "source": "select id from sources where id = trim(:source)",
    "relation": "select id from group_relations where id = trim(:relation)",
    "country": "select country from events where country = upper(trim(:country))",
}
NOUNS = {"group": "group", "person": "person", "source": "source", "relation": "relation",
         "country": "event's country (a two-letter code such as UZ)"}
YEARS = ("from", "to", "year")
YEAR = re.compile(r"[0-9]{1,4}", re.ASCII)  # as the SQL's glob and length checks
SHOWN = 60  # characters of a value quoted back


def sql_trim(value) -> str:
    """SQLite's trim(): spaces only, as the canned queries trim."""
    return str(value or "").strip(" ")


def quoted(value: str) -> str:
    value = " ".join(value.split())
    return f"'{value[:SHOWN]}…'" if len(value) > SHOWN else f"'{value}'"


SENTENCE_END = re.compile(r"(?<=[a-z0-9)][.!?])\s+(?=[A-Z<])")


def lede(description_html: str) -> tuple[markupsafe.Markup, markupsafe.Markup]:
    """(first sentence, the rest) of a canned query's description (metadata.yml, trusted
    HTML): a reader page says in one line what it answers and folds the rest away."""
    text = str(description_html or "").strip()
    first, _, rest = text.partition("</p>")
    first = first.removeprefix("<p>")
    one, *more = SENTENCE_END.split(first, maxsplit=1)
    rest = (f"<p>{more[0]}</p>" if more else "") + rest
    return markupsafe.Markup(one), markupsafe.Markup(rest.strip())


def query_problems(db, query_name: str, params: dict) -> list[str]:
    """What is wrong with a canned query's parameters, in plain text; [] when nothing is.

    `db` is an sqlite3 connection to imu.db with the site's SQL functions (fold);
    `params` the query's parameters as given (missing or blank ones are not problems:
    each query says what blank means). `query_name` is the canned query's name.
    """
    problems = []
    for name, sql in MATCHES.items():
        value = sql_trim(params.get(name))
        if name not in params or not value:
            continue
        if db.execute(f"select exists({sql})", {name: params[name]}).fetchone()[0] == 0:
            problems.append(f"No {NOUNS[name]} matches {quoted(value)}.")
    for name in YEARS:
        value = sql_trim(params.get(name))
        if name in params and value and not YEAR.fullmatch(value):
            problems.append(f"{quoted(value)} is not a year: give {name} as a year such as 2009.")
    return problems


@hookimpl
def extra_template_vars(view_name, table, database, request, datasette):
    # Datasette 0.65.5 serves /db/name through TableView (view_name "table"), which hands a
    # canned query to QueryView: its context has no `table`.
    if view_name != "table" or table is not None or request is None or not database:
        return {}
    name = request.url_vars.get("table")
    if not name:
        return {}

    async def inner():
        query_name = tilde_decode(name)
        canned = await datasette.get_canned_query(database, query_name, request.actor)
        if not canned:
            return {}
        params = {p: request.args.get(p) or "" for p in canned.get("params") or []}
        problems = []
        if any(v.strip(" ") for v in params.values()):  # blank parameters are never a problem
            db = datasette.get_database(database)
            problems = await db.execute_fn(lambda conn: query_problems(conn, query_name, params))
        description = canned.get("description_html") or markupsafe.escape(canned.get("description") or "")
        return {"imu_query_problems": problems, "imu_param_labels": PARAM_LABELS, "imu_lede": lede(description)}

    return inner
