"""Load test: many requests, many at a time, against the site as `make serve` runs it.

    .venv/bin/python bench/load.py                          # 5,000 requests, 20 at a time
    .venv/bin/python bench/load.py --count 200 --concurrency 10
    .venv/bin/python bench/load.py --url http://127.0.0.1:8001   # a server already running
    .venv/bin/python bench/load.py --compare --results bench/RESULTS.md

Without --url it builds the database if it is missing, then starts `datasette serve`
on a free 127.0.0.1 port with the options `make serve` uses (tests/conftest.py's
datasette_server, which tests/test_browser.py keeps in step with the Makefile).
The requests mix the home page, table pages with their facets, full-text search,
every canned query in metadata.yml, JSON, row pages and the .db download, drawn in a
fixed random order. It prints requests per second, latency percentiles and the
error count (anything but 200, or no answer), and exits 1 if there was
an error.

Each simulated client has its own address in 127.0.0.0/8 and one keep-alive connection,
as a visitor's browser has. The client is a few lines of HTTP/1.1 on asyncio streams,
not httpx, and `--processes` spreads the clients over several processes: one httpx
process topped out near 680 requests a second, below what nginx serves from its cache.

`--compare` measures `make serve-prod` (nginx, one replica per core) and `make serve`
(one process) in one run, at 20, 100 and 200 clients, with two mixes, and writes the
table into the file given by --results (its "load" section) as well as printing it.

`--hostile` measures serve-prod at 200 clients on the mixed plan: as it is and with
bench/hostile.py's attacks sent besides at 1% of the rate just measured, in turn, --rounds
times, then with 10,000 half-open connections (slowloris) held from one other address. It
reports the throughput of the readers' requests against the attack-free runs, their cheap
pages' p95 and their errors (an attack's own answer is not an error), into the
"load-hostile" section of --results.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

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


class Connection:
    """One keep-alive HTTP/1.1 connection from a local address of its own."""

    def __init__(self, host: str, port: int, local: str, timeout: float):
        self.host, self.port, self.local, self.timeout = host, port, local, timeout
        self.reader = self.writer = None

    async def get(self, path: str) -> tuple[int, bytes]:
        for attempt in (1, 2):  # a kept-alive connection the server closed meanwhile: once more
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(
                    self.host, self.port, local_addr=(self.local, 0), limit=2**22)
                fresh = True
            else:
                fresh = False
            try:
                return await asyncio.wait_for(self._get(path), self.timeout)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                self.close()
                if fresh or attempt == 2:
                    raise ConnectionError(str(exc) or type(exc).__name__) from exc
            except BaseException:
                self.close()
                raise

    async def _get(self, path: str) -> tuple[int, bytes]:
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                          f"Accept-Encoding: identity\r\n\r\n".encode("latin-1"))
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                parts.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            await self.reader.readuntil(b"\r\n")
            body = b"".join(parts)
        else:
            body = await self.reader.read()
            self.close()
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, body

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def address(i: int) -> str:
    """The i-th simulated client's own loopback address (127.0.1.2, 127.0.1.3, ...)."""
    return f"127.0.{1 + i // 250}.{2 + i % 250}"


