"""Write a synthetic seed corpus in the layout of seeds/, for benchmarks.

    python bench/generate.py --events 100000 --out bench/out/seeds-100000

The records are invented (names, places and quotes are made of random words)
but valid: every fact has its claims, every reference points at a record, and
`build_db.py` accepts the folder. The same --events and --seed always give the
same bytes. Each file holds one record type, and events are split into files
of --per-file events, so that a build can parse them on several cores and a
rebuild after an edit re-reads one file.
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from schema import (  # noqa: E402
    ALIAS_KINDS, CERTAINTIES, EVENT_ROLES, EVENT_TYPES, GROUP_KINDS, MEMBERSHIP_ROLES, RELATIONS,
    SOURCE_KINDS,
)

# (place, ISO country, latitude, longitude)
PLACES = [
    ("Tashkent", "UZ", 41.2995, 69.2401), ("Namangan", "UZ", 40.9983, 71.6726),
    ("Andijan", "UZ", 40.7821, 72.3442), ("Fergana", "UZ", 40.3734, 71.7978),
    ("Samarkand", "UZ", 39.6542, 66.9597), ("Bukhara", "UZ", 39.7747, 64.4286),
    ("Termez", "UZ", 37.2242, 67.2783), ("Dushanbe", "TJ", 38.5598, 68.7870),
    ("Khujand", "TJ", 40.2826, 69.6222), ("Garm", "TJ", 39.0225, 70.3672),
    ("Tavildara", "TJ", 38.6986, 70.4653), ("Osh", "KG", 40.5283, 72.7985),
    ("Batken", "KG", 40.0626, 70.8194), ("Bishkek", "KG", 42.8746, 74.5698),
    ("Kunduz", "AF", 36.7280, 68.8680), ("Mazar-i-Sharif", "AF", 36.7090, 67.1109),
    ("Kabul", "AF", 34.5553, 69.2075), ("Zabul", "AF", 32.1919, 67.1894),
    ("Miranshah", "PK", 33.0006, 70.0714), ("Wana", "PK", 32.2989, 69.5725),
    ("Peshawar", "PK", 34.0151, 71.5249), ("Karachi", "PK", 24.8607, 67.0011),
    ("Almaty", "KZ", 43.2220, 76.8512), ("Ashgabat", "TM", 37.9601, 58.3261),
]
WORDS = (
    "militants fighters convoy border checkpoint police army officials village mountain valley "
    "raid ambush attack bomb blast road market station camp base training recruits commander "
    "leader spokesman statement video claim responsibility security forces operation sweep "
    "arrest prison escape hostage negotiation release airstrike drone strike killed wounded "
    "injured civilians soldiers guards district province capital region crossing smuggling "
    "weapons explosives vehicle truck night morning evening winter summer spring autumn "
    "reports sources witnesses residents government ministry interior defence intelligence "
    "alliance split faction pledge allegiance network cell group movement insurgents"
).split()
SYLLABLES = "ab ad al an ar as az ba bek da di do du fa ga gu ha hu ja jo ka ki ko ku la lo " \
            "ma mi mu na ni no nu o ra ri ro ru sa sha so su ta ti to tu u ul ur us ya yo za zu".split()
PRECISIONS = ("day", "day", "day", "month", "month", "year")
# A formation or a death places its group or person in time (spans.py), and random dates
# would contradict it; the generated events have neither.
EVENT_TYPES = tuple(t for t in EVENT_TYPES if t not in ("formation", "death"))


def words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def name(rng: random.Random, parts: int) -> str:
    return " ".join(
        "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
        for _ in range(parts))


def slug(text: str) -> str:
    return "-".join("".join(c for c in w.lower() if c.isalnum()) for w in text.split())


def date_fields(rng: random.Random, indent: str) -> list[str]:
    year = rng.randint(1991, 2020)
    month = rng.randint(1, 12)
    day = rng.randint(1, 28)
    precision = rng.choice(PRECISIONS)
    if precision == "day":
        start = end = f"{year}-{month:02d}-{day:02d}"
        text = f"{day} {month_name(month)} {year}"
    elif precision == "month":
        start = end = f"{year}-{month:02d}"
        text = f"{month_name(month)} {year}"
    else:
        start = end = f"{year}"
        text = f"in {year}"
    return [f"{indent}date_start: {start}", f"{indent}date_end: {end}",
            f"{indent}date_precision: {precision}", f"{indent}date_text: {text}"]


def span_fields(rng: random.Random, indent: str) -> list[str]:
    """A membership's or relation's time: a range that ended, or (half of them) only the
    time a document showed it in force, as most of seeds/ now reads."""
    fields = date_fields(rng, indent)
    if rng.random() < 0.5:
        return fields
    start = fields[0].split(": ", 1)[1]
    return [f"{indent}reported_end: {start}", f"{indent}date_text: as of {start}"]


def month_name(month: int) -> str:
    return ("January February March April May June July August September October "
            "November December").split()[month - 1]


def claim(rng: random.Random, indent: str, source: str, about: str, anchor: str = "",
          dispute: str | None = None, quotes: dict[str, list[str]] | None = None) -> list[str]:
    """One claim as YAML lines, the first of them a list item; its quote is added to its
    source's document in `quotes`."""
    head = f"{indent}- " + (f"&{anchor}\n{indent}  " if anchor else "")
    quote = f"{about.capitalize()} {words(rng, 5)}."
    if quotes is not None:
        quotes.setdefault(source, []).append(quote)
    lines = [f"{head}source: {source}",
             f"{indent}  quote: {quote}",
             f"{indent}  statement: {about.capitalize()} {words(rng, 3)}.",
             f"{indent}  certainty: {rng.choice(CERTAINTIES)}"]
    if dispute:
        lines += [f"{indent}  dispute: {dispute}", f"{indent}  position: {words(rng, 3)}"]
    return lines


