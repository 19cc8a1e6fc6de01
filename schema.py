"""The record types of seeds/*.yml, described once.

Each record type lists its fields; the same description drives validation
(build_db.check_record) and table creation (build_db.table_columns). A field's
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
)
GROUP_KINDS = (
    "militant-group", "faction", "movement", "militia", "alliance", "government",
    "security-force", "armed-forces", "intelligence-agency", "media", "international",
)
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
    children: dict[str, str] = field(default_factory=dict)  # YAML key -> record type
    id_from: tuple[str, ...] = ()  # columns joined into the id when the YAML gives none
    parent_column: dict[str, str] = field(default_factory=dict)  # parent type -> FK column
    needs_claim: bool = False  # a fact row: must be supported by at least one claim
    date_pair: bool = False  # has date_start/date_end/date_precision

    def field(self, name: str) -> Field | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None


def _dates(required: bool) -> tuple[Field, ...]:
    return (
        Field("date_start", "date", required, side="start"),
        Field("date_end", "date", required, side="end"),
        Field("date_precision", required=required, choices=DATE_PRECISIONS),
        Field("date_text", max_len=300),
    )


CLAIM = Record(
    table="claims",
    fields=(
        Field("id", "slug"),
        Field("source", "ref", True, ref="sources", column="source_id"),
        Field("cited_source", "ref", ref="sources", column="cited_source_id"),
        Field("quote", required=True, max_len=700),
        Field("statement", required=True, max_len=700),
        Field("certainty", required=True, choices=CERTAINTIES),
        Field("dispute", "ref", ref="dispute_topics", column="dispute_id"),
        Field("position", max_len=300),
    ),
    parent_column={
        "groups": "group_id", "people": "person_id", "events": "event_id",
        "memberships": "membership_id", "group_relations": "relation_id",
        "event_groups": "event_group_id", "event_people": "event_person_id",
    },
)

ALIAS = Record(
    table="aliases",
    fields=(
        Field("alias", required=True, max_len=200),
        Field("kind", required=True, choices=ALIAS_KINDS),
        Field("source", "ref", ref="sources", column="source_id"),
        Field("note", max_len=500),
    ),
    id_from=("owner", "alias"),
    parent_column={"groups": "group_id", "people": "person_id"},
)

RECORDS: dict[str, Record] = {
    "sources": Record(
        table="sources",
        fields=(
            Field("id", "slug", True),
            Field("title", required=True, max_len=500),
            Field("author", max_len=300),
            Field("publisher", max_len=300),
            Field("published", "date", side="start"),
            Field("published_precision", choices=DATE_PRECISIONS),
            Field("published_text", max_len=300),
            Field("url", max_len=500),
            Field("kind", required=True, choices=SOURCE_KINDS),
            Field("language", max_len=50),
            Field("document", max_len=200),
            Field("cited_by", "ref", ref="sources", column="cited_by_id"),
            Field("notes", max_len=2000),
        ),
    ),
    "dispute_topics": Record(
        table="dispute_topics",
        fields=(
            Field("id", "slug", True),
            Field("question", required=True, max_len=300),
            Field("description", max_len=2000),
        ),
    ),
    "groups": Record(
        table="groups",
        fields=(
            Field("id", "slug", True),
            Field("name", required=True, max_len=200),
            Field("kind", required=True, choices=GROUP_KINDS),
            Field("description", required=True, max_len=3000),
        ),
        children={"aliases": "aliases", "claims": "claims"},
    ),
    "people": Record(
        table="people",
        fields=(
            Field("id", "slug", True),
            Field("name", required=True, max_len=200),
            Field("description", required=True, max_len=3000),
        ),
        children={"aliases": "aliases", "claims": "claims"},
    ),
    "events": Record(
        table="events",
        fields=(
            Field("id", "slug", True),
            Field("title", required=True, max_len=300),
            Field("event_type", required=True, choices=EVENT_TYPES),
            *_dates(True),
            Field("place", max_len=300),
            Field("country", "country"),
            Field("latitude", "real", min=-90, max=90),
            Field("longitude", "real", min=-180, max=180),
            Field("geo_precision", choices=GEO_PRECISIONS),
            Field("fatalities_low", "integer", min=0, max=10_000_000),
            Field("fatalities_high", "integer", min=0, max=10_000_000),
            Field("fatalities_best", "integer", min=0, max=10_000_000),  # a source's "about"/"roughly"
            Field("fatalities_text", max_len=300),
            Field("description", required=True, max_len=3000),
        ),
        children={"groups": "event_groups", "people": "event_people", "claims": "claims"},
        needs_claim=True,
        date_pair=True,
    ),
    "event_groups": Record(
        table="event_groups",
        fields=(
            Field("group", "ref", True, ref="groups", column="group_id"),
            Field("role", required=True, choices=EVENT_ROLES),
            Field("note", max_len=500),
        ),
        children={"claims": "claims"},
        id_from=("event_id", "group_id", "role"),
        parent_column={"events": "event_id"},
        needs_claim=True,
    ),
    "event_people": Record(
        table="event_people",
        fields=(
            Field("person", "ref", True, ref="people", column="person_id"),
            Field("role", required=True, choices=EVENT_ROLES),
            Field("note", max_len=500),
        ),
        children={"claims": "claims"},
        id_from=("event_id", "person_id", "role"),
        parent_column={"events": "event_id"},
        needs_claim=True,
    ),
    "memberships": Record(
        table="memberships",
        fields=(
            Field("id", "slug"),
            Field("person", "ref", True, ref="people", column="person_id"),
            Field("group", "ref", True, ref="groups", column="group_id"),
            Field("role", required=True, choices=MEMBERSHIP_ROLES),
            *_dates(False),
        ),
        children={"claims": "claims"},
        id_from=("person_id", "group_id", "role"),
        needs_claim=True,
        date_pair=True,
    ),
    "group_relations": Record(
        table="group_relations",
        fields=(
            Field("id", "slug"),
            Field("group", "ref", True, ref="groups", column="group_id"),
            Field("relation", required=True, choices=RELATIONS),
            Field("related_group", "ref", True, ref="groups", column="related_group_id"),
            *_dates(False),
        ),
        children={"claims": "claims"},
        id_from=("group_id", "relation", "related_group_id"),
        needs_claim=True,
        date_pair=True,
    ),
    "aliases": ALIAS,
    "claims": CLAIM,
}

# Record types a seed file may hold at its top level; the rest only nest.
TOP_LEVEL = ("sources", "dispute_topics", "groups", "people", "events", "memberships", "group_relations")

# Columns each table has beyond its fields: generated ids and links to the parent.
EXTRA_COLUMNS: dict[str, dict[str, type]] = {
    "events": {"popup": str},  # JSON for the map marker's popup, made by build_db.popup
    "aliases": {"id": str, "group_id": str, "person_id": str, "alias_folded": str},
    "event_groups": {"id": str, "event_id": str},
    "event_people": {"id": str, "event_id": str},
    "memberships": {"id": str},
    "group_relations": {"id": str},
    "claims": {
        "subject_type": str, "subject_id": str, "group_id": str, "person_id": str,
        "event_id": str, "membership_id": str, "relation_id": str,
        "event_group_id": str, "event_person_id": str, "quote_offset": int,
    },
}

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
    "events": [["date_start"], ["date_end"], ["country"], ["event_type"], ["date_precision"],
               ["geo_precision"]],  # every default facet reads a covering index, not the table
    "claims": [["certainty"], ["subject_type", "subject_id"]],
    "event_groups": [["role"]],
    "event_people": [["role"]],
    "memberships": [["role"]],
    "group_relations": [["relation"]],
    "aliases": [["alias"]],
}
