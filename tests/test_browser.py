"""The site in a real browser: Debian's Chromium driven by Playwright, offline.

`live_server` runs `datasette serve` as `make serve` does; `page` aborts every
request that is not to 127.0.0.1 (so map tiles fail, and nothing else may).
Expected counts come from the built database.
"""
from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

import labels
from conftest import ROOT, serve_prod

# Markers plus the counts on cluster icons: every event with coordinates, once.
MARKER_TOTAL = """() => {
  let n = 0;
  for (const el of document.querySelectorAll('.leaflet-marker-icon')) {
    n += el.classList.contains('marker-cluster') ? parseInt(el.textContent, 10) : 1;
  }
  return n;
}"""


@pytest.fixture(scope="module")
def con(db_path):
    return sqlite3.connect(db_path)


def only_tiles_blocked(page):
    """Offline, only map tiles may be missing; everything else is served locally."""
    hosts = {urlsplit(u).hostname for u in page.blocked}
    return all(h.endswith("tile.openstreetmap.org") for h in hosts)


def test_make_serve_runs_the_tested_command():
    """`make serve` runs scripts/serve.py, whose Datasette command line is the one the
    tests' servers use (serve_prod.serve_command)."""
    dry = subprocess.run(["make", "-n", "serve"], cwd=ROOT, capture_output=True, text=True).stdout
    assert any(line.split()[1:] == ["scripts/serve.py", "--port", "8001"] for line in dry.splitlines()
               if "scripts/serve.py" in line), dry
    assert "serve_prod.serve_command(" in (ROOT / "scripts" / "serve.py").read_text()


def test_make_serve_serves_what_was_last_built(tmp_path, db_path):
    """A running `make serve` (scripts/serve.py) serves a rebuilt database within seconds:
    Datasette itself went on serving the file it opened."""
    import shutil
    import signal
    import sqlite3
    import time
    import urllib.request

    db = tmp_path / "imu.db"
    shutil.copy(db_path, db)  # the tests' build (a fresh clone has no imu.db of its own)
    port = serve_prod.free_port()
    inspect_file = tmp_path / "inspect.json"
    inspect_file.write_text("{}")  # as `make build` leaves one; made again on the rebuild
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "serve.py"), "--port", str(port),
                             "--db", str(db), "--inspect-file", str(tmp_path / "inspect.json")],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def title() -> str | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/imu/events/1999-tashkent-bombings.json?_shape=array",
                                        timeout=2) as r:
                return json.loads(r.read())[0]["title"]
        except OSError:
            return None

    try:
        deadline = time.monotonic() + 60
        while (old := title()) is None:
            assert time.monotonic() < deadline and proc.poll() is None, "serve.py did not start"
            time.sleep(0.2)
        rebuilt = tmp_path / "new.db"
        shutil.copy(db, rebuilt)
        with sqlite3.connect(rebuilt) as con:
            con.execute("update events set title = 'Rebuilt title' where id = '1999-tashkent-bombings'")
        os.replace(rebuilt, db)  # as build_db.py writes the database: a new file renamed into place
        # Datasette alone opens the new file for a new connection but keeps the old one's: the
        # restart (after the inspect file is made again) is what makes every answer the new one's
        deadline = time.monotonic() + 30
        while "imu" not in json.loads(inspect_file.read_text() or "{}"):
            assert time.monotonic() < deadline, "the inspect file was not made again"
            time.sleep(0.3)
        while title() != "Rebuilt title":
            assert time.monotonic() < deadline, f"still serving {title()!r}"
            time.sleep(0.3)
        assert old != "Rebuilt title"
        assert json.loads(inspect_file.read_text())["imu"]["tables"]["events"]["count"] > 0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    assert "was rebuilt: serving the new database" in proc.stderr.read()


