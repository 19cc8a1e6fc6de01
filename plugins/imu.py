"""Datasette hooks for the IMU dataset.

- `fold(text)` in SQL, the same spelling-forgiving key the build stores in
  search_index.folded and aliases.alias_folded, so canned queries fold user
  input the way the build folded the records; and an `escape_fts` that never
  hands FTS5 an empty query, so `?_search="` gives no rows instead of HTTP 400.
- `date_phrase(start, end, precision)` in SQL: a date range in words (dates.py), the
  `date` column of the canned queries.
- Canned-query cells: `snippet` keeps only its <mark> highlights as HTML, and
  `link` / `*_link` paths inside the site become links.
- `imu_table_rows`, a template filter that renders a query's table body in one
  Python pass, for the map page's up to 1,000 rows (templates/query-imu-events_map.html).
- Row pages of events, people and groups get `imu_sections`: participants,
  memberships, relations, events and the claims with their quotes and sources,
  rendered by templates/_imu_sections.html.
"""
from __future__ import annotations

import markupsafe
from datasette import hookimpl
from datasette.utils import escape_fts, to_css_class, urlsafe_components

from dates import date_phrase
from fold import search_problem, sql_fold

SITE_PREFIX = "/imu/"


def safe_escape_fts(query):
    """Datasette's escape_fts made total: text with no words (a lone '"', blanks) gives '""',
    a phrase that matches nothing, where the original gives '' and FTS5 a syntax error
    (HTTP 400); and newlines become spaces, since its quote-pairing regex stops at a newline
    and '"\\n:' would come out as an invalid column filter. Text longer than fold.search_problem
    allows is refused, as SQLite refuses a value over its length limit."""
    if search_problem(str(query or "")):
        raise OverflowError  # Python's sqlite3 reports it as SQLite's "string or blob too big"
    return escape_fts(" ".join(str(query or "").split())) or '""'


@hookimpl(trylast=True)  # after Datasette's own, so this escape_fts replaces it
def prepare_connection(conn):
    conn.create_function("fold", 1, sql_fold, deterministic=True)
    conn.create_function("escape_fts", 1, safe_escape_fts, deterministic=True)
    conn.create_function("date_phrase", 3, date_phrase, deterministic=True)


@hookimpl
def render_cell(value, column, table):
    if table is not None or not isinstance(value, str):
        return None
    if column == "snippet":
        # Escape everything, then let the highlight markers alone back through.
        escaped = str(markupsafe.escape(value))
        return markupsafe.Markup(escaped.replace("&lt;mark&gt;", "<mark>").replace("&lt;/mark&gt;", "</mark>"))
    if (column == "link" or column.endswith("_link")) and value.startswith(SITE_PREFIX):
        return markupsafe.Markup('<a href="{0}">{0}</a>').format(value)
    return None


def table_rows(display_rows, columns, shown_columns):
    """The <tr> rows of a query's table, as query.html writes them, for the columns shown.
    Async Jinja costs about 5 us per cell; this costs well under 1."""
    shown = [(columns.index(c), markupsafe.escape("col-" + to_css_class(c))) for c in shown_columns]
    escape = markupsafe.escape  # leaves render_cell's Markup alone, as autoescape does
    return markupsafe.Markup("\n".join(
        "<tr>" + "".join(f'<td class="{css}">{escape(row[i])}</td>' for i, css in shown) + "</tr>"
        for row in display_rows))


@hookimpl
def prepare_jinja2_environment(env):
    env.filters["imu_table_rows"] = table_rows


# ---------------------------------------------------------------- row pages

# What a claim is about, in words, for the claims listed on a row page.
_CLAIMS = """
select c.id, c.quote, c.statement, c.certainty, c.position,
  c.source_id, s.title as source_title, s.published_text as source_date,
  c.cited_source_id, cs.title as cited_source_title,
  c.dispute_id, d.question as dispute_question,
  case c.subject_type when 'events' then 'event' when 'groups' then 'group'
    when 'people' then 'person' when 'memberships' then 'membership'
    when 'group_relations' then 'relation' when 'event_groups' then 'group role'
    when 'event_people' then 'person role' else c.subject_type end as about,
  c.subject_id
from claims c
join sources s on s.id = c.source_id
left join sources cs on cs.id = c.cited_source_id
left join dispute_topics d on d.id = c.dispute_id
where {where}
order by c.subject_type = :table desc, c.subject_type, c.subject_id, s.published, c.source_id, c.id
"""

