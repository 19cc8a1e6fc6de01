"""The `search` canned query ranks by relevance (issue 11, item 7; sources by publisher, item 8).

An exact name or alias first, with the aliases of a record right after it; then BM25 across
record types, as written before by sound; a name in part or in another spelling still finds
its record. Expectations are taken from the built database where they can be.
"""
from __future__ import annotations

import asyncio
import re
import sqlite3

import pytest

from fold import fold
from labels import source_label
from test_queries import get, load_plugin


def search(ds, q):
    r = asyncio.run(ds.client.get("/imu/search.json", params={"q": q, "_shape": "array"}))
    assert r.status_code == 200, r.text[:300]
    return r.json()


def keys(found):
    return [(r["type"], r["id"]) for r in found]


def alias_owner(con, alias):
    """(type, id) of the group or person the documents call `alias`."""
    r = con.execute("select group_id, person_id from aliases where alias = ?", [alias]).fetchone()
    assert r is not None, alias
    return ("group", r["group_id"]) if r["group_id"] else ("person", r["person_id"])


def test_output_columns_kept_and_rank_last(ds):
    assert list(search(ds, "IMU")[0]) == ["type", "id", "label", "snippet", "matched", "link", "rank"]


@pytest.mark.parametrize("q", ["IMU", "imu", "Islamic Movement of Uzbekistan"])
def test_imu_comes_first(ds, con, q):
    found = search(ds, q)
    assert keys(found)[0] == alias_owner(con, "IMU") == ("group", "imu")
    # many more rows mention the IMU than name it: the exact name beats them all
    assert len(found) > 20


@pytest.mark.parametrize("q", ["al-Qaida", "Al Qaida", "AL-QAIDA"])
def test_al_qaida_gives_al_qaeda_first(ds, con, q):
    """Case-insensitively, and by its folded key when the spelling differs in punctuation."""
    found = search(ds, q)
    assert keys(found)[0] == alias_owner(con, "al-Qaida") == ("group", "al-qaeda")


def test_exact_alias_follows_the_record_it_names(ds, con):
    found = keys(search(ds, "al-Qaida"))
    alias_id = con.execute("select id from aliases where alias = 'al-Qaida'").fetchone()[0]
    aliases = [k for k in found if k[0] == "alias" and k[1] in scalar_set(
        con, "select id from aliases where group_id = 'al-qaeda'")]
    # the group, then all its aliases in one block, the exact one first
    assert found[1:1 + len(aliases)] == aliases and aliases[0] == ("alias", alias_id)


def scalar_set(con, sql, *params):
    return {r[0] for r in con.execute(sql, params)}


def test_every_alias_is_listed_right_after_its_record(ds, con):
    owner = {r["id"]: ("group", r["group_id"]) if r["group_id"] else ("person", r["person_id"])
             for r in con.execute("select id, group_id, person_id from aliases")}
    for q in ["IMU", "Yuldashev", "Taliban", "Namangani", "Tohir Yo'ldosh"]:
        found = keys(search(ds, q))
        for i, (kind, id) in enumerate(found):
            if kind == "alias" and owner[id] in found:
                before = found[found.index(owner[id]) + 1:i]
                assert all(k[0] == "alias" and owner[k[1]] == owner[id] for k in before), (q, id)


def test_rasht_valley_events_before_people(ds, con):
    rasht = {("event", r[0]) for r in con.execute(
        "select id from events where title like '%Rasht%' or place like '%Rasht%'")}
    found = keys(search(ds, "Rasht"))
    people = [i for i, k in enumerate(found) if k[0] == "person"]
    events = [i for i, k in enumerate(found) if k in rasht]
    assert len(rasht) >= 2 and len(events) == len(rasht) and people  # a person mentions Rasht
    assert max(events) < min(people)


@pytest.mark.parametrize("q", ["Tohir Yo'ldosh", "Tohir Yoʻldosh", "Yo'ldosh", "Tohir Yold", "Yuldash"])
def test_name_in_part_or_another_spelling_finds_the_person(ds, q):
    found = search(ds, q)
    assert ("person", "tohir-yoldashev") in keys(found)[:3], keys(found)[:5]


