"""Configuration import against hostile documents (issue 11): never a traceback, never half-applied.

Property: any document, whatever the YAML parser makes of it, is either refused -- each
problem one printable line naming the place, then one line saying nothing was stored (exit
status 2 from the command line, database unchanged) -- or accepted, and then it round-trips:
export → import gives the same configuration. (Issue 11 asked for one line; issue 13 asks
import to list every problem, as ``validate`` does: one line per problem.)

Documents come from three generators: random YAML trees written in flow style (keys that
are mappings, lists, numbers, dates, nulls; scalars of every YAML type and tag; aliases;
deep nesting; huge strings), mutations of the plain data of a valid configuration (a field
set to a random tree, removed, an unknown key added, list entries copied or dropped), and
byte-level mutations of a valid exported file. The bulk runs in process (``from_yaml`` and
the same checks the store makes); a few documents go through the real ``linebox config import``.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from config_helpers import demo, lookup, open_store
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.logs import one_line
from firmware import FirmwareError
from firmware.config import Config, from_dict, from_yaml, seed_demo, to_dict, to_yaml, validate
from firmware.config.yamlio import MAX_DEPTH, MAX_DOCUMENT_BYTES
from linebox.commands.config import import_document

ROOT = Path(__file__).resolve().parent.parent
EXPORT = to_yaml(demo())
TOP_KEYS = tuple(to_dict(demo()))
PLACE = re.compile(
    r"^(line \d+, column \d+"  # a place in the file
    r"|configuration"  # the document as a whole
    r"|(" + "|".join(TOP_KEYS) + r")\b[^:]*"  # a field's path: queues[2].name
    r"|" + r"'[^']*'|\"[^\"]*\"" + r"[^:]*"  # a key that is not a name, quoted (repr)
    r"|[^ :]+"  # a key of the file that is no field (unknown key)
    r"): ")
FUZZ = settings(max_examples=80, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def imported(text: str) -> Config | str:
    """In process, what ``linebox config import`` checks: the Config it would store, or its one-line error."""
    try:
        return validate(from_yaml(text), lookup)
    except FirmwareError as exc:
        return str(exc)


def check_outcome(text: str) -> Config | str:
    result = imported(text)
    if isinstance(result, str):
        assert result, "an empty error message"
        assert "\n" not in result and result.isprintable(), repr(result)
        assert PLACE.match(result), f"the error names no place: {result!r}"
        assert len(result) < 1000, "an error line a technician can read"
        return result
    exported = to_yaml(result)
    again = imported(exported)
    assert again == result, f"accepted, but export → import gives {again!r}"
    assert to_yaml(again) == exported
    return result


# -- random YAML trees, written in flow style ----------------------------------------------

PLAIN = ["yes", "no", "on", "off", "true", "~", "null", ".nan", "-.inf", ".inf", "0x1F", "0o17", "017",
         "1_000", "+12", "2026-01-01", "2026-01-01T10:00:00Z", "12:30", "1:20:30", "0b101", "=", "<<",
         "!!binary aGVsbG8=", "!!set {a, b}", "!!omap [a: 1, b: 2]", "!!pairs [a: 1]", "!!str 12",
         "!!int x", "!!float abc", "!!timestamp 2026-02-30", "!!python/name:os.system", "!foo bar",
         "*undefined", "&anchor x", "virtual", "us", "port", "lines", "'quoted'", "''", "\"\\x1b[2J\"",
         "\"\\0\\a\\e\\N\\_\\L\\P\"", "\"\\ud800\"", "@reserved", "`tick", "% directive", "{", "]"]


def emit(tree) -> str:
    """Flow-style YAML of ``tree``: ("map", [(key, value)...]) may have any tree as a key."""
    if isinstance(tree, tuple) and tree[0] == "map":
        return "{" + ", ".join(f"? {emit(key)} : {emit(value)}" for key, value in tree[1]) + "}"
    if isinstance(tree, tuple) and tree[0] == "plain":
        return tree[1]
    if isinstance(tree, list):
        return "[" + ", ".join(emit(item) for item in tree) + "]"
    if isinstance(tree, str):
        return json.dumps(tree)  # a JSON string is a YAML double-quoted scalar
    if isinstance(tree, float):
        return ".nan" if tree != tree else ".inf" if tree == float("inf") else "-.inf" if tree == -float("inf") \
            else repr(tree)
    if tree is None:
        return "null"
    return str(tree).lower() if isinstance(tree, bool) else str(tree)


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-10**40, max_value=10**40), st.floats(),
    st.text(max_size=20), st.text(alphabet=st.characters(max_codepoint=0x9f), max_size=8),
    st.sampled_from(TOP_KEYS), st.sampled_from(PLAIN).map(lambda plain: ("plain", plain)),
    st.sampled_from([1_000, 100_000, MAX_DOCUMENT_BYTES]).map(lambda size: "x" * size),  # huge strings
)
trees = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.lists(st.tuples(children, children), max_size=5).map(lambda pairs: ("map", pairs)),
    ),
    max_leaves=30,
)
documents = st.one_of(
    trees.map(emit),
    st.lists(st.tuples(st.sampled_from(TOP_KEYS), trees), max_size=6)
    .map(lambda pairs: emit(("map", [("linebox_config", 1), *pairs]))),
    st.text(max_size=200),
)


@settings(FUZZ, max_examples=250)  # mostly small documents, refused early: cheap
@given(documents)
def test_random_documents_are_refused_in_one_line_or_round_trip(text):
    check_outcome(text)


# -- mutations of the plain data of a valid configuration --------------------------------

dumpable = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30),
              st.sampled_from(["virtual", "us", "en", "201", "office", "support", "mon", "09:00-17:00", ""])),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=10), children, max_size=4)),
    max_leaves=12,
)


@st.composite
def mutated_data(draw):
    data = copy.deepcopy(to_dict(demo()))
    for _ in range(draw(st.integers(1, 3))):
        parent, key = None, None
        node = data
        while isinstance(node, (dict, list)) and node and (parent is None or draw(st.booleans())):
            parent = node
            key = draw(st.sampled_from(sorted(node))) if isinstance(node, dict) else draw(
                st.integers(0, len(node) - 1))
            node = parent[key]
        if parent is None:
            continue
        action = draw(st.sampled_from(["set", "set", "delete", "unknown", "copy"]))
        if action == "set":
            parent[key] = draw(dumpable)
        elif action == "delete":
            del parent[key]
        elif action == "unknown" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=12))] = draw(dumpable)
        elif action == "copy" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=draw(st.booleans()))


@FUZZ
@given(mutated_data())
def test_mutations_of_a_valid_configuration_are_refused_in_one_line_or_round_trip(text):
    check_outcome(text)


@st.composite
def mutated_text(draw):
    lines = EXPORT.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["replace", "delete", "duplicate", "insert", "indent", "chars"]))
        if action == "replace":
            key = lines[at].split(":")[0]
            lines[at] = f"{key}: {emit(draw(trees))}\n"
        elif action == "delete":
            del lines[at]
        elif action == "duplicate":
            lines.insert(at, lines[at])
        elif action == "insert":
            lines.insert(at, draw(st.text(max_size=30)) + "\n")
        elif action == "indent":
            lines[at] = " " * draw(st.integers(1, 3)) + lines[at]
        else:
            column = draw(st.integers(0, len(lines[at])))
            lines[at] = lines[at][:column] + draw(st.text(min_size=1, max_size=5)) + lines[at][column:]
        if not lines:
            break
    return "".join(lines)


@FUZZ
@given(mutated_text())
def test_byte_level_mutations_of_an_export_are_refused_in_one_line_or_round_trip(text):
    check_outcome(text)


# -- limits: depth and size -----------------------------------------------------------------

@pytest.mark.parametrize("depth", [1, 5, MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 200, 5000, 100_000])
def test_nesting_at_and_beyond_the_depth_limit(depth):
    assert EXPORT.splitlines()[2] == "board: virtual"
    lists = EXPORT.replace("board: virtual", "board: " + "[" * depth + "]" * depth, 1)
    maps = EXPORT.replace("board: virtual", "board: " + "{a: " * depth + "1" + "}" * depth, 1)
    block = EXPORT.replace("board: virtual", "board:\n  " + "- " * min(depth, 400) + "x", 1)  # - - - x
    for text, levels in ((lists, depth), (maps, depth), (block, min(depth, 400))):
        error = check_outcome(text)
        assert isinstance(error, str)
        if levels + 1 > MAX_DEPTH:  # the top mapping is the first level
            assert re.fullmatch(rf"line [34], column \d+: mappings and lists nested deeper than {MAX_DEPTH} levels",
                                error), error
        else:
            assert error.startswith("board: expected text"), error


def test_the_configuration_itself_is_far_from_the_depth_limit():
    depth = 0
    for line in EXPORT.splitlines():
        depth = max(depth, (len(line) - len(line.lstrip(" -"))) // 2 + 1)
    assert depth <= MAX_DEPTH // 2


def test_a_configuration_near_every_limit_fits_the_size_limit():
    """16 schedules of 366 holidays and 8 ranges a day, 64 lines, extensions, routes and agents,
    16 queues, every name 40 characters: the size limit must leave room for all of it."""
    data = to_dict(demo())
    schedule = dict(data["schedules"][0], hours={day: ["09:00-09:30"] * 8 for day in data["schedules"][0]["hours"]},
                    holidays=[{"date": str(dt.date(2026, 1, 1) + dt.timedelta(days=day)), "name": "N" * 40}
                              for day in range(366)])
    data["schedules"] = [dict(copy.deepcopy(schedule), name=f"s{n}") for n in range(16)]
    data["lines"] = [dict(data["lines"][0], port=n, name="L" * 40) for n in range(64)]
    data["extensions"] = [dict(data["extensions"][0], number=str(100 + n), port=n, name="E" * 40) for n in range(64)]
    data["routes"] = [dict(data["routes"][0], name="R" * 40) for _ in range(64)]
    data["queues"] = [dict(data["queues"][0], name=f"q{n}", number=str(700 + n)) for n in range(16)]
    data["agents"] = [dict(data["agents"][0], id=str(1000 + n), name="A" * 40, queues={f"q{q}": 0 for q in range(16)})
                      for n in range(64)]
    config = from_dict(data)
    text = to_yaml(config)
    assert 400_000 < len(text.encode()) < MAX_DOCUMENT_BYTES * 0.6
    assert from_yaml(text) == config


def test_size_limit_in_bytes():
    filler = "# " + "x" * 78 + "\n"
    body = EXPORT
    padding = MAX_DOCUMENT_BYTES - len(body.encode())
    at_limit = body + filler * (padding // len(filler)) + "#" * (padding % len(filler))
    assert len(at_limit.encode()) == MAX_DOCUMENT_BYTES
    assert imported(at_limit) == demo()
    over = at_limit + "#"
    assert imported(over) == f"configuration: the document is larger than the limit of {MAX_DOCUMENT_BYTES} bytes"
    multibyte = body + "# " + "é" * (MAX_DOCUMENT_BYTES // 2) + "\n"  # counted in UTF-8 bytes, not characters
    assert imported(multibyte).startswith("configuration: the document is larger")
    huge_value = EXPORT.replace("board: virtual", "board: " + "v" * 900_000, 1)
    assert imported(huge_value).startswith("board: ")


@pytest.mark.parametrize(("text", "error"), [
    ("? {a: 1}\n: x\n", "line 1, column 3: a key must be text, got a mapping"),
    ("? [1, 2]\n: x\n", "line 1, column 3: a key must be text, got a list"),
    ("linebox_config: 1\n1: x\n", "line 2, column 1: a key must be text, got 1 (put it in quotes)"),
    ("linebox_config: 1\nyes: x\n", "line 2, column 1: a key must be text, got True (put it in quotes)"),
    ("a: &x {b: 1}\n<<: *x\n", "line 2, column 1: merge keys (<<) are not part of the configuration format"),
    ("\x00", "line 1, column 1: character U+0000 is not allowed in YAML (a control character?)"),
    ("board: virtual\nzone: \x1b[2J\n", "line 2, column 7: character U+001B is not allowed in YAML "
                                         "(a control character?)"),
    ("linebox_config: 1\n\"a\\nb\\e[2J\": 1\n", "'a\\nb\\x1b[2J': unknown key (known: board, zone, language, "),
    (EXPORT.replace("board: virtual", 'board: "\\e[2J"'), "board: '\\x1b[2J' is not a board name"),
])
def test_hostile_keys_and_characters_are_named_in_one_line(text, error):
    result = check_outcome(text)
    assert isinstance(result, str) and result.startswith(error), result


# -- the real command line: exit status 2, one line, nothing applied -------------------------

def dump(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


HOSTILE_FILES = {
    "mapping_key.yaml": b"? {a: 1}\n: x\n",
    "deep.yaml": b"linebox_config: 1\nboard: " + b"[" * 100_000 + b"]" * 100_000 + b"\n",
    "set_key.yaml": b"linebox_config: 1\n? !!set {a, b}\n: 1\n",
    "escape.yaml": b"board: virtual\nzone: \x1b[2J\n",
    "latin1.yaml": EXPORT.replace("name: Reception", "name: M\xdcLLER").encode("latin-1"),
    "huge.yaml": EXPORT.encode() + b"#" * MAX_DOCUMENT_BYTES,
    "escaped_key.yaml": b'linebox_config: 1\n"\\e]0;owned\\a\\n": 1\n',
    "bad_reference.yaml": EXPORT.replace("  port: 4\n", "  port: 9\n").encode(),
}


def test_cli_refuses_hostile_files_with_printable_lines_and_status_2(tmp_path):
    assert b"M\xdcLLER" in HOSTILE_FILES["latin1.yaml"] and b"port: 9" in HOSTILE_FILES["bad_reference.yaml"]
    db = tmp_path / "linebox.db"
    with open_store(db) as store:  # the test board map equals board/virtual.yaml (test_config_store)
        seed_demo(store)
    before = dump(db)
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name, content in HOSTILE_FILES.items():
        path = tmp_path / name
        path.write_bytes(content)
        result = subprocess.run([sys.executable, "-m", "linebox", "config", "import", "--db", str(db), str(path)],
                                capture_output=True, text=True, timeout=60, env=environment, cwd=tmp_path)
        assert result.returncode == 2, (name, result.stderr)
        assert result.stdout == ""
        lines = result.stderr.splitlines()
        assert result.stderr.endswith("\n") and all(line.isprintable() for line in lines), (name, result.stderr)
        assert lines[-1].startswith("linebox: ") and "Traceback" not in result.stderr
        if len(lines) > 1:  # judged: each problem, then that nothing was stored
            assert lines[-1] == (f"linebox: {path}: not imported ({len(lines) - 1} error{'s' * (len(lines) > 2)}): "
                                 "the stored configuration is unchanged"), (name, result.stderr)
        assert dump(db) == before, f"{name}: the database changed"


# -- the store: refused documents change nothing, accepted ones are stored as exported ----------

@settings(max_examples=25, derandomize=True, database=None, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.one_of(mutated_data(), mutated_text(), documents))
def test_import_into_a_store_is_all_or_nothing(tmp_path, text):
    db = tmp_path / "store.db"
    with open_store(db) as store:
        if store.config_version() == 0:
            seed_demo(store)
        before_config, before_revision = store.load(), store.config_version()
        found, stored = import_document(store, text, "fuzz.yaml", source="fuzz")  # no error found: stored
        if stored is None:
            assert found.findings.errors
            for error in found.findings.errors:  # each names its place (the file's name, for YAML it cannot read)
                assert PLACE.match(error.removeprefix("fuzz.yaml: ")), f"the error names no place: {error!r}"
                assert one_line(error).isprintable()
            assert (store.load(), store.config_version()) == (before_config, before_revision)
            return
        assert store.config_version() == before_revision + 1
        assert store.load() == stored
        assert imported(to_yaml(store.load())) == stored
