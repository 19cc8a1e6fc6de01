"""Every claim quotes its document: the build checks it, as ../shared/tools/check_quotes.py does.

A claim's document is its source's `document:` (a file in the documents folder), or,
for a cited work (a source with `cited_by:`), the document of the source that cites it.
A quote matches when each of its parts (split at "...") stands in that document, in
order, after the same normalising as check_quotes.py: NFKC, plain quotes and dashes,
single spaces. Quotes are taken from the document as a reader sees it: a link written
`[words](target)` reads as its words and reference markers such as " [4]" are left out,
so a quote carries no markup.

The check also gives each claim its `quote_offset`: where its first part starts in the
document, for reading a source's claims in document order. A quote not found is reported
with the passage of the document closest to it (rapidfuzz's partial ratio) and the words
that differ, so that the curator need not hunt for it.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import re
import sqlite3
import unicodedata
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "shared" / "seeds"
_QUOTE_MARKS = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u02bc": "'", "\u02bb": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
    "\u00a0": " ",
})
_ELLIPSIS = re.compile(r"\s*(?:\.\.\.|\u2026)\s*")
_LINK = re.compile(r"\[((?:[^\]\\]|\\.)*)\]\([^)]*\)")
_MARKER = re.compile(r" ?\[\d+\]")
_MARKUP = re.compile(r"\]\([^)]*\)|\[\d+\]")


def normalise(text: str) -> str:
    """NFKC, plain quotes and dashes, single spaces: the comparison check_quotes.py makes."""
    if not text.isascii():  # ASCII is its own NFKC, with no curly quotes or dashes
        text = unicodedata.normalize("NFKC", text).translate(_QUOTE_MARKS)
    return " ".join(text.split())


def reading_text(text: str) -> str:
    """A document as a reader sees it: link markup gone, its words kept, markers dropped."""
    text = _MARKER.sub("", _LINK.sub(lambda m: re.sub(r"\\(.)", r"\1", m[1]), text))
    return " ".join(text.split())


def parts_of(quote: str) -> list[str]:
    """A quote's parts as the document must hold them: split at "...", each normalised."""
    if "..." not in quote and "\u2026" not in quote:
        return [part] if (part := normalise(quote)) else []
    return [p for p in map(normalise, _ELLIPSIS.split(quote)) if p]


def walk(parts: list[str], text: str) -> tuple[list[tuple[int, int]], str | None]:
    """Where each part stands in `text`, each after the one before (start, end), up to the
    first part that does not; and that part, or None when all stand."""
    spans, pos = [], 0
    for part in parts:
        hit = text.find(part, pos)
        if hit < 0:
            return spans, part
        pos = hit + len(part)
        spans.append((hit, pos))
    return spans, None


def spans_in(quote: str, text: str) -> list[tuple[int, int]] | None:
    """Where each part of the quote stands in `text` (start, end), if all stand there in order."""
    parts = parts_of(quote)
    spans, missing = walk(parts, text)
    return spans if parts and missing is None else None


def offset_in(quote: str, text: str) -> int | None:
    """Where the quote's first part starts in `text`, if all its parts stand there in order."""
    spans = spans_in(quote, text)
    return spans[0][0] if spans else None


def missing_part(quote: str, text: str) -> str:
    """The first part of a quote (split at "...") that does not stand in `text` in order."""
    parts = parts_of(quote) or [normalise(quote)]
    return walk(parts, text)[1] or parts[0]  # all stand, but not in order: the first will guide


def closest_passage(part: str, text: str) -> tuple[float, str] | None:
    """The passage of `text` most like `part`, in whole words, and how alike (0-100).

    rapidfuzz aligns a window as long as the quote; the passage is widened by a fifth on
    each side and then cut to the words that match or replace the quote's, so a quote that
    left out a word still sees its passage to the end."""
    from rapidfuzz import fuzz

    if not part or not text:
        return None
    found = fuzz.partial_ratio_alignment(part, text)
    if found is None or found.score < 70:
        return None
    slack = len(part) // 5 + 10
    start, end = max(0, found.dest_start - slack), min(len(text), found.dest_end + slack)
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    quoted, written = part.split(), text[start:end].split()
    kept = [(i2 - i1, j1, j2) for op, i1, i2, j1, j2 in
            difflib.SequenceMatcher(None, quoted, written, autojunk=False).get_opcodes() if op in ("equal", "replace")]
    if not kept:
        return None
    (first_n, first, first_end), (last_n, last_start, last) = kept[0], kept[-1]
    # a replaced word at either end stands for as many of the document's words, not all around it
    return found.score, " ".join(written[max(first, first_end - first_n):min(last, last_start + last_n)])


def differences(part: str, passage: str, most: int = 4) -> str:
    """The words of the quote that the passage has otherwise, in a few words."""
    quoted, written = part.split(), passage.split()
    said = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, quoted, written, autojunk=False).get_opcodes():
        ours, theirs = " ".join(quoted[i1:i2]), " ".join(written[j1:j2])
        if op == "replace":
            said.append(f"{ours!r} where the document has {theirs!r}")
        elif op == "delete":
            said.append(f"{ours!r}, which the document does not have there")
        elif op == "insert":
            said.append(f"the document has {theirs!r} before {quoted[i1]!r}" if i1 < len(quoted)
                        else f"the document goes on {theirs!r}")
    if not said:
        return ""
    more = f" (and {len(said) - most} more)" if len(said) > most else ""
    return "; differs: " + "; ".join(said[:most]) + more


