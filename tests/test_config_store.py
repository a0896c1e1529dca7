"""The configuration store: one transaction per change, nothing stored when invalid, YAML round
trips, change notification, durability (WAL, synchronous=FULL, SIGKILL) and the CLI."""

import dataclasses
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from config_helpers import demo, lookup, open_store, replace

from firmware import FirmwareError
from firmware.config import (
    LineSelection,
    Zone,
    demo_config,
    from_yaml,
    seed_demo,
    seed_demo_if_empty,
    to_yaml,
)
from firmware.config.yamlio import parse_yaml

ROOT = Path(__file__).resolve().parent.parent
LINEBOX = [sys.executable, "-m", "linebox"]


def dump(path: Path) -> list[str]:
    """Every row and table of a database, to compare before and after a refused change."""
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def test_fresh_store_is_empty_and_says_so(tmp_path):
    with open_store(tmp_path / "db" / "linebox.db") as store:
        assert (tmp_path / "db").is_dir()
        assert store.is_empty() and store.config_version() == 0
        with pytest.raises(FirmwareError, match="is empty: import a configuration"):
            store.load()
        with pytest.raises(FirmwareError, match="nothing to update"):
            store.update(lambda c: c)


def test_save_load_and_version(tmp_path):
    with open_store(tmp_path / "linebox.db") as store:
        stored = seed_demo(store)
        assert stored == demo_config()
        assert store.config_version() == 1
        first = store.load()
        assert first == demo_config()
        assert store.load() is first  # cached while the revision is unchanged
        store.update(lambda c: replace(c, language="de"))
        assert store.config_version() == 2
        assert store.load().language == "de"
        assert not seed_demo_if_empty(store)
        assert store.load().language == "de"


def test_snapshot_is_immutable(tmp_path):
    with open_store(tmp_path / "linebox.db") as store:
        config = seed_demo(store)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.zone = Zone.UK
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.extensions[0].port = 3
    assert isinstance(config.extensions, tuple) and isinstance(config.ring_groups[0].members, tuple)


def test_invalid_change_stores_nothing(tmp_path):
    path = tmp_path / "linebox.db"
    with open_store(path) as store:
        seed_demo(store)
        before = dump(path)
        bad_port = replace(demo(), extensions=demo().extensions[:2] + (
            replace(demo().extensions[2], port=9),) + demo().extensions[3:])
        with pytest.raises(FirmwareError, match=r"^extensions\[2\]\.port: port 9 does not exist on board virtual "
                                                r"\(ports 0-5\)$"):
            store.save(bad_port)
        with pytest.raises(FirmwareError, match=r"^extensions\[1\]\.number: number 202 is already used by "
                                                r"extensions\[0\] \(and 5 more problems\)$"):
            store.update(lambda c: replace(c, extensions=(replace(c.extensions[0], number="202"),) + c.extensions[1:]))
        with pytest.raises(FirmwareError, match=r"^zone: expected one of"):
            store.update(lambda c: replace(c, zone="xx"))
        assert dump(path) == before
        assert store.config_version() == 1
        assert store.load() == demo()


def test_change_raised_inside_update_rolls_back(tmp_path):
    path = tmp_path / "linebox.db"
    with open_store(path) as store:
        seed_demo(store)
        before = dump(path)

        def broken(config):
            raise FirmwareError("change refused by the caller")

        with pytest.raises(FirmwareError, match="refused by the caller"):
            store.update(broken)
        assert dump(path) == before


def test_subscribers_get_each_committed_snapshot(tmp_path):
    with open_store(tmp_path / "linebox.db") as store:
        seen = []
        unsubscribe = store.subscribe(seen.append)
        seed_demo(store)
        with pytest.raises(FirmwareError):
            store.update(lambda c: replace(c, board="nosuch"))
        store.update(lambda c: replace(c, language="fr"))
        unsubscribe()
        store.update(lambda c: replace(c, language="es"))
        assert [c.language for c in seen] == [None, "fr"]


