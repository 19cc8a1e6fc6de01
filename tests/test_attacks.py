"""Arbitrary SQL from anyone: what it may reach and what one statement may cost
(plugins/sqlguard.py), and that it cannot starve other visitors (plugins/lanes.py).

Each denial or bound is shown to matter by a control: the same SQL on a plain
connection to the same database leaks, runs long or succeeds.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sqlite3
import sys
import time
import weakref
from urllib.parse import urlencode

import pytest
from datasette.utils import module_from_path

from conftest import ROOT, make_datasette
from fold import SQL_MAX_CHARS, _fold_cached, sql_fold

pytestmark = pytest.mark.serial  # timed or bounded: run alone (Makefile, `make test`)

sys.path.insert(0, str(ROOT / "bench"))

import hostile  # noqa: E402

MAX_LENGTH = 100_000  # plugins/sqlguard.py


def sql(ds, query: str):
    return asyncio.run(ds.client.get("/imu.json?" + urlencode({"sql": query, "_shape": "array"})))


def raw(db_path):
    return sqlite3.connect(f"file:{db_path}?immutable=1", uri=True, check_same_thread=False)


def load_plugin(name: str):
    return module_from_path(str(ROOT / "plugins" / f"{name}.py"), name=f"{name}.py")


# ---------------------------------------------------------------- what SQL may reach

def test_fts3_tokenizer_cannot_leak_or_plant_a_pointer(ds, db_path):
    control = raw(db_path).execute("select hex(fts3_tokenizer('simple'))").fetchone()[0]
    assert re.fullmatch(r"[0-9A-F]{16}", control)  # an address inside libsqlite3
    for query in ("select hex(fts3_tokenizer('simple'))",
                  "select fts3_tokenizer('simple', x'4141414141414141')",
                  "select upper(FTS3_TOKENIZER('porter'))"):
        r = sql(ds, query)
        assert r.status_code == 400 and "not authorized" in r.text, query
        assert control not in r.text


@pytest.mark.parametrize("query", [
    "select load_extension('/lib/x86_64-linux-gnu/libc.so.6')",
    "select sqlite_compileoption_get(0)",
    "select sqlite_compileoption_used('ENABLE_FTS3_TOKENIZER')",
    "select count(*) from sqlite_stmt",
    "select sql from sqlite_stmt",
    "select file from pragma_database_list",
    "select * from pragma_database_list()",
    "select (select group_concat(file) from pragma_database_list) as where_the_file_is",
])
def test_functions_and_tables_beyond_the_data_are_denied(ds, db_path, query):
    if "load_extension" not in query:
        raw(db_path).execute(query).fetchall()  # control: a plain connection answers
    r = sql(ds, query)
    assert r.status_code == 400 and re.search("not authorized|is prohibited", r.text), r.text[:300]


def test_the_data_and_sqlites_public_functions_stay_reachable(ds):
    r = sql(ds, "select count(*) as n, printf('%05d|%-4s|%.2f', 42, 'ab', 3.14159) as p, "
                "sqlite_version() as v, json_array(1, 2) as j from events")
    assert r.status_code == 200, r.text
    row = r.json()[0]
    assert row["n"] > 0 and row["p"] == "00042|ab  |3.14" and row["j"] == "[1,2]"
    assert sql(ds, "select count(*) from dbstat").status_code == 200


# ---------------------------------------------------------------- what one statement may cost

@pytest.mark.parametrize("query", [
    "select length(printf('%.*c', 900000000, 'x'))",
    "select length(format('%.*c%.*c', 60000, 'x', 60000, 'y'))",
    "select length(printf('%!.2000000000c', 'x'))",
    "select hex(randomblob(400000000))",
    "select length(zeroblob(200000))",
    f"select length(replace(printf('%.*c', {MAX_LENGTH - 10}, 'a'), 'a', 'bb'))",
    "select length(fold(printf('%.*c', 20000, 'x')))",
    "select escape_fts(printf('%.*c', 400, 'x'))",
])
def test_oversized_values_are_refused_at_once(ds, query):
    start = time.perf_counter()
    r = sql(ds, query)
    assert r.status_code == 400 and "string or blob too big" in r.text, r.text[:300]
    assert time.perf_counter() - start < 0.5  # the control below ran for seconds


LONG = "replace(hex(zeroblob({n})), '0', 'a')"  # 2n characters, built inside SQLite
B = "replace(hex(zeroblob({n})), '0', 'b')"


@pytest.mark.parametrize("name", ["trim", "ltrim", "rtrim"])
def test_trim_with_a_long_set_is_refused_in_time(ds, db_path, name):
    """trim(X, Y) compares each character of X with each of Y inside one step: two 98 KB
    arguments are refused at once; the control, a plain connection, runs far longer."""
    # every character of the text is in the set, found only at its end
    query = f"select length({name}({LONG.format(n=49000)}, {B.format(n=48000)} || 'a'))"
    start = time.perf_counter()
    r = sql(ds, query)
    assert r.status_code == 400 and "string or blob too big" in r.text, r.text[:300]
    assert time.perf_counter() - start < 0.5
    con = raw(db_path)
    con.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_LENGTH)
    start = time.perf_counter()  # the control: 98,000 characters against a set of 4,000
    con.execute(f"select length({name}({LONG.format(n=49000)}, {B.format(n=2000)} || 'a'))").fetchall()
    assert time.perf_counter() - start > 0.05, "already slow at a twenty-fourth of the refused work"
    # and short sets, or short texts, work as SQLite's own
    r = sql(ds, f"select {name}('xxaxx', 'x') as a, {name}('  a  ') as b, {name}(title, 'T') as c from events limit 1")
    assert r.status_code == 200
    expected = con.execute(f"select {name}('xxaxx', 'x'), {name}('  a  '), {name}(title, 'T') from events limit 1").fetchone()
    assert tuple(r.json()[0].values()) == tuple(expected)


@pytest.mark.parametrize("query", [
    # a JSON aggregate grows past any length limit until it is returned
    "with recursive r(i) as (select 1 union all select i + 1 from r where i < 300000) "
    "select length(json_group_array(printf('%.*c', 5000, 'x'))) from r",
    # a window sorts its partition in temporary storage
    "with recursive r(i) as (select 1 union all select i + 1 from r where i < 3000000) "
    "select count(*) from (select row_number() over (order by -i) as n, printf('%.*c', 1000, 'x') as pad "
    "from r order by pad, n)",
    # so does a plain sort
    "with recursive r(i) as (select 1 union all select i + 1 from r where i < 3000000) "
    "select count(*) from (select printf('%.*c', 2000, 'x') || i as pad from r order by pad desc)",
])
def test_memory_and_temporary_storage_are_bounded(live_server, query):
    """What SQLite holds is capped for the server's process, temporary storage included: a
    query past it is an SQL error saying so (or the time limit, whichever comes first), never
    a server gigabytes larger or temporary files on disk."""
    import httpx

    pid = server_pid(live_server)
    before = temp_bytes()
    r = httpx.get(live_server + "/imu.json", params={"sql": query, "_shape": "array"}, timeout=30)
    assert r.status_code == 400, r.text[:300]
    assert re.search("needs more memory than this site allows|too long", r.json()["error"]), r.json()["error"]
    assert resident_mb(pid) < 400  # its peak: the bound for the whole hostile mix
    assert temp_bytes() <= before


def server_pid(url: str) -> int:
    """The `datasette serve` process started with the server's port."""
    from pathlib import Path

    port = url.rsplit(":", 1)[1]
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in args and b"--port" in args and args[args.index(b"--port") + 1] == port.encode():
            return int(proc.name)
    raise AssertionError(f"no server on port {port}")


