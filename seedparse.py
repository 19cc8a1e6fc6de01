"""Reading one seed file: YAML with line numbers, refusals of what would stall or crash.

Values are read by YAML 1.2's core schema, not PyYAML's YAML 1.1: `012` is 12 (not octal
10), `1:20` is the text "1:20" (not 80, in base 60), `NO`, `yes`, `on` and `off` are text
(not booleans), `1_000` is text, and so is an unquoted date. Only `true`/`false`, `null`/`~`,
decimal, `0o` octal and `0x` hex integers and decimal floats (with `.inf` and `.nan`) are
anything but text.

The C loader (libyaml) keeps each mapping's and list's line for error messages, and
duplicate keys are reported instead of silently keeping the last. A document must be
shallow enough for libyaml's recursive composer, and its merge keys may copy at most
MAX_MERGED keys: a chain of `x: &b {<<: [*a, *a]}` doubles them at every line. An
alias is the node it names, built once; re-reading the same records through aliases
is bounded by the validation (build_db.check_record).
"""
from __future__ import annotations

import re
import reprlib

import yaml

MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_DEPTH = 1000  # libyaml's C composer recurses and crashes the process somewhere past 20,000
MAX_MERGED = 100_000  # keys that merge keys (`<<:`) may copy into a file's mappings, in all


class TooBig(Exception):
    """Aliases or merge keys would make a small file expensive; raised with the line."""

    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.line = line


class Mapping(dict):
    """A YAML mapping that remembers the line of each of its keys, and keys given twice."""

    __slots__ = ("line", "key_lines", "duplicates")

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class SeedLoader(yaml.CSafeLoader):
    """The C loader, keeping line numbers and refusing duplicate keys."""

    def __init__(self, stream):
        super().__init__(stream)
        self.with_duplicates: list[Mapping] = []
        self.merged = 0

    def flatten_mapping(self, node):
        """PyYAML's merge, counting the keys it copies: a chain of `<<: [*a, *a]` doubles
        them at each link, and is stopped once they pass MAX_MERGED."""
        before = len(node.value)
        super().flatten_mapping(node)
        self.merged += max(0, len(node.value) - before)
        if self.merged > MAX_MERGED:
            raise TooBig(f"merge keys (<<) copy more than {MAX_MERGED:,} keys in this file", node.start_mark.line + 1)

    def construct_mapping(self, node, deep=False):
        mapping = Mapping()
        mapping.line = node.start_mark.line + 1
        mapping.key_lines = {}
        mapping.duplicates = []  # (line, key); check_record reports them with the field path
        seen = set()
        for key_node, _ in node.value:  # the mapping's own keys, before any `<<:` merge
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = key_node.value if isinstance(key_node.value, str) else repr(key_node.value)
            if key in seen:
                mapping.duplicates.append((key_node.start_mark.line + 1, key))
            seen.add(key)
        if mapping.duplicates:
            self.with_duplicates.append(mapping)
        self.flatten_mapping(node)  # merged keys come first, so the mapping's own win
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str):
                key = str(key)
            mapping[key] = self.construct_object(value_node, deep=deep)
            mapping.key_lines[key] = key_node.start_mark.line + 1
        return mapping


class Sequence(list):
    """A YAML list that remembers the line of each of its items."""

    __slots__ = ("line", "item_lines")

    def line_of(self, i: int) -> int:
        return self.item_lines[i] if i < len(self.item_lines) else self.line


def construct_sequence(loader, node):
    seq = Sequence()
    seq.line = node.start_mark.line + 1
    seq.item_lines = [n.start_mark.line + 1 for n in node.value]
    yield seq  # filled in afterwards, so a list may contain itself, as in PyYAML
    seq.extend(loader.construct_sequence(node))