def test_another_connection_sees_changes_through_the_version(tmp_path):
    path = tmp_path / "linebox.db"
    with open_store(path) as writer, open_store(path) as engine:
        seed_demo(writer)
        seen = engine.config_version()
        snapshot = engine.load()
        writer.update(lambda c: replace(c, zone=Zone.CA))
        assert engine.config_version() != seen
        assert engine.load().zone == Zone.CA
        assert snapshot.zone == Zone.US  # the old snapshot is untouched


def test_wal_and_synchronous_full(tmp_path):
    with open_store(tmp_path / "linebox.db") as store:
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_yaml_round_trip_is_identical(tmp_path):
    with open_store(tmp_path / "linebox.db") as store:
        seed_demo(store)
        first = to_yaml(store.load())
        store.save(from_yaml(first))
        second = to_yaml(store.load())
    assert first == second
    assert from_yaml(second) == demo()


def test_yaml_round_trip_of_trunk_groups_and_line_selection(tmp_path):
    base = demo()
    config = replace(
        base,
        lines=(replace(base.lines[0], group="sales"), base.lines[1]),
        extensions=(replace(base.extensions[0], trunk_group="sales"), *base.extensions[1:]),
        dialplan=replace(base.dialplan, line_selection=LineSelection.ROUND_ROBIN),
    )
    with open_store(tmp_path / "linebox.db") as store:
        store.save(config)
        first = to_yaml(store.load())
        assert "  trunk_group: sales\n" in first and "  line_selection: round_robin\n" in first
        assert "  trunk_group: ''\n" in first  # the other extensions: the dial plan's group
        store.save(from_yaml(first))
        second = to_yaml(store.load())
    assert first == second
    assert from_yaml(second) == config


def test_yaml_errors_name_the_line(tmp_path):
    with pytest.raises(FirmwareError, match=r"^line 3, column 1: duplicate key 'zone'$"):
        parse_yaml("board: virtual\nzone: us\nzone: uk\n")
    with pytest.raises(FirmwareError, match=r"^line 2, column \d+: YAML syntax error"):
        parse_yaml("board: virtual\nzone: us: uk\n")
    with pytest.raises(FirmwareError, match="the document is empty"):
        from_yaml("# nothing\n")


