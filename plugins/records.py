"""A page for every record, built from the database's foreign keys and labels.py.

One mechanism serves all eleven tables (templates/row.html renders `imu_record`):
- the record's name (labels.LABELS) is its heading and title;
- every column is shown with its codebook description, a foreign key as a link labelled
  with the name of the record it points to, dates as their precision says (dates.py), a
  membership's or relation's time as its dates and reports say (spans.py), and the day the
  records place a group from or a person's death with the record behind it;
- every table whose foreign keys point here gives a section of labelled links;
- the claims behind the record, and behind the records one step away (a group's
  memberships, relations and parts in events), grouped by the fact they support;
- canned queries taking this kind of record as a parameter are linked ("timeline").

Table pages use the same labels for their foreign-key cells (pages.render_cell). The
database is immutable while served, so labels.py caches foreign keys and labels.
"""
from __future__ import annotations

import re

import markupsafe
from datasette import hookimpl
from datasette.utils import tilde_encode, urlsafe_components

import dates
import labels
import spans
from dates import row_phrase
from schema import CLAIM
from dataset import DB  # the database's name, written once
# Claims link to what they support through one of these columns (schema.CLAIM).
SUBJECT_COLUMNS = set(CLAIM.parent_column.values())
# A canned query's parameter names a record of this table.
PARAM_TABLES = {"group": "groups", "person": "people", "source": "sources"}
SECTION_LIMIT = 200
# What a record says of itself in a sentence or two: for search engines and link previews.
SUMMARY = ("description", "statement", "quote", "notes", "date_text")
CLAIM_LIMIT = 300


def human(column: str) -> str:
    """'related_group_id' -> 'Related group'."""
    name = column[:-3] if column.endswith("_id") else column
    return name.replace("_", " ").capitalize()