_ALIASES = """
select a.alias as name, '/imu/aliases/' || a.id as link, a.kind, s.title as source
from aliases a left join sources s on s.id = a.source_id
where a.{column} = :id order by a.alias
"""

_MEMBERSHIPS = """
select {other}.name as name, '/imu/{other_table}/' || {other}.id as link, m.role,
  m.date_start, m.date_end, m.date_text, '/imu/memberships/' || m.id as membership_link
from memberships m join {other_table} {other} on {other}.id = m.{other_column}
where m.{column} = :id order by coalesce(m.date_start, '9999'), {other}.name, m.role
"""

_EVENTS = """
select e.title as name, '/imu/events/' || e.id as link, x.role, e.date_start, e.date_text,
  e.place, e.country
from {link_table} x join events e on e.id = x.event_id
where x.{column} = :id order by e.date_start, e.id, x.role
"""

SECTIONS = {
    "events": [
        ("Participants", """
select g.name as name, '/imu/groups/' || g.id as link, 'group' as kind, x.role, x.note
from event_groups x join groups g on g.id = x.group_id where x.event_id = :id
union all
select p.name, '/imu/people/' || p.id, 'person', x.role, x.note
from event_people x join people p on p.id = x.person_id where x.event_id = :id
order by kind, role, name"""),
        ("Claims", _CLAIMS.format(where="""c.event_id = :id
  or c.event_group_id in (select id from event_groups where event_id = :id)
  or c.event_person_id in (select id from event_people where event_id = :id)""")),
    ],
    "people": [
        ("Names in the sources", _ALIASES.format(column="person_id")),
        ("Memberships", _MEMBERSHIPS.format(other="g", other_table="groups", other_column="group_id",
                                            column="person_id")),
        ("Events", _EVENTS.format(link_table="event_people", column="person_id")),
        ("Claims", _CLAIMS.format(where="""c.person_id = :id
  or c.membership_id in (select id from memberships where person_id = :id)
  or c.event_person_id in (select id from event_people where person_id = :id)""")),
    ],
    "groups": [
        ("Names in the sources", _ALIASES.format(column="group_id")),
        ("Members", _MEMBERSHIPS.format(other="p", other_table="people", other_column="person_id",
                                        column="group_id")),
        ("Relations", """
select other.name as name, '/imu/groups/' || other.id as link,
  case when r.group_id = :id then this.name || ' ' || r.relation || ' ' || other.name
       else other.name || ' ' || r.relation || ' ' || this.name end as reads,
  r.date_start, r.date_end, r.date_text, '/imu/group_relations/' || r.id as relation_link
from group_relations r
join groups this on this.id = :id
join groups other on other.id = case when r.group_id = :id then r.related_group_id else r.group_id end
where r.group_id = :id or r.related_group_id = :id
order by coalesce(r.date_start, '9999'), r.id"""),
        ("Events", _EVENTS.format(link_table="event_groups", column="group_id")),
        ("Claims", _CLAIMS.format(where="""c.group_id = :id
  or c.membership_id in (select id from memberships where group_id = :id)
  or c.relation_id in (select id from group_relations where group_id = :id or related_group_id = :id)
  or c.event_group_id in (select id from event_groups where group_id = :id)""")),
    ],
}


@hookimpl
def extra_template_vars(view_name, database, table, request, datasette):
    if view_name != "row" or table not in SECTIONS or request is None:
        return {}

    async def sections():
        pks = urlsafe_components(request.url_vars["pks"])
        params = {"id": pks[0], "table": table}
        db = datasette.get_database(database)
        out = []
        for title, sql in SECTIONS[table]:
            rows = [dict(r) for r in (await db.execute(sql, params)).rows]
            out.append({"title": title, "slug": title.lower().split()[0], "rows": rows,
                        "columns": [c for c in (rows[0] if rows else {}) if c not in ("name", "link")]})
        return {"imu_sections": out}

    return sections
