"""Lighthouse 12.2.3 (mobile, its default) on the 13 page types of issue 21, the real build
served with `make serve`'s options and compressed as the published site is (IMU_COMPRESS=1;
not under hashed URLs, whose redirect from an unhashed address would count against every
page): performance, accessibility, best practices and SEO, each out of 100, and the audits
that cost points. Writes its table into bench/RESULTS.md.

    .venv/bin/python bench/lighthouse.py [--db imu.db] [--runs 1]

Installs Lighthouse from npm into bench/out/lighthouse on first use (`npm i -E
lighthouse@12.2.3`: 13.x wants Node 22) and drives Debian's Chromium (/usr/bin/chromium).
Performance is simulated throttling on this machine and moves with its load: compare
runs made side by side. Offline, the map's background tiles fail to load (the network,
not the page) and Lighthouse counts those console errors against best practices.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=ROOT / "imu.db")
    ap.add_argument("--results", type=Path, default=ROOT / "bench" / "RESULTS.md")
    args = ap.parse_args(argv)
    binary = lighthouse()
    os.environ["IMU_COMPRESS"] = "1"  # the server inherits it
    proc, base = serve(our_serve_args(args.db))
    try:
        rows = [(name, path, audit(binary, base + path)) for name, path in PAGES]
    finally:
        proc.terminate()
        proc.wait(10)
    lines = [f"Lighthouse {VERSION} (mobile, simulated throttling), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
             f"load average {os.getloadavg()[0]:.2f}; `make serve`'s options on {args.db.name}, compressed "
             "(IMU_COMPRESS=1) as the published site is.",
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
