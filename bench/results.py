"""Sections of bench/RESULTS.md (and the README) that one script owns and rewrites.

bench/run.py writes the build and serving figures and bench/load.py the load figures; each
replaces only its own section, between `<!-- NAME:start -->` and `<!-- NAME:end -->`,
so one run never drops the other's figures.
"""
from __future__ import annotations

from pathlib import Path

HEADER = "# Benchmark results\n\nWritten by `bench/run.py` and `bench/load.py --compare`; see the README's Performance section.\n"


def replace_section(path: Path, name: str, text: str, header: str = HEADER) -> None:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    old = path.read_text() if path.exists() else header
    block = f"{start}\n{text.rstrip()}\n{end}"
    if start in old and end in old:
        new = old[:old.index(start)] + block + old[old.index(end) + len(end):]
    else:
        new = old.rstrip() + "\n\n" + block + "\n"
    path.write_text(new)
