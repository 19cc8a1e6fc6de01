"""A hostile run: clients looping on the most expensive requests anyone may send, while one
visitor reads cheap pages. Prints how the cheap pages fared and the server's memory.

    .venv/bin/python bench/hostile.py                       # 20 hostile clients, 60 s
    .venv/bin/python bench/hostile.py --clients 6 --seconds 5

Each hostile client has its own 127.0.0.x address and loops over HOSTILE: runaway and
in-step SQL (huge printf, randomblob, quadratic instr, trim with a long set, thousands of
FTS prefix terms, big results, sorts, JSON aggregates and windows that grow in memory or
temporary storage), over-long search text, a slow `_where` on a streamed CSV, the denied
functions and tables, Datasette's own surface (repeated and excess facets, date facets, a
sort by a binary column) and URL tricks (a backslash path, `%73ql=`). The visitor asks for
CHEAP pages one after another. The server is `datasette serve` as `make serve` runs it;
its RSS and SQLite's temporary files are sampled every 50 ms, and every hostile request's
wall time is kept.
Exit status 1 if a cheap page failed, any request got a 5xx other than 503, or
--max-p95 / --max-rss-mb / --max-temp-mb / --max-wall were given and exceeded.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from load import served  # noqa: E402


def sql(query: str) -> str:
    return "/imu.json?" + urlencode({"sql": query})


COUNT = "with recursive n(i) as (select 1 union all select i + 1 from n{limit}) "
HOSTILE = [
    sql(COUNT.format(limit="") + "select count(*) from n where i < 0"),
    sql("select length(printf('%.*c', 900000000, 'x'))"),
    sql("select hex(randomblob(400000000))"),
    sql("select instr(printf('%.*c', 99990, 'a'), printf('%.*c', 49990, 'a') || 'b')"),
    sql("select count(*) from search_index_fts where search_index_fts match "
        "(" + COUNT.format(limit=" where i < 3000") + "select group_concat('a*', ' ') from n)"),
    sql(COUNT.format(limit=" where i < 1000") + "select i, printf('%.*c', 99000, 'x') from n"),
    sql(COUNT.format(limit=" where i < 3000000") + "select i from n order by random() limit 1"),
    sql("select fold(printf('%.*c', 9999, 'x')) from events, events"),
    sql("select hex(fts3_tokenizer('simple'))"),
    sql("select length(ltrim(replace(hex(zeroblob(49000)), '0', 'a'), "
        "replace(hex(zeroblob(48000)), '0', 'b') || 'a'))"),
    sql(COUNT.format(limit=" where i < 300000") + "select length(json_group_array(printf('%.*c', 5000, 'x'))) from n"),
    sql(COUNT.format(limit=" where i < 3000000") + "select count(*) from (select row_number() over "
        "(order by -i) as r, printf('%.*c', 1000, 'x') as pad from n order by pad, r)"),
    sql("select file from pragma_database_list"),
    "/imu/events.json?" + "&".join(["_facet=title"] * 90),
    "/imu/events?" + "&".join(f"_facet=c{i}" for i in range(11)),
    "/imu/events.json?" + "&".join(["_facet_date=date_start", "_facet=title", "_facet=place",
                                    "_facet=description", "_facet=date_text"]),
    "/imu/aliases_fts_docsize.json?_sort=sz",
    "/\\evil.example/",
    "/imu.json?%73ql=select+1",
    "/imu/search.json?" + urlencode({"q": "a* " * 3000}),
    "/imu/events.csv?_stream=on&" + urlencode({"_where": COUNT.format(limit="")
                                               + "select count(*) from n where i < 0) = 0"}).replace(
        "_where=with", "_where=(with"),
]
CHEAP = ["/imu/sources.json", "/imu/events/1999-tashkent-bombings", "/imu/groups.json?_shape=array",
         "/imu/dispute_topics", "/imu/people/tohir-yoldashev.json"]


def server_pid(port: int) -> int | None:
    """The `datasette serve` process listening on this port, read from /proc."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if any(b"datasette" in a for a in args[:2]) and str(port).encode() in args:
            return int(cmdline.parent.name)
    return None


def temp_mb() -> float:
    """SQLite's temporary files (etilqs_*) in the temporary folder, open or not."""
    import tempfile

    total = 0
    for f in Path(tempfile.gettempdir()).glob("etilqs_*"):
        with contextlib.suppress(OSError):
            total += f.stat().st_size
    return total / 1e6


def open_temp_mb(pid: int) -> float:
    """Deleted-but-open temporary files of the server (SQLite unlinks them at once)."""
    total = 0
    for fd in Path(f"/proc/{pid}/fd").glob("*"):
        with contextlib.suppress(OSError):
            if "etilqs_" in str(fd.readlink()):
                total += fd.stat().st_size
    return total / 1e6


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1] if len(values) > 1 else values[0]