def plan_of(mix: list[tuple], count: int, seed: int) -> list[tuple]:
    """Every request of the mix once, then random draws: short runs still cover it all."""
    rng = random.Random(seed)
    plan = (mix * (count // len(mix) + 1))[: min(count, len(mix))]
    plan += [rng.choice(mix) for _ in range(count - len(plan))]
    rng.shuffle(plan)
    return plan


async def send_plan(base_url: str, plan: list[tuple], clients: range, timeout: float) -> dict:
    """Send the plan's requests (kind, path) from the given clients at once; latencies and
    errors by kind."""
    url = urlsplit(base_url)
    queue = iter(plan)
    by_kind: dict[str, list[float]] = {}
    errors = []

    async def client(i: int):
        conn = Connection(url.hostname, url.port or 80, address(i), timeout)
        try:
            for kind, path in queue:
                start = time.perf_counter()
                try:
                    status, _ = await conn.get(path)
                except (OSError, asyncio.TimeoutError, ValueError) as exc:
                    status = type(exc).__name__
                by_kind.setdefault(kind, []).append((time.perf_counter() - start) * 1000)
                if status != 200:
                    errors.append((status, path, kind))
        finally:
            conn.close()

    start = time.perf_counter()
    await asyncio.gather(*(client(i) for i in clients))
    return {"seconds": time.perf_counter() - start, "by_kind": by_kind, "errors": errors}


def figures_of(parts: list[dict], concurrency: int) -> dict:
    by_kind: dict[str, list[float]] = {}
    for part in parts:
        for kind, values in part["by_kind"].items():
            by_kind.setdefault(kind, []).extend(values)
    latencies = [v for values in by_kind.values() for v in values]
    elapsed = max(part["seconds"] for part in parts)
    return {
        "requests": len(latencies), "concurrency": concurrency, "seconds": elapsed,
        "rps": len(latencies) / elapsed,
        "p50": percentile(latencies, 50), "p95": percentile(latencies, 95), "p99": percentile(latencies, 99),
        "errors": [e for part in parts for e in part["errors"]],
        "kinds": {k: {"requests": len(v), "p50": percentile(v, 50), "p95": percentile(v, 95)}
                  for k, v in sorted(by_kind.items())},
    }


async def run(base_url: str, mix: list[tuple], count: int, concurrency: int,
              seed: int = 1, timeout: float = 30) -> dict:
    """Send `count` requests drawn from `mix`, `concurrency` at a time; return the figures."""
    part = await send_plan(base_url, plan_of(mix, count, seed), range(concurrency), timeout)
    return figures_of([part], concurrency)


def _process_part(args) -> dict:
    base_url, plan, clients, timeout = args
    return asyncio.run(send_plan(base_url, plan, clients, timeout))


def run_processes(base_url: str, plan: list[tuple], concurrency: int, processes: int,
                  timeout: float = 30) -> dict:
    """The plan sent by `concurrency` clients dealt out over several processes, which start
    together and whose figures are pooled; the slowest process's time is the run's."""
    import multiprocessing

    processes = max(1, min(processes, concurrency))
    shares = [(base_url, plan[k::processes], range(k, concurrency, processes), timeout) for k in range(processes)]
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        parts = pool.map(_process_part, shares, chunksize=1)
    return figures_of(parts, concurrency)


def report(figures: dict) -> str:
    lines = [f"{figures['requests']} requests, {figures['concurrency']} at a time, in {figures['seconds']:.1f} s",
             f"requests/s: {figures['rps']:.1f}",
             f"latency ms: p50 {figures['p50']:.1f}  p95 {figures['p95']:.1f}  p99 {figures['p99']:.1f}",
             f"errors: {len(figures['errors'])}"]
    lines += [f"  {status} {path}" for status, path, *_ in figures["errors"][:20]]
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


# ------------------------------------------------------------------ serve-prod against make serve

UNCACHED_SHARE = 0.1
CLIENTS = (20, 100, 200)
# The plans --compare sends, by the share of their requests asked for the first time.
PLANS = {"cacheable": 0.0, "mixed": UNCACHED_SHARE, "first-time": 1.0}


def under(path: str, route: str) -> str:
    """A path of the mix under the database's route (the hashed one, for serve-prod)."""
    return re.sub(r"^/imu(?=[/.?]|$)", f"/{route}", path)


def cacheable_plan(mix: list[tuple], route: str, count: int, seed: int) -> list[tuple]:
    """What visitors who follow the site's links ask for: every path is asked again and
    again, so a cache can answer all but the first asking."""
    return [(kind, under(path, route)) for kind, path in plan_of(mix, count, seed)]


def mixed_plan(mix: list[tuple], route: str, count: int, seed: int, share: float = UNCACHED_SHARE,
               tag: str = "") -> list[tuple]:
    """The cacheable plan with `share` of its requests asked for the first time: a page of
    the mix with a query string no one asked before (`_v=N`, which Datasette ignores), or,
    a quarter of them, arbitrary SQL no one sent before. No cache can answer these; `tag`
    keeps them new in a later run on the same server."""
    rng = random.Random(seed)
    pages = [(kind, path) for kind, path in mix if kind != "download"]
    plan = []
    for i, (kind, path) in enumerate(cacheable_plan(mix, route, count, seed)):
        if rng.random() < share:
            if rng.random() < 0.25:
                kind, path = "uncached sql", f"/{route}.json?" + urlencode(
                    {"sql": f"select count(*) from events where date_start > '{1990 + i % 30}' and '{tag}{i}' = '{tag}{i}'"})
            else:
                kind, path = rng.choice(pages)
                path = under(path, route) + ("&" if "?" in path else "?") + f"_v={tag}{i}"
                kind = "uncached page"
        plan.append((kind, path))
    return plan


@contextlib.contextmanager
def served_prod(db_path: Path):
    """`make serve-prod` on a free 127.0.0.1 port; yields its URL, the hashed route and its run folder."""
    from conftest import serve_prod_server

    with tempfile.TemporaryDirectory() as work, serve_prod_server(db_path, Path(work)) as served:
        yield served


def compare(db_path: Path, mix: list[tuple], prod_count: int, single_count: int, processes: int) -> list[dict]:
    """Both servers, every plan, at each number of clients; a warm-up asks every path once."""
    rows = []
    for server, count in (("serve-prod", prod_count), ("make serve", single_count)):
        with (served_prod(db_path) if server == "serve-prod" else served(db_path)) as url:
            url, route, run = url if server == "serve-prod" else (url, "imu", None)
            asyncio.run(send_plan(url, [(k, under(p, route)) for k, p in mix], range(4), 60))
            for name, share in PLANS.items():
                for clients in CLIENTS:
                    # no cache answers a first-time request: as many as for one process will do
                    plan = mixed_plan(mix, route, count if share < 1 else single_count, clients, share)
                    figures = run_processes(url, plan, clients, processes)
                    print(f"{server}, {name}, {clients} clients: {figures['rps']:.0f} req/s, "
                          f"p95 {figures['p95']:.0f} ms, {len(figures['errors'])} errors", flush=True)
                    rows.append({"server": server, "mix": name, **figures})
            if run is not None:
                rows[-1]["replica_mb"] = [rss_mb(int(pid)) for pid in json.loads((run / "replicas.json").read_text()).values()]
    return rows


def rss_mb(pid: int) -> float:
    """A process's resident memory, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def compare_report(rows: list[dict], command: str, processes: int, loads: tuple[str, str]) -> str:
    import os
    import platform

    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        "### Load: `make serve-prod` against `make serve`",
        "",
        f"Run {started} on {os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
        f"load average {loads[0]} at the start, {loads[1]} at the end. Command: `{command}`.",
        "",
        f"The load generator shares the machine: {processes} processes of asyncio clients, each client "
        "with its own 127.0.0.0/8 address and one keep-alive connection, sending its next request when "
        "the last is answered. Before each server's runs every path of the mix is asked once. "
        "*Cacheable*: the site's pages as its links give them (the home page, `/imu`, table pages with "
        "facets, full-text search, every canned query, JSON, record pages, the `.db` download), each "
        "asked again and again. *Mixed*: the same with "
        f"{UNCACHED_SHARE:.0%} of requests asked for the first time (a page with a query string no one "
        "sent before, or, for a quarter of those, arbitrary SQL no one sent before), which no cache can "
        "answer. *First-time*: every request so (what the machine itself can render). An error is any "
        "status but 200, or no answer within 30 s.",
        "",
        "| server | mix | clients | requests | req/s | p50 ms | p95 ms | p99 ms | errors |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(f"| {r['server']} | {r['mix']} | {r['concurrency']} | {r['requests']:,} | {r['rps']:,.0f} "
                     f"| {r['p50']:.0f} | {r['p95']:.0f} | {r['p99']:.0f} | {len(r['errors'])} |")
    at_most = max(CLIENTS)
    lines += ["", f"p95 ms by kind of request at {at_most} clients:", ""]
    chosen = [r for r in rows if r["concurrency"] == at_most]
    kinds = sorted({k for r in chosen for k in r["kinds"]})
    lines.append("| kind | " + " | ".join(f"{r['server']}, {r['mix']}" for r in chosen) + " |")
    lines.append("| --- |" + " ---: |" * len(chosen))
    for kind in kinds:
        cells = [f"{r['kinds'][kind]['p95']:.0f}" if kind in r["kinds"] else "-" for r in chosen]
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    replicas = next((r["replica_mb"] for r in rows if "replica_mb" in r), None)
    if replicas:
        lines += ["", f"Memory of serve-prod's {len(replicas)} Datasette replicas after its runs: "
                  + ", ".join(f"{mb:.0f} MB" for mb in replicas) + " resident."]
    for server in dict.fromkeys(r["server"] for r in rows):
        errors = [e for r in rows if r["server"] == server for e in r["errors"]]
        if errors:
            lines += ["", f"First errors of {server}: " + "; ".join(f"{s} {p}" for s, p, *_ in errors[:3])]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ serve-prod under attack

NOT_CHEAP = {"uncached sql", "uncached page", "download"}


def _attack(base_url: str, route: str, rate: float, clients: int, stop, out) -> None:
    from hostile import HOSTILE

    url, statuses = urlsplit(base_url), {}

    async def attack(n: int):
        conn = Connection(url.hostname, url.port or 80, f"127.0.3.{2 + n % clients}", 30)
        try:
            status, _ = await conn.get(under(HOSTILE[n % len(HOSTILE)], route))
        except (OSError, asyncio.TimeoutError, ValueError) as exc:
            status = type(exc).__name__
        finally:
            conn.close()
        statuses[status] = statuses.get(status, 0) + 1

    async def fire():
        start, n, sent = time.perf_counter(), 0, set()
        while not stop.is_set():
            task = asyncio.create_task(attack(n))
            sent.add(task)
            task.add_done_callback(sent.discard)
            n += 1
            await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
        await asyncio.gather(*sent)

    asyncio.run(fire())
    out.put(statuses)


@contextlib.contextmanager
def attacking(base_url: str, route: str, rate: float, clients: int = 50):
    """bench/hostile.py's attacks at `rate` a second, for as long as the block runs, in a
    process of their own, each sent when its turn comes whether or not earlier ones have
    been answered (open loop), from `clients` addresses of their own (127.0.3.x). Yields a
    dict that holds the attacks' statuses once the block ends.

    Attacks sent in turn by the readers themselves measured the readers' own wait for their
    attacks' answers (up to a second and a quarter each), not what the attacks cost the server."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    stop, out, statuses = ctx.Event(), ctx.Queue(), {}
    proc = ctx.Process(target=_attack, args=(base_url, route, rate, clients, stop, out), daemon=True)
    proc.start()
    try:
        yield statuses
    finally:
        stop.set()
        statuses.update(out.get(timeout=60))
        proc.join(10)


@contextlib.contextmanager
def half_open(base_url: str, count: int, local: str = "127.0.0.254"):
    """`count` connections from one address that never finish their request, reopened as the
    server drops them, for as long as the block runs."""
    import resource
    import socket
    import threading

    url = urlsplit(base_url)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, count + 2000)), hard))
    stop, held = threading.Event(), []

    def connect():
        s = socket.socket()
        s.setblocking(True)
        s.bind((local, 0))
        s.connect((url.hostname, url.port or 80))
        s.sendall(b"GET / HTTP/1.1\r\nHost: slow\r\n")
        s.setblocking(False)
        return s

    def keep():
        while not stop.is_set():
            for i, s in enumerate(held):
                try:
                    if s.recv(1) == b"":
                        raise ConnectionError
                except BlockingIOError:
                    continue
                except OSError:
                    s.close()
                    with contextlib.suppress(OSError):
                        held[i] = connect()
            stop.wait(0.5)

    for _ in range(count):
        held.append(connect())
    keeper = threading.Thread(target=keep, daemon=True)
    keeper.start()
    try:
        yield len(held)
    finally:
        stop.set()
        keeper.join()
        for s in held:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def readers(figures: dict) -> dict:
    """The readers' throughput (the attacks come from addresses of their own), their cheap
    pages' p95 and their errors."""
    cheap = [k["p95"] for name, k in figures["kinds"].items() if name not in NOT_CHEAP]
    return {"rps": figures["requests"] / figures["seconds"],
            "cheap_p95": max(cheap) if cheap else float("nan"), "errors": figures["errors"]}


