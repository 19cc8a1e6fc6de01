"""Bad records: each gets one precise `file:line: path.field: message` error, and nothing is lost.

Every case starts from a small set of good records, changes one thing, and checks the exact
list of errors. Lines are found by looking the changed text up in the file, so the
expectation says *which* line is meant rather than a number that drifts when the
template changes.
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

import build_db
import schema
from conftest import ROOT

BASE = """\
sources:
  - id: src
    title: A source
    kind: news-article
    document: doc.txt
dispute_topics:
  - id: topic
    question: When did it happen?
groups:
  - id: grp
    name: A group
    kind: militant-group
    description: A group.
    claims:
      - source: src
        quote: A group exists.
        statement: The group exists.
        certainty: stated
people:
  - id: per
    name: A person
    description: A person.
"""

EVENT = """\
  - id: {id}
    title: An attack
    event_type: attack
    date_start: 2001-02-03
    date_end: 2001-02-03
    date_precision: day
    country: UZ
    latitude: 41.3
    longitude: 69.2
    geo_precision: near
    fatalities_low: 1
    fatalities_high: 3
    description: Something happened.
    groups:
      - group: grp
        role: perpetrator
        claims:
          - {{source: src, quote: They did it., statement: The group did it., certainty: stated}}
    claims:
      - source: src
        quote: Something happened.
        statement: Something happened.
        certainty: stated
"""


def events(old: str = "", new: str = "") -> str:
    """Two events; the second one (events[1]) has `old` replaced by `new`."""
    second = EVENT.format(id="ev-1")
    if old:
        assert old in second, old
        second = second.replace(old, new, 1)
    return "events:\n" + EVENT.format(id="ev-0") + second


def line(text: str, marker: str, after: str = "id: ev-1") -> int:
    """1-based line of the first `marker` at or after the line holding `after`."""
    lines = text.splitlines()
    start = next((i for i, s in enumerate(lines) if after in s), 0) if after else 0
    return next(i + 1 for i in range(start, len(lines)) if marker in lines[i])


# The document that src's claims quote, for the build's check of every quote.
DOCUMENT = "A group exists. They did it. Something happened. q\n"


def write_docs(folder: Path) -> Path:
    docs = folder / "docs"
    docs.mkdir(exist_ok=True)
    (docs / "doc.txt").write_text(DOCUMENT)
    return docs


def leftovers(folder: Path) -> list[str]:
    """Temporary files a build may leave behind (a cache of parsed files is not one)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.name.endswith((".tmp", "-journal", "-wal", "-shm")))


