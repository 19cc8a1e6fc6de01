"""How much of each document the claims quote, and that every other sentence is listed as
left out on purpose (sentences.py, passages_left_out, `make coverage`, the documents table
and the about page)."""
from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import build_db
import quotes
import sentences
from conftest import ROOT
from test_build_inputs import small_seeds


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
    found[0].listed = found[1].listed = ("a-passage",)
    assert [s.accounted for s in found] == ["quoted", "left out", "unaccounted"]


def test_the_documents_table_counts_what_the_claims_quote(con):
    docs = quotes.Documents.at(quotes.DOCS)
    accounted = sentences.account(con, docs)
    stored = con.execute("select * from documents order by rowid").fetchall()
    assert [tuple(r) for r in stored] == sentences.rows(accounted)
    with_document = {r[0] for r in con.execute("select document from sources where document is not null")}
    assert {r["id"] for r in stored} == with_document and len(stored) == 5
    for row in stored:
        assert row["sentences"] == row["quoted"] + row["partly_quoted"] + row["not_quoted"] > 20
        assert row["sentences"] == row["quoted"] + row["left_out"] + row["unaccounted"]
        assert 0 < row["quoted_share"] < 1 and 0 < row["left_out_share"] < 1
    # the sentence that holds a claim's one-part quote counts as quoted
    quote, document = con.execute(
        "select c.quote, s.document from claims c join sources s on s.id = c.source_id "
        "where s.document is not null and c.quote not like '%...%' order by length(c.quote) desc limit 1").fetchone()
    text = docs.text(document)
    at = text.index(quotes.normalise(quote))
    holder = next(s for s in accounted[document][1] if s.start <= at < s.end)
    assert holder.state == "quoted"


def test_every_sentence_of_the_five_documents_is_quoted_or_left_out_on_purpose(con):
    rows = con.execute("select id, unaccounted, left_out from documents").fetchall()
    assert len(rows) == 5 and all(r["unaccounted"] == 0 and r["left_out"] > 0 for r in rows), \
        [tuple(r) for r in rows]
    reasons = {r[0] for r in con.execute("select distinct reason from passages_left_out")}
    assert {"heading", "analysis", "background"} <= reasons


