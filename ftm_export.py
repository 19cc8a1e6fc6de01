"""The records as FollowTheMoney entities (JSON lines), for Aleph, OpenSanctions' tools and
anything else built on FtM (`python ftm_export.py imu.db OUT [--base-url URL]`; the
release writes `entities.ftm.json`).

Every entity is made with the `followthemoney` library's own model and validated by it;
a value the model would clean away (a date or URL it cannot read) stops the export
rather than being lost. What maps to what, and how the dataset's ranges and disputes are
carried, is in the README ("Using the data elsewhere"):

- groups: Organization, or PublicBody for a government or its forces and agencies;
- people: Person;
- memberships: Membership (person to group);
- group relations: Succession for renamed-to, Membership for part-of, and UnknownLink
  (its role the relation in words) for the rest, which FtM has no schema for;
- events: Event, every party to it `involved`, and each party's part an UnknownLink from
  the group or person to the event, its role in words;
- names: each alias by its kind (abbreviation, previousName, weakAlias for nicknames
  and misspellings, alias for the rest);
- dates: a range that is exactly one day, month or year is that partial date
  ('1999-02'); a wider one gives startDate and endDate at the unit each bound falls on,
  and `notes` says the date in words, so a point known only within a range is not read
  as a span;
- sources: `sourceUrl` is the record's page on the site (with --base-url), `publisher`
  and `publisherUrl` the sources its claims quote; `notes` names each dispute the
  record's claims take a side on.
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

from followthemoney import model
from followthemoney.exc import InvalidData
from followthemoney.proxy import EntityProxy

from dates import bound, date_phrase, partial
from files import temp_path
from labels import record_url, source_label
from schema import CLAIM

PUBLIC_BODY = {"government", "security-force", "armed-forces", "intelligence-agency"}
ALIAS_PROPERTY = {"abbreviation": "abbreviation", "former-name": "previousName", "nickname": "weakAlias",
                  "misspelling": "weakAlias"}  # every other kind: alias
RELATION_SCHEMA = {"renamed-to": ("Succession", "predecessor", "successor"),
                   "part-of": ("Membership", "member", "organization")}
LINK = ("UnknownLink", "subject", "object")
PARTIES = (("event_groups", "groups", "group_id"), ("event_people", "people", "person_id"))  # table, owner, column
PREFIX = "imu"


class Unmappable(ValueError):
    """A value the FtM model would not keep."""


def entity_id(table: str, record_id: str) -> str:
    return f"{PREFIX}-{table.replace('_', '-')}-{record_id}"


def words(code: str | None) -> str:
    return (code or "").replace("-", " ")


def put(proxy: EntityProxy, prop: str, value) -> None:
    """Add a value, or raise Unmappable when the model cleans it away."""
    if value is None or value == "":
        return
    before = len(proxy.get(prop))
    proxy.add(prop, value)
    if len(proxy.get(prop)) == before and str(value) not in proxy.get(prop):
        raise Unmappable(f"{proxy.id}: {prop} {value!r} is not a valid {proxy.schema.get(prop).type.name}")


def note(proxy: EntityProxy, text: str) -> None:
    """A line of the dataset's own: `notes` on a thing, `summary` on a link (which has no notes)."""
    put(proxy, "notes" if "notes" in proxy.schema.properties else "summary", text)


def make(schema: str, table: str, record_id: str, base_url: str) -> EntityProxy:
    proxy = model.make_entity(schema)
    proxy.id = entity_id(table, record_id)
    if base_url:
        put(proxy, "sourceUrl", base_url + record_url(table, record_id))
    return proxy


def put_dates(proxy: EntityProxy, row: sqlite3.Row) -> None:
    """A range that is one partial date as `date`, else its bounds; the words in `notes`."""
    start, end = row["date_start"], row["date_end"]
    whole = partial(start, end)
    if whole:
        put(proxy, "date", whole)
    else:
        put(proxy, "startDate", bound(start, "start"))
        put(proxy, "endDate", bound(end, "end"))
    if start or end:
        note(proxy, f"Date: {date_phrase(start, end, row['date_precision'])}"
                            + (f" (the source: {row['date_text']})" if row["date_text"] else ""))