class Corpus:
    """Counts of each record kind for a number of events."""

    def __init__(self, events: int, seed: int):
        self.events = events
        self.rng = random.Random(seed)
        self.n_sources = max(10, events // 100)
        self.n_groups = max(20, events // 50)
        self.n_people = max(50, events // 20)
        self.n_disputes = max(2, events // 1000)
        rng = self.rng
        self.sources = [f"src-{i:05d}-{slug(name(rng, 1))}" for i in range(self.n_sources)]
        self.groups = [(f"grp-{i:05d}-{slug(n)}", n) for i, n in
                       ((i, name(rng, 2)) for i in range(self.n_groups))]
        self.people = [(f"per-{i:05d}-{slug(n)}", n) for i, n in
                       ((i, name(rng, 2)) for i in range(self.n_people))]
        self.disputes = [f"dispute-{i:04d}" for i in range(self.n_disputes)]
        self.quotes: dict[str, list[str]] = {}  # source -> the quotes its document must hold

    def source(self) -> str:
        return self.rng.choice(self.sources)

    def sources_yml(self) -> str:
        rng, out = self.rng, ["sources:"]
        for sid in self.sources:
            out += [f"  - id: {sid}",
                    f"    title: {words(rng, 6).capitalize()}",
                    f"    author: {name(rng, 2)}",
                    f"    publisher: {name(rng, 1)} News",
                    f"    published: {rng.randint(1995, 2022)}-{rng.randint(1, 12):02d}",
                    "    published_precision: month",
                    f"    kind: {rng.choice(SOURCE_KINDS)}",
                    f"    document: {sid}.txt",
                    f"    notes: {words(rng, 12).capitalize()}.", ""]
        return "\n".join(out)

    def left_out_yml(self) -> str:
        """Each document's heading line, left out on purpose as the real seeds leave theirs."""
        out = ["passages_left_out:"]
        for sid in self.sources:
            out += [f"  - id: {sid}-heading", f"    source: {sid}", "    passage: Synthetic document.",
                    "    reason: heading"]
        return "\n".join(out)

    def disputes_yml(self) -> str:
        out = ["dispute_topics:"]
        for did in self.disputes:
            out += [f"  - id: {did}", f"    question: Did the {words(self.rng, 3)} happen?", ""]
        return "\n".join(out)

    def actors_yml(self, key: str, actors: list[tuple[str, str]]) -> str:
        rng, out = self.rng, [f"{key}:"]
        for aid, aname in actors:
            out += [f"  - id: {aid}", f"    name: {aname}"]
            if key == "groups":
                out.append(f"    kind: {rng.choice(GROUP_KINDS)}")
            out += [f"    description: {aname} {words(rng, 14)}.", "    aliases:"]
            for i in range(2):
                out.append(f"      - {{alias: {aname} {name(rng, 1)}, kind: {rng.choice(ALIAS_KINDS)}, "
                           f"source: {self.source()}}}")
            out.append("    claims:")
            out += claim(rng, "      ", self.source(), aname, quotes=self.quotes)
            out.append("")
        return "\n".join(out)

    def events_yml(self, first: int, last: int) -> str:
        rng, out = self.rng, ["events:"]
        for i in range(first, last):
            place, country, lat, lon = rng.choice(PLACES)
            group, gname = rng.choice(self.groups)
            title = f"{rng.choice(WORDS).capitalize()} {rng.choice(WORDS)} near {place}"
            eid = f"ev-{i:06d}-{slug(place)}"
            low = rng.randint(0, 20)
            out += [f"  - id: {eid}", f"    title: {title}",
                    f"    event_type: {rng.choice(EVENT_TYPES)}",
                    *date_fields(rng, "    "),
                    f"    place: {place}", f"    country: {country}",
                    f"    latitude: {lat + rng.uniform(-0.2, 0.2):.4f}",
                    f"    longitude: {lon + rng.uniform(-0.2, 0.2):.4f}",
                    f"    geo_precision: {rng.choice(('exact', 'near', 'district'))}",
                    f"    fatalities_low: {low}", f"    fatalities_high: {low + rng.randint(0, 10)}",
                    f"    description: {title}, {words(rng, 8)}.",
                    "    claims:"]
            # The first claim also supports the participants (a YAML anchor, as in seeds/).
            anchor = f"c{i}"
            dispute = rng.choice(self.disputes) if rng.random() < 0.02 else None
            for n, source in enumerate(rng.sample(self.sources, 3)):
                out += claim(rng, "      ", source, gname, anchor if n == 0 else "",
                             dispute if n < 2 else None, self.quotes)
            out.append("    groups:")
            out += [f"      - group: {group}", f"        role: {rng.choice(EVENT_ROLES)}",
                    f"        claims: [*{anchor}]"]
            if rng.random() < 0.5:
                person, _ = rng.choice(self.people)
                out += ["    people:", f"      - person: {person}",
                        f"        role: {rng.choice(EVENT_ROLES)}", f"        claims: [*{anchor}]"]
            out.append("")
        return "\n".join(out)

    def memberships_yml(self) -> str:
        rng, out = self.rng, ["memberships:"]
        for i, (person, pname) in enumerate(self.people):
            group, _ = rng.choice(self.groups)
            role = rng.choice(MEMBERSHIP_ROLES)
            out += [f"  - id: mem-{i:05d}", f"    person: {person}", f"    group: {group}",
                    f"    role: {role}", *span_fields(rng, "    "), "    claims:"]
            out += claim(rng, "      ", self.source(), pname, quotes=self.quotes)
            out.append("")
        return "\n".join(out)

    def relations_yml(self) -> str:
        rng, out = self.rng, ["group_relations:"]
        for i, (group, gname) in enumerate(self.groups):
            other, _ = rng.choice([g for g in self.groups[max(0, i - 5):i + 6] if g[0] != group])
            out += [f"  - id: rel-{i:05d}", f"    group: {group}",
                    f"    relation: {rng.choice(RELATIONS)}", f"    related_group: {other}",
                    *span_fields(rng, "    "), "    claims:"]
            out += claim(rng, "      ", self.source(), gname, quotes=self.quotes)
            out.append("")
        return "\n".join(out)


def docs_folder(seeds: Path) -> Path:
    """Where generate() writes the corpus's documents: beside its seeds, as ../shared/seeds is."""
    return seeds.with_name(seeds.name + "-docs")


def generate(events: int, out: Path, per_file: int | None = None, seed: int = 6) -> list[Path]:
    """Write the corpus into `out` (emptied first), and each source's document, holding
    its claims' quotes, into docs_folder(out); returns the seed files written.

    Events go in files of `per_file` (default: a tenth of them, 100 to 1,000 a file).
    """
    per_file = per_file or max(100, min(1000, events // 10))
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.yml"):
        old.unlink()
    c = Corpus(events, seed)
    files = {
        "sources.yml": c.sources_yml(),
        "disputes.yml": c.disputes_yml(),
        "groups.yml": c.actors_yml("groups", c.groups),
        "people.yml": c.actors_yml("people", c.people),
        "memberships.yml": c.memberships_yml(),
        "relations.yml": c.relations_yml(),
        "passages-left-out.yml": c.left_out_yml(),
    }
    for n, first in enumerate(range(0, events, per_file), 1):
        files[f"events-{n:04d}.yml"] = c.events_yml(first, min(events, first + per_file))
    written = []
    for fname, text in files.items():
        path = out / fname
        path.write_text(f"# Synthetic records for benchmarks (bench/generate.py); not real events.\n{text}\n")
        written.append(path)
    docs = docs_folder(out)
    docs.mkdir(exist_ok=True)
    for old in docs.glob("*.txt"):
        old.unlink()
    for source in c.sources:
        (docs / f"{source}.txt").write_text("Synthetic document.\n\n" + "\n\n".join(c.quotes.get(source, [])) + "\n")
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=None, help="default: bench/out/seeds-EVENTS")
    ap.add_argument("--per-file", type=int, default=None, help="events per events-NNNN.yml file")
    ap.add_argument("--seed", type=int, default=6)
    args = ap.parse_args(argv)
    out = args.out or ROOT / "bench" / "out" / f"seeds-{args.events}"
    files = generate(args.events, out, args.per_file, args.seed)
    size = sum(p.stat().st_size for p in files)
    print(f"wrote {len(files)} files, {size / 1e6:.1f} MB, to {out}; documents to {docs_folder(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
