"""Shared fixtures: one database built from the real seeds, and Datasette over it."""
from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import build_db  # noqa: E402
import dataset  # noqa: E402
import serve_prod  # noqa: E402  (make serve's settings as options)


@pytest.fixture(scope="session")
def db_path(tmp_path_factory) -> Path:
    """imu.db built from seeds/ into a temporary folder, once per run, with its release
    package in dist/ beside it, as `make build` leaves them (the site offers the zip)."""
    import release

    out = tmp_path_factory.mktemp("build") / "imu.db"
    build_db.build(ROOT / "seeds", out)
    release.build(out, out.parent / "dist", check=False)
    return out


@pytest.fixture(scope="module")
def con(db_path):
    """The built database, read with rows by column name (a test file may define its own)."""
    con = sqlite3.connect(db_path)
    con.row_factory = sqlite3.Row
    return con


@pytest.fixture(scope="session")
def metadata() -> dict:
    """metadata.yml: only what is Datasette's own (what things mean is in the codebook)."""
    return yaml.safe_load((ROOT / "metadata.yml").read_text())


@pytest.fixture(scope="session")
def codebook(db_path) -> dict:
    """The built database's codebook: {table: {"description": ..., "columns": {column: description}}}."""
    with contextlib.closing(sqlite3.connect(db_path)) as con:
        return dataset.read_codebook(con)


@pytest.fixture(scope="session")
def dataset_info(db_path) -> dict:
    """The built database's dataset_info, as {key: value}."""
    with contextlib.closing(sqlite3.connect(db_path)) as con:
        return dataset.read_info(con)


@pytest.fixture(scope="session")
def settings() -> dict:
    return json.loads((ROOT / "settings.json").read_text())


def make_datasette(db_path, metadata, settings, template_dir=ROOT / "templates"):
    """Datasette serving a database read-only with the project's plugins, as `make serve` does;
    tests vary the settings or the templates to compare against."""
    from datasette.app import Datasette

    return Datasette(immutables=[str(db_path)], metadata=metadata, settings=settings,
                     plugins_dir=str(ROOT / "plugins"), template_dir=str(template_dir))


@pytest.fixture
def ds(db_path, metadata, settings):
    """Datasette serving the built database read-only, as `make serve` does. Its SQL threads
    end with the test: their connections would otherwise live on, and SQLite's heap limit
    (plugins/sqlguard.py) is one for the whole process, as on the server."""
    instance = make_datasette(db_path, metadata, settings)
    yield instance
    if instance.executor is not None:
        instance.executor.shutdown(wait=False)


# SQLite's heap cap (plugins/sqlguard.py) is one for a whole process: this one keeps the
# connections of hundreds of in-process servers, so it runs without; the servers it starts
# (datasette_server, the benchmarks) run with the cap, as `make serve` does.
os.environ["IMU_SQLITE_HEAP_MB"] = "0"


@pytest.fixture(scope="module")
def hashed(db_path, metadata, settings):
    """Datasette with content-hashed URLs, as the published site has them (IMU_HASHED_URLS=1;
    plugins/hashed.py reads it at start-up only)."""
    import asyncio

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IMU_HASHED_URLS", "1")
        ds = make_datasette(db_path, metadata, settings)
        asyncio.run(ds.invoke_startup())
    return ds


@pytest.fixture(scope="session")
def route(db_path) -> str:
    """The database's hashed route, worked out here from its bytes."""
    import hashlib

    return "imu-" + hashlib.sha256(db_path.read_bytes()).hexdigest()[:7]


# ---------------------------------------------------------------- a real server and browser

free_port = serve_prod.free_port
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


@contextlib.contextmanager
def datasette_server(db_path: Path, settings: dict, workdir: Path):
    """`datasette serve` on a free 127.0.0.1 port, as `make serve` runs it; yields the base URL.

    Shared with scripts/screenshots.py, so the screenshots show the tested site.
    """
    import subprocess
    import time
    import urllib.request

    inspect_file = workdir / "inspect.json"
    serve_prod.inspect(db_path, inspect_file)
    port = free_port()
    log = workdir / "datasette.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            serve_prod.serve_command(db_path, inspect_file, "127.0.0.1", port, settings),
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if k != "IMU_SQLITE_HEAP_MB"})
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            if proc.poll() is not None:
                raise RuntimeError(f"datasette exited with {proc.returncode}:\n{log.read_text()}")
            try:
                urllib.request.urlopen(url + "/.json", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"datasette did not answer on {url}:\n{log.read_text()}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def serve_prod_server(db_path: Path, workdir: Path, replicas: int | None = None):
    """`make serve-prod` (scripts/serve_prod.py) on a free 127.0.0.1 port; yields its URL,
    the database's hashed route and the run folder (replicas.json, inspect.json)."""
    import signal
    import subprocess
    import time
    import urllib.request

    port, run = free_port(), workdir / "run"
    # Its log goes to a file: a pipe nobody reads would fill and stall the replicas.
    log_path = workdir / "serve-prod.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "serve_prod.py"), "--port", str(port),
                                 "--db", str(db_path), "--run-dir", str(run),
                                 *(["--replicas", str(replicas)] if replicas else [])],
                                stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url + "/.json", timeout=2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"serve-prod did not start:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.2)
        yield url, serve_prod.hashed_route(run / "inspect.json"), run
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)


def launch_chromium(playwright):
    """Debian's Chromium, headless (Playwright's own browser download does not work here)."""
    return playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                      args=CHROMIUM_ARGS)


def local_only_page(browser, width: int = 1280, height: int = 900):
    """A page that may only reach 127.0.0.1; every other request is aborted.

    `page.blocked` lists the URLs aborted, `page.errors` the page's JavaScript errors.
    """
    from urllib.parse import urlsplit

    context = browser.new_context(viewport={"width": width, "height": height})
    pg = context.new_page()
    pg.blocked, pg.errors = [], []

    def only_localhost(route):
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            pg.blocked.append(route.request.url)
            route.abort()

    pg.route("**/*", only_localhost)
    pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))
    pg.set_default_timeout(15_000)
    return pg


@pytest.fixture(scope="session")
def live_server(db_path, settings, tmp_path_factory):
    """The real build served by `datasette serve` on 127.0.0.1, as `make serve` runs it.

    Yields the base URL (http://127.0.0.1:PORT); the database is the `db_path` build.
    """
    with datasette_server(db_path, settings, tmp_path_factory.mktemp("server")) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    """Chromium for one test module. Playwright's sync API keeps an asyncio loop running
    while it is open, and asyncio.run() (the `ds` tests) refuses to run inside one: keep
    browser tests in modules of their own, and the browser closes when the module ends."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = launch_chromium(pw)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh page on its own context that may only reach 127.0.0.1 (see local_only_page)."""
    pg = local_only_page(browser)
    yield pg
    pg.context.close()
