"""An OpenRefine reconciliation service over groups and people: `/imu/-/reconcile`.

It speaks the W3C Reconciliation Service API (versions 0.1 and 0.2): a GET with no
`queries` gives the service manifest; `queries` (a JSON object of queries, each with
`query`, and optionally `type` and `limit`) gives each query's candidates, best first.
OpenRefine sends its queries as a form POST, so this one address also takes a POST, of a
form only and of at most MAX_BODY bytes; it reads, never writes, like every other page.

Every spelling the dataset knows counts: each record's name and every alias. A candidate's
score, 0-100, says how its best spelling matches:
- 100: the query is that spelling, ignoring case;
- 95: the two are the same after search's forgiving fold (fold.py: Yuldashev, Yo'ldashev
  and Юлдашев alike), when the fold has more than three letters, as search requires;
- otherwise rapidfuzz's ratio of the two, as written or as folded, whichever is higher,
  times 0.9 (so under 90); below MIN_SCORE it is no candidate.
A candidate is a `match` (OpenRefine matches it without asking) when it scores 95 or more
and no other candidate does.

Why not datasette-reconcile (0.6.3): it reconciles one table by one name column, so it
cannot match aliases, which live in their own table, nor groups and people in one list;
it finds candidates by full-text MATCH or LIKE, so "Tahir Yuldashev" never finds
"Tohir Yoldashev"; and it takes any POST to any table's address.
"""
from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qs

from datasette import hookimpl
from datasette.utils.asgi import Response
from rapidfuzz import fuzz, process

from dataset import DB, RECONCILE  # the database's name and this service's address
from fold import FOLDED_MIN_CHARS, fold, search_problem

MAX_BODY = 64 * 1024  # OpenRefine sends 10 queries a batch: a few KB
MAX_QUERIES = 50
MAX_LIMIT = 25
DEFAULT_LIMIT = 5
MIN_SCORE = 60
TYPES = {"group": ("groups", "Group"), "person": ("people", "Person")}
FORM = "application/x-www-form-urlencoded"

SPELLINGS_SQL = """
select 'group' as type, id, name, description, name as spelling from groups
union all
select 'person', id, name, description, name from people
union all
select case when a.group_id is not null then 'group' else 'person' end, coalesce(a.group_id, a.person_id),
  coalesce(g.name, p.name), coalesce(g.description, p.description), a.alias
from aliases a left join groups g on g.id = a.group_id left join people p on p.id = a.person_id
"""

_cache: dict[str, "Spellings"] = {}


