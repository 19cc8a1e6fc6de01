"""The codebook, the canned queries, map popups and row pages, through Datasette.

Expectations are computed from the built database with plain SQL, never typed in.
"""
from __future__ import annotations

import asyncio
import importlib.util
import json
import re
import sqlite3

import markupsafe
import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from conftest import ROOT, make_datasette
from labels import source_label

QUERIES = {
    "search": ["q"],
    "timeline": ["group", "from", "to", "type", "country"],
    "person": ["person"],
    "disputes": [],
    "claims_by_source": ["source"],
    "relations": ["group"],
    "events_map": ["group", "from", "to"],
    "network": ["group", "year"],
    "as_of": ["group", "year"],
    "relation_claims": ["relation"],
    "events_per_year": ["group", "country"],
}
HOSTILE = ['"', '-', '*', 'NEAR(', "'x'", "", " ", '""', '"""', 'a"b', "(", ")", "AND", "OR x",
           "NOT", "^x", ":", "{text}", "folded : x", "x*", "\\", "%", "NEAR(a b, 2)", "'; drop table events; --",
           "Yo'ldashev\"", "\u2019", "1999-", "-1", "99999999999999999999", "🙂", '"\n:', "a\tb\nc"]


def get(ds, path, **params):
    return asyncio.run(ds.client.get(path, params=params or None))


def rows(ds, query, **params):
    r = get(ds, f"/imu/{query}.json", _shape="array", **params)
    assert r.status_code == 200, r.text[:300]
    return r.json()


def scalar_set(con, sql, *params):
    return {r[0] for r in con.execute(sql, params)}


def user_tables(con) -> list[str]:
    """Tables people see: not FTS indexes, their shadow tables or SQLite's own."""
    fts = scalar_set(con, "select name from sqlite_master where sql like 'CREATE VIRTUAL TABLE%'")
    names = scalar_set(con, "select name from sqlite_master where type = 'table' and name not like 'sqlite_%'")
    return sorted(n for n in names if n not in fts and not any(n.startswith(f + "_") for f in fts))


def columns(con, table) -> list[str]:
    return [r[1] for r in con.execute(f"pragma table_info([{table}])")]


def imu_meta(metadata) -> dict:
    return metadata["databases"]["imu"]


# ---------------------------------------------------------------- codebook

def test_site_metadata(ds, metadata, dataset_info):
    for key in ("description_html", "source", "source_url", "about", "about_url"):
        assert metadata.get(key), f"metadata lacks {key}"
    # The title and licence are the database's own (dataset_info), given to Datasette by a plugin.
    for key in ("title", "license", "license_url"):
        assert key not in metadata, f"{key} is said twice: metadata.yml and dataset_info"
        assert get(ds, "/-/metadata.json").json()[key] == dataset_info[key]
    assert "CC BY 4.0" in dataset_info["license"] and "quotes" in dataset_info["license"]
    # The home and about pages say how to cite (tests/test_pages.py checks they show it).
    assert "imu.db" in dataset_info["citation"]


def test_every_table_view_and_column_is_described(con, codebook):
    views = scalar_set(con, "select name from sqlite_master where type = 'view'")
    assert views, "the database should have the disputes view"
    missing = []
    for name in user_tables(con) + sorted(views):
        meta = codebook.get(name, {})
        if not meta.get("description"):
            missing.append(name)
        described = meta.get("columns", {})
        missing += [f"{name}.{c}" for c in columns(con, name) if not described.get(c)]
    assert not missing, f"no description for: {', '.join(missing)}"


def test_codebook_names_only_real_columns(con, metadata):
    """A typo in metadata.yml is silently ignored by Datasette; catch it here."""
    for name, meta in imu_meta(metadata)["tables"].items():
        have = set(columns(con, name))
        assert have, f"metadata describes {name}, which is not in the database"
        assert "columns" not in meta and "description" not in meta, f"{name}: describe it in the codebook"
        named = set(meta.get("sortable_columns", []))
        named |= set(meta.get("facets", [])) | set(meta.get("units", {}))
        named |= {meta[k] for k in ("label_column", "sort") if k in meta}
        assert named <= have, f"{name}: {named - have} are not columns"