def resident_mb(pid: int) -> float:
    status = open(f"/proc/{pid}/status").read()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status)[1]) / 1000  # its peak, not just now


def temp_bytes() -> int:
    import tempfile
    from pathlib import Path

    return sum(f.stat().st_size for f in Path(tempfile.gettempdir()).glob("etilqs_*") if f.is_file())


def test_printf_control_runs_inside_one_step(db_path):
    """Why printf is wrapped: on a plain connection with the same length limit, a large
    %c precision still loops for its whole count, after the output has stopped growing."""
    con = raw(db_path)
    con.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_LENGTH)
    start = time.perf_counter()
    assert con.execute("select printf('%.*c', 1500000000, 'x')").fetchone() == (None,)
    assert time.perf_counter() - start > 0.5


def test_printf_counts_repetitions_like_sqlite(ds):
    r = sql(ds, f"select length(printf('%.*c', {MAX_LENGTH - 1}, 'x')) as a, "
                "printf('%c|%3c|%.3c|%%|%s', 'a', 'b', 'c', 'd') as b, printf(NULL) as c, "
                "printf('%.*c', '5', 'z') as d")
    assert r.status_code == 200, r.text
    assert r.json() == [{"a": MAX_LENGTH - 1, "b": "a|  b|ccc|%|d", "c": None, "d": "zzzzz"}]


