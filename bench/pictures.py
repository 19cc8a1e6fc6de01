"""Time the network's and the events chart's data (issue 15) on a built database, alone:
bench/run.py's picture_pages(), served with `make serve`'s options, n requests each.

    .venv/bin/python bench/pictures.py bench/out/db-100000/imu.db [--requests 30]

Uses the inspect file beside the database (made by bench/run.py); writes nothing.
"""
from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import picture_pages, serve, serve_prod, time_page  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("db", type=Path)
    ap.add_argument("--requests", type=int, default=30)
    args = ap.parse_args(argv)
    import httpx

    inspect = args.db.with_name("inspect.json")
    settings = serve_prod.settings()
    proc, base = serve(["-i", str(args.db), *(["--inspect-file", str(inspect)] if inspect.exists() else []),
                        *serve_prod.SERVE_OPTIONS, *settings])
    con = sqlite3.connect(f"file:{args.db}?immutable=1", uri=True)
    events = con.execute("select count(*) from events").fetchone()[0]
    print(f"{events:,} events, {con.execute('select count(*) from group_relations').fetchone()[0]:,} relations; "
          f"{args.requests} requests each after 3 warm-up ones; load average {os.getloadavg()[0]:.2f}\n")
    print("| what | p50 ms | p95 ms | path |\n| --- | ---: | ---: | --- |")
    try:
        with httpx.Client(timeout=60) as client:
            for what, path in picture_pages(con):
                p50, p95 = time_page(client, base, path, args.requests, [])
                print(f"| {what} | {p50:.0f} | {p95:.0f} | `{path}` |", flush=True)
    finally:
        proc.terminate()
        proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
