"""Suggestions when a search finds nothing: the names of groups and people nearest to what
was typed (a letter dropped, doubled or swapped beyond what fold() forgives), for the
search page's "Did you mean" line (templates/query.html).

Every name and alias of a group or person is folded once per server (fold.py, as the search
folds them); a search text is compared with them by rapidfuzz, in Python, never as an SQL
function (a fuzzy function open to visitors' SQL would run unbounded on long text). The
search text is at most fold.SEARCH_MAX_CHARS long, as the search itself allows.
"""
from __future__ import annotations

import weakref

from datasette import hookimpl
from rapidfuzz import fuzz, process

import labels
from fold import fold, search_problem

DB = "imu"
LIMIT = 5
CUTOFF = 75  # rapidfuzz's ratio, 0-100: "Yuldasev" and "Yoldashev" fold to 83
NAMES_SQL = """
select fold(name) as folded, name, 'groups' as tbl, id from groups
union all select fold(name), name, 'people', id from people
union all select fold(a.alias), coalesce(g.name, p.name), case when a.group_id is null then 'people' else 'groups' end,
  coalesce(a.group_id, a.person_id)
from aliases a left join groups g on g.id = a.group_id left join people p on p.id = a.person_id
"""
NAMES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


async def names(datasette) -> list[tuple[str, str, str]]:
    """(folded spelling, the record's name, its page) of every group and person, by every spelling."""
    if datasette not in NAMES:
        db = datasette.get_database(DB)
        NAMES[datasette] = [(r["folded"], r["name"], labels.record_url(r["tbl"], r["id"]))
                            for r in await db.execute(NAMES_SQL) if r["folded"]]
    return NAMES[datasette]


async def nearest(datasette, text: str) -> list[tuple[str, str]]:
    """(name, page) of the records whose spellings come nearest the text, best first, each once."""
    if not text or not text.strip() or search_problem(text) or DB not in datasette.databases:
        return []
    found = await names(datasette)
    wanted = fold(text)
    if not wanted:
        return []
    out: dict[str, str] = {}
    for _, _, i in process.extract(wanted, [f for f, _, _ in found], scorer=fuzz.ratio,
                                   score_cutoff=CUTOFF, limit=LIMIT * 4):
        _, name, link = found[i]
        out.setdefault(link, name)
        if len(out) == LIMIT:
            break
    return [(name, link) for link, name in out.items()]


@hookimpl
def extra_template_vars(view_name, request, datasette, table):
    """On the search query's page, what to suggest if it finds nothing (asked by the template)."""
    if request is None or view_name != "table" or table is not None:
        return {}
    if request.url_vars.get("table") != "search":
        return {}

    async def inner():
        return {"imu_suggest": lambda: nearest(datasette, request.args.get("q") or "")}

    return inner
