"""What the public site answers at all (plugins/readonly.py): the pages under /-/, and
only the formats something renders."""
from __future__ import annotations

import asyncio
import re
import types

import pytest
from datasette import hookimpl
from datasette.plugins import pm

from conftest import make_datasette


def get(ds, path):
    return asyncio.run(ds.client.get(path))


def dash_routes(ds) -> list[str]:
    """A path for each of Datasette's routes under /-/, read from its router, so that a
    route added upstream is covered too."""
    paths = []
    for pattern, _ in ds._routes():
        source = pattern.pattern
        if source.startswith("/-/"):
            path = re.sub(r"\(\?P<path>\.\*\)", "app.css", source)
            path = re.sub(r"\(\\\.\(\?P<format>json\)\)\?", "", path).replace("\\.", ".").rstrip("$")
            paths.append(path)
    return paths


def test_only_static_files_and_metadata_are_public_under_dash(ds):
    paths = dash_routes(ds)
    assert {"/-/threads", "/-/versions", "/-/settings", "/-/databases", "/-/plugins"} <= set(paths)
    served = {p for p in paths for suffix in ("", ".json") if get(ds, p + suffix).status_code != 404}
    assert served == {"/-/static/app.css", "/-/metadata"}
    assert get(ds, "/-/metadata.json").json()["title"]


@pytest.mark.parametrize("path", ["/-/threads.json", "/-/versions.json", "/-/settings.json",
                                  "/-/databases.json", "/-/config.json", "/-/actor.json",
                                  "/-/plugins.json", "/-/permissions", "/-/allow-debug", "/-/messages",
                                  "/-/patterns", "/-/auth-token", "/-/logout", "/-/nothing-here"])
def test_introspection_pages_are_not_found(ds, path):
    r = get(ds, path)
    assert r.status_code == 404
    assert "compile_options" not in r.text and "threads" not in r.text.lower()


@pytest.mark.parametrize("path", ["/imu/events.kml", "/imu/events.atom", "/imu.rss", "/.xml",
                                  "/imu/events/1999-tashkent-bombings.kml", "/imu/search.yaml",
                                  "/imu/disputes.html"])
def test_a_format_nothing_renders_is_not_found(ds, path):
    r = get(ds, path)
    assert r.status_code == 404
    assert "no ." in r.text


@pytest.mark.parametrize("path", ["/", "/.json", "/imu", "/imu.json", "/imu.db", "/imu/events",
                                  "/imu/events.json", "/imu/events.csv", "/imu/events.jsono", "/imu/events.geojson",
                                  "/imu/events/1999-tashkent-bombings.json", "/imu/search.csv?q=IMU",
                                  "/favicon.ico", "/-/static/app.css"])
def test_the_formats_datasette_renders_still_answer(ds, path):
    assert get(ds, path).status_code in (200, 302), path


@hookimpl
def register_output_renderer(datasette):
    return {"extension": "atom", "render": lambda rows: {"body": f"{len(rows)} rows",
                                                         "content_type": "text/plain"}}


def test_a_format_a_plugin_renders_answers(db_path, metadata, settings):
    atom = types.ModuleType("test_atom_renderer")
    atom.register_output_renderer = register_output_renderer
    pm.register(atom, name="test-atom-renderer")
    try:
        ds = make_datasette(db_path, metadata, settings)
        r = get(ds, "/imu/events.atom?_size=3")
        assert (r.status_code, r.text) == (200, "3 rows")
    finally:
        pm.unregister(name="test-atom-renderer")


def test_errors_print_no_visitor_input_to_the_log(ds, capfd):
    """Datasette prints every local of a handled error when rich is importable, which the
    test extra's frictionless makes it (plugins/readonly.py turns that off)."""
    import importlib.util

    assert importlib.util.find_spec("rich") is not None  # else this test proves nothing
    capfd.readouterr()
    assert get(ds, "/imu/events?_sort=secret-visitor-input").status_code == 400
    assert get(ds, "/-/secret-visitor-input").status_code == 404
    err = capfd.readouterr().err
    assert "secret-visitor-input" not in err and "Traceback" not in err