def test_make_coverage_prints_each_document_and_what_is_unaccounted(db_path):
    dry = subprocess.run(["make", "-n", "coverage"], cwd=ROOT, capture_output=True, text=True).stdout
    assert "sentences.py --db imu.db" in dry
    run = subprocess.run([sys.executable, "sentences.py", "--db", str(db_path), "--longest", "2"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    heads = [line for line in lines[:-1] if not line.startswith(" ")]
    assert len(heads) == 5 and all("sentences;" in h and "left out on purpose (" in h and h.endswith(
        "0 unaccounted") for h in heads), heads
    assert lines[-1].startswith("0 sentence(s) unaccounted in 5 document(s)")
    missing = subprocess.run([sys.executable, "sentences.py", "--db", "/nonexistent.db"], cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "needs the database" in missing.stderr and "Traceback" not in missing.stderr


def test_the_about_page_shows_each_documents_share(ds, con):
    html = asyncio.run(ds.client.get("/about")).text
    for row in con.execute("select * from documents"):
        share, left_share = round(row["quoted_share"] * 100), round(row["left_out_share"] * 100)
        assert (f"{row['quoted']} of its {row['sentences']} sentences quoted ({share}%), {row['left_out']} left "
                f"out on purpose ({left_share}%), 0 unaccounted") in html
    assert 'href="/imu/passages_left_out"' in html


LEFT_OUT = """\
passages_left_out:
  - source: src
    passage: Read more
    reason: heading
    note: the document's last line
"""


def left_out_build(tmp_path: Path, text: str) -> Path:
    seeds = small_seeds(tmp_path)
    (seeds / "left-out.yml").write_text(text)
    with open(tmp_path / "docs" / "doc.txt", "a") as doc:
        doc.write("Read more\n")
    return seeds


def test_a_passage_left_out_accounts_for_its_sentence(tmp_path):
    seeds = left_out_build(tmp_path, LEFT_OUT)
    build_db.build(seeds, tmp_path / "imu.db", docs=tmp_path / "docs")
    conn = sqlite3.connect(tmp_path / "imu.db")
    assert conn.execute("select id, source_id, reason, passage_offset from passages_left_out").fetchall() == [
        ("src--read-more", "src", "heading", len("A group exists. They did it. Something happened. q "))]
    assert conn.execute("select sentences, quoted, left_out, unaccounted from documents").fetchall() == [(4, 3, 1, 0)]


@pytest.mark.parametrize("passage, reason, message", [
    ("They did it.", "heading", "passage: covers 'They did it.', a sentence claims quote (at least half of it); "
                                "a sentence is quoted or left out, not both"),
    ("qq", "heading", "passage: not found in doc.txt: 'qq'"),
    ("Read more", "boring", "reason: 'boring' is not one of: heading, forecast, analysis, other-subject, repeated, "
                    "background"),
])
def test_a_passage_left_out_is_verbatim_and_not_also_quoted(tmp_path, passage, reason, message):
    seeds = left_out_build(tmp_path, LEFT_OUT)
    out = tmp_path / "imu.db"
    build_db.build(seeds, out, docs=tmp_path / "docs")  # good, then edited: the incremental path
    before = out.read_bytes()
    (seeds / "left-out.yml").write_text(LEFT_OUT.replace("passage: Read more", f"passage: {passage}")
                                        .replace("reason: heading", f"reason: {reason}"))
    for cache in (True, False):
        with pytest.raises(build_db.BuildError) as exc:
            build_db.build(seeds, out, cache=cache, docs=tmp_path / "docs")
        assert len(exc.value.errors) == 1 and exc.value.errors[0].startswith(
            f"{seeds}/left-out.yml:{2 if 'reason' not in message else 4}: passages_left_out[0].{message}"), \
            exc.value.errors
        assert out.read_bytes() == before


# The gaps and disagreements issue 25 named, each now a record's claim or a dispute: they
# must stay so (a phrase of the document, and the topic its sides are recorded under).
NAMED_FACTS = ["an alleged helicopter attack coordinated by Pakistan", "banning religious dress, closing mosques",
               "security clampdown on its portion of the Fergana Valley",
               "ethnic tensions between Central Asian Turkic militants", "just in northern Afghanistan in October",
               "Podmoskov'ye zakhvachen organizator", "oni dvinutsya v Tadzhikistan i Uzbekistan"]
NAMED_DISPUTES = {
    "imu-leadership-after-2001": "lacking any commanding leadership",
    "imu-original-aim": "expanded its original goal",
    "mullah-omar-death-account": "accused the Taliban of lying",
    "zabul-2015-imu-target": "the main headquarters of the IMU",
    "imu-violence-2003-2013": "did not appear to be capable",
}


@pytest.mark.parametrize("phrase", NAMED_FACTS)
def test_a_fact_the_documents_state_is_a_record(con, phrase):
    rows = con.execute("select subject_type, subject_id from claims where quote like ?", [f"%{phrase}%"]).fetchall()
    assert rows, phrase
    assert not con.execute("select 1 from passages_left_out where passage like ?", [f"%{phrase}%"]).fetchone()


@pytest.mark.parametrize("topic, phrase", NAMED_DISPUTES.items())
def test_a_disagreement_the_documents_hold_is_a_dispute_with_both_sides(con, topic, phrase):
    sides = con.execute("select quote, position, source_id from claims where dispute_id = ?", [topic]).fetchall()
    assert len({s["position"] for s in sides}) >= 2 and all(s["position"] for s in sides), topic
    assert any(phrase in s["quote"] for s in sides), (topic, phrase)
