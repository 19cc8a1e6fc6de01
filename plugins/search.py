"""The search page (the `search` canned query, templates/query.html): its rows grouped by
kind with counts and pages, and, when a search finds nothing, the names of groups and people
nearest to what was typed (a letter dropped, doubled or swapped beyond what fold()
forgives), for its "Did you mean" line.

Every name and alias of a group or person is folded once per server (fold.py, as the search
folds them); a search text is compared with them by rapidfuzz, in Python, never as an SQL
function (a fuzzy function open to visitors' SQL would run unbounded on long text). The
search text is at most fold.SEARCH_MAX_CHARS long, as the search itself allows.
"""
from __future__ import annotations

import weakref
from urllib.parse import urlencode

from datasette import hookimpl
from rapidfuzz import fuzz, process

import labels
from fold import fold, search_problem
from dataset import DB  # the database's name, written once
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


# ---------------------------------------------------------------- results grouped by kind

# The search's `type` of a row, as a section of the page, in the order of a record's kinds.
SECTIONS = {"group": "Groups", "person": "People", "alias": "Names in the sources",
            "event": "Events", "source": "Sources", "claim": "Claims (quotes from the sources)"}
FIRST = 5  # rows of each kind on the first page
PAGE = 50  # rows a page when one kind is chosen
SHOWN = ("label", "snippet", "matched")


def page_number(value) -> int:
    """?page= as a page number: anything but ASCII digits is page 1; a number past the last
    page (however long) is taken as the last."""
    value = str(value or "")
    if not (value.isascii() and value.isdigit()):
        return 1
    return max(1, int(value)) if len(value) <= 9 else 10**9


def grouped(rows, display_rows, columns, truncated: bool, args) -> dict:
    """The search's rows as the page shows them: one section per kind, in the order of each
    kind's best row, with its count and its first rows; with ?kind=, that kind alone, a page
    of PAGE rows at a time (?page=). Rows keep the query's rank order; the JSON and CSV keep
    every row, ungrouped."""
    by_kind: dict[str, list] = {}
    kind_at = columns.index("type")
    for raw, shown in zip(rows, display_rows):
        by_kind.setdefault(raw[kind_at], []).append(shown)
    cells = [columns.index(c) for c in SHOWN]
    chosen = args.get("kind") if args.get("kind") in by_kind else None
    q = args.get("q") or ""
    sections, pages = [], None
    for kind, found in by_kind.items():
        if chosen and kind != chosen:
            continue
        start, more = 0, None
        if chosen:
            last = (len(found) - 1) // PAGE + 1
            page = min(page_number(args.get("page")), last)
            start = (page - 1) * PAGE
            link = lambda n: "?" + urlencode({"q": q, "kind": kind, **({"page": n} if n > 1 else {})})
            pages = {"page": page, "last": last, "previous": link(page - 1) if page > 1 else None,
                     "next": link(page + 1) if page < last else None}
            shown = found[start:start + PAGE]
        else:
            shown = found[:FIRST]
            if len(found) > FIRST:
                more = "?" + urlencode({"q": q, "kind": kind})
        sections.append({"kind": kind, "title": SECTIONS.get(kind, kind), "count": len(found),
                         "start": start + 1, "more": more,
                         "rows": [{c: row[i] for c, i in zip(SHOWN, cells)} for row in shown]})
    return {"sections": sections, "kind": chosen, "pages": pages, "truncated": truncated,
            "all": "?" + urlencode({"q": q}),
            "counts": [(k, SECTIONS.get(k, k), len(v)) for k, v in by_kind.items()]}


@hookimpl
def prepare_jinja2_environment(env):
    env.globals["imu_search_grouped"] = grouped