@pytest.mark.parametrize("q, person", [("Йўлдошев", "tohir-yoldashev"), ("Тоҳир Йўлдош", "tohir-yoldashev"),
                                       ("Юлдашев", "tohir-yoldashev"), ("Жума Намангани", "juma-namangani"),
                                       ("Намангани", "juma-namangani"), ("Усмон Ғозий", "usmon-ghazi")])
def test_a_name_typed_in_cyrillic_finds_the_person(ds, q, person):
    """No document writes these names in Cyrillic; fold() writes them in Latin letters first
    (anyascii), so they meet the documents' spellings by sound."""
    rows = search(ds, q)
    assert rows and rows[0]["type"] == "person" and rows[0]["id"] == person, [r["id"] for r in rows[:3]]


@pytest.mark.parametrize("q, group", [("ISIS", "islamic-state"), ("ISIL", "islamic-state"), ("Daesh", "islamic-state"),
                                      ("TTP", "pakistani-taliban"), ("ISI", "inter-services-intelligence")])
def test_a_common_english_name_finds_its_group_first(ds, q, group):
    """ISIS once found Pakistan's ISI first and Daesh nothing: common names no document uses
    are aliases of their own, and ISI still finds the ISI."""
    rows = search(ds, q)
    assert rows and (rows[0]["type"], rows[0]["id"]) == ("group", group), [r["id"] for r in rows[:3]]


def test_a_name_no_document_uses_says_so(con):
    """An alias without a source is a common English name, and its note says no document uses it."""
    unsourced = con.execute("select kind, note from aliases where source_id is null").fetchall()
    assert len(unsourced) >= 5
    assert all(kind == "dataset-common-name" and "no document uses it" in (note or "") for kind, note in unsourced)


@pytest.mark.parametrize("q, suggested", [("Yuldasev", "/imu/people/tohir-yoldashev"), ("Ghazzi", "/imu/people/usmon-ghazi"),
                                          ("Namgani", "/imu/people/juma-namangani"), ("Yoldahsev", "/imu/people/tohir-yoldashev"),
                                          ("xyzzy", None),
                                          ("a" * 301, None)])
def test_a_search_that_finds_nothing_suggests_the_nearest_names(ds, q, suggested):
    """A letter dropped, doubled or swapped beyond what folding forgives finds nothing; the
    page then suggests the nearest names (and nothing where none is near)."""
    if len(q) <= 300:  # longer is refused before any search (tested above)
        assert search(ds, q) == []
    markup = get(ds, "/imu/search", q=q).text
    found = re.search(r'<p class="imu-suggestions">(.*?)</p>', markup, re.S)
    if suggested is None:
        assert found is None
    else:
        assert found and re.findall(r'href="([^"]+)"', found[1])[0] == suggested, found and found[1]


def test_cyrillic_folds_as_its_latin_spelling_and_latin_as_before():
    from fold import fold

    assert fold("Йўлдошев") == fold("Yoldashev") == fold("Yo\u2019ldashev") == fold("Yuldášev")
    assert fold("ИДУ") == fold("IDU") and fold("\U0001F642") == ""  # a symbol is no word


def test_standard_uzbek_spelling_is_not_an_exact_match_but_by_sound():
    """The prefix step is what finds it: the folded keys differ, one begins the other."""
    assert fold("Tohir Yo'ldosh") != fold("Tohir Yoldashev")
    assert fold("Tohir Yoldashev").startswith(fold("Tohir Yo'ldosh").split()[0])
    assert fold("Yoldashev").startswith(fold("Yo'ldosh"))


