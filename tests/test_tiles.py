"""The map's tile provider, set in the environment for a public site (plugins/tiles.py)."""
from __future__ import annotations

import json

import pytest

from test_queries import get, load_plugin

tiles = load_plugin("tiles")

PROVIDER = "https://tiles.example.com/{z}/{x}/{y}.png?key=abc"
CREDIT = "&copy; OpenStreetMap contributors, tiles by Example"


def test_both_or_neither():
    assert tiles.tile_config({}) == {}
    config = tiles.tile_config({tiles.URL: PROVIDER, tiles.ATTRIBUTION: CREDIT})
    assert config == {"tile_layer": PROVIDER, "tile_layer_options": {"attribution": CREDIT, "maxZoom": 19}}
    for half in ({tiles.URL: PROVIDER}, {tiles.ATTRIBUTION: CREDIT}):
        with pytest.raises(ValueError, match="both"):
            tiles.tile_config(half)
    with pytest.raises(ValueError, match="whole number"):
        tiles.tile_config({tiles.URL: PROVIDER, tiles.ATTRIBUTION: CREDIT, tiles.MAX_ZOOM: "high"})


def map_settings(page: str) -> tuple:
    layer = page.split("window.DATASETTE_CLUSTER_MAP_TILE_LAYER = ", 1)[1].split(";", 1)[0]
    options = page.split("window.DATASETTE_CLUSTER_MAP_TILE_LAYER_OPTIONS = ", 1)[1].split(";\n", 1)[0]
    return json.loads(layer), json.loads(options)


def test_openstreetmap_is_the_local_default(ds, monkeypatch):
    monkeypatch.delenv(tiles.URL, raising=False)
    monkeypatch.delenv(tiles.ATTRIBUTION, raising=False)
    layer, options = map_settings(get(ds, "/imu/events_map").text)
    assert "tile.openstreetmap.org" in layer and "OpenStreetMap" in options["attribution"]


def test_a_published_site_uses_its_provider_and_credit(ds, monkeypatch):
    monkeypatch.setenv(tiles.URL, PROVIDER)
    monkeypatch.setenv(tiles.ATTRIBUTION, CREDIT)
    for path in ("/imu/events_map", "/imu/events"):
        layer, options = map_settings(get(ds, path).text)
        assert layer == PROVIDER and options == {"attribution": CREDIT, "maxZoom": 19}
