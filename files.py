"""Where the build reads and writes, and the processes it starts.

Which entries of the seeds folder are seed files (and one line for each that cannot be
read), where the database may be written (never over a seed file, a folder or a file
that is not a database), temporary files named after the process that wrote them,
parser processes that die with the build, and SIGTERM stopping a build as Ctrl-C does.
"""
from __future__ import annotations

import contextlib
import errno
import os
import re
import signal
import stat
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

_TEMP = re.compile(r"^\..*\.(\d+)\.[^.]*\.?tmp(?:-journal|-wal|-shm)?$")


def seed_files(seeds: Path) -> tuple[list[Path], list[str]]:
    """The folder's *.yml and *.yaml files, sorted, and an error for each entry that cannot
    be read as a file. Names starting with a dot (editors' lock files such as
    .#events.yml, hidden files) are not seeds."""
    try:
        entries = sorted(p for p in seeds.iterdir() if p.suffix in (".yml", ".yaml") and not p.name.startswith("."))
    except OSError as exc:
        return [], [f"{seeds}: cannot list the seeds folder: {exc.strerror or exc}"]
    errors, paths = [], []
    folder = seeds.resolve()
    for path in entries:
        problem = outside(path, folder) or not_a_seed_file(path)
        if problem:
            errors.append(f"{path}: {problem}")
        else:
            paths.append(path)
    if not paths and not errors:
        errors.append(f"{seeds}: no *.yml seed files found")
    return paths, errors


def outside(path: Path, folder: Path) -> str | None:
    """A link to a file outside the seeds folder: refused unread, so that no file elsewhere
    (a key, a password file) reaches the build's errors or the terminal."""
    if not path.is_symlink():
        return None
    try:
        target = path.resolve(strict=False)
    except (OSError, RuntimeError):
        return None  # a loop: not_a_seed_file says so
    if folder not in target.parents:
        return "is a link to a file outside the seeds folder; not read (copy the file into it)"
    return None


def not_a_seed_file(path: Path) -> str | None:
    try:
        st = path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop"
        if path.is_symlink():
            return f"broken symbolic link (to {os.readlink(path)!r:.100})"
        return f"cannot read: {exc.strerror or exc}"
    if stat.S_ISDIR(st.st_mode):
        return "is a folder, not a seed file"
    if not stat.S_ISREG(st.st_mode):
        kind = {stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a character device",
                stat.S_IFBLK: "a block device"}.get(stat.S_IFMT(st.st_mode), "not a regular file")
        return f"is {kind}, not a seed file"
    if not os.access(path, os.R_OK):
        return "cannot read: Permission denied"
    return None


def _die_with_parent(parent: int) -> None:
    """In a parser process: be killed when the build is (Linux), and leave Ctrl-C to it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the build died before prctl
        os._exit(1)


@contextlib.contextmanager
def worker_pool(jobs: int):
    """Parser processes that never outlive the build: on any exception (Ctrl-C, SIGTERM)
    they are killed at once rather than left to finish queued files."""
    pool = ProcessPoolExecutor(jobs, initializer=_die_with_parent, initargs=(os.getpid(),))
    try:
        yield pool
    except BaseException:
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.kill()
        # A parser killed while writing its result leaves half a message in the pipe, and
        # the pool's manager thread then waits for the rest for ever: so neither this nor
        # the queue's feeder thread is waited for (build_db's main ends the process at
        # once after an interruption, rather than joining them at exit).
        queue = getattr(pool, "_call_queue", None)
        if queue is not None:
            queue.cancel_join_thread()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep(folder: Path, prefix: str) -> None:
    """Remove temporary files named `.{prefix}...{pid}...tmp` whose process is gone."""
    try:
        names = [p for p in folder.iterdir() if p.name.startswith(f".{prefix}")]
    except OSError:
        return
    for path in names:
        m = _TEMP.match(path.name)
        if m and int(m[1]) != os.getpid() and not pid_alive(int(m[1])):
            path.unlink(missing_ok=True)


def temp_path(out: Path) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.{os.getpid()}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    os.unlink(tmp)
    return Path(tmp)


SQLITE_HEADER = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database file


def out_problem(out: Path, seeds: Path) -> str | None:
    """Why the build must not write `out`: it would destroy something that is not a database."""
    try:
        if out.resolve().is_relative_to(seeds.resolve()):
            return f"is inside the seeds folder {seeds}; the database goes elsewhere"
    except OSError as exc:
        return f"cannot be resolved: {exc.strerror or exc}"
    if out.is_dir():
        return "is a folder; name the database file to write"
    if out.exists():
        try:
            with open(out, "rb") as f:
                head = f.read(16)
        except OSError as exc:
            return f"cannot be read: {exc.strerror or exc}"
        if head and head != SQLITE_HEADER:
            return "exists and is not an SQLite database; it would be overwritten"
    return None


class Terminated(Exception):
    """SIGTERM, raised where the build is, so it cleans up as for Ctrl-C."""


def _terminate(signum, frame):
    raise Terminated


@contextlib.contextmanager
def terminate_on_sigterm():
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