@pytest.mark.parametrize("q", ["Rasht", "Tashkent", "Namangani", "Tohir Yo'ldosh", "Waziristan", "IMU"])
def test_records_ranked_by_bm25_across_types(ds, con, q):
    """Past the exact names, records (not the aliases listed under them) come as written then
    by sound, each in ascending BM25 rank whatever their type."""
    found = search(ds, q)
    named = {k for k in keys(found) if exact_name(con, *k, q)}
    records = [r for r in found if r["type"] != "alias" and (r["type"], r["id"]) not in named]
    order = [(r["matched"], r["rank"]) for r in records]
    assert order == sorted(order), q
    assert all(isinstance(r["rank"], float) for r in found)
    exact_rows = [i for i, k in enumerate(keys(found)) if k in named]
    assert exact_rows == list(range(len(exact_rows)))  # the exact names come first


def test_ranking_is_not_by_type(ds):
    """Types interleave: an event, a source or a claim can outrank a group or person."""
    found = [r for r in search(ds, "Rasht") if r["type"] != "alias"]
    types = [r["type"] for r in found]
    assert "event" in types[:2] and "claim" in types[:types.index("person")]
    runs = sum(1 for a, b in zip(types, types[1:]) if a != b)
    assert runs > len(set(types)) - 1  # not one block per type


def exact_name(con, kind, id, q):
    """Whether the record's own name or one of its aliases is the search text, by case or fold."""
    table = {"group": "groups", "person": "people", "event": "events", "source": "sources"}.get(kind)
    if table is None:
        return False
    column = "title" if table in ("events", "sources") else "name"
    names = [con.execute(f"select {column} from {table} where id = ?", [id]).fetchone()[0]]
    if table == "sources":
        names += list(con.execute("select publisher, author from sources where id = ?", [id]).fetchone())
    if table in ("groups", "people"):
        names += [r[0] for r in con.execute(
            f"select alias from aliases where {'group_id' if kind == 'group' else 'person_id'} = ?", [id])]
    names = [n for n in names if n]
    return (q.strip().lower() in {n.lower() for n in names}
            or (len(fold(q)) > 3 and fold(q) in {fold(n) for n in names}))


def test_sources_are_labelled_by_publisher(con, ds):
    for r in con.execute("select s.id, s.title, s.publisher, s.author, x.label from sources s "
                         "join search_index x on x.type = 'source' and x.item_id = s.id"):
        assert r["label"] == source_label(r["title"], r["publisher"], r["author"])
    # issue 11: the GlobalSecurity.org profile read as if the IMU were its source
    published = scalar_set(con, "select id from sources where publisher = 'GlobalSecurity.org'")
    found = {r["id"]: r["label"] for r in search(ds, "GlobalSecurity") if r["type"] == "source"}
    assert published and published <= set(found)
    assert all(found[id].startswith("GlobalSecurity.org, “") for id in published)


@pytest.mark.parametrize("q", ['"', "-", "*", "NEAR(", "'x'", "", "   ", "a" * 300, "x " * 32,
                               "IMU\nIMU", "\n", "al-Qaida*", "{name} : IMU", "name_folded : am"])
def test_hostile_text_never_errors(ds, q):
    search(ds, q)


def plugin_connection(db_path):
    """A connection with the site's SQL functions (fold, escape_fts...), as Datasette makes it."""
    conn = sqlite3.connect(db_path)
    load_plugin().prepare_connection(conn)
    return conn


def test_search_reads_the_full_text_index_not_the_whole_table(db_path, metadata):
    """At 100,000 events a scan of search_index would be slow: only FTS MATCH and rowid look-ups."""
    conn = plugin_connection(db_path)
    sql = metadata["databases"]["imu"]["queries"]["search"]["sql"]
    plan = [r[3] for r in conn.execute("explain query plan " + sql, {"q": "Tohir Yo'ldosh"})]
    full_text = [step for step in plan if "search_index_fts" in step]
    assert len(full_text) >= 2 and all(re.fullmatch(r"SCAN search_index_fts VIRTUAL TABLE INDEX 0:=?M\d+", step)
                                       for step in full_text), plan  # every one a MATCH
    rows = [step for step in plan if re.match(r"(SCAN|SEARCH) (search_index|s)\b(?!_fts)", step)]
    assert rows and all(step.endswith("USING INTEGER PRIMARY KEY (rowid=?)") for step in rows), plan