def test_a_result_is_bounded_in_bytes(ds):
    query = (f"with recursive n(i) as (select 1 union all select i + 1 from n where i < 1000) "
             f"select i, printf('%.*c', {MAX_LENGTH - 100}, 'x') as big from n")
    r = sql(ds, query)
    assert r.status_code == 400 and "result too big" in r.text
    assert sql(ds, query.replace(" < 1000", " < 100")).status_code == 200  # 10 MB is allowed


def test_the_cached_sql_functions_keep_no_long_text(ds):
    """date_phrase, span_phrase and code_words remember their answers; a query passing them
    long text, row after row, is answered as usual and leaves nothing in their caches."""
    import dates
    import labels
    import spans

    caches = (dates.date_phrase, spans.phrase, labels.code_words)
    long = "printf('%.*c', 5000, 'x') || n.i"
    query = (f"with recursive n(i) as (select 1 union all select i + 1 from n where i < 200) "
             f"select date_phrase({long}, null, 'day') as a, span_phrase(null, null, {long}, null, null) as b, "
             f"code_words('role', {long}) as c, date_phrase('2001-11-01', '2001-11-30', 'month') as d from n")
    for f in caches:
        f.cache_clear()
    r = sql(ds, query)
    assert r.status_code == 200, r.text[:300]
    found = r.json()
    assert len(found) == 200 and found[0]["c"].startswith("xxx") and found[0]["d"] == "November 2001"
    assert [f.cache_info().currsize for f in caches] == [1, 0, 0]  # the one short call


def test_fold_in_sql_is_bounded_and_caches_only_short_names():
    with pytest.raises(OverflowError):
        sql_fold("x" * (SQL_MAX_CHARS + 1))
    _fold_cached.cache_clear()
    sql_fold("Yo'ldashev " * 500)
    sql_fold("Yo'ldashev")
    assert _fold_cached.cache_info().currsize == 1


def test_time_limit_reaches_inside_a_full_text_query(metadata, settings, db_path):
    """A MATCH of thousands of prefix terms runs inside one SQLite step, where Datasette's
    progress handler never runs; the watchdog interrupts it near the time limit."""
    terms = " ".join(["a*"] * 3000)
    con = raw(db_path)
    start = time.perf_counter()
    con.execute("select count(*) from search_index_fts where search_index_fts match ?", [terms]).fetchone()
    alone = time.perf_counter() - start
    assert alone > 1.0, "the control query is too quick on this machine to show anything"
    ds = make_datasette(db_path, metadata, settings | {"sql_time_limit_ms": 100})
    query = ("select count(*) from search_index_fts where search_index_fts match "
             "(with recursive n(i) as (select 1 union all select i + 1 from n where i < 3000) "
             "select group_concat('a*', ' ') from n)")
    start = time.perf_counter()
    r = sql(ds, query)
    served = time.perf_counter() - start
    assert r.status_code == 400 and "too long" in r.text
    assert served < alone / 2, (served, alone)


# ---------------------------------------------------------------- one client cannot starve the others

RUNAWAY = ("with recursive n(i) as (select 1 union all select i + 1 from n) "
           "select count(*) from n where i < 0")


def test_visitor_sql_runs_on_its_own_threads(metadata, settings, db_path):
    """Six runaway queries (more than the site's three SQL threads) are in flight when a cheap
    page is asked for; it is answered first, while they are still running."""
    ds = make_datasette(db_path, metadata, settings | {"sql_time_limit_ms": 1500})
    done: list[str] = []

    async def fetch(name, path):
        r = await ds.client.get(path)
        done.append(name)
        return r

    async def scenario():
        hostile = [asyncio.create_task(fetch(f"runaway {i}", "/imu.json?" + urlencode({"sql": RUNAWAY})))
                   for i in range(6)]
        await asyncio.sleep(0.3)
        cheap = await fetch("cheap", "/imu/sources.json?_shape=array")
        return cheap, await asyncio.gather(*hostile)

    cheap, hostile = asyncio.run(scenario())
    assert cheap.status_code == 200 and len(cheap.json()) > 0
    ran = [f"runaway {i}" for i, r in enumerate(hostile) if r.status_code == 400]
    assert ran and all(done.index("cheap") < done.index(name) for name in ran), done  # the rest: 503 at once
    assert {r.status_code for r in hostile} <= {400, 503}
    assert any(r.status_code == 400 and "too long" in r.text for r in hostile)


