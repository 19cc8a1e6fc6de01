"""The JavaScript libraries the site serves itself, from the npm registry, pinned.

    .venv/bin/python scripts/vendor.py            # fetch the pinned files into plugins/vendor/
    .venv/bin/python scripts/vendor.py --check    # fetch again and compare with what is committed

plugins/vendor/vendor.json pins each file: its npm package, version, the tarball's
`integrity` (npm's own SHA-512 of the .tgz) and the SHA-256 of the file inside it. The
files are committed, so the site, its tests and the deploy folder (which carries
plugins/) need no network; `npm pack` fetches a tarball, which must match the pinned
integrity before anything is taken from it. tests/test_vendor.py checks the committed
files against the SHA-256 pins offline.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "plugins" / "vendor"
PINS = VENDOR / "vendor.json"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(pin: dict, tmp: Path) -> bytes:
    """The pinned file out of the pinned tarball, after checking the tarball's integrity."""
    spec = f"{pin['package']}@{pin['version']}"
    out = subprocess.run(["npm", "pack", spec, "--json", "--pack-destination", str(tmp)],
                         check=True, capture_output=True, text=True, cwd=tmp)
    tgz = tmp / json.loads(out.stdout)[0]["filename"]
    algo, digest = pin["integrity"].split("-", 1)
    got = base64.b64encode(hashlib.new(algo, tgz.read_bytes()).digest()).decode()
    if got != digest:
        raise SystemExit(f"{spec}: tarball integrity {algo}-{got} is not the pinned {pin['integrity']}")
    with tarfile.open(tgz) as tar:
        return tar.extractfile(f"package/{pin['path']}").read()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with the committed files; write nothing")
    args = ap.parse_args(argv)
    pins = json.loads(PINS.read_text())
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, pin in pins.items():
            data = fetch(pin, Path(tmp))
            if sha256(data) != pin["sha256"]:
                print(f"{name}: {pin['package']}@{pin['version']} {pin['path']} has sha256 {sha256(data)}, "
                      f"not the pinned {pin['sha256']}")
                bad += 1
                continue
            committed = VENDOR / name
            if args.check:
                same = committed.exists() and committed.read_bytes() == data
                print(f"{name}: {'matches' if same else 'DIFFERS FROM'} {pin['package']}@{pin['version']}")
                bad += not same
            else:
                committed.write_bytes(data)
                print(f"wrote {committed.relative_to(VENDOR.parent.parent)} from {pin['package']}@{pin['version']}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
