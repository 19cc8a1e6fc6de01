"""What anonymous SQL may reach, and how much one statement may cost.

Anyone may run SQL on the public site, so every connection is bounded the same way;
the README's "What the dataset guarantees" lists what is denied and why.

- An authorizer denies the few SQL functions and virtual tables that reach past the
  data: `fts3_tokenizer` (reads and writes raw C pointers: it leaks addresses and, given
  a forged one, crashes the server), `load_extension` (loads native code),
  `sqlite_compileoption_get`/`_used` (a fingerprint of the build), and the `sqlite_stmt`
  table (the SQL of other visitors' queries on the same connection).
- SQLite's own limits bound what a single step can do. Datasette's time limit is a
  progress handler, called between steps of SQLite's virtual machine, so work inside
  one step (building a 900 MB string, matching a huge pattern) was out of its reach:
  values are capped at MAX_LENGTH bytes, LIKE/GLOB patterns, SQL text, columns and
  compound selects too, and ATTACH is off.
- `printf()` (and its alias `format()`) is the one built-in that loops without
  producing bytes: `%.*c` repeats a character by its precision and keeps counting
  after the output outgrows MAX_LENGTH (9e8 took 5 s). It is replaced by a wrapper that
  refuses a total `%c` repetition above MAX_LENGTH and hands everything else to
  SQLite's own printf, on a private connection of the same thread.
- The time limit is kept by a watchdog thread that calls `interrupt()` on a connection
  whose query outlives it. SQLite checks for that in its loops, as the progress handler
  was, and also inside full-text queries and sorts, where the handler was never called.
  The watchdog replaces the handler, so no Python callback (and no trip through Python's
  global lock) runs every thousand SQLite instructions of every query.
- A result may hold at most MAX_RESULT_BYTES of text and blobs, so a query cannot fill
  memory with a thousand rows of maximal values.
- What SQLite allocates is capped for the whole process (HEAP_LIMIT, `pragma
  hard_heap_limit`; IMU_SQLITE_HEAP_MB overrides it), and temporary tables, sorts and
  window partitions stay in that memory (`temp_store = memory`) instead of files: two one-second `json_group_array()` queries had
  taken the server to 2.6 GB, two window functions had written 2.6 GB of temporary files.
  A query past the cap fails with SQLite's out-of-memory error, which is made an SQL error
  ("needs more memory than ..."), a 400 like any other.
- `trim()`, `ltrim()` and `rtrim()` with a set of characters to strip compare every
  character of the text with every one of the set, in one step of SQLite's machine, out of
  the watchdog's reach (two 100 KB arguments ran 50 s): past TRIM_WORK comparisons they
  are refused as too big.
- `pragma_database_list` would tell anyone the server's path to the database file: denied
  (Datasette's own `PRAGMA database_list` stays: a visitor's SQL must be a SELECT).
- A Python function refusing its input (fold, escape_fts, printf) is an SQL error like
  any other; Datasette turns on sqlite3's callback tracebacks, which would print a
  traceback to the log for each such query, so they are turned off again.
"""
from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import threading
import time
import weakref

import datasette.database
from datasette import hookimpl

MAX_LENGTH = 100_000  # bytes in one string or blob; instr() and replace() are quadratic in it
MAX_RESULT_BYTES = 16_000_000  # text and blobs in one query's rows
# Bytes SQLite may hold at once, all connections of the process together; IMU_SQLITE_HEAP_MB
# sets it in megabytes (0: no cap; the tests' own process, which keeps hundreds of servers'
# connections alive, runs so, and starts its servers with the cap).
HEAP_LIMIT = 150_000_000
SOFT_HEAP_LIMIT = 64_000_000  # above it SQLite gives back what its caches hold first


def heap_limit() -> int:
    value = os.environ.get("IMU_SQLITE_HEAP_MB", "").strip()
    return int(value) * 1_000_000 if value.isdigit() else HEAP_LIMIT


TRIM_WORK = 10_000_000  # characters times set characters in one trim(); about 20 ms
LIMITS = {
    sqlite3.SQLITE_LIMIT_LENGTH: MAX_LENGTH,
    sqlite3.SQLITE_LIMIT_SQL_LENGTH: MAX_LENGTH,
    sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH: 1000,
    sqlite3.SQLITE_LIMIT_COLUMN: 200,
    sqlite3.SQLITE_LIMIT_EXPR_DEPTH: 200,
    sqlite3.SQLITE_LIMIT_COMPOUND_SELECT: 100,
    # a page of max_returned_rows (1,000) rows and one more names up to 1,001 records in one
    # foreign-key look-up; 1,000 gave "too many SQL variables" on `_size=max` at 2,000 events
    sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER: 2500,
    sqlite3.SQLITE_LIMIT_ATTACHED: 0,
}
DENIED_FUNCTIONS = frozenset({
    "fts3_tokenizer", "load_extension", "sqlite_compileoption_get", "sqlite_compileoption_used",
})
DENIED_TABLES = frozenset({"sqlite_stmt", "pragma_database_list"})