def build_errors(tmp_path: Path, monkeypatch, files: dict[str, str | bytes]) -> list[str]:
    """Build base.yml plus `files` from ./seeds (so labels read `seeds/x.yml`); return the errors."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "base.yml").write_text(BASE)
    for name, content in files.items():
        path = seeds / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "imu.db"
    with pytest.raises(build_db.BuildError) as exc:
        build_db.build(Path("seeds"), out, docs=write_docs(tmp_path))
    assert not out.exists()
    assert leftovers(tmp_path) == []
    return exc.value.errors


def test_the_good_records_build(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "base.yml").write_text(BASE)
    (seeds / "events.yml").write_text(events())
    counts = build_db.build(seeds, tmp_path / "imu.db", docs=write_docs(tmp_path))
    assert counts["events"] == 2 and counts["event_groups"] == 2 and counts["claims"] == 5


@pytest.mark.parametrize("old, new, column, value", [
    ("fatalities_high: 3", "fatalities_high: 012", "fatalities_high", 12),  # YAML 1.1: octal, 10
    ("fatalities_high: 3", "fatalities_high: 0o17", "fatalities_high", 15),  # YAML 1.2's octal
    ("country: UZ", "country: NO", "country", "NO"),  # YAML 1.1: false, and refused
    ("title: An attack", "title: On", "title", "On"),  # YAML 1.1: true
    ("title: An attack", "title: 1:20", "title", "1:20"),  # YAML 1.1: 80
    ("title: An attack", "title: 2001-02-03", "title", "2001-02-03"),
])
def test_seeds_are_read_as_yaml_1_2_core_schema(tmp_path, old, new, column, value):
    """A value means what it says: no octal, base 60 or yes/no/on/off surprises."""
    import sqlite3

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "base.yml").write_text(BASE)
    docs = write_docs(tmp_path)

    def built(**options):
        build_db.build(seeds, tmp_path / "imu.db", docs=docs, **options)
        with sqlite3.connect(tmp_path / "imu.db") as con:
            return con.execute(f"select {column} from events where id = 'ev-1'").fetchone()[0]

    (seeds / "events.yml").write_text(events(old, new))
    full = built(cache=False)
    (seeds / "events.yml").write_text(events())
    built()  # cached ...
    (seeds / "events.yml").write_text(events(old, new))
    incremental = built()  # ... then the one changed file swapped in
    assert full == incremental == value and type(full) is type(incremental) is type(value)


def test_what_seedparse_dump_writes_reads_back_exactly():
    """Text YAML 1.1 would write plain (0E0, 1e5) reads back as text under the core schema."""
    import seedparse

    values = ["0E0", "1e5", "yes", "NO", "012", "1:20", "true", "null", "", "~", ".inf", "0x1F", 12, 1.5, None, True]
    assert seedparse.read_seed(seedparse.dump({"v": values}).encode(), "x")[0] == {"v": values}


# Each case: (name, {file: content}, [expected error lines]). `E` is seeds/events.yml with
# events[1] changed; `at(marker)` is the line in it where the marker is.

def event_case(name, old, new, *messages, marker=None):
    """A case where events[1] has `old` replaced by `new`.

    In messages, {at} is the line holding `marker` (default: the first line of `new`),
    {item} the line where events[1] starts and {group} where its groups[0] starts.
    """
    text = events(old, new)
    item = [i + 1 for i, s in enumerate(text.splitlines()) if s.startswith("  - id:")][1]
    marker = marker or (new.strip().splitlines()[0] if new.strip() else None)
    at = line(text, marker, after="") if marker else item
    at = line(text, marker, after="id: ev-1") if marker and "id: ev-1" in text else at
    group = line(text, "- group:", after="id: ev-1") if "id: ev-1" in text else None
    expected = [m.replace("{at}", str(at)).replace("{item}", str(item)).replace("{group}", str(group))
                for m in messages]
    return pytest.param({"events.yml": text}, expected, id=name)


def file_case(name, files, *expected):
    return pytest.param(files, list(expected), id=name)


CASES = [
    # --- values
    event_case("invalid-date", "date_start: 2001-02-03", "date_start: 2001-13-45",
               "seeds/events.yml:{at}: events[1].date_start: '2001-13-45' is not a valid date "
               "(YYYY, YYYY-MM or YYYY-MM-DD)"),
    event_case("february-30", "date_end: 2001-02-03", "date_end: 2001-02-30",
               "seeds/events.yml:{at}: events[1].date_end: '2001-02-30' is not a valid date "
               "(YYYY, YYYY-MM or YYYY-MM-DD)"),
    event_case("date-with-time", "date_start: 2001-02-03", "date_start: 2001-02-03 10:00:00",
               "seeds/events.yml:{at}: events[1].date_start: '2001-02-03 10:00:00' is not a valid date "
               "(YYYY, YYYY-MM or YYYY-MM-DD)"),
    event_case("reversed-date-range", "date_end: 2001-02-03", "date_end: 2000-12",
               "seeds/events.yml:{at}: events[1].date_end: 2000-12-31 is before date_start 2001-02-03"),
    event_case("latitude-200", "latitude: 41.3", "latitude: 200",
               "seeds/events.yml:{at}: events[1].latitude: 200 is outside -90..90"),
    event_case("longitude-nan", "longitude: 69.2", "longitude: .nan",
               "seeds/events.yml:{at}: events[1].longitude: is not a number"),
    event_case("bool-for-number", "latitude: 41.3", "latitude: true",
               "seeds/events.yml:{at}: events[1].latitude: expected a number, got bool True"),
    # YAML 1.2's core schema (seedparse.py): YAML 1.1's yes/no, base 60 and 1_000 are text
    event_case("yes-is-text", "latitude: 41.3", "latitude: yes",
               "seeds/events.yml:{at}: events[1].latitude: expected a number, got str 'yes'"),
    event_case("base-60-is-text", "fatalities_high: 3", "fatalities_high: 1:20",
               "seeds/events.yml:{at}: events[1].fatalities_high: expected a whole number, got str '1:20'"),
    event_case("underscored-number-is-text", "fatalities_high: 3", "fatalities_high: 1_000",
               "seeds/events.yml:{at}: events[1].fatalities_high: expected a whole number, got str '1_000'"),
    event_case("yaml-1.1-int-tag-is-refused", "fatalities_high: 3", "fatalities_high: !!int 1:20",
               "seeds/events.yml:{at}: YAML syntax error: '1:20' is not a YAML 1.2 integer"),
    event_case("text-for-whole-number", "fatalities_low: 1", "fatalities_low: '1'",
               "seeds/events.yml:{at}: events[1].fatalities_low: expected a whole number, got str '1'"),
    event_case("fraction-for-whole-number", "fatalities_high: 3", "fatalities_high: 2.5",
               "seeds/events.yml:{at}: events[1].fatalities_high: expected a whole number, got float 2.5"),
    event_case("fatalities-low-above-high", "fatalities_low: 1", "fatalities_low: 30",
               "seeds/events.yml:{at}: events[1].fatalities_high: 3 is less than fatalities_low 30",
               marker="fatalities_high"),
    event_case("list-for-text", "title: An attack", "title: [An, attack]",
               "seeds/events.yml:{at}: events[1].title: expected text, got list ['An', 'attack']"),
    event_case("mapping-for-text", "title: An attack", "title: {an: attack}",
               "seeds/events.yml:{at}: events[1].title: expected text, got mapping {'an': 'attack'}"),
    event_case("huge-value", "description: Something happened.", "description: " + "x" * 100_000,
               "seeds/events.yml:{at}: events[1].description: is 100000 characters long, "
               "more than the 3000 allowed", marker="description:"),
    event_case("huge-id", "id: ev-1", "id: " + "-".join(["ev"] * 40),
               "seeds/events.yml:{at}: events[1].id: is 119 characters long, more than the 100 allowed",
               marker="id: ev-ev"),
    event_case("control-character", "title: An attack", 'title: "An\\0attack"',
               "seeds/events.yml:{at}: events[1].title: contains the control character U+0000 at position 2"),
    event_case("bad-country-code", "country: UZ", "country: ZZ",
               "seeds/events.yml:{at}: events[1].country: 'ZZ' is not an ISO 3166-1 alpha-2 country code"),
    event_case("lower-case-country-code", "country: UZ", "country: uz",
               "seeds/events.yml:{at}: events[1].country: 'uz' is not an ISO 3166-1 alpha-2 country code"),
    event_case("bad-enum-value", "event_type: attack", "event_type: picnic",
               "seeds/events.yml:{at}: events[1].event_type: 'picnic' is not one of: "
               + ", ".join(schema.EVENT_TYPES)),
    event_case("bad-certainty", "certainty: stated\n", "certainty: sure\n",
               "seeds/events.yml:{at}: events[1].claims[0].certainty: 'sure' is not one of: "
               + ", ".join(schema.CERTAINTIES)),
    event_case("id-not-a-slug", "id: ev-1", "id: Ev 1",
               "seeds/events.yml:{at}: events[1].id: 'Ev 1' is not a lower-case slug "
               "(letters, digits, single hyphens)", marker="id: Ev 1"),
    event_case("empty-quote", "quote: Something happened.", 'quote: ""',
               "seeds/events.yml:{at}: events[1].claims[0].quote: is empty"),
    event_case("blank-statement", "statement: Something happened.", "statement: '   '",
               "seeds/events.yml:{at}: events[1].claims[0].statement: is empty"),
    event_case("quote-too-long", "quote: Something happened.", "quote: " + "y" * 701,
               "seeds/events.yml:{at}: events[1].claims[0].quote: is 701 characters long, "
               "more than the 700 allowed", marker="quote: yyy"),
    # --- fields
    event_case("unknown-field", "title: An attack", "titel: An attack",
               "seeds/events.yml:{at}: events[1].titel: unknown field (allowed: "
               + ", ".join(sorted({f.name for f in schema.RECORDS["events"].fields}
                                  | set(schema.RECORDS["events"].children))) + ")",
               "seeds/events.yml:{item}: events[1].title: required field is missing: "
               + schema.RECORDS["events"].field("title").description),
    event_case("missing-required-field", "    event_type: attack\n", "",
               "seeds/events.yml:{item}: events[1].event_type: required field is missing: "
               + schema.RECORDS["events"].field("event_type").description),
    event_case("duplicate-mapping-key", "title: An attack\n", "title: An attack\n    title: A bombing\n",
               "seeds/events.yml:{at}: events[1].title: duplicate key (each key may appear once per "
               "mapping; PyYAML would keep only the last)", marker="title: A bombing"),
    event_case("coordinates-without-precision", "    geo_precision: near\n", "",
               "seeds/events.yml:{item}: events[1].geo_precision: required with coordinates"),
    event_case("latitude-without-longitude", "    longitude: 69.2\n", "",
               "seeds/events.yml:{item}: events[1]: latitude and longitude go together"),
    # --- references and ids
    event_case("dangling-reference", "group: grp", "group: nobody",
               "seeds/events.yml:{at}: events[1].groups[0].group: 'nobody' is not the id of any record in groups"),
    event_case("dangling-source", "- source: src\n        quote: Something", "- source: nowhere\n        quote: Something",
               "seeds/events.yml:{at}: events[1].claims[0].source: 'nowhere' is not the id of any record "
               "in sources", marker="source: nowhere"),
    event_case("fact-row-without-claim",
               "        claims:\n          - {source: src, quote: They did it., statement: The group did it., "
               "certainty: stated}\n", "        claims: []\n",
               "seeds/events.yml:{at}: events[1].groups[0].claims: an event group needs at least one claim "
               "quoting its source", marker="- group: grp"),
    event_case("event-without-claim",
               "    claims:\n      - source: src\n        quote: Something happened.\n"
               "        statement: Something happened.\n        certainty: stated\n", "",
               "seeds/events.yml:{item}: events[1].claims: an event needs at least one claim quoting its source"),
    event_case("null-claim", "      - source: src\n        quote: Something happened.\n"
               "        statement: Something happened.\n        certainty: stated\n", "      - ~  # no claim\n",
               "seeds/events.yml:{at}: events[1].claims[0]: expected a mapping of fields, got null None",
               "seeds/events.yml:{item}: events[1].claims: an event needs at least one claim quoting its source"),
    event_case("claims-not-a-list",
               "        claims:\n          - {source: src, quote: They did it., statement: The group did it., "
               "certainty: stated}\n", "        claims: {source: src}\n",
               "seeds/events.yml:{at}: events[1].groups[0].claims: expected a list",
               "seeds/events.yml:{group}: events[1].groups[0].claims: an event group needs at least one claim "
               "quoting its source", marker="claims: {source"),
    file_case("duplicate-id-same-file",
              {"more.yml": "sources:\n  - {id: twin, title: A, kind: analysis}\n"
                           "  - {id: twin, title: B, kind: analysis}\n"},
              "seeds/more.yml:3: sources[1].id: duplicate id 'twin' (first at seeds/more.yml:2: sources[0])"),
    file_case("duplicate-id-across-files",
              {"more.yml": "people:\n  - id: per\n    name: Another person\n    description: Another.\n"},
              f"seeds/more.yml:2: people[0].id: duplicate id 'per' (first at seeds/base.yml:{line(BASE, 'id: per', '')}"
              ": people[0])"),
    file_case("claim-ids-of-two-kinds-collide",
              {"more.yml": "people:\n  - id: grp\n    name: B\n    description: B.\n    claims:\n"
                           "      - {source: src, quote: q, statement: s, certainty: stated}\n"},
              "seeds/more.yml:6: people[0].claims[0].id: duplicate id 'grp--src' (first at seeds/base.yml:"
              f"{line(BASE, '- source: src', '')}: groups[0].claims[0]); two records of different kinds share "
              "an id and cite the same source: give one of the claims an explicit `id:`"),
    file_case("dangling-dispute",
              {"more.yml": "people:\n  - id: per-2\n    name: B\n    description: B.\n    claims:\n"
                           "      - {source: src, quote: q, statement: s, certainty: stated, dispute: nope}\n"},
              "seeds/more.yml:6: people[0].claims[0].dispute: 'nope' is not the id of any record in dispute_topics"),
    file_case("group-related-to-itself",
              {"more.yml": "group_relations:\n  - group: grp\n    relation: splinter-of\n    related_group: grp\n"
                           "    claims: [{source: src, quote: q, statement: s, certainty: stated}]\n"},
              "seeds/more.yml:4: group_relations[0].related_group: 'grp' is the group itself; a group "
              "relation links two different records"),
    file_case("membership-date-without-precision",
              {"more.yml": "memberships:\n  - person: per\n    group: grp\n    role: member\n    date_start: 1999\n"
                           "    claims: [{source: src, quote: q, statement: s, certainty: stated}]\n"},
              "seeds/more.yml:2: memberships[0].date_precision: required when a date is given"),
    # --- files
    file_case("malformed-yaml", {"events.yml": events("title: An attack", "title: An: attack")},
              f"seeds/events.yml:{line(events('title: An attack', 'title: An: attack'), 'title: An: attack')}: "
              "YAML syntax error: mapping values are not allowed in this context"),
    # --- text rules: a slug is the whole value, and nothing invisible hides in ids or text
    file_case("id-with-final-newline", {"x.yml": 'groups:\n  - id: "grp2\\n"\n    name: G\n    kind: faction\n'
                                                 '    description: D.\n'},
              "seeds/x.yml:2: groups[0].id: 'grp2\\n' is not a lower-case slug (letters, digits, single hyphens)"),
    file_case("id-as-block-scalar", {"x.yml": "groups:\n  - id: |\n      grp2\n    name: G\n    kind: faction\n"
                                              "    description: D.\n"},
              "seeds/x.yml:2: groups[0].id: 'grp2\\n' is not a lower-case slug (letters, digits, single hyphens)"),
    file_case("c1-control-in-name", {"x.yml": 'groups:\n  - id: grp2\n    name: "G\\x85"\n    kind: faction\n'
                                              '    description: D.\n'},
              "seeds/x.yml:3: groups[0].name: contains the control character U+0085 at position 1"),
    file_case("zero-width-space-in-alias", {"x.yml": 'groups:\n  - id: grp2\n    name: G\n    kind: faction\n'
                                                     '    description: D.\n    aliases:\n'
                                                     '      - {alias: "Ta\\u200bliban", kind: nickname}\n'},
              "seeds/x.yml:7: groups[0].aliases[0].alias: contains the invisible character U+200B (zero width space) "
              "at position 2"),
    file_case("bidi-override-in-title", {"x.yml": 'people:\n  - id: p2\n    name: "Tohir \\u202eveshdloY"\n'
                                                  '    description: D.\n'},
              "seeds/x.yml:3: people[0].name: contains the invisible character U+202E (right-to-left override) "
              "at position 6"),
    file_case("bom-inside-name", {"x.yml": 'people:\n  - id: p2\n    name: "A\\ufeffB"\n    description: D.\n'},
              "seeds/x.yml:3: people[0].name: contains the invisible character U+FEFF (zero width no-break space) "
              "at position 1"),
    file_case("unterminated-quote", {"x.yml": 'sources:\n  - id: a\n    title: "A\n'},
              "seeds/x.yml:4: YAML syntax error: while scanning a quoted scalar found unexpected end of stream"),
    file_case("tab-indent", {"x.yml": "sources:\n  - id: a\n\ttitle: A\n"},
              "seeds/x.yml:3: YAML syntax error: while scanning a plain scalar found a tab character that "
              "violates indentation (a tab: indent with spaces)"),
    file_case("empty-file", {"empty.yml": ""},
              "seeds/empty.yml:1: file is empty; expected a mapping such as 'events: [...]'"),
    file_case("only-comments", {"empty.yml": "# nothing yet\n"},
              "seeds/empty.yml:1: file is empty; expected a mapping such as 'events: [...]'"),
    file_case("not-utf-8", {"x.yml": b"sources:\n  - id: a\n    title: caf\xe9\n    kind: analysis\n"},
              "seeds/x.yml:3: file is not UTF-8 (byte 0xe9 at offset 33)"),
    file_case("top-level-list", {"x.yml": "- id: a\n- id: b\n"},
              "seeds/x.yml:1: expected a mapping of record lists such as 'events:', "
              "got list [{'id': 'a'}, {'id': 'b'}]"),
    file_case("unknown-record-type", {"x.yml": "evnts: []\n"},
              f"seeds/x.yml:1: evnts: unknown record type (allowed: {', '.join(schema.TOP_LEVEL)})"),
    file_case("nested-type-at-top-level", {"x.yml": "claims: []\n"},
              f"seeds/x.yml:1: claims: unknown record type (allowed: {', '.join(schema.TOP_LEVEL)})"),
    file_case("record-list-not-a-list", {"x.yml": "sources:\n  id: a\n"},
              "seeds/x.yml:1: sources: expected a list of records"),
    file_case("record-not-a-mapping", {"x.yml": "sources:\n  - a source\n"},
              "seeds/x.yml:2: sources[0]: expected a mapping of fields, got str 'a source'"),
    file_case("duplicate-record-type-key", {"x.yml": "sources: []\nsources: []\n"},
              "seeds/x.yml:2: sources: duplicate key (each key may appear once per mapping; "
              "PyYAML would keep only the last)"),
    file_case("python-tag", {"x.yml": "sources:\n  - id: a\n    title: !!python/object/apply:os.system [ls]\n"},
              "seeds/x.yml:3: YAML syntax error: could not determine a constructor for the tag "
              "'tag:yaml.org,2002:python/object/apply:os.system'"),
    file_case("binary-for-text",
              {"x.yml": "sources:\n  - id: a\n    title: !!binary aGVsbG8=\n    kind: analysis\n"},
              "seeds/x.yml:3: sources[0].title: expected text, got bytes b'hello'"),
    file_case("too-deep", {"x.yml": "sources: " + "[" * 30_000 + "]" * 30_000 + "\n"},
              "seeds/x.yml:1: YAML nesting is deeper than 1000 levels"),
]


@pytest.mark.parametrize("files, expected", CASES)
def test_bad_input_gets_a_precise_error(tmp_path, monkeypatch, files, expected):
    assert build_errors(tmp_path, monkeypatch, files) == expected


def test_billion_laughs_fails_fast_with_short_messages(tmp_path, monkeypatch):
    """Nine levels of aliases stand for 9**9 items; the error must not try to print them."""
    text = "sources:\n  - &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"  - &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))
    errors = build_errors(tmp_path, monkeypatch, {"x.yml": text})
    assert len(errors) == 9
    for i, error in enumerate(errors):
        assert error.startswith(f"seeds/x.yml:{i + 2}: sources[{i}]: expected a mapping of fields, got list [")
        assert len(error) < 300


def test_all_errors_of_a_run_are_reported_together(tmp_path, monkeypatch):
    bad_events = events("date_start: 2001-02-03", "date_start: 2001-13-45")
    files = {
        "events.yml": bad_events,
        "more.yml": "sources:\n  - {id: src, title: Again, kind: analysis}\n  - {id: s2, title: T, kind: zine}\n",
        "broken.yml": "groups:\n  - id: g\n\tname: G\n",
        "empty.yml": "",
    }
    errors = build_errors(tmp_path, monkeypatch, files)
    assert sorted(errors) == sorted([
        "seeds/broken.yml:3: YAML syntax error: while scanning a plain scalar found a tab character that "
        "violates indentation (a tab: indent with spaces)",
        "seeds/empty.yml:1: file is empty; expected a mapping such as 'events: [...]'",
        f"seeds/events.yml:{line(bad_events, '2001-13-45')}: events[1].date_start: '2001-13-45' is not a "
        "valid date (YYYY, YYYY-MM or YYYY-MM-DD)",
        "seeds/more.yml:3: sources[1].kind: 'zine' is not one of: " + ", ".join(schema.SOURCE_KINDS),
        "seeds/more.yml:2: sources[0].id: duplicate id 'src' (first at seeds/base.yml:2: sources[0])",
    ])


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("name, content, expected", [
    ("events.yml", events("date_start: 2001-02-03", "date_start: 2001-13-45"),
     "events[1].date_start: '2001-13-45' is not a valid date"),
    ("x.yml", b"sources:\n  - id: \xff\n", "seeds/x.yml:2: file is not UTF-8 (byte 0xff at offset 17)"),
    ("x.yml", "sources:\n  - id: a\n    id: b\n", "seeds/x.yml:3: sources[0].id: duplicate key"),
    ("x.yml", "sources: " + "[" * 30_000 + "]" * 30_000 + "\n", "seeds/x.yml:1: YAML nesting is deeper"),
    ("events.yml", events("group: grp", "group: nobody"), "'nobody' is not the id of any record in groups"),
])
def test_command_line_fails_cleanly_and_keeps_the_old_database(tmp_path, name, content, expected):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "base.yml").write_text(BASE)
    write_docs(tmp_path)
    out = tmp_path / "imu.db"
    ok = subprocess.run([sys.executable, str(ROOT / "build_db.py"), "--seeds", "seeds", "--out", "imu.db",
                         "--docs", "docs"],
                        cwd=tmp_path, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    before = sha256(out)

    path = seeds / name
    path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    fail = subprocess.run([sys.executable, str(ROOT / "build_db.py"), "--seeds", "seeds", "--out", "imu.db",
                           "--docs", "docs"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert fail.returncode == 1
    assert "Traceback" not in fail.stderr
    assert expected in fail.stderr
    assert fail.stderr.splitlines()[-1].endswith("error(s); imu.db was not changed")
    assert fail.stdout == ""
    assert sha256(out) == before
    assert leftovers(tmp_path) == []


def test_a_rebuild_that_breaks_a_reference_in_an_unchanged_file_fails(tmp_path, monkeypatch):
    """The build may reuse what it knows of unchanged files; a change elsewhere that
    leaves one of them pointing nowhere must still fail, and keep the old database."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "base.yml").write_text(BASE)
    (seeds / "events.yml").write_text(events())
    monkeypatch.chdir(tmp_path)
    out = Path("imu.db")
    docs = write_docs(tmp_path)
    build_db.build(Path("seeds"), out, docs=docs)
    before = sha256(out)
    (seeds / "base.yml").write_text(BASE.replace("id: grp", "id: grp-renamed"))
    with pytest.raises(build_db.BuildError) as exc:
        build_db.build(Path("seeds"), out, docs=docs)
    text = events()
    assert exc.value.errors == [
        f"seeds/events.yml:{line(text, '- group: grp', after='id: ev-0')}: events[0].groups[0].group: "
        "'grp' is not the id of any record in groups",
        f"seeds/events.yml:{line(text, '- group: grp')}: events[1].groups[0].group: "
        "'grp' is not the id of any record in groups",
    ]
    assert sha256(out) == before
    assert leftovers(tmp_path) == []


