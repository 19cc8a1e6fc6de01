"""`make serve`: Datasette on the built database, started again whenever it is rebuilt.

    .venv/bin/python scripts/serve.py [--port 8001] [--db imu.db]

Datasette serves the file it opened at start: after `python build_db.py` or `make build`
wrote a new imu.db (a new file, renamed into place), it went on serving the old one. This
process watches the database and, once a new one has stayed unchanged for a moment, writes
its inspect file again (the row counts and hash Datasette shows) and starts Datasette
again on it. A request made during the restart (about two seconds) is refused, not
answered from the old data.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import serve_prod  # noqa: E402  (the command line, inspect and stop, shared with the replicas and the tests)

POLL_SECONDS = 1.0


def stamp(db: Path) -> tuple | None:
    try:
        st = db.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8001)))
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--db", type=Path, default=ROOT / "imu.db")
    ap.add_argument("--inspect-file", type=Path, default=ROOT / "inspect.json")
    args = ap.parse_args(argv)
    db, inspect_file = args.db.resolve(), args.inspect_file.resolve()

    def start() -> subprocess.Popen:
        return subprocess.Popen(serve_prod.serve_command(db, inspect_file, args.host, args.port), cwd=ROOT)

    stopping = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.append(True))
    seen = stamp(db)
    server = start()
    try:
        while not stopping:
            time.sleep(POLL_SECONDS)
            if server.poll() is not None:
                return server.returncode
            now = stamp(db)
            if now == seen or now is None:
                continue
            time.sleep(POLL_SECONDS)  # a build renames its file into place: wait for it to settle
            if stamp(db) != now:
                continue
            seen = now
            print(f"{db.name} was rebuilt: serving the new database", file=sys.stderr, flush=True)
            serve_prod.inspect(db, inspect_file)
            serve_prod.stop([server])
            server = start()
    finally:
        serve_prod.stop([server])
    return 0


if __name__ == "__main__":
    sys.exit(main())