def test_label_columns_make_foreign_keys_show_names(ds, con, metadata):
    """Every table a foreign key points at names its rows with a text label_column."""
    tables = imu_meta(metadata)["tables"]
    targets = {r["table"] for t in user_tables(con) for r in con.execute(f"pragma foreign_key_list([{t}])")}
    for target in targets - {"memberships", "group_relations", "event_groups", "event_people"}:
        assert tables[target].get("label_column"), f"{target} has no label_column"
    # and the label shows: an event_groups row names its group and event
    row = con.execute("select x.id, g.name, e.title from event_groups x join groups g on g.id = x.group_id "
                      "join events e on e.id = x.event_id order by x.id limit 1").fetchone()
    data = rows(ds, "event_groups", id=row["id"], _labels="on")[0]
    assert data["group_id"]["label"] == row["name"]
    assert data["event_id"]["label"] == row["title"]


@pytest.mark.parametrize("table, facet", [
    ("events", "event_type"), ("events", "country"), ("events", "date_precision"),
    ("claims", "certainty"), ("event_groups", "role"), ("event_people", "role"),
    ("memberships", "role"), ("group_relations", "relation"),
])
def test_default_facets(ds, con, table, facet):
    data = get(ds, f"/imu/{table}.json").json()
    results = data["facet_results"]
    results = results.get("results", results)  # 0.65 nests them under "results"
    assert facet in results, f"{table} has no {facet} facet"
    counts = {f["value"]: f["count"] for f in results[facet]["results"]}
    expected = {r[0]: r[1] for r in con.execute(
        f"select [{facet}], count(*) from [{table}] where [{facet}] is not null group by 1")}
    assert len(counts) == min(len(expected), 30)  # facet_size shows the 30 commonest
    assert all(expected[value] == n for value, n in counts.items())


@pytest.mark.parametrize("table", ["groups", "people", "aliases", "events", "claims", "sources"])
def test_table_search_configured_and_working(ds, con, metadata, table):
    assert imu_meta(metadata)["tables"][table]["fts_table"] == f"{table}_fts"
    text_col = {"groups": "name", "people": "name", "aliases": "alias", "events": "title",
                "claims": "quote", "sources": "title"}[table]
    row_id, text = con.execute(f"select id, [{text_col}] from [{table}] order by id limit 1").fetchone()
    word = max(re.findall(r"\w+", text), key=len)
    found = {r["id"] for r in rows(ds, table, _search=word, _size="max")}
    assert row_id in found


@pytest.mark.parametrize("q", HOSTILE)
def test_table_search_never_errors(ds, q):
    assert get(ds, "/imu/events.json", _search=q).status_code == 200


def test_event_coordinates_give_their_unit(ds, con, codebook):
    """The unit is in the codebook, not Datasette's `units` (which costs ~25 ms a page at 100,000 events)."""
    columns_meta = codebook["events"]["columns"]
    assert "degrees" in columns_meta["latitude"] and "degrees" in columns_meta["longitude"]
    event_id, lat = con.execute("select id, latitude from events where latitude is not null "
                                "order by id limit 1").fetchone()
    assert f"{lat:g}" in get(ds, f"/imu/events/{event_id}").text.replace("\u00a0", " ")


# ---------------------------------------------------------------- canned queries: shape

def test_canned_queries_are_all_there_and_documented(metadata):
    queries = imu_meta(metadata)["queries"]
    assert set(QUERIES) <= set(queries)
    for name, params in QUERIES.items():
        q = queries[name]
        assert q.get("title") and q.get("description_html"), name
        assert q["params"] == params, name
        used = set(re.findall(r"(?<!:):(\w+)", re.sub(r"'[^']*'", "", q["sql"])))
        assert used == set(params), f"{name} uses {used}, declares {params}"
        for p in params:
            assert f"<code>{p}</code>" in q["description_html"], f"{name} does not document {p}"


def test_example_links_in_descriptions_work(ds, metadata):
    html = metadata["description_html"] + "".join(
        q["description_html"] for q in imu_meta(metadata)["queries"].values())
    links = set(re.findall(r'href="(/imu[^"]*)"', html)) | {metadata["source_url"], metadata["about_url"]}
    assert len(links) > 10
    for link in sorted(links):
        r = get(ds, link.replace("&amp;", "&"))
        assert r.status_code == 200, link


@pytest.mark.parametrize("name", QUERIES)
def test_canned_query_pages_render(ds, name, metadata):
    r = get(ds, f"/imu/{name}")
    assert r.status_code == 200
    assert markupsafe.escape(imu_meta(metadata)["queries"][name]["title"]) in r.text