class Exporter:
    """Reads the database once for what every entity shares: names, sources, disputes."""

    def __init__(self, conn: sqlite3.Connection, base_url: str = ""):
        self.conn, self.base_url = conn, base_url
        self.sources: dict[tuple[str, str], list[tuple[str, str | None]]] = {}  # (table, id) -> its claims' sources
        for table, column in CLAIM.parent_column.items():
            for subject, title, publisher, author, url in conn.execute(
                    f"select distinct c.{column}, s.title, s.publisher, s.author, s.url from claims c "
                    f"join sources s on s.id = c.source_id where c.{column} is not null order by c.{column}, s.id"):
                self.sources.setdefault((table, subject), []).append((source_label(title, publisher, author), url))
        self.disputes: dict[tuple[str, str], list[str]] = {}
        for subject_type, subject, question in conn.execute(
                "select distinct c.subject_type, c.subject_id, d.question from claims c "
                "join dispute_topics d on d.id = c.dispute_id order by c.subject_type, c.subject_id, d.id"):
            self.disputes.setdefault((subject_type, subject), []).append(question)

    def cited(self, proxy: EntityProxy, table: str, record_id: str) -> EntityProxy:
        for label, url in self.sources.get((table, record_id), []):
            put(proxy, "publisher", label)
            put(proxy, "publisherUrl", url)
        for question in self.disputes.get((table, record_id), []):
            note(proxy, f"Disputed: {question} The documents disagree; the record's page shows each side.")
        return proxy

    def names(self, proxy: EntityProxy, column: str, record_id: str) -> None:
        for alias, kind in self.conn.execute(f"select alias, kind from aliases where {column} = ? order by id",
                                             [record_id]):
            put(proxy, ALIAS_PROPERTY.get(kind, "alias"), alias)

    def entities(self):
        """Every entity, in a fixed order: groups, people, memberships, relations, events
        and their parties."""
        q, url = self.conn.execute, self.base_url
        for row in q("select * from groups order by id"):
            proxy = make("PublicBody" if row["kind"] in PUBLIC_BODY else "Organization", "groups", row["id"], url)
            put(proxy, "name", row["name"])
            put(proxy, "description", row["description"])
            put(proxy, "classification", words(row["kind"]))
            self.names(proxy, "group_id", row["id"])
            yield self.cited(proxy, "groups", row["id"])
        for row in q("select * from people order by id"):
            proxy = make("Person", "people", row["id"], url)
            put(proxy, "name", row["name"])
            put(proxy, "description", row["description"])
            self.names(proxy, "person_id", row["id"])
            yield self.cited(proxy, "people", row["id"])
        for row in q("select * from memberships order by id"):
            proxy = make("Membership", "memberships", row["id"], url)
            put(proxy, "member", entity_id("people", row["person_id"]))
            put(proxy, "organization", entity_id("groups", row["group_id"]))
            put(proxy, "role", words(row["role"]))
            self.span(proxy, row)
            yield self.cited(proxy, "memberships", row["id"])
        for row in q("select * from group_relations order by id"):
            schema, source, target = RELATION_SCHEMA.get(row["relation"], LINK)
            proxy = make(schema, "group_relations", row["id"], url)
            put(proxy, source, entity_id("groups", row["group_id"]))
            put(proxy, target, entity_id("groups", row["related_group_id"]))
            put(proxy, "role", words(row["relation"]))
            self.span(proxy, row)
            yield self.cited(proxy, "group_relations", row["id"])
        involved: dict[str, list[str]] = {}  # event id -> its parties' entity ids, read once
        for table, owner, party in PARTIES:
            for event_id, party_id in q(f"select distinct event_id, {party} from {table} order by event_id, {party}"):
                involved.setdefault(event_id, []).append(entity_id(owner, party_id))
        for row in q("select * from events order by date_start, id"):
            proxy = make("Event", "events", row["id"], url)
            put(proxy, "name", row["title"])
            put(proxy, "description", row["description"])
            put(proxy, "keywords", words(row["event_type"]))
            put(proxy, "country", row["country"])
            put(proxy, "location", row["place"])
            put_dates(proxy, row)
            if row["fatalities_text"] or row["fatalities_low"] is not None:
                figures = "–".join(dict.fromkeys(str(row[c]) for c in ("fatalities_low", "fatalities_high")
                                                 if row[c] is not None))
                said = f"(the source: {row['fatalities_text']})" if row["fatalities_text"] else ""
                note(proxy, "Fatalities: " + " ".join(part for part in (figures, said) if part))
            for party in involved.get(row["id"], ()):
                put(proxy, "involved", party)
            yield self.cited(proxy, "events", row["id"])
        for table, owner, party in PARTIES:
            for row in q(f"select * from {table} order by id"):
                proxy = make("UnknownLink", table, row["id"], url)
                put(proxy, "subject", entity_id(owner, row[party]))
                put(proxy, "object", entity_id("events", row["event_id"]))
                put(proxy, "role", words(row["role"]))
                put(proxy, "description", row["note"])
                yield self.cited(proxy, table, row["id"])

    @staticmethod
    def span(proxy: EntityProxy, row: sqlite3.Row) -> None:
        """A membership's or relation's dates: when it began and ended, as far as known, and
        when a document reports it in force (which is no end)."""
        put(proxy, "startDate", bound(row["date_start"], "start"))
        put(proxy, "endDate", bound(row["date_end"], "end"))
        if row["date_start"] or row["date_end"]:
            note(proxy, f"Dates: {date_phrase(row['date_start'], row['date_end'], row['date_precision'])}"
                                + (f" (the source: {row['date_text']})" if row["date_text"] else ""))
        if row["reported_start"] or row["reported_end"]:
            note(proxy, "Reported in force: "
                + date_phrase(row["reported_start"], row["reported_end"], "years").replace("–", " to ")
                + "; a report is not an end")


def validate(proxy: EntityProxy) -> None:
    """The model's own check of a whole entity (required properties, every value's type)."""
    proxy.schema.validate(proxy.to_dict())


def write(db: Path, out: Path, base_url: str = "") -> dict[str, int]:
    """Every entity of `db`, validated, one JSON object per line, into `out` (atomically);
    returns how many of each schema."""
    counts: dict[str, int] = {}
    tmp = temp_path(out)
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            for proxy in Exporter(conn, base_url).entities():
                validate(proxy)
                f.write(json.dumps(proxy.to_dict(), ensure_ascii=False, sort_keys=True) + "\n")
                counts[proxy.schema.name] = counts.get(proxy.schema.name, 0) + 1
        tmp.replace(out)
    finally:
        conn.close()
        tmp.unlink(missing_ok=True)
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("db", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--base-url", default="", help="the site's address, for each entity's link to its page")
    args = ap.parse_args(argv)
    try:
        counts = write(args.db, args.out, args.base_url.rstrip("/"))
    except (Unmappable, InvalidData, sqlite3.Error, OSError) as exc:
        print(f"ftm_export: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}: " + ", ".join(f"{n} {schema}" for schema, n in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
