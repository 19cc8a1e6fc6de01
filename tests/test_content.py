"""The records against the kinds of mistake an independent reading found (issue 12).

Each test is a rule over the real data. Some are heuristics; where a rule has exceptions
they are listed by id with the reason, so a new case fails until someone looks at it.
"""
from __future__ import annotations

import re

import pytest

from fold import fold
from schema import ALIAS_KINDS

HEDGES = re.compile(r"\b(reportedly|allegedly|apparently|appears?|is believed|are believed|believe|"
                    r"unconfirmed|cannot confirm|speculation|rumou?rs?)\b", re.I)
# Kinds of alias that are the dataset's own, not a document's (schema.ALIAS_KINDS, codebook).
OUR_ALIAS_KINDS = {k for k in ALIAS_KINDS if k.startswith("dataset-")}


def test_every_figure_a_source_gives_is_in_the_range(con):
    """fatalities_low..high carry every figure; fatalities_best alone hides a toll from filters.
    An empty fatalities_high is an open upper end ("closer to a few hundred" gives no figure)."""
    bad = [r["id"] for r in con.execute("""select id from events where fatalities_best is not null
        and (fatalities_low is null or fatalities_best < fatalities_low
             or fatalities_best > coalesce(fatalities_high, fatalities_best))""")]
    assert not bad, f"fatalities_best outside fatalities_low..high: {bad}"
    worded = [r["id"] for r in con.execute("""select id from events where fatalities_text glob '*[0-9]*'
        and fatalities_low is null and fatalities_high is null""")]
    assert not worded, f"a figure in fatalities_text but no range: {worded}"


def test_a_disputed_toll_spans_every_account(con):
    """Where claims about an event take sides on a toll, the range reaches every side's figures."""
    for r in con.execute("""select e.id, e.fatalities_low, e.fatalities_high, group_concat(c.position, ' | ') as sides
            from events e join claims c on c.event_id = e.id join dispute_topics d on d.id = c.dispute_id
            where d.question like '%died%' or d.question like '%toll%' or d.question like '%killed%'
              or d.question like '%casualt%'
            group by e.id"""):
        figures = [int(n) for n in re.findall(r"\b(\d{1,6})\b", r["sides"])]
        assert figures, r["id"]
        assert r["fatalities_low"] is not None and r["fatalities_low"] <= min(figures), r["id"]
        assert r["fatalities_high"] is None or r["fatalities_high"] >= max(figures), r["id"]


def test_hedged_passages_are_not_stated_as_fact(con):
    """A quote that hedges ("reportedly", "apparently"...) does not support a `stated` claim,
    unless the hedge is about another part of the sentence (listed here, with why)."""
    exceptions = {}
    bad = [r["id"] for r in con.execute("select id, quote from claims where certainty = 'stated'")
           if HEDGES.search(r["quote"]) and r["id"] not in exceptions]
    assert not bad, f"stated, but the quote hedges: {bad}"


def test_one_passage_says_one_thing_with_one_certainty(con):
    """Two claims quoting the same passage for the same statement carry the same certainty."""
    bad = [tuple(r) for r in con.execute("""select a.id, b.id from claims a join claims b
        on a.source_id = b.source_id and a.quote = b.quote and a.statement = b.statement
        and a.id < b.id and a.certainty != b.certainty""")]
    assert not bad, bad


def test_no_disputed_place_is_mapped_to_one_side(con):
    """An event with coordinates has its place from an undisputed claim, or from every side."""
    bad = []
    for event in con.execute("select id, place from events where latitude is not null and place is not null"):
        claims = con.execute("""select quote, dispute_id, position from claims where event_id = ?1
            or event_group_id in (select id from event_groups where event_id = ?1)
            or event_person_id in (select id from event_people where event_id = ?1)""", [event["id"]]).fetchall()
        disputes = {c["dispute_id"] for c in claims if c["dispute_id"]}
        if not disputes:
            continue
        word = event["place"].split(",")[0].split(" (")[0].lower()
        undisputed = any(word in c["quote"].lower() for c in claims if not c["dispute_id"])
        for d in disputes:
            sides = {}
            for c in claims:
                if c["dispute_id"] == d:
                    sides.setdefault(c["position"], []).append(word in c["quote"].lower())
            named = [any(v) for v in sides.values()]
            if any(named) and not all(named) and not undisputed:
                bad.append((event["id"], d))
    assert not bad, f"mapped to the place only one side names: {bad}"