@pytest.mark.parametrize("name", [n for n, p in QUERIES.items() if p])
@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_parameters_never_error(ds, name, value):
    params = {p: value for p in QUERIES[name]}
    r = get(ds, f"/imu/{name}.json", **params)
    assert r.status_code == 200, r.text[:300]
    assert r.json()["ok"]


# ---------------------------------------------------------------- search

@pytest.mark.parametrize("q", ["Yuldashev", "Yoldashev", "Yo'ldashev", "Yo\u2019ldashev", "Tahir Yuldashev",
                               "yuldashev", "Tohir Yo'ldoshev", "Yo\u02bbldoshev", "Yuldáshev"])
def test_search_forgives_spelling(ds, q):
    found = rows(ds, "search", q=q)
    assert {"type": "person", "id": "tohir-yoldashev"} in [{"type": r["type"], "id": r["id"]} for r in found]


def test_search_finds_as_written_before_by_sound(ds):
    """The person named exactly comes first (tests/test_search_rank.py); after it and its
    aliases, matches as written come before matches by sound. An alias is listed under the
    record it names, whatever its own match, so only the other rows are in tier order."""
    found = rows(ds, "search", q="Yuldashev")
    rest = [r for r in found if r["type"] != "alias"][1:]
    tiers = [r["matched"] for r in rest]
    assert tiers == sorted(tiers) and len(set(tiers)) == 2  # "as written" < "by sound"
    first = found[0]
    assert "<mark>Yuldashev</mark>" in first["snippet"]
    assert first["link"] == f"/imu/{ {'person': 'people', 'group': 'groups'}[first['type']] }/{first['id']}"


def test_search_reaches_every_kind_of_record(ds, con):
    """For each type, searching the words of one row's label finds that row, and its link works."""
    for kind, item_id, label, link in con.execute(
            "select type, item_id, label, link from search_index where rowid in "
            "(select min(rowid) from search_index group by type)"):
        found = {(r["type"], r["id"]): r for r in rows(ds, "search", q=label)}
        assert (kind, item_id) in found, (kind, label)
        assert get(ds, found[(kind, item_id)]["link"]).status_code == 200
    kinds = scalar_set(con, "select type from search_index")
    assert kinds == {"group", "person", "alias", "event", "claim", "source"}


def test_search_index_covers_every_record(con):
    for kind, table in [("group", "groups"), ("person", "people"), ("alias", "aliases"),
                        ("event", "events"), ("claim", "claims"), ("source", "sources")]:
        assert scalar_set(con, "select item_id from search_index where type = ?", kind) == \
            scalar_set(con, f"select id from {table}")


def test_blank_search_is_empty_not_an_error(ds):
    assert rows(ds, "search") == []
    assert rows(ds, "search", q="   ") == []


def test_search_snippet_html_is_escaped_except_highlights():
    cell = load_plugin("pages").query_cell
    html = cell({}, '<img src=x onerror=alert(1)> <mark>IMU</mark>', "snippet")
    assert str(html) == "&lt;img src=x onerror=alert(1)&gt; <mark>IMU</mark>"
    link = cell({"link": ""}, '/imu/x"><script>', "link")
    assert "<script>" not in str(link) and 'href="/imu/x&#34;&gt;&lt;script&gt;"' in str(link)
    assert cell({"link": ""}, "javascript:alert(1)", "link") is None
    # A row's label links to its record, escaped; `link` then is not rendered itself.
    row = {"title": "<b>x</b>", "link": '/imu/events/a"b'}
    assert str(cell(row, row["title"], "title")) == '<a href="/imu/events/a&#34;b">&lt;b&gt;x&lt;/b&gt;</a>'
    assert cell(row, row["link"], "link") is None


def load_plugin(name="imu"):
    spec = importlib.util.spec_from_file_location(f"{name}_plugin", ROOT / "plugins" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fold_is_an_sql_function(ds):
    data = get(ds, "/imu.json", sql="select fold('Yo''ldashev') as a, fold('Yuldashev') as b",
               _shape="array").json()
    assert data == [{"a": "yldshv", "b": "yldshv"}]


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=30))
def test_search_sql_never_errors_on_any_text(db_path, metadata, q):
    """The search SQL and table search's escape_fts, with the plugin's functions, on any input."""
    plugin = load_plugin()
    conn = sqlite3.connect(db_path)
    plugin.prepare_connection(conn)
    conn.execute(imu_meta(metadata)["queries"]["search"]["sql"], {"q": q}).fetchall()
    conn.execute("select count(*) from events_fts where events_fts match escape_fts(?)", [q]).fetchall()