# YAML 1.2's core schema (yaml.org/spec/1.2.2, 10.3.2): (tag, pattern, possible first characters)
CORE_SCHEMA = [
    ("tag:yaml.org,2002:null", r"~|null|Null|NULL|", "~nN"),
    ("tag:yaml.org,2002:bool", r"true|True|TRUE|false|False|FALSE", "tTfF"),
    ("tag:yaml.org,2002:int", r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+", "-+0123456789"),
    ("tag:yaml.org,2002:float", r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                                r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)", "-+.0123456789"),
    ("tag:yaml.org,2002:merge", r"<<", "<"),  # not in YAML 1.2, but the seeds' grammar has it
]


def use_core_schema(cls) -> None:
    """Give a PyYAML loader or dumper class the core schema's resolvers in place of YAML 1.1's."""
    cls.yaml_implicit_resolvers = {}
    for tag, pattern, first in CORE_SCHEMA:
        cls.add_implicit_resolver(tag, re.compile(f"^(?:{pattern})$"),
                                  list(first) + ([""] if tag.endswith(":null") else []))


class SeedDumper(yaml.SafeDumper):
    """PyYAML's dumper, deciding by the same YAML 1.2 core rules which text must be quoted:
    YAML 1.1's would write `0E0` or `1e5` plain, which the core schema reads as a number."""


use_core_schema(SeedLoader)
use_core_schema(SeedDumper)


def dump(data, **options) -> str:
    """Records as seed YAML that read back exactly (tests and tools that write seeds)."""
    return yaml.dump(data, Dumper=SeedDumper, allow_unicode=True, **options)


def construct_core_int(loader, node):
    """An integer as YAML 1.2 reads it: decimal (a leading 0 too), 0o octal or 0x hex."""
    text = loader.construct_scalar(node)
    if text.startswith(("0o", "0x")):
        return int(text[2:], 8 if text[1] == "o" else 16)
    try:
        return int(text, 10)
    except ValueError:  # an explicit !!int tag on something else: YAML 1.1's forms are not read
        raise yaml.constructor.ConstructorError(None, None, f"{text!r} is not a YAML 1.2 integer",
                                                node.start_mark) from None


SeedLoader.add_constructor("tag:yaml.org,2002:int", construct_core_int)
SeedLoader.add_constructor("tag:yaml.org,2002:map", SeedLoader.construct_mapping)
SeedLoader.add_constructor("tag:yaml.org,2002:seq", construct_sequence)
# Unquoted dates stay text: PyYAML would raise on 2001-13-45, and check_value
# gives a better message about the field than the parser could.
SeedLoader.add_constructor("tag:yaml.org,2002:timestamp", SeedLoader.construct_yaml_str)


class _ShortRepr(reprlib.Repr):
    """repr() cut short, so a huge or self-referencing value cannot stall an error message."""

    def __init__(self):
        super().__init__()
        self.maxlevel, self.maxlist, self.maxdict, self.maxstring, self.maxother = 2, 4, 4, 60, 60

    def repr_Mapping(self, x, level):
        return self.repr_dict(x, level)

    def repr_Sequence(self, x, level):
        return self.repr_list(x, level)


_short_repr = _ShortRepr()


def short(value) -> str:
    """A value's type and a bounded repr, for error messages."""
    kind = {dict: "mapping", Mapping: "mapping", list: "list", Sequence: "list",
            type(None): "null"}.get(type(value), type(value).__name__)
    return f"{kind} {_short_repr.repr(value)}"


def line_of(node, key=None):
    """The line of a mapping or list, or of one of its keys or items; "?" in what the fast
    reader read, which keeps no lines (a file is read again with lines before any of its
    errors is shown: build_db.check_file, build_db.lined_parts)."""
    if isinstance(node, (Mapping, Sequence)):
        return node.line if key is None else node.line_of(key)
    return "?"


def read_seed(data: bytes, label: str, fast: bool = False) -> tuple[object, list[str], list[Mapping], int | None]:
    """Parse one seed file's bytes; syntax, encoding and size problems come back as errors.

    Also returns the mappings that have a key twice, for check_file to report. With `fast`,
    a file read_fast() can read comes back as plain dicts and lists, without lines, with
    its key_colons() (None otherwise).
    """
    if len(data) > MAX_FILE_BYTES:
        return None, [f"{label}:1: file is {len(data)} bytes, more than the {MAX_FILE_BYTES} allowed"], [], None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, [f"{label}:{line}: file is not UTF-8 (byte {data[exc.start]:#04x} at offset {exc.start})"], [], None
    if not text.strip():
        return None, [f"{label}:1: file is empty; expected a mapping such as 'events: [...]'"], [], None
    deep = too_deep(text)
    if deep:
        return None, [f"{label}:{deep}: YAML nesting is deeper than {MAX_DEPTH} levels"], [], None
    if fast:
        read = read_fast(text)
        if read is not None:
            return read[0], [], [], read[1]
    loader = SeedLoader(text)
    try:
        doc = loader.get_single_data()
    except TooBig as exc:
        return None, [f"{label}:{exc.line}: {exc}"], [], None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        lines = text.splitlines()
        if mark and mark.line < len(lines) and "\t" in lines[mark.line][: mark.column + 1]:
            problem += " (a tab: indent with spaces)"
        return None, [f"{label}:{line}: YAML syntax error: {problem}"], [], None
    except yaml.YAMLError as exc:
        return None, [f"{label}:1: YAML error: {exc}"], [], None
    except RecursionError:
        return None, [f"{label}:1: YAML nesting is too deep"], [], None
    finally:
        loader.dispose()
    return doc, [], loader.with_duplicates, None


def duplicate_errors(mapping: Mapping, label: str, where: str) -> list[str]:
    """Errors for the keys given twice in one mapping; reported once, then forgotten."""
    prefix = f"{where}." if where else ""
    errors = [f"{label}:{line}: {prefix}{key}: duplicate key (each key may appear once per mapping; "
              f"PyYAML would keep only the last)" for line, key in mapping.duplicates]
    mapping.duplicates = []
    return errors


def too_deep(text: str) -> int | None:
    """The line where nesting passes MAX_DEPTH, if it does.

    Each level of nesting needs a bracket or more indentation, so most files are
    cleared by counting; only the rest are walked event by event.
    """
    bound = text.count("[") + text.count("{") + 2 * max(map(len, text.splitlines()), default=0) + 2
    if bound <= 5 * MAX_DEPTH:
        return None
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.CSafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    return event.start_mark.line + 1
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        pass  # the real parse reports it with its line
    return None


# ---------------------------------------------------------------- the fast reader
#
# fastyaml-rs (in Rust) reads YAML 1.2's core schema as SeedLoader does, several times
# faster, but keeps no lines, keeps the last of two equal keys and reads only the first of
# several documents. read_fast() gives it only files where that cannot matter and says
# None to the rest, which SeedLoader reads: flow mappings, merge keys, complex keys, tags,
# directives, document markers, tabs and the line breaks YAML 1.1 and 1.2 read apart.
#
# A key given twice: every key of a block mapping (or of a pair in a flow list) has its
# own colon followed by a space, a line break or the end of the file, except a quoted key
# followed at once by its value, sent back. So `key_colons(text)`, which counts those
# colons, is at least the number of keys written, which is at least the number of keys
# read (each mapping once, however many aliases name it). build_db.check_file compares it
# with the keys of the records it validated: equal, nothing was lost; otherwise (a key
# given twice, or only a colon in a value or a comment) SeedLoader reads the file again.
# tests/test_fastread.py checks that both readers read every seed and generated file
# alike, and that each kind of file sent back is.

try:
    import fast_yaml
except ImportError:  # SeedLoader alone
    fast_yaml = None


def readers() -> str:
    """The parsers' versions: a cached part is only as good as the parser that read it."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ("PyYAML", "fastyaml-rs"):
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} none")
    return ", ".join(found)


# Each alone: one pattern of alternatives is tried at every character, ten times slower.
_NOT_FAST = (re.compile(r"[{}\t\r\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x85\u2028\u2029\ufeff]"),
             re.compile(r"[\"']:[^ \n]"), re.compile(r"\n(?:---|\.\.\.|%)"))
_TAG = re.compile(r"(?:^|[\s:,\[-])!")
_COMPLEX_KEY = re.compile(r"(?:^|\n|[\[,])[ \t]*(?:-[ \t]+)*\?(?:[ \t\n]|$)")


def read_fast(text: str) -> tuple[object, int] | None:
    """The file's document as plain dicts and lists and its key_colons(), or None where
    SeedLoader must read it."""
    if (fast_yaml is None or "<<" in text or text.startswith(("---", "...", "%"))
            or any(p.search(text) for p in _NOT_FAST) or ("!" in text and _TAG.search(text))
            or ("?" in text and _COMPLEX_KEY.search(text))):
        return None
    try:
        return fast_yaml.safe_load(text), key_colons(text)
    except Exception:  # any problem (syntax, an alias expanding past 64 MB): SeedLoader words it
        return None


def key_colons(text: str) -> int:
    return text.count(": ") + text.count(":\n") + text.endswith(":")
