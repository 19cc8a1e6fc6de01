"""Time spans: a membership or a relation between groups holds over a span of time.

What the records say of a span comes in three parts (README, "How to read a row"):
- `date_start` .. `date_end`: the earliest it can have begun and the latest it can have
  ended. `date_end` is set only where a document says or implies that it ended: a span a
  document shows in force when it was written has none.
- `reported_start` .. `reported_end`: the first and last times a document shows it in
  force ("since at least 2007"; "reportedly has a new leader", November 2010), each to the
  unit the document gives.
- its parties' time: a group is placed in being from `groups.first_dated` (its formation
  where an event records one, else its first dated record) and a person is gone after
  `people.died_by` (a `death` event); both are derived here at build time (`derive`). No
  span holds before its groups are placed in being, or after its person died.

From these, in one place (the views made by `view_sql`), the years of each span:
- `first_year` .. `last_year`: the years it may have held, as far as the records allow;
  empty where they set no bound;
- `first_year_held` .. `last_year_held`: the years in each of which it surely held at
  some time.

`status` says which a year is; the site registers it as the SQL function span_status,
and `phrase`, the span's time in words, as span_phrase. The build checks the rest here:
a span's precision against its dates as written (`precision_problem`), its reports
against its dates (`report_problems`) and against its parties' time (`time_problems`).
"""
from __future__ import annotations

import functools

from dates import POINT_PRECISIONS, date_phrase, day_words, parse_date, written_unit

# The two tables whose rows hold over a span, and what bounds each: {table: (view, parties)},
# a party being (column, "groups" or "people").
SPAN_TABLES = {
    "memberships": ("membership_years", (("group_id", "groups"), ("person_id", "people"))),
    "group_relations": ("relation_years", (("group_id", "groups"), ("related_group_id", "groups"))),
}
ROUGH = ("years", "decade")  # bounds that say only "not before" and "not after"

# The latest day a span can have begun, and the earliest it can have ended, as date_precision says.
_LATEST_START = """case {t}.date_precision when 'day' then {t}.date_start
      when 'days' then date({t}.date_start, '+6 days') when 'week' then date({t}.date_start, '+6 days')
      when 'month' then date({t}.date_start, 'start of month', '+1 month', '-1 day')
      when 'season' then date({t}.date_start, 'start of month', '+3 months', '-1 day')
      when 'year' then date({t}.date_start, 'start of year', '+1 year', '-1 day') end"""
_EARLIEST_END = """case {t}.date_precision when 'day' then {t}.date_end
      when 'days' then date({t}.date_end, '-6 days') when 'week' then date({t}.date_end, '-6 days')
      when 'month' then date({t}.date_end, 'start of month')
      when 'season' then date({t}.date_end, 'start of month', '-2 months')
      when 'year' then date({t}.date_end, 'start of year') end"""

# Each group's dated records: (group_id, day, is its formation, table, id), the day being the
# earliest on which the record shows the group: an event's start, a span's start or first
# report. A span dated only by its end shows the group at some time before it, which bounds
# nothing: its day is '', and the group then has no first date unless a formation gives one.
_SPAN_DAY = """case when date_start is null and reported_start is null then ''
  else min(coalesce(date_start, '9999'), coalesce(reported_start, '9999')) end"""
RECORDS_SQL = f"""
select x.group_id, e.date_start as day, e.event_type = 'formation' and x.role = 'subject' as formation,
  'events' as tbl, e.id as id
from event_groups x join events e on e.id = x.event_id
union all
select group_id, {_SPAN_DAY}, 0, 'memberships', id
from memberships where coalesce(date_start, reported_start, date_end) is not null
union all
select group_id, {_SPAN_DAY}, 0, 'group_relations', id
from group_relations where coalesce(date_start, reported_start, date_end) is not null
union all
select related_group_id, {_SPAN_DAY}, 0, 'group_relations', id
from group_relations where coalesce(date_start, reported_start, date_end) is not null"""

# Every record of a person's death: what people.died_by is taken from, and what a person's page links to.
DEATHS_SQL = """select x.person_id, e.id as event_id, e.date_end as day from event_people x
join events e on e.id = x.event_id where e.event_type = 'death' and x.role in ('killed', 'subject')"""

