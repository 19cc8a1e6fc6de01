"""`make serve-prod`: nginx in front of Datasette replicas (scripts/serve_prod.py, prod/nginx.conf).

Started on a free 127.0.0.1 port over the test database, as `make serve-prod` starts it.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest

from conftest import ROOT, serve_prod_server

pytestmark = pytest.mark.serial  # timed or bounded: run alone (Makefile, `make test`)


def get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


@pytest.fixture(scope="module")
def prod(db_path, tmp_path_factory):
    """(URL, hashed route, run folder) of serve-prod with two replicas."""
    with serve_prod_server(db_path, tmp_path_factory.mktemp("prod"), replicas=2) as served:
        yield served


def test_pages_are_cached_by_the_proxy(prod):
    url, _, _ = prod
    first = get(url + "/imu/events?_cache_test=1")
    second = get(url + "/imu/events?_cache_test=1")
    assert first[0] == second[0] == 200 and first[2] == second[2]
    assert first[1]["X-Cache-Status"] == "MISS" and second[1]["X-Cache-Status"] == "HIT"


def gzipped(url: str):
    """(status, headers, body as sent, body unzipped) of a GET that accepts gzip."""
    import gzip

    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=30) as r:
        sent = r.read()
        plain = gzip.decompress(sent) if r.headers.get("Content-Encoding") == "gzip" else sent
        return r.status, dict(r.headers), sent, plain


@pytest.mark.parametrize("path", ["/imu/groups/imu", "/imu/network?group=imu&year=2000",
                                  "/-/static-plugins/imu/cytoscape.min.js", "/imu/events.json?_shape=array"])
def test_pages_and_scripts_are_compressed_and_keep_their_hashed_links(prod, path):
    """nginx compresses what it sends, after Datasette has rewritten the hashed links; a
    client that does not accept gzip gets the same page plain (one cached copy serves both)."""
    url, route, _ = prod
    status, headers, sent, plain = gzipped(url + path)
    assert status == 200 and headers.get("Content-Encoding") == "gzip", path
    assert len(sent) < len(plain) / 2, (path, len(sent), len(plain))
    assert plain == get(url + path)[2]  # uncompressed, for a client without gzip
    if path.startswith("/imu/groups"):
        assert f'href="/{route}/' in plain.decode() and 'href="/imu/' not in plain.decode()


def test_nginx_starts_without_alerts(prod):
    """Asking for more open files than the machine's hard limit (40,000 against 20,000
    here) printed `setrlimit(RLIMIT_NOFILE, 40000) failed` at each start."""
    _, _, run = prod
    log = (run.parent / "serve-prod.log").read_text()
    assert "[alert]" not in log and "[emerg]" not in log, log
    assert "worker_rlimit_nofile" in (run / "nginx.conf").read_text()


def test_the_release_is_downloadable(prod, db_path):
    """The release package beside the database, through the proxy, as make build leaves it."""
    import dataset

    url, _, _ = prod
    name = f"imu-dataset-{dataset.version()}.zip"
    assert f'href="/{name}"' in get(url + "/")[2].decode()
    status, headers, body = get(f"{url}/{name}")
    assert status == 200 and body == (db_path.parent / "dist" / name).read_bytes()


def test_the_download_is_not_compressed(prod):
    url, _, _ = prod
    assert "Content-Encoding" not in gzipped(url + "/imu.db")[1]


def test_the_download_is_a_static_file(prod, db_path):
    url, _, _ = prod
    status, headers, body = get(url + "/imu.db")
    assert status == 200 and body == db_path.read_bytes()
    assert "X-Cache-Status" not in headers and headers["Cache-Control"] == "public, max-age=3600"


def test_arbitrary_sql_is_rate_limited_per_client_and_pages_are_not(prod):
    url, _, _ = prod
    statuses = [get(f"{url}/imu.json?sql=select+{i}")[0] for i in range(25)]
    assert statuses[:10] == [200] * 10 and 429 in statuses
    assert all(get(f"{url}/imu/groups?_n={i}")[0] == 200 for i in range(25))


def get_from(url: str, address: str) -> tuple[int, float]:
    """(status, seconds) of a GET sent from a loopback address of its own."""
    import http.client

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30, source_address=(address, 0))
    start = time.monotonic()
    try:
        conn.request("GET", parts.path + "?" + parts.query)
        response = conn.getresponse()
        response.read()
        return response.status, time.monotonic() - start
    finally:
        conn.close()


def test_a_replica_shares_visitors_sql_out_by_the_address_nginx_passes_on(db_path, tmp_path):
    """plugins/lanes.py through the proxy: a replica knows a visitor by the address nginx
    passes on (X-Forwarded-For), not by nginx's own. One address's runaway queries hold
    both threads for visitors' SQL; another address's count is answered at once, cutting
    one of them short. Known by nginx's address, both visitors were one, equally heavy,
    and the count waited for a runaway query to run out of time. (One replica: nginx's two
    workers each take turns on their own, and now and then sent every request to one.)"""
    from concurrent.futures import ThreadPoolExecutor
    from urllib.parse import urlencode

    runaway = ("with recursive n(i) as (select 1 union all select i + 1 from n) "
               "select count(*) from n where i < 0 and {} >= 0")
    with serve_prod_server(db_path, tmp_path, replicas=1) as (url, route, _), ThreadPoolExecutor(4) as pool:
        def run_away(i):
            return pool.submit(get_from, f"{url}/{route}.json?" + urlencode({"sql": runaway.format(i)}), "127.0.0.61")

        assert {f.result()[0] for f in [run_away(i) for i in range(2)]} == {400}  # out of time: now heavy
        again = [run_away(10 + i) for i in range(2)]
        time.sleep(0.3)
        status, seconds = get_from(f"{url}/{route}.json?" + urlencode({"sql": "select count(*) from events"}),
                                   "127.0.0.62")
        assert status == 200 and seconds < 0.6, seconds
        assert {f.result()[0] for f in again} == {400}


def test_a_replica_that_dies_is_restarted_and_no_request_fails(prod):
    url, _, run = prod
    before = json.loads((run / "replicas.json").read_text())
    port, pid = next(iter(before.items()))
    os.kill(pid, signal.SIGKILL)
    assert all(get(f"{url}/imu/people?_n={i}")[0] == 200 for i in range(20))
    deadline = time.monotonic() + 20
    while json.loads((run / "replicas.json").read_text())[port] == pid:
        assert time.monotonic() < deadline, "the dead replica was not restarted"
        time.sleep(0.2)
    assert all(get(f"{url}/imu/events?_n={i}")[0] == 200 for i in range(10))


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_a_made_up_host_is_not_cached_for_other_readers(prod):
    """Pages with absolute links name the Host they were asked by; the proxy keeps one copy per Host."""
    url, _, _ = prod
    path = "/sitemap-pages.xml?_host_test=1"
    forged = urllib.request.Request(url + path, headers={"Host": "evil.example"})
    with urllib.request.urlopen(forged, timeout=30) as r:
        assert b"http://evil.example/" in r.read()
    status, headers, body = get(url + path)
    assert status == 200 and b"evil.example" not in body, headers
    assert f"http://{urlsplit(url).netloc}/".encode() in body


def get_once(url: str):
    """One request, its redirect not followed."""
    try:
        with urllib.request.build_opener(NoRedirect).open(url, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def test_unhashed_urls_redirect_and_hashed_ones_are_kept_a_year(prod, db_path):
    url, route, _ = prod
    status, headers, _ = get_once(url + "/imu/groups?kind=militant-group")
    assert status == 302, (status, headers)
    assert headers["Location"] == f"/{route}/groups?kind=militant-group", dict(headers)
    first, second = (get_once(f"{url}/{route}/groups?kind=militant-group") for _ in range(2))
    assert first[0] == 200 and first[1]["Cache-Control"] == "public, max-age=31536000, immutable"
    assert (first[1]["X-Cache-Status"], second[1]["X-Cache-Status"]) == ("MISS", "HIT")
    assert f'href="/{route}/groups/' in first[2].decode() and 'href="/imu/' not in first[2].decode()
    status, headers, body = get_once(f"{url}/{route}.db")
    assert status == 200 and body == db_path.read_bytes() and "X-Cache-Status" not in headers
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"


def test_a_short_load_run_through_the_proxy_has_no_errors(prod, db_path, metadata):
    """bench/load.py --compare's cacheable plan, short: 40 clients, each its own address."""
    sys.path.insert(0, str(ROOT / "bench"))
    import load

    url, route, _ = prod
    plan = load.mixed_plan(load.request_mix(db_path, metadata), route,
                           600, 1, load.PLANS["cacheable"])
    figures = load.run_processes(url, plan, concurrency=40, processes=2)
    assert figures["requests"] == 600 and figures["errors"] == []