def shorten(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"


def column_descriptions(datasette, table: str) -> dict[str, str]:
    return datasette.table_metadata(DB, table).get("columns") or {}


async def field_rows(datasette, db, table: str, row, k: labels.Keys) -> list[dict]:
    """The record's own columns, in order, as {column, name, description, value} for the page.
    A span's time is always said, undated too (spans.row_phrase)."""
    out = []
    described = column_descriptions(datasette, table)
    outgoing = k.outgoing.get(table, {})
    for column in row.keys():
        value = row[column]
        if column == "date_start" and table in spans.SPAN_TABLES:
            out.append({"column": column, "name": "Date", "description": described.get(column, ""),
                        "value": span_date(row)})
            continue
        if column in labels.MACHINERY or column in labels.DATE_PARTS or column in ("id", "time_order") \
                or value in (None, ""):
            continue
        name = human(column)
        if column in outgoing:
            other = outgoing[column]
            label = (await labels.labels_for(db, other, [value])).get(str(value))
            shown = labels.link(other, value, label)
            if table == "claims" and column in SUBJECT_COLUMNS:
                name = f"Supports ({labels.KINDS.get(other, other).lower()})"
            if other == "sources":
                shown += await source_details(db, value)
        elif column == "date_start":
            name = "Date"
            shown = markupsafe.Markup('{} <span class="imu-raw">({} to {}, precision: {})</span>').format(
                row_phrase(row), row["date_start"], row["date_end"] or "?", row["date_precision"] or "none")
        elif words := labels.code_words(column, value):  # a code in words, the code beside
            shown = markupsafe.Markup('{} <span class="imu-raw">({})</span>').format(words, value)
        elif column in PLACED:
            name, shown = PLACED[column], await placed(db, table, row["id"], value)
        elif column == "url" and str(value).startswith(("https://", "http://")):
            shown = markupsafe.Markup('<a href="{0}" rel="nofollow noopener">{0}</a>').format(value)
        else:
            shown = value
        out.append({"column": column, "name": name, "description": described.get(column, ""),
                    "value": shown})
    # A claim's page opens with its quote.
    return sorted(out, key=lambda f: f["column"] != "quote")


def span_date(row) -> markupsafe.Markup:
    """A membership's or relation's time in words, then its raw dates."""
    raw = [f"{row['date_start'] or '?'} to {row['date_end'] or '?'}, precision: {row['date_precision'] or 'none'}"]
    if row["reported_start"]:
        raw.append(f"reported in force {row['reported_start']} to {row['reported_end']}")
    return markupsafe.Markup('{} <span class="imu-raw">({})</span>').format(spans.row_phrase(row), "; ".join(raw))


# Days derived from other records (spans.derive): what they are called, and the record behind them.
PLACED = {"first_dated": "In the records from", "died_by": "Died by"}
_DEATH_SQL = f"select event_id as id from ({spans.DEATHS_SQL}) where person_id = :id order by day, event_id limit 1"


async def placed(db, table: str, id: str, day: str) -> markupsafe.Markup:
    """The derived day in words and the record it comes from: '1998 · its formation: <the
    event>'; 'November 2001 · the record of the death: <the event>'."""
    if table == "groups":
        found = (await db.execute(spans.FIRST_RECORD_SQL, {"g": id})).first()
        other, other_id, formation = (found["tbl"], found["id"], found["formation"]) if found else (None, None, 0)
        what = "its formation" if formation else "its earliest dated record, which does not say it was founded then"
        words = dates.day_words(day, "start")
    else:
        found = (await db.execute(_DEATH_SQL, {"id": id})).first()
        other, other_id = ("events", found["id"]) if found else (None, None)
        what, words = "the record of the death", dates.day_words(day, "end")
    if other is None:
        return markupsafe.Markup("{}").format(words)
    label = (await labels.labels_for(db, other, [other_id])).get(other_id)
    return markupsafe.Markup('{} <span class="imu-meta">· {}: {}</span>').format(
        words, what, labels.link(other, other_id, label))


async def source_details(db, source_id) -> markupsafe.Markup:
    rows = (await db.execute("select published_text, published, url from sources where id = :id",
                             {"id": source_id})).rows
    if not rows:
        return markupsafe.Markup("")
    r = rows[0]
    bits = [markupsafe.escape(r["published_text"] or r["published"] or "undated")]
    if (r["url"] or "").startswith(("https://", "http://")):
        bits.append(markupsafe.Markup('<a href="{0}" rel="nofollow noopener">{0}</a>').format(r["url"]))
    # Publication dates come in the document's words, some with brackets of their own.
    return markupsafe.Markup(' <span class="imu-meta">· ') + markupsafe.Markup(" · ").join(bits) + \
        markupsafe.Markup("</span>")


def date_sql(table: str, k: labels.Keys, columns: set[str]) -> tuple[str, str]:
    """(join, date columns) giving a row of `table` its own dates, or its event's."""
    if table in spans.SPAN_TABLES:
        return "", "x.date_start, x.date_end, x.date_precision, x.reported_start, x.reported_end, x.time_order as date_order"
    if "date_start" in columns:
        return "", "x.date_start, x.date_end, x.date_precision, x.date_start as date_order"
    if k.outgoing.get(table, {}).get("event_id") == "events":
        return ("left join events e on e.id = x.event_id",
                "e.date_start, e.date_end, e.date_precision, e.date_start as date_order")
    return "", "null as date_start, null as date_end, null as date_precision, null as date_order"


async def table_columns(db, table: str) -> set[str]:
    return set(await db.table_columns(table))


def without(label: str, own: str) -> str:
    """A related record's name, less the name of the page it is listed on:
    'Islamic Movement of Uzbekistan allied with Taliban' on the IMU's page reads
    'allied with Taliban'; 'Taliban (host): Meeting' on the meeting's page, 'Taliban (host)'."""
    if label.endswith(": " + own):
        return label[: -len(own) - 2]
    if label.startswith(own + " ") or label.startswith(own + ", "):
        rest = label[len(own):].lstrip(", ")
        return re.sub(r"^\((.*?)\):", r"\1:", rest)
    return label


async def sections(db, table: str, id: str, k: labels.Keys, own: str) -> list[dict]:
    """One section per foreign key pointing at this table (claims apart), labelled rows."""
    out = []
    for other, column in k.incoming.get(table, []):
        if other == "claims":
            continue
        join, dates = date_sql(other, k, await table_columns(db, other))
        count = (await db.execute(f"select count(*) from [{other}] where [{column}] = :id", {"id": id})).first()[0]
        if not count:
            continue
        rows = [dict(r) for r in (await db.execute(
            f"select x.id, {dates} from [{other}] x {join} where x.[{column}] = :id "
            f"order by {spans.order_sql('x.') if other in spans.SPAN_TABLES else 'date_order is null, date_order, date_end, x.id'} "
            f"limit {SECTION_LIMIT}", {"id": id})).rows]
        names = await labels.labels_for(db, other, [r["id"] for r in rows])
        for r in rows:
            r["period"] = period(r["date_order"])
        out.append({
            "slug": f"{other}-{column}",
            "title": SECTION_TITLES.get((other, column), f"{labels.KINDS.get(other, other)} ({human(column)})"),
            "count": count,
            "more": f"/{DB}/{other}?{column}={tilde_encode(id)}" if count > len(rows) else None,
            "rows": [{"link": labels.record_url(other, r["id"]), "label": without(names.get(r["id"], r["id"]), own),
                      "date": spans.row_phrase(r) if other in spans.SPAN_TABLES
                      else row_phrase(r) if r["date_start"] or r["date_end"] else None,
                      "period": r["period"]} for r in rows],
            "by_period": len(rows) > PERIODS_FROM and len({r["period"] for r in rows}) > 1,
        })
    return out


PERIODS_FROM = 6  # a longer section is read by decade


def period(day: str | None) -> str:
    """The decade a row is placed in, by its sort date: '1990s'; 'Undated'."""
    return f"{day[:3]}0s" if day and day[:4].isdigit() else "Undated"


SECTION_TITLES = {
    ("aliases", "group_id"): "Names in the sources", ("aliases", "person_id"): "Names in the sources",
    ("aliases", "source_id"): "Names this source uses",
    ("memberships", "group_id"): "Members and leaders", ("memberships", "person_id"): "Roles in groups",
    ("group_relations", "group_id"): "Relations from this group",
    ("group_relations", "related_group_id"): "Relations to this group",
    ("event_groups", "group_id"): "Part in events", ("event_groups", "event_id"): "Groups taking part",
    ("event_people", "person_id"): "Part in events", ("event_people", "event_id"): "People taking part",
    ("sources", "cited_by_id"): "Works this document cites",
    ("documents", "source_id"): "How much of it is quoted, or left out on purpose",
    ("passages_left_out", "source_id"): "Passages left out on purpose",
}

_CLAIM_SQL = """
select c.id, c.quote, c.statement, c.certainty, c.position, c.subject_type, c.subject_id,
  c.source_id, (select published_text from sources where id = c.source_id) as source_date,
  c.cited_source_id, c.dispute_id,
  (select question from dispute_topics where id = c.dispute_id) as dispute_question, c.quote_offset
from claims c
where {where}
order by {order}
limit {limit}
"""


# The points in dispute a record's claims take a side on, or that dispute the very passage
# one of its claims quotes: the pledge to the Islamic State as an event is disputed where
# the relations quoting the same video are.
# The other claims quoting one of these passages are sought among their sources' claims only:
# an `exists` over every disputed claim scanned all of them, 4 s for a source's page at
# 100,000 events (bench/load.py's record pages), past the request's deadline.
_DISPUTED_SQL = """
with mine as (select c.source_id, c.quote, c.dispute_id from claims c where {found})
select d.id, d.question, d.concerns from dispute_topics d where d.id in (
  select dispute_id from mine where dispute_id is not null
  union
  select o.dispute_id from claims o
  where o.source_id in (select source_id from mine) and o.dispute_id is not null
    and exists (select 1 from mine m where m.source_id = o.source_id and m.quote = o.quote))
order by d.question
"""


async def claim_groups(db, table: str, id: str, k: labels.Keys) -> dict:
    """The claims about this record and about the records that point to it, grouped by
    the fact they support (this record's own first); a source's in document order; a
    dispute's by side."""
    claim_keys = k.outgoing.get("claims", {})
    direct = [c for c, other in claim_keys.items() if other == table]
    if not direct:
        return {"groups": [], "count": 0}
    where = [f"c.[{c}] = :id" for c in direct]
    # One step away: claims about records of tables that point to this one.
    for other, column in k.incoming.get(table, []):
        via = [c for c, t in claim_keys.items() if t == other and c in SUBJECT_COLUMNS]
        for c in via:
            where.append(f"c.[{c}] in (select id from [{other}] where [{column}] = :id)")
    if table == "sources":
        order, group_by = "c.quote_offset is null, c.quote_offset, c.id", None
    elif table == "dispute_topics":
        order, group_by = "c.position, c.quote_offset, c.id", "position"
    else:
        order, group_by = "c.subject_type = :table desc, c.subject_type, c.subject_id, c.quote_offset, c.id", "subject"
    # One indexed search per way in: SQLite scans the whole table for an OR of them.
    found = "c.rowid in (" + " union ".join(f"select c.rowid from claims c where {w}" for w in where) + ")"
    sql = _CLAIM_SQL.format(where=found, order=order, limit=CLAIM_LIMIT)
    rows = [dict(r) for r in (await db.execute(sql, {"id": id, "table": table})).rows]
    count = (await db.execute(f"select count(*) from claims c where {found}", {"id": id})).first()[0]
    names = {}
    for t in {r["subject_type"] for r in rows} | {"sources"}:
        ids = [r["subject_id"] for r in rows if r["subject_type"] == t] if t != "sources" else \
            [r["source_id"] for r in rows] + [r["cited_source_id"] for r in rows]
        names[t] = await labels.labels_for(db, t, ids)
    for r in rows:
        r["subject_label"] = names.get(r["subject_type"], {}).get(r["subject_id"], r["subject_id"])
        r["subject_link"] = labels.record_url(r["subject_type"], r["subject_id"])
        r["subject_kind"] = labels.KINDS.get(r["subject_type"], r["subject_type"])
        r["source_label"] = names["sources"].get(r["source_id"], r["source_id"])
        r["cited_label"] = names["sources"].get(r["cited_source_id"]) if r["cited_source_id"] else None
    groups: list[dict] = []
    for r in rows:
        if group_by == "subject":
            key = (r["subject_type"], r["subject_id"])
            title = f"{r['subject_kind']}: {r['subject_label']}"
            own = key == (table, id)
        elif group_by == "position":
            key, title, own = r["position"], f"Side: {r['position'] or 'no position given'}", True
        else:
            key, title, own = None, "In the order the document tells them", True
        if not groups or groups[-1]["key"] != key:
            groups.append({"key": key, "title": title, "own": own, "claims": [],
                           "link": r["subject_link"] if group_by == "subject" and not own else None})
        groups[-1]["claims"].append(r)
    disputed = [] if table == "dispute_topics" else [
        dict(r) for r in (await db.execute(_DISPUTED_SQL.format(found=found), {"id": id, "table": table})).rows]
    return {"groups": groups, "count": count, "disputed": disputed,
            "more": f"/{DB}/claims?{direct[0]}={tilde_encode(id)}" if count > len(rows) else None}


# ---------------------------------------------------------------- profiles: what a reader wants first

PROFILED = ("events", "groups", "people")  # record kinds whose pages open with a profile
# Sections a profile already gives whole: a person's roles over time are all their memberships.
COVERED = {"people": {"memberships-person_id"}}
LEADING_ROLES = ("founder", "leader", "deputy-leader", "military-commander", "field-commander",
                 "commander", "director")
_PARTICIPANTS_SQL = """
select 'groups' as tbl, 'event_groups' as part_tbl, x.id as part_id, g.id, g.name, x.role
from event_groups x join groups g on g.id = x.group_id where x.event_id = :id
union all
select 'people', 'event_people', x.id, p.id, p.name, x.role
from event_people x join people p on p.id = x.person_id where x.event_id = :id
order by 1, 6, 5
"""
_MEMBERSHIPS_SQL = """
select m.id, m.role, m.date_start, m.date_end, m.date_precision, m.reported_start, m.reported_end,
  g.id as group_id, g.name as group_name, p.id as person_id, p.name as person_name
from memberships m join groups g on g.id = m.group_id join people p on p.id = m.person_id
where m.{column} = :id {roles}
order by {order}
"""
_EVENT_YEARS_SQL = """
select substr(e.date_start, 1, 4) as year, count(*) as n
from events e where e.id in (select event_id from event_groups where group_id = :id)
group by 1 order by year is null, year
"""


def words(column: str, value) -> str:
    return labels.code_words(column, value) or str(value)


def disputed_mark(disputed: list[dict], part: str) -> markupsafe.Markup:
    """' · disputed: <the question>' for each point in dispute about this part of the record."""
    marks = [markupsafe.Markup(' <span class="imu-disputed-mark">· disputed: {}</span>').format(
        labels.link("dispute_topics", d["id"], d["question"])) for d in disputed if d.get("concerns") == part]
    return markupsafe.Markup("").join(marks)


async def profile(db, table: str, id: str, row, disputed: list[dict]) -> list[tuple[str, markupsafe.Markup]]:
    """The lines a reader looks for first, in words: for an event what, when, where, who and
    the toll; for a group or person their kind, leaders or roles over time, and the days the
    records place them. [] for other records. Each line names the dispute about it, if any."""
    lines: list[tuple[str, markupsafe.Markup]] = []
    if table == "events":
        what = words("event_type", row["event_type"])
        if row["event_category"]:
            what = markupsafe.Markup('{} <span class="imu-meta">· one of the <a href="/{}/events?event_category={}">{} events</a></span>').format(
                what, DB, row["event_category"], words("event_category", row["event_category"]))
        lines.append(("What", markupsafe.Markup(what) + disputed_mark(disputed, "type")))
        lines.append(("When", markupsafe.escape(row_phrase(row)) + disputed_mark(disputed, "date")))
        where = ", ".join(x for x in (row["place"], words("country", row["country"]) if row["country"] else None) if x)
        where_html = markupsafe.escape(where or "no place given")
        if row["latitude"] is not None:
            where_html += markupsafe.Markup(' <span class="imu-meta">· <a href="/{}/events?id={}">on the map</a></span>').format(DB, tilde_encode(id))
        lines.append(("Where", where_html + disputed_mark(disputed, "place")))
        who = [markupsafe.Markup('{} <span class="imu-meta">(<a href="{}">{}</a>)</span>').format(
                   labels.link(r["tbl"], r["id"], r["name"]), labels.record_url(r["part_tbl"], r["part_id"]),
                   words("role", r["role"]))
               for r in (await db.execute(_PARTICIPANTS_SQL, {"id": id})).rows]
        if who or any(d.get("concerns") == "participants" for d in disputed):
            lines.append(("Who", markupsafe.Markup("; ").join(who) + disputed_mark(disputed, "participants")))
        toll = labels.toll(row["fatalities_low"], row["fatalities_best"], row["fatalities_high"])
        if toll or row["fatalities_text"]:
            said = markupsafe.escape(toll or "no figure")
            if row["fatalities_text"]:
                said += markupsafe.Markup(' <span class="imu-meta">· in the sources\' words: {}</span>').format(row["fatalities_text"])
            lines.append(("Killed", said + disputed_mark(disputed, "fatalities")))
    elif table in ("groups", "people"):
        if table == "groups":
            lines.append(("Kind", markupsafe.escape(words("kind", row["kind"]))))
            if row["first_dated"]:
                lines.append((PLACED["first_dated"], await placed(db, table, id, row["first_dated"])))
            sql = _MEMBERSHIPS_SQL.format(column="group_id", order=spans.order_sql("m."), roles="and m.role in (%s)" % ", ".join(f"'{r}'" for r in LEADING_ROLES))
            title = "Leaders over time"
        else:
            sql = _MEMBERSHIPS_SQL.format(column="person_id", order=spans.order_sql("m."), roles="")
            title = "Roles over time"
        held = []
        for m in (await db.execute(sql, {"id": id})).rows:
            role = labels.link("memberships", m["id"], words("role", m["role"]))
            said = (markupsafe.Markup("{} ({})").format(labels.link("people", m["person_id"], m["person_name"]), role)
                    if table == "groups" else
                    markupsafe.Markup("{} of {}").format(role, labels.link("groups", m["group_id"], m["group_name"])))
            held.append(markupsafe.Markup('<li>{} <span class="imu-date">· {}</span></li>').format(said, spans.row_phrase(m)))
        if table == "people" and row["died_by"]:
            lines.append((PLACED["died_by"], await placed(db, table, id, row["died_by"])))
        if held:
            lines.append((title, markupsafe.Markup('<ul class="imu-held">') + markupsafe.Markup("").join(held) + markupsafe.Markup("</ul>")))
        if table == "groups":
            years = (await db.execute(_EVENT_YEARS_SQL, {"id": id})).rows
            if years:
                lines.append(("Events by year", markupsafe.Markup(" · ").join(
                    markupsafe.Markup('<a href="/{}/timeline?group={}&amp;from={}&amp;to={}">{}</a> ({})').format(
                        DB, tilde_encode(id), y["year"], y["year"], y["year"], y["n"]) if y["year"]
                    else markupsafe.Markup("undated ({})").format(y["n"]) for y in years)))
    return lines


def see_also(datasette, table: str, id: str, row) -> list[tuple[str, str]]:
    """Canned queries that take this kind of record as a parameter, and the map."""
    out = []
    queries = (datasette.metadata("queries", database=DB) or {})
    for name, query in queries.items():
        for param in query.get("params") or []:
            if PARAM_TABLES.get(param) == table:
                out.append((query.get("title") or name, f"/{DB}/{name}?{param}={tilde_encode(id)}"))
    if table == "events" and row["latitude"] is not None:
        out.append(("This event on the map", f"/{DB}/events?id={tilde_encode(id)}"))
    return out


async def record(datasette, table: str, id: str) -> dict | None:
    db = datasette.get_database(DB)
    k = await labels.keys(db)
    rows = (await db.execute(f"select * from [{table}] where id = :id", {"id": id})).rows
    if not rows or table not in labels.LABELS:
        return None
    row = rows[0]
    label = (await labels.labels_for(db, table, [id])).get(id, id)
    claims = await claim_groups(db, table, id, k)
    return {
        "table": table, "id": id, "label": label, "title": shorten(label, 120), "path": labels.record_url(table, id),
        "summary": next((row[c] for c in SUMMARY if c in row.keys() and row[c]), None),
        "description": row["description"] if "description" in row.keys() else None,
        # A group's or person's page opens with its summary, an event's with what, when and where.
        "summary_first": table in ("groups", "people"),
        "profiled": table in PROFILED,
        "kind": labels.KINDS[table],
        "fields": await field_rows(datasette, db, table, row, k),
        "sections": [x for x in await sections(db, table, id, k, label) if x["slug"] not in COVERED.get(table, ())],
        "claims": claims,
        "profile": await profile(db, table, id, row, claims.get("disputed") or []),
        "see_also": see_also(datasette, table, id, row),
    }


@hookimpl
def extra_template_vars(view_name, database, table, request, datasette):
    if view_name != "row" or database != DB or table not in labels.LABELS or request is None:
        return {}

    async def inner():
        pks = urlsafe_components(request.url_vars["pks"])
        return {"imu_record": await record(datasette, table, pks[0])}

    return inner
