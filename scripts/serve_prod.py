"""`make serve-prod`: one Datasette per core behind nginx, restarted when one dies.

    .venv/bin/python scripts/serve_prod.py [--port 8001] [--replicas N]

nginx (Debian's, prod/nginx.conf) listens on the port, caches what Datasette marks
cacheable, limits each client's connections and its rate of arbitrary SQL, serves the
`.db` download itself, answers the errors it finds itself with the site's own error
pages (scripts/error_pages.py), and passes a request to another replica when one fails. The
replicas are `make serve`'s server on ports of their own; this process watches them and
starts again any that exits. SIGTERM or Ctrl-C stops everything.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# `make serve`'s options besides the database, host, port and settings (tests check they match).
SERVE_OPTIONS = ["-m", "metadata.yml", "--plugins-dir", "plugins", "--template-dir", "templates"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def settings(values: dict | None = None) -> list[str]:
    """settings.json (or the given settings) as `--setting KEY VALUE` options, as make serve passes them."""
    if values is None:
        values = json.loads((ROOT / "settings.json").read_text())
    out = []
    for key, value in values.items():
        out += ["--setting", key, str(value).lower() if isinstance(value, bool) else str(value)]
    return out


def serve_command(db: Path, inspect: Path, host: str | None = None, port: int | None = None,
                  values: dict | None = None) -> list[str]:
    """The `datasette serve` command line of make serve (scripts/serve.py), the replicas, the
    tests' servers and the benchmarks (which pick their own port): one place, so that what
    is tested is what is served."""
    where = ["--host", host, "--port", str(port)] if host is not None else []
    return [str(BIN / "datasette"), "serve", "-i", str(db), "--inspect-file", str(inspect),
            *SERVE_OPTIONS, *where, *settings(values)]


def inspect(db: Path, out: Path) -> None:
    """`datasette inspect` of the database into `out`, written beside it and renamed into
    place, so that a server starting meanwhile never reads half a file."""
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    subprocess.run([str(BIN / "datasette"), "inspect", str(db), "--inspect-file", str(tmp)], check=True, cwd=ROOT)
    os.replace(tmp, out)


def stop(procs: list[subprocess.Popen]) -> None:
    """SIGTERM to each process still running, then wait; SIGKILL to any still there after 10 s."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def record_replicas(run: Path, replicas: dict[int, subprocess.Popen]) -> None:
    """replicas.json: each replica's port and process id, for the tests and an operator."""
    (run / "replicas.json").write_text(json.dumps({str(p): r.pid for p, r in replicas.items()}))


def replica(db: Path, inspect: Path, port: int) -> subprocess.Popen:
    """`make serve`'s server, with content-hashed URLs on (plugins/hashed.py)."""
    return subprocess.Popen(serve_command(db, inspect, "127.0.0.1", port), cwd=ROOT, stdout=subprocess.DEVNULL,
                            env=dict(os.environ, IMU_HASHED_URLS="1"))


def hashed_route(inspect: Path) -> str:
    """The database's hashed route, as plugins/hashed.py makes it from the same hash."""
    sys.path.insert(0, str(ROOT / "plugins"))
    from hashed import DB, HASH_LENGTH

    return f"{DB}-{json.loads(inspect.read_text())[DB]['hash'][:HASH_LENGTH]}"


NOFILE = 40_000  # open files an nginx worker asks for


def nofile() -> int:
    """NOFILE, or the hard limit on open files if lower: a worker cannot raise its own past it."""
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return NOFILE if hard == resource.RLIM_INFINITY else min(NOFILE, hard)


def nginx_conf(run: Path, host: str, port: int, db: Path, ports: list[int], route: str) -> Path:
    text = (ROOT / "prod" / "nginx.conf").read_text()
    # max_fails=0: a replica is never taken out of turn. A dead one refuses at once and the
    # request goes to the next; a busy one's 503 (plugins/lanes.py) marked it down for 2 s,
    # and with both down nginx answered 502 to everyone (bench/load.py --compare, 200 clients).
    upstreams = "\n".join(f"        server 127.0.0.1:{p} max_fails=0;" for p in ports)
    for mark, value in {"@RUN@": str(run), "@HOST@": host, "@PORT@": str(port), "@DB@": str(db),
                        "@UPSTREAMS@": upstreams, "@ROUTE@": route, "@NOFILE@": str(nofile()),
                        "@USER@": "user root;" if os.geteuid() == 0 else ""}.items():
        text = text.replace(mark, value)
    path = run / "nginx.conf"
    path.write_text(text)
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8001)))
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--replicas", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--db", type=Path, default=ROOT / "imu.db")
    ap.add_argument("--run-dir", type=Path, default=ROOT / "build" / "prod")
    args = ap.parse_args(argv)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        print("serve-prod needs nginx: `make serve-prod` installs Debian's (as root)", file=sys.stderr)
        return 2
    db, run = args.db.resolve(), args.run_dir.resolve()
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    inspect_file = run / "inspect.json"
    inspect(db, inspect_file)
    subprocess.run([sys.executable, str(ROOT / "scripts" / "error_pages.py"), str(db), str(run / "errors")], check=True)
    ports = [free_port() for _ in range(args.replicas)]
    replicas = {p: replica(db, inspect_file, p) for p in ports}
    record_replicas(run, replicas)
    proxy = subprocess.Popen([nginx, "-p", str(run), "-c", str(nginx_conf(run, args.host, args.port, db, ports, hashed_route(inspect_file)))])
    stopping = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.append(True))
    print(f"serving on http://{args.host}:{args.port}/ ({args.replicas} replicas behind nginx)", flush=True)
    try:
        while not stopping and proxy.poll() is None:
            for port, proc in list(replicas.items()):
                if proc.poll() is not None:  # a replica died: start it again on its port
                    print(f"replica on port {port} exited ({proc.returncode}); restarting", flush=True)
                    replicas[port] = replica(db, inspect_file, port)
                    record_replicas(run, replicas)
            time.sleep(0.5)
    finally:
        stop([proxy, *replicas.values()])
    return 0 if stopping else 1


if __name__ == "__main__":
    sys.exit(main())
