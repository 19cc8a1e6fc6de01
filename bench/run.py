"""Build and serve synthetic corpora, side by side with yaml-to-sqlite + plain Datasette.

    .venv/bin/python bench/run.py                      # 1,000, 10,000 and 100,000 events
    .venv/bin/python bench/run.py --sizes 1000 --requests 5

For each size, in one run: `build_db.py` from scratch, the parse floor (the same
files through yaml.load with the C loader and nothing else, in one process), the
naive pipeline (yaml-to-sqlite on each file, then `sqlite-utils enable-fts` on the
same text columns) and an incremental rebuild after one events file changed. At the
largest size it then serves both databases and times pages. Wall time and peak
memory (the RSS of the whole process tree, sampled) are measured on child processes.
The figures go to stdout and, as markdown, to --results.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import resource
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "scripts"))

import generate  # noqa: E402
import serve_prod  # noqa: E402  (make serve's settings as options)
from results import replace_section  # noqa: E402

PARSE_FLOOR = """
import sys, yaml
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        yaml.load(f, Loader=yaml.CSafeLoader)
"""
# The fastest YAML parser for Python found here (yaml-rs, in Rust; bench/RESULTS.md names the
# others tried): its bare parse of the same files, the floor a build on it could approach.
RUST_FLOOR = """
import sys, yaml_rs
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        yaml_rs.loads(f.read(), parse_datetime=False)
"""
# The naive database gets full-text search on the text columns our build indexes,
# where yaml-to-sqlite made them (claims and aliases stay nested JSON there).
NAIVE_FTS = {
    "events": ["title", "description", "place", "date_text"],
    "groups": ["name", "description"],
    "people": ["name", "description"],
    "sources": ["title", "author", "publisher", "notes"],
}


# ------------------------------------------------------------------ measuring

def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def measure(cmd: list[str], stdin=None, cwd=ROOT) -> tuple[float, int, float]:
    """Run cmd; return (wall seconds, peak RSS bytes of its process tree, CPU seconds of
    the tree: user + system, from getrusage). Fails loudly."""
    peak = 0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd)
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss(proc.pid))
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(map(str, cmd))}\n{err.decode()[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
    return wall, peak, cpu


def corpus(size: int, workdir: Path) -> tuple[Path, list[Path]]:
    """The generated seeds for `size` events, made once (generation is deterministic)."""
    seeds = workdir / f"seeds-{size}"
    stamp = seeds / ".generated"
    version = hashlib.sha256(Path(generate.__file__).read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != version:
        generate.generate(size, seeds)
        stamp.write_text(version)
    return seeds, sorted(seeds.glob("*.yml"))


def build_figures(size: int, workdir: Path, naive: bool) -> dict:
    seeds, files = corpus(size, workdir)
    dbdir = workdir / f"db-{size}"
    dbdir.mkdir(exist_ok=True)
    ours = dbdir / "imu.db"
    for old in (ours, dbdir / ".imu.db.cache"):
        shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(missing_ok=True)
    fig = {"size": size, "files": len(files), "mb": sum(p.stat().st_size for p in files) / 1e6}
    build = [str(BIN / "python"), "build_db.py", "--seeds", str(seeds), "--out", str(ours),
             "--docs", str(generate.docs_folder(seeds))]
    fig["build"] = measure(build)
    fig["floor"] = measure([str(BIN / "python"), "-c", PARSE_FLOOR, *map(str, files)])
    fig["rust_floor"] = measure([str(BIN / "python"), "-c", RUST_FLOOR, *map(str, files)])
    fig["db_mb"] = ours.stat().st_size / 1e6

    # Incremental: change one event's title in the middle events file, rebuild, put it back.
    events = [p for p in files if p.name.startswith("events-")]
    changed = events[len(events) // 2]
    original = changed.read_bytes()
    changed.write_bytes(original.replace(b"    title: ", b"    title: Changed ", 1))
    try:
        fig["incremental"] = measure(build)
        with sqlite3.connect(ours) as con:
            assert con.execute("select count(*) from events where title like 'Changed %'").fetchone()[0] == 1
    finally:
        changed.write_bytes(original)
    fig["revert"] = measure(build)

    if naive:
        fig["naive"] = naive_build(files, dbdir / "naive.db")
        fig["naive_db_mb"] = (dbdir / "naive.db").stat().st_size / 1e6
    return fig


def naive_build(files: list[Path], db: Path) -> tuple[float, int]:
    """yaml-to-sqlite per file, then enable-fts: what one would do by hand.

    yaml-to-sqlite takes a YAML list, so each file (one record type per file) is fed
    from just after its top-level key line: the same records, the same bytes less a line.
    """
    db.unlink(missing_ok=True)
    wall, peak, cpu = 0.0, 0, 0.0
    for path in files:
        data = path.read_bytes()
        key_line = next(i for i, line in enumerate(data.splitlines(keepends=True))
                        if line.strip() and not line.startswith(b"#"))
        offset = sum(len(line) for line in data.splitlines(keepends=True)[: key_line + 1])
        table = data.splitlines()[key_line].decode().rstrip(":")
        with open(path, "rb") as f:
            f.seek(offset)
            w, p, c = measure([str(BIN / "yaml-to-sqlite"), str(db), table, "-", "--pk", "id"], stdin=f)
        wall, peak, cpu = wall + w, max(peak, p), cpu + c
    for table, columns in NAIVE_FTS.items():
        w, p, c = measure([str(BIN / "sqlite-utils"), "enable-fts", str(db), table, *columns])
        wall, peak, cpu = wall + w, max(peak, p), cpu + c
    return wall, peak, cpu


# ------------------------------------------------------------------ serving

def serve(args: list[str]) -> tuple[subprocess.Popen, str]:
    """Start Datasette on a free local port; returns the process and its base URL."""
    import httpx

    port = serve_prod.free_port()
    proc = subprocess.Popen([str(BIN / "datasette"), "serve", *args, "--host", "127.0.0.1",
                             "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{base}/.json", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"datasette did not start: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("datasette did not start in 60 s")


def our_serve_args(db: Path) -> list[str]:
    """`make serve`'s options (serve_prod.serve_command, which scripts/serve.py runs), for
    another database; serve() picks a free local port."""
    inspect = db.with_name("inspect.json")
    serve_prod.inspect(db, inspect)
    return serve_prod.serve_command(db, inspect)[2:]  # after `datasette serve`


PLAIN = ("events_map", "canned query `events_map` in plain Datasette: the same SQL and rows, "
         "Datasette's own templates, no site plugins but the SQL functions (extra: the floor)")


def plain_serve_args(db: Path, workdir: Path) -> list[str]:
    """Datasette with one of our canned queries and nothing else of the site: what Datasette
    itself costs for that page. plugins/imu.py alone gives the SQL functions the query calls."""
    import yaml

    query = yaml.safe_load((ROOT / "metadata.yml").read_text())["databases"]["imu"]["queries"][PLAIN[0]]
    folder = workdir / "plain"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "plugins").mkdir(parents=True)
    shutil.copy(ROOT / "plugins" / "imu.py", folder / "plugins" / "imu.py")
    (folder / "metadata.yml").write_text(yaml.safe_dump(
        {"databases": {"imu": {"queries": {PLAIN[0]: {"sql": query["sql"]}}}}}))
    return ["-i", str(db), "--inspect-file", str(db.with_name("inspect.json")),
            "-m", str(folder / "metadata.yml"), "--plugins-dir", str(folder / "plugins")]


def first_days(db: Path) -> list[str]:
    """Distinct event dates, spread over the record, for pages that must not repeat a request."""
    con = sqlite3.connect(db)
    days = [d for (d,) in con.execute("select distinct date_start from events where date_start is not null order by 1")]
    step = max(1, len(days) // 200)
    return days[::step]


def pages(db: Path) -> list[tuple[str, str, str | None]]:
    """(what, our path, naive path) for each page timed; values are taken from the data."""
    con = sqlite3.connect(db)
    group_id, group_name = con.execute("select id, name from groups order by id limit 1 offset 7").fetchone()
    word = con.execute("select place from events order by id limit 1").fetchone()[0]
    meta = (ROOT / "metadata.yml").read_text()
    import yaml

    queries = yaml.safe_load(meta)["databases"]["imu"].get("queries", {})
    facets = yaml.safe_load(meta)["databases"]["imu"]["tables"]["events"].get("facets", [])
    # The naive database has the seeds' own fields only, not the ones the build derives.
    facet_qs = "&".join(f"_facet={f}" for f in facets if f != "event_category")
    rows = [
        ("events table, default facets", "/imu/events", f"/naive/events?{facet_qs}"),
        ("events sorted by date", "/imu/events?_sort_desc=date_start",
         f"/naive/events?_sort_desc=date_start&{facet_qs}"),
        (f"full-text search '{word}'", f"/imu/events?_search={word}", f"/naive/events?_search={word}&{facet_qs}"),
        ("JSON API, filtered", "/imu/events.json?country=UZ&event_type=bombing&_shape=array",
         "/naive/events.json?country=UZ&event_type=bombing&_shape=array"),
    ]
    rows.append(("events from a date on, a different date each request (extra: what a first visit costs)",
                 "/imu/events?date_start__gte={}", "/naive/events?date_start__gte={}&" + facet_qs))
    rows.append(("claims table, default facets (extra: the biggest table)", "/imu/claims", None))
    # Record pages of the busiest records: their sections and claims are the largest.
    busiest = {
        "group": "select group_id from event_groups group by 1 order by count(*) desc limit 1",
        "event": "select event_id from claims where event_id is not null group by 1 order by count(*) desc limit 1",
        "source": "select source_id from claims group by 1 order by count(*) desc limit 1",
        "claim": "select id from claims order by length(quote) desc limit 1",
    }
    tables = {"group": "groups", "event": "events", "source": "sources", "claim": "claims"}
    rows.append(("home page", "/", None))
    rows.append(("about page (the codebook)", "/about", None))
    for kind, sql in busiest.items():
        rows.append((f"{kind} page (the busiest)", f"/imu/{tables[kind]}/{con.execute(sql).fetchone()[0]}", None))
    canned = {"search": f"/imu/search?q={group_name.split()[0]}",
              "timeline": f"/imu/timeline?group={group_id}",
              "events_map": "/imu/events_map"}
    for name, path in canned.items():
        rows.append((f"canned query `{name}`", path if name in queries else None, None))
    rows += [(what, path if path.split("?")[0].split("/")[2].split(".")[0] in queries else None, None)
             for what, path in picture_pages(con)]
    return rows


def picture_pages(con) -> list[tuple[str, str]]:
    """(what, path) of the network's and the events chart's data and pages (issue 15)."""
    related = con.execute("select group_id from (select group_id from group_relations union all "
                          "select related_group_id from group_relations) group by 1 order by count(*) desc limit 1").fetchone()[0]
    active = con.execute("select group_id from event_groups group by 1 order by count(*) desc limit 1").fetchone()[0]
    relation = con.execute("select relation_id from claims where relation_id is not null "
                           "group by 1 order by count(*) desc limit 1").fetchone()[0]
    year = con.execute("select substr(date_start, 1, 4) from events order by date_start limit 1 offset "
                       "(select count(*) / 2 from events)").fetchone()[0]
    return [
        ("network data: every relation (the first 1,000)", "/imu/network.json?_shape=objects"),
        (f"network data: every group in {year}", f"/imu/network.json?year={year}&_shape=objects"),
        (f"network data: the group with most relations and its neighbours, {year}",
         f"/imu/network.json?group={related}&year={year}&_shape=objects"),
        ("network data: a relation's claims", f"/imu/relation_claims.json?relation={relation}&_shape=array"),
        ("network page, the group with most relations", f"/imu/network?group={related}&year={year}"),
        ("events per year: every event", "/imu/events_per_year.json?_shape=array"),
        ("events per year: one country", "/imu/events_per_year.json?country=UZ&_shape=array"),
        ("events per year: the busiest group", f"/imu/events_per_year.json?group={active}&_shape=array"),
        ("events per year page", "/imu/events_per_year"),
    ]


def time_page(client, base: str, path: str, n: int, fills: list[str]) -> tuple[float, float]:
    """p50 and p95 of n requests after 3 warm-up ones; a path with `{}` takes the next of
    `fills` each time, so no two requests ask the same (nothing a server remembers helps)."""
    urls = [base + path.format(fill) for fill in fills[:n + 3]] if "{}" in path else [base + path] * (n + 3)
    if len(urls) < n + 3:
        raise SystemExit(f"{path}: {len(urls)} values to fill in, {n + 3} needed")
    for url in urls[:3]:  # warm-up
        client.get(url)
    times = []
    for url in urls[3:]:
        start = time.perf_counter()
        r = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        if r.status_code != 200:
            raise SystemExit(f"{url} gave HTTP {r.status_code}")
    times.sort()
    return times[len(times) // 2], times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]


def serve_figures(size: int, workdir: Path, n: int, naive: bool) -> list[dict]:
    import httpx

    dbdir = workdir / f"db-{size}"
    ours = dbdir / "imu.db"
    results = []
    servers = [serve(our_serve_args(ours))]
    if naive:
        servers.append(serve(["-i", str(dbdir / "naive.db")]))
        servers.append(serve(plain_serve_args(ours, workdir)))
    try:
        fills = first_days(ours)
        with httpx.Client(timeout=60) as client:
            for what, our_path, naive_path in pages(ours):
                row = {"page": what, "ours": our_path, "naive": naive_path}
                if our_path:
                    row["ours_ms"] = time_page(client, servers[0][1], our_path, n, fills)
                if naive and naive_path:
                    row["naive_ms"] = time_page(client, servers[1][1], naive_path, n, fills)
                results.append(row)
                if naive and our_path == f"/imu/{PLAIN[0]}":
                    results.append({"page": PLAIN[1], "ours": our_path, "naive": None,
                                    "ours_ms": time_page(client, servers[2][1], our_path, n, fills)})
    finally:
        for proc, _ in servers:
            proc.terminate()
            proc.wait(10)
    return results


# ------------------------------------------------------------------ report

def fmt_s(x: float) -> str:
    return f"{x:.2f} s" if x < 10 else f"{x:.1f} s"


def fmt_mb(b: int) -> str:
    return f"{b / 1e6:.0f} MB"


def report(builds: list[dict], serving: list[dict], serve_size: int | None, n: int, command: str,
           load: tuple[str, str]) -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    lines = [
        f"Run {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores ({cpu}), "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}; "
        f"load average {load[0]} at the start, {load[1]} at the end.",
        "",
        f"Command: `{command}`",
        "",
        "### Build",
        "",
        "| events | YAML | parse floor | yaml-rs floor | build_db.py | build / floor | build / yaml-rs "
        "| naive pipeline | naive / build | incremental rebuild | incremental / build |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for f in builds:
        b, fl, inc, nv, rs = f["build"], f["floor"], f["incremental"], f.get("naive"), f.get("rust_floor")
        lines.append(
            f"| {f['size']:,} | {f['mb']:.0f} MB in {f['files']} files | {fmt_s(fl[0])} "
            f"| {fmt_s(rs[0]) if rs else '-'} | {fmt_s(b[0])} "
            f"| {b[0] / fl[0]:.2f}x | {f'{b[0] / rs[0]:.1f}x' if rs else '-'} | {fmt_s(nv[0]) if nv else 'not run'} "
            f"| {f'{nv[0] / b[0]:.1f}x' if nv else '-'} | {fmt_s(inc[0])} (back: {fmt_s(f['revert'][0])}) "
            f"| {inc[0] / b[0]:.1%} |")
    lines += [
        "",
        "| events | CPU time: floor, build, naive | peak memory: floor, build, naive | database: ours, naive |",
        "| ---: | --- | --- | --- |",
    ]
    for f in builds:
        b, fl, nv = f["build"], f["floor"], f.get("naive")
        naive_mb = f"{f['naive_db_mb']:.0f} MB" if nv else "-"
        lines.append(
            f"| {f['size']:,} | {fmt_s(fl[2])}, {fmt_s(b[2])}, {fmt_s(nv[2]) if nv else '-'} "
            f"| {fmt_mb(fl[1])}, {fmt_mb(b[1])}, {fmt_mb(nv[1]) if nv else '-'} "
            f"| {f['db_mb']:.0f} MB, {naive_mb} |")
    lines += [
        "",
        "Wall times of one run each. *Parse floor*: `yaml.load(f, Loader=yaml.CSafeLoader)` of every "
        "file, nothing else, in one process. *yaml-rs floor*: `yaml_rs.loads()` (yaml-rs 0.1.6, "
        "in Rust) of the same files, likewise. *build_db.py*: a full build from scratch (no cache). "
        "*Naive pipeline*: `yaml-to-sqlite naive.db TABLE - --pk id` for each file (fed from "
        "below its one top-level key), then `sqlite-utils enable-fts` on events, groups, people "
        "and sources; its claims and aliases stay nested JSON. *Incremental rebuild*: "
        "`build_db.py` again after one event's title changed in one events file (*back*: "
        "after putting it back). Peak memory is the largest sum of RSS over the process tree, "
        "sampled every 20 ms; CPU time is user + system of the tree.",
    ]
    if serving:
        lines += [
            "",
            f"### Serving {serve_size:,} events",
            "",
            f"Milliseconds per request, {n} sequential requests after 3 warm-up ones (httpx, loopback). "
            "Ours: `make serve`'s options (immutable, inspect file, metadata.yml, settings.json). "
            "Naive: `datasette serve -i naive.db` with the same facets asked for in the URL.",
            "",
            "| page | ours p50 | ours p95 | naive p50 | naive p95 | our URL |",
            "| --- | ---: | ---: | ---: | ---: | --- |",
        ]
        for r in serving:
            o, nv = r.get("ours_ms"), r.get("naive_ms")
            url = f"`{r['ours']}`" if r["ours"] else "not in metadata.yml yet"
            lines.append(
                f"| {r['page']} | {f'{o[0]:.0f}' if o else '-'} | {f'{o[1]:.0f}' if o else '-'} "
                f"| {f'{nv[0]:.0f}' if nv else '-'} | {f'{nv[1]:.0f}' if nv else '-'} "
                f"| {url} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000", help="events per corpus, comma-separated")
    ap.add_argument("--serve-size", type=int, default=None, help="corpus to serve (default: the largest)")
    ap.add_argument("--requests", type=int, default=30, help="timed requests per page")
    ap.add_argument("--no-naive", action="store_true", help="skip yaml-to-sqlite and plain datasette")
    ap.add_argument("--workdir", type=Path, default=ROOT / "bench" / "out")
    ap.add_argument("--results", type=Path, default=ROOT / "bench" / "RESULTS.md")
    ap.add_argument("--readme", action="store_true",
                    help="also put the figures in README.md, between its bench:start and bench:end marks")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    serve_size = args.serve_size or max(sizes)
    args.workdir.mkdir(parents=True, exist_ok=True)
    naive = not args.no_naive
    start_load = "%.2f" % os.getloadavg()[0]
    builds = []
    for size in sizes:
        print(f"building {size:,} events...", flush=True)
        builds.append(build_figures(size, args.workdir, naive))
        print(json.dumps(builds[-1]), flush=True)
    print(f"serving {serve_size:,} events...", flush=True)
    serving = serve_figures(serve_size, args.workdir, args.requests, naive)
    command = "python bench/run.py" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    text = report(builds, serving, serve_size, args.requests, command,
                  (start_load, "%.2f" % os.getloadavg()[0]))
    print(text)
    replace_section(args.results, "bench", text)
    if args.readme:
        replace_section(ROOT / "README.md", "bench",
                        "The latest run, as `bench/run.py` wrote it to bench/RESULTS.md:\n\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