def hostile_runs(db_path: Path, mix: list[tuple], count: int, processes: int, clients: int = 200,
                 rounds: int = 1) -> list[dict]:
    """`rounds` pairs of runs, readers alone then with 1% attacks (each round's attacks at 1%
    of the attack-free rate just measured), then one under 10,000 half-open connections.
    Alternating: the machine's own speed drifts over minutes (the attack-free rate moved
    from 1,550 to 2,200 requests a second between runs), and an attack run measured
    against an attack-free run minutes away measured the drift as much as the attacks."""
    rows = []
    names = [name for _ in range(rounds) for name in ("no attack", "1% attacks")]
    with served_prod(db_path) as (url, route, _):
        asyncio.run(send_plan(url, [(k, under(p, route)) for k, p in mix], range(4), 60))
        for n, name in enumerate(names + ["10,000 half-open connections"]):
            plan = mixed_plan(mix, route, count, clients, tag=f"r{n}-")  # first-time requests new in each run
            if name == "1% attacks":  # one request in a hundred, at the attack-free rate
                load = attacking(url, route, rows[-1]["rps"] / 99)
            elif name.startswith("10,000"):
                load = half_open(url, 10_000)
            else:
                load = contextlib.nullcontext()
            with load as attacks:
                figures = run_processes(url, plan, clients, processes)
            row = {"run": name, "round": n // 2 + 1 if n < len(names) else None, **readers(figures),
                   "attacks": sum(attacks.values()) if name == "1% attacks" else 0}
            free = [r["rps"] for r in rows if r["run"] == "no attack"]
            row["share"] = (row["rps"] / rows[-1]["rps"] if name == "1% attacks" else
                            row["rps"] / (sum(free) / len(free)) if name.startswith("10,000") else None)
            print(f"{name}: readers {row['rps']:.0f} req/s ({row['share'] or 1:.0%}), cheap p95 {row['cheap_p95']:.0f} ms, "
                  f"{len(row['errors'])} errors, {row['attacks']} attacks", flush=True)
            rows.append(row)
    return rows


