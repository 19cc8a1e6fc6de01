"""SQL written by visitors runs on threads of its own, so it cannot starve the site.

Datasette runs every query on one pool of `num_sql_threads` threads. Twenty runaway
queries, each stopped at the time limit, kept all of them busy, and a cheap page like
`/imu/sources.json` queued behind them for seconds. Here a request that carries SQL of
the visitor's own (`sql=` or `_where=`) runs its queries on a second pool of
OPEN_THREADS threads; pages, records, canned queries and the JSON API keep the
`num_sql_threads` pool to themselves. At most OPEN_REQUESTS such requests hold a place
at once (until their queries are done); when all places are held, a newcomer takes the
place of a request from a heavy address, or of the one whose query has run longest on a
thread (past GIVE_WAY_AFTER), which is cut short; if none will give way, the newcomer
gets HTTP 503 with Retry-After, at once, rather than a long wait. All
the queries of such a request share one deadline, REQUEST_SECONDS after it arrived
(plugins/sqlguard.py stops each query by then): a `_where` on a streamed CSV had run 11 s,
query after query, each within the time limit. A query with under 50 ms of its
request's time left is not begun. The second pool takes its queries earliest deadline
first: in arrival order, a page's third query queued behind requests that came after it,
and under bench/hostile.py's mix a `_where` CSV's error page took 2-3.4 s to begin. And
it shares itself out by address (class Usage): an address whose queries have had much of
the threads lately waits while others' queries wait, and its running query is cut short
for them. (plugins/sqlguard.py also lowers the priority of such a query's thread once it
has had 5 ms of the processor.) Per-client limits on requests and connections belong to
the reverse proxy in front (prod/nginx.conf), which passes each visitor's address on.

The site's own counts and schema look-ups are remembered. The events table's four facets
each count 100,000 rows (10-14 ms apiece, one after another), half of the page's time at
the benchmark's scale; the database page looks a table's name up in sqlite_master about
a hundred times (once per permission check), and reads each table's columns, keys and
full-text index, each a trip through the SQL threads, which under 20 clients at once
took it to 5 s. The database never changes while it is served, so no answer ever
changes: each process keeps the last COUNT_MEMO of each kind (remember_counts: facet
counts, filtered row counts and sqlite_master reads, never a page's rows;
remember_schema: Datasette's reads of a table's schema). A request
carrying SQL of the visitor's own (which may call random()) is never remembered, nor is
a query that failed or ran out of time, nor an answer of more than COUNT_MEMO_ROWS rows.
"""
from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import copy
import contextvars
import heapq
import ipaddress
import itertools
import re
import threading
import time
import traceback
from urllib.parse import parse_qsl

import datasette.database
from datasette import hookimpl
from datasette.utils import detect_fts, detect_primary_keys, table_columns

# Two. Four cut readers' retries under bench/load.py --hostile (49-103 of about 1,000 in a
# run to 7-30), but took the server's peak RSS under attack past 400 MB (407 MB in
# tests/test_attacks.py's short hostile run), the bound issue 22 sets.
OPEN_THREADS = 2
OPEN_REQUESTS = 16
REQUEST_SECONDS = 1.25
IN_FLIGHT = 64  # requests carrying SQL at once, holding a place or not
GIVE_WAY_AFTER = 0.25  # a visitor's query running this long gives way to a newcomer when all places are taken
# An address whose visitors' SQL has had HEAVY_SECONDS of the threads lately (halving every
# HALF_LIFE seconds) is heavy: its queries wait while anyone else's are waiting, and give
# way first (class Usage).
HEAVY_SECONDS = 0.25
HALF_LIFE = 30.0
ADDRESSES = 10_000  # addresses whose use is remembered, the last seen


