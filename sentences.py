"""How much of each document the claims quote: its sentences, and which of them a claim quotes.

    .venv/bin/python sentences.py [--db imu.db] [--docs ../shared/seeds] [--longest 8]

(`make coverage`.) A document is read as quotes.py reads it (its lines as a reader sees
them), and each line is cut into sentences at a full stop, question or exclamation mark
followed by a space and a capital, a digit or an opening quote, but not after a known
abbreviation ("U.S.", "Mr.", "Jan.") or a single initial. A sentence counts as *quoted*
when the claims' quotes cover at least half of its characters, *partly quoted* when they
cover some of it. One that is not quoted is *left out* when a passage of
seeds' `passages_left_out` covers any of it, and *unaccounted* otherwise: a fact may be
missing there. The build writes the figures into the `documents` table (one row per
document), which the about page shows, and refuses a sentence both quoted and listed; this
command prints them with every unaccounted sentence (the longest runs first).
"""
from __future__ import annotations

import argparse
import bisect
import re
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

from quotes import DOCS, Documents, normalise, quoted_spans, reading_text
from schema import Field

END = re.compile(r"[.!?][\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept",
                 "oct", "nov", "dec", "no", "vol", "gen", "col", "lt", "sgt", "e.g", "i.e", "u.s", "u.n",
                 "u.k", "etc", "vs", "approx", "ca"}
QUOTED_SHARE = 0.5

DESCRIPTION = ("Derived at build time: one row per source document, with how many of its sentences the "
               "claims quote and how many the curators left out on purpose (passages_left_out). A sentence "
               "is quoted when claims' quotes cover at least half of it, partly quoted when they cover less; "
               "one not quoted is left out when a listed passage covers it, and unaccounted otherwise. The "
               "command make coverage lists the unaccounted sentences.")
FIELDS = (
    Field("id", description="The document's file name, as its source's `document` gives it."),
    Field("source_id", "ref", ref="sources", description="The source whose document it is."),
    Field("sentences", "integer", description="How many sentences the document has, as this table counts them."),
    Field("quoted", "integer", description="Sentences at least half covered by claims' quotes."),
    Field("partly_quoted", "integer", description="Sentences some claim quotes, but less than half of."),
    Field("not_quoted", "integer", description="Sentences no claim quotes."),
    Field("quoted_share", "real", description="quoted divided by sentences, 0 to 1."),
    Field("left_out", "integer", description="Sentences not quoted that a passage of passages_left_out covers: "
                                             "left out on purpose, for the reason given there."),
    Field("unaccounted", "integer", description="Sentences neither quoted nor left out: sentences minus quoted "
                                                "minus left_out. 0 when the records account for the whole document."),
    Field("left_out_share", "real", description="left_out divided by sentences, 0 to 1."),
)
SQL = ("CREATE TABLE [documents] ([id] TEXT PRIMARY KEY, [source_id] TEXT REFERENCES [sources]([id]), "
       "[sentences] INTEGER NOT NULL, [quoted] INTEGER NOT NULL, [partly_quoted] INTEGER NOT NULL, "
       "[not_quoted] INTEGER NOT NULL, [quoted_share] REAL NOT NULL, [left_out] INTEGER NOT NULL, "
       "[unaccounted] INTEGER NOT NULL, [left_out_share] REAL NOT NULL)")


@dataclass
class Sentence:
    start: int
    end: int
    text: str
    covered: int = 0  # characters of it inside some claim's quote
    listed: tuple[str, ...] = ()  # the passages left out that cover some of it

    @property
    def state(self) -> str:
        """What the claims make of it."""
        if self.covered >= QUOTED_SHARE * (self.end - self.start):
            return "quoted"
        return "partly quoted" if self.covered else "not quoted"

    @property
    def accounted(self) -> str:
        """quoted, left out, or unaccounted."""
        if self.state == "quoted":
            return "quoted"
        return "left out" if self.listed else "unaccounted"


def split(raw: str) -> list[Sentence]:
    """A document's sentences, as spans of its reading text (quotes.reading_text)."""
    out, at = [], 0
    for line in raw.splitlines():
        text = reading_text(normalise(line))
        if not text:
            continue
        begin = 0
        for m in END.finditer(text):
            word = text[begin:m.start()].rsplit(" ", 1)[-1].lower().rstrip(".")
            if word in ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
                continue
            out.append(Sentence(at + begin, at + m.start() + 1, text[begin:m.start() + 1]))
            begin = m.end()
        if begin < len(text):
            out.append(Sentence(at + begin, at + len(text), text[begin:]))
        at += len(text) + 1  # the space that joins it to the next line
    return out


def overlapping(sentences: list[Sentence], starts: list[int], start: int, end: int):
    """The sentences a span [start, end) shares characters with; `starts` are their starts."""
    i = max(0, bisect.bisect_right(starts, start) - 1)
    while i < len(sentences) and sentences[i].start < end:
        if min(end, sentences[i].end) > max(start, sentences[i].start):
            yield sentences[i]
        i += 1


