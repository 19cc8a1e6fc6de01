"""robots.txt and the sitemap (plugins/crawlers.py): record pages in, permutations out."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import labels
from test_queries import get

NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}


def allowed(robots: str, path: str) -> bool:
    """Google's reading of robots.txt: the longest matching rule wins, Allow on a tie;
    `*` matches anything and `$` ends the path."""
    best = (-1, True)
    for line in robots.splitlines():
        field, _, rule = line.partition(":")
        if field.strip().lower() not in ("allow", "disallow") or not rule.strip():
            continue
        rule = rule.strip()
        pattern = "^" + re.escape(rule).replace(r"\*", ".*").replace(r"\$", "$")
        if re.match(pattern, path):
            verdict = field.strip().lower() == "allow"
            if len(rule) > best[0] or (len(rule) == best[0] and verdict):
                best = (len(rule), verdict)
    return best[1]


def test_robots_lets_crawlers_index_records_not_permutations(ds, con):
    r = get(ds, "/robots.txt")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    robots = r.text
    event = con.execute("select id from events limit 1").fetchone()[0]
    for path in ("/", "/about", "/imu/events", f"/imu/events/{event}", "/imu/disputes", "/imu/groups/imu"):
        assert allowed(robots, path), path
    for path in ("/imu?sql=select+1", "/imu/events?_sort=title", "/imu/events?_facet=country",
                 "/imu/events?_next=100", "/imu/events?country=UZ", "/imu/timeline?group=imu",
                 "/imu/events.json", f"/imu/events/{event}.json", "/imu/events.csv",
                 "/imu/events.geojson", "/imu.db", "/-/metadata"):
        assert not allowed(robots, path), path
    assert re.search(r"^Sitemap: http://localhost/sitemap\.xml$", robots, re.M)


def test_sitemap_lists_every_record_page_once(ds, con):
    index = ET.fromstring(get(ds, "/sitemap.xml").content)
    files = [loc.text for loc in index.findall("s:sitemap/s:loc", NS)]
    assert files[0] == "http://localhost/sitemap-pages.xml"
    listed = []
    for url in files:
        r = get(ds, url.removeprefix("http://localhost"))
        assert r.status_code == 200 and "xml" in r.headers["content-type"]
        listed += [loc.text for loc in ET.fromstring(r.content).findall("s:url/s:loc", NS)]
    assert len(listed) == len(set(listed))
    expected = sum(con.execute(f"select count(*) from [{t}]").fetchone()[0] for t in labels.LABELS)
    records = [u for u in listed if re.match(r"^http://localhost/imu/[a-z_]+/[^/]+$", u)]
    assert len(records) == expected
    assert "http://localhost/" in listed and "http://localhost/about" in listed
    for url in records[:: max(1, len(records) // 25)]:
        assert get(ds, url.removeprefix("http://localhost")).status_code == 200


def test_a_sitemap_that_does_not_exist_is_a_404(ds):
    for path in ("/sitemap-events-99.xml", "/sitemap-nothing-0.xml", "/sitemap-search_index-0.xml"):
        assert get(ds, path).status_code == 404, path