def test_serving_installs_no_test_tools():
    """`make serve` installs what serving and the build need; the test tools come with
    `make test` only (they would add 165 MB to every deploy)."""
    import tomllib

    def pip_lines(target):
        dry = subprocess.run(["make", "-n", "-B", target], cwd=ROOT, capture_output=True, text=True).stdout
        return [line for line in dry.splitlines() if "pip install" in line]

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    serving = " ".join(project["dependencies"]).lower()
    for tool in ("pytest", "hypothesis", "playwright"):
        assert tool not in serving
        assert tool in " ".join(project["optional-dependencies"]["test"]).lower()
    assert pip_lines("serve") and not any("[test]" in line for line in pip_lines("serve"))
    assert any('".[test]"' in line for line in pip_lines("test"))


def test_make_test_stops_when_an_install_fails():
    """A failed apt install (its lock held by another process, say) ends `make test` with
    apt's message, before pytest runs: the run had carried on and ended in 48 errors."""
    failing_apt = "sh -c 'echo E: Could not get lock /var/lib/dpkg/lock-frontend >&2; exit 100' --"
    # -o: the installs into .venv count as done (they would run `PY` otherwise)
    run = subprocess.run(["make", "-o", ".venv/.installed", "-o", ".venv/.installed-test", "test",
                          "CHROMIUM=/nonexistent/chromium", f"APT_INSTALL={failing_apt}",
                          "PY=echo PYTEST-WOULD-RUN"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert "Could not get lock" in run.stderr and "could not install chromium" in run.stderr
    assert "PYTEST-WOULD-RUN" not in run.stdout


def test_home_page(page, live_server):
    page.goto(live_server + "/")
    assert "Islamic Movement of Uzbekistan" in page.title()
    for name in ("people", "groups", "events"):
        assert page.locator("table.imu-tables th a", has_text=name).first.is_visible()
    page.get_by_role("link", name="About the data").first.click()
    page.wait_for_url(f"{live_server}/about")
    assert page.locator("h1").inner_text() == "About the data"
    assert page.errors == [] and page.blocked == []


def test_home_search_box_forgives_spelling(page, live_server):
    page.goto(live_server + "/")
    page.fill("#imu-q", "Yo'ldashev")
    page.locator("#imu-q").press("Enter")
    page.wait_for_url(re.compile(r"/imu/search\?q=Yo"))
    assert page.locator(".imu-found li").first.inner_text().startswith("Tohir Yoldashev")
    assert page.errors == []


@pytest.mark.parametrize("path", ["/imu/events", "/imu/events_map"])
def test_map_shows_every_event_with_coordinates(page, live_server, con, path):
    expected = con.execute("select count(*) from events where latitude is not null "
                           "and longitude is not null").fetchone()[0]
    assert expected > 0
    page.goto(live_server + path)
    page.wait_for_selector(".leaflet-marker-icon")
    try:
        page.wait_for_function(f"({MARKER_TOTAL})() === {expected}", timeout=10_000)
    finally:
        assert page.evaluate(MARKER_TOTAL) == expected
    assert page.errors == []
    assert only_tiles_blocked(page)


def test_map_popup_shows_the_event(page, live_server, con):
    event_id, title, date_text, place = con.execute(
        "select id, title, date_text, place from events where latitude is not null "
        "and date_text is not null and place is not null order by id limit 1").fetchone()
    page.goto(f"{live_server}/imu/events?id={event_id}")
    page.locator(".leaflet-marker-icon").click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    text = popup.inner_text()
    assert title in text and date_text in text and place in text
    low, best, high = con.execute("select fatalities_low, fatalities_best, fatalities_high from events where id = ?",
                                  [event_id]).fetchone()
    assert (labels.toll(low, best, high) or "no death toll given") in text
    popup.locator("a").click()
    page.wait_for_url(f"{live_server}/imu/events/{event_id}")


def test_search_for_yuldashev_finds_the_person(page, live_server):
    page.goto(live_server + "/imu/search")
    page.fill("input[name=q]", "Yuldashev")
    page.locator("input[name=q]").press("Enter")
    page.wait_for_url(re.compile(r"q=Yuldashev"))
    first = page.locator(".imu-found li").first
    assert "Tohir Yoldashev" in first.inner_text()
    assert first.locator("mark").first.inner_text() == "Yuldashev"
    first.locator("a[href='/imu/people/tohir-yoldashev']").click()
    page.wait_for_url(re.compile(r"/imu/people/tohir-yoldashev$"))
    names = page.locator("section.imu-from-aliases-person_id")
    assert "Yuldashev" not in names.inner_text()  # a person's names are folded away
    names.locator("summary").click()
    assert names.inner_text().count("Yuldashev") >= 1
    assert page.errors == []


def test_disputes_lists_every_side(page, live_server, con):
    expected = con.execute("select count(*) from disputes").fetchone()[0]
    assert expected > 0
    page.goto(live_server + "/imu/disputes")
    assert page.locator("h1").inner_text().startswith("Disputes")
    assert page.locator("table.rows-and-columns tbody tr").count() == expected
    quote = con.execute("select quote from disputes order by dispute_id, position limit 1").fetchone()[0]
    assert quote in page.locator("table.rows-and-columns").inner_text()


def test_event_page_shows_its_quotes(page, live_server, con):
    event_id = con.execute("select event_id from claims where event_id is not null "
                           "group by event_id order by count(*) desc, event_id limit 1").fetchone()[0]
    quotes = [r[0] for r in con.execute("""
        select quote from claims where event_id = ?1
        or event_group_id in (select id from event_groups where event_id = ?1)
        or event_person_id in (select id from event_people where event_id = ?1)""", [event_id])]
    page.goto(f"{live_server}/imu/events/{event_id}")
    shown = page.locator(".imu-claim blockquote").all_text_contents()  # folded groups too
    assert sorted(s.strip("“”") for s in shown) == sorted(quotes)
    participants = page.locator("section.imu-from-event_groups-event_id li, "
                                "section.imu-from-event_people-event_id li").count()
    assert participants == con.execute(
        "select (select count(*) from event_groups where event_id = ?1) + "
        "(select count(*) from event_people where event_id = ?1)", [event_id]).fetchone()[0]
    assert page.errors == []


# ---------------------------------------------------------------- a journalist's first visit

def test_table_rows_show_on_the_first_screen(page, live_server):
    """At 1280x900 the first row of events is on screen, with the codebook folded away."""
    page.goto(live_server + "/imu/events")
    top = page.locator("table.rows-and-columns tbody tr").first.bounding_box()["y"]
    assert top < 900 - 40
    assert not page.locator("dl.column-descriptions").is_visible()
    page.locator("details.imu-codebook-short summary").click()
    assert page.locator("details.imu-codebook-short dd").first.is_visible()
    assert page.errors == []


@pytest.mark.parametrize("path", ["/", "/imu/groups/imu", "/imu/claims/{claim}", "/imu/events/{event}",
                                  "/imu/search?q=Rasht", "/imu/events_map", "/about",
                                  "/imu/network?group=imu&year=2000", "/imu/events_per_year"])
def test_phone_width_stays_readable(browser, live_server, con, path):
    """At 390 px nothing is wider than the screen, so nothing needs sideways scrolling."""
    from conftest import local_only_page

    claim = con.execute("select id from claims where dispute_id is not null order by length(quote) desc").fetchone()[0]
    event = con.execute("select id from events order by length(description) desc").fetchone()[0]
    page = local_only_page(browser, width=390, height=844)
    try:
        page.goto(live_server + path.format(claim=claim, event=event))
        page.wait_for_load_state("networkidle")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path}: {width} px wide"
        assert page.locator("h1").first.bounding_box()["width"] <= 390
    finally:
        page.close()


# Every table page a reader reaches, and query pages whose columns the site trims.
LABELLED = ["/imu/events", "/imu/memberships", "/imu/group_relations", "/imu/claims", "/imu/aliases",
            "/imu/groups", "/imu/people", "/imu/sources", "/imu/event_groups", "/imu/event_people",
            "/imu/dispute_topics", "/imu/timeline?group=imu", "/imu/relations?group=imu", "/imu/as_of?group=imu&year=2011"]


@pytest.mark.parametrize("path", LABELLED)
def test_phone_cells_are_labelled_with_their_own_column(browser, live_server, path):
    """At 390 px a table's rows stack, each cell under a label: its own column's heading,
    whatever columns the site leaves out or moves."""
    from conftest import local_only_page

    page = local_only_page(browser, width=390, height=844)
    try:
        page.goto(live_server + path)
        found = page.evaluate("""() => {
            const heads = [...document.querySelectorAll("table.rows-and-columns thead th")]
                .map((th) => th.textContent.replace(/[\\u25b2\\u25bc\\u00a0]/g, "").trim());
            const cells = [...document.querySelectorAll("table.rows-and-columns tbody tr:first-child td")];
            return cells.map((td, i) => [getComputedStyle(td, "::before").content.replace(/^"|"$/g, ""), heads[i]]);
        }""")
        assert found, path
        assert [label for label, _ in found] == [head for _, head in found], path
    finally:
        page.close()


def test_task_what_happened_in_the_rasht_valley_in_2010(page, live_server, con):
    """From the home page alone: find the 2010 Rasht Valley events, and who says what about
    the death toll of the sweeps."""
    page.goto(live_server + "/")
    page.fill("#imu-q", "Rasht")
    page.locator("#imu-q").press("Enter")
    page.wait_for_url(re.compile(r"q=Rasht"))
    events = con.execute("select id, title from events where id like '2010-rasht%' order by id").fetchall()
    assert len(events) == 2
    kinds = page.locator(".imu-found").evaluate_all("(all) => all.map((s) => s.id)")
    assert kinds.index("found-event") < kinds.index("found-claim")  # events above claims
    found = page.locator("#found-event li").all_inner_texts()
    for _, title in events:
        assert any(row.startswith(title) for row in found), title
    sweeps_id, sweeps = next(e for e in events if "sweeps" in e[0])
    page.get_by_role("link", name=sweeps).first.click()
    page.wait_for_url(f"{live_server}/imu/events/{sweeps_id}")
    assert page.locator("h1").inner_text() == sweeps
    body = page.locator("section.content").inner_text()
    assert "2010" in page.locator("dl.imu-profile dt:text-is('When') + dd").inner_text()
    for position, quote in con.execute("select position, quote from claims where dispute_id = 'rasht-sweeps-casualties'"):
        assert position in body and quote in body
    page.get_by_role("link", name=re.compile("How many Tajik soldiers died")).first.click()
    page.wait_for_url(re.compile(r"/imu/dispute_topics/rasht-sweeps-casualties$"))
    sides = page.locator("details.imu-claim-group summary").all_inner_texts()
    expected = {r[0] for r in con.execute("select position from claims where dispute_id = 'rasht-sweeps-casualties'")}
    assert {s.split("Side: ", 1)[1].rsplit(" (", 1)[0] for s in sides} == expected
    assert page.errors == []


def test_task_from_a_claim_to_its_source_and_its_fact(page, live_server, con):
    """From any claim, one click to its source and one to the fact it supports."""
    page.goto(live_server + "/imu/claims")
    page.locator("table.rows-and-columns tbody tr td.col-id a").first.click()
    page.wait_for_url(re.compile(r"/imu/claims/[^/?]+$"))
    claim_id = page.url.rsplit("/", 1)[1]
    source_id, subject_type, subject_id = con.execute(
        "select source_id, subject_type, subject_id from claims where id = ?", [claim_id]).fetchone()
    page.locator("dd.imu-field-source_id a").first.click()
    page.wait_for_url(f"{live_server}/imu/sources/{source_id}")
    assert page.locator(f"#claim-{claim_id}").count() == 1  # the source lists it
    page.go_back()
    page.locator("dl.imu-fields dt", has_text="Supports").wait_for()
    page.locator("dl.imu-fields dd a[href^='/imu/%s/']" % subject_type).first.click()
    page.wait_for_url(f"{live_server}/imu/{subject_type}/{subject_id}")
    assert page.locator(f"#claim-{claim_id}").count() == 1  # the fact lists it
    assert page.errors == []


def test_task_which_groups_the_imu_allied_with_and_when(page, live_server, con):
    """From the home page: groups, then the IMU, then its relations, read with their dates."""
    page.goto(live_server + "/")
    page.locator("ul.imu-ways a").get_by_text("Groups", exact=True).click()
    page.get_by_role("link", name="Islamic Movement of Uzbekistan", exact=True).first.click()
    page.wait_for_url(f"{live_server}/imu/groups/imu")
    shown = set()
    for section in ("group_relations-group_id", "group_relations-related_group_id"):
        for item in page.locator(f"section.imu-from-{section} li").all_inner_texts():
            if "allied with" in item:
                shown.add(item)
    expected = con.execute("""select count(*) from group_relations
        where relation = 'ally' and 'imu' in (group_id, related_group_id)""").fetchone()[0]
    assert expected and len(shown) == expected
    for group_name, start in con.execute("""select g.name, r.date_start from group_relations r
            join groups g on g.id = case r.group_id when 'imu' then r.related_group_id else r.group_id end
            where r.relation = 'ally' and 'imu' in (r.group_id, r.related_group_id)"""):
        item = next(i for i in shown if re.match(rf"(allied with {re.escape(group_name)}|{re.escape(group_name)} allied with)( ·|$)", i))
        if start:
            assert start[:4] in item, item  # when: the year it began, in words
    assert page.errors == []


# Reader pages (canned queries) and what answers on each.
READER = [("/imu/search?q=Namangani", ".imu-found li"),
          ("/imu/timeline?group=imu", "table.rows-and-columns tbody tr"),
          ("/imu/person?person=tohir-yoldashev", "table.rows-and-columns tbody tr"),
          ("/imu/relations?group=imu", "table.rows-and-columns tbody tr"),
          ("/imu/disputes", "table.rows-and-columns tbody tr"),
          ("/imu/as_of?group=imu&year=2011", "table.rows-and-columns tbody tr"),
          ("/imu/events_map", ".leaflet-container"),
          ("/imu/network?group=imu", "#imu-graph"),
          ("/imu/events_per_year", "#imu-chart-plot")]


@pytest.mark.parametrize("width, height", [(1280, 900), (390, 844)])
@pytest.mark.parametrize("path, answer", READER)
def test_reader_pages_answer_on_the_first_screen(browser, live_server, path, answer, width, height):
    """The answer starts on the first screen; above it, the title, one line of explanation
    (two at most on a desktop) and the question's fields; the rest of the explanation and
    the SQL are folded below the answer."""
    from conftest import local_only_page

    page = local_only_page(browser, width=width, height=height)
    try:
        page.goto(live_server + path)
        page.wait_for_selector(answer, state="visible")
        top = page.locator(answer).first.bounding_box()["y"]
        assert top < height - 40, f"{path}: the answer starts at {top} px"
        lede = page.locator(".imu-lede")
        assert lede.count() == 1
        if width > 600:
            line = float(lede.evaluate("(el) => parseFloat(getComputedStyle(el).lineHeight) || 24"))
            assert lede.bounding_box()["height"] <= 2 * line + 2, path
        assert not page.locator("#sql-query").is_visible()
        how = page.locator("details.imu-how")
        assert how.bounding_box()["y"] > top
        how.locator("summary").click()
        assert page.locator("#sql-query").is_visible()
        assert "select" in page.locator("#sql-query").inner_text().lower()
    finally:
        page.close()


class Clicks:
    """A reader's path through the site, counted: each step is one click on a visible link."""

    def __init__(self, page):
        self.page, self.count = page, 0

    def on(self, locator):
        locator.scroll_into_view_if_needed()
        assert locator.is_visible()
        with self.page.expect_navigation():
            locator.click()
        self.count += 1


def test_journalist_when_did_the_imu_pledge_to_the_islamic_state_and_do_sources_agree(page, live_server, con):
    """Home, the disputes, the question: its sides side by side, each quote with its source."""
    question = con.execute("select question from dispute_topics where id = 'imu-pledge-date'").fetchone()[0]
    path = Clicks(page)
    page.goto(live_server + "/")
    path.on(page.locator("ul.imu-ways").get_by_role("link", name="Disputes", exact=True))
    path.on(page.get_by_role("link", name=question, exact=True))
    assert path.count <= 3 and page.locator("h1").inner_text() == question
    sides = con.execute("""select c.position, c.quote, s.publisher from claims c join sources s on s.id = c.source_id
        where c.dispute_id = 'imu-pledge-date'""").fetchall()
    assert len({p for p, _, _ in sides}) >= 2  # the sources do not agree
    for position, quote, publisher in sides:
        side = page.locator("details.imu-claim-group", has=page.locator("summary", has_text=position))
        assert side.locator(f"blockquote:has-text({quote[:40]!r})").first.is_visible(), position
        if publisher:
            assert publisher in side.inner_text()
    assert page.errors == []


def test_journalist_who_led_the_imu_after_yoldashev(page, live_server, con):
    """Home, groups, the IMU: its leaders over time on the first screen, Yoldashev's
    successors after him, each with when the sources place them."""
    path = Clicks(page)
    page.goto(live_server + "/")
    path.on(page.locator("ul.imu-ways").get_by_role("link", name="Groups", exact=True))
    path.on(page.get_by_role("link", name="Islamic Movement of Uzbekistan", exact=True).first)
    assert path.count <= 3
    leaders = page.locator("dl.imu-profile dt:text-is('Leaders over time') + dd li")
    assert leaders.first.bounding_box()["y"] < 900
    shown = leaders.all_inner_texts()
    yoldashev = next(i for i, t in enumerate(shown) if t.startswith("Tohir Yoldashev (leader)"))
    after = [t.split(" (")[0] for t in shown[yoldashev + 1:]]
    # Who the records name as leader after him, next in the list: leaderships that begin no
    # earlier than the month his ended.
    expected = [name for (name,) in con.execute("""select p.name from memberships m join people p on p.id = m.person_id
        where m.group_id = 'imu' and m.role = 'leader' and coalesce(m.date_start, m.reported_start) >= (
          select substr(date_end, 1, 7) from memberships
          where group_id = 'imu' and person_id = 'tohir-yoldashev' and role = 'leader')
        order by m.time_order""")]
    assert expected and [name for name in after if name in expected] == expected, (after, expected)
    assert after[0] == expected[0], after
    assert page.errors == []


def test_journalist_which_attacks_were_in_tajikistan(page, live_server, con):
    """Home, events, attacks, Tajikistan: the attacks there, named, with their dates."""
    path = Clicks(page)
    page.goto(live_server + "/")
    path.on(page.locator("ul.imu-ways").get_by_role("link", name="Events", exact=True))
    path.on(page.locator("#facet-event_category").get_by_role("link", name="attack", exact=True))
    path.on(page.locator("#facet-country").get_by_role("link", name="Tajikistan", exact=True))
    assert path.count <= 3
    expected = {t for (t,) in con.execute("select title from events where event_category = 'attack' and country = 'TJ'")}
    assert expected
    titles = set(page.locator("table.rows-and-columns tbody td.col-title").all_inner_texts())
    assert titles == expected
    assert page.errors == []


@pytest.mark.parametrize("width, height", [(1280, 900), (390, 844)])
@pytest.mark.parametrize("path, first", [("/imu/events/2010-rasht-valley-security-sweeps", "When"),
                                         ("/imu/events/2015-imu-pledges-allegiance-to-islamic-state", "Who"),
                                         ("/imu/groups/imu", "Leaders over time"),
                                         ("/imu/people/tohir-yoldashev", "Roles over time")])
def test_record_pages_open_with_their_profile(browser, live_server, path, first, width, height):
    """An event's what, when and who, a group's leaders and a person's roles start on the
    first screen, in words; the raw fields are folded below, one click away."""
    from conftest import local_only_page

    page = local_only_page(browser, width=width, height=height)
    try:
        page.goto(live_server + path)
        line = page.locator(f"dl.imu-profile dt:text-is({first!r})")
        assert line.bounding_box()["y"] < height - 40, path
        assert not page.locator("dl.imu-fields").is_visible()
        page.locator("details.imu-all-fields summary").click()
        assert page.locator("dl.imu-fields").is_visible()
        assert page.errors == []
    finally:
        page.close()
