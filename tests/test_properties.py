"""Property tests: generated good records always build; one bad field always fails cleanly.

Records are generated as plain Python data, written as YAML with seedparse.dump (one
file per record type, so references cross files), then built. A bad variant changes a
single field of a single record; the build must raise BuildError with an error that
names the file, the line where PyYAML's own composer puts that field, and the field path.
"""
from __future__ import annotations

import datetime as dt
import re
import sqlite3
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

import build_db
import seedparse
import schema
import spans

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

slugs = st.from_regex(r"\A[a-z0-9]{1,6}(-[a-z0-9]{1,4}){0,2}\Z")
# Any text of every script, quotes, markup, YAML punctuation; not controls (Cc), invisible
# format characters (Cf) or lone surrogates (Cs), which the build refuses.
text = st.text(st.characters(blacklist_categories=("Cc", "Cf", "Cs")), min_size=1, max_size=40).filter(str.strip)
certainties = st.sampled_from(schema.CERTAINTIES)
# A formation or a death places its group or person in time (spans.py), which random dates
# would contradict; test_spans checks those.
EVENT_TYPES = [t for t in schema.EVENT_TYPES if t not in ("formation", "death")]


def claims(source_ids, dispute_ids, min_size=1):
    claim = st.fixed_dictionaries(
        {"source": st.sampled_from(source_ids), "quote": text, "statement": text, "certainty": certainties},
        optional={"cited_source": st.sampled_from(source_ids), "position": text,
                  "dispute": st.sampled_from(dispute_ids) if dispute_ids else st.nothing()},
    )
    return st.lists(claim, min_size=min_size, max_size=2)


@st.composite
def date_range(draw, required=True):
    """date_start/date_end at any precision, with start <= end once widened."""
    if not required and draw(st.booleans()):
        return {}
    a, b = sorted(draw(st.lists(st.dates(dt.date(1900, 1, 1), dt.date(2030, 12, 31)), min_size=2, max_size=2)))

    def shown(d):
        return draw(st.sampled_from([d.isoformat(), d.isoformat()[:7], str(d.year)]))

    out = {"date_start": shown(a), "date_end": shown(b)}
    if not required and draw(st.booleans()):
        del out[draw(st.sampled_from(["date_start", "date_end"]))]
    # An event's precision may be any; a span's must say what its bounds, as written, say.
    out["date_precision"] = draw(st.sampled_from(schema.DATE_PRECISIONS if required else [
        p for p in schema.DATE_PRECISIONS
        if spans.precision_problem(p, out.get("date_start"), out.get("date_end")) is None]))
    if draw(st.booleans()):
        out["date_text"] = draw(text)
    return out


