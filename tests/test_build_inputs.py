"""The build under hostile or unlucky input: it never destroys its inputs, never hangs or
leaves processes and files behind, says what went wrong in one line per problem, checks
every quote against its document, and its cache never serves content other than the
files' own (build_db.py, seedparse.py, quotes.py, cache.py, files.py)."""
from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import build_db
import files
from conftest import ROOT
from test_validation import BASE, events, write_docs

pytestmark = pytest.mark.serial  # timed or bounded: run alone (Makefile, `make test`)

sys.path.insert(0, str(ROOT / "bench"))
import generate  # noqa: E402

BUILD = [sys.executable, str(ROOT / "build_db.py")]


def small_seeds(folder: Path) -> Path:
    """The validation tests' good records and their document, in `folder`."""
    seeds = folder / "seeds"
    seeds.mkdir(parents=True)
    (seeds / "base.yml").write_text(BASE)
    (seeds / "events.yml").write_text(events())
    write_docs(folder)
    return seeds


def run(args, cwd, **kwargs):
    return subprocess.run(BUILD + args, cwd=cwd, capture_output=True, text=True, timeout=120, **kwargs)


def one_problem(result, expected: str) -> None:
    """Exit 1, no traceback, and the problem said in one `file: message` line."""
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("note: ")]
    assert lines[0] == expected, result.stderr
    assert lines[1:] in ([], ["1 error(s); imu.db was not changed"]), result.stderr


def test_a_link_out_of_the_seeds_folder_is_refused_unread(tmp_path):
    """A seed that is a link to a file elsewhere is refused without being read: nothing of
    that file reaches the errors. A link to another file in the folder is a seed like any."""
    seeds = small_seeds(tmp_path)
    secret = tmp_path / "secret.yml"
    secret.write_text("events:\n  - id: TOP-SECRET-PASSWORD-42\n")
    (seeds / "elsewhere.yml").symlink_to(secret)
    (seeds / "up.yml").symlink_to("../secret.yml")
    for flags in ([], ["--no-cache"]):
        result = run(["--seeds", "seeds", "--out", "imu.db", "--docs", "docs", *flags], tmp_path)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert "TOP-SECRET" not in result.stderr + result.stdout
        for name in ("elsewhere", "up"):
            assert f"seeds/{name}.yml: is a link to a file outside the seeds folder; not read" in result.stderr
    assert not (tmp_path / "imu.db").exists()
    (seeds / "elsewhere.yml").unlink()
    (seeds / "up.yml").unlink()
    (seeds / "events.yml").rename(seeds / ".events-real.yml")  # hidden: not a seed of its own
    (seeds / "events.yml").symlink_to(".events-real.yml")  # a link within the folder: read
    result = run(["--seeds", "seeds", "--out", "imu.db", "--docs", "docs"], tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("line", [5, 30])
def test_one_structural_mistake_is_one_error(tmp_path, line):
    """One line of the real groups.yml indented one space too few: one error at its line, and
    a note that references into the unreadable file were not checked (they were 188 errors)."""
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")
    path = tmp_path / "seeds" / "groups.yml"
    lines = path.read_text().splitlines(keepends=True)
    assert lines[line - 1].startswith(" ")
    lines[line - 1] = lines[line - 1][1:]
    path.write_text("".join(lines))
    result = run(["--seeds", "seeds", "--out", "imu.db", "--docs", str(build_db.DOCS)], tmp_path)
    out = result.stderr.splitlines()
    assert result.returncode == 1 and len(out) == 3, result.stderr
    assert out[0].startswith(f"seeds/groups.yml:{line + 1}: YAML syntax error") or \
        out[0].startswith(f"seeds/groups.yml:{line}: YAML syntax error"), out[0]
    assert out[1].startswith("note: ") and "seeds/groups.yml could not be read" in out[1]
    assert out[2] == "1 error(s); imu.db was not changed"


def test_a_flood_of_errors_prints_the_first_ones_and_a_count(tmp_path):
    """5,000 bad records: the first 200 errors, then how many more, then the total."""
    seeds = small_seeds(tmp_path)
    (seeds / "flood.yml").write_text("people:\n" + "".join(f"  - id: p{i}\n    name: 7\n    bogus: 1\n" for i in range(5000)))
    result = run(["--seeds", "seeds", "--out", "imu.db", "--docs", "docs"], tmp_path)
    lines = result.stderr.splitlines()
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(lines) <= 203, len(lines)
    total = int(lines[-1].split(" error(s)")[0].replace(",", ""))
    assert total >= 5000
    assert lines[-2] == f"... and {total - 200:,} more, not shown: mend the first ones and build again"
    assert all(line.startswith("seeds/flood.yml:") for line in lines[:200] if not line.startswith("note: "))


def test_running_out_of_memory_on_a_seed_is_a_file_message(tmp_path):
    """A seed of four million list items, parsed under a 900 MB address-space limit: one
    `file:line: message` line and exit 1, never a MemoryError traceback."""
    import resource

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "big.yml").write_text("events:\n" + "- x\n" * 4_000_000)

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (900_000_000, 900_000_000))

    result = run(["--seeds", "seeds", "--out", "imu.db", "--no-cache"], tmp_path, preexec_fn=cap)
    assert result.returncode == 1 and "Traceback" not in result.stderr and "MemoryError" not in result.stderr
    assert "seeds/big.yml:1: out of memory reading this file" in result.stderr, result.stderr[-500:]