def test_too_many_sql_requests_at_once_are_told_to_retry(metadata, settings, db_path):
    ds = make_datasette(db_path, metadata, settings | {"sql_time_limit_ms": 1000})
    admitted = load_plugin("lanes").OPEN_REQUESTS

    async def flood():
        return await asyncio.gather(*(ds.client.get("/imu.json?" + urlencode({"sql": RUNAWAY}))
                                      for _ in range(admitted + 4)))

    responses = asyncio.run(flood())
    busy = [r for r in responses if r.status_code == 503]
    assert 1 <= len(busy) <= 4  # the others are admitted
    assert all(r.headers["retry-after"] == "2" and "try again" in r.text for r in busy)
    assert asyncio.run(ds.client.get("/imu.json?sql=select+1")).status_code == 200  # admitted again


def test_a_runaway_query_gives_its_place_to_a_readers(metadata, settings, db_path):
    """plugins/lanes.py: every place taken by runaway queries, a reader's own SQL still gets
    its answer, not 503: the query that has run longest is cut short for it. Queries still
    waiting for a thread are not cut, so a flood arriving at once still gets 503s (below)."""
    ds = make_datasette(db_path, metadata, settings | {"sql_time_limit_ms": 1000})
    lanes = load_plugin("lanes")
    asyncio.run(ds.client.get("/-/versions"))

    async def scenario():
        runaways = [asyncio.create_task(ds.client.get("/imu.json?" + urlencode({"sql": RUNAWAY})))
                    for _ in range(lanes.OPEN_REQUESTS)]
        await asyncio.sleep(lanes.GIVE_WAY_AFTER + 0.25)
        reader = await ds.client.get("/imu.json?" + urlencode({"sql": "select count(*) from events"}))
        return reader, await asyncio.gather(*runaways)

    reader, runaways = asyncio.run(scenario())
    assert reader.status_code == 200, reader.text
    with sqlite3.connect(db_path) as con:
        assert reader.json()["rows"] == [[con.execute("select count(*) from events").fetchone()[0]]]
    assert {r.status_code for r in runaways} == {400}
    assert any("the site is busy: this query was stopped so that other visitors" in r.json()["error"]
               for r in runaways)


def _priorities_while(db_path, sql: str, limit_ms: int, functions: dict, visitor: bool = True) -> tuple[dict, list]:
    """Run a query on a thread of its own under the watchdog, as a visitor's (with a
    request's budget) or as the site's own; its thread's nice value before and after, and
    sampled every 10 ms while it runs (time since start, value)."""
    import threading

    import datasette.database

    load_plugin("sqlguard")
    timelimit = datasette.database.sqlite_timelimit
    seen, result = [], {}

    def run():
        me = threading.get_native_id()
        result["id"], result["before"] = me, os.getpriority(os.PRIO_PROCESS, me)
        timelimit.request.budget = load_plugin("lanes").Budget(5) if visitor else None
        conn = raw(db_path)
        for name, fn in functions.items():
            conn.create_function(name, 1, fn)
        try:
            with timelimit(conn, limit_ms):
                conn.execute(sql).fetchall()
        except sqlite3.OperationalError:
            pass
        finally:
            timelimit.request.budget = None
        result["after"] = os.getpriority(os.PRIO_PROCESS, me)

    start = time.monotonic()
    thread = threading.Thread(target=run)
    thread.start()
    while thread.is_alive():
        if "id" in result:
            with contextlib.suppress(OSError):
                seen.append((time.monotonic() - start, os.getpriority(os.PRIO_PROCESS, result["id"])))
        time.sleep(0.01)
    return result, seen


@pytest.mark.parametrize("visitors", [True, False])
def test_a_visitors_slow_query_gives_way_and_takes_its_priority_back(db_path, visitors):
    """plugins/sqlguard.py: once it has had 5 ms of the processor, a query of a request
    carrying the visitor's own SQL runs at nice 19, and its thread is back at its own
    priority once it ends (where the process may take a priority back; elsewhere nothing
    is slowed). The site's own queries are never slowed."""
    import datasette.database

    result, seen = _priorities_while(db_path, RUNAWAY, 400, {}, visitor=visitors)
    assert result["after"] == result["before"] and len(seen) > 10
    slowed = visitors and datasette.database.sqlite_timelimit.watchdog.may_slow
    assert (max(p for _, p in seen) == 19) is slowed, (visitors, slowed, seen)