async def run(base_url: str, clients: int, seconds: float) -> dict:
    port = int(base_url.rsplit(":", 1)[1])
    pid = server_pid(port)
    stop = time.monotonic() + seconds
    statuses: dict[int | str, int] = {}
    cheap_ms, cheap_failures, rss, temp, hostile_s = [], [], [], [], []

    async def hostile(i: int):
        transport = httpx.AsyncHTTPTransport(local_address=f"127.0.0.{10 + i}")
        async with httpx.AsyncClient(base_url=base_url, transport=transport, timeout=60) as client:
            n = i
            while time.monotonic() < stop:
                start = time.perf_counter()
                try:
                    r = await client.get(HOSTILE[n % len(HOSTILE)])
                    await r.aread()
                    key = r.status_code
                except httpx.HTTPError as exc:
                    key = type(exc).__name__
                hostile_s.append((time.perf_counter() - start, HOSTILE[n % len(HOSTILE)]))
                statuses[key] = statuses.get(key, 0) + 1
                n += 1

    async def visitor():
        transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
        async with httpx.AsyncClient(base_url=base_url, transport=transport, timeout=60) as client:
            await asyncio.sleep(0.5)  # let the hostile clients fill the server first
            n = 0
            while time.monotonic() < stop:
                start = time.perf_counter()
                try:
                    r = await client.get(CHEAP[n % len(CHEAP)])
                    if r.status_code != 200:
                        cheap_failures.append((r.status_code, CHEAP[n % len(CHEAP)]))
                except httpx.HTTPError as exc:
                    cheap_failures.append((type(exc).__name__, CHEAP[n % len(CHEAP)]))
                cheap_ms.append((time.perf_counter() - start) * 1000)
                n += 1
                await asyncio.sleep(0.05)

    async def sample():
        while time.monotonic() < stop:
            if pid:
                rss.append(rss_mb(pid))
                temp.append(temp_mb() + open_temp_mb(pid))
            await asyncio.sleep(0.05)

    baseline = rss_mb(pid) if pid else 0.0
    await asyncio.gather(*(hostile(i) for i in range(clients)), visitor(), sample())
    return {"clients": clients, "seconds": seconds, "hostile": statuses,
            "cheap": {"requests": len(cheap_ms), "p50": percentile(cheap_ms, 50),
                      "p95": percentile(cheap_ms, 95), "max": max(cheap_ms)},
            "cheap_failures": cheap_failures, "rss_mb": {"start": baseline, "peak": max(rss, default=0.0)},
            "temp_mb_peak": max(temp, default=0.0), "slowest": max(hostile_s, default=(0.0, "")),
            "server_alive": pid is not None and Path(f"/proc/{pid}").exists()}


def report(f: dict) -> str:
    hostile = ", ".join(f"{k}: {n}" for k, n in sorted(f["hostile"].items(), key=str))
    c = f["cheap"]
    return "\n".join([
        f"{f['clients']} hostile clients for {f['seconds']:.0f} s; their responses: {hostile}",
        f"cheap pages: {c['requests']} requests, p50 {c['p50']:.0f} ms, p95 {c['p95']:.0f} ms, "
        f"max {c['max']:.0f} ms, failures {len(f['cheap_failures'])}",
        f"server RSS: {f['rss_mb']['start']:.0f} MB at the start, {f['rss_mb']['peak']:.0f} MB at the peak; "
        f"SQLite temporary files at the peak: {f['temp_mb_peak']:.1f} MB; "
        f"server {'alive' if f['server_alive'] else 'GONE'} at the end",
        f"slowest hostile request: {f['slowest'][0]:.2f} s ({f['slowest'][1][:80]})",
    ])


def failed(f: dict, max_p95: float | None = None, max_rss: float | None = None,
           max_temp: float | None = None, max_wall: float | None = None) -> list[str]:
    problems = [f"cheap page failed: {x}" for x in f["cheap_failures"]]
    problems += [f"hostile request got {k}" for k in f["hostile"]
                 if not isinstance(k, int) or (k >= 500 and k != 503)]
    if not f["server_alive"]:
        problems.append("the server is gone")
    if max_p95 is not None and f["cheap"]["p95"] > max_p95:
        problems.append(f"cheap p95 {f['cheap']['p95']:.0f} ms > {max_p95:.0f} ms")
    if max_rss is not None and f["rss_mb"]["peak"] > max_rss:
        problems.append(f"peak RSS {f['rss_mb']['peak']:.0f} MB > {max_rss:.0f} MB")
    if max_temp is not None and f["temp_mb_peak"] > max_temp:
        problems.append(f"temporary files {f['temp_mb_peak']:.0f} MB > {max_temp:.0f} MB")
    if max_wall is not None and f["slowest"][0] > max_wall:
        problems.append(f"a hostile request ran {f['slowest'][0]:.1f} s > {max_wall:.1f} s: {f['slowest'][1][:80]}")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--db", type=Path, default=ROOT / "imu.db")
    ap.add_argument("--url", help="a server already running (RSS is read if it runs on this machine)")
    ap.add_argument("--max-p95", type=float, help="fail if cheap pages' p95 exceeds this (ms)")
    ap.add_argument("--max-rss-mb", type=float, help="fail if the server's RSS exceeds this")
    ap.add_argument("--max-temp-mb", type=float, help="fail if SQLite's temporary files exceed this")
    ap.add_argument("--max-wall", type=float, help="fail if a hostile request runs longer (seconds)")
    args = ap.parse_args(argv)
    if not args.db.exists():
        sys.path.insert(0, str(ROOT))
        import build_db

        build_db.build(ROOT / "seeds", args.db)
    with (contextlib.nullcontext(args.url) if args.url else served(args.db)) as url:
        figures = asyncio.run(run(url, args.clients, args.seconds))
    print(report(figures))
    problems = failed(figures, args.max_p95, args.max_rss_mb, args.max_temp_mb, args.max_wall)
    for p in problems:
        print(f"FAIL: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