def raw_request(url: str, data: bytes) -> bytes:
    host, port = url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(data)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    return answer


def site_page(body: bytes, title: str) -> bool:
    """The site's own error page (its stylesheet, footer and words), not nginx's."""
    return (b"/-/static-plugins/imu/site.css" in body and f"<h1>{title}</h1>".encode() in body
            and b"How to cite" in body and b"<center>nginx" not in body)


def test_long_and_odd_requests_get_a_clear_answer_never_a_502(prod):
    """A long parameter (Datasette's Link header repeats the URL) is answered; a request line
    past 8 KB is a 414; a request without a Host a 400; a parameter name with needless
    %-escapes (`%73ql=`, which the SQL rate limit would not see as `sql=`) a 400. Each error
    nginx answers itself is the site's own page, or Datasette's error JSON for a .json address."""
    url, route, _ = prod
    assert get(f"{url}/imu/timeline?group=" + "x" * 2500)[0] == 200
    status, _, body = get(f"{url}/imu/events.json?title__contains=" + "a" * 4400)
    assert status == 400 and b"pattern too complex" in body  # SQLite's LIKE limit, said
    status, headers, body = get(f"{url}/imu/events?x=" + "a" * 9000)
    assert status == 414 and site_page(body, "Address too long")
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert [get(f"{url}/imu.json?%73ql=select+{i}")[0] for i in range(3)] == [400] * 3
    request = urllib.request.Request(f"{url}/imu/groups", headers={"X-Big": "b" * 9000})
    status, _, body = get(request)
    assert status == 400 and site_page(body, "Bad request")
    for line in (b"GET / HTTP/1.0\r\n\r\n", b"NONSENSE\r\n\r\n"):
        answer = raw_request(url, line)
        assert answer.startswith(b"HTTP/1.1 400") and site_page(answer, "Bad request"), answer[:300]
    answer = raw_request(url, b"GET /imu.json HTTP/1.0\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"application/json" in head and json.loads(body)["status"] == 400
    answer = raw_request(url, b"POST /imu.db HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc")
    assert answer.startswith(b"HTTP/1.1 405") and site_page(answer, "Method not allowed")
    statuses = [get(f"{url}/{route}.json?sql=select+{i}+as+limited") for i in range(30)]
    limited = [(h, b) for s, h, b in statuses if s == 429]
    assert limited and all(json.loads(b)["title"] == "Too many requests" for _, b in limited)
    assert get(f"{url}/-/nginx-errors/414.html")[0] == 404  # the pages are not addresses of their own


def test_a_request_that_times_out_is_not_sent_to_another_replica(tmp_path, db_path):
    """nginx in front of two replicas that accept a request and never answer: the one that
    gets it times out (its read timeout set to 1 s here), and the visitor gets the site's 504
    page, without nginx sending the request on to the other replica."""
    import shutil
    import subprocess
    import threading

    sys.path.insert(0, str(ROOT / "scripts"))
    import error_pages
    import serve_prod

    received, listeners = [], []
    for _ in range(2):
        listener = socket.create_server(("127.0.0.1", 0))
        listeners.append(listener)

        def hang(listener=listener):
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                if conn.recv(65536):
                    received.append(listener.getsockname()[1])  # and never an answer

        threading.Thread(target=hang, daemon=True).start()
    run = tmp_path / "run"
    run.mkdir()
    error_pages.write(db_path, run / "errors")
    port = serve_prod.free_port()
    conf = serve_prod.nginx_conf(run, "127.0.0.1", port, db_path, [l.getsockname()[1] for l in listeners], "imu-x")
    conf.write_text(conf.read_text().replace("proxy_read_timeout 15s;", "proxy_read_timeout 1s;"))
    nginx = subprocess.Popen([shutil.which("nginx") or "/usr/sbin/nginx", "-p", str(run), "-c", str(conf)],
                             stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and nginx.poll() is None, "nginx did not start"
                time.sleep(0.1)
        started = time.monotonic()
        status, _, body = get(f"http://127.0.0.1:{port}/imu/groups?_n=timeout")
        assert status == 504 and site_page(body, "Took too long")
        assert time.monotonic() - started < 5
        time.sleep(0.5)
        assert len(received) == 1, received  # one replica, once
    finally:
        nginx.terminate()
        nginx.wait(10)
        for listener in listeners:
            listener.close()


def closed(s: socket.socket) -> bool:
    try:
        return s.recv(1) == b""
    except ConnectionResetError:  # reset_timedout_connection
        return True


def test_thousands_of_half_open_connections_from_one_address_leave_others_served(prod):
    """Slowloris from 127.0.0.2: 10,000 connections that never finish their request. Every
    other address is still served, and nginx drops them within its header timeout."""
    import resource
    import time

    url, _, _ = prod
    host, port = url.split("//")[1].split(":")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 12_000)), hard))
    held = []
    try:
        for _ in range(10_000):
            s = socket.socket()
            s.bind(("127.0.0.2", 0))
            s.connect((host, int(port)))
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
            held.append(s)
        started = time.monotonic()
        assert get(f"{url}/imu/groups?_n=slowloris")[0] == 200
        assert time.monotonic() - started < 2
        time.sleep(6)  # client_header_timeout 5s: nginx has closed them
        assert all(closed(s) for s in held[:100])
    finally:
        for s in held:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_openrefine_reconciles_through_the_proxy(prod):
    """OpenRefine's form POST passes nginx to the service, and is never cached for a GET."""
    import httpx

    url, _, _ = prod
    queries = json.dumps({"q0": {"query": "Tahir Yuldashev", "type": "person"}})
    for _ in range(2):
        r = httpx.post(url + "/imu/-/reconcile", data={"queries": queries}, timeout=30)
        assert r.status_code == 200 and r.json()["q0"]["result"][0]["id"] == "people/tohir-yoldashev"
    assert httpx.get(url + "/imu/-/reconcile", timeout=30).json()["defaultTypes"]
    assert httpx.post(url + "/imu/events", data={"x": "1"}, timeout=30).status_code == 302  # to the hashed URL
    hashed = httpx.get(url + "/imu/events", timeout=30, follow_redirects=True).url
    assert "/imu-" in str(hashed) and httpx.post(hashed, data={"x": "1"}, timeout=30).status_code == 405