def test_a_visitors_query_is_slowed_by_the_processor_it_has_had_not_by_the_clock(db_path):
    """plugins/sqlguard.py: a query that waits 300 ms without using the processor (here a
    function that sleeps; under load, a query waiting for the processor) keeps its
    priority; with the machine saturated, slowing such waits by the clock had slowed
    readers' one-millisecond counts, which then waited behind everything else."""
    result, seen = _priorities_while(db_path, "select nap(300)", 2000, {"nap": lambda ms: time.sleep(ms / 1000)})
    assert len(seen) > 10 and {p for _, p in seen} == {result["before"]} == {result["after"]}


def test_an_interrupted_query_has_its_priority_back_at_once(db_path):
    """plugins/sqlguard.py: a slowed query interrupted at its deadline runs at its own
    priority again from then on, not only once it ends: with the machine busy, a slowed
    thread took up to a second to reach the end, holding one of the two threads for
    visitors' SQL. (Here a function that keeps the processor busy for 600 ms, out of
    SQLite's reach, stands for the last step of an interrupted query.)"""
    import datasette.database

    def spin(ms):
        until = time.monotonic() + ms / 1000
        while time.monotonic() < until:
            pass
        return 1

    result, seen = _priorities_while(db_path, "select spin(600)", 250, {"spin": spin})
    slows = datasette.database.sqlite_timelimit.watchdog.may_slow
    assert (max(p for _, p in seen) == 19) is slows  # slowed while it ran, where it may be
    after = [p for t, p in seen if t > 0.35]
    assert len(after) > 5 and set(after) == {result["before"]}, seen


def test_a_failed_query_frees_its_cursor_in_the_sql_thread(db_path):
    """plugins/lanes.py: the exception that leaves the SQL thread carries no cursor; freed on
    the event loop, a cursor waits for its connection, busy with the thread's next query."""
    from concurrent.futures import ThreadPoolExecutor

    lanes = load_plugin("lanes")
    cursors = []

    def failing_query():
        cursor = raw(db_path).cursor()
        cursor.execute("select 1")
        cursors.append(weakref.ref(cursor))
        raise sqlite3.OperationalError("interrupted")

    alive = []
    with ThreadPoolExecutor(1) as pool:
        for submit in (lambda: pool.submit(failing_query), lambda: pool.submit(lanes.in_sql_thread, None, failing_query)):
            try:
                submit().result()
            except sqlite3.OperationalError:
                alive.append(cursors[-1]() is not None)  # while the exception is still held
    assert alive == [True, False]  # Datasette's own way keeps it; the lanes free it


def held_pool(lanes):
    """The open lane's pool with both threads held by a "busy" job until `release` is set:
    (pool, job(name) making a job that notes its name in `ran`, the busy futures, release, ran)."""
    import threading

    pool = lanes.EarliestFirst(2, "test")
    release, ran = threading.Event(), []

    def job(name):
        def run():
            if name.startswith("busy"):
                release.wait(10)
            ran.append(name)
            return name
        return run

    busy = [pool.submit_by(time.monotonic() + 60, job(f"busy {i}")) for i in range(2)]
    time.sleep(0.1)  # both threads are now held
    return pool, job, busy, release, ran


def test_the_open_lane_takes_the_earliest_deadline_first_and_never_holds_a_late_query():
    """plugins/lanes.py: with both threads busy, a query past its request's deadline is
    refused at once on the late thread (it waited up to a second behind them), and the
    queued ones run earliest deadline first, not in arrival order."""
    lanes = load_plugin("lanes")
    pool, job, busy, release, ran = held_pool(lanes)
    now = time.monotonic()
    later = pool.submit_by(now + 30, job("later"))
    sooner = pool.submit_by(now + 20, job("sooner"))
    late = pool.submit_by(now, job("past its deadline"))
    assert late.result(timeout=2) == "past its deadline"
    assert not later.done() and not sooner.done()
    release.set()
    assert [f.result(timeout=5) for f in busy + [sooner, later]]
    assert ran.index("past its deadline") < ran.index("sooner") < ran.index("later")
    pool.shutdown()
    assert not any(t.is_alive() for t in pool.threads)


def _budget(lanes, address=None, usage=None, heavy=None, seconds=60):
    budget = lanes.Budget(seconds, address, usage)
    if heavy is not None:
        budget.heavy = heavy
    return budget


