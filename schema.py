"""The record types of seeds/*.yml, described once.

Each record type lists its fields; the same description drives validation
(build_db.check_record), table creation (build_db.table_columns) and the codebook
(codebook.py: the `codebook` table and the site's column descriptions), so each
column's meaning is written once, here, beside its field. A field's
`column` is its name in the database when it differs from the YAML key
(`group` -> `group_id`). Nested lists (`children`) become rows of their own
table, linked to the record that holds them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

SLUG = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"

DATE_PRECISIONS = ("day", "days", "week", "month", "season", "year", "years", "decade")
GEO_PRECISIONS = ("exact", "near", "district", "province", "region", "country")
CERTAINTIES = (
    "stated",       # the source says it as fact
    "reported",     # "reportedly", "were reported", "reports from ..."
    "apparent",     # "apparently", "appears to"
    "believed",     # "is believed", "we believe", "implicated"
    "alleged",      # "allegedly"
    "claimed",      # a party to the fact claimed it ("claimed responsibility")
    "estimated",    # an estimate ("roughly", "about", "might be closer to")
    "unconfirmed",  # the source says it cannot confirm it
    "speculated",   # "there is speculation"
    "disputed",     # the source says the point is disputed
)
EVENT_TYPES = (
    "attack", "bombing", "suicide-bombing", "car-bombing", "hostage-taking", "hijacking",
    "assassination-attempt", "ambush", "incursion", "battle", "plot", "offensive",
    "airstrike", "security-operation", "prison-break", "designation", "renaming",
    "formation", "pledge", "alliance", "agreement", "statement", "announcement",
    "relocation", "death", "meeting", "confrontation", "video", "deployment", "other",
)
# The kinds of event a reader asks for ("attacks in Tajikistan"), each a set of the fine types.
EVENT_CATEGORIES = {
    "attack": ("attack", "bombing", "suicide-bombing", "car-bombing", "hostage-taking", "hijacking",
               "assassination-attempt", "ambush", "incursion", "plot"),
    "fighting": ("battle", "offensive", "airstrike", "security-operation", "prison-break", "confrontation"),
    "politics": ("designation", "pledge", "alliance", "agreement", "statement", "announcement", "meeting", "video"),
    "organisation": ("formation", "renaming", "relocation", "deployment"),
    "death": ("death",),
    "other": ("other",),
}
EVENT_CATEGORY = {t: c for c, types in EVENT_CATEGORIES.items() for t in types}
EVENT_ROLES = (
    "perpetrator", "claimed-responsibility", "suspected", "implicated", "blamed",
    "target", "participant", "killed", "victim", "hostage", "announcer", "subject",
    "responder", "host", "commander", "leader",
)
MEMBERSHIP_ROLES = (
    "founder", "leader", "military-commander", "field-commander", "commander",
    "deputy-leader", "spokesman", "member", "director",
)
RELATIONS = (
    "ally", "affiliate", "splinter-of", "pledged-allegiance-to", "part-of", "hosted-by",
    "fought-against", "renamed-to", "cooperated-with", "rival",
)
ALIAS_KINDS = (
    "transliteration", "abbreviation", "native", "former-name", "later-name",
    "common-english", "nickname", "translation", "misspelling",
    "dataset-common-name",  # the dataset's own: a common name no document uses (ISIS, Daesh)
)
# The parts of an event's page a dispute can be about, each on a line of its own there.
DISPUTED_PARTS = ("type", "date", "place", "fatalities", "participants")
GROUP_KINDS = (
    "militant-group", "faction", "movement", "militia", "alliance", "government",
    "security-force", "armed-forces", "intelligence-agency", "media", "international",
)
# Why a sentence of a document is left out of the records on purpose (passages_left_out).
LEFT_OUT_REASONS = {
    "heading": "a title, byline, date line, reference entry or page furniture, held by the sources table",
    "forecast": "a forecast: what may happen, not what happened",
    "analysis": "the author's reasoning or judgement, with no fact a record could hold",
    "other-subject": "about a subject outside the dataset's",
    "repeated": "says again what a quoted sentence says",
    "background": "background with no datable fact about a group, person or event",
}
SOURCE_KINDS = (
    "blog-post", "profile", "article-summary", "journal-article", "analysis",
    "news-article", "news-agency", "government-statement", "broadcast",
)


@dataclass(frozen=True)
class Field:
    name: str
    type: str = "text"  # text, integer, real, date, slug, ref
    required: bool = False
    choices: tuple = ()
    ref: str | None = None  # the table a ref points at
    max_len: int = 2000
    min: float | None = None
    max: float | None = None
    column: str | None = None  # column name when it differs from the YAML key
    side: str = ""  # for dates: "start" or "end" (partial dates widen to that side)
    description: str = ""  # what the column means: the codebook's, the site's and the errors'

    @property
    def col(self) -> str:
        return self.column or self.name

    @property
    def sql_type(self):
        return {"integer": int, "real": float}.get(self.type, str)


@dataclass(frozen=True)
class Record:
    """One record type: its fields, the table it fills and what it nests."""

    table: str
    fields: tuple[Field, ...]
    description: str = ""  # what one row is: the codebook's and the site's
    children: dict[str, str] = field(default_factory=dict)  # YAML key -> record type
    id_from: tuple[str, ...] = ()  # columns joined into the id when the YAML gives none
    parent_column: dict[str, str] = field(default_factory=dict)  # parent type -> FK column
    needs_claim: bool = False  # a fact row: must be supported by at least one claim
    date_pair: bool = False  # has date_start/date_end/date_precision
    distinct: tuple[str, str] | None = None  # two references that may not name the same record

    def field(self, name: str) -> Field | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None


def _dates(required: bool, start: str, end: str, what: str,
           empty_end: str = "unknown or ongoing") -> tuple[Field, ...]:
    """date_start, date_end, date_precision, date_text; `start`/`end` say what the day is
    the earliest/latest possible of, `what` whose dates they are."""
    return (
        Field("date_start", "date", required, side="start",
              description=f"Earliest possible {start}, ISO 8601 (YYYY-MM-DD)"
                          f"{'' if required else '; empty where unknown'}."),
        Field("date_end", "date", required, side="end",
              description=f"Latest possible {end}, ISO 8601 (YYYY-MM-DD)"
                          f"{'' if required else f'; empty where {empty_end}'}."),
        Field("date_precision", required=required, choices=DATE_PRECISIONS,
              description=f"What was known of {what} (day, days, week, month, season, year, years, decade)."),
        Field("date_text", max_len=300, description=f"{what.capitalize()} in the source's own words "
                                                    "(\"last November\", \"in early 1992\")."),
    )


# A span (a membership, a relation) that a document shows in force at a time, without
# saying it ended then: "reportedly has a new leader" (November 2010) is not an end.
SPAN_END = ("no document says or implies that it ended: it may have gone on past the documents "
            "(reported_end says when they last show it)")
REPORTED = (
    Field("reported_start", "date", side="start",
          description="First day of the earliest time a document shows it in force, ISO 8601 (YYYY-MM-DD): "
                      "\"since at least 2007\" is 2007-01-01. Written to the unit the document gives (a year, "
                      "a month, a day): it held at some time in that unit. Empty where no document dates it."),
    Field("reported_end", "date", side="end",
          description="Last day of the latest time a document shows it in force, ISO 8601 (YYYY-MM-DD): "
                      "\"reportedly has a new leader\" in an article of 11 November 2010 is 2010-11-11. It "
                      "held at some time in that unit, and so throughout from reported_start; a report is "
                      "not an end (date_end)."),
)


CLAIM = Record(
    table="claims",
    description="One row per quote supporting one fact. The quote stands verbatim in the source "
                "document (\"...\" marks left-out words); the statement says in neutral words what it "
                "supports; certainty keeps the source's hedging. subject_type/subject_id name the "
                "fact, and exactly one of the *_id columns after them links to it.",
    fields=(
        Field("id", "slug", description="Subject id and source id joined by \"--\" (with -2, -3 for "
                                        "further claims of one source)."),
        Field("source", "ref", True, ref="sources", column="source_id", description="The document quoted."),
        Field("cited_source", "ref", ref="sources", column="cited_source_id",
              description="The work the document attributes the fact to, if it names one."),
        Field("quote", required=True, max_len=700,
              description="Verbatim excerpt of the document (\"...\" marks left-out words). "
                          "The words remain their publisher's."),
        Field("statement", required=True, max_len=700,
              description="What the quote supports, in the dataset's own neutral words."),
        Field("certainty", required=True, choices=CERTAINTIES,
              description="The source's hedging (stated, reported, apparent, believed, alleged, claimed, "
                          "estimated, unconfirmed, speculated, disputed)."),
        Field("dispute", "ref", ref="dispute_topics", column="dispute_id",
              description="The disputed point this claim takes a side on, if any."),
        Field("position", max_len=300, description="This claim's side of the dispute, in brief."),
    ),
    parent_column={
        "groups": "group_id", "people": "person_id", "events": "event_id",
        "memberships": "membership_id", "group_relations": "relation_id",
        "event_groups": "event_group_id", "event_people": "event_person_id",
    },
)

ALIAS = Record(
    table="aliases",
    description="One row per spelling of a group's or person's name that a document uses, with the "
                "document it comes from; and, where no document uses it, a common English name readers "
                "search for (ISIS, Daesh), of kind dataset-common-name, with no source and a note saying "
                "so. Exactly one of group_id and person_id is set.",
    fields=(
        Field("alias", required=True, max_len=200,
              description="The spelling exactly as the document writes it (apostrophes and diacritics kept)."),
        Field("kind", required=True, choices=ALIAS_KINDS,
              description="How the spelling relates to the name (transliteration, abbreviation, nickname, "
                          "former-name...; dataset-common-name: a common name no document uses)."),
        Field("source", "ref", ref="sources", column="source_id",
              description="The source that uses this spelling; empty for a common name no document uses."),
        Field("note", max_len=500, description="Anything about the spelling worth knowing."),
    ),
    id_from=("owner", "alias"),
    parent_column={"groups": "group_id", "people": "person_id"},
)

ID = "Stable lower-case slug"
NEUTRAL = "Who they are, in the dataset's own neutral words."

RECORDS: dict[str, Record] = {
    "sources": Record(
        table="sources",
        description="One row per document quoted (those with `document` set) or per work those "
                    "documents cite. Titles, authors, dates and URLs only as the documents give them.",
        fields=(
            Field("id", "slug", True, description=f"{ID} of the source."),
            Field("title", required=True, max_len=500,
                  description="Title as the document gives it (transliterated titles kept as written)."),
            Field("author", max_len=300, description="Author as the document names them; empty where it names none."),
            Field("publisher", max_len=300, description="Publisher or outlet (STRATFOR, RFE/RL, Umma News...)."),
            Field("published", "date", side="start",
                  description="Earliest possible publication day, ISO 8601 (YYYY-MM-DD)."),
            Field("published_precision", choices=DATE_PRECISIONS,
                  description="What was known of the publication date (day, month, year...)."),
            Field("published_text", max_len=300, description="The publication date in the document's own words."),
            Field("url", max_len=500, description="URL as the document gives it; empty where it gives none."),
            Field("kind", required=True, choices=SOURCE_KINDS,
                  description="Kind of work (blog-post, news-article, analysis, government-statement...)."),
            Field("language", max_len=50, description="Language of the work, as far as the document shows it."),
            Field("document", max_len=200,
                  description="File name of the source document in the curators' corpus; set only for the "
                              "documents quoted directly."),
            Field("cited_by", "ref", ref="sources", column="cited_by_id",
                  description="The document that cites this work (a source id)."),
            Field("notes", max_len=2000,
                  description="How the source's date, author or title was settled, and anything odd about it."),
        ),
    ),
    "dispute_topics": Record(
        table="dispute_topics",
        description="One row per point on which the documents disagree. Each side is a claim with this "
                    "dispute_id and its own position; the disputes canned query lists them side by side.",
        fields=(
            Field("id", "slug", True, description="Stable slug of the disputed point."),
            Field("question", required=True, max_len=300, description="The disputed point, as a question."),
            Field("description", max_len=2000, description="Who says what, in brief."),
            Field("concerns", choices=DISPUTED_PARTS,
                  description="The part of an event the question disputes, where it is one the event's page "
                              "shows on a line of its own: type, date, place, fatalities or participants; "
                              "blank for any other question."),
        ),
    ),
    "groups": Record(
        table="groups",
        description="One row per group, movement, state body, armed force or media outlet the documents name.",
        fields=(
            Field("id", "slug", True, description=f"{ID} (imu, taliban...)."),
            Field("name", required=True, max_len=200, description="Common English name."),
            Field("kind", required=True, choices=GROUP_KINDS,
                  description="Kind of body (militant-group, faction, government, security-force, media...)."),
            Field("description", required=True, max_len=3000, description=NEUTRAL),
        ),
        children={"aliases": "aliases", "claims": "claims"},
    ),
    "people": Record(
        table="people",
        description="One row per person the documents name (a few unnamed office-holders are named as such).",
        fields=(
            Field("id", "slug", True, description=f"{ID} (tohir-yoldashev...)."),
            Field("name", required=True, max_len=200,
                  description="Name in one common spelling; every spelling the documents use is in aliases."),
            Field("description", required=True, max_len=3000, description=NEUTRAL),
        ),
        children={"aliases": "aliases", "claims": "claims"},
    ),
    "events": Record(
        table="events",
        description="One row per event (attack, battle, designation, death...) with its date range, place "
                    "and fatalities. Who took part is in event_groups and event_people; the quotes that "
                    "support it are in claims. Events with coordinates show on the map.",
        fields=(
            Field("id", "slug", True, description="Stable slug, usually year and place (1999-tashkent-bombings)."),
            Field("title", required=True, max_len=300, description="Short neutral title."),
            Field("event_type", required=True, choices=EVENT_TYPES,
                  description="Kind of event (attack, bombing, battle, designation, death, pledge...)."),
            *_dates(True, "day", "day", "the date"),
            Field("place", max_len=300, description="The place as the source names it."),
            Field("country", "country", description="ISO 3166-1 alpha-2 code of the country where it happened."),
            Field("latitude", "real", min=-90, max=90,
                  description="WGS84 latitude of the place, in decimal degrees; empty where the source names "
                              "no place."),
            Field("longitude", "real", min=-180, max=180,
                  description="WGS84 longitude of the place, in decimal degrees."),
            Field("geo_precision", choices=GEO_PRECISIONS,
                  description="What the coordinates stand for (exact, near, district, province, region, country)."),
            Field("fatalities_low", "integer", min=0, max=10_000_000,
                  description="Fewest people killed any source states (people); empty where no source gives "
                              "a figure."),
            Field("fatalities_high", "integer", min=0, max=10_000_000,
                  description="Most people killed any source states (people); empty where no source gives an "
                              "upper figure."),
            Field("fatalities_best", "integer", min=0, max=10_000_000,
                  description="A source's own central figure (\"about 100\", \"roughly 80\"), in people; empty "
                              "where none is given."),
            Field("fatalities_text", max_len=300, description="The fatality figures in the source's words."),
            Field("description", required=True, max_len=3000,
                  description="What happened, in the dataset's own neutral words."),
        ),
        children={"groups": "event_groups", "people": "event_people", "claims": "claims"},
        needs_claim=True,
        date_pair=True,
    ),
    "event_groups": Record(
        table="event_groups",
        description="One row per group taking part in an event, and in what role; supported by claims "
                    "(event_group_id).",
        fields=(
            Field("group", "ref", True, ref="groups", column="group_id", description="The group."),
            Field("role", required=True, choices=EVENT_ROLES,
                  description="Its role (perpetrator, claimed-responsibility, suspected, blamed, target, "
                              "participant...)."),
            Field("note", max_len=500, description="Anything about the role worth knowing."),
        ),
        children={"claims": "claims"},
        id_from=("event_id", "group_id", "role"),
        parent_column={"events": "event_id"},
        needs_claim=True,
    ),
    "event_people": Record(
        table="event_people",
        description="One row per person taking part in an event, and in what role; supported by claims "
                    "(event_person_id).",
        fields=(
            Field("person", "ref", True, ref="people", column="person_id", description="The person."),
            Field("role", required=True, choices=EVENT_ROLES,
                  description="Their role (killed, leader, commander, participant, announcer...)."),
            Field("note", max_len=500, description="Anything about the role worth knowing."),
        ),
        children={"claims": "claims"},
        id_from=("event_id", "person_id", "role"),
        parent_column={"events": "event_id"},
        needs_claim=True,
    ),
    "memberships": Record(
        table="memberships",
        description="One row per role a person held in a group, with dates where known; supported by "
                    "claims (membership_id).",
        fields=(
            Field("id", "slug", description="Person id, group id and role joined by \"--\"."),
            Field("person", "ref", True, ref="people", column="person_id", description="The person."),
            Field("group", "ref", True, ref="groups", column="group_id", description="The group."),
            Field("role", required=True, choices=MEMBERSHIP_ROLES,
                  description="The role (founder, leader, military-commander, spokesman, member...)."),
            *_dates(False, "first day in the role", "last day in the role, set only where a document says "
                                                       "or implies that the role ended", "the dates",
                    empty_end=SPAN_END),
            *REPORTED,
        ),
        children={"claims": "claims"},
        id_from=("person_id", "group_id", "role"),
        needs_claim=True,
        date_pair=True,
    ),
    "group_relations": Record(
        table="group_relations",
        description="One row per way one group stood to another (group_id relation related_group_id, read "
                    "left to right: \"imu pledged-allegiance-to islamic-state\"); supported by claims "
                    "(relation_id).",
        fields=(
            Field("id", "slug", description="Group id, relation and related group id joined by \"--\"."),
            Field("group", "ref", True, ref="groups", column="group_id",
                  description="The group the relation is read from."),
            Field("relation", required=True, choices=RELATIONS,
                  description="The relation (ally, affiliate, splinter-of, pledged-allegiance-to, hosted-by, "
                              "fought-against, renamed-to...)."),
            Field("related_group", "ref", True, ref="groups", column="related_group_id",
                  description="The group the relation is read to."),
            *_dates(False, "start", "end, set only where a document says or implies that it ended",
                    "the dates", empty_end=SPAN_END),
            *REPORTED,
        ),
        children={"claims": "claims"},
        id_from=("group_id", "relation", "related_group_id"),
        needs_claim=True,
        date_pair=True,
        distinct=("group", "related_group"),
    ),
    "aliases": ALIAS,
    "claims": CLAIM,
    "passages_left_out": Record(
        table="passages_left_out",
        description="One row per passage of a document that the records leave out on purpose, with the "
                    "reason. Every sentence of every document is either quoted by a claim or listed "
                    "here; the documents table counts both, and the build refuses a passage that is not "
                    "verbatim in its document or a sentence both quoted and listed.",
        fields=(
            Field("id", "slug", description="Source id and the passage's first words, slugged, joined by "
                                            "\"--\" (with -2, -3 where two would be the same)."),
            Field("source", "ref", True, ref="sources", column="source_id",
                  description="The document the passage is in."),
            Field("passage", required=True, max_len=2000,
                  description="The passage, verbatim as in the document (\"...\" marks left-out words), "
                              "usually one or more whole sentences."),
            Field("reason", required=True, choices=tuple(LEFT_OUT_REASONS),
                  description="Why it is left out: " + "; ".join(f"{k}, {v}" for k, v in LEFT_OUT_REASONS.items())
                              + "."),
            Field("note", max_len=300, description="More on the reason, where it needs it."),
        ),
    ),
}

# Record types a seed file may hold at its top level; the rest only nest.
TOP_LEVEL = ("sources", "dispute_topics", "groups", "people", "events", "memberships", "group_relations",
             "passages_left_out")

TIME_ORDER = Field("time_order", "date",
                   description="Its place in time, for sorting: the earliest date it gives (date_start, else "
                               "reported_start, else date_end), ISO 8601 (YYYY-MM-DD); empty where it has none. "
                               "Table pages show it as the date in words and sort by it.")

# Columns each table has beyond its fields: generated ids, links to the parent, derived columns.
EXTRA_COLUMNS: dict[str, tuple[Field, ...]] = {
    "groups": (
        Field("first_dated", "date",
              description="The earliest day the records place the group in being, ISO 8601 (YYYY-MM-DD): the "
                          "earliest possible day of its formation where an event records one (event_type "
                          "formation, the group its subject), otherwise the earliest date of any dated record of "
                          "it (an event it takes part in; a membership in it or a relation of it, by date_start "
                          "or reported_start). It says when the documents first place the group, not that it was "
                          "founded then. No membership or relation of it is shown before this day. Derived at "
                          "build time (spans.py); empty where none of its records is dated, or where one is dated "
                          "only by its end, which bounds nothing."),
    ),
    "people": (
        Field("died_by", "date",
              description="The latest day the person can have been alive, ISO 8601 (YYYY-MM-DD): the latest "
                          "possible day of their death where an event records it (event_type death, the person "
                          "killed in it or its subject). No role of theirs is shown after it. Derived at build "
                          "time (spans.py); empty where no death is recorded."),
    ),
    "events": (
        Field("event_category", choices=tuple(EVENT_CATEGORIES),
              description="The kind of event a reader asks for, grouping the fine event_type: attack (attacks, "
                          "bombings, hostage-takings, hijackings, ambushes, incursions, plots), fighting (battles, "
                          "offensives, airstrikes, security operations, prison breaks, confrontations), politics "
                          "(designations, pledges, alliances, agreements, statements, announcements, meetings, "
                          "videos), organisation (formations, renamings, relocations, deployments), death, other. "
                          "Derived at build time from event_type."),
        Field("popup", description="JSON for the map marker's popup (title, date, place, fatalities, link), "
                                   "derived at build time from the other columns (build_db.popup)."),
    ),
    "aliases": (
        Field("id", "slug", description="Owner's id and the slugged alias, joined by \"--\"."),
        Field("group_id", "ref", ref="groups", description="The group this is a name of (or empty)."),
        Field("person_id", "ref", ref="people", description="The person this is a name of (or empty)."),
        Field("alias_folded", description="Spelling-forgiving key of the alias (fold.py; the fold() SQL "
                                          "function gives the same), so Yo'ldashev and Yuldashev both give yldshv."),
    ),
    "event_groups": (
        Field("id", "slug", description="Event id, group id and role joined by \"--\"."),
        Field("event_id", "ref", ref="events", description="The event."),
    ),
    "event_people": (
        Field("id", "slug", description="Event id, person id and role joined by \"--\"."),
        Field("event_id", "ref", ref="events", description="The event."),
    ),
    "memberships": (TIME_ORDER,),
    "group_relations": (TIME_ORDER,),
    "claims": (
        Field("subject_type", choices=tuple(CLAIM.parent_column),
              description="The table of the fact supported (events, groups, people, memberships, "
                          "group_relations, event_groups, event_people)."),
        Field("subject_id", "slug", description="The id of the fact supported."),
        Field("group_id", "ref", ref="groups", description="The group, when the claim is about a group."),
        Field("person_id", "ref", ref="people", description="The person, when the claim is about a person."),
        Field("event_id", "ref", ref="events", description="The event, when the claim is about an event."),
        Field("membership_id", "ref", ref="memberships", description="The membership, when the claim is about one."),
        Field("relation_id", "ref", ref="group_relations", description="The group relation, when the claim is about one."),
        Field("event_group_id", "ref", ref="event_groups", description="The group's part in an event, when the claim is about that."),
        Field("event_person_id", "ref", ref="event_people", description="The person's part in an event, when the claim is about that."),
        Field("quote_offset", "integer",
              description="Where the quote starts in its document, in characters of the document's text with "
                          "whitespace, quote marks and dashes normalised (as shared/tools/check_quotes.py "
                          "compares them); orders claims as the document tells them. Empty when the build "
                          "could not read the document."),
    ),
    "passages_left_out": (
        Field("passage_offset", "integer",
              description="Where the passage starts in its document, counted as claims.quote_offset is; "
                          "orders the passages as the document tells them."),
    ),
}



def table_fields(table: str) -> tuple[Field, ...]:
    """Every column of a table but its `id`, described: its record's fields, then the rest.
    Their `ref`s are the table's foreign keys."""
    return (*RECORDS[table].fields, *EXTRA_COLUMNS.get(table, ()))


