"""Freeze what Datasette loaded at start-up out of Python's full garbage collections.

Serving the 100,000-event benchmark corpus, about 50,000 objects (modules, metadata,
the inspect data, plugins) live from start-up to shutdown, and every full collection
walked them all: 20-30 ms added to about one request in twenty, which was most of the
slow tail bench/run.py measured. Frozen, they are skipped; garbage made while serving
is collected as before.
"""
from __future__ import annotations

import gc

from datasette import hookimpl


@hookimpl
def startup(datasette):
    gc.collect()
    gc.freeze()