def authorize(action, arg1, arg2, database, source):
    if action == sqlite3.SQLITE_FUNCTION and arg2 and arg2.lower() in DENIED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_READ and arg1 and arg1.lower() in DENIED_TABLES:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


# ---------------------------------------------------------------- trim with a set

def _length(value) -> int:
    return len(value) if isinstance(value, (str, bytes)) else len(str(value)) if value is not None else 0


def bounded_trim(name: str):
    """SQLite's trim(X, Y), ltrim or rtrim, refused past TRIM_WORK comparisons."""
    def trim(text, chars):
        if _length(text) * _length(chars) > TRIM_WORK:
            raise OverflowError  # Python's sqlite3 reports it as SQLite's "string or blob too big"
        return _builtin().execute(f"select {name}(?, ?)", (text, chars)).fetchone()[0]
    return trim


def _builtin() -> sqlite3.Connection:
    """A private in-memory connection of this thread, with SQLite's own functions."""
    conn = getattr(_private, "conn", None)
    if conn is None:
        conn = _private.conn = sqlite3.connect(":memory:")
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_LENGTH)
    return conn


# ---------------------------------------------------------------- printf

# A conversion: flags, width, precision, a size prefix and its type (SQLite's printf.c).
_CONVERSION = re.compile(r"%([-+ #!0,]*)(\*|\d*)(?:\.(\*|\d*))?(l{0,2})(.?)", re.S)
_private = threading.local()


def _number(value) -> int:
    """SQLite's integer reading of a printf argument, rounded away from zero to be safe."""
    if isinstance(value, (int, float)):
        return abs(int(value)) if value == value and abs(value) != float("inf") else 2**63
    if isinstance(value, (str, bytes)):
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        m = re.match(r"\s*[-+]?(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)", text)
        return _number(float(m[1])) if m else 0
    return 0


def repetitions(fmt: str, args: tuple) -> int:
    """How many characters the format's %c conversions repeat in all."""
    total, at = 0, 0
    for m in _CONVERSION.finditer(fmt):
        _, width, precision, _, kind = m.groups()
        if kind == "%":
            continue
        if width == "*":
            at += 1
        if precision == "*":
            repeat = _number(args[at]) if at < len(args) else 0
            at += 1
        else:
            repeat = int(precision) if precision else 0
        if kind == "c":
            total += repeat
        at += 1
    return total


def bounded_printf(fmt, *args):
    if isinstance(fmt, (str, bytes)):
        text = fmt.decode("utf-8", "replace") if isinstance(fmt, bytes) else fmt
        if repetitions(text, args) > MAX_LENGTH:
            raise OverflowError  # Python's sqlite3 reports it as SQLite's "string or blob too big"
    placeholders = ", ".join("?" * (len(args) + 1))
    return _builtin().execute(f"select printf({placeholders})", (fmt, *args)).fetchone()[0]


# ---------------------------------------------------------------- result size

_spent = threading.local()  # per SQL thread: (weak reference to the cursor, bytes so far)


def bounded_row(cursor, row):
    """sqlite3.Row, counting the bytes of text and blobs the cursor has returned.

    A thread runs one query at a time; the cursor is held weakly, so that a finished
    query's statement is released as soon as Datasette lets go of it."""
    size = sum(len(v) for v in row if isinstance(v, (str, bytes)))
    if size:
        ref, spent = getattr(_spent, "last", (None, 0))
        if ref is None or ref() is not cursor:
            ref, spent = weakref.ref(cursor), 0
        spent += size
        if spent > MAX_RESULT_BYTES:
            raise sqlite3.OperationalError(
                f"result too big: its rows hold more than {MAX_RESULT_BYTES // 1_000_000} MB of text "
                "and blobs; ask for fewer rows or shorter values")
        _spent.last = (ref, spent)
    return sqlite3.Row(cursor, row)


# ---------------------------------------------------------------- time limit

