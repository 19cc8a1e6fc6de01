"""Serving speed at scale: two settings the 100,000-event benchmark (bench/run.py) showed
to matter, neither of which changes what any page says.

- Memory-mapped reads. A search page looks up each matching event by rowid, once for
  the rows, once for the count and once per facet; through SQLite's default 2 MB page
  cache each lookup was a read() call. Mapped, the database is read from the operating
  system's page cache directly, shared by every connection: the search page's six
  queries took less than half the time (about 48 ms in all, then 21). The database is
  immutable, so nothing is ever written through the mapping. SQLite caps the size at
  2 GB (MAX_MMAP_SIZE).
- Start-up objects frozen out of Python's full garbage collections. About 50,000
  objects (modules, metadata, the inspect data, plugins) live as long as the server, and
  every full collection walked them all: 20-30 ms on about one request in twenty, most
  of the slow tail. Garbage made while serving is collected as before.
"""
from __future__ import annotations

import gc

from datasette import hookimpl

MMAP_SIZE = 2**31  # SQLite lowers it to its compiled maximum


@hookimpl
def prepare_connection(conn):
    conn.execute(f"pragma mmap_size = {MMAP_SIZE}")


@hookimpl
def startup(datasette):
    gc.collect()
    gc.freeze()