assert sorted(t for types in EVENT_CATEGORIES.values() for t in types) == sorted(EVENT_TYPES), \
    "every event type in exactly one category"
assert all({(col, RECORDS[parent].table) for parent, col in spec.parent_column.items()}
           <= {(f.col, f.ref) for f in table_fields(table)} for table, spec in RECORDS.items()), \
    "every link to a parent record needs its column, with its ref, in EXTRA_COLUMNS"


# Full-text search: the text columns of each table, indexed last.
FTS = {
    "groups": ["name", "description"],
    "people": ["name", "description"],
    "aliases": ["alias", "alias_folded"],
    "events": ["title", "description", "place", "date_text"],
    "claims": ["quote", "statement", "position"],
    "sources": ["title", "author", "publisher", "notes"],
    # made by build_db.search_rows; the search query weights the columns by position in bm25()
    "search_index": ["text", "folded", "name", "name_folded"],
}
FTS_TOKENIZE = "porter unicode61 remove_diacritics 2"

# Columns people filter and sort by, indexed besides every foreign key.
INDEXES = {
    "events": [["date_start"], ["date_end"], ["country"], ["event_type"], ["event_category"], ["date_precision"],
               ["geo_precision"]],  # every default facet reads a covering index, not the table
    "claims": [["certainty"], ["subject_type", "subject_id"]],
    "event_groups": [["role"]],
    "event_people": [["role"]],
    "memberships": [["role"], ["time_order"]],
    "group_relations": [["relation"], ["time_order"]],
    "aliases": [["alias"]],
}