def test_the_open_lane_runs_a_heavy_addresss_queries_after_everyone_elses():
    """plugins/lanes.py: with both threads busy, a light address's query queued after a
    heavy one's runs first, even with a later deadline; heavy ones keep deadline order."""
    lanes = load_plugin("lanes")
    pool, job, busy, release, ran = held_pool(lanes)
    queued = [pool.submit_for(_budget(lanes, heavy=True, seconds=20), job("heavy, sooner")),
              pool.submit_for(_budget(lanes, heavy=True, seconds=30), job("heavy, later")),
              pool.submit_for(_budget(lanes, heavy=False, seconds=40), job("light"))]
    release.set()
    for future in busy + queued:
        future.result(timeout=5)
    assert [name for name in ran if not name.startswith("busy")] == ["light", "heavy, sooner", "heavy, later"], ran
    pool.shutdown()


@pytest.mark.parametrize("before", ["heavy before", "heavy by running"])
def test_a_light_addresss_query_cuts_a_heavy_ones_short_when_no_thread_is_free(db_path, before):
    """plugins/lanes.py: both threads running a heavy address's runaway queries, a light
    address's count does not wait for them to run out of time: the longer-running one is
    cut short (interrupted) and the count answers at once. An address is heavy by its
    queries before, or by the time its query has been running."""
    lanes = load_plugin("lanes")
    load_plugin("sqlguard")
    import datasette.database

    timelimit = datasette.database.sqlite_timelimit
    pool = lanes.EarliestFirst(2, "test")
    usage = lanes.Usage()
    if before == "heavy before":
        usage.add("10.0.0.1", 2 * lanes.HEAVY_SECONDS)

    def query(sql):
        def run():
            conn = raw(db_path)
            with timelimit(conn, 5000):
                return conn.execute(sql).fetchall()
        return run

    heavy = [_budget(lanes, "10.0.0.1", usage, seconds=5) for _ in range(2)]
    assert all(b.heavy for b in heavy) is (before == "heavy before")
    runaways = [pool.submit_for(b, lanes.in_sql_thread, b, query(RUNAWAY)) for b in heavy]
    time.sleep(0.3)
    light = _budget(lanes, "10.0.0.2", usage, seconds=5)
    assert not light.heavy
    start = time.monotonic()
    count = pool.submit_for(light, lanes.in_sql_thread, light, query("select count(*) from events"))
    assert count.result(timeout=5)[0][0] > 0
    assert time.monotonic() - start < 1.0  # the runaways had 4.7 s left
    cut = [b for b in heavy if b.cut]
    assert len(cut) == 1
    with pytest.raises(sqlite3.OperationalError, match="the site is busy: this query was stopped"):
        runaways[heavy.index(cut[0])].result(timeout=2)
    other = next(b for b in heavy if not b.cut)
    other.cut_short()
    with pytest.raises(sqlite3.OperationalError):
        runaways[heavy.index(other)].result(timeout=5)
    assert usage.of("10.0.0.2") < lanes.HEAVY_SECONDS < usage.of("10.0.0.1")
    pool.shutdown()


def test_an_address_is_heavy_while_its_recent_use_of_the_threads_is():
    lanes = load_plugin("lanes")
    usage = lanes.Usage(size=2)
    usage.add("a", 2 * lanes.HEAVY_SECONDS)
    assert usage.heavy("a") and not usage.heavy("b")
    now = time.monotonic()
    assert usage.of("a", now + lanes.HALF_LIFE) == pytest.approx(lanes.HEAVY_SECONDS, rel=0.01)
    assert usage.of("a", now + 2 * lanes.HALF_LIFE) < lanes.HEAVY_SECONDS
    usage.add("b", 0.1)
    usage.add("c", 0.1)
    assert usage.of("a") == 0  # the oldest forgotten: the last `size` addresses are kept
    assert set(usage.seen) == {"b", "c"}


def test_places_are_held_until_a_requests_queries_are_done():
    """plugins/lanes.py: a request rendering its answer holds no place; one waiting for its
    first query, or with one queued or running, does. When all are held, a light newcomer
    takes a heavy address's place (even a waiting one's), a heavy newcomer no light one's."""
    lanes = load_plugin("lanes")
    places = lanes.Places()
    done = [_budget(lanes, f"10.0.1.{i}", heavy=False) for i in range(lanes.OPEN_REQUESTS)]
    for b in done:
        assert places.take(b)
        b.began = True  # its query has been answered: jobs == 0
    waiting = [_budget(lanes, f"10.0.2.{i}", heavy=False) for i in range(lanes.OPEN_REQUESTS - 1)]
    assert all(places.take(b) for b in waiting)
    heavy = _budget(lanes, "10.0.3.1", heavy=True)
    assert places.take(heavy)  # the last place
    assert not places.take(_budget(lanes, "10.0.3.2", heavy=True))
    assert not heavy.cut and not any(b.cut for b in waiting)
    light = _budget(lanes, "10.0.4.1", heavy=False)
    assert places.take(light)
    assert heavy.cut and heavy.deadline <= time.monotonic()
    assert not places.take(_budget(lanes, "10.0.4.2", heavy=False))  # none has run past GIVE_WAY_AFTER
    for b in list(places.admitted):
        places.leave(b)
    places.admitted = [_budget(lanes, heavy=False) for _ in range(lanes.IN_FLIGHT)]
    for b in places.admitted:
        b.began = True
    assert not places.take(_budget(lanes, heavy=False))  # however few hold a place


