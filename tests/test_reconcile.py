"""The OpenRefine reconciliation service (plugins/reconcile.py), against a running server:
queries sent as OpenRefine sends them (a form POST of `queries`), and by GET; every
spelling the dataset knows finds its record; bad requests get a clear 4xx."""
from __future__ import annotations

import json

import httpx
import pytest

PATH = "/imu/-/reconcile"


def post(live_server: str, queries: dict, **kwargs) -> httpx.Response:
    """As OpenRefine's StandardReconConfig sends a batch: a urlencoded form field `queries`."""
    return httpx.post(live_server + PATH, data={"queries": json.dumps(queries)}, timeout=30, **kwargs)


def results(response: httpx.Response, qid: str = "q0") -> list[dict]:
    assert response.status_code == 200, response.text
    return response.json()[qid]["result"]


def test_the_manifest_names_the_types_and_the_record_pages(live_server):
    r = httpx.get(live_server + PATH, timeout=30)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    m = r.json()
    assert m["versions"] == ["0.1", "0.2"] and "groups and people" in m["name"]
    assert {t["id"] for t in m["defaultTypes"]} == {"group", "person"}
    assert m["identifierSpace"] == f"{live_server}/imu/" and m["view"]["url"] == f"{live_server}/imu/{{{{id}}}}"
    # an id joined into the view URL is the record's page
    page = httpx.get(m["view"]["url"].replace("{{id}}", "people/tohir-yoldashev"), timeout=30)
    assert page.status_code == 200 and "Tohir Yoldashev" in page.text
    # readers find the service where the downloads are described
    assert f"<code>{live_server}{PATH}</code>" in httpx.get(live_server + "/about", timeout=30).text


@pytest.mark.parametrize("query, type_, expected, score", [
    ("Tahir Yuldashev", "person", "people/tohir-yoldashev", 100),  # an alias the documents use
    ("tohir yuldoshev", "person", "people/tohir-yoldashev", 95),  # a spelling none uses, the same folded
    ("Тахир Юлдашев", None, "people/tohir-yoldashev", 95),  # in Cyrillic
    ("IDU", "group", "groups/imu", 100),  # a group's alias (its Russian abbreviation)
    ("Daesh", None, "groups/islamic-state", 100),  # a common English name no document uses
])
def test_a_name_in_another_spelling_finds_its_record_first(live_server, query, type_, expected, score):
    found = results(post(live_server, {"q0": {"query": query, **({"type": type_} if type_ else {}),
                                              "type_strict": "should"}}))
    assert found[0]["id"] == expected and found[0]["score"] == score and found[0]["match"] is True
    assert all(found[0]["score"] > c["score"] for c in found[1:])


def test_every_spelling_of_the_dataset_finds_its_record(live_server, con):
    rows = con.execute("select coalesce('groups/' || group_id, 'people/' || person_id), alias from aliases "
                       "union all select 'groups/' || id, name from groups "
                       "union all select 'people/' || id, name from people").fetchall()
    owners: dict[str, set[str]] = {}
    for owner, spelling in rows:
        owners.setdefault(spelling.casefold(), set()).add(owner)
    spellings = sorted({spelling for _, spelling in rows})
    for start in range(0, len(spellings), 50):  # batches of at most MAX_QUERIES
        batch = {f"q{i}": {"query": s} for i, s in enumerate(spellings[start:start + 50])}
        answer = post(live_server, batch).json()
        for qid, q in batch.items():
            found = answer[qid]["result"]
            top = {c["id"] for c in found if c["score"] == 100}
            assert top == owners[q["query"].casefold()] and found[0]["id"] in top, q["query"]
            # matched without asking only when nothing else is as close
            sure = [c["id"] for c in found if c["score"] >= 95]
            assert [c["id"] for c in found if c["match"]] == (sure if len(sure) == 1 else []), q["query"]


def test_a_get_answers_as_a_post_does_and_a_type_filters(live_server):
    queries = {"q0": {"query": "Namangani", "limit": 3}, "q1": {"query": "Namangani", "type": "group"}}
    by_get = httpx.get(live_server + PATH, params={"queries": json.dumps(queries)}, timeout=30).json()
    assert by_get == post(live_server, queries).json()
    assert by_get["q0"]["result"][0]["id"] == "people/juma-namangani" and len(by_get["q0"]["result"]) <= 3
    assert all(c["type"][0]["id"] == "group" for c in by_get["q1"]["result"])
    assert "people/juma-namangani" not in {c["id"] for c in by_get["q1"]["result"]}


def test_nothing_like_any_name_gives_no_candidates(live_server):
    assert results(post(live_server, {"q0": {"query": "Zebras juggling xylophones"}})) == []


@pytest.mark.parametrize("send, status, words", [
    (lambda url: httpx.get(url + PATH, params={"queries": "[1"}), 400, "not JSON"),
    (lambda url: httpx.get(url + PATH, params={"queries": "{}"}), 400, "expected a JSON object"),
    (lambda url: post(url, {f"q{i}": {"query": "x"} for i in range(51)}), 400, "at most 50"),
    (lambda url: post(url, {"q0": {"query": "word " * 80}}), 400, "at most 300"),
    (lambda url: post(url, {"q0": {"query": "IMU", "limit": "many"}}), 400, "limit"),
    (lambda url: post(url, {"q0": {"nothing": 1}}), 400, "non-empty 'query'"),
    (lambda url: httpx.post(url + PATH, json={"queries": {}}), 415, "must be a form"),
    (lambda url: httpx.post(url + PATH, data={"queries": "x" * 70_000}), 413, "at most 65536"),
])
def test_a_bad_request_is_a_clear_4xx_in_json(live_server, send, status, words):
    r = send(live_server)
    assert r.status_code == status and words in r.json()["error"], r.text
    assert "Traceback" not in r.text


def test_only_the_service_takes_a_post(live_server):
    for path in ("/imu/events", "/imu", "/imu/-/reconcile/extra", "/-/reconcile"):
        assert httpx.post(live_server + path, data={"queries": "{}"}, timeout=30).status_code in (404, 405), path


def test_the_readme_reconciliation_snippet_runs(live_server, capsys):
    from test_ftm import using_elsewhere_snippets

    code = using_elsewhere_snippets()[1].replace("http://127.0.0.1:8001", live_server)
    exec(compile(code, "README.md reconciliation snippet", "exec"), {})
    assert capsys.readouterr().out == "Tohir Yoldashev 100.0 True\n"