# ---------------------------------------------------------------- the other canned queries

def group_events(con, group_id, year_from=None, year_to=None):
    sql = "select e.id from events e join event_groups x on x.event_id = e.id where x.group_id = ?"
    params = [group_id]
    if year_from is not None:
        sql += " and e.date_end >= ?"
        params.append(f"{year_from:04d}-01-01")
    if year_to is not None:
        sql += " and e.date_start <= ?"
        params.append(f"{year_to:04d}-12-31")
    return {f"/imu/events/{i}" for i in scalar_set(con, sql, *params)}


def test_timeline_of_a_group_in_date_order(ds, con):
    found = rows(ds, "timeline", group="imu")
    assert {r["link"] for r in found} == group_events(con, "imu")
    starts = [r["date_start"] for r in found]
    assert starts == sorted(starts)
    assert all(r["participants"] and r["sources"] for r in found)
    assert rows(ds, "timeline") == found  # blank group means the IMU


def test_timeline_years_and_names(ds, con):
    found = rows(ds, "timeline", group="imu", **{"from": "2009", "to": "2011"})
    assert {r["link"] for r in found} == group_events(con, "imu", 2009, 2011)
    assert 0 < len(found) < len(rows(ds, "timeline", group="imu"))
    alias = con.execute("select alias from aliases where group_id = 'imu' and alias != 'imu' "
                        "order by length(alias) desc limit 1").fetchone()[0]
    assert rows(ds, "timeline", group=alias) == rows(ds, "timeline", group="imu")
    assert rows(ds, "timeline", group="no-such-group") == []


def test_person_by_id_and_by_any_spelling(ds, con):
    found = rows(ds, "person", person="tohir-yoldashev")
    by_kind = {}
    for r in found:
        by_kind.setdefault(r["kind"], set()).add(r["link"])
    assert by_kind["membership"] == {f"/imu/memberships/{i}" for i in scalar_set(
        con, "select id from memberships where person_id = 'tohir-yoldashev'")}
    assert by_kind["event"] == {f"/imu/events/{i}" for i in scalar_set(
        con, "select event_id from event_people where person_id = 'tohir-yoldashev'")}
    assert by_kind["claim"] == {f"/imu/claims/{i}" for i in scalar_set(con, """
        select id from claims where person_id = 'tohir-yoldashev'
        or membership_id in (select id from memberships where person_id = 'tohir-yoldashev')
        or event_person_id in (select id from event_people where person_id = 'tohir-yoldashev')""")}
    assert all(r["quote"] and r["source"] for r in found if r["kind"] == "claim")
    for spelling in ("Yuldashev", "Tahir Yuldashev", "Yo'ldashev", "tohir yoldashev"):
        assert rows(ds, "person", person=spelling) == found, spelling
    assert rows(ds, "person") == []


def test_disputes_canned_query_shadows_the_view(ds, con):
    """/imu/disputes is the canned query; the view stays in the database, same rows."""
    found = rows(ds, "disputes")
    view = scalar_set(con, "select claim_id from disputes")
    assert {r["link"] for r in found} == {f"/imu/claims/{c}" for c in view}
    assert all(r["quote"] and r["source"] and r["position"] for r in found)
    per_topic = {}
    for r in found:
        per_topic.setdefault(r["dispute_id"], set()).add(r["position"])
    assert per_topic and all(len(p) > 1 for p in per_topic.values())
    page = get(ds, "/imu/disputes").text
    assert "Disputes - where the sources disagree" in page
    assert get(ds, "/imu.json", sql="select count(*) as n from disputes", _shape="array").json()[0]["n"] == len(view)


