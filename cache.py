"""The build's cache: each seed file's checked rows, by content, beside the database.

A part is stored under the key of the very bytes it was parsed from: the process that
parses a file reads it once, hashes what it read and parses that. A file edited while a
build runs, then put back, is therefore never served from a part made of its other
content. A manifest records which parts (and which documents) made the database as it
stands, so a rebuild can swap only the rows of files that changed.

Its temporary files carry the id of the process that wrote them, and are swept
(files.sweep) when that process is gone.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path

from files import sweep

CODE = ("build_db.py", "schema.py", "fold.py", "seedparse.py", "quotes.py", "cache.py", "files.py",
        "dates.py", "spans.py", "labels.py", "sentences.py")


def code_version(extra: bytes = b"") -> bytes:
    """A part is only as good as the code that made it."""
    here = Path(__file__).resolve().parent
    return hashlib.sha256(b"".join((here / name).read_bytes() for name in CODE) + extra
                          + sqlite3.sqlite_version.encode()).digest()


def file_key(version: bytes, label: str, data: bytes) -> str:
    h = hashlib.sha256(version)
    h.update(Path(label).name.encode() + b"\0")
    h.update(data)
    return h.hexdigest()[:32]


class Cache:
    """Parts by file content in .NAME.cache/ beside the database, and its manifest."""

    def __init__(self, out: Path, version: bytes):
        self.dir = out.parent / f".{out.name}.cache"
        self.version = version
        sweep(self.dir, "")

    def key(self, label: str, data: bytes) -> str:
        return file_key(self.version, label, data)

    @staticmethod
    def write_to(folder: Path, key: str, blob: bytes) -> None:
        """Store a part (from a parser process, which has no Cache of its own)."""
        folder.mkdir(exist_ok=True)
        tmp = folder / f".{key}.{os.getpid()}.tmp"
        tmp.write_bytes(blob)
        os.replace(tmp, folder / f"{key}.part")

    def read(self, key: str) -> bytes | None:
        try:
            return (self.dir / f"{key}.part").read_bytes()
        except OSError:
            return None

    def has(self, key: str) -> bool:
        return (self.dir / f"{key}.part").exists()

    @staticmethod
    def stamp(out: Path) -> list[int]:
        st = out.stat()
        return [st.st_ino, st.st_size, st.st_mtime_ns]

    def manifest(self, out: Path) -> dict | None:
        """{"files": label -> key, "docs": digest} that made `out`, if `out` is still what they made."""
        try:
            saved = json.loads((self.dir / "manifest.json").read_text())
            return saved if saved["db"] == self.stamp(out) else None
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, stamp: list[int], keys: dict[str, str], docs: str) -> None:
        """Record what made the database with this stamp, and forget the parts of files
        that are gone or changed."""
        self.dir.mkdir(exist_ok=True)
        tmp = self.dir / f".manifest.{os.getpid()}.tmp"
        tmp.write_text(json.dumps({"db": stamp, "files": keys, "docs": docs}, indent=1))
        os.replace(tmp, self.dir / "manifest.json")
        keep = {f"{k}.part" for k in keys.values()}
        for path in self.dir.glob("*.part"):
            if path.name not in keep:
                path.unlink(missing_ok=True)
