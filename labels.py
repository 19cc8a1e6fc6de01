"""What a record is called wherever the site names it: titles, links, search results;
and looking those names up, cached, for the site's pages.

A source is named by its publisher first, so that a claim quoting GlobalSecurity.org's
profile "Islamic Movement of Uzbekistan (IMU) / ..." does not read as if the IMU said it.
"""
from __future__ import annotations

import functools

from dataset import DB  # the database's name, written once
from fold import FOLDED_MIN_CHARS


def source_label(title: str | None, publisher: str | None = None, author: str | None = None) -> str:
    """'GlobalSecurity.org, “Islamic Movement of Uzbekistan (IMU) / ...”'; a title the
    document never gave ('[Linked as: IMU]') stays bracketed and unquoted."""
    title = (title or "").strip()
    shown = title if title.startswith("[") else f"“{title}”"
    by = (publisher or author or "").strip()
    return f"{by}, {shown}" if by else title


SOURCE_LABEL_SQL = """case when coalesce({t}.publisher, {t}.author, '') = '' then {t}.title
  else coalesce(nullif({t}.publisher, ''), {t}.author) || ', ' ||
    case when {t}.title like '[%' then {t}.title else '“' || {t}.title || '”' end end"""


def names_sql(table: str, alias_column: str, param: str) -> str:
    """The records of `table` that `:param` names by id, name or alias, as written or folded."""
    return f"""
select id from {table}
where trim(:{param}) != '' and (id = trim(:{param}) or lower(name) = lower(trim(:{param}))
  or (length(fold(:{param})) > {FOLDED_MIN_CHARS} and fold(name) = fold(:{param})))
union
select {alias_column} from aliases
where {alias_column} is not null and trim(:{param}) != '' and (lower(alias) = lower(trim(:{param}))
  or (length(fold(:{param})) > {FOLDED_MIN_CHARS} and fold(alias) = fold(:{param})))"""


# Columns that are the site's machinery, not facts: left out of HTML pages, kept in the
# JSON, CSV and .db. A claim's `subject_type`/`subject_id` repeat its one non-empty link.
MACHINERY = {"popup", "alias_folded", "quote_offset", "passage_offset", "subject_type", "subject_id", "folded"}
DATE_PARTS = {"date_end", "date_precision", "reported_start", "reported_end"}  # said in date_start's words


def words(sql: str) -> str:
    """An enum value in SQL as words: 'pledged-allegiance-to' -> 'pledged allegiance to'."""
    return f"replace({sql}, '-', ' ')"


RELATION_WORDS = {"ally": "allied with", "affiliate": "affiliated with", "rival": "rival of",
                  "splinter-of": "a splinter of", "part-of": "part of"}


# Columns whose values are codes (an enumeration in schema.py, or an ISO country code): pages
# say them in words, the code beside; the JSON, CSV and .db keep the code.
def _code_columns() -> frozenset:
    from schema import EXTRA_COLUMNS, RECORDS

    fields = [f for r in RECORDS.values() for f in r.fields] + [f for fs in EXTRA_COLUMNS.values() for f in fs]
    return frozenset(f.col for f in fields if f.choices or f.type == "country")


CODE_COLUMNS = _code_columns()


@functools.lru_cache(maxsize=1024)
def code_words(column: str, value) -> str | None:
    """A code in words: 'TJ' -> 'Tajikistan', 'security-operation' -> 'security operation',
    'splinter-of' -> 'a splinter of'; None where the column holds no code or it has no words."""
    if column not in CODE_COLUMNS or not isinstance(value, str) or not value:
        return None
    if column == "country":
        import pycountry

        found = pycountry.countries.get(alpha_2=value)
        return getattr(found, "common_name", None) or (found.name if found else None)
    if column == "relation":
        return RELATION_WORDS.get(value, value.replace("-", " "))
    words = value.replace("-", " ").replace("_", " ")
    return words if words != value else None


def toll(low, best, high) -> str | None:
    """An event's fatality figures in words: '16 killed', 'at least 80 killed (best estimate
    80)', '4 to 9 killed'; None where no source gives a figure. Only what the figures say: a
    lowest figure with no highest is "at least", never a range the sources do not give."""
    if low is None and high is None and best is None:
        return None
    if low is not None and high is not None:
        said = f"{low:,} killed" if low == high else f"{low:,} to {high:,} killed"
    elif low is not None:
        said = f"at least {low:,} killed"
    elif high is not None:
        said = f"up to {high:,} killed"
    else:
        said = "killed"
    if best is not None and not (low == high == best):
        said = f"{said} (best estimate {best:,})" if said != "killed" else f"about {best:,} killed"
    return said


def relation_words(sql: str) -> str:
    cases = " ".join(f"when '{k}' then '{v}'" for k, v in RELATION_WORDS.items())
    return f"case {sql} {cases} else {words(sql)} end"