@st.composite
def datasets(draw):
    """A complete, valid set of records of every type, keyed by top-level record type."""
    source_ids = draw(st.lists(slugs, min_size=1, max_size=3, unique=True))
    sources = [{"id": i, "title": draw(text), "kind": draw(st.sampled_from(schema.SOURCE_KINDS)),
                **draw(st.fixed_dictionaries({}, optional={"author": text, "url": text, "published": st.just("2001-02"),
                                                           "published_precision": st.just("month")}))}
               for i in source_ids]
    dispute_ids = draw(st.lists(slugs, max_size=2, unique=True))
    topics = [{"id": i, "question": draw(text)} for i in dispute_ids]

    def named(ids, **extra):
        return [{"id": i, "name": draw(text), **{k: draw(v) for k, v in extra.items()},
                 "description": draw(text),
                 "aliases": draw(st.lists(st.fixed_dictionaries(
                     {"alias": text, "kind": st.sampled_from(schema.ALIAS_KINDS)},
                     optional={"source": st.sampled_from(source_ids)}), max_size=2)),
                 "claims": draw(claims(source_ids, dispute_ids, min_size=0))} for i in ids]

    # Groups, people and events do not share ids: claims without an `id:` are named
    # after what holds them, so a shared id would give two claims one name
    # (test_validation checks that this is a clear error).
    subject_ids = draw(st.lists(slugs, min_size=3, max_size=9, unique=True))
    n_groups = draw(st.integers(1, len(subject_ids) - 2))
    n_people = draw(st.integers(1, min(3, len(subject_ids) - n_groups - 1)))
    group_ids, person_ids = subject_ids[:n_groups], subject_ids[n_groups:][:n_people]
    event_ids = subject_ids[n_groups + len(person_ids):][:3]
    groups = named(group_ids, kind=st.sampled_from(schema.GROUP_KINDS))
    people = named(person_ids)

    def participants(key, ids, roles):
        chosen = draw(st.lists(st.tuples(st.sampled_from(ids), st.sampled_from(roles)), max_size=2, unique=True))
        return [{key: i, "role": r, "claims": draw(claims(source_ids, dispute_ids))} for i, r in chosen]

    events = []
    for i in event_ids:
        event = {"id": i, "title": draw(text), "event_type": draw(st.sampled_from(EVENT_TYPES)),
                 **draw(date_range()), "description": draw(text)}
        if draw(st.booleans()):
            event.update(latitude=draw(st.floats(-90, 90)), longitude=draw(st.floats(-180, 180)),
                         geo_precision=draw(st.sampled_from(schema.GEO_PRECISIONS)),
                         country=draw(st.sampled_from(["UZ", "AF", "PK", "TJ", "KG"])))
        if draw(st.booleans()):
            low, high = sorted(draw(st.lists(st.integers(0, 10_000), min_size=2, max_size=2)))
            event.update(fatalities_low=low, fatalities_high=high)
        event["groups"] = participants("group", group_ids, schema.EVENT_ROLES)
        event["people"] = participants("person", person_ids, schema.EVENT_ROLES)
        event["claims"] = draw(claims(source_ids, dispute_ids))
        events.append(event)

    memberships = [{"person": p, "group": g, "role": r, **draw(date_range(required=False)),
                    "claims": draw(claims(source_ids, dispute_ids))}
                   for p, g, r in draw(st.lists(st.tuples(st.sampled_from(person_ids), st.sampled_from(group_ids),
                                                          st.sampled_from(schema.MEMBERSHIP_ROLES)),
                                                max_size=2, unique=True))]
    relations = [{"group": a, "relation": r, "related_group": b, **draw(date_range(required=False)),
                  "claims": draw(claims(source_ids, dispute_ids))}
                 for a, r, b in draw(st.lists(st.tuples(st.sampled_from(group_ids), st.sampled_from(schema.RELATIONS),
                                                        st.sampled_from(group_ids)).filter(lambda t: t[0] != t[2]),
                                              max_size=2, unique=True))]  # a group is never related to itself
    return {"sources": sources, "dispute_topics": topics, "groups": groups, "people": people,
            "events": events, "memberships": memberships, "group_relations": relations}


def write(seeds: Path, data: dict) -> dict[str, str]:
    """One file per record type (references cross files); returns file name -> YAML text."""
    seeds.mkdir()
    texts = {}
    for rec_type, records in data.items():
        name = f"{rec_type}.yml"
        texts[name] = seedparse.dump({rec_type: records}, sort_keys=False, width=10_000)
        (seeds / name).write_text(texts[name], encoding="utf-8")
    return texts


def records(data: dict):
    """Every record with its file, its path as errors name it, its type and the dict itself."""
    def walk(rec_type, item, where, name):
        yield name, where, rec_type, item
        for key, child_type in schema.RECORDS[rec_type].children.items():
            for i, child in enumerate(item.get(key) or []):
                yield from walk(child_type, child, f"{where}.{key}[{i}]", name)

    for rec_type, items in data.items():
        for i, item in enumerate(items):
            yield from walk(rec_type, item, f"{rec_type}[{i}]", f"{rec_type}.yml")


