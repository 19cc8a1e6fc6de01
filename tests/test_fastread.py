"""The fast reader (seedparse.read_fast, fastyaml-rs) reads a seed exactly as the line-tracking
reader (SeedLoader) does, or hands the file back to it; errors name lines either way."""
from __future__ import annotations

import math
import re
import sqlite3
import sys

import pytest

import build_db
import seedparse
from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import generate  # noqa: E402


def same(a, b) -> bool:
    """Equal, and of the same types all the way down (1 == 1.0 == True in Python)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def slow(text: str):
    doc, errors, _, colons = seedparse.read_seed(text.encode(), "x")
    assert colons is None and not errors, errors
    return doc


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus") / "seeds"
    generate.generate(1000, out, per_file=100)
    return out


def test_every_seed_and_generated_file_reads_alike(corpus):
    """Both readers give the same document for every file the fast one reads; the generated
    events files (the bulk of a large corpus) are all read by it."""
    fast = []
    for path in sorted(ROOT.glob("seeds/*.yml")) + sorted(corpus.glob("*.yml")):
        text = path.read_text()
        read = seedparse.read_fast(text)
        if read is not None:
            fast.append(path.name)
            assert same(read[0], slow(text)), path
    events = sorted(p.name for p in corpus.glob("events-*.yml"))
    assert len(events) == 10 and set(events) <= set(fast), fast


# Every form of scalar the core schema tells apart, written plain, quoted and as blocks.
SCALARS = """\
v: [012, 0o17, 0x1F, -0, +12, 1_000, 123456789012345678901234567890, 1:20, 0b101]
f: [1.5, 1e5, 1E5, 1., .5, -.5, .inf, -.inf, .NaN, 0E0, 1.5e-3]
b: [true, True, TRUE, false, yes, no, on, off, NO, Yes, y, n]
z: [null, Null, NULL, ~, nothing]
d: [2001-09-11, 2001-12-14t21:59:43.10-05:00, 2001-13-45, 1999-02]
s:
  - 'single ''quoted'' text'
  - "double \\"quoted\\" \\u00e9 \\x41 \\t tab"
  - plain text with # no comment
  - plain text # with a comment
  - text that goes on
    across lines
  - "a quoted line
    that folds"
  - Ўзбекистон Исломий Ҳаракати
lit: |
  keep
   this
lit_strip: |-
  kept

lit_keep: |+
  kept

folded: >
  one
  two

  three
empty_list: []
empty:
last: end
"""


def test_every_scalar_form_reads_alike():
    read = seedparse.read_fast(SCALARS)
    assert read is not None
    assert same(read[0], slow(SCALARS))
    assert read[0]["v"][:5] == [12, 15, 31, 0, 12] and read[0]["v"][5] == "1_000" and read[0]["v"][7] == "1:20"
    assert read[0]["b"][4:] == ["yes", "no", "on", "off", "NO", "Yes", "y", "n"]


@pytest.mark.parametrize("name, text", [
    ("flow mapping", "a: {b: 1}\n"),
    ("merge key", "a: &x\n  b: 1\nc:\n  <<: *x\n"),
    ("complex key", "? a\n: b\n"),
    ("complex key in a flow list", "a: [? b : c]\n"),
    ("tag", "a: !!str 12\n"),
    ("local tag", "a: !thing 12\n"),
    ("second document", "a: 1\n---\na: 2\n"),
    ("document start", "---\na: 1\n"),
    ("document end", "a: 1\n...\n"),
    ("directive", "%YAML 1.2\n---\na: 1\n"),
    ("CRLF line ends", "a: 1\r\nb:\r\n"),
    ("next line (U+0085)", "a: one\x85b: two\n"),
    ("line separator (U+2028)", "a: one\u2028b: two\n"),
    ("byte order mark", "\ufeffa: 1\n"),
    ("tab", "a:\tone\n"),
    ("control character", "a: one\x07\n"),
    ("quoted key with its value adjacent", "a: 1\n\"b\":2\n"),
])
def test_what_the_fast_reader_hands_back(name, text):
    """Files it might read otherwise than SeedLoader (or could not count keys in) go to SeedLoader."""
    assert seedparse.read_fast(text) is None, name


def test_a_key_given_twice_is_found_at_its_line(corpus, tmp_path):
    """fastyaml-rs keeps the last of two equal keys silently: the key colons outnumber the
    keys read, and SeedLoader reads the file again and names the line."""
    text = (corpus / "events-0001.yml").read_text()
    first = text.index("\n    title: ")
    end = text.index("\n", first + 1)
    twice = text[:end] + text[first:end] + text[end:]
    line = twice[:end].count("\n") + 2
    assert seedparse.read_fast(twice) is not None  # the fast reader reads it, and loses one title
    errors = build_db.check_file(twice.encode(), "events-0001.yml").errors
    assert errors == [f"events-0001.yml:{line}: events[0].title: duplicate key (each key may appear once "
                      "per mapping; PyYAML would keep only the last)"]


def test_errors_found_across_files_name_lines(corpus, tmp_path, monkeypatch):
    """A reference to no record and a quote not in its document, in a file the fast reader
    read (and in files it read and cached): the errors name the same lines as SeedLoader's."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for path in corpus.glob("*.yml"):
        (seeds / path.name).write_text(path.read_text())
    docs = generate.docs_folder(corpus)
    build_db.build(seeds, tmp_path / "imu.db", docs=docs)  # fills the cache with parts read fast
    events = seeds / "events-0002.yml"
    text = events.read_text()
    group = re.search(r"\n      - group: (\S+)", text)
    quote = re.search(r"\n        quote: (\S+) ", text)
    text = text.replace(group.group(0), "\n      - group: no-such-group", 1)
    text = text[:quote.start(1)] + "Unquoted" + text[quote.end(1):]
    events.write_text(text)
    assert seedparse.read_fast(text) is not None

    def errors(**options):
        with pytest.raises(build_db.BuildError) as failed:
            build_db.build(seeds, tmp_path / "imu.db", docs=docs, **options)
        return failed.value.errors

    fast = errors()
    group_line = text[:text.index("no-such-group")].count("\n") + 1
    assert any(e.startswith(f"{events}:{group_line}: ") and "no-such-group" in e for e in fast), fast
    assert any("'Unquoted' where the document has" in e for e in fast), fast
    monkeypatch.setattr(seedparse, "fast_yaml", None)
    assert fast == errors(cache=False)


def test_both_readers_build_the_same_database(corpus, tmp_path, monkeypatch):
    docs = generate.docs_folder(corpus)
    build_db.build(corpus, tmp_path / "fast.db", jobs=1, cache=False, docs=docs)
    monkeypatch.setattr(seedparse, "fast_yaml", None)
    build_db.build(corpus, tmp_path / "slow.db", jobs=1, cache=False, docs=docs)
    dumps = ["\n".join(sqlite3.connect(tmp_path / f"{name}.db").iterdump()) for name in ("fast", "slow")]
    assert dumps[0] == dumps[1]