@pytest.mark.parametrize("q", ["IMU", "Rasht", "Yuldashev", "Tohir Yo'ldosh", '"'])
def test_snippets_made_late_for_many_hits_are_the_same(db_path, metadata, q):
    """Past thousands of hits the snippets are made only for the rows read; force that path here."""
    conn = plugin_connection(db_path)
    sql = metadata["databases"]["imu"]["queries"]["search"]["sql"]
    assert sql.count("count(*) > 5000") == 1
    late = conn.execute(sql.replace("count(*) > 5000", "count(*) > 0"), {"q": q}).fetchall()
    assert late == conn.execute(sql, {"q": q}).fetchall()
    assert not q.isalpha() or any("<mark>" in r[3] for r in late)


# ---------------------------------------------------------------- the page: grouped and paged

SECTION = re.compile(r'<section class="imu-found" id="found-([a-z]+)">(.*?)</section>', re.S)


def found_on_page(ds, **params) -> dict[str, list[str]]:
    """{kind: the links of its rows, in order} as the search page shows them."""
    r = get(ds, "/imu/search", **params)
    assert r.status_code == 200, r.text[:300]
    return {kind: re.findall(r'<span class="imu-found-label"><a href="([^"]+)"', body)
            for kind, body in SECTION.findall(r.text)}


@pytest.mark.parametrize("q", ["IMU", "Rasht", "Namangani", "Taliban"])
def test_search_page_groups_rows_by_kind_with_their_counts(ds, q):
    """One section per kind, in the order of each kind's best row, each headed by its count
    and showing its best rows first; the JSON keeps every row in rank order."""
    found = search(ds, q)
    by_kind: dict[str, list[str]] = {}
    for row in found:
        by_kind.setdefault(row["type"], []).append(row["link"])
    markup = get(ds, "/imu/search", q=q).text
    shown = found_on_page(ds, q=q)
    assert list(shown) == list(by_kind)
    for kind, links in by_kind.items():
        assert shown[kind] == links[:5], kind
        assert re.search(rf'id="found-{kind}">\s*<h2>[^<]+\({len(links):,}\)</h2>', markup), kind
        if len(links) > 5:
            assert f'href="?q={q}&amp;kind={kind}"' in markup


def test_one_kind_pages_through_all_its_rows(ds):
    """?kind= shows that kind alone, 50 rows a page, every row once, with previous and next."""
    claims = [r["link"] for r in search(ds, "IMU") if r["type"] == "claim"]
    assert len(claims) > 100
    seen, page = [], 1
    while True:
        r = get(ds, "/imu/search", q="IMU", kind="claim", page=str(page))
        shown = found_on_page(ds, q="IMU", kind="claim", page=str(page))
        assert list(shown) == ["claim"]
        assert len(shown["claim"]) == min(50, len(claims) - len(seen))
        seen += shown["claim"]
        assert ('rel="prev"' in r.text) == (page > 1)
        if 'rel="next"' not in r.text:
            break
        page += 1
    assert seen == claims and page == (len(claims) + 49) // 50


@pytest.mark.parametrize("kind, page", [("claim", "0"), ("claim", "-3"), ("claim", "9" * 40), ("claim", "2.5"),
                                        ("claim", "٣"), ("<script>", "2"), ("", ""), ("nothing", "1")])
def test_kind_and_page_beyond_reason_give_a_page_not_an_error(ds, kind, page):
    """A page number that is not one is page 1, one past the end the last page; an unknown
    kind shows every kind; nothing a visitor types reaches the page unescaped."""
    r = get(ds, "/imu/search", q="IMU", kind=kind, page=page)
    assert r.status_code == 200
    assert r.text.count("<script") == get(ds, "/imu/search", q="IMU").text.count("<script")
    shown = found_on_page(ds, q="IMU", kind=kind, page=page)
    if kind == "claim":
        claims = [x["link"] for x in search(ds, "IMU") if x["type"] == "claim"]
        first = claims[-((len(claims) - 1) % 50 + 1):] if page == "9" * 40 else claims[:50]
        assert shown == {"claim": first}
    else:
        assert len(shown) > 1