def cover(sentences: list[Sentence], spans: list[tuple[int, int]]) -> None:
    """Count, for each sentence, its characters that some span covers (spans may overlap)."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    starts = [s.start for s in sentences]
    for start, end in merged:
        for s in overlapping(sentences, starts, start, end):
            s.covered += min(end, s.end) - max(start, s.start)


def account(conn: sqlite3.Connection, docs: Documents) -> dict[str, tuple[str, list[Sentence]]]:
    """{document: (source id, its sentences with what the claims cover and the passages
    left out that cover them)} for every source document."""
    quoted = quoted_spans(conn, docs, "claims")
    listed = quoted_spans(conn, docs, "passages_left_out")
    out = {}
    for source_id, document in conn.execute("select id, document from sources where document is not null "
                                            "order by document"):
        if docs.problem(document) is not None:
            continue
        found = split((docs.folder / document).read_text(encoding="utf-8", errors="replace"))
        cover(found, [(start, end) for start, end, _ in quoted.get(document, [])])
        starts = [s.start for s in found]
        for start, end, row_id in listed.get(document, []):
            for s in overlapping(found, starts, start, end):
                s.listed += (row_id,)
        out[document] = (source_id, found)
    return out


def rows(accounted: dict[str, tuple[str, list[Sentence]]]) -> list[tuple]:
    table = []
    for document, (source_id, found) in accounted.items():
        states = [s.state for s in found]
        accounts = [s.accounted for s in found]
        quoted, left_out = states.count("quoted"), accounts.count("left out")
        table.append((document, source_id, len(found), quoted, states.count("partly quoted"),
                      states.count("not quoted"), round(quoted / len(found), 4) if found else 0.0,
                      left_out, accounts.count("unaccounted"), round(left_out / len(found), 4) if found else 0.0))
    return table


def both(accounted: dict[str, tuple[str, list[Sentence]]]) -> list[tuple[str, str, str]]:
    """Problems (table, id, message) for the build: a sentence both quoted and left out."""
    return [("passages_left_out", row_id, f"passage: covers {s.text[:100]!r}" + ("..." if len(s.text) > 100 else "")
             + ", a sentence claims quote (at least half of it); a sentence is quoted or left out, not both")
            for _, found in accounted.values() for s in found if s.state == "quoted" for row_id in s.listed]


def write(path: Path, docs: Documents | None) -> list[tuple[str, str, str]]:
    """The `documents` table of the database at `path`, left alone when it already says the
    same; returns the sentences both quoted and left out, as problems for the build."""
    conn = sqlite3.connect(path)
    try:
        have = conn.execute("select sql from sqlite_master where name = 'documents'").fetchone()
        if have is None or have[0] != SQL:
            conn.execute("drop table if exists [documents]")
            conn.execute(SQL)
        accounted = account(conn, docs) if docs is not None else {}
        new = rows(accounted)
        if conn.execute("select * from documents order by rowid").fetchall() != new:
            conn.execute("delete from documents")
            conn.executemany(f"insert into documents values ({', '.join('?' * len(FIELDS))})", new)
        conn.commit()
        return both(accounted)
    finally:
        conn.close()


def gaps(found: list[Sentence]) -> list[list[Sentence]]:
    """Runs of consecutive unaccounted sentences, longest first."""
    runs, run = [], []
    for s in found:
        if s.accounted == "unaccounted":
            run.append(s)
        elif run:
            runs.append(run)
            run = []
    if run:
        runs.append(run)
    return sorted(runs, key=lambda r: -sum(s.end - s.start for s in r))


def report(accounted: dict[str, tuple[str, list[Sentence]]], longest: int) -> str:
    lines, unaccounted = [], 0
    for (document, source_id, total, quoted, _, _, share, left_out, left, left_share) in rows(accounted):
        unaccounted += left
        lines.append(f"{document} ({source_id}): {total} sentences; {quoted} quoted ({share:.0%}), "
                     f"{left_out} left out on purpose ({left_share:.0%}), {left} unaccounted")
        for run in gaps(accounted[document][1])[:longest]:
            text = " ".join(s.text for s in run)
            lines.append(f"    {len(run)} sentence(s), {len(text)} characters: {text[:160]!r}"
                         + ("..." if len(text) > 160 else ""))
    lines.append(f"{unaccounted} sentence(s) unaccounted in {len(accounted)} document(s): each is either quoted "
                 "by a claim or listed in passages_left_out with its reason")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=Path("imu.db"))
    ap.add_argument("--docs", type=Path, default=DOCS)
    ap.add_argument("--longest", type=int, default=8, help="runs of unaccounted sentences shown, per document")
    args = ap.parse_args(argv)
    if not args.db.is_file() or not args.docs.is_dir():
        print(f"coverage needs the database ({args.db}) and the documents ({args.docs})", file=sys.stderr)
        return 2
    conn = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
    try:
        print(report(account(conn, Documents.at(args.docs)), args.longest))
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
