"""The network and the events chart in a real browser (Debian's Chromium, offline: every
request not to 127.0.0.1 is aborted). What the pictures draw is compared with the records,
worked out in Python (tests/test_pictures.py), not with the page's own query."""
from __future__ import annotations

import re

import pytest

import labels

from test_pictures import expected_events, expected_network, neighbourhood

LINE = {"holds": "solid", "may hold": "dashed", "undated": "dotted", "dated": "solid"}
DRAWN = """() => window.imuNetwork.edges().filter(e => !e.hasClass('imu-hidden')).map(e => ({
  id: e.data('relation_id'), status: e.data('status'), line: e.style('line-style'),
  colour: e.style('line-color'), from: e.source().data('group_id'), to: e.target().data('group_id')}))"""
NODES = "() => window.imuNetwork.nodes().filter(n => !n.hasClass('imu-hidden')).map(n => n.data('group_id'))"



def open_network(page, url, year=None):
    page.goto(url)
    page.wait_for_selector("#imu-network[data-state=drawn]")
    if year is not None:
        set_year(page, year)


def set_year(page, year):
    """Move the year control as a reader would (keyboard on the slider), to `year`."""
    slider = page.locator("#imu-year")
    slider.focus()
    current = int(slider.input_value())
    if current == year:  # "all years" stands at the last year: step off and back
        slider.press("ArrowLeft")
        current -= 1
    key = "ArrowRight" if year > current else "ArrowLeft"
    for _ in range(abs(year - current)):
        slider.press(key)
    page.wait_for_function(f"() => document.getElementById('imu-network').dataset.year === '{year}' "
                           "&& document.getElementById('imu-network').dataset.state === 'drawn'")


@pytest.mark.parametrize("year", [2000, 2008, 2015])
def test_network_draws_the_relations_of_the_year(page, live_server, con, year):
    open_network(page, f"{live_server}/imu/network?group=imu", year)
    drawn = page.evaluate(DRAWN)
    want = expected_network(con, year, neighbourhood(con, "imu"))
    assert {e["id"]: e["status"] for e in drawn} == want
    for e in drawn:
        assert e["line"] == LINE[e["status"]], e
    ends = {g for e in drawn for g in (e["from"], e["to"])}
    assert set(page.evaluate(NODES)) == ends | {"imu"}
    assert page.errors == [] and page.blocked == []


def test_whole_network_and_its_legend(page, live_server, con):
    open_network(page, f"{live_server}/imu/network?year=2001")
    drawn = page.evaluate(DRAWN)
    assert {e["id"] for e in drawn} == set(expected_network(con, 2001))
    # each relation type its own colour, as the legend shows it
    legend = {el.get_attribute("data-relation"): el.get_attribute("data-colour")
              for el in page.locator("input[data-relation]").all()}
    assert len(legend) == 10 and len(set(legend.values())) == 10
    # relations in the words every other page uses, not their codes
    said = {el.get_attribute("data-relation"): " ".join(el.locator("xpath=..").inner_text().split())
            for el in page.locator("input[data-relation]").all()}
    assert said == {r: labels.code_words("relation", r) for r in legend}, said
    colours = page.evaluate("() => Object.fromEntries(window.imuNetwork.edges().map(e => [e.data('relation'), e.style('line-color')]))")
    assert len(set(colours.values())) == len(colours)
    assert page.locator("#imu-network-count").inner_text().startswith("In 2001:")


def test_clicking_a_line_shows_its_quotes(page, live_server, con):
    open_network(page, f"{live_server}/imu/network?group=imu&year=2000")
    relation = "imu-ally-taliban"
    point = page.evaluate(f"""() => {{
      const e = window.imuNetwork.edges().filter(x => x.data('relation_id') === '{relation}')[0];
      const box = document.getElementById('imu-graph').getBoundingClientRect();
      const m = e.renderedMidpoint();
      return {{x: box.left + m.x, y: box.top + m.y}};
    }}""")
    page.mouse.click(point["x"], point["y"])
    page.wait_for_selector("#imu-edge-claims .imu-claim")
    panel = page.locator("#imu-edge-claims")
    text = " ".join(panel.inner_text().split())
    quotes = [r["quote"] for r in con.execute("select quote from claims where relation_id = ?", (relation,))]
    assert len(quotes) > 1
    for quote in quotes:
        assert " ".join(quote.split()) in text
    assert "Disputed:" in text  # the alliance's start is disputed
    assert panel.locator("h3").inner_text() == "Islamic Movement of Uzbekistan allied with Taliban"
    assert panel.locator("a", has_text="The relation's page").get_attribute("href") == f"/imu/group_relations/{relation}"
    assert panel.locator(".imu-claim").count() == len(quotes)
    assert page.errors == []