@pytest.mark.parametrize("peer, headers, header, expected", [
    ("203.0.113.7", [], None, "203.0.113.7"),
    ("203.0.113.7", [(b"fly-client-ip", b"198.51.100.2")], None, "203.0.113.7"),  # not configured: ignored
    ("172.16.0.2", [(b"fly-client-ip", b"198.51.100.2")], b"fly-client-ip", "198.51.100.2"),
    ("172.16.0.2", [], b"fly-client-ip", "172.16.0.2"),
    ("2001:db8:1:2:3:4:5:6", [], None, "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff::1", [], None, "2001:db8:1:2::/64"),
])
def test_a_visitor_is_known_by_address_and_an_ipv6_host_by_its_64(peer, headers, header, expected):
    lanes = load_plugin("lanes")
    assert lanes.client_address({"client": (peer, 1234), "headers": headers}, header) == expected


def test_a_short_hostile_run_leaves_cheap_pages_answering(live_server):
    """bench/hostile.py for a few seconds: every cheap page answered, no 5xx but 503, the
    server alive, its memory within the bound the README gives, no temporary files to speak
    of, and no request longer than 2.5 s."""
    figures = asyncio.run(hostile.run(live_server, clients=6, seconds=4))
    assert hostile.failed(figures, max_rss=400, max_temp=100, max_wall=2.5) == []
    assert figures["cheap"]["requests"] > 0
    assert set(figures["hostile"]) <= {200, 400, 404, 503} and 400 in figures["hostile"]


def test_the_tokenizer_crash_cannot_be_planted_in_the_running_server(live_server):
    """The reported crash: plant a forged tokenizer pointer on every SQL connection, then
    tokenize with it. The planting is refused every time, so the tokenizer still works."""
    import httpx

    plant = "select fts3_tokenizer('simple', x'4141414141414141')"
    use = "select token from fts3tokenize where input = 'Namangan x'"
    with httpx.Client(base_url=live_server, timeout=30) as client:
        for _ in range(12):
            r = client.get("/imu.json", params={"sql": plant})
            assert r.status_code == 400 and "not authorized" in r.text, r.text[:200]
        for _ in range(6):  # on every SQL thread
            r = client.get("/imu.json", params={"sql": use, "_shape": "array"})
            assert r.json() == [{"token": "namangan"}, {"token": "x"}]


# ---------------------------------------------------------------- the URL and its headers

@pytest.mark.parametrize("path", ["/\\evil.example/", "//evil.example/", "/%5Cevil.example/", "/%5C%5Cevil.example",
                                  "/imu/\\evil.example/", "/%2F%2Fevil.example/"])
def test_no_path_redirects_off_the_site(live_server, path):
    """A path a browser would read as another site's address is no page here: 404, never a
    redirect (Datasette turned `/\\evil.example/` into a Location of `/\\evil.example`)."""
    import httpx

    r = httpx.get(live_server + path, follow_redirects=False)
    assert r.status_code == 404 and "location" not in r.headers, (path, r.status_code, r.headers.get("location"))


def test_datasettes_own_parameters_repeated_count_once(ds):
    """`_facet=title` fifty times is one facet; more than ten facets, or more than a hundred
    parameters, is a clear 400, not gigabytes of facets."""
    one = asyncio.run(ds.client.get("/imu/events.json?_facet=title&_size=1")).json()
    many = asyncio.run(ds.client.get("/imu/events.json?" + "&".join(["_facet=title"] * 50) + "&_size=1"))
    assert many.status_code == 200
    assert many.json()["facet_results"] == one["facet_results"]
    eleven = asyncio.run(ds.client.get("/imu/events.json?" + "&".join(f"_facet=c{i}" for i in range(11))))
    assert eleven.status_code == 400 and "Too many facets" in eleven.json()["error"]
    dates = asyncio.run(ds.client.get("/imu/events?" + "&".join(f"_facet_date=date_start&_facet=c{i}" for i in range(6))))
    assert dates.status_code == 400
    crowd = asyncio.run(ds.client.get("/imu/events.json?" + "&".join(f"country=X{i}" for i in range(101))))
    assert crowd.status_code == 400 and "Too many parameters" in crowd.json()["error"]
    # a filter's own repeats are the visitor's business: left alone
    assert asyncio.run(ds.client.get("/imu/events.json?country=TJ&country=TJ")).status_code == 200


