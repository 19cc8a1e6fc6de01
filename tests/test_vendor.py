"""The committed JavaScript libraries are the pinned npm files, byte for byte (offline:
scripts/vendor.py --check compares them with the registry's tarballs)."""
import hashlib
import json
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "plugins" / "vendor"


def test_committed_files_match_their_pins():
    pins = json.loads((VENDOR / "vendor.json").read_text())
    assert set(pins) == {p.name for p in VENDOR.glob("*.js")}
    for name, pin in pins.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == pin["sha256"], name
        assert pin["integrity"].startswith("sha512-") and pin["version"].count(".") == 2


def test_files_name_their_pinned_versions():
    """A stale pin would name another version than the file's own banner."""
    pins = json.loads((VENDOR / "vendor.json").read_text())
    head = {name: (VENDOR / name).read_bytes()[:400].decode("utf-8", "replace") for name in pins}
    assert f"v{pins['d3.min.js']['version']}" in head["d3.min.js"]
    assert f"v{pins['plot.umd.min.js']['version']}" in head["plot.umd.min.js"]
    assert "Cytoscape" in head["cytoscape.min.js"]