DERIVE = (
    f"""update groups set first_dated = f.day from (
      select g.id, f.day from groups g left join (
        select group_id, nullif(coalesce(min(case when formation then day end), min(day)), '') as day
        from ({RECORDS_SQL}) group by group_id) f on f.group_id = g.id) f
    where f.id = groups.id and groups.first_dated is not f.day""",
    f"""update people set died_by = f.day from (
      select p.id, d.day from people p left join (
        select person_id, min(day) as day from ({DEATHS_SQL}) group by person_id) d
      on d.person_id = p.id) f
    where f.id = people.id and people.died_by is not f.day""",
)


def derive(conn) -> set[str]:
    """groups.first_dated and people.died_by from the other tables; returns the tables changed."""
    return {table for table, sql in zip(("groups", "people"), DERIVE) if conn.execute(sql).rowcount}


# The record that places a group first (:g): its formation, else its earliest dated record.
# What the group's page links to.
FIRST_RECORD_SQL = (f"select tbl, id, day, formation from ({RECORDS_SQL}) where group_id = :g and day != '' "
                    "order by formation desc, day, tbl, id limit 1")


def _party_bounds(column: str, kind: str, n: int) -> tuple[str, str, str]:
    """(join, first day, last day) of one party, as SQL: when the records place it."""
    if kind == "groups":
        return f"join groups p{n} on p{n}.id = t.{column}", f"p{n}.first_dated", "null"
    return f"join people p{n} on p{n}.id = t.{column}", "null", f"p{n}.died_by"


def view_sql(table: str, columns: list[str]) -> str:
    """The view of `table` with every column and the span's years (see the module)."""
    parties = SPAN_TABLES[table][1]
    joins, firsts, lasts = zip(*(_party_bounds(c, k, n) for n, (c, k) in enumerate(parties)))
    first = ", ".join(f"coalesce({x}, '')" for x in ("t.date_start", *firsts))
    last = ", ".join(f"coalesce({x}, '9999')" for x in ("t.date_end", *lasts))
    cols = ", ".join(f"[{c}]" for c in columns)
    return f"""
with s as (
  select t.*,
    {_LATEST_START.format(t='t')} as start_latest,
    {_EARLIEST_END.format(t='t')} as end_earliest,
    max({first}) as possible_from,
    min({last}) as possible_to
  from [{table}] t {' '.join(joins)}
),
h as (
  -- It had surely begun by begun_by and surely lasted to lasted_to: each year from the one
  -- to the other saw it hold at some time.
  select s.*,
    nullif(min(coalesce(start_latest, '9999'), coalesce(reported_start, '9999'), coalesce(date_end, '9999')),
      '9999') as begun_by,
    nullif(max(coalesce(end_earliest, ''), coalesce(reported_end, ''), coalesce(date_start, '')), '') as lasted_to
  from s
)
select {cols},
  cast(substr(nullif(possible_from, ''), 1, 4) as integer) as first_year,
  cast(substr(nullif(possible_to, '9999'), 1, 4) as integer) as last_year,
  case when substr(begun_by, 1, 4) <= substr(lasted_to, 1, 4) then cast(substr(begun_by, 1, 4) as integer)
    end as first_year_held,
  case when substr(begun_by, 1, 4) <= substr(lasted_to, 1, 4) then cast(substr(lasted_to, 1, 4) as integer)
    end as last_year_held,
  (date_start is not null or date_end is not null or reported_start is not null) as dated
from h
"""


YEAR_FIELDS = (
    ("first_year", "integer",
     "First year it may have held, as far as the records allow: the latest of the year of date_start and "
     "the years its groups are placed in being from (groups.first_dated); empty where none is set."),
    ("last_year", "integer",
     "Last year it may have held: the year of date_end, or of its person's death (people.died_by), whichever "
     "is earlier; empty where neither is set: it may go on past the documents."),
    ("first_year_held", "integer",
     "First year in which it surely held at some time: by then it had surely begun (date_start as "
     "date_precision says, or reported_start), and it lasted at least to last_year_held; empty where the "
     "records show no year of it for sure."),
    ("last_year_held", "integer",
     "Last year in which it surely held at some time (reported_end, or the earliest end date_end allows); "
     "from first_year_held to here it held in every year."),
    ("dated", "integer", "1 when the records give it any date (date_start, date_end or reported_start), else 0."),
)