# The budget of the request a SQL thread is working for, if it has one (plugins/lanes.py
# sets it for requests carrying the visitor's own SQL: a deadline, and the connections
# running its queries now, by which it can be cut short): every query of that request stops
# by then, so that a page of many queries (a `_where` table with its count, facets and a
# streamed CSV) cannot run for many times the time limit.
REQUEST = threading.local()
MIN_SECONDS = 0.05  # a query with less of its request's time left is not begun
# The words for a query cut short for other visitors' (plugins/lanes.py): Datasette's own,
# "SQL query took too long. The time limit is controlled by sql_time_limit_ms", was untrue
# of a query stopped after a quarter of a second.
CUT_SHORT = ("the site is busy: this query was stopped so that other visitors' queries could run "
             "(queries from an address that has had much of the server lately give way first). "
             "Try again in a moment, or ask for less")
# A visitor's query that has used SLOW_SECONDS of the processor gives way: the watchdog
# raises its thread's nice value to SLOW_NICE, so that pages, records and cheap queries get
# the processor first, and the thread takes its own back when the query ends. Under 1%
# attack traffic, serve-prod's readers kept 50% of their throughput without it, 75-85% with
# it after 50 ms of wall time, 85-87% after 5 ms. Processor time, not wall time: with the
# machine saturated a reader's one-millisecond count took 5 ms of wall time, was slowed,
# and then waited for the processor behind everything else, until its request's places
# were all taken by such counts and readers were told to retry (bench/load.py --hostile). Taking a
# priority back needs root, CAP_SYS_NICE or RLIMIT_NICE: where the process has none, no
# query is slowed (a thread slowed for good would have to be replaced, with its connection).
SLOW_SECONDS = 0.005
SLOW_NICE = 19


def may_slow() -> bool:
    """Can a thread of this process lower its nice value back after raising it?"""
    answer = []

    def probe():
        me = threading.get_native_id()
        own = os.getpriority(os.PRIO_PROCESS, me)
        try:
            os.setpriority(os.PRIO_PROCESS, me, min(own + 1, SLOW_NICE))
            os.setpriority(os.PRIO_PROCESS, me, own)
            answer.append(own < SLOW_NICE)
        except OSError:
            answer.append(False)

    thread = threading.Thread(target=probe)  # a thread of its own: a failed probe stays slowed
    thread.start()
    thread.join()
    return answer[0]