def test_aliases_come_from_a_document_or_say_they_are_ours(con):
    bad = [r["id"] for r in con.execute("select id, kind from aliases where source_id is null")
           if r["kind"] not in OUR_ALIAS_KINDS]
    assert not bad, f"aliases no document uses: {bad}"


# Words a description may use without a quote saying them: the dataset's own neutral prose.
PROSE = {"The", "A", "An", "It", "Its", "In", "On", "At", "By", "Of", "For", "From", "With", "As",
         "After", "Before", "When", "Where", "Who", "Which", "This", "That", "These", "Those", "He",
         "His", "She", "Her", "They", "Their", "One", "Both", "Some", "Sources", "Source",
         "Documents", "Document", "According", "Officially", "Unnamed", "Later", "Until", "Since",
         # months: a date's figures are checked as numbers
         "January", "February", "March", "April", "May", "June", "July", "August", "September",
         "October", "November", "December"}
# Record ids whose description a heuristic cannot check, with why.
DESCRIPTION_EXCEPTIONS: dict[str, str] = {
    "2009-andijon-suicide-bombing": "its quote is one item of GlobalSecurity.org's list of the IMU's "
                                    "record; the sentence says the source names no perpetrator",
    "uzbekistan-national-security-service": "its quote says 'the group': the IMU, named in the "
                                            "sentence before it in the blog post",
}
# A sentence that explains how a date range was drawn may name the record it is drawn from.
RANGE_PROSE = re.compile(r"\b(the range|gives no date|does not date|no source dates)\b", re.I)


def record_quotes(con, table, id) -> tuple[str, set[str]]:
    """The quotes behind a record (its own claims and those one step away), and the
    numbers it may state besides theirs: the years its dates span, its date_text's, and
    its sources' publication years (a relative date resolved against them)."""
    columns = {"groups": "group_id", "people": "person_id", "events": "event_id"}
    sql = f"select quote, source_id, cited_source_id from claims where {columns[table]} = ?1"
    if table == "events":
        sql += """ or event_group_id in (select id from event_groups where event_id = ?1)
            or event_person_id in (select id from event_people where event_id = ?1)"""
    if table == "people":
        sql += """ or membership_id in (select id from memberships where person_id = ?1)
            or event_person_id in (select id from event_people where person_id = ?1)
            or event_id in (select event_id from event_people where person_id = ?1)"""
    if table == "groups":
        sql += """ or membership_id in (select id from memberships where group_id = ?1)
            or relation_id in (select id from group_relations where ?1 in (group_id, related_group_id))
            or event_group_id in (select id from event_groups where group_id = ?1)
            or event_id in (select event_id from event_groups where group_id = ?1)"""
    rows = con.execute(sql, [id]).fetchall()
    numbers = set()
    for source in {r["source_id"] for r in rows} | {r["cited_source_id"] for r in rows if r["cited_source_id"]}:
        published = con.execute("select published, published_text from sources where id = ?", [source]).fetchone()
        numbers |= {published[0][:4]} if published[0] else set()
        numbers |= set(re.findall(r"\d+", published[1] or ""))
    dated = {
        "events": "select date_start, date_end, date_text from events where id = ?1",
        "people": """select date_start, date_end, date_text from memberships where person_id = ?1
            union all select e.date_start, e.date_end, e.date_text from event_people x
            join events e on e.id = x.event_id where x.person_id = ?1""",
        "groups": """select date_start, date_end, date_text from memberships where group_id = ?1
            union all select date_start, date_end, date_text from group_relations where ?1 in (group_id, related_group_id)
            union all select e.date_start, e.date_end, e.date_text from event_groups x
            join events e on e.id = x.event_id where x.group_id = ?1""",
    }[table]
    for e in con.execute(dated, [id]):
        start, end = (e["date_start"] or e["date_end"]), (e["date_end"] or e["date_start"])
        if start:
            numbers |= {str(y) for y in range(int(start[:4]), int(end[:4]) + 1)}
        numbers |= set(re.findall(r"\d+", e["date_text"] or ""))
    # A description may name the documents it draws on.
    sources = " ".join(" ".join(filter(None, r)) for r in con.execute(
        f"select publisher, author from sources where id in ({','.join('?' * len(rows))})",
        [r["source_id"] for r in rows]))
    return " ".join(r["quote"] for r in rows) + " " + sources, numbers


