"""``linebox config validate`` reports every problem of a file in one run, each with its field's
path, as the web admin's forms do (firmware/config/collect.py): type errors, unknown keys, numbers
not quoted (with the hint), bad destinations and other references; warnings are shown and do not
fail; exit status 1 when there is an error. ``linebox config import`` reports a file exactly as
validate does and stores nothing when there is an error."""

from __future__ import annotations

import copy
import sqlite3
import wave

import pytest
from config_helpers import demo, lookup, open_store, replace

from firmware.config import seed_demo, to_dict, to_yaml
from firmware.config.advice import config_warnings
from firmware.config.collect import document_problems
from firmware.config.validate import problems
from linebox.cli import main

BROKEN = {  # one of each kind, in the demo office's YAML
    "  max_wait_s: 600\n": "  max_wait_s: lots\n",  # a type error
    "    kind: ring_group\n    name: office\n": "    kind: ring_group\n    name: nowhere\n",  # a bad destination
    "- number: '203'\n  port: 4\n": "- number: 203\n  port: 4\n",  # a number not quoted
    "- number: '202'\n  port: 3\n": "- number: '202'\n  port: 3\n  colour: blue\n",  # an unknown key
}
EXPECTED = [
    "extensions[1].colour: unknown key (known: number, port, name, outbound_class, trunk_group, dnd, forward, "
    "pickup_group, call_waiting, voicemail)",
    "extensions[2].number: expected text, got 203, a number: put it in quotes ('203') so that it is kept as "
    "written, leading 0 and + included",
    "queues[0].max_wait_s: expected an integer 0-86400, got 'lots'",
    "routes[1].destination: ring group nowhere does not exist",
]


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "linebox.db"
    with open_store(path) as store:
        seed_demo(store)
    return path


def _broken_yaml(**also: str) -> str:
    text = to_yaml(demo())
    for old, new in {**BROKEN, **also}.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def _validate(capsys, db, path=None) -> tuple[int, list[str], list[str]]:
    status = main(["config", "validate", "--db", str(db), *([str(path)] if path else [])])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err.splitlines()


def test_every_problem_of_a_file_is_reported_at_once_with_its_path(tmp_path, capsys, db):
    path = tmp_path / "office.yaml"
    path.write_text(_broken_yaml())
    status, out, err = _validate(capsys, db, path)
    assert status == 1 and out == []
    assert err == EXPECTED


def _dump(db) -> list:
    """Every row of every table of the database: what "unchanged" means."""
    with sqlite3.connect(db) as conn:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return [(table, sorted(map(repr, conn.execute(f"SELECT * FROM {table}")))) for table in tables]


def test_import_reports_every_problem_as_validate_does_and_stores_nothing(tmp_path, capsys, db):
    path = tmp_path / "office.yaml"
    path.write_text(_broken_yaml(**{"  music: default\n": "  music: jazz\n"}))  # and a warning
    before = _dump(db)
    status, out, validated = _validate(capsys, db, path)
    assert status == 1 and validated == [*EXPECTED, validated[-1]] and validated[-1].startswith("warning: ")
    status = main(["config", "import", "--db", str(db), str(path)])
    out, err = capsys.readouterr()
    assert (status, out) == (2, "")
    assert err.splitlines() == [*validated, f"linebox: {path}: not imported (4 errors): the stored configuration "
                                            "is unchanged"]
    assert _dump(db) == before


def test_import_shows_warnings_and_stores_the_file(tmp_path, capsys, db):
    path = tmp_path / "office.yaml"
    path.write_text(to_yaml(demo()).replace("  music: default\n", "  music: jazz\n"))
    status = main(["config", "import", "--db", str(db), str(path)])
    out, err = capsys.readouterr()
    assert status == 0 and out == f"linebox: imported {path} into {db} (revision 2, 1 warning)\n"
    assert err == "warning: queues[0].music: music class jazz has no files (moh/jazz/): its callers hear default\n"
    with open_store(db) as store:
        assert store.load().queues[0].music == "jazz"