def not_found(quote: str, document: str, text: str, field: str = "quote") -> str:
    """The error for a quote (or a passage, in `field`) not in its document: the closest
    passage and what differs."""
    message = f"{field}: not found in {document}: {quote[:80]!r}"
    part = missing_part(quote, text)
    close = closest_passage(part, text)
    if close is None:
        return message + "; no passage of the document is close to it"
    score, passage = close
    shown = passage if len(passage) <= 300 else passage[:297] + "..."
    return (message + f"; the closest passage ({score:.0f}% alike) reads {shown!r}"
            + differences(part, passage))


@dataclass
class Documents:
    """The documents folder, each file read once, as its reader sees it."""

    folder: Path
    texts: dict[str, str | None]

    @classmethod
    def at(cls, folder: Path) -> "Documents":
        return cls(folder, {})

    def digest(self) -> str:
        """What the documents hold, to know when every quote must be checked again."""
        h = hashlib.sha256()
        for path in sorted(p for p in self.folder.iterdir() if p.is_file()):
            with open(path, "rb") as f:
                h.update(path.name.encode() + b"\0" + hashlib.file_digest(f, "sha256").digest())
        return h.hexdigest()[:32]

    def problem(self, name: str) -> str | None:
        """Why `document: name` is refused: it must name a file directly in the folder."""
        if Path(name).name != name or name in (".", "..") or "\\" in name:
            return f"{name!r:.80} is not a file name (no folders or paths)"
        if not (self.folder / name).is_file():
            return f"{name!r:.80} is not a file in {self.folder}"
        return None

    def text(self, name: str) -> str | None:
        if name not in self.texts:
            path = self.folder / name
            self.texts[name] = reading_text(normalise(path.read_text(encoding="utf-8", errors="replace"))) \
                if self.problem(name) is None else None
        return self.texts[name]


def source_documents(conn: sqlite3.Connection) -> dict[str, tuple[str | None, str | None]]:
    """{source id: (its document, the source that cites it)}."""
    return {row[0]: row[1:] for row in conn.execute("select id, document, cited_by_id from sources")}


def document_of(sources: dict[str, tuple[str | None, str | None]], source_id: str) -> str | None:
    """The document a claim citing `source_id` quotes: the source's own, or, for a cited work,
    that of the source citing it."""
    document, cited_by = sources.get(source_id, (None, None))
    if document is None and cited_by in sources:
        document = sources[cited_by][0]
    return document


# The tables whose rows quote a document: the column quoted and the one its place goes in.
QUOTING = {"claims": ("quote", "quote_offset"), "passages_left_out": ("passage", "passage_offset")}


def quoted_spans(conn: sqlite3.Connection, docs: Documents,
                 table: str = "claims") -> dict[str, list[tuple[int, int, str]]]:
    """{document: (start, end, row id) of each span of its reading text that the rows of a
    QUOTING table quote}, for sentences.py. A quote in one part starts at its row's
    offset, which the build has found; a table the database lacks quotes nothing."""
    if not conn.execute("select 1 from sqlite_master where name = ?", [table]).fetchone():
        return {}
    column, offset_column = QUOTING[table]
    sources = source_documents(conn)
    out: dict[str, list[tuple[int, int, str]]] = {}
    for row_id, source_id, quote, offset in conn.execute(
            f"select id, source_id, [{column}], [{offset_column}] from [{table}] order by [{offset_column}], id"):
        document = document_of(sources, source_id)
        text = docs.text(document) if document else None
        if text is None:
            continue
        if offset is not None and "..." not in quote and "\u2026" not in quote:
            spans = [(offset, offset + len(normalise(quote)))]
        else:
            spans = spans_in(quote, text) or []
        out.setdefault(document, []).extend((start, end, row_id) for start, end in spans)
    return out


def check_claims(conn: sqlite3.Connection, docs: Documents, only: dict[str, set[str]] | None = None
                 ) -> tuple[list[tuple[str, str, str]], list[tuple[str, int, str]]]:
    """Check each claim's quote, and each passage left out, against its document (only
    the ids in `only`, per table, if given).

    Returns problems as (table, id, message), for the build to place at their file and
    line, and (table, offset, id) for every row whose words were found.
    """
    sources = source_documents(conn)
    problems, offsets = [], []
    if only is None:
        for source_id, (document, _) in sorted(sources.items()):
            if document is not None and (problem := docs.problem(document)):
                problems.append(("sources", source_id, f"document: {problem}"))
    for table, (column, _) in QUOTING.items():
        if only is not None and not only.get(table):
            continue
        if not conn.execute("select 1 from sqlite_master where name = ?", [table]).fetchone():
            continue  # a database from before the table
        rows = conn.execute(f"select id, source_id, [{column}] from [{table}] order by id") if only is None \
            else conn.execute(f"select id, source_id, [{column}] from [{table}] "
                              "where id in (select value from json_each(?)) order by id", [json.dumps(sorted(only[table]))])
        for row_id, source_id, quote in rows:
            if source_id not in sources:
                continue  # a dangling reference, which the build reports as such
            document = document_of(sources, source_id)
            if document is None:
                problems.append((table, row_id, f"source: {source_id!r} has no document and is not a cited "
                                                "work (cited_by) of a source that has one"))
                continue
            text = docs.text(document)
            if text is None:
                continue  # the source's own error says why
            if _MARKUP.search(quote):
                problems.append((table, row_id, f"{column}: carries link markup or a reference marker; "
                                                "quote the words as a reader sees them"))
                continue
            at = offset_in(quote, text)
            if at is None:
                problems.append((table, row_id, not_found(quote, document, text, column)))
                continue
            offsets.append((table, at, row_id))
    return problems, offsets
