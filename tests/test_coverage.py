"""How much of each document the claims quote (sentences.py, `make coverage`, the documents
table and the about page)."""
from __future__ import annotations

import asyncio
import subprocess
import sys

import quotes
import sentences
from conftest import ROOT


def test_sentences_end_at_a_stop_but_not_after_an_abbreviation_or_initial():
    found = sentences.split("Mr. Smith went to the U.S. on Monday. He met J. Doe there! Did he stay? "
                            "Yes.\n\nA new line is a new sentence\nand so is this one.")
    assert [s.text for s in found] == ["Mr. Smith went to the U.S. on Monday.", "He met J. Doe there!",
                                       "Did he stay?", "Yes.", "A new line is a new sentence",
                                       "and so is this one."]


def test_a_sentence_is_quoted_partly_quoted_or_not():
    found = sentences.split("One two three four. Five six seven eight. Nine ten eleven twelve.")
    text = " ".join(s.text for s in found)
    start = text.index("Five")
    sentences.cover(found, [(0, len("One two three four.")), (start, start + 4)])
    assert [s.state for s in found] == ["quoted", "partly quoted", "not quoted"]


def test_the_documents_table_counts_what_the_claims_quote(con):
    docs = quotes.Documents.at(quotes.DOCS)
    accounted = sentences.account(con, docs)
    stored = con.execute("select * from documents order by rowid").fetchall()
    assert [tuple(r) for r in stored] == sentences.rows(accounted)
    with_document = {r[0] for r in con.execute("select document from sources where document is not null")}
    assert {r["id"] for r in stored} == with_document and len(stored) == 5
    for row in stored:
        assert row["sentences"] == row["quoted"] + row["partly_quoted"] + row["not_quoted"] > 20
        assert 0 < row["quoted_share"] < 1
    # the sentence that holds a claim's one-part quote counts as quoted
    quote, document = con.execute(
        "select c.quote, s.document from claims c join sources s on s.id = c.source_id "
        "where s.document is not null and c.quote not like '%...%' order by length(c.quote) desc limit 1").fetchone()
    text = docs.text(document)
    at = text.index(quotes.normalise(quote))
    holder = next(s for s in accounted[document][1] if s.start <= at < s.end)
    assert holder.state == "quoted"


def test_make_coverage_prints_each_document_and_its_longest_gaps(db_path):
    dry = subprocess.run(["make", "-n", "coverage"], cwd=ROOT, capture_output=True, text=True).stdout
    assert "sentences.py --db imu.db" in dry
    run = subprocess.run([sys.executable, "sentences.py", "--db", str(db_path), "--longest", "2"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    heads = [line for line in run.stdout.splitlines() if not line.startswith(" ")]
    assert len(heads) == 5 and all("sentences;" in h and "quoted (" in h for h in heads)
    gaps = [line for line in run.stdout.splitlines() if line.startswith("    ")]
    assert 5 <= len(gaps) <= 10 and all("sentence(s)," in g for g in gaps)
    missing = subprocess.run([sys.executable, "sentences.py", "--db", "/nonexistent.db"], cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "needs the database" in missing.stderr and "Traceback" not in missing.stderr


def test_the_about_page_shows_each_documents_share(ds, con):
    html = asyncio.run(ds.client.get("/about")).text
    for row in con.execute("select * from documents"):
        share = round(row["quoted_share"] * 100)
        assert f"{row['quoted']} of its {row['sentences']} sentences quoted ({share}%)" in html