class Problem(Exception):
    """A request the service cannot answer: (status, message)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Spellings:
    """Every spelling of every group and person, written and folded, read once per database."""

    def __init__(self, rows):
        self.records = {}  # (type, id) -> (name, description)
        self.spellings = []  # (type, id, spelling)
        for type_, record_id, name, description, spelling in rows:
            self.records[(type_, record_id)] = (name, description)
            self.spellings.append((type_, record_id, spelling))
        self.lower = [s.casefold().strip() for _, _, s in self.spellings]
        self.folded = [fold(s) for _, _, s in self.spellings]

    def candidates(self, text: str, types: set[str], limit: int) -> list[dict]:
        lower, folded = text.casefold().strip(), fold(text)
        best: dict[tuple[str, str], tuple[float, str]] = {}
        hits = process.extract(lower, self.lower, scorer=fuzz.ratio, limit=None, score_cutoff=MIN_SCORE / 0.9)
        hits += process.extract(folded, self.folded, scorer=fuzz.ratio, limit=None,
                                score_cutoff=MIN_SCORE / 0.9) if folded else []
        for _, ratio, i in hits:
            type_, record_id, spelling = self.spellings[i]
            if type_ not in types:
                continue
            if self.lower[i] == lower:
                score = 100.0
            elif len(folded) > FOLDED_MIN_CHARS and self.folded[i] == folded:
                score = 95.0
            else:
                score = round(ratio * 0.9, 1)
            key = (type_, record_id)
            if score > best.get(key, (-1, ""))[0]:
                best[key] = (score, spelling)
        ranked = sorted(best.items(), key=lambda kv: (-kv[1][0], kv[0]))[:limit]
        sure = [key for key, (score, _) in best.items() if score >= 95]
        out = []
        for (type_, record_id), (score, spelling) in ranked:
            name, description = self.records[(type_, record_id)]
            table, label = TYPES[type_]
            out.append({
                "id": f"{table}/{record_id}", "name": name, "score": score,
                "match": len(sure) == 1 and sure[0] == (type_, record_id),
                "type": [{"id": type_, "name": label}],
                "description": (f"matched “{spelling}”. " if spelling != name else "") + (description or "")[:300],
            })
        return out


async def spellings(datasette) -> Spellings:
    db = datasette.get_database(DB)
    key = db.hash or str(id(db))
    if key not in _cache:
        rows = [tuple(r) for r in await db.execute(SPELLINGS_SQL)]
        _cache.clear()
        _cache[key] = await asyncio.to_thread(Spellings, rows)
    return _cache[key]


def parse_queries(raw: str) -> dict[str, tuple[str, set[str], int]]:
    """{query id: (text, types, limit)} from the `queries` parameter, or Problem."""
    try:
        queries = json.loads(raw)
    except ValueError:
        raise Problem(400, "queries: not JSON; expected an object such as "
                           '{"q0": {"query": "Tahir Yuldashev", "type": "person"}}') from None
    if not isinstance(queries, dict) or not queries:
        raise Problem(400, "queries: expected a JSON object of queries keyed by their ids")
    if len(queries) > MAX_QUERIES:
        raise Problem(400, f"queries: {len(queries)} queries; at most {MAX_QUERIES} in one request")
    out = {}
    for qid, q in queries.items():
        if not isinstance(q, dict) or not isinstance(q.get("query"), str) or not q["query"].strip():
            raise Problem(400, f"queries[{qid!r:.40}]: expected an object with a non-empty 'query' text")
        if problem := search_problem(q["query"]):
            raise Problem(400, f"queries[{qid!r:.40}].query: {problem}")
        wanted = q.get("type") or list(TYPES)
        wanted = [wanted] if isinstance(wanted, str) else wanted
        if not isinstance(wanted, list) or not all(isinstance(t, str) for t in wanted):
            raise Problem(400, f"queries[{qid!r:.40}].type: expected a type id or a list of them")
        limit = q.get("limit", DEFAULT_LIMIT)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise Problem(400, f"queries[{qid!r:.40}].limit: expected a whole number of at least 1")
        out[str(qid)] = (q["query"], set(wanted) & set(TYPES), min(limit, MAX_LIMIT))
    return out


async def form_queries(request) -> str | None:
    """The `queries` field of a POSTed form, read to at most MAX_BODY bytes."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != FORM:
        raise Problem(415, f"a POST here must be a form ({FORM}) with a `queries` field")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        raise Problem(413, f"the form is {length} bytes long; at most {MAX_BODY} are allowed")
    body = b""
    while True:
        message = await request.receive()
        body += message.get("body", b"")
        if len(body) > MAX_BODY:
            raise Problem(413, f"the form is over {MAX_BODY} bytes long")
        if not message.get("more_body"):
            break
    return (parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True).get("queries") or [None])[0]


def manifest(datasette, request) -> dict:
    base = datasette.absolute_url(request, f"/{DB}/")
    return {
        "versions": ["0.1", "0.2"],
        "name": f"{datasette.metadata('title') or DB}: groups and people",
        "identifierSpace": base,
        "schemaSpace": datasette.absolute_url(request, "/about#tables"),
        "defaultTypes": [{"id": t, "name": label} for t, (_, label) in TYPES.items()],
        "view": {"url": base + "{{id}}"},
    }


def answer(data: dict, status: int = 200) -> Response:
    return Response.json(data, status=status, headers={"Access-Control-Allow-Origin": "*",
                                                        "Cache-Control": "no-store" if status != 200 else
                                                        "max-age=3600"})


async def reconcile(datasette, request):
    try:
        raw = request.args.get("queries")
        if request.method == "POST":
            raw = await form_queries(request)
        if raw is None:
            return answer(manifest(datasette, request))
        queries = parse_queries(raw)
        found = await spellings(datasette)
        results = await asyncio.to_thread(
            lambda: {qid: {"result": found.candidates(text, types, limit)}
                     for qid, (text, types, limit) in queries.items()})
        return answer(results)
    except Problem as problem:
        return answer({"error": str(problem), "status": problem.status}, problem.status)


@hookimpl
def register_routes():
    return [(f"^{RECONCILE}$", reconcile)]


@hookimpl
def skip_csrf(scope):
    """OpenRefine's POST carries no CSRF token; the service reads and never writes."""
    return scope.get("path") == RECONCILE