def key_words(sentence: str) -> tuple[set[str], set[str]]:
    """(numbers, capitalised names) of a sentence, sentence-initial and prose words aside."""
    numbers = set(re.findall(r"\b\d+\b", sentence))
    words = re.findall(r"\b[A-Z][\w'’-]+", sentence)
    names = {w for i, w in enumerate(words) if w not in PROSE and not (i == 0 and sentence.startswith(w))}
    return numbers, names


def spellings(con) -> dict[str, set[str]]:
    """Folded word -> the folded names of every group or person it is a word of, so that
    "IMU" in a description is found as "Islamic Movement of Uzbekistan" in a quote."""
    names: dict[tuple, set[str]] = {}
    for r in con.execute("select 'g', id, name from groups union all select 'p', id, name from people "
                         "union all select case when group_id is null then 'p' else 'g' end, "
                         "coalesce(group_id, person_id), alias from aliases"):
        names.setdefault((r[0], r[1]), set()).add(fold(r[2]))
    out: dict[str, set[str]] = {}
    for folded in names.values():
        for name in folded:
            for word in name.split():
                out.setdefault(word, set()).update(folded)
    return out


@pytest.mark.parametrize("table", ["events", "groups", "people"])
def test_descriptions_say_only_what_the_quotes_support(con, table):
    """Every number in a description is in the record's quotes (or its dates, or its
    sources' years), and every sentence that names something shares a name with them, in
    any spelling the documents use (heuristic; exceptions above)."""
    bad = []
    other_names = spellings(con)
    for r in con.execute(f"select id, description from {table}"):
        if r["id"] in DESCRIPTION_EXCEPTIONS:
            continue
        quotes, dated = record_quotes(con, table, r["id"])
        if not quotes:
            continue
        folded = f" {fold(quotes)} "
        for sentence in re.split(r"(?<=[.;])\s+", r["description"]):
            if RANGE_PROSE.search(sentence):
                continue
            numbers, names = key_words(sentence)
            missing = [n for n in numbers if n not in quotes and n not in dated]
            found = any(f" {fold(n)} " in folded or any(f" {o} " in folded for o in other_names.get(fold(n), ()))
                        for n in (re.sub(r"['’]s$", "", n) for n in names))
            if missing or (names and not found):
                bad.append((r["id"], sentence[:80], missing or sorted(names)[:3]))
    assert not bad, f"{len(bad)} sentences: {bad[:5]}"


def test_quotes_carry_no_link_markup(con):
    """A quote is the reading text: "[words](#)" reads as its words, " [4]" markers are dropped."""
    bad = [r["id"] for r in con.execute("select id, quote from claims")
           if re.search(r"\]\(|\s\[\d+\]", r["quote"])]
    assert not bad, bad


def test_every_disputed_point_has_two_sides_from_the_documents(con):
    for d in con.execute("select id from dispute_topics"):
        sides = con.execute("select count(distinct position), count(distinct source_id) from claims "
                            "where dispute_id = ?", [d["id"]]).fetchone()
        assert sides[0] >= 2, f"{d['id']}: fewer than two sides"


def test_statements_date_nothing_their_quotes_do_not(con):
    """A statement's years are in its quote, or are the document's own year (a relative
    date such as "in August" resolved against it), or the year before a quote's "last"."""
    bad = []
    for c in con.execute("""select c.id, c.quote, c.statement, s.published, cs.published as cited
            from claims c join sources s on s.id = c.source_id
            left join sources cs on cs.id = c.cited_source_id"""):
        years = set(re.findall(r"\b(1[89]\d\d|20\d\d)\b", c["quote"]))
        own = {p[:4] for p in (c["published"], c["cited"]) if p}
        if re.search(r"\blast\b", c["quote"], re.I):
            years |= {str(int(y) - 1) for y in years | own}
        extra = set(re.findall(r"\b(1[89]\d\d|20\d\d)\b", c["statement"])) - years - own
        if extra:
            bad.append((c["id"], sorted(extra)))
    assert not bad, bad
