"""The deploy folder (`make deploy-dir`) serves what `make serve` serves.

No container daemon runs here, so the test does what the folder's Dockerfile does, in a
new virtual environment: its `pip install` line (Datasette and the wheel of this project,
which pins the plugins), its `datasette inspect`, then its `CMD` with the port filled in.
It then compares pages with a `make serve` server over the same database.
"""
from __future__ import annotations

import os
import re
import shlex
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

import dataset
from conftest import ROOT, datasette_server, free_port

pytestmark = pytest.mark.serial  # timed or bounded: run alone (Makefile, `make test`)

PAGES = ["/", "/about", "/imu/groups/imu", "/imu/timeline?group=imu", "/imu/events_map",
         "/imu/events", "/robots.txt"]


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read()


def normalised(body: bytes, base: str) -> str:
    """A page as served at any address, whatever its queries took, its links unhashed. The
    deploy writes its own address with https (behind Fly's HTTPS), as a test serves it over http."""
    text = re.sub(r"Queries took [\d.]+ ?ms", "", body.decode("utf-8"))
    text = text.replace(base.replace("http://", "https://", 1), "BASE").replace(base, "BASE")
    return re.sub(r"/imu-[0-9a-f]{7}(?=[/.\"?])", "/imu", text)


@pytest.fixture(scope="module")
def deployed(db_path, tmp_path_factory):
    """The deploy folder, installed and started as its Dockerfile says; yields its URL."""
    work = tmp_path_factory.mktemp("deploy")
    folder = work / "app"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "deploy_dir.py"), str(folder), "--db", str(db_path)],
                   check=True, capture_output=True)
    dockerfile = (folder / "Dockerfile").read_text()
    install = re.search(r"^RUN pip install -U (.+)$", dockerfile, re.M)[1]
    inspect = re.search(r"^RUN (datasette inspect .+)$", dockerfile, re.M)[1]
    cmd = re.search(r"^CMD (.+)$", dockerfile, re.M)[1]
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(work), "LANG": "C.UTF-8"}
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", *shlex.split(install)],
                   cwd=folder, env=env, check=True)
    subprocess.run(shlex.split(inspect), cwd=folder, env=env, check=True)
    port = free_port()
    # The container listens on every interface; tests bind only to 127.0.0.1.
    argv = shlex.split(cmd.replace("$PORT", str(port)).replace("0.0.0.0", "127.0.0.1"))
    log = open(work / "server.log", "w")  # a pipe nobody reads would fill and stall the server
    proc = subprocess.Popen(argv, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                fetch(url + "/.json")
                break
            except OSError:
                assert proc.poll() is None, (work / "server.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "the deployed server did not start"
                time.sleep(0.2)
        yield url, folder
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def test_the_deploy_folder_carries_what_the_site_needs(deployed):
    _, folder = deployed
    for path in ("imu.db", "metadata.json", "Dockerfile", "fly.toml", "plugins/pages.py", "plugins/site.css",
                 "templates/row.html"):
        assert (folder / path).exists(), path
    wheel = next((folder / "plugins").glob("imu_dataset-*.whl"))
    assert wheel.name in (folder / "Dockerfile").read_text()
    # the version and the records' date ride in the database: a deployed folder has no git to read
    with sqlite3.connect(folder / "imu.db") as con:
        info = dict(con.execute("select key, value from dataset_info"))
    assert info["version"] == dataset.version() and info["records_date"]


def test_the_deployed_site_writes_https_links_and_ignores_a_visitors_forwarded_scheme(deployed):
    """Behind Fly's HTTPS the deploy's absolute links say https, whatever a visitor's own
    X-Forwarded-Proto says."""
    url, _ = deployed
    forged = urllib.request.Request(url + "/robots.txt", headers={"X-Forwarded-Proto": "javascript"})
    with urllib.request.urlopen(forged, timeout=30) as r:
        assert "Sitemap: " + url.replace("http://", "https://", 1) + "/sitemap.xml" in r.read().decode()


def test_the_deployed_site_has_content_hashed_urls(deployed, db_path):
    url, _ = deployed
    with urllib.request.urlopen(url + "/imu/groups/imu", timeout=30) as r:
        assert re.search(r"/imu-[0-9a-f]{7}/groups/imu$", r.url)  # redirected to its hash
        assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"


def test_the_deployed_site_answers_as_make_serve_does(deployed, db_path, settings, tmp_path):
    url, _ = deployed
    with datasette_server(db_path, settings, tmp_path) as ours:
        for path in PAGES:
            assert normalised(fetch(url + path), url) == normalised(fetch(ours + path), ours), path
        claim = re.search(r'href="(/imu/claims/[^"]+)"', fetch(ours + "/imu/groups/imu").decode())[1]
        assert normalised(fetch(url + claim), url) == normalised(fetch(ours + claim), ours)
        assert fetch(url + "/imu.db") == fetch(ours + "/imu.db") == db_path.read_bytes()
    assert "records as of" in fetch(url + "/").decode()


def test_the_deployed_site_compresses_and_keeps_its_hashed_links(deployed):
    """Nothing compresses in front of the deployed app, so it does: gzip outside the links'
    rewriting (plugins/hashed.py), the hashed links intact inside, the .db left alone."""
    import gzip

    url, _ = deployed
    request = urllib.request.Request(url + "/imu/groups/imu", headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=30) as r:
        assert r.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in r.headers["Vary"]
        page = gzip.decompress(r.read()).decode()
    assert re.search(r'href="/imu-[0-9a-f]{7}/groups/', page) and 'href="/imu/' not in page
    request = urllib.request.Request(url + "/imu.db", headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=30) as r:
        assert "Content-Encoding" not in r.headers


def test_the_deployed_site_offers_its_release(deployed, db_path):
    """The release package of the deployed database, made by deploy_dir.py and carried in its
    folder: the same bytes as the release of the same database anywhere."""
    url, folder = deployed
    name = f"imu-dataset-{dataset.version()}.zip"
    assert f'href="/{name}"' in fetch(url + "/").decode()
    assert fetch(f"{url}/{name}") == (folder / "dist" / name).read_bytes() == (db_path.parent / "dist" / name).read_bytes()


def test_the_deployed_site_uses_no_project_files_outside_its_folder(deployed):
    """It runs from the folder and its venv alone: the project's modules come from the wheel."""
    url, folder = deployed
    assert not (folder / "labels.py").exists() and os.path.isdir(folder / "plugins")
    assert b"Islamic Movement of Uzbekistan" in fetch(url + "/imu/groups/imu")


def test_the_deployed_site_knows_a_visitor_by_flys_client_address(deployed):
    """plugins/lanes.py behind Fly's proxy, where every request comes from the proxy's own
    address: visitors are known by the Fly-Client-IP header the proxy sets. One visitor's
    runaway queries hold both threads for visitors' SQL; another visitor's count is
    answered at once, cutting one short. Known by the proxy's address, they were one
    visitor, and the count waited for a runaway to run out of time."""
    from concurrent.futures import ThreadPoolExecutor
    from urllib.parse import urlencode

    url, _ = deployed
    with urllib.request.urlopen(url + "/imu.json?sql=select+1", timeout=30) as r:
        route = r.url.split("?")[0]  # the hashed address, so that no redirect drops the header

    def get(sql: str, visitor: str) -> tuple[int, float]:
        request = urllib.request.Request(route + "?" + urlencode({"sql": sql}), headers={"Fly-Client-IP": visitor})
        start = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                r.read()
                return r.status, time.monotonic() - start
        except urllib.error.HTTPError as e:
            return e.code, time.monotonic() - start

    runaway = ("with recursive n(i) as (select 1 union all select i + 1 from n) "
               "select count(*) from n where i < 0 and {} >= 0")
    with ThreadPoolExecutor(4) as pool:
        assert {f.result()[0] for f in [pool.submit(get, runaway.format(i), "198.51.100.1") for i in range(2)]} == {400}
        again = [pool.submit(get, runaway.format(10 + i), "198.51.100.1") for i in range(2)]
        time.sleep(0.3)
        status, seconds = get("select count(*) from events", "198.51.100.2")
        assert status == 200 and seconds < 0.6, seconds
        assert {f.result()[0] for f in again} == {400}