# How each table names one of its records, in SQL. `{t}` is the record's own row; `{column}`
# is the name of the record that foreign-key column points to (that table's own label), so
# a membership reads "Tohir Yoldashev, leader of Islamic Movement of Uzbekistan".
LABELS = {
    "groups": "{t}.name",
    "people": "{t}.name",
    "events": "{t}.title",
    "sources": SOURCE_LABEL_SQL,
    "dispute_topics": "{t}.question",
    "claims": "{t}.statement",
    "aliases": "'“' || {t}.alias || '”, a name of ' || coalesce({group_id}, {person_id})",
    "memberships": "{person_id} || ', ' || " + words("{t}.role") + " || ' of ' || {group_id}",
    "group_relations": "{group_id} || ' ' || " + relation_words("{t}.relation") + " || ' ' || {related_group_id}",
    "event_groups": "{group_id} || ' (' || " + words("{t}.role") + " || '): ' || {event_id}",
    "event_people": "{person_id} || ' (' || " + words("{t}.role") + " || '): ' || {event_id}",
    "documents": "{t}.quoted || ' of its ' || {t}.sentences || ' sentences quoted (' "
                 "|| cast(round({t}.quoted_share * 100) as integer) || '%), ' || {t}.left_out "
                 "|| ' left out on purpose (' || cast(round({t}.left_out_share * 100) as integer) || '%), ' "
                 "|| {t}.unaccounted || ' unaccounted'",
    "passages_left_out": "'Left out (' || " + words("{t}.reason") + " || '): ' || substr({t}.passage, 1, 80)",
}

# What one record of each table is, in words, for headings and page titles.
KINDS = {
    "groups": "Group", "people": "Person", "events": "Event", "sources": "Source",
    "dispute_topics": "Dispute", "claims": "Claim", "aliases": "Name in the sources",
    "memberships": "Membership", "group_relations": "Relation between groups",
    "event_groups": "A group's part in an event", "event_people": "A person's part in an event",
    "documents": "How much of a document the claims quote",
    "passages_left_out": "A passage left out on purpose",
}


def label_select(table: str, outbound: dict[str, str]) -> str:
    """`select id, label from table` with the labels of what its foreign keys point to
    joined in; `outbound` maps a foreign-key column to the table it points to."""
    joins, names = [], {"t": "t"}
    for column, other in sorted(outbound.items()):
        if "{" + column + "}" in LABELS[table] and other in LABELS:
            alias = f"j_{column}"
            joins.append(f"left join [{other}] {alias} on {alias}.id = t.[{column}]")
            names[column] = "(" + LABELS[other].format(t=alias) + ")"
    return f"select t.id as id, {LABELS[table].format(**names)} as label from [{table}] t " + " ".join(joins)


# ---------------------------------------------------------------- looking names up

LABEL_CACHE_SIZE = 50_000


class Keys:
    """The database's foreign keys: outgoing {table: {column: other}}, incoming
    {table: [(other_table, other_column)]}. Read once: the database never changes."""

    def __init__(self, all_keys: dict):
        self.outgoing = {t: {fk["column"]: fk["other_table"] for fk in v["outgoing"]}
                         for t, v in all_keys.items()}
        self.incoming = {t: sorted({(fk["other_table"], fk["other_column"]) for fk in v["incoming"]})
                         for t, v in all_keys.items()}
        self.label_sql = {t: label_select(t, self.outgoing.get(t, {})) for t in LABELS}


_keys: dict[int, Keys] = {}
_labels: dict[tuple[str, str], str] = {}


async def keys(db) -> Keys:
    if id(db) not in _keys:
        _keys[id(db)] = Keys(await db.get_all_foreign_keys())
    return _keys[id(db)]


def keys_read(db) -> Keys | None:
    """The foreign keys if `keys(db)` has read them (at start-up), without waiting."""
    return _keys.get(id(db))


async def labels_for(db, table: str, ids) -> dict[str, str]:
    """{id: label} for records of one table, from the cache or one query for the rest."""
    ids = {str(i) for i in ids if i not in (None, "")}
    found = {i: _labels[(table, i)] for i in ids if (table, i) in _labels}
    missing = sorted(ids - set(found))
    k = await keys(db)
    if missing and table in k.label_sql:
        for start in range(0, len(missing), 500):
            chunk = missing[start:start + 500]
            marks = ", ".join(f":p{n}" for n in range(len(chunk)))
            rows = await db.execute(k.label_sql[table] + f" where t.id in ({marks})",
                                    {f"p{n}": v for n, v in enumerate(chunk)})
            for r in rows:
                found[r["id"]] = r["label"] or r["id"]
        if len(_labels) > LABEL_CACHE_SIZE:
            _labels.clear()
        _labels.update({(table, i): v for i, v in found.items()})
    return found


def label_column(columns) -> str | None:
    """The column of a canned query's rows that names the record its `link` column leads
    to: that column becomes the link, and `link` itself is not shown."""
    return _label_column(tuple(columns))


# In a canned query's row, the first of these columns names the record `link` leads to.
LABEL_COLUMNS = ("label", "title", "name", "statement", "subject", "relation", "group_name", "person")


@functools.lru_cache(maxsize=256)
def _label_column(columns: tuple) -> str | None:
    if "link" not in columns:
        return None
    return next((c for c in LABEL_COLUMNS if c in columns), None)


def record_url(table: str, id) -> str:
    from datasette.utils import tilde_encode  # the site's import, not the build's

    return f"/{DB}/{tilde_encode(table)}/{tilde_encode(str(id))}"


def link(table: str, id, text=None):
    """A link to a record's page, its text the record's name (or its id)."""
    import markupsafe

    return markupsafe.Markup('<a href="{}">{}</a>').format(record_url(table, id),
                                                           id if text in (None, "") else text)