def test_warnings_are_shown_and_alone_do_not_fail(tmp_path, capsys, db):
    path = tmp_path / "office.yaml"
    config = demo()
    path.write_text(to_yaml(config).replace("  music: default\n", "  music: jazz\n"))
    status, out, err = _validate(capsys, db, path)
    assert (status, out) == (0, [f"linebox: {path}: ok (1 warning)"])
    assert err == ["warning: queues[0].music: music class jazz has no files (moh/jazz/): its callers hear default"]
    folder = tmp_path / "moh" / "jazz"  # next to the database: the class exists once it has a file
    folder.mkdir(parents=True)
    with wave.open(str(folder / "a.wav"), "wb") as out_file:
        out_file.setnchannels(1)
        out_file.setsampwidth(2)
        out_file.setframerate(8000)
        out_file.writeframes(bytes(1600))
    assert _validate(capsys, db, path) == (0, [f"linebox: {path}: ok"], [])
    path.write_text(_broken_yaml(**{"  music: default\n": "  music: jazz\n"}).replace("jazz", "blues"))
    status, _, err = _validate(capsys, db, path)
    assert status == 1 and err == [*EXPECTED, err[-1]] and err[-1].startswith("warning: queues[0].music: ")


def test_the_stored_configuration_is_checked_too(capsys, db):
    assert _validate(capsys, db) == (0, ["linebox: stored configuration: ok"], [])


def test_a_yaml_syntax_error_names_the_file(tmp_path, capsys, db):
    path = tmp_path / "office.yaml"
    path.write_text("board: virtual\nzone: [us\n")
    status, out, err = _validate(capsys, db, path)
    assert status == 1 and len(err) == 1 and err[0].startswith(f"{path}: line 3, column 1: YAML syntax error")


def test_an_entry_without_a_required_key_is_left_out_and_later_paths_keep_their_numbers():
    data = to_dict(demo())
    del data["extensions"][0]["port"]  # required: extensions[0] cannot be read at all
    data["extensions"][2]["dnd"] = "maybe"  # a type error after it: still extensions[2]
    data["ring_groups"][0]["members"][0] = 299  # a number in a list: its reference is checked as '299'
    before = copy.deepcopy(data)
    found = document_problems(data, check)
    assert data == before  # the caller's document is not changed
    assert found.errors[:3] == [
        "extensions[0].port: missing (required)",
        "extensions[2].dnd: expected true or false, got 'maybe'",
        "ring_groups[0].members[0]: expected text, got 299, a number: put it in quotes ('299') so that it is "
        "kept as written, leading 0 and + included",
    ]
    assert "ring_groups[0].members[0]: extension 299 does not exist" in found.errors
    assert found.notes == ["extensions[0]: left out of the other checks until its problem is fixed "
                           "(a reference to it may be reported as missing)"]


def test_a_stand_in_is_judged_instead_of_a_refused_value_and_its_entry_kept():
    data = to_dict(demo())
    data["extensions"][0]["number"] = "2x1"  # required: without a stand-in, extensions[0] is left out
    data["extensions"][0]["port"] = "abc"
    alone = document_problems(data, check)
    assert alone.notes and any(problem.endswith("extension 201 does not exist") for problem in alone.errors)
    stood_in = document_problems(data, check, {"extensions[0].number": "201", "extensions[0].port": 2})
    assert stood_in.errors == [alone.errors[0], "extensions[0].port: expected an integer 0-63, got 'abc'"]
    assert stood_in.notes == [] and stood_in.config is not None and stood_in.config.extensions[0].number == "201"
    assert data["extensions"][0]["number"] == "2x1"  # the caller's document is not changed
    # a stand-in the codec refuses too: the usual way on (the entry left out), its message not repeated
    bad = document_problems(data, check, {"extensions[0].number": "also bad"})
    assert bad.errors[0] == alone.errors[0] and bad.notes == alone.notes
    assert not any("also bad" in problem for problem in bad.errors)


@pytest.mark.parametrize("raw,error", [
    ([1, 2], "configuration: expected a mapping, got [1, 2]"),
    ({"zone": "us"}, "board: missing (required)"),
])
def test_a_document_that_cannot_be_read_at_all_is_one_problem(raw, error):
    found = document_problems(raw, check)
    assert (found.errors, found.config) == ([error], None)


def test_a_queue_without_agents_is_a_warning():
    config = replace(demo(), agents=())
    assert config_warnings(config, []) == [
        "queues[0]: no agent is in queue support: its callers wait with nobody to answer (until they leave or "
        "overflow)"]


def check(config):
    return problems(config, lookup)  # what ConfigStore.check runs on a typed snapshot