def test_claims_by_source(ds, con):
    document = con.execute("select id from sources where document is not null order by id limit 1").fetchone()[0]
    found = rows(ds, "claims_by_source", source=document)
    assert {r["link"] for r in found} == {f"/imu/claims/{i}" for i in scalar_set(
        con, "select id from claims where source_id = ?", document)}
    cited = con.execute("select cited_source_id from claims where cited_source_id is not null "
                        "order by id limit 1").fetchone()[0]
    found = rows(ds, "claims_by_source", source=cited)
    assert {r["how"] for r in found} == {"cites it"}
    assert len(found) == con.execute("select count(*) from claims where cited_source_id = ?", [cited]).fetchone()[0]
    everything = rows(ds, "claims_by_source")
    n = con.execute("select count(*) from claims").fetchone()[0]
    assert len(everything) == min(n, 1000)
    documents = [source_label(*r) for r in con.execute(
        "select title, publisher, author from sources where id in (select source_id from claims) "
        "order by published is null, published, id")]
    assert list(dict.fromkeys(r["source"] for r in everything)) == documents  # oldest first, each once
    for title in documents:
        offsets = [r["quote_offset"] for r in everything if r["source"] == title]
        assert None not in offsets, f"{title}: a claim whose place in its document is unknown"
        assert offsets == sorted(offsets), f"{title}: claims not in document order"


def test_quote_offsets_point_at_the_quotes(con):
    """Each claim's quote_offset is where its quote's first words stand in the document."""
    import quotes

    for document, in con.execute("select document from sources where document is not null"):
        text = quotes.reading_text(quotes.normalise((quotes.DOCS / document).read_text(encoding="utf-8")))
        for quote, offset in con.execute(
                "select quote, quote_offset from claims join sources s on s.id = source_id "
                "where s.document = ?", [document]):
            first = quotes.normalise(quote.split("...")[0] or quote.split("...")[1])
            assert text[offset:offset + len(first)] == first


def test_relations_both_directions(ds, con):
    found = rows(ds, "relations", group="imu")
    expected = scalar_set(con, "select id from group_relations where group_id = 'imu' or related_group_id = 'imu'")
    assert {r["link"] for r in found} == {f"/imu/group_relations/{i}" for i in expected}
    incoming = scalar_set(con, "select id from group_relations where related_group_id = 'imu'")
    assert {r["link"] for r in found if r["direction"] == "incoming"} == \
        {f"/imu/group_relations/{i}" for i in incoming}
    assert rows(ds, "relations") == found


def test_events_map_rows_and_popups(ds, con):
    mapped = scalar_set(con, "select id from events where latitude is not null and longitude is not null")
    found = rows(ds, "events_map")
    assert {r["id"] for r in found} == mapped
    imu = rows(ds, "events_map", group="imu", **{"from": "2009", "to": "2011"})
    assert {f"/imu/events/{r['id']}" for r in imu} == group_events(con, "imu", 2009, 2011) & \
        {f"/imu/events/{i}" for i in mapped}




def test_events_map_past_the_row_limit_keeps_the_earliest(db_path, metadata, settings, con):
    """The description and README promise: up to max_returned_rows, the earliest first."""
    small = make_datasette(db_path, metadata, {**settings, "max_returned_rows": 5})
    data = asyncio.run(small.client.get("/imu/events_map.json")).json()
    earliest = [r[0] for r in con.execute("select id from events where latitude is not null "
                                          "and longitude is not null order by date_start, id limit 5")]
    assert data["truncated"] is True
    assert [row[0] for row in data["rows"]] == earliest


@pytest.mark.parametrize("path", ["/imu/events_map", "/imu/events_map?group=imu&from=2009&to=2011&_show_sql=1"])
def test_map_page_table_has_every_row_without_the_popup(ds, path):
    """templates/query.html renders a query's rows in Python; every row is there, and each
    cell as Datasette renders it (the title links to the event), less the popup JSON."""
    ours = get(ds, path).text
    data = get(ds, path.replace("events_map", "events_map.json") + ("&" if "?" in path else "?") + "_shape=array").json()
    assert data and ours.count("<tr>") == len(data) + 1
    assert 'class="col-popup"' not in ours and 'class="col-link"' not in ours
    for row in data[:20]:
        link = f'<a href="/imu/events/{row["id"]}">{markupsafe.escape(row["title"])}</a>'
        assert link in ours
        assert f'<td class="col-latitude">{row["latitude"]}</td>' in ours