class Budget:
    """The time a request carrying a visitor's SQL has left: its deadline, and the
    connections running its queries now, with when each began (plugins/sqlguard.py adds
    and removes them), so that it can be cut short."""

    __slots__ = ("deadline", "conns", "cut", "address", "usage", "heavy", "jobs", "began")

    def __init__(self, seconds: float, address: str | None = None, usage: Usage | None = None):
        self.deadline = time.monotonic() + seconds
        self.conns: dict = {}
        self.cut = False
        self.address, self.usage = address, usage  # the visitor's address, and its use of the threads
        self.heavy = usage is not None and usage.heavy(address)
        self.jobs, self.began = 0, False  # its queries waiting or running; whether it has sent any

    def weighs(self, now: float) -> bool:
        """Heavy, or heavy by now, counting the time its query has been running: a runaway
        query from an address not yet heavy had held a thread to its deadline while readers'
        counts waited for it, until they were refused for want of time."""
        return self.heavy or (self.usage is not None
                              and self.usage.of(self.address, now) + self.running(now) >= HEAVY_SECONDS)

    def holds_place(self) -> bool:
        """Not yet past its queries: before its first one, or while one waits or runs. A
        request rendering its answer holds none: with the machine saturated, requests whose
        queries had long finished, waiting for the event loop, had taken every place, and
        readers were told to retry while the threads for visitors' SQL sat idle."""
        return self.jobs > 0 or not self.began

    def running(self, now: float) -> float:
        """How long its query has been running; 0 while it waits for a thread."""
        began = list(self.conns.values())  # one step under the GIL: the SQL threads change it
        return now - min(began) if began else 0.0

    def cut_short(self) -> None:
        """Stop its running queries and refuse its next ones (by sqlguard's watchdog, which
        knows when a connection runs this request's query and not yet another's)."""
        self.cut = True
        watchdog = getattr(datasette.database.sqlite_timelimit, "watchdog", None)
        if watchdog is not None:
            watchdog.cut(self)
        else:
            self.deadline = time.monotonic()