@given(datasets())
@SETTINGS
def test_valid_records_always_build(data):
    with tempfile.TemporaryDirectory() as tmp:
        write(Path(tmp) / "seeds", data)
        out = Path(tmp) / "imu.db"
        counts = build_db.build(Path(tmp) / "seeds", out, docs=None)  # generated quotes have no documents
        con = sqlite3.connect(out)
        expected = {}
        for _, _, rec_type, _ in records(data):
            table = schema.RECORDS[rec_type].table
            expected[table] = expected.get(table, 0) + 1
        for table in build_db.TABLE_ORDER:
            assert counts[table] == expected.get(table, 0), table
            assert con.execute(f"select count(*) from [{table}]").fetchone()[0] == expected.get(table, 0)
        # text is stored exactly as written, whatever its characters
        titles = dict(con.execute("select id, title from events"))
        assert titles == {e["id"]: e["title"] for e in data["events"]}
        quotes = sorted(r[0] for r in con.execute("select quote from claims"))
        assert quotes == sorted(r["quote"] for _, _, t, r in records(data) if t == "claims")
        assert con.execute("pragma foreign_key_check").fetchall() == []


# One bad value per kind of field; each must be refused with that field named.
def bad_values(f: schema.Field, item: dict):
    if f.type in ("text", "slug", "ref", "country"):
        yield from [12, True, ["a list"], {"a": "mapping"}, "", "   ", "a\x00b", "x" * (f.max_len + 1)]
    if f.type in ("slug", "ref"):
        yield from ["Not A Slug", "double--hyphen", "-leading"]
    if f.type == "ref":
        yield "no-such-record-zz"
    if f.type == "country":
        yield from ["ZZ", "uz", "UZB"]
    if f.choices:
        yield "not-a-choice"
    if f.type == "date":
        yield from ["2001-13-45", "2001-02-30", "01-02-2001", "", 20011, [2001], True]
        if f.name == "date_end" and item.get("date_start"):
            yield "1899"  # before any generated start
    if f.type in ("integer", "real"):
        yield from ["12", True, [1], (f.max or 0) + 1, (f.min or 0) - 1]
        if f.type == "integer":
            yield 2.5


def mutations(data):
    """(file, record path, field, record, new value or a marker) for every possible single change."""
    for name, where, rec_type, item in records(data):
        spec = schema.RECORDS[rec_type]
        yield name, where, "bogus_field", item, "add"
        for f in spec.fields:
            if f.required and f.name in item:
                yield name, where, f.name, item, "drop"
            for value in bad_values(f, item):
                yield name, where, f.name, item, value


def key_line(text: str, where: str, field: str) -> int:
    """The line of `field` in the record at `where`, found with PyYAML's own composer."""
    node = yaml.compose(text)
    for part in where.split("."):
        key, index = re.fullmatch(r"(\w+)\[(\d+)\]", part).groups()
        node = next(v for k, v in node.value if k.value == key).value[int(index)]
    for k, _ in node.value:
        if k.value == field:
            return k.start_mark.line + 1
    return node.start_mark.line + 1


@given(datasets(), st.data())
@SETTINGS
def test_one_bad_field_always_fails_cleanly(data, pick):
    name, where, field, item, value = pick.draw(st.sampled_from(list(mutations(data))))
    if value == "drop":
        del item[field]
    elif value == "add":
        item[field] = "x"
    else:
        item[field] = value
    with tempfile.TemporaryDirectory() as tmp:
        texts = write(Path(tmp) / "seeds", data)
        out = Path(tmp) / "imu.db"
        previous = sqlite3.connect(out)
        previous.execute("create table previous_database (x)")
        previous.close()
        before = out.read_bytes()
        try:
            build_db.build(Path(tmp) / "seeds", out, docs=None)
        except build_db.BuildError as exc:
            errors = exc.errors
        else:
            raise AssertionError(f"{where}.{field} = {value!r:.60} was accepted")
        label = f"{Path(tmp) / 'seeds' / name}:{key_line(texts[name], where, field)}: {where}.{field}: "
        assert any(e.startswith(label) for e in errors), (label, errors)
        assert out.read_bytes() == before
        assert [p.name for p in Path(tmp).rglob("*") if p.name.endswith((".tmp", "-journal"))] == []