def status(year, first_year, last_year, first_held, last_held, dated) -> str | None:
    """How a span stood in `year`: 'holds' (it surely held at some time in the year),
    'may hold' (its dates reach into the year but are too rough to say), 'undated' (the
    records give it no date, and its parties are placed in being that year), or None:
    the records rule the year out."""
    try:
        year = int(str(year).strip())
    except (TypeError, ValueError):
        return None
    if (first_year is not None and year < first_year) or (last_year is not None and year > last_year):
        return None
    if first_held is not None and last_held is not None and first_held <= year <= last_held:
        return "holds"
    return "may hold" if dated else "undated"


def _on(day: str, side: str) -> str:
    """'in 2010', 'in November 2010', 'on 11 November 2010'."""
    words = day_words(day, side)
    return f"{'on' if words[0].isdigit() else 'in'} {words}"


def _reported(start: str, end: str) -> str:
    """The reports' time: 'in November 2010', 'on 11 November 2010', 'August–November 2015'."""
    words = date_phrase(start, end, "years")  # a whole unit, or the span between the two
    if "\u2013" in words:
        return words
    return f"{'on' if words[0].isdigit() and ' ' in words else 'in'} {words}"


@functools.lru_cache(maxsize=4096)
def phrase(date_start, date_end, precision=None, reported_start=None, reported_end=None) -> str:
    """A span's time in words, saying no more than its dates: '1992–1997', 'until August
    2009' (it ended then), 'from July 2015', 'not before 2001' (a rough earliest start),
    'reported in November 2010', 'from 2 August 2015, still so in November 2015',
    'reported 2007 – 14 November 2011; began no earlier than 2001', 'undated'. A report
    is never read as an end. The days are ISO 8601 text, as the database holds them."""
    rs, re_ = reported_start or reported_end, reported_end or reported_start
    precision = (precision or "").strip().lower()
    if date_end:  # it ended: from its start to its end, not a point somewhere between
        return date_phrase(date_start, date_end, "years" if precision in POINT_PRECISIONS else precision)
    rough = precision in ROUGH or not precision
    if not date_start:
        return f"reported {_reported(rs, re_)}" if rs else "undated"
    start = day_words(date_start, "start")
    if not rs:
        return f"{'not before' if rough else 'from'} {start}"
    told = _reported(rs, re_)
    if rough:
        return f"reported {told}" + (f"; began no earlier than {start}" if date_start < rs else "")
    if re_ > parse_date(date_start[:{"year": 4, "month": 7}.get(precision, 10)], "end"):
        return f"from {start}, still so {_on(re_, 'end')}"
    return f"from {start}" + ("" if told in (f"in {start}", f"on {start}") else f" (reported {told})")


DATE_COLUMNS = ("date_start", "date_end", "date_precision", "reported_start", "reported_end")


def order_sql(t: str = "") -> str:
    """ORDER BY terms that list spans (of alias `t`) as a reader reads them over time. By
    time_order alone, "leader until August 2009" (known by its end) came after "leader, from
    August 2009 at the earliest": within a year, a span known only by its end began before
    it, so it comes before the spans that begin that year. The undated last."""
    return (f"{t}time_order is null, substr({t}time_order, 1, 4), "
            f"coalesce({t}date_start, {t}reported_start) is not null, {t}time_order, {t}date_end, {t}id")


def row_phrase(row) -> str:
    """phrase() of a row (an sqlite3.Row or dict) of a span table; a column the row does not
    have (a table page asked for some columns only) counts as empty."""
    keys = row.keys()
    return phrase(*(row[c] if c in keys else None for c in DATE_COLUMNS))


# ---------------------------------------------------------------- checks of the seeds

# A precision of one unit says what each bound, as written, is known to.
_WRITTEN = {"day": {"day"}, "days": {"day"}, "week": {"day"}, "month": {"month", "day"},
            "season": {"month", "day"}, "year": {"year", "month", "day"}}
_ORDER = ("day", "month", "year")