class Watchdog:
    """One thread that interrupts each connection whose query outlives its deadline."""

    def __init__(self):
        self.wake = threading.Condition()
        self.deadlines: dict[int, tuple[float, sqlite3.Connection]] = {}
        # a visitor's query: when to look at its thread's processor time, the thread, its
        # priority, its processor clock, and that clock when the query began
        self.slow: dict[int, tuple[float, int, int, int, float]] = {}
        # a visitor's query slowed: its thread and the priority to give back. Given back
        # as soon as the query is interrupted: a slowed thread, with the machine busy,
        # took up to a second to notice, holding one of the two threads for visitors' SQL
        # while readers' counts waited for it (bench/load.py --hostile: readers told to retry)
        self.slowed: dict[int, tuple[int, int]] = {}
        self.may_slow = may_slow()
        self.thread = None

    @contextlib.contextmanager
    def guard(self, conn: sqlite3.Connection, seconds: float):
        budget = getattr(REQUEST, "budget", None)  # the request's plugins/lanes.py Budget, or None
        slowing = budget is not None and self.may_slow
        if slowing:
            me = threading.get_native_id()
            priority = os.getpriority(os.PRIO_PROCESS, me)
        key = id(conn)
        with self.wake:  # as cut() reads the request's connections: each query is cut, or never begun
            if budget is not None:
                seconds = min(seconds, budget.deadline - time.monotonic())
                if budget.cut:
                    raise sqlite3.OperationalError(CUT_SHORT)
                if seconds < MIN_SECONDS:  # past it: not started at all ("SQL query took too long")
                    raise datasette.database.QueryInterrupted(sqlite3.OperationalError("interrupted"), "", None)
                budget.conns[conn] = time.monotonic()
            deadline = time.monotonic() + seconds
            earliest = self.earliest()
            self.deadlines[key] = (deadline, conn)
            if slowing:
                clock = time.pthread_getcpuclockid(threading.get_ident())
                self.slow[key] = (min(deadline, time.monotonic() + SLOW_SECONDS), me, priority, clock,
                                  time.clock_gettime(clock))
            if self.thread is None:
                self.thread = threading.Thread(target=self.run, name="sqlguard-watchdog", daemon=True)
                self.thread.start()
            elif earliest is None or self.earliest() < earliest:  # its next wake-up comes sooner
                self.wake.notify()
        try:
            yield
        except (sqlite3.OperationalError, datasette.database.QueryInterrupted) as e:
            interrupted = isinstance(e, datasette.database.QueryInterrupted) or e.args == ("interrupted",)
            if interrupted and budget is not None and budget.cut:
                raise sqlite3.OperationalError(CUT_SHORT) from None
            raise
        except MemoryError:  # SQLite's out of memory: past HEAP_LIMIT
            raise sqlite3.OperationalError(
                f"query needs more memory than this site allows ({heap_limit() // 1_000_000} MB at once): "
                "ask for fewer or smaller rows") from None
        finally:
            with self.wake:  # interrupt() is only called under this lock, while registered
                self.deadlines.pop(key, None)
                if budget is not None:
                    budget.conns.pop(conn, None)
                self.slow.pop(key, None)
                slowed = self.slowed.pop(key, None)
            if slowed:
                os.setpriority(os.PRIO_PROCESS, *slowed)

    def cut(self, budget) -> None:
        """Cut a request short (plugins/lanes.py, a Budget): interrupt the queries it runs
        now, and refuse its next ones, its deadline having come."""
        with self.wake:
            budget.deadline = time.monotonic()
            for conn in budget.conns:
                self.interrupt(conn)

    def interrupt(self, conn: sqlite3.Connection) -> None:
        """Interrupt a query (under self.wake), at its thread's own priority again. (Never
        an exception here: the watchdog's thread ending would leave every query unbounded.)"""
        conn.interrupt()
        slowed = self.slowed.pop(id(conn), None)
        if slowed:
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, *slowed)

    def earliest(self) -> float | None:
        return min([d for d, _ in self.deadlines.values()] + [s[0] for s in self.slow.values()], default=None)

    def run(self):
        with self.wake:
            while True:
                now = time.monotonic()
                for key, (deadline, conn) in list(self.deadlines.items()):
                    if now >= deadline:
                        self.slow.pop(key, None)
                        self.interrupt(conn)
                        del self.deadlines[key]
                for key, (look_at, thread_id, priority, clock, began) in list(self.slow.items()):
                    if now >= look_at:
                        try:
                            left = SLOW_SECONDS - (time.clock_gettime(clock) - began)
                        except OSError:  # its thread is gone
                            del self.slow[key]
                            continue
                        if left > 0:  # it has waited for the processor: look again when it may have had it
                            self.slow[key] = (now + max(left, 0.005), thread_id, priority, clock, began)
                            continue
                        with contextlib.suppress(OSError):
                            os.setpriority(os.PRIO_PROCESS, thread_id, SLOW_NICE)  # its query is running
                            self.slowed[key] = (thread_id, priority)
                        del self.slow[key]
                earliest = self.earliest()
                self.wake.wait(None if earliest is None else earliest - now)


def patch_timelimit() -> None:
    """Replace Datasette's time limit with the watchdog; once per process (Datasette runs a
    plugins folder's modules again for each instance)."""
    if getattr(datasette.database.sqlite_timelimit, "watchdog", None):
        return
    watchdog = Watchdog()

    def sqlite_timelimit(conn, ms):
        return watchdog.guard(conn, ms / 1000)

    sqlite_timelimit.watchdog = watchdog
    sqlite_timelimit.request = REQUEST  # where plugins/lanes.py puts a request's budget
    sqlite_timelimit.cut_short = CUT_SHORT  # the words plugins/readonly.py shows on a `_where` page
    datasette.database.sqlite_timelimit = sqlite_timelimit


patch_timelimit()
sqlite3.enable_callback_tracebacks(False)


@hookimpl(trylast=True)
def prepare_connection(conn):
    for limit, value in LIMITS.items():
        conn.setlimit(limit, value)
    conn.execute("pragma temp_store = memory")
    conn.execute(f"pragma soft_heap_limit = {SOFT_HEAP_LIMIT}")
    conn.execute(f"pragma hard_heap_limit = {heap_limit()}")
    for name in ("trim", "ltrim", "rtrim"):
        conn.create_function(name, 2, bounded_trim(name), deterministic=True)
    conn.create_function("printf", -1, bounded_printf, deterministic=True)
    conn.create_function("format", -1, bounded_printf, deterministic=True)
    conn.row_factory = bounded_row
    conn.set_authorizer(authorize)
