"""What a record is called wherever the site names it: titles, links, search results.

A source is named by its publisher first, so that a claim quoting GlobalSecurity.org's
profile "Islamic Movement of Uzbekistan (IMU) / ..." does not read as if the IMU said it.
"""
from __future__ import annotations


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


# Columns that are the site's machinery, not facts: left out of HTML pages, kept in the
# JSON, CSV and .db. A claim's `subject_type`/`subject_id` repeat its one non-empty link.
MACHINERY = {"popup", "alias_folded", "quote_offset", "subject_type", "subject_id", "folded"}
DATE_PARTS = {"date_end", "date_precision"}  # said in date_start's words


def words(sql: str) -> str:
    """An enum value in SQL as words: 'pledged-allegiance-to' -> 'pledged allegiance to'."""
    return f"replace({sql}, '-', ' ')"


RELATION_WORDS = {"ally": "allied with", "affiliate": "affiliated with", "rival": "rival of",
                  "splinter-of": "a splinter of", "part-of": "part of"}


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
}

# What one record of each table is, in words, for headings and page titles.
KINDS = {
    "groups": "Group", "people": "Person", "events": "Event", "sources": "Source",
    "dispute_topics": "Dispute", "claims": "Claim", "aliases": "Name in the sources",
    "memberships": "Membership", "group_relations": "Relation between groups",
    "event_groups": "A group's part in an event", "event_people": "A person's part in an event",
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