def test_event_popups(ds, con):
    for event in con.execute("select * from events"):
        popup = json.loads(event["popup"])
        assert popup["title"] == event["title"]
        assert popup["link"] == f"/imu/events/{event['id']}"
        description = popup["description"]
        assert (event["date_text"] or event["date_start"]) in description
        if event["place"]:
            assert event["place"] in description
        for figure in (event[k] for k in event.keys() if k.startswith("fatalities_") and k != "fatalities_text"):
            if figure is not None:
                assert str(figure) in description
    link = json.loads(con.execute("select popup from events order by id limit 1").fetchone()[0])["link"]
    assert get(ds, link).status_code == 200


# ---------------------------------------------------------------- row pages

def claims_quotes(con, where, *params):
    return [r[0] for r in con.execute(f"select quote from claims c where {where}", params)]


def assert_shows(page, texts, what):
    missing = [t for t in texts if str(markupsafe.escape(t)) not in page]
    assert not missing, f"{what}: not shown: {missing[:3]}"


def test_event_pages_show_participants_and_quotes(ds, con):
    for (event_id,) in con.execute("select id from events"):
        page = get(ds, f"/imu/events/{event_id}").text
        names = [r[0] for r in con.execute(
            "select g.name from event_groups x join groups g on g.id = x.group_id where x.event_id = ? "
            "union all select p.name from event_people x join people p on p.id = x.person_id "
            "where x.event_id = ?", (event_id, event_id))]
        quotes = claims_quotes(con, """c.event_id = ?1
            or c.event_group_id in (select id from event_groups where event_id = ?1)
            or c.event_person_id in (select id from event_people where event_id = ?1)""", event_id)
        sources = [r[0] for r in con.execute(
            "select s.title from claims c join sources s on s.id = c.source_id where c.event_id = ?", [event_id])]
        assert quotes, event_id
        assert_shows(page, names + quotes + sources, event_id)
        assert page.count('<div class="imu-claim"') == len(quotes)
        assert f"Claims: what the sources say ({len(quotes)})" in page


def test_person_pages(ds, con):
    for (person_id,) in con.execute("select id from people"):
        page = get(ds, f"/imu/people/{person_id}").text
        texts = [r[0] for r in con.execute("""
            select g.name from memberships m join groups g on g.id = m.group_id where m.person_id = ?1
            union all select e.title from event_people x join events e on e.id = x.event_id where x.person_id = ?1
            union all select alias from aliases where person_id = ?1""", [person_id])]
        texts += claims_quotes(con, """c.person_id = ?1
            or c.membership_id in (select id from memberships where person_id = ?1)
            or c.event_person_id in (select id from event_people where person_id = ?1)""", person_id)
        assert_shows(page, texts, person_id)


def test_group_pages(ds, con):
    for (group_id,) in con.execute("select id from groups"):
        page = get(ds, f"/imu/groups/{group_id}").text
        texts = [r[0] for r in con.execute("""
            select p.name from memberships m join people p on p.id = m.person_id where m.group_id = ?1
            union all select e.title from event_groups x join events e on e.id = x.event_id where x.group_id = ?1
            union all select g.name from group_relations r join groups g
              on g.id in (r.group_id, r.related_group_id) where ?1 in (r.group_id, r.related_group_id)
            union all select alias from aliases where group_id = ?1""", [group_id])]
        texts += claims_quotes(con, """c.group_id = ?1
            or c.membership_id in (select id from memberships where group_id = ?1)
            or c.relation_id in (select id from group_relations where ?1 in (group_id, related_group_id))
            or c.event_group_id in (select id from event_groups where group_id = ?1)""", group_id)
        assert_shows(page, texts, group_id)


# ---------------------------------------------------------------- README

def test_readme_has_a_working_example_for_every_canned_query(ds):
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"<http://127\.0\.0\.1:8001(/imu/(\w+)[^>]*)>", readme)
    named = {name for _, name in links}
    assert set(QUERIES) <= named, f"no README example for {set(QUERIES) - named}"
    for path, name in links:
        if name in QUERIES:
            json_path = path.replace(f"/imu/{name}", f"/imu/{name}.json", 1)
            r = get(ds, json_path + ("&" if "?" in json_path else "?") + "_shape=array")
            assert r.status_code == 200 and r.json(), path


def test_readme_is_right_about_the_referrer_policy(ds):
    """The README explains OpenStreetMap's blocked tiles by this header; check it is sent."""
    assert "Referrer-Policy: no-referrer" in (ROOT / "README.md").read_text()
    assert get(ds, "/imu/events_map").headers["referrer-policy"] == "no-referrer"