def attacked_share(rows: list[dict]) -> float:
    """The readers' mean throughput under 1% attacks against their mean throughput without,
    all rounds together."""
    free = sum(r["rps"] for r in rows if r["run"] == "no attack")
    return sum(r["rps"] for r in rows if r["run"] == "1% attacks") / free


def by_status(errors: list[tuple]) -> str:
    """Errors counted by status and kind of request, most first: "503 uncached sql: 40, ..."."""
    counts: dict[str, int] = {}
    for status, path, *kind in errors:
        key = f"{status} {kind[0]}" if kind else str(status)
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{key}: {n}" for key, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def hostile_report(rows: list[dict], command: str, loads: tuple[str, str]) -> str:
    rounds = max(r["round"] or 0 for r in rows)
    lines = ["### serve-prod under attack", "",
             f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {loads[0]} at the start, "
             f"{loads[1]} at the end. Command: `{command}`. 200 readers on the mixed plan (each its own "
             "127.0.0.0/8 address); *1% attacks*: bench/hostile.py's attacks at 1% of the attack-free rate "
             "just measured (one request in a hundred), sent open-loop from 50 addresses of their own; "
             "*half-open*: 10,000 connections from 127.0.0.254 that never finish their request, reopened "
             f"as nginx drops them. {rounds} round{'s' if rounds > 1 else ''} of a run without attacks and one with "
             "them, then the half-open run. Throughput counts the readers' requests only; the share is against "
             "the attack-free run just before (for the half-open run, the mean of the attack-free runs); cheap pages are every kind "
             "but first-time pages, arbitrary SQL and the download; an error is a reader's request "
             "answered with anything but 200.", "",
             "| run | round | readers' req/s | share of attack-free | cheap pages p95 ms | errors | errors by status |",
             "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        share = "-" if r["share"] is None else f"{r['share']:.0%}"
        lines.append(f"| {r['run']} | {r['round'] or '-'} | {r['rps']:,.0f} | {share} | {r['cheap_p95']:.0f} "
                     f"| {len(r['errors'])} | {by_status(r['errors']) or '-'} |")
    free = ", ".join(f"{r['rps']:,.0f}" for r in rows if r["run"] == "no attack")
    lines += ["", f"Under 1% attacks, all rounds together: **{attacked_share(rows):.0%}** of the attack-free "
              f"throughput (the attack-free runs: {free} requests a second)."]
    errors = [e for r in rows for e in r["errors"]]
    if errors:
        lines += ["", "First errors: " + "; ".join(f"{e[0]} {e[1][:80]}" for e in errors[:5])]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=5000, help="requests to send (default 5000)")
    ap.add_argument("--concurrency", type=int, default=20, help="requests in flight at once (default 20)")
    ap.add_argument("--db", type=Path, default=ROOT / "imu.db", help="database to serve (default imu.db)")
    ap.add_argument("--url", help="test a server already running here instead of starting one")
    ap.add_argument("--seed", type=int, default=1, help="seed for the order of requests")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--processes", type=int, default=2, help="load-generating processes (default 2)")
    ap.add_argument("--compare", action="store_true",
                    help="serve-prod against make serve at 20, 100 and 200 clients (--count for serve-prod)")
    ap.add_argument("--single-count", type=int, default=600,
                    help="with --compare: requests per run against make serve (default 600)")
    ap.add_argument("--results", type=Path, help="with --compare: write the table into this file's load section")
    ap.add_argument("--hostile", action="store_true",
                    help="serve-prod at 200 clients: as it is, with 1%% attacks, and under 10,000 half-open connections")
    ap.add_argument("--rounds", type=int, default=3,
                    help="with --hostile: runs without and with attacks, in turn, this many times each (default 3)")
    args = ap.parse_args(argv)

    if not args.db.exists():
        import build_db

        build_db.build(ROOT / "seeds", args.db)
    metadata = yaml.safe_load((ROOT / "metadata.yml").read_text())
    mix = request_mix(args.db, metadata)
    if args.hostile:
        import os

        loads = ["%.2f" % os.getloadavg()[0]]
        rows = hostile_runs(args.db, mix, args.count, args.processes, rounds=args.rounds)
        loads.append("%.2f" % os.getloadavg()[0])
        command = "python bench/load.py" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
        text = hostile_report(rows, command, tuple(loads))
        print(text)
        if args.results:
            from results import replace_section

            replace_section(args.results, "load-hostile", text)
        return 1 if attacked_share(rows) < 0.8 or any(r["cheap_p95"] > 500 for r in rows) else 0
    if args.compare:
        import os

        loads = ["%.2f" % os.getloadavg()[0]]
        rows = compare(args.db, mix, args.count, args.single_count, args.processes)
        loads.append("%.2f" % os.getloadavg()[0])
        command = "python bench/load.py" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
        text = compare_report(rows, command, args.processes, tuple(loads))
        print(text)
        if args.results:
            from results import replace_section

            replace_section(args.results, "load", text)
        return 1 if any(r["errors"] for r in rows) else 0
    with (contextlib.nullcontext(args.url) if args.url else served(args.db)) as url:
        plan = plan_of(mix, args.count, args.seed)
        figures = run_processes(url, plan, args.concurrency, args.processes)
    print(json.dumps(figures, indent=1) if args.json else report(figures))
    return 1 if figures["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