def test_a_visitors_forwarded_scheme_never_reaches_the_links(ds):
    """robots.txt and the sitemaps name the site as the server sees it; X-Forwarded-Proto
    counts only from the proxy in front (uvicorn's forwarded_allow_ips; nginx sets it)."""
    forged = asyncio.run(ds.client.get("/robots.txt", headers={"X-Forwarded-Proto": "javascript"})).text
    assert "javascript:" not in forged and "Sitemap: http://localhost/sitemap.xml" in forged
    index = asyncio.run(ds.client.get("/sitemap.xml", headers={"X-Forwarded-Proto": "gopher"})).text
    assert "gopher" not in index and "http://localhost/sitemap-pages.xml" in index


@pytest.mark.parametrize("name", ["%73ql", "s%71l", "SQ%4C", "%5fwhere", "_facet%5Fdate", "q%30"])
def test_a_parameter_name_with_needless_escapes_is_refused(ds, name):
    """`%73ql=` is `sql=` to Datasette but not to a proxy's limits: refused, whatever the name;
    a name that needs its escapes (a space, a letter beyond ASCII) is left alone."""
    r = asyncio.run(ds.client.get(f"/imu.json?{name}=select+1"))
    assert r.status_code == 400 and "write it plainly" in r.json()["error"]
    assert asyncio.run(ds.client.get("/imu/search.json?q=IMU&my%20name=1&%D0%B8=2")).status_code == 200


def test_a_page_whose_own_query_runs_out_of_time_is_busy_not_broken(ds):
    """A record page's queries are the site's, not the visitor's: when one is interrupted
    (a 4 s query on a source's page at 100,000 events did so), the answer is a 503."""
    from datasette.database import QueryInterrupted
    from datasette.utils.asgi import Request

    readonly = load_plugin("readonly")
    stopped = QueryInterrupted(sqlite3.OperationalError("interrupted"), "select 1", {})
    for path, kind in (("/imu/sources/x", "text/html"), ("/imu/sources/x.json", "application/json")):
        response = asyncio.run(readonly.handle_exception(ds, Request.fake(path), stopped)())
        assert response.status == 503 and response.content_type.startswith(kind)
        assert "took too long" in str(response.body)
    asked = Request.fake("/imu/events?_where=1")  # the visitor's own SQL: still their 400
    assert asyncio.run(readonly.handle_exception(ds, asked, stopped)()).status == 400


def test_a_records_disputes_are_those_of_its_claims_and_of_claims_quoting_the_same_passage(con):
    """The query behind a record page's "Disputed" line, rewritten to read only its own
    claims' sources (a scan of every claim took 4 s for a source's page at 100,000 events,
    past the deadline), finds what its definition says, for every source and group."""
    records = load_plugin("records")
    claims = con.execute("select source_id, cited_source_id, group_id, quote, dispute_id from claims").fetchall()
    for table, columns in (("sources", ("source_id", "cited_source_id")), ("groups", ("group_id",))):
        found = "c.rowid in (" + " union ".join(f"select c.rowid from claims c where c.[{c}] = :id"
                                               for c in columns) + ")"
        for (record,) in con.execute(f"select id from {table}"):
            mine = [c for c in claims if record in (c[k] for k in columns)]
            passages = {(c["source_id"], c["quote"]) for c in mine}
            expected = {c["dispute_id"] for c in claims if c["dispute_id"] and (
                c in mine or (c["source_id"], c["quote"]) in passages)}
            got = {r[0] for r in con.execute(records._DISPUTED_SQL.format(found=found), {"id": record})}
            assert got == expected, (table, record)


def test_a_where_page_cut_short_says_so_in_the_sites_words():
    """plugins/readonly.py shows sqlguard's words for a query cut short for others, on a
    `_where` page, as a sentence: "Try again" kept as written."""
    from datasette.utils.asgi import Request

    guard, readonly = load_plugin("sqlguard"), load_plugin("readonly")
    message = readonly.bad_request(Request.fake("/imu/events?_where=1"), sqlite3.OperationalError(guard.CUT_SHORT))
    assert message == "T" + guard.CUT_SHORT[1:] and "Try again in a moment" in message