class Usage:
    """Seconds of the SQL threads each address's requests have had lately, halving every
    HALF_LIFE seconds: one address's runaway queries (bench/load.py --hostile sends them
    from fifty) had held both threads while readers' one-millisecond counts waited behind
    them, a tenth of them refused or run out of time. Kept for the last ADDRESSES
    addresses seen; the SQL threads add to it, the event loop reads it."""

    def __init__(self, size: int = ADDRESSES):
        self.size = size
        self.seen: collections.OrderedDict[str, tuple[float, float]] = collections.OrderedDict()
        self.lock = threading.Lock()

    def of(self, address: str | None, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        with self.lock:
            return self.decayed(address, now)

    def decayed(self, address: str | None, now: float) -> float:
        """(Under self.lock.)"""
        seconds, at = self.seen.get(address, (0.0, now))
        return seconds * 0.5 ** ((now - at) / HALF_LIFE)

    def heavy(self, address: str | None) -> bool:
        return self.of(address) >= HEAVY_SECONDS

    def add(self, address: str | None, seconds: float) -> None:
        """In one hold of the lock: both SQL threads add, and an addition read before the
        other's write would have been lost."""
        now = time.monotonic()
        with self.lock:
            self.seen[address] = (self.decayed(address, now) + seconds, now)
            self.seen.move_to_end(address)
            if len(self.seen) > self.size:
                self.seen.popitem(last=False)


def client_address(scope, header: bytes | None = None) -> str | None:
    """Who sent the request: the peer (behind serve-prod's nginx, the address it passes in
    X-Forwarded-For, which uvicorn takes from 127.0.0.1 alone), or the configured header
    of the proxy in front (`plugins.imu.client_ip_header`: the deploy's Fly-Client-IP,
    which Fly's proxy sets). An IPv6 address counts by its /64, which one host holds whole."""
    address = None
    if header is not None:
        address = next((v.decode("latin-1").strip() for k, v in scope.get("headers", ()) if k == header), None)
    if address is None and scope.get("client"):
        address = scope["client"][0]
    if address and ":" in address:
        try:
            return str(ipaddress.ip_network(f"{address}/64", strict=False))
        except ValueError:
            return address
    return address


DEADLINE: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("sql_deadline", default=None)
OPEN_PARAMS = frozenset({"sql", "_where"})
OPEN_SQL: contextvars.ContextVar[bool] = contextvars.ContextVar("open_sql", default=False)
COUNT_MEMO = 2048
COUNT_MEMO_ROWS = 200
# Datasette's own counts: a filtered table's `select count(*) from ...` and each facet's
# `select col as value, count(*) as count from (...)` (datasette/views/table.py, facets.py);
# and its reads of the schema (`select name, sql from sqlite_master ...`).
COUNT_SQL = re.compile(r"^\s*select (?:count\(\*\)|\S+ as value, count\(\*\) as (?:count|n)) from "
                       r"|^\s*select [\w\s,]+ from sqlite_master\b", re.I)


class EarliestFirst(concurrent.futures.Executor):
    """A thread pool whose queue is ordered by each job's deadline, not by arrival, light
    addresses' jobs before heavy ones' (class Usage), with one more thread for jobs whose
    deadline has come.

    Such a job does no work (its query is refused before it begins), but it waited for a
    worker behind queries allowed a full second each: a request's last query then ended
    up to a second after its deadline. A light job that finds every worker busy, some with
    a heavy address's query (Budget.weighs) running SLICE or more, cuts the longest-running
    of those short."""

    LATE = 0.05  # a job this close to its deadline may go to the late thread
    SLICE = 0.05

    def __init__(self, threads: int, name: str):
        self.queues: tuple[list, list] = ([], [])  # light, heavy: each a heap by deadline
        self.running: dict[int, Budget | None] = {}  # worker: the budget of the job it runs
        self.order = itertools.count()
        self.ready = threading.Condition()
        self.stopping = False
        self.workers = threads
        self.threads = [threading.Thread(target=self.work, args=(i, False), name=f"{name}-{i}", daemon=True)
                        for i in range(threads)]
        self.threads.append(threading.Thread(target=self.work, args=(threads, True), name=f"{name}-late", daemon=True))
        for thread in self.threads:
            thread.start()

    def submit(self, fn, /, *args, **kwargs):
        return self.submit_by(None, fn, *args, **kwargs)

    def submit_by(self, deadline: float | None, fn, /, *args, **kwargs):
        """Run fn(*args, **kwargs) in its turn by deadline (None: after every deadline)."""
        return self.push(None, deadline, fn, args, kwargs)

    def submit_for(self, budget: Budget | None, fn, /, *args, **kwargs):
        """Run fn(*args, **kwargs) in its turn by the budget's deadline and address."""
        return self.push(budget, budget.deadline if budget else None, fn, args, kwargs)

    def push(self, budget, deadline, fn, args, kwargs):
        future = concurrent.futures.Future()
        deadline = float("inf") if deadline is None else deadline
        heavy = budget is not None and budget.heavy
        with self.ready:
            if self.stopping:
                raise RuntimeError("cannot schedule new queries after shutdown")
            if budget is not None:
                budget.jobs += 1
                budget.began = True
            heapq.heappush(self.queues[heavy], (deadline, next(self.order), future, budget, fn, args, kwargs))
            self.ready.notify_all()
            busy = [self.running.get(i) for i in range(self.workers)]
        if not heavy and all(b is not None for b in busy):
            now = time.monotonic()
            longest = max((b for b in busy if not b.cut and b.weighs(now)), key=lambda b: b.running(now), default=None)
            if longest is not None and longest.running(now) >= self.SLICE:
                longest.cut_short()
        return future

    def hurry(self, budget: Budget) -> None:
        """A budget cut short while its jobs wait: they go to the late thread now."""
        with self.ready:
            for queue in self.queues:
                for i, job in enumerate(queue):
                    if job[3] is budget:
                        queue[i] = (budget.deadline, *job[1:])
                heapq.heapify(queue)
            self.ready.notify_all()

    def next_job(self, late: bool):
        """The light job with the earliest deadline, else the heavy one; for the late
        thread, the earliest of both, once its deadline has come."""
        with self.ready:
            while True:
                if not any(self.queues):
                    if self.stopping:
                        return None
                    self.ready.wait()
                    continue
                if not late:
                    return heapq.heappop(self.queues[0] or self.queues[1])
                queue = min((q for q in self.queues if q), key=lambda q: q[0][0])
                wait = queue[0][0] - self.LATE - time.monotonic()
                if wait <= 0:
                    return heapq.heappop(queue)
                self.ready.wait(None if wait == float("inf") else wait)

    def work(self, worker: int, late: bool):
        while (job := self.next_job(late)) is not None:
            _, _, future, budget, fn, args, kwargs = job
            if future.set_running_or_notify_cancel():
                self.running[worker] = budget or Budget(0)  # a job without a budget: busy, never cut
                try:
                    future.set_result(fn(*args, **kwargs))
                except BaseException as exc:
                    future.set_exception(exc)
                finally:
                    self.running.pop(worker, None)
                    if budget is not None:
                        with self.ready:
                            budget.jobs -= 1
            del job, future, budget, fn, args, kwargs  # nothing of a finished query stays on this thread

    def shutdown(self, wait=True, *, cancel_futures=False):
        with self.ready:
            self.stopping = True
            if cancel_futures:
                for queue in self.queues:
                    for item in queue:
                        item[2].cancel()
                    queue.clear()
            self.ready.notify_all()
        if wait:
            for thread in self.threads:
                thread.join()


class Lanes(concurrent.futures.Executor):
    """Datasette's executor, with a second pool for requests that carry their own SQL.

    asyncio's run_in_executor() calls submit() inside the request's task, where the
    request's OPEN_SQL is set."""

    def __init__(self, main: concurrent.futures.Executor, open_threads: int):
        self.main = main
        self.open = EarliestFirst(open_threads, "open-sql")

    def submit(self, fn, /, *args, **kwargs):
        if OPEN_SQL.get():
            budget = DEADLINE.get()
            return self.open.submit_for(budget, in_sql_thread, budget, fn, *args, **kwargs)
        return self.main.submit(in_sql_thread, None, fn, *args, **kwargs)

    def shutdown(self, wait=True, *, cancel_futures=False):
        for pool in (self.main, self.open):
            pool.shutdown(wait, cancel_futures=cancel_futures)


def in_sql_thread(budget: Budget | None, fn, /, *args, **kwargs):
    """Run fn under the request's budget (None: the time limit alone); if it fails, free its
    frames' locals here, in the SQL thread.

    A failed query's exception carries Datasette's frames, and with them its cursor, to
    the event loop. Freed there, the cursor resets its statement, which waits for the
    connection's lock, held by whatever query that thread runs next: the whole site then
    stopped for up to the time limit each time a runaway query failed."""
    request = getattr(datasette.database.sqlite_timelimit, "request", None)
    if request is not None:
        request.budget = budget
    began = time.monotonic()
    try:
        return fn(*args, **kwargs)
    except BaseException as exc:
        seen = set()
        while exc is not None and id(exc) not in seen:
            seen.add(id(exc))
            traceback.clear_frames(exc.__traceback__)
            exc = exc.__cause__ or exc.__context__
        raise
    finally:
        if request is not None:
            request.budget = None
        if budget is not None and budget.usage is not None:
            budget.usage.add(budget.address, time.monotonic() - began)


def sites_own() -> contextvars.Context:
    """The current context (Datasette's trace, say) as the site's own work: no visitor's
    deadline, not on the visitors' threads. A read many visitors wait for, or the start-up,
    had run under the deadline of whichever visitor came first."""
    context = contextvars.copy_context()
    context.run(OPEN_SQL.set, False)
    context.run(DEADLINE.set, None)
    return context


class Memo:
    """The last COUNT_MEMO answers of a database's reads, each read once: whoever asks while
    it is being read waits for that reading. Without that, a replica's first moments under
    200 readers had every database page read the whole schema on its own (bench/load.py:
    504s after nginx's 15 s, all on the replica the warm-up had not visited)."""

    def __init__(self):
        self.answers: collections.OrderedDict = collections.OrderedDict()

    async def get(self, key, read, keep=lambda answer: True):
        reading = self.answers.get(key)
        if reading is None:
            reading = self.answers[key] = asyncio.get_running_loop().create_task(read(), context=sites_own())
            if len(self.answers) > COUNT_MEMO:
                self.answers.popitem(last=False)
        else:
            self.answers.move_to_end(key)
        try:
            answer = await asyncio.shield(reading)  # one visitor leaving does not stop the others' read
        except BaseException:
            if reading.done() and self.answers.get(key) is reading:
                del self.answers[key]  # a failed read is not remembered
            raise
        if not keep(answer) and self.answers.get(key) is reading:
            del self.answers[key]
        return answer

    def put(self, key, answer) -> None:
        known = asyncio.get_running_loop().create_future()
        known.set_result(answer)
        self.answers[key] = known


def remember_counts(db):
    """Wrap an immutable database's execute() with a memo of the site's own counts."""
    execute = db.execute
    memo = Memo()

    async def execute_remembering(sql, params=None, *args, **kwargs):
        if OPEN_SQL.get() or not COUNT_SQL.match(sql):
            return await execute(sql, params, *args, **kwargs)
        key = (sql, repr(sorted(params.items()) if isinstance(params, dict) else params),
               args, tuple(sorted(kwargs.items())))
        return await memo.get(key, lambda: execute(sql, params, *args, **kwargs),
                              keep=lambda results: len(results.rows) <= COUNT_MEMO_ROWS)

    execute_remembering.memo = memo
    db.execute = execute_remembering


# Datasette's reads of a table's schema, each a trip through the SQL threads: the database
# page made 162 of them (three for each of 52 tables and views) on every first-time visit,
# each queued behind every other request's queries, and under 200 readers it ran past
# nginx's 15 s (bench/load.py --hostile: 504s on the database page, with no attack).
SCHEMA_READS = ("table_columns", "table_column_details", "primary_keys", "fts_table", "foreign_keys_for_table",
                "get_all_foreign_keys", "hidden_table_names", "view_names", "table_names", "label_column_for_table",
                "get_table_definition", "get_view_definition", "table_exists")


def remember_schema(db) -> Memo:
    """Wrap an immutable database's schema reads with a memo: its schema never changes. A
    name comes from the URL, and made-up names are endless: the memo keeps the last ones."""
    memo = Memo()

    def remembering(name):
        read = getattr(db, name)

        async def read_remembering(*args, **kwargs):
            key = (name, args, tuple(sorted(kwargs.items()))) if kwargs else (name, args)
            return copy.deepcopy(await memo.get(key, lambda: read(*args, **kwargs)))  # callers may change it

        return read_remembering

    for name in SCHEMA_READS:
        setattr(db, name, remembering(name))
    return memo


async def read_schema(db, memo: Memo) -> None:
    """Every table's and view's columns, keys and full-text index, read at start-up in one
    trip, as Database.table_columns, primary_keys and fts_table read them one by one: a
    database page's first reading of them, queued behind 200 readers' queries, had taken
    up to 6 s even when every visitor waited for the same one."""
    def read(conn):
        names = [row[0] for row in conn.execute("select name from sqlite_master where type in ('table', 'view')")]
        return {name: {"table_columns": table_columns(conn, name), "primary_keys": detect_primary_keys(conn, name),
                       "fts_table": detect_fts(conn, name)} for name in names}

    schema = await db.execute_fn(read)
    for name, reads in schema.items():
        for method, answer in reads.items():
            memo.put((method, (name,)), answer)
    # and each name as a permission check reads it (Datasette.permission_allowed), into
    # remember_counts' memo: fifty more trips, one after another, on a first database page
    await asyncio.gather(*(db.execute(PERMISSION_NAME_SQL, (name,)) for name in schema))


PERMISSION_NAME_SQL = "select name from sqlite_master where type in ('table', 'view') and name = ? collate nocase"


async def read_schemas(memos: dict) -> None:
    for db, memo in memos.items():
        await read_schema(db, memo)


@hookimpl
def startup(datasette):
    """Once per Datasette, however many first requests ask for its start-up at once (each
    does, until one has finished it): the immutable databases' reads wrapped with their
    memos, then the schema read, in a context of its own (never under a visitor's SQL
    deadline or on the visitors' threads), and read again only if that failed."""
    async def inner():
        ready = getattr(datasette, "_imu_lanes_ready", None)
        if ready is None:
            memos = {db: remember_schema(db) for db in list(datasette.databases.values())
                     if not db.is_mutable and not db.is_memory}
            for db in memos:
                remember_counts(db)
            datasette._imu_lanes_memos = memos
        if ready is None or (ready.done() and ready.exception() is not None):
            ready = datasette._imu_lanes_ready = asyncio.get_running_loop().create_task(
                read_schemas(datasette._imu_lanes_memos), context=sites_own())
        await asyncio.shield(ready)

    return inner


def carries_sql(scope) -> bool:
    query = scope.get("query_string", b"").decode("latin-1")
    return any(key in OPEN_PARAMS for key, _ in parse_qsl(query, keep_blank_values=True))


class Places:
    """The requests carrying visitors' SQL let in at once, and who gives way to whom."""

    def __init__(self, pool: EarliestFirst | None = None, usage: Usage | None = None):
        self.admitted: list[Budget] = []
        self.pool = pool
        self.usage = usage or Usage()

    def take(self, newcomer: Budget) -> bool:
        """Is there room for one more? OPEN_REQUESTS requests may hold a place (class
        Budget), IN_FLIGHT be let in. When every place is held, a light newcomer takes the
        place of the heaviest address's request, running or waiting; otherwise of the
        request whose query has run longest on a thread, past GIVE_WAY_AFTER (a heavy
        newcomer: only a heavy one's). A reader's count runs for milliseconds, a runaway
        query for its whole budget, and under a stream of runaway queries readers' own SQL
        had been refused (a quarter of it, with 1% of serve-prod's traffic hostile) while
        the runaways ran on."""
        if len(self.admitted) >= IN_FLIGHT:
            return False
        holding = [b for b in self.admitted if b.holds_place()]
        if len(holding) >= OPEN_REQUESTS and not self.give_way(newcomer, holding):
            return False
        self.admitted.append(newcomer)
        return True

    def give_way(self, newcomer: Budget, holding: list[Budget]) -> bool:
        now = time.monotonic()
        standing = [b for b in holding if not b.cut and (b.heavy or not newcomer.heavy)]
        heavy = [b for b in standing if b.heavy]
        if heavy and not newcomer.heavy:
            victim = max(heavy, key=lambda b: self.usage.of(b.address, now))
        else:
            victim = max(standing, key=lambda b: b.running(now), default=None)
            if victim is None or victim.running(now) < GIVE_WAY_AFTER:
                return False
        victim.cut_short()
        if self.pool is not None:
            self.pool.hurry(victim)
        return True

    def leave(self, budget: Budget) -> None:
        self.admitted.remove(budget)


@hookimpl
def asgi_wrapper(datasette):
    if datasette.executor is not None and not isinstance(datasette.executor, Lanes):
        datasette.executor = Lanes(datasette.executor, OPEN_THREADS)
    places = Places(datasette.executor.open if isinstance(datasette.executor, Lanes) else None)
    header = (datasette.plugin_config("imu") or {}).get("client_ip_header")
    header = header.lower().encode("latin-1") if header else None

    def wrap(app):
        async def lanes(scope, receive, send):
            if scope["type"] != "http" or not carries_sql(scope):
                return await app(scope, receive, send)
            await datasette.invoke_startup()  # the site's own start-up is no visitor's query
            budget = Budget(REQUEST_SECONDS, client_address(scope, header), places.usage)
            if not places.take(budget):
                await send({"type": "http.response.start", "status": 503,
                            "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                        (b"retry-after", b"2")]})
                await send({"type": "http.response.body",
                            "body": b"Busy: too many SQL queries are running; try again in a few seconds"})
                return
            token = OPEN_SQL.set(True)
            deadline = DEADLINE.set(budget)
            try:
                await app(scope, receive, send)
            finally:
                DEADLINE.reset(deadline)
                OPEN_SQL.reset(token)
                places.leave(budget)

        return lanes

    return wrap
