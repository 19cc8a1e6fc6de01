"""The map's background tiles: OpenStreetMap's for local use, a provider's on a public site.

OpenStreetMap's tile servers refuse heavy use and requests without a Referer (which
Datasette's pages do not send; README, "The map"), so a published site names its own
provider when it starts, in the environment:

    IMU_TILE_URL          https://tiles.example.com/{z}/{x}/{y}.png?key=...
    IMU_TILE_ATTRIBUTION  &copy; OpenStreetMap contributors, tiles by Example
    IMU_TILE_MAX_ZOOM     optional, 19 by default

Both of the first two or neither: a provider without its attribution is refused at start.
metadata.yml sets no tile layer, so these reach datasette-cluster-map's configuration
(metadata.yml, read after plugins, would win).
"""
from __future__ import annotations

import os

from datasette import hookimpl

URL, ATTRIBUTION, MAX_ZOOM = "IMU_TILE_URL", "IMU_TILE_ATTRIBUTION", "IMU_TILE_MAX_ZOOM"


def tile_config(environ) -> dict:
    """datasette-cluster-map's tile settings from the environment ({} for its defaults)."""
    url, attribution = environ.get(URL, "").strip(), environ.get(ATTRIBUTION, "").strip()
    if not url and not attribution:
        return {}
    if not (url and attribution):
        raise ValueError(f"Set both {URL} and {ATTRIBUTION} (the tile provider's required credit), "
                         f"or neither for OpenStreetMap's tiles")
    zoom = environ.get(MAX_ZOOM, "19").strip()
    if not zoom.isdigit():
        raise ValueError(f"{MAX_ZOOM} must be a whole number, not {zoom!r}")
    return {"tile_layer": url, "tile_layer_options": {"attribution": attribution, "maxZoom": int(zoom)}}


@hookimpl
def get_metadata(datasette, key, database, table):
    # Datasette asks for metadata many times a page (for `plugins` only through
    # plugin_config) and merges each answer into its own dictionaries: tile_config makes
    # a new one each time.
    if key not in (None, "plugins"):
        return {}
    config = tile_config(os.environ)
    return {"plugins": {"datasette-cluster-map": config}} if config else {}


@hookimpl
def startup(datasette):
    tile_config(os.environ)  # a half-set provider stops the server with the message above
