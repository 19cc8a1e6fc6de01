"""Load test: many requests, a few at a time, against the site as `make serve` runs it.

    .venv/bin/python bench/load.py                          # 5,000 requests, 20 at a time
    .venv/bin/python bench/load.py --count 200 --concurrency 10
    .venv/bin/python bench/load.py --url http://127.0.0.1:8001   # a server already running

Without --url it builds the database if it is missing, then starts `datasette serve`
on a free 127.0.0.1 port with the options `make serve` uses (tests/conftest.py's
datasette_server, which tests/test_browser.py keeps in step with the Makefile).
The requests mix the home page, table pages with their facets, full-text search,
every canned query in metadata.yml, JSON, row pages and the .db download, drawn in a
fixed random order. It prints requests per second, latency percentiles and the
error count (anything but HTTP 200, or no answer), and exits 1 if there was an error.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def sample(con: sqlite3.Connection, sql: str, n: int = 3) -> list[str]:
    return [r[0] for r in con.execute(sql + f" order by 1 limit {n}")]


def request_mix(db_path: Path, metadata: dict) -> list[tuple[str, str]]:
    """(kind, path) pairs: what a visitor to the site asks for, with values from the database."""
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    events = sample(con, "select id from events")
    groups = sample(con, "select id from groups where id in (select group_id from event_groups)")
    people = sample(con, "select id from people where id in (select person_id from event_people)")
    sources = sample(con, "select id from sources where id in (select source_id from claims)")
    words = sample(con, "select alias from aliases where length(alias) between 3 and 20 and alias not like '%\"%'")
    years = [str(y) for y in sample(con, "select distinct substr(date_start, 1, 4) from events", 2)]
    con.close()

    mix = [("home", "/"), ("database", "/imu")]
    for table, conf in metadata["databases"]["imu"].get("tables", {}).items():
        if conf.get("facets"):
            mix.append(("table+facets", f"/imu/{table}"))
    mix += [("table+facets", "/imu/events?_facet=country&_facet=event_type&_sort_desc=date_start"),
            ("table+facets", "/imu/claims?_facet=certainty&_facet=source_id")]
    mix += [("search", f"/imu/{table}?" + urlencode({"_search": w}))
            for table, w in zip(["events", "claims", "people", "groups", "aliases"], ["Tashkent", "Taliban"] + words)]
    # every canned query, with values a visitor would type
    values = {"q": words + ["Namangani", "Yuldashev", "Tashkent"], "group": groups, "person": people,
              "source": sources, "from": years[:1], "to": years[1:]}
    for name, query in metadata["databases"]["imu"].get("queries", {}).items():
        params = query.get("params") or []
        for i in range(2):
            chosen = {p: values[p][i % len(values[p])] for p in params if values.get(p)}
            mix.append(("canned", f"/imu/{name}?" + urlencode(chosen) if chosen else f"/imu/{name}"))
        if params:
            mix.append(("canned", f"/imu/{name}.json?" + urlencode(chosen | {"_shape": "array"})))
    mix += [("json", "/imu/events.json?_shape=array&_size=max"), ("json", "/imu/claims.json?_size=100"),
            ("json", "/imu/groups.json?_shape=objects"), ("json", f"/imu/events/{events[0]}.json"),
            ("row", f"/imu/events/{events[0]}"), ("row", f"/imu/groups/{groups[0]}"),
            ("row", f"/imu/people/{people[0]}"), ("download", "/imu.db")]
    return mix


def percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1] if len(values) > 1 else values[0]


async def run(base_url: str, mix: list[tuple[str, str]], count: int, concurrency: int,
              seed: int = 1, timeout: float = 30) -> dict:
    """Send `count` requests drawn from `mix`, `concurrency` at a time; return the figures."""
    rng = random.Random(seed)
    # every request of the mix once, then random draws: short runs still cover it all
    plan = (mix * (count // len(mix) + 1))[: min(count, len(mix))]
    plan += [rng.choice(mix) for _ in range(count - len(plan))]
    rng.shuffle(plan)
    queue = iter(plan)
    latencies, by_kind, errors = [], {}, []

    async def worker(client):
        for kind, path in queue:
            start = time.perf_counter()
            try:
                r = await client.get(path)
                await r.aread()
                ok, status = r.status_code == 200, r.status_code
            except httpx.HTTPError as exc:
                ok, status = False, type(exc).__name__
            ms = (time.perf_counter() - start) * 1000
            latencies.append(ms)
            by_kind.setdefault(kind, []).append(ms)
            if not ok:
                errors.append((status, path))

    # Each simulated client has an address of its own in 127.0.0.0/8, as visitors do, so a
    # proxy's per-client limits (make serve-prod) apply to each, not to the whole run.
    clients = [httpx.AsyncClient(base_url=base_url, timeout=timeout,
                                 transport=httpx.AsyncHTTPTransport(local_address=f"127.0.{1 + i // 250}.{2 + i % 250}"))
               for i in range(concurrency)]
    try:
        start = time.perf_counter()
        await asyncio.gather(*(worker(client) for client in clients))
        elapsed = time.perf_counter() - start
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))
    return {
        "requests": len(latencies), "concurrency": concurrency, "seconds": elapsed,
        "rps": len(latencies) / elapsed,
        "p50": percentile(latencies, 50), "p95": percentile(latencies, 95), "p99": percentile(latencies, 99),
        "errors": errors,
        "kinds": {k: {"requests": len(v), "p50": percentile(v, 50), "p95": percentile(v, 95)}
                  for k, v in sorted(by_kind.items())},
    }


def report(figures: dict) -> str:
    lines = [f"{figures['requests']} requests, {figures['concurrency']} at a time, in {figures['seconds']:.1f} s",
             f"requests/s: {figures['rps']:.1f}",
             f"latency ms: p50 {figures['p50']:.1f}  p95 {figures['p95']:.1f}  p99 {figures['p99']:.1f}",
             f"errors: {len(figures['errors'])}"]
    lines += [f"  {status} {path}" for status, path in figures["errors"][:20]]
    lines.append("by kind:        requests    p50 ms    p95 ms")
    lines += [f"  {kind:<14}{k['requests']:>8}{k['p50']:>10.1f}{k['p95']:>10.1f}" for kind, k in figures["kinds"].items()]
    return "\n".join(lines)


@contextlib.contextmanager
def served(db_path: Path):
    """`datasette serve` on the database as `make serve` runs it; yields the base URL."""
    from conftest import datasette_server

    settings = json.loads((ROOT / "settings.json").read_text())
    with tempfile.TemporaryDirectory() as work, datasette_server(db_path, settings, Path(work)) as url:
        yield url


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=5000, help="requests to send (default 5000)")
    ap.add_argument("--concurrency", type=int, default=20, help="requests in flight at once (default 20)")
    ap.add_argument("--db", type=Path, default=ROOT / "imu.db", help="database to serve (default imu.db)")
    ap.add_argument("--url", help="test a server already running here instead of starting one")
    ap.add_argument("--seed", type=int, default=1, help="seed for the order of requests")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)

    if not args.db.exists():
        import build_db

        build_db.build(ROOT / "seeds", args.db)
    metadata = yaml.safe_load((ROOT / "metadata.yml").read_text())
    mix = request_mix(args.db, metadata)
    with (contextlib.nullcontext(args.url) if args.url else served(args.db)) as url:
        figures = asyncio.run(run(url, mix, args.count, args.concurrency, args.seed))
    print(json.dumps(figures, indent=1) if args.json else report(figures))
    return 1 if figures["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