def fanned_out(n: int) -> str:
    """Events x participants x claims, each level an alias of the one below."""
    claims = ", ".join(["*cl"] * n)
    participants = ", ".join(["{group: grp, role: perpetrator, claims: *cs}"] * n)
    event = ("{id: e, title: t, event_type: attack, date_start: 2001, date_end: 2001, "
             "date_precision: year, description: d, groups: *egs, claims: *cs}")
    return ("x: &cl {source: src, quote: q, statement: st, certainty: stated}\n"
            f"y: &cs [{claims}]\nz: &egs [{participants}]\nevents: [{', '.join([event] * n)}]\n")


def merge_chain(n: int) -> str:
    """Each mapping merges the one before twice: 2**n keys from a few lines."""
    return "\n".join(["x0: &m0 {a: 1, b: 2}"] + [f"x{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}]}}"
                                                  for i in range(1, n)]) + "\n"


@pytest.mark.parametrize("name, text, expected", [
    ("merge keys doubling", merge_chain(40),
     "seeds/x.yml:16: merge keys (<<) copy more than 100,000 keys in this file"),
    ("aliases fanned out through nested records", fanned_out(60),
     "seeds/x.yml:1: events[5].groups[23].claims[57]: aliases repeat records more than 20,000 times in this file"),
    ("a record containing itself", "groups:\n  - &g {id: g2, name: G, kind: faction, description: D., claims: [*g]}\n",
     "seeds/x.yml:2: groups[0].claims[0]: an alias makes this record contain itself"),
])
def test_aliases_cannot_make_a_small_file_expensive(tmp_path, monkeypatch, name, text, expected):
    """A few hundred bytes of aliases are refused at once, with the line where they blow up
    (exponential or sixth-power before: 37 s and more)."""
    errors = build_errors(tmp_path, monkeypatch, {"x.yml": text})
    assert expected in errors


def test_thousands_of_identical_claims_get_ids_in_linear_time(tmp_path):
    import sqlite3

    claim = "      - {source: src, quote: They did it., statement: The group did it., certainty: stated}"
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "base.yml").write_text(BASE)
    (seeds / "people.yml").write_text("people:\n  - id: per2\n    name: B\n    description: B.\n    claims:\n"
                                      + "\n".join([claim] * 6000) + "\n")
    counts = build_db.build(seeds, tmp_path / "imu.db", docs=write_docs(tmp_path))
    assert counts["claims"] == 6001
    ids = {r[0] for r in sqlite3.connect(tmp_path / "imu.db").execute(
        "select id from claims where person_id = 'per2'")}
    assert ids == {"per2--src"} | {f"per2--src-{n}" for n in range(2, 6001)}
