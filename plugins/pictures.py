"""The two pictures: the network of groups over time and the chart of events per year.

Each is a canned query's own page (metadata.yml `network`, `events_per_year`), with a
template that adds the picture above the query's table (templates/query-imu-network.html,
query-imu-events_per_year.html). Why a canned query and not a route of its own:
- the data the picture draws is the query's JSON, which anyone can call, and the table
  under it is the page without JavaScript, from the same SQL;
- the page sits under the database's URL, so content-hashed URLs (plugins/hashed.py),
  the read-only surface, the parameter labels and problems (plugins/queries.py) and the
  links from every group's page (records.see_also) all apply as to any canned query;
- the scripts read the data's URL from the page (`data-*` attributes written with
  `urls.database`), never a hard-coded /imu/.

Here: the relation styles (one colour and arrow per schema.RELATIONS type; the legend and
the script read them from the page), the years the year control spans, the group the
network centres on, and the scripts each page loads. The site serves them itself
(plugins/pages.py, site_file): cytoscape, Observable Plot and d3 from npm, pinned in
plugins/vendor/ (scripts/vendor.py), and our two.
"""
from __future__ import annotations

from datasette import hookimpl
from datasette.utils import tilde_decode

import labels
from schema import RELATIONS
from dataset import DB  # the database's name, written once
PICTURES = ("network", "events_per_year")

# (colour, cytoscape arrow shape) per relation: colours from Tableau 10, arrows differ too,
# so no two types look alike even to a reader who cannot tell the colours apart.
RELATION_STYLES = {
    "ally": ("#59a14f", "triangle"),
    "cooperated-with": ("#76b7b2", "circle"),
    "affiliate": ("#4e79a7", "diamond"),
    "pledged-allegiance-to": ("#b07aa1", "triangle-tee"),
    "part-of": ("#9c755f", "square"),
    "hosted-by": ("#f28e2b", "vee"),
    "splinter-of": ("#ff9da7", "triangle-backcurve"),
    "renamed-to": ("#79706e", "chevron"),
    "rival": ("#edc948", "tee"),
    "fought-against": ("#e15759", "triangle-cross"),
}
assert set(RELATION_STYLES) == set(RELATIONS), "every relation type needs a style"
# colour, arrow and the relation in words (as every other page says it), for the legend and lines
LEGEND = {r: (*style, labels.code_words("relation", r)) for r, style in RELATION_STYLES.items()}

GROUPS_NAMED = labels.names_sql("groups", "group_id", "group")  # as the queries' `target`

# The year of the least or greatest ISO date, not the least year of every date: SQLite then
# reads one entry of the dates' indexes instead of every row (35 ms to 1 at 100,000 events).
YEARS = """
select min(y), max(y) from (
  select substr(min(date_start), 1, 4) as y from events union all select substr(max(date_end), 1, 4) from events
  union all select substr(min(date_start), 1, 4) from group_relations
  union all select substr(max(date_end), 1, 4) from group_relations
  union all select substr(max(published), 1, 4) from sources where document is not null)"""


@hookimpl
def extra_template_vars(view_name, table, database, request, datasette):
    """For the two picture pages only (a canned query is served by TableView, table None)."""
    if view_name != "table" or table is not None or database != DB or request is None:
        return {}
    name = tilde_decode(request.url_vars.get("table") or "")
    if name not in PICTURES:
        return {}

    async def inner():
        db = datasette.get_database(DB)
        first, last = (await db.execute(YEARS)).first()
        group = request.args.get("group") or ""
        focus = [r[0] for r in await db.execute(GROUPS_NAMED, {"group": group})] if group.strip(" ") else []
        return {"imu_pictures": {
            "data": f"{datasette.urls.database(DB)}/{name}.json",
            "claims": f"{datasette.urls.database(DB)}/relation_claims.json",
            "first_year": int(first or 1990), "last_year": int(last or 2015),
            "focus": focus, "relations": LEGEND,
            "scripts": ["cytoscape.min.js", "network.js"] if name == "network"
            else ["d3.min.js", "plot.umd.min.js", "chart.js"],
        }}

    return inner