def test_who_the_imu_allied_with_before_2001_and_after_2014(page, live_server, con):
    """The question a new reader should answer from the picture alone: show only alliances,
    then look at the years before 2001 and after 2014 (the records end in 2015)."""
    open_network(page, f"{live_server}/imu/network?group=imu")
    for box in page.locator("input[data-relation]").all():
        if box.get_attribute("data-relation") != "ally":
            box.uncheck()

    def allies(year):
        set_year(page, year)
        out = {}
        for e in page.evaluate(DRAWN):
            if "imu" in (e["from"], e["to"]):
                other = e["to"] if e["from"] == "imu" else e["from"]
                out[con.execute("select name from groups where id = ?", (other,)).fetchone()[0]] = e["status"]
        return out

    first = int(page.locator("#imu-year").get_attribute("min"))
    before = {}
    for year in range(2000, first - 1, -1):
        for name, status in allies(year).items():
            before.setdefault(name, status)
    after = allies(2015)

    # the same question put to the records directly: the ties whose years, by relation_years,
    # reach before 2001 or into 2015
    def recorded(test):
        return {r["name"] for r in con.execute(
            "select g.name, r.first_year, r.last_year from relation_years r join groups g "
            "on g.id = case when r.group_id = 'imu' then r.related_group_id else r.group_id end "
            "where r.relation = 'ally' and 'imu' in (r.group_id, r.related_group_id)") if test(r)}
    assert set(before) == recorded(lambda r: (r["first_year"] or 0) <= 2000)
    assert set(after) == recorded(lambda r: (r["first_year"] or 0) <= 2015 <= (r["last_year"] or 9999))
    # Read off the picture: the Taliban solid on both sides (reported from 1998 to November
    # 2015); al-Qaeda solid before 2001 (the agreement of 1998-2001) and dashed in 2015 (last
    # reported in 2011, never said to have ended); the Islamic State only after 2014, the
    # documents first dating it in 2015; the Pakistani Taliban alliance of 2007-2009 in neither.
    assert before["Taliban"] == after["Taliban"] == "holds"
    assert before["Al-Qaeda"] == "holds" and after["Al-Qaeda"] == "may hold"
    assert "Islamic State" not in before and after["Islamic State"] == "holds"
    assert "Pakistani Taliban" not in before and "Pakistani Taliban" not in after
    page.locator("#imu-undated").uncheck()  # no alliance of the IMU is undated now
    assert set(allies(2015)) == {"Taliban", "Al-Qaeda", "Islamic State"}


def test_without_javascript_the_table_says_the_same(browser, live_server, con):
    context = browser.new_context(java_script_enabled=False)
    pg = context.new_page()
    pg.goto(f"{live_server}/imu/network?group=imu&year=2000")
    assert not pg.locator("#imu-network").is_visible()
    cells = pg.locator("table.rows-and-columns tbody tr").count()
    assert cells == len(expected_network(con, 2000, neighbourhood(con, "imu")))
    context.close()


@pytest.mark.parametrize("params", ["", "?group=imu", "?country=TJ"])
def test_chart_bars_match_the_counts(page, live_server, con, params):
    page.goto(f"{live_server}/imu/events_per_year{params}")
    page.wait_for_selector("#imu-chart[data-state=drawn]")
    group = "imu" if "group" in params else None
    country = "TJ" if "country" in params else None
    want = expected_events(con, group, country)
    bars = page.evaluate("""() => Array.from(document.querySelectorAll('#imu-chart-plot a')).map(a => ({
      href: a.getAttribute('href'), title: a.querySelector('title') ? a.querySelector('title').textContent : '',
      height: a.querySelector('rect') ? parseFloat(a.querySelector('rect').getAttribute('height')) : 0}))""")
    dated, shares = {}, {}
    for b in bars:
        m = re.match(r"(\d{4}), (\S+): ([\d.]+) (dated within the year|\(share of (\d+) events?)", b["title"])
        assert m, b
        key = (int(m[1]), m[2])
        assert b["height"] > 0
        if m[4].startswith("dated"):
            dated[key] = int(m[3])
        else:
            shares[key] = (float(m[3]), int(m[5]))
        assert b["href"].startswith("/imu/timeline?" if group else "/imu/events?"), b
        assert f"={m[1]}" in b["href"] and m[2] in b["href"]
    assert dated == {k: v[0] for k, v in want.items() if v[0]}
    want_shares = {k: (v[1], v[2]) for k, v in want.items() if v[1]}
    assert set(shares) == set(want_shares)
    for key, (share, wider) in want_shares.items():
        assert shares[key][1] == wider and shares[key][0] == pytest.approx(share, abs=0.011), key
    # heights: one event dated in a year is as tall as any other
    unit = {round(b["height"] / int(re.search(r": (\d+) dated", b["title"])[1]), 1)
            for b in bars if "dated within" in b["title"]}
    assert len(unit) == 1
    assert page.errors == [] and page.blocked == []


def test_a_bar_leads_to_its_events(page, live_server, con):
    page.goto(f"{live_server}/imu/events_per_year?country=UZ")
    page.wait_for_selector("#imu-chart[data-state=drawn]")
    bar = page.locator("#imu-chart-plot a", has=page.locator("title", has_text="1999, bombing")).first
    bar.click()
    page.wait_for_url(re.compile(r"/imu/events\?"))
    shown = page.locator("table.rows-and-columns tbody tr").count()
    want = con.execute("select count(*) from events where event_type = 'bombing' and country = 'UZ' "
                       "and date_start <= '1999-12-31' and date_end >= '1999-01-01'").fetchone()[0]
    assert shown == want > 0


