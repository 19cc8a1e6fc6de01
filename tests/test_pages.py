"""The site as a reference work: home, about, a page for every record, table and query pages.

Expectations come from the built database (its codebook and dataset_info too) and
metadata.yml (labels through labels.py's
SQL, which the pages use too), never typed in; the pages are read as HTML through Datasette.
"""
from __future__ import annotations

import collections
import hashlib
import html
import json
import re
from pathlib import Path

import datasette
import markupsafe
import pytest

import labels
from test_queries import get, imu_meta, user_tables

UPSTREAM = Path(datasette.__file__).parent / "templates"
# Datasette 0.65.5's templates that templates/ copies and changes: if upstream changes
# one, compare and carry the change over, then update the digest here.
COPIED = {
    "query.html": "bc3559df0e209da97d0bb46d0da5e36e02a9a561e4e473d1b79f62776786b435",
    "_table.html": "f75a8872713f28fdce49b9a44a397f26ba1b5db5e82a74dda1f20ec14faaaa57",
    "base.html": "bb22df33caea147e1db3b238878f2716ab698c81be89a66d9dabd5649e899dc2",
    "_facet_results.html": "622d3c764aa14f17f07714af7bbdee5719adfbce9cce5358fd3df3e2df137f30",
}


def page(ds, path) -> str:
    r = get(ds, path)
    assert r.status_code == 200, (path, r.status_code)
    return r.text