def test_sigkill_right_after_a_save_keeps_the_change(tmp_path):
    path = tmp_path / "linebox.db"
    script = (
        "import sys, time\n"
        f"sys.path.insert(0, {str(ROOT / 'tests')!r})\n"
        "from config_helpers import open_store\n"
        "from firmware.config import seed_demo\n"
        f"store = open_store({str(path)!r})\n"
        "seed_demo(store)\n"
        "print('saved', flush=True)\n"
        "time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert child.stdout.readline().strip() == "saved"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    with open_store(path) as store:
        assert store.load() == demo()


# -- the command line --------------------------------------------------------------------------


def linebox(*args, cwd, env=None):
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    environment.pop("LINEBOX_DB", None)
    environment.update(env or {})
    return subprocess.run([*LINEBOX, *args], cwd=cwd, env=environment, capture_output=True, text=True,
                          timeout=60)


@pytest.fixture
def demo_db(tmp_path):
    path = tmp_path / "demo.db"
    from linebox.commands.config import open_store as cli_store

    with cli_store(str(path)) as store:
        seed_demo(store)
    return path


def test_cli_export_import_export_is_identical(tmp_path, demo_db):
    first = tmp_path / "first.yaml"
    assert linebox("config", "export", "--db", str(demo_db), "-o", str(first), cwd=tmp_path).returncode == 0
    imported = linebox("config", "import", "--db", str(demo_db), str(first), cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    again = linebox("config", "export", "--db", str(demo_db), cwd=tmp_path)
    assert again.returncode == 0
    assert again.stdout == first.read_text()


def test_cli_broken_import_changes_nothing(tmp_path, demo_db):
    text = to_yaml(demo()).replace("  port: 4\n", "  port: 9\n")
    broken = tmp_path / "broken.yaml"
    broken.write_text(text)
    before = dump(demo_db)
    result = linebox("config", "import", "--db", str(demo_db), str(broken), cwd=tmp_path)
    assert result.returncode == 2
    # every problem as ``validate`` lists it (issue 13), then one line saying nothing was stored
    assert result.stderr.splitlines() == [
        "extensions[2].port: port 9 does not exist on board virtual (ports 0-5)",
        f"linebox: {broken}: not imported (1 error): the stored configuration is unchanged"]
    assert result.stdout == ""
    assert dump(demo_db) == before
    syntax = tmp_path / "syntax.yaml"
    syntax.write_text("board: virtual\nzone: us: uk\n")
    result = linebox("config", "import", "--db", str(demo_db), str(syntax), cwd=tmp_path)
    lines = result.stderr.splitlines()
    assert result.returncode == 2 and len(lines) == 2 and lines[0].startswith(f"{syntax}: line 2, column")
    assert lines[1] == f"linebox: {syntax}: not imported (1 error): the stored configuration is unchanged"
    missing = linebox("config", "import", "--db", str(demo_db), str(tmp_path / "nope.yaml"), cwd=tmp_path)
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    assert dump(demo_db) == before


def test_cli_validate_lists_every_problem(tmp_path, demo_db):
    text = to_yaml(demo()).replace("  port: 4\n", "  port: 9\n").replace("name: office\n  number", "name: x\n  number")
    path = tmp_path / "two.yaml"
    path.write_text(text)
    result = linebox("config", "validate", "--db", str(demo_db), str(path), cwd=tmp_path)
    assert result.returncode == 1  # problems found (2 is for a command that failed: issue 13 asks for 1)
    assert result.stderr.splitlines() == [
        "extensions[2].port: port 9 does not exist on board virtual (ports 0-5)",
        "routes[1].destination: ring group office does not exist",
        "ivr_flows[0].nodes[5].destination: ring group office does not exist",
    ]
    good = linebox("config", "validate", "--db", str(demo_db), cwd=tmp_path)
    assert (good.returncode, good.stdout) == (0, "linebox: stored configuration: ok\n")


def test_cli_default_database_path(tmp_path, demo_db):
    config_file = tmp_path / "demo.yaml"
    config_file.write_text(to_yaml(demo()))
    work = tmp_path / "work"
    work.mkdir()
    result = linebox("config", "import", str(config_file), cwd=work)
    assert result.returncode == 0, result.stderr
    assert (work / "var" / "linebox.db").is_file()
    via_env = linebox("config", "show", cwd=tmp_path, env={"LINEBOX_DB": str(work / "var" / "linebox.db")})
    assert via_env.returncode == 0 and "board virtual, zone us" in via_env.stdout


def test_cli_route_and_dial_explain(tmp_path, demo_db):
    route = linebox("config", "route", "--db", str(demo_db), "--line", "0", "--caller-id", "5551234",
                    "--at", "2026-03-07T15:00Z", cwd=tmp_path)
    assert route.returncode == 0
    assert route.stdout.splitlines()[-1] == "destination: extension 201"
    dial = linebox("config", "dial", "--db", str(demo_db), "9011441234567", "--extension", "203",
                   "--at", "2026-03-02T15:00Z", cwd=tmp_path)
    assert dial.returncode == 1
    assert dial.stdout.splitlines() == [
        "dial plan: complete_on_timeout (external international), then wait 4000 ms",
        "toll guard: refused: 011441234567 is international; extension 203 has outbound class local",
    ]
    emergency = linebox("config", "dial", "--db", str(demo_db), "911", "--extension", "203", cwd=tmp_path)
    assert emergency.returncode == 0 and "always allowed" in emergency.stdout


def test_lookup_helper_matches_the_real_board_definition():
    """The tests' port map of the virtual board is the one board/virtual.yaml defines."""
    from linebox.commands.config import board_ports

    assert board_ports("virtual") == lookup("virtual")
    assert board_ports("nosuch") is None


def test_a_structure_that_is_not_a_config_is_refused(tmp_path):
    with open_store(tmp_path / "linebox.db") as store:
        seed_demo(store)
        with pytest.raises(FirmwareError, match="^configuration: not a configuration snapshot"):
            store.save(replace(demo(), dialplan=None))
        assert store.check(replace(demo(), security=None))[0].startswith("configuration: not a configuration")
        assert store.load() == demo()