def test_chart_colours_tell_its_types_apart(page, live_server, con):
    """Ten colours for thirty types would give several types one colour: the nine commonest
    get their own, the rest share "other types", and each bar's tooltip names its type."""
    page.goto(f"{live_server}/imu/events_per_year")
    page.wait_for_selector("#imu-chart[data-state=drawn]")
    legend = page.evaluate("""() => Array.from(document.querySelectorAll('#imu-chart-plot span[class$="-swatch"]'))
      .map(s => ({label: s.textContent.trim(), colour: s.querySelector('svg').getAttribute('fill')}))""")
    types = {r[0] for r in con.execute("select distinct event_type from events")}
    assert len(types) > 10 and len(legend) == 10
    assert len({s["colour"] for s in legend}) == 10
    assert legend[-1]["label"] == "other types" and {s["label"] for s in legend[:-1]} <= types
    fills = set(page.evaluate("""() => Array.from(document.querySelectorAll('#imu-chart-plot a rect'))
      .map(r => r.getAttribute('fill') || r.parentElement.getAttribute('fill'))"""))
    assert fills and fills <= {s["colour"] for s in legend}


# Each shown group's label box, in screen pixels, and the size its text is drawn at.
LABELS = """() => window.imuNetwork.nodes().filter(n => !n.hasClass('imu-hidden')).map(n => {
  const b = n.renderedBoundingBox({includeLabels: true, includeNodes: true, includeEdges: false});
  return {name: n.data('name'), x1: b.x1, x2: b.x2, y1: b.y1, y2: b.y2,
          px: parseFloat(n.style('font-size')) * window.imuNetwork.zoom()};
})"""


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("path", ["/imu/network", "/imu/network?year=2001", "/imu/network?year=2015",
                                  "/imu/network?group=imu", "/imu/network?group=imu&year=2000",
                                  "/imu/network?group=Taliban"])
def test_network_labels_are_readable_and_never_overlap(browser, live_server, path, width):
    """At 1280 px and on a phone, every group's name is drawn at 12 px or more, inside the
    box, and no two names (with their circles) cover each other."""
    from conftest import local_only_page

    page = local_only_page(browser, width=width, height=900 if width > 600 else 844)
    try:
        open_network(page, live_server + path)
        labels = page.evaluate(LABELS)
        box = page.locator("#imu-graph").bounding_box()
        assert labels
        for a in labels:
            assert a["px"] >= 12, a
            assert a["x1"] >= 0 and a["x2"] <= box["width"] and a["y1"] >= 0 and a["y2"] <= box["height"], a
        overlaps = [(a["name"], b["name"]) for i, a in enumerate(labels) for b in labels[i + 1:]
                    if a["x1"] < b["x2"] and b["x1"] < a["x2"] and a["y1"] < b["y2"] and b["y1"] < a["y2"]]
        assert overlaps == [], path
    finally:
        page.close()


@pytest.mark.parametrize("path, picture", [("/imu/network", "#imu-graph"), ("/imu/events_per_year", "#imu-chart-plot")])
def test_on_a_phone_the_picture_comes_first(browser, live_server, path, picture):
    """At 390x844 the picture starts on the first screen, above the page's explanation."""
    from conftest import local_only_page

    page = local_only_page(browser, width=390, height=844)
    try:
        page.goto(live_server + path)
        page.wait_for_selector("[data-state=drawn]")
        top = page.locator(picture).bounding_box()["y"]
        assert top < 844, top
        assert top < page.locator(".imu-lede").first.bounding_box()["y"]
    finally:
        page.close()


CLS_OBSERVER = """
window.imuShift = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if (!e.hadRecentInput) window.imuShift += e.value;
}).observe({ type: "layout-shift", buffered: true });
"""


@pytest.mark.parametrize("width, height", [(1280, 900), (390, 844)])
@pytest.mark.parametrize("path, drawn", [("/imu/network", "#imu-network[data-state=drawn]"),
                                         ("/imu/events_per_year", "#imu-chart[data-state=drawn]"),
                                         ("/imu/events_map", ".leaflet-marker-icon"),
                                         ("/imu/events_map?group=imu", ".leaflet-marker-icon")])
def test_a_picture_drawn_by_script_does_not_move_the_page(browser, live_server, path, drawn, width, height):
    """The network, the chart and the map have their room from the first paint: the text
    a reader has started on does not jump when they appear (cumulative layout shift under
    0.1, Lighthouse's "good")."""
    from conftest import local_only_page

    page = local_only_page(browser, width=width, height=height)
    try:
        page.add_init_script(CLS_OBSERVER)
        page.goto(live_server + path)
        page.wait_for_selector(drawn)
        page.wait_for_timeout(300)
        shift = page.evaluate("window.imuShift")
        assert shift < 0.1, f"{path} at {width} px: layout shift {shift:.3f}"
    finally:
        page.close()