# ---------------------------------------------------------------- --out never destroys an input

@pytest.mark.parametrize("out, problem", [
    ("seeds/people.yml", "is inside the seeds folder seeds; the database goes elsewhere"),
    ("seeds/new.db", "is inside the seeds folder seeds; the database goes elsewhere"),
    ("notes.txt", "exists and is not an SQLite database; it would be overwritten"),
    ("folder", "is a folder; name the database file to write"),
])
def test_out_that_would_destroy_something_is_refused(tmp_path, out, problem):
    seeds = small_seeds(tmp_path)
    (seeds / "people.yml").write_text("people: []\n")
    (tmp_path / "notes.txt").write_text("my notes\n")
    (tmp_path / "folder").mkdir()
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    result = run(["--seeds", "seeds", "--out", out, "--docs", "docs"], tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[0] == f"{out}: {problem}"
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_an_existing_database_may_be_replaced(tmp_path):
    small_seeds(tmp_path)
    assert run(["--seeds", "seeds", "--out", "imu.db", "--docs", "docs"], tmp_path).returncode == 0
    assert run(["--seeds", "seeds", "--out", "imu.db", "--docs", "docs", "--no-cache"], tmp_path).returncode == 0


# ---------------------------------------------------------------- OS-level problems: one line each

@pytest.mark.parametrize("case", ["symlink loop", "broken symlink", "folder", "fifo", "unreadable"])
def test_a_seed_entry_that_cannot_be_read_is_one_line(tmp_path, case):
    seeds = small_seeds(tmp_path)
    bad = seeds / "bad.yml"
    expected = {
        "symlink loop": "symbolic link loop",
        "broken symlink": "broken symbolic link (to 'missing.yml')",
        "folder": "is a folder, not a seed file",
        "fifo": "is a FIFO, not a seed file",
        # a file that stats as regular and readable, and fails when read (even as root,
        # which permissions do not stop): outside the folder, it is not even tried
        "unreadable": "is a link to a file outside the seeds folder; not read (copy the file into it)",
    }[case]
    if case == "symlink loop":
        bad.symlink_to("bad.yml")
    elif case == "broken symlink":
        bad.symlink_to("missing.yml")
    elif case == "folder":
        bad.mkdir()
    elif case == "fifo":
        os.mkfifo(bad)
    else:
        bad.symlink_to("/proc/self/mem")
    for flags in ([], ["--no-cache"]):
        result = run(["--seeds", "seeds", "--out", "imu.db", "--docs", "docs", *flags], tmp_path)
        one_problem(result, f"seeds/bad.yml: {expected}")
    assert not (tmp_path / "imu.db").exists()


def test_an_out_folder_that_cannot_be_written_is_one_line(tmp_path):
    """/sys refuses new files, even to root (whom a read-only mode would not stop)."""
    small_seeds(tmp_path)
    result = run(["--seeds", "seeds", "--out", "/sys/imu.db", "--docs", "docs"], tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.splitlines()[0] in ("/sys/imu.db: cannot write here: Permission denied",
                                             "/sys/imu.db: cannot write here: Read-only file system")


def test_seeds_naming_a_file_is_one_line(tmp_path):
    seeds = small_seeds(tmp_path)
    result = run(["--seeds", "seeds/base.yml", "--out", "imu.db"], tmp_path)
    assert (result.returncode, result.stderr) == (1, "seeds/base.yml: --seeds must name a folder of *.yml files, "
                                                     "not a file\n")
    assert seeds.exists()


def test_editor_lock_and_hidden_files_are_not_seeds(tmp_path):
    seeds = small_seeds(tmp_path)
    (seeds / ".#events.yml").symlink_to("root@host.1234:1700000000")  # as Emacs leaves them
    (seeds / ".events.yml.swp.yml").write_text("not: [valid")
    (seeds / "events.yml~").write_text("not: [valid")
    result = run(["--seeds", "seeds", "--out", "imu.db", "--docs", "docs"], tmp_path)
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------- clean exits

@pytest.fixture(scope="module")
def big_corpus(tmp_path_factory) -> Path:
    """Enough generated records that a build takes a few seconds on two parser processes."""
    seeds = tmp_path_factory.mktemp("big") / "seeds"
    generate.generate(6000, seeds, per_file=500)
    return seeds


def build_processes(marker: str) -> list[int]:
    """Processes whose command line holds `marker` (the build and its parser processes)."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker.encode() in cmdline.read_bytes() and int(cmdline.parent.name) != os.getpid():
                pids.append(int(cmdline.parent.name))
        except OSError:
            pass
    return pids


def start_build(seeds: Path, out: Path) -> subprocess.Popen:
    # A shell starts background jobs with SIGINT ignored, and Python then keeps ignoring it:
    # give the build Ctrl-C's default, however the test run itself was started.
    proc = subprocess.Popen(BUILD + ["--seeds", str(seeds), "--out", str(out), "--jobs", "2",
                                     "--docs", str(generate.docs_folder(seeds))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 30
    while len(build_processes(str(out))) < 3:  # the build and its two parser processes
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.05)
    time.sleep(0.5)
    return proc


def gone(marker: str, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while build_processes(marker):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.mark.parametrize("signum, code, word", [(signal.SIGTERM, 143, "terminated"),
                                                (signal.SIGINT, 130, "interrupted")])
def test_sigterm_and_ctrl_c_clean_up_and_say_so(big_corpus, tmp_path, signum, code, word):
    out = tmp_path / "imu.db"
    proc = start_build(big_corpus, out)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr
    assert stderr.strip().endswith(f"{word}; {out} was not changed")
    assert "Traceback" not in stderr
    assert gone(str(out))
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp") or "-journal" in p.name] == []


def test_a_killed_build_leaves_no_process_and_the_next_sweeps_its_files(big_corpus, tmp_path):
    out = tmp_path / "imu.db"
    proc = start_build(big_corpus, out)
    proc.kill()
    proc.wait()
    assert gone(str(out)), "parser processes outlived the killed build"
    left = [p for p in tmp_path.iterdir() if p.name.startswith(".imu.db.") and ".tmp" in p.name]
    assert left, "the kill came too late to leave anything: nothing shown"
    build_db.build(big_corpus, out, docs=generate.docs_folder(big_corpus))
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".imu.db.") and ".tmp" in p.name] == []


def test_a_running_builds_temporary_files_are_left_alone(tmp_path):
    mine = tmp_path / f".imu.db.{os.getpid()}.abc.tmp"
    mine.write_text("in use")
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f".imu.db.{dead.pid}.def.tmp"
    stale.write_text("left by a killed build")
    files.sweep(tmp_path, "imu.db")
    assert mine.exists() and not stale.exists()


# ---------------------------------------------------------------- the build checks quotes itself

QUOTE_CASES = [
    ("not in the document", "quote: Something happened.", "quote: Something else happened.",
     "events[1].claims[0].quote: not found in doc.txt: 'Something else happened.'; the closest passage "
     "(84% alike) reads 'Something happened.'; differs: 'else', which the document does not have there"),
    ("one letter wrong, after an omission", "quote: Something happened.", "quote: They did it. ... Something hapened.",
     "events[1].claims[0].quote: not found in doc.txt: 'They did it. ... Something hapened.'; the closest "
     "passage (94% alike) reads 'Something happened.'; differs: 'hapened.' where the document has 'happened.'"),
    ("a word left out", "quote: Something happened.", "quote: A exists. They did it.",
     "events[1].claims[0].quote: not found in doc.txt: 'A exists. They did it.'; the closest passage (95% alike) "
     "reads 'A group exists. They did it.'; differs: the document has 'group' before 'exists.'"),
    ("nothing like it", "quote: Something happened.", "quote: Zebras quietly juggle xylophones.",
     "events[1].claims[0].quote: not found in doc.txt: 'Zebras quietly juggle xylophones.'; no passage of "
     "the document is close to it"),
    ("markup", "quote: Something happened.", "quote: Something [happened](#) [4].",
     "events[1].claims[0].quote: carries link markup or a reference marker; quote the words as a reader sees them"),
]


@pytest.mark.parametrize("name, old, new, message", QUOTE_CASES, ids=[c[0] for c in QUOTE_CASES])
def test_a_quote_its_document_does_not_hold_is_an_error_at_its_line(tmp_path, monkeypatch, name, old, new, message):
    seeds = small_seeds(tmp_path)
    text = events(old, new)
    (seeds / "events.yml").write_text(text)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(build_db.BuildError) as exc:
        build_db.build(Path("seeds"), tmp_path / "imu.db", docs=Path("docs"))
    lines = text.splitlines()
    claim = next(i for i, s in enumerate(lines) if new.split(": ", 1)[1] in s and "id: ev-1" in "\n".join(lines[:i]))
    start = next(i for i in range(claim, -1, -1) if lines[i].lstrip().startswith("- "))
    assert exc.value.errors == [f"seeds/events.yml:{start + 1}: {message}"]


@pytest.mark.parametrize("document, problem", [
    ("/etc/passwd", "'/etc/passwd' is not a file name (no folders or paths)"),
    ("../seeds/base.yml", "'../seeds/base.yml' is not a file name (no folders or paths)"),
    ("missing.txt", "'missing.txt' is not a file in docs"),
])
def test_document_must_name_a_file_in_the_documents_folder(tmp_path, monkeypatch, document, problem):
    seeds = small_seeds(tmp_path)
    (seeds / "base.yml").write_text(BASE.replace("document: doc.txt", f"document: {document}"))
    monkeypatch.chdir(tmp_path)
    opened = []
    real_read_text = Path.read_text
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: opened.append(str(self)) or real_read_text(self, *a, **k))
    with pytest.raises(build_db.BuildError) as exc:
        build_db.build(Path("seeds"), tmp_path / "imu.db", docs=Path("docs"))
    assert exc.value.errors == [f"seeds/base.yml:2: sources[0].document: {problem}"]
    assert not [p for p in opened if "passwd" in p or p.endswith("base.yml")]


def test_a_claim_whose_source_has_no_document_is_an_error_unless_a_cited_work(tmp_path, monkeypatch):
    seeds = small_seeds(tmp_path)
    (seeds / "more.yml").write_text(
        "sources:\n"
        "  - {id: cited, title: Cited, kind: news-article, cited_by: src}\n"
        "  - {id: loose, title: Loose, kind: news-article}\n"
        "people:\n"
        "  - id: p2\n    name: B\n    description: B.\n    claims:\n"
        "      - {source: cited, quote: They did it., statement: S., certainty: stated}\n"
        "      - {source: loose, quote: They did it., statement: S., certainty: stated}\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(build_db.BuildError) as exc:
        build_db.build(Path("seeds"), tmp_path / "imu.db", docs=Path("docs"))
    assert exc.value.errors == ["seeds/more.yml:10: people[0].claims[1].source: 'loose' has no document and is "
                                "not a cited work (cited_by) of a source that has one"]


def test_the_real_seeds_quote_their_documents_without_markup(db_path):
    con = sqlite3.connect(db_path)
    assert con.execute("select count(*) from claims where quote_offset is null").fetchone() == (0,)
    assert con.execute("select count(*) from claims where quote like '%](%' or quote glob '*[[][0-9]*]*'"
                       ).fetchone() == (0,)


# ---------------------------------------------------------------- the cache never lies

def dump(path: Path) -> str:
    return subprocess.run(["sqlite3", str(path), ".dump"], capture_output=True, text=True, check=True).stdout


def test_a_file_edited_during_a_build_then_put_back_is_built_as_it_is(tmp_path, monkeypatch):
    seeds = small_seeds(tmp_path)
    docs = tmp_path / "docs"
    out = tmp_path / "imu.db"
    original = (seeds / "events.yml").read_text()
    real_keys = build_db.file_keys

    def keys_then_edit(store, labels):
        keys = real_keys(store, labels)  # the build has read the file for its key...
        (seeds / "events.yml").write_text(original.replace("title: An attack", "title: Edited meanwhile"))
        return keys  # ...and parses it after this edit

    with monkeypatch.context() as m:
        m.setattr(build_db, "file_keys", keys_then_edit)
        build_db.build(seeds, out, docs=docs)
    (seeds / "events.yml").write_text(original)  # put back
    build_db.build(seeds, out, docs=docs)
    titles = {r[0] for r in sqlite3.connect(out).execute("select title from events")}
    assert titles == {"An attack"}
    assert dump(out) == dump_of_full_build(seeds, docs, tmp_path)


def dump_of_full_build(seeds: Path, docs: Path, folder: Path) -> str:
    full = folder / "full" / "imu.db"
    build_db.build(seeds, full, cache=False, docs=docs)
    return dump(full)


def test_incremental_builds_of_the_real_seeds_dump_like_full_builds(tmp_path, monkeypatch):
    seeds = tmp_path / "seeds"
    shutil.copytree(ROOT / "seeds", seeds)
    out = tmp_path / "imu.db"
    build_db.build(seeds, out)
    memberships = (seeds / "memberships.yml").read_text()
    head, first, rest = memberships.split("\n  - ", 2)
    steps = [
        [("groups.yml", "description: ", "description: Edited. ")],
        [("people.yml", "description: ", "description: Edited. ")],
        [("memberships.yml", "role: leader", "role: member")],
        # a claim's words of its own: the documents' sentences stand as they were
        [("groups.yml", "statement: ", "statement: Edited. ")],
        # a passage left out in place of another: the date line becomes unaccounted
        [("passages-left-out.yml", "passage: Monday, April 14, 2014\n",
          "passage: Has the Islamic Movement of Uzbekistan Returned?\n")],
        # a membership, with its claims, moved from one file to another
        [("memberships.yml", "\n  - " + first, ""),
         ("relations.yml", "\ngroup_relations:", "\nmemberships:\n  - " + first + "\ngroup_relations:")],
    ]
    for n, edits in enumerate(steps):
        for name, old, new in edits:
            path = seeds / name
            assert old in path.read_text()
            path.write_text(path.read_text().replace(old, new, 1))
        with monkeypatch.context() as m:
            m.setattr(build_db, "load", lambda *a, **k: pytest.fail("a full build instead of an update"))
            build_db.build(seeds, out)
        assert dump(out) == dump_of_full_build(seeds, build_db.DOCS, tmp_path / f"step-{n}")


def test_a_bad_quote_and_a_dangling_reference_are_reported_together(tmp_path, monkeypatch):
    seeds = small_seeds(tmp_path)
    (seeds / "events.yml").write_text(events("quote: Something happened.", "quote: Nothing happened.")
                                      .replace("group: grp", "group: nobody", 1))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(build_db.BuildError) as exc:
        build_db.build(Path("seeds"), tmp_path / "imu.db", docs=Path("docs"))
    assert [e.split(": ", 1)[1] for e in exc.value.errors] == [
        "events[0].groups[0].group: 'nobody' is not the id of any record in groups",
        "events[1].claims[0].quote: not found in doc.txt: 'Nothing happened.'; the closest passage "
        "(88% alike) reads 'Something happened.'; differs: 'Nothing' where the document has 'Something'",
    ]


def test_a_damaged_cache_part_is_made_again(tmp_path):
    seeds = small_seeds(tmp_path)
    out = tmp_path / "imu.db"
    build_db.build(seeds, out, docs=tmp_path / "docs")
    full = dump(out)
    for part in (tmp_path / ".imu.db.cache").glob("*.part"):
        part.write_bytes(b"not a pickle")
    (seeds / "events.yml").write_text(events().replace("title: An attack", "title: Another attack", 1))
    build_db.build(seeds, out, docs=tmp_path / "docs")  # the update finds the old part damaged
    out.unlink()
    for part in (tmp_path / ".imu.db.cache").glob("*.part"):
        part.write_bytes(part.read_bytes()[:10])
    build_db.build(seeds, out, docs=tmp_path / "docs")  # every part damaged: all made again
    assert dump(out) == dump_of_full_build(seeds, tmp_path / "docs", tmp_path) != full
