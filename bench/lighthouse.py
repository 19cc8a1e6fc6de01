"""Lighthouse 12.2.3 (mobile, its default) on the 13 page types of issue 21, the real build
served with `make serve`'s options and compressed as the published site is (IMU_COMPRESS=1;
not under hashed URLs, whose redirect from an unhashed address would count against every
page): performance, accessibility, best practices and SEO, each out of 100, and the audits
that cost points. Writes its table into bench/RESULTS.md.

    .venv/bin/python bench/lighthouse.py [--db imu.db] [--runs 1]

Installs Lighthouse from npm into bench/out/lighthouse on first use (`npm i -E
lighthouse@12.2.3`: 13.x wants Node 22) and drives Debian's Chromium (/usr/bin/chromium).
Performance is simulated throttling on this machine and moves with its load: compare
runs made side by side. Offline, no tile provider can be reached, so the map's background
tiles come from a stand-in on 127.0.0.1 (blank tiles, named as a published site names its
provider: IMU_TILE_URL and IMU_TILE_ATTRIBUTION, plugins/tiles.py); otherwise every failed
tile would be a console error counted against best practices, the network's and not the page's.
"""
from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import replace_section  # noqa: E402
from run import our_serve_args, serve  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "bench" / "out" / "lighthouse"
VERSION = "12.2.3"
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
PAGES = [
    ("home", "/"), ("about", "/about"), ("search", "/imu/search?q=Rasht"), ("events table", "/imu/events"),
    ("an event", "/imu/events/2010-rasht-valley-security-sweeps"), ("a group", "/imu/groups/imu"),
    ("a person", "/imu/people/tohir-yoldashev"),
    ("a claim", "/imu/claims/2010-rasht-valley-security-sweeps--stratfor-2010-tajikistan-sweeps-5"),
    ("a source", "/imu/sources/blog-2014-has-imu-returned"), ("a dispute", "/imu/dispute_topics/rasht-sweeps-casualties"),
    ("map", "/imu/events_map"), ("network", "/imu/network"), ("chart", "/imu/events_per_year"),
]
CHROME_FLAGS = ("--headless=new --no-sandbox --disable-gpu --no-first-run --disable-background-networking "
                "--disable-component-update --disable-sync")


def lighthouse() -> Path:
    binary = TOOL / "node_modules" / ".bin" / "lighthouse"
    if not binary.exists():
        TOOL.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", str(TOOL), "--no-audit", "--no-fund", "-E",
                        f"lighthouse@{VERSION}"], check=True, stdout=subprocess.DEVNULL)
    return binary


def audit(binary: Path, url: str) -> dict:
    """One Lighthouse run: {category: score out of 100, "lost": [titles of failed audits]}."""
    done = subprocess.run([str(binary), url, f"--chrome-flags={CHROME_FLAGS}", "--quiet", "--output=json",
                           f"--only-categories={','.join(CATEGORIES)}"],
                          capture_output=True, text=True, env=dict(os.environ, CHROME_PATH="/usr/bin/chromium"))
    if done.returncode:
        raise SystemExit(f"lighthouse failed on {url}: {done.stderr[-2000:]}")
    report = json.loads(done.stdout)
    out = {c: round(report["categories"][c]["score"] * 100) for c in CATEGORIES}
    refs = {r["id"]: c for c in CATEGORIES if c != "performance"
            for r in report["categories"][c]["auditRefs"] if r["weight"]}
    out["lost"] = sorted({f"{refs[a]}: {report['audits'][a]['title']}" for a in refs
                          if report["audits"][a]["score"] is not None and report["audits"][a]["score"] < 1})
    return out


def blank_png(size: int) -> bytes:
    """A white square PNG: a tile as sharp as a high-resolution provider's (512 px for 256)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\xff" * 3 * size for _ in range(size))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


BLANK_TILE = blank_png(512)


class Tiles(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(BLANK_TILE)))
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Cache-Control", "max-age=3600")
        self.end_headers()
        self.wfile.write(BLANK_TILE)

    def log_message(self, *args):
        pass


def tile_stand_in() -> ThreadingHTTPServer:
    """Blank tiles on a free local port, as the map's provider for the run."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Tiles)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    os.environ["IMU_TILE_URL"] = f"http://127.0.0.1:{server.server_address[1]}/{{z}}/{{x}}/{{y}}.png"
    os.environ["IMU_TILE_ATTRIBUTION"] = "Blank stand-in tiles (bench/lighthouse.py)"
    return server


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=ROOT / "imu.db")
    ap.add_argument("--results", type=Path, default=ROOT / "bench" / "RESULTS.md")
    args = ap.parse_args(argv)
    binary = lighthouse()
    os.environ["IMU_COMPRESS"] = "1"  # the server inherits it, and the tiles' address
    tiles = tile_stand_in()
    proc, base = serve(our_serve_args(args.db))
    try:
        rows = [(name, path, audit(binary, base + path)) for name, path in PAGES]
    finally:
        proc.terminate()
        proc.wait(10)
        tiles.shutdown()
    lines = [f"Lighthouse {VERSION} (mobile, simulated throttling), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
             f"load average {os.getloadavg()[0]:.2f}; `make serve`'s options on {args.db.name}, compressed "
             "(IMU_COMPRESS=1) as the published site is, the map's tiles from a blank local stand-in.",
             "", "Command: `python bench/lighthouse.py`", "",
             "| page | performance | accessibility | best practices | SEO | path |",
             "| --- | ---: | ---: | ---: | ---: | --- |"]
    lines += [f"| {name} | {r['performance']} | {r['accessibility']} | {r['best-practices']} | {r['seo']} | `{path}` |"
              for name, path, r in rows]
    lost = sorted({item for _, _, r in rows for item in r["lost"]})
    if lost:
        lines += ["", "Audits that cost points somewhere: " + "; ".join(lost) + "."]
    text = "\n".join(lines)
    print(text)
    replace_section(args.results, "lighthouse", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