def precision_problem(precision: str, start, end) -> str | None:
    """Why a span's date_precision does not say what its bounds, as the seed writes them
    (`start`, `end`: raw YAML values or None), say; None when it does. 'years' and
    'decade' are rough bounds, written any way; 'day', 'month' and 'year' must be the
    coarsest unit the bounds are written to; 'days' and 'week' need days, 'season' months."""
    units = {name: written_unit(v) for name, v in (("date_start", start), ("date_end", end)) if v is not None}
    if precision in ROUGH or not units or None in units.values() or precision not in _WRITTEN:
        return None
    coarsest = max(units.values(), key=_ORDER.index)
    shown = " and ".join(f"{n} is written to the {u}" for n, u in units.items())
    if coarsest not in _WRITTEN[precision]:
        return (f"{precision!r} says the dates are known to the {precision.rstrip('s')}, but {shown}: "
                f"use {coarsest!r}, or 'years' if they are rough bounds")
    if precision in _ORDER and coarsest != precision:
        return (f"{precision!r} is coarser than the dates: {shown}; use {coarsest!r}"
                + (", or 'season'" if coarsest == "month" else "") + ", or 'years' if they are rough bounds")
    return None


def report_problems(row: dict, item) -> list[tuple[str, str]]:
    """Fill a span's reported_start or reported_end from the other when only one is given
    (one report), and say, as (field, message), where its reports contradict its dates."""
    raw = {f: item.get(f) for f in ("reported_start", "reported_end")}
    if all(v is None for v in raw.values()):
        return []
    if any(raw[f] is not None and row.get(f) is None for f in raw):  # already reported as bad
        return []
    first, last = (raw["reported_start"] if raw["reported_start"] is not None else raw["reported_end"],
                   raw["reported_end"] if raw["reported_end"] is not None else raw["reported_start"])
    row["reported_start"], row["reported_end"] = parse_date(first, "start"), parse_date(last, "end")
    # The report's own unit: it held at some time in it. Its last day must not be before the
    # span could begin, nor the first day of the last report after it ended.
    first_in, last_in = parse_date(first, "end"), parse_date(last, "start")
    problems = []
    if row["reported_start"] > row["reported_end"]:
        problems.append(("reported_end", f"{row['reported_end']} is before reported_start {row['reported_start']}"))
    if row.get("date_start") and first_in < row["date_start"]:
        problems.append(("reported_start", f"a document shows it in force by {first_in}, before date_start "
                                           f"{row['date_start']}, the earliest it can have begun"))
    if row.get("date_end") and last_in > row["date_end"]:
        problems.append(("reported_end", f"a document shows it in force from {last_in}, after date_end "
                                         f"{row['date_end']}, the latest it can have ended"))
    return problems


def time_problems(conn) -> list[tuple[str, str, str]]:
    """Records placed before or after a party to them, by the records (after `derive`):
    (table, id, 'field: message'). No group takes part in an event that ended before its
    formation; no span of a group is shown in force, or ended, before it; no role of a
    person is shown in force after their death."""
    problems = []

    def add(table, field, sql, message):
        for row in conn.execute(sql):
            problems.append((table, row[0], f"{field}: {message.format(*row[1:])}"))

    add("event_groups", "group", """
        select x.id, g.name, g.first_dated, e.date_end from event_groups x
        join groups g on g.id = x.group_id join events e on e.id = x.event_id
        where e.date_end < g.first_dated""",
        "{0} takes part in an event that ended by {2}, before {1}, the earliest day of its formation")
    for table, (_, parties) in SPAN_TABLES.items():
        for column, kind in parties:
            if kind == "groups":
                for field, verb in (("reported_end", "shown in force up to"), ("date_end", "ended by")):
                    add(table, field, f"""
                        select t.id, g.name, g.first_dated, t.{field} from [{table}] t
                        join groups g on g.id = t.{column} where t.{field} < g.first_dated""",
                        verb + " {2}, before {1}, the earliest day of the formation of {0}")
            else:
                for field, verb in (("reported_start", "shown in force from"), ("date_start", "begun no earlier than")):
                    add(table, field, f"""
                        select t.id, p.name, p.died_by, t.{field} from [{table}] t
                        join people p on p.id = t.{column} where t.{field} > p.died_by""",
                        verb + " {2}, after {0} died (by {1}, by the record of the death)")
    return problems