def text_of(markup: str) -> str:
    """Visible text, entities decoded and whitespace collapsed."""
    markup = re.sub(r"<(script|style)\b.*?</\1>", " ", markup, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def label(con, table, id) -> str:
    outgoing = {r["from"]: r["table"] for r in con.execute(f"pragma foreign_key_list([{table}])")}
    return con.execute(labels.label_select(table, outgoing) + " where t.id = ?", [id]).fetchone()["label"]


def esc(text: str) -> str:
    """As the templates escape it."""
    return str(markupsafe.escape(text))


def heading(markup: str) -> str:
    return text_of(re.search(r"<h1[^>]*>(.*?)</h1>", markup, re.S).group(1))


def title(markup: str) -> str:
    return html.unescape(re.search(r"<title>(.*?)</title>", markup, re.S).group(1)).strip()


def test_copied_templates_match_the_pinned_datasette():
    """A copied template silently loses upstream fixes; fail when the pinned copy changes."""
    for name, digest in COPIED.items():
        assert hashlib.sha256((UPSTREAM / name).read_bytes()).hexdigest() == digest, name


# ---------------------------------------------------------------- what every page says of itself

PAGE_TYPES = ["/", "/about", "/imu/search?q=Rasht", "/imu/events", "/imu/events/2010-rasht-valley-security-sweeps",
              "/imu/groups/imu", "/imu/people/tohir-yoldashev", "/imu/claims?_size=1", "/imu/sources/blog-2014-has-imu-returned",
              "/imu/dispute_topics/rasht-sweeps-casualties", "/imu/events_map", "/imu/network", "/imu/events_per_year",
              "/imu/as_of?group=imu&year=2011", "/imu?sql=select+1", "/imu/no-such-table"]


@pytest.mark.parametrize("path", PAGE_TYPES)
def test_every_page_says_its_language_and_what_it_is(ds, path):
    """For screen readers, search engines and link previews: the language, a description in
    plain words (no markup, none of it escaped twice) and Open Graph's title and description."""
    r = get(ds, path)
    assert r.status_code in (200, 404), path
    markup = r.text
    assert re.search(r'<html lang="en">', markup), path
    description = re.search(r'<meta name="description" content="([^"]*)">', markup)
    assert description and len(html.unescape(description[1])) >= 40, path
    assert "&lt;" not in description[1] and "<" not in html.unescape(description[1]), path
    og = dict(re.findall(r'<meta property="og:(\w+)" content="([^"]*)">', markup))
    assert og["title"] == re.search(r"<title>(.*?)</title>", markup, re.S)[1].strip(), path
    assert og["description"] == description[1] and og["type"] == "website", path


def test_a_record_page_is_described_by_its_own_words(ds, con):
    description = con.execute("select description from events where id = '2010-rasht-valley-security-sweeps'").fetchone()[0]
    markup = page(ds, "/imu/events/2010-rasht-valley-security-sweeps")
    said = html.unescape(re.search(r'<meta name="description" content="([^"]*)">', markup)[1])
    assert said.startswith("Event: Tajik security sweeps in the Rasht Valley. " + " ".join(description.split())[:100])


def test_the_home_page_describes_the_dataset_for_dataset_search(ds, con, dataset_info):
    """schema.org's Dataset: name, version, licence, the years and countries of the events,
    the five documents it is based on, and downloads that answer."""
    markup = page(ds, "/")
    data = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', markup, re.S)[1])
    assert data["@type"] == "Dataset" and data["name"] == dataset_info["title"]
    assert data["version"] == dataset_info["version"] and data["dateModified"] == dataset_info["records_date"]
    assert data["license"] == dataset_info["license_url"]
    first, last = con.execute("select min(substr(date_start, 1, 4)), max(substr(date_end, 1, 4)) from events").fetchone()
    assert data["temporalCoverage"] == f"{first}/{last}"
    countries = {r[0] for r in con.execute("select distinct country from events where country is not null")}
    assert len(data["spatialCoverage"]) == len(countries) and {"name": "Uzbekistan", "@type": "Place"} in data["spatialCoverage"]
    assert len(data["isBasedOn"]) == con.execute("select count(*) from sources where document is not null").fetchone()[0]
    for download in data["distribution"]:
        assert get(ds, download["contentUrl"].replace("http://localhost", "")).status_code == 200, download


@pytest.mark.parametrize("table, id", [("events", "2010-rasht-valley-security-sweeps"), ("groups", "imu"),
                                       ("memberships", "usmon-odil--imu--leader"), ("sources", "blog-2014-has-imu-returned")])
def test_every_record_page_says_how_to_cite_it(ds, con, dataset_info, table, id):
    """A complete citation, nothing left to fill in: the dataset, its version and date, the
    record's kind, name, table and id, and its permanent address."""
    markup = page(ds, f"/imu/{table}/{id}")
    section = re.search(r'<section class="imu-section imu-cite-record" id="cite">(.*?)</section>', markup, re.S)[1]
    cite = " ".join(html.unescape(re.sub(r"<[^>]+>", "", section)).split())  # as it reads, links inline
    kind = labels.KINDS[table].lower()
    assert (f"version {dataset_info['version']} (records as of {dataset_info['records_date']}), "
            f"{kind} “{label(con, table, id)}” (table {table}, id {id}), http://localhost/imu/{table}/{id}.") in cite


def test_the_dataset_citation_is_whole(ds, dataset_info):
    """No placeholder in the citation the database and the site give; the site adds its address."""
    assert "record id" not in dataset_info["citation"] and "<" not in dataset_info["citation"]
    for path in ("/", "/about"):
        assert f"{' '.join(dataset_info['citation'].split())} Online at http://localhost/" in text_of(page(ds, path))


def test_every_record_a_dispute_concerns_links_to_it(ds, con):
    """A record links every point in dispute that its claims take a side on, or that disputes
    a passage its claims quote: the IS pledge as an event is disputed where the relations
    quoting the same video are."""
    def disputed(table, id):
        markup = page(ds, f"/imu/{table}/{id}")
        found = re.search(r'<p class="imu-disputed-points">(.*?)</p>', markup, re.S)
        return set(re.findall(r'href="/imu/dispute_topics/([^"]+)"', found[1])) if found else set()

    assert "imu-is-pledge-who" in disputed("events", "2015-imu-pledges-allegiance-to-islamic-state")
    checked = 0
    for table, column in (("events", "event_id"), ("groups", "group_id"), ("people", "person_id"),
                          ("memberships", "membership_id"), ("group_relations", "relation_id")):
        own = collections.defaultdict(set)
        for id, dispute in con.execute(f"select {column}, dispute_id from claims where {column} is not null "
                                       "and dispute_id is not null"):
            own[id].add(dispute)
        for id, disputes in own.items():
            assert disputes <= disputed(table, id), (table, id)
            checked += 1
    assert checked >= 25  # every record with a disputed claim of its own


def test_the_home_page_leads_to_the_questions_in_dispute(ds, con):
    home = page(ds, "/")
    assert re.search(r'<a href="/imu/dispute_topics">Disputes</a>', home)
    listed = page(ds, "/imu/dispute_topics?_size=max")
    for (question,) in con.execute("select question from dispute_topics"):
        assert esc(question) in listed, question


def test_the_release_is_downloadable_from_the_home_and_about_pages(ds, db_path, dataset_info, tmp_path):
    """The release package of the database served, as `make release` makes it, byte for byte;
    no other version's, and no link where no release lies beside the database."""
    import release
    import yaml

    from conftest import ROOT, make_datasette

    name = f"imu-dataset-{dataset_info['version']}.zip"
    for path in ("/", "/about"):
        assert f'<a href="/{name}">{name}</a>' in page(ds, path), path
    r = get(ds, f"/{name}")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    made = release.build(db_path, tmp_path, check=False)
    assert r.content == (made.parent / f"{made.name}.zip").read_bytes()
    assert get(ds, "/imu-dataset-0.0.1.zip").status_code == 404
    bare = tmp_path / "bare" / "imu.db"
    bare.parent.mkdir()
    bare.write_bytes(db_path.read_bytes())
    other = make_datasette(bare, yaml.safe_load((ROOT / "metadata.yml").read_text()), {})
    assert name not in page(other, "/") and get(other, f"/{name}").status_code == 404


def test_codes_read_as_words_wherever_a_reader_sees_them(ds, con):
    """Country codes, event types, roles and relations in words on table pages, record pages,
    facets and query pages, the code itself on hover or beside; the JSON keeps the code."""
    table = page(ds, "/imu/events?country=TJ&_size=max")
    assert '<span class="imu-code" title="TJ">Tajikistan</span>' in table
    assert '<span class="imu-code" title="security-operation">security operation</span>' in table
    assert re.search(r'<li>Tajikistan &middot; \d+', table)  # the facet a filter selected
    assert re.search(r'<a href="[^"]*event_type=car-bombing">car bombing</a>', page(ds, "/imu/events"))
    record = page(ds, "/imu/events/2010-rasht-valley-security-sweeps")
    assert 'Tajikistan <span class="imu-raw">(TJ)</span>' in record
    assert "Russian Federation" in page(ds, "/imu/events?country=RU")
    timeline = page(ds, "/imu/timeline?group=imu&country=TJ")
    assert '<span class="imu-code" title="TJ">Tajikistan</span>' in timeline
    relations = page(ds, "/imu/group_relations?relation=splinter-of")
    assert '<span class="imu-code" title="splinter-of">a splinter of</span>' in relations
    rows = get(ds, "/imu/events.json", country="TJ", _shape="array").json()
    assert rows and {r["country"] for r in rows} == {"TJ"}


def test_a_reader_asks_for_attacks_in_tajikistan(ds, con):
    """event_category groups the fine types; attacks in Tajikistan are one facet and one filter away."""
    from schema import EVENT_CATEGORIES

    for event_type, category in con.execute("select event_type, event_category from events"):
        assert event_type in EVENT_CATEGORIES[category]
    rows = get(ds, "/imu/events.json", event_category="attack", country="TJ", _shape="array").json()
    expected = {r[0] for r in con.execute("select id from events where country = 'TJ' and event_type in "
                                          f"({', '.join('?' * len(EVENT_CATEGORIES['attack']))})",
                                          EVENT_CATEGORIES["attack"])}
    assert expected and {r["id"] for r in rows} == expected
    assert re.search(r'<a href="[^"]*event_category=attack">attack</a>', page(ds, "/imu/events"))


# ---------------------------------------------------------------- home and about

def test_home_page_says_what_it_is_and_gives_the_ways_in(ds, con, metadata, dataset_info):
    home = page(ds, "/")
    config = metadata["plugins"]["imu"]
    assert "{documents}" in config["summary"]  # what the records come from is the data's to say
    summary = " ".join(config["summary"].replace("{documents}", dataset_info["documents"]).split())
    assert summary in text_of(home) and "five public documents published 2010-2015" in summary
    assert len(re.findall(r"[.!?](\s|$)", summary)) == 2, "two sentences"
    assert re.search(r'<form[^>]+action="/imu/search"', home) and 'name="q"' in home
    for path in ("/imu/people", "/imu/groups", "/imu/events", "/imu/events_map", "/imu/timeline",
                 "/imu/disputes", "/imu/sources", "/about"):
        assert f'href="{path}' in home, path
    # Every table people see is listed, people and groups first, with its count.
    listed = re.findall(r'<th scope="row"><a href="/imu/(\w+)">', home)
    shown = set(user_tables(con)) - {"search_index"}
    assert set(listed) == shown and listed[:3] == ["people", "groups", "events"]
    for table in listed:
        count = con.execute(f"select count(*) from [{table}]").fetchone()[0]
        assert f'/imu/{table}">' in home and f"{count:,}" in home
    assert dataset_info["license_url"] in home and " ".join(dataset_info["citation"].split()) in text_of(home)
    assert f"Version {dataset_info['version']}, records as of {dataset_info['records_date']}." in text_of(home)


def test_home_search_box_finds_any_spelling(ds):
    data = get(ds, "/imu/search.json", q="Yo'ldashev", _shape="array").json()
    assert any(r["link"] == "/imu/people/tohir-yoldashev" for r in data[:3])


def test_about_page_is_the_codebook(ds, con, codebook):
    about = page(ds, "/about")
    tables = codebook
    shown = set(user_tables(con)) - {"search_index"}
    views = {r[0] for r in con.execute("select name from sqlite_master where type = 'view'")}
    for table in shown | views:
        section = re.search(rf'<section class="imu-codebook" id="table-{table}">(.*?)</section>', about, re.S)
        assert section, table
        body = text_of(section.group(1))
        assert " ".join(tables[table]["description"].split()) in body
        for column in (r[1] for r in con.execute(f"pragma table_info([{table}])")):
            assert f'id="{table}-{column}"' in section.group(1), f"{table}.{column}"
            assert " ".join(tables[table]["columns"][column].split()) in body
    for heading_text in ("How to read a row", "Dates are ranges", "Certainty", "Disputes", "Places",
                         "How to cite", "License"):
        assert heading_text in about
    documents = con.execute("select id, publisher from sources where document is not null").fetchall()
    assert len(documents) == 5
    for d in documents:
        assert label(con, "sources", d["id"]) in text_of(about)


def test_about_page_describes_every_ready_made_question(ds, metadata):
    """The pictures' data comes from canned queries anyone can call: the codebook page says
    what each one answers and takes."""
    about = page(ds, "/about")
    queries = metadata["databases"]["imu"]["queries"]
    assert {"network", "relation_claims", "events_per_year"} <= set(queries)
    for name, query in queries.items():
        section = re.search(rf'<section class="imu-codebook" id="query-{name}">(.*?)</section>', about, re.S)
        assert section, name
        assert f'href="/imu/{name}"' in section[1] and query["title"] in text_of(section[1])
        for param in query.get("params") or []:
            assert f"<code>{param}</code>" in section[1], (name, param)
        assert text_of(query["description_html"])[:60] in text_of(section[1]), name


@pytest.mark.parametrize("path", ["/", "/about", "/imu", "/imu/events", "/imu/groups/imu",
                                  "/imu/timeline?group=imu", "/imu/events_map", "/imu/nothing-here"])
def test_every_page_has_the_footer_and_about_leads_to_about(ds, path, metadata, dataset_info):
    r = get(ds, path)
    assert r.status_code in (200, 404)
    footer = re.search(r'<footer class="ft">(.*?)</footer>', r.text, re.S).group(1)
    assert dataset_info["license_url"] in footer and 'href="/about"' in footer
    assert f"version {dataset_info['version']}, records as of {dataset_info['records_date']}" in text_of(footer)
    assert 'href="/about#cite"' in footer and metadata["source_url"].replace("&", "&amp;") in footer
    about_links = re.findall(r'<a href="([^"]+)">\s*About', r.text)
    assert about_links and set(about_links) == {"/about"}


# ---------------------------------------------------------------- a page for every record

def one_id_per_table(con):
    """For each table, the record with the most foreign keys set (so every kind of link shows)."""
    for table in labels.LABELS:
        fks = [r["from"] for r in con.execute(f"pragma foreign_key_list([{table}])")]
        filled = " + ".join(f"([{c}] is not null)" for c in fks) or "id"
        yield table, con.execute(f"select id from [{table}] order by {filled} desc, id limit 1").fetchone()[0]


def record_path(table: str, id: str) -> str:
    """A record's page, its id tilde-encoded as Datasette reads it (a document's id has a dot)."""
    return labels.record_url(table, id)


def test_every_kind_of_record_has_a_named_page_with_labelled_links(ds, con):
    for table, id in one_id_per_table(con):
        markup = page(ds, record_path(table, id))
        name = label(con, table, id)
        assert heading(markup) == " ".join(name.split()), table
        assert title(markup).startswith(name[:100].rsplit(" ", 1)[0]), table
        assert labels.KINDS[table] in title(markup)
        row = con.execute(f"select * from [{table}] where id = ?", [id]).fetchone()
        for fk in con.execute(f"pragma foreign_key_list([{table}])"):
            value = row[fk["from"]]
            if value is None:
                continue
            link = f'<a href="{record_path(fk["table"], value)}">{esc(label(con, fk["table"], value))}</a>'
            assert link in markup, (table, fk["from"])
        assert id not in heading(markup) or id == name


def test_record_pages_leave_the_machinery_out(ds, con):
    for table, id in one_id_per_table(con):
        body = re.search(r'<dl class="imu-fields">(.*?)</dl>', page(ds, record_path(table, id)), re.S).group(1)
        for column in labels.MACHINERY | labels.DATE_PARTS:
            assert f"imu-field-{column}" not in body, (table, column)


def test_claim_page_shows_quote_source_fact_and_side(ds, con):
    claim = con.execute("""select c.*, s.published_text, s.url from claims c join sources s on s.id = c.source_id
        where c.dispute_id is not null and s.url is not null order by c.id limit 1""").fetchone()
    assert claim, "a disputed claim whose source has a URL"
    markup = page(ds, f"/imu/claims/{claim['id']}")
    text = text_of(markup)
    for part in (claim["quote"], claim["statement"], claim["certainty"], claim["published_text"],
                 claim["url"], claim["position"], label(con, "sources", claim["source_id"]),
                 label(con, "dispute_topics", claim["dispute_id"]),
                 label(con, claim["subject_type"], claim["subject_id"])):
        assert " ".join(part.split()) in text, part
    assert f'href="/imu/{claim["subject_type"]}/{claim["subject_id"]}"' in markup
    assert f'href="/imu/sources/{claim["source_id"]}"' in markup
    # The quote comes first.
    assert markup.index(esc(claim["quote"][:30])) < markup.index("Statement")


def test_source_page_lists_its_claims_in_document_order(ds, con):
    source = "stratfor-2010-tajikistan-sweeps"
    expected = [r[0] for r in con.execute(
        "select id from claims where source_id = ? order by quote_offset, id", [source])]
    assert len(expected) > 5
    markup = page(ds, f"/imu/sources/{source}")
    shown = re.findall(r'<div class="imu-claim" id="claim-([^"]+)">', markup)
    assert shown == expected


def test_group_page_links_timeline_relations_and_map(ds, con):
    markup = page(ds, "/imu/groups/imu")
    for path in ("/imu/timeline?group=imu", "/imu/relations?group=imu", "/imu/events_map?group=imu"):
        assert f'href="{path}"' in markup, path
    relations = con.execute("select count(*) from group_relations where group_id = 'imu'").fetchone()[0]
    section = re.search(r'imu-from-group_relations-group_id">(.*?)</section>', markup, re.S).group(1)
    assert section.count("<li>") == relations


def test_long_claim_lists_are_grouped_by_fact_and_fold(ds, con):
    markup = page(ds, "/imu/groups/imu")
    groups = re.findall(r'<details class="imu-claim-group"( open)?>\s*<summary>(.*?)</summary>', markup, re.S)
    assert len(groups) > 5
    first_open, first_title = groups[0]
    assert first_open and "Islamic Movement of Uzbekistan" in text_of(first_title)
    assert any(not is_open for is_open, _ in groups[1:]), "later groups start folded"
    total = con.execute("""select count(*) from claims where group_id = 'imu'
        or membership_id in (select id from memberships where group_id = 'imu')
        or relation_id in (select id from group_relations where group_id = 'imu' or related_group_id = 'imu')
        or event_group_id in (select id from event_groups where group_id = 'imu')""").fetchone()[0]
    assert markup.count('<div class="imu-claim"') == total


def test_event_page_lists_participants(ds, con):
    event = con.execute("select event_id from event_groups group by 1 order by count(*) desc limit 1").fetchone()[0]
    markup = page(ds, f"/imu/events/{event}")
    for table in ("event_groups", "event_people"):
        n = con.execute(f"select count(*) from {table} where event_id = ?", [event]).fetchone()[0]
        if n:
            section = re.search(rf'imu-from-{table}-event_id">(.*?)</section>', markup, re.S).group(1)
            assert section.count("<li>") == n


def test_a_death_and_a_first_record_link_to_the_record_that_places_them(ds, con):
    """'Died by' links to a death event naming the person killed (or its subject) on that
    day; 'In the records from' links to the group's formation or a record of that day."""
    people = con.execute("select id, died_by from people where died_by is not null").fetchall()
    assert people
    for person in people:
        dd = re.search(r'<dd class="imu-field-died_by">(.*?)</dd>', page(ds, f"/imu/people/{person['id']}"), re.S)
        event = re.search(r'the record of the death: <a href="/imu/events/([^"]+)"', dd.group(1)).group(1)
        assert con.execute("""select 1 from events e join event_people x on x.event_id = e.id
            where e.id = ? and x.person_id = ? and e.event_type = 'death' and x.role in ('killed', 'subject')
            and e.date_end = ?""", [event, person["id"], person["died_by"]]).fetchone(), person["id"]
    dd = re.search(r'<dd class="imu-field-first_dated">(.*?)</dd>', page(ds, "/imu/groups/imu"), re.S).group(1)
    event = re.search(r'its formation: <a href="/imu/events/([^"]+)"', dd).group(1)
    assert con.execute("""select 1 from events where id = ? and event_type = 'formation'
        and date_start = (select first_dated from groups where id = 'imu')""", [event]).fetchone()


def test_a_missing_record_is_a_404(ds):
    assert get(ds, "/imu/claims/no-such-claim").status_code == 404


# ---------------------------------------------------------------- table pages

def thead(markup):
    return re.findall(r'<th [^>]*data-column="([^"]+)"', markup)


@pytest.mark.parametrize("table", ["events", "claims", "aliases"])
def test_table_pages_leave_machinery_out_of_html_but_not_the_api(ds, con, table):
    markup = page(ds, f"/imu/{table}")
    shown = thead(markup)
    every = [r[1] for r in con.execute(f"pragma table_info([{table}])")]
    for column in labels.MACHINERY | labels.DATE_PARTS:
        assert column not in shown
    data = get(ds, f"/imu/{table}.json").json()
    assert data["columns"] == every
    assert '<dl class="column-descriptions">' not in markup or "display: none" in markup
    assert '<details class="imu-codebook-short">' in markup


def test_claims_table_shows_what_each_claim_supports_once(ds, con):
    markup = page(ds, "/imu/claims?_size=20")
    shown = thead(markup)
    for column in ("group_id", "event_id", "membership_id", "relation_id"):
        assert column not in shown
    assert shown[-1] == "supports"
    first = con.execute("select subject_type, subject_id from claims order by id limit 1").fetchone()
    assert f'<a href="/imu/{first[0]}/{first[1]}">' in markup


def test_popup_is_json_in_the_api(ds, con):
    data = get(ds, "/imu/events.json", _shape="array", _size=3).json()
    for row in data:
        assert isinstance(row["popup"], dict) and row["popup"]["link"] == f"/imu/events/{row['id']}"
    one = get(ds, f"/imu/events/{data[0]['id']}.json", _shape="array").json()
    assert isinstance(one[0]["popup"], dict)
    sql = get(ds, "/imu.json", sql="select popup from events limit 1", _shape="array").json()
    assert isinstance(sql[0]["popup"], dict)
    # Asking for other JSON columns is the user's choice, as Datasette's `_json` has it.
    raw = get(ds, "/imu/events.json", _shape="array", _size=1, _json="description").json()
    assert isinstance(raw[0]["popup"], str)
    # CSV keeps the text.
    csv = get(ds, "/imu/events.csv", _size=1).text
    assert '{""description""' in csv


def test_long_text_is_cut_in_tables_and_whole_on_the_record_page(ds, con):
    event = con.execute("select id, description from events order by length(description) desc limit 1").fetchone()
    assert len(event["description"]) > 200
    table = page(ds, f"/imu/events?id={event['id']}")
    cell = re.search(r'<td class="col-description[^"]*">(.*?)</td>', table, re.S).group(1)
    assert cell.endswith("…") and len(html.unescape(cell)) < 200
    record = text_of(page(ds, f"/imu/events/{event['id']}"))
    assert " ".join(event["description"].split()) in record


# ---------------------------------------------------------------- canned-query pages

def test_canned_query_pages_have_human_titles_and_label_links(ds, con, metadata):
    queries = imu_meta(metadata)["queries"]
    for name, query in queries.items():
        markup = page(ds, f"/imu/{name}")
        assert title(markup).startswith(query["title"]), name
        assert "select" not in title(markup).lower()
        assert heading(markup) == query["title"]
        columns = thead_query(markup)
        assert "link" not in columns, name
        assert "popup" not in columns
    timeline = page(ds, "/imu/timeline?group=imu")
    first = con.execute("""select e.id, e.title from events e where e.id in
        (select event_id from event_groups where group_id = 'imu') order by e.date_start, e.date_end, e.id limit 1""").fetchone()
    assert f'<a href="/imu/events/{first["id"]}">{esc(first["title"])}</a>' in timeline


def thead_query(markup):
    head = re.search(r"<thead>(.*?)</thead>", markup, re.S)
    return re.findall(r'<th class="col-[^"]*" scope="col">([^<]*)</th>', head.group(1)) if head else []


# ---------------------------------------------------------------- dates in words

def test_dates_read_as_their_precision_says(ds, con):
    event = con.execute("""select * from events where date_precision = 'year'
        and substr(date_start, 6) = '01-01' and substr(date_end, 6) = '12-31' order by id limit 1""").fetchone()
    year = event["date_start"][:4]
    table = page(ds, f"/imu/events?id={event['id']}")
    cell = re.search(r'<td class="col-date_start[^"]*">(.*?)</td>', table, re.S).group(1)
    assert text_of(cell) == year
    record = page(ds, f"/imu/events/{event['id']}")
    assert re.search(r'<dd class="imu-field-date_start">\s*' + year + " ", record)
    assert json.loads(event["popup"])["description"].startswith(year)


# ---------------------------------------------------------------- sources by publisher

def test_sources_are_named_by_publisher_wherever_they_appear(ds, con):
    source = con.execute("select * from sources where id = 'globalsecurity-imu-profile'").fetchone()
    name = label(con, "sources", source["id"])
    assert name.startswith(source["publisher"])
    escaped = esc(name)
    claim = con.execute("select id from claims where source_id = ? order by id limit 1", [source["id"]]).fetchone()[0]
    assert escaped in page(ds, f"/imu/claims/{claim}")
    assert escaped in page(ds, f"/imu/claims?source_id={source['id']}")
    assert escaped in page(ds, "/imu/groups/imu")
    assert heading(page(ds, f"/imu/sources/{source['id']}")) == name


def test_canned_queries_name_sources_by_publisher(ds, con):
    name = label(con, "sources", "globalsecurity-imu-profile")
    for query, params in (("timeline", {"group": "imu"}), ("relations", {"group": "imu"}),
                          ("claims_by_source", {"source": "globalsecurity-imu-profile"}),
                          ("person", {"person": "tohir-yoldashev"}), ("disputes", {})):
        found = get(ds, f"/imu/{query}.json", _shape="array", **params).json()
        text = json.dumps(found, ensure_ascii=False)
        assert name in text, query
        title = con.execute("select title from sources where id = 'globalsecurity-imu-profile'").fetchone()[0]
        assert text.count(title) == text.count(name), f"{query}: the title without its publisher"


# ---------------------------------------------------------------- record pages as profiles

def plain(markup: str) -> str:
    """Text as read: tags dropped without a space, entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", markup)).split())


def profile_of(markup: str) -> dict[str, str]:
    """{term: the line's markup} of a record page's profile."""
    found = re.search(r'<dl class="imu-profile">(.*?)</dl>', markup, re.S)
    if not found:
        return {}
    return dict(re.findall(r"<dt>(.*?)</dt>\s*<dd>(.*?)</dd>", found.group(1), re.S))


def disputed_about(con, table, id) -> dict[str, set[str]]:
    """{part: dispute ids} of the points in dispute about one part of a record, as the
    record's own claims (or the passages they quote) take a side on them."""
    subject = {"events": "event_id"}[table]
    rows = con.execute(f"""
        select d.concerns, d.id from dispute_topics d where d.concerns is not null and d.id in (
          select o.dispute_id from claims o join claims c on c.source_id = o.source_id and c.quote = o.quote
          where c.{subject} = ?1 or c.event_group_id in (select id from event_groups where event_id = ?1)
            or c.event_person_id in (select id from event_people where event_id = ?1))""", [id])
    out = collections.defaultdict(set)
    for part, dispute in rows:
        out[part].add(dispute)
    return out


PART_LINES = {"type": "What", "date": "When", "place": "Where", "fatalities": "Killed", "participants": "Who"}


def test_every_event_opens_with_what_when_where_who_and_its_toll(ds, con):
    """What, when (as its precision says), where (country in words), who in what role, the
    toll in words, each line naming the dispute about it; then the description."""
    from dates import row_phrase

    con.row_factory = __import__("sqlite3").Row
    marked = 0
    for e in con.execute("select * from events order by id").fetchall():
        markup = page(ds, f"/imu/events/{e['id']}")
        lines = profile_of(markup)
        assert list(lines)[:3] == ["What", "When", "Where"], e["id"]  # every event has a profile
        assert plain(lines["What"]).startswith(labels.code_words("event_type", e["event_type"]) or e["event_type"])
        assert plain(lines["When"]).startswith(row_phrase(e)), e["id"]
        if e["country"]:
            assert labels.code_words("country", e["country"]) in plain(lines["Where"])
        parts = con.execute("""select g.name, x.role from event_groups x join groups g on g.id = x.group_id where event_id = ?1
            union all select p.name, x.role from event_people x join people p on p.id = x.person_id where event_id = ?1""",
                            [e["id"]]).fetchall()
        who = plain(lines.get("Who", ""))
        for name, role in parts:
            assert f"{name} ({labels.code_words('role', role) or role})" in who, (e["id"], name)
        toll = labels.toll(e["fatalities_low"], e["fatalities_best"], e["fatalities_high"])
        if toll:
            assert plain(lines["Killed"]).startswith(toll), e["id"]
        else:
            assert ("Killed" in lines) == bool(e["fatalities_text"]), e["id"]
        for part, disputes in disputed_about(con, "events", e["id"]).items():
            for d in disputes:
                assert f'href="/imu/dispute_topics/{d}"' in lines[PART_LINES[part]], (e["id"], part, d)
                marked += 1
        if e["description"]:
            assert markup.index('<dl class="imu-profile">') < markup.index(f'<p class="imu-summary">{esc(e["description"])}')
    assert marked >= 5  # the toll, the date and who took part are disputed somewhere


LEADING = ("founder", "leader", "deputy-leader", "military-commander", "field-commander", "commander", "director")


def test_groups_and_people_show_leaders_roles_and_events_over_time(ds, con):
    """A group: its leaders in time order with their spans in words, and its events counted by
    year (each year linking to the timeline of that year); a person: every role, in time order."""
    import spans

    con.row_factory = __import__("sqlite3").Row
    order = "order by " + spans.order_sql("m.")
    for g in con.execute("select id from groups").fetchall():
        lines = profile_of(page(ds, f"/imu/groups/{g['id']}"))
        leaders = con.execute(f"""select p.name, m.* from memberships m join people p on p.id = m.person_id
            where m.group_id = ? and m.role in ({", ".join("?" * len(LEADING))}) {order}""", [g["id"], *LEADING]).fetchall()
        items = [plain(i) for i in re.findall(r"<li>(.*?)</li>", lines.get("Leaders over time", ""), re.S)]
        assert items == [f"{m['name']} ({labels.code_words('role', m['role']) or m['role']}) · {spans.row_phrase(m)}"
                         for m in leaders], g["id"]
        years = con.execute("""select substr(date_start, 1, 4), count(*) from events
            where id in (select event_id from event_groups where group_id = ?) group by 1""", [g["id"]]).fetchall()
        shown = re.findall(r"(?:>(\d{4})</a>|undated) \((\d+)\)", lines.get("Events by year", ""))
        assert sorted((y or None, int(n)) for y, n in shown) == sorted(((y, n) for y, n in years), key=lambda t: (t[0] is None, t))
        for year, _ in years:
            if year:
                assert f'href="/imu/timeline?group={g["id"]}&amp;from={year}&amp;to={year}"' in lines["Events by year"]
    for p in con.execute("select id from people").fetchall():
        lines = profile_of(page(ds, f"/imu/people/{p['id']}"))
        roles = con.execute(f"select m.id from memberships m where m.person_id = ? {order}", [p["id"]]).fetchall()
        links = re.findall(r'<li><a href="/imu/memberships/([^"]+)">', lines.get("Roles over time", ""))
        assert links == [r["id"] for r in roles], p["id"]
    # A span known only by its end comes before one that begins in its year: Yoldashev led the
    # IMU "until August 2009", Usmon Odil from August 2009 at the earliest.
    imu = [plain(i).split(" (")[0] for i in re.findall(r"<li>(.*?)</li>", profile_of(page(ds, "/imu/groups/imu"))["Leaders over time"], re.S)]
    assert imu.index("Tohir Yoldashev") < imu.index("Usmon Odil") < imu.index("Usman Ghazi")


def test_fields_fold_below_a_profile_and_names_fold_away(ds, con):
    """Events, groups and people: every field with its codebook description, folded below;
    a group's or person's names in the sources folded too. Other records keep their fields on top."""
    for table, id in [("events", "2010-rasht-valley-security-sweeps"), ("groups", "imu"), ("people", "tohir-yoldashev")]:
        markup = page(ds, f"/imu/{table}/{id}")
        folded = re.search(r'<details class="imu-section imu-all-fields">(.*?)</details>', markup, re.S)
        assert folded and '<dl class="imu-fields">' in folded.group(1), table
        described = column_descriptions_of(con, table)
        for column in re.findall(r'<dd class="imu-field-([a-z_]+)">', folded.group(1)):
            assert esc(described[column]) in folded.group(1), (table, column)
        if table != "events":
            assert re.search(r'<details class="imu-names"><summary><h2>Names in the sources \(\d+\)</h2></summary>', markup)
    claim = con.execute("select id from claims limit 1").fetchone()[0]
    markup = page(ds, f"/imu/claims/{claim}")
    assert "imu-all-fields" not in markup and '<dl class="imu-fields">' in markup


def column_descriptions_of(con, table) -> dict[str, str]:
    return {c: d for c, d in con.execute("select column_name, description from codebook where table_name = ?", [table])}


@pytest.mark.parametrize("low, best, high, said", [
    (16, None, 16, "16 killed"), (4, None, 9, "4 to 9 killed"), (80, 80, None, "at least 80 killed (best estimate 80)"),
    (None, None, 300, "up to 300 killed"), (None, 100, None, "about 100 killed"), (0, None, 0, "0 killed"),
    (1200, 1500, 2000, "1,200 to 2,000 killed (best estimate 1,500)"), (None, None, None, None)])
def test_a_toll_says_only_what_its_figures_say(low, best, high, said):
    """The one phrase of an event's figures, on its page and in its map popup."""
    assert labels.toll(low, best, high) == said
