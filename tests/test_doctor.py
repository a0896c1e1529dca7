"""``linebox doctor`` (and its former name ``selftest``): every check passes on a healthy virtual
box; a fault (the card unplugged, a dead line) makes the check that covers it fail and name it
(linebox/doctor/)."""

import json
import os
import sqlite3

import numpy as np
import pytest

from firmware.acdengine.history import IntervalStore
from firmware.cdr import MIGRATIONS as CDR_MIGRATIONS
from firmware.cdr import CdrStore
from firmware.config.demo import seed_demo
from firmware.config.model import Retention
from firmware.config.store import ConfigStore
from firmware.storage.doctor_report import read_report, report_path
from firmware.storage.retention import MB
from firmware.voicemail import VoicemailStore
from linebox.cli import main
from linebox.doctor import doctor
from linebox.doctor.board_checks import (
    LEVEL_TOLERANCE_DB,
    SETTLE_SAMPLES,
    TEST_LEVEL_DBM0,
    TEST_TONE_HZ,
    tone_check,
)
from linebox.doctor.clock import ClockState
from linebox.doctor.host_checks import check_clock, check_disk, check_stores
from linebox.storage import board_ports

NOW = 1_780_000_000.0
SYNCED = lambda: ClockState(True, "fake")  # noqa: E731


def selftest(db, seed, now, before=None, **options):
    return doctor(db, now, seed=seed, clock=SYNCED, before=before, **options)


@pytest.fixture
def box(tmp_path):
    db = tmp_path / "linebox.db"
    config = ConfigStore(db, boards=board_ports)
    seed_demo(config)
    config.close()
    CdrStore(db).close()
    IntervalStore(db).close()
    VoicemailStore(db, tmp_path / "voicemail").close()
    return db


def _names(checks):
    return [check.name for check in checks]


def test_a_healthy_virtual_box_passes_every_check(box):
    checks = selftest(box, seed=3, now=NOW)
    assert all(check.ok for check in checks), [c for c in checks if not c.ok]
    assert _names(checks) == ["board_link", "port_fxo0", "port_fxo1", "port_fxs2", "port_fxs3", "port_fxs4",
                              "port_fxs5", "audio_fxs2_out", "audio_fxs2_in", "audio_fxs3_out", "audio_fxs3_in",
                              "audio_fxs4_out", "audio_fxs4_in", "audio_fxs5_out", "audio_fxs5_in",
                              "dial_tone_fxo0", "dial_tone_fxo1", "dsp_dtmf", "dsp_caller_id", "stores", "disk_space",
                              "clock_sync"]
    assert "LBX-2O4S" in checks[0].detail and "protocol 1." in checks[0].detail
    line = checks[1].detail
    assert "line idle at 4" in line and "loop current: not reported" in line  # the world's exchange: about 48 V


def test_a_dead_exchange_line_fails_its_dial_tone_check(box):
    checks = selftest(box, seed=3, now=NOW, before=lambda rig: rig.board.inject("line_dead", 1))
    failed = [check.name for check in checks if not check.ok]
    assert failed == ["port_fxo1", "dial_tone_fxo1"]
    assert "no line voltage (0.0 V): the exchange line is dead" in checks[_names(checks).index("port_fxo1")].detail
    assert "no dial tone" in checks[_names(checks).index("dial_tone_fxo1")].detail


def test_an_unplugged_card_fails_the_link_check(box):
    checks = selftest(box, seed=3, now=NOW, before=lambda rig: rig.board.inject("serial_unplug", seconds=3600),
                      link_ticks=50)
    assert checks[0].name == "board_link" and not checks[0].ok
    assert "is the line card connected" in checks[0].detail
    assert [c.name for c in checks if not c.ok] == ["board_link"]
    # no port or audio check without a card; the checks that need none still run
    assert _names(checks)[1:] == ["dsp_dtmf", "dsp_caller_id", "stores", "disk_space", "clock_sync"]


@pytest.mark.parametrize(("state", "ok", "words"), [
    (ClockState(True, "timedatectl"), True, "synchronised (timedatectl)"),
    (ClockState(False, "adjtimex", "maximum error 16.000 s"), False, "not synchronised (adjtimex) (maximum error"),
    (ClockState(None, "none", "no timedatectl answer"), False, "cannot tell"),
])
def test_clock_check_reports_what_the_probe_says(state, ok, words):
    check = check_clock(lambda: state)
    assert check.name == "clock_sync" and check.ok is ok and words in check.detail


def test_an_unsynchronised_clock_fails_only_the_clock_check(box):
    checks = doctor(box, NOW, seed=3, clock=lambda: ClockState(False, "timedatectl"))
    assert [c.name for c in checks if not c.ok] == ["clock_sync"]
    assert "clock_sync" not in _names(doctor(box, NOW, seed=3, clock=lambda: ClockState(False, "x"),
                                             skip=("clock_sync",)))


def _tone(level_dbm0, hz=TEST_TONE_HZ, n=4000):
    from dsp.levels import dbm0_to_peak
    return dbm0_to_peak(level_dbm0) * np.sin(2 * np.pi * hz * np.arange(n) / 8000)


@pytest.mark.parametrize(("samples", "ok"), [
    (_tone(TEST_LEVEL_DBM0), True),
    (_tone(TEST_LEVEL_DBM0 - LEVEL_TOLERANCE_DB + 0.01), True),
    (_tone(TEST_LEVEL_DBM0 + LEVEL_TOLERANCE_DB - 0.01), True),
    (_tone(TEST_LEVEL_DBM0 - LEVEL_TOLERANCE_DB - 0.05), False),
    (_tone(TEST_LEVEL_DBM0 + LEVEL_TOLERANCE_DB + 0.05), False),
    (_tone(TEST_LEVEL_DBM0, hz=1400), False),  # the right level at the wrong frequency
    (np.random.default_rng(1).normal(0, 1000, 4000), False),
    (np.zeros(4000), False),
])
def test_tone_check_limits(samples, ok):
    assert tone_check("t", samples).ok is ok
    assert SETTLE_SAMPLES < samples.size


def test_stores_check_finds_damage_orphans_newer_schemas_and_no_database(box, tmp_path):
    assert check_stores(box, NOW).ok
    folder = tmp_path / "voicemail" / "201"
    folder.mkdir(parents=True)
    orphan = folder / "msg-000007.wav"
    orphan.write_bytes(b"RIFF")
    os.utime(orphan, (NOW - 3600, NOW - 3600))
    result = check_stores(box, NOW)
    assert not result.ok and "vm_file_without_row" in result.detail
    os.utime(orphan, (NOW - 10, NOW - 10))  # a minute old at most: a running engine's work in progress
    assert check_stores(box, NOW).ok
    orphan.unlink()
    conn = sqlite3.connect(box)
    conn.execute("INSERT INTO schema_version VALUES ('cdr', 99, 'future')")
    conn.commit()
    conn.close()
    result = check_stores(box, NOW)
    assert not result.ok and f"cdr 99 > {len(CDR_MIGRATIONS)}" in result.detail
    assert not check_stores(tmp_path / "no-such-folder" / "linebox.db", NOW).ok  # a wrong path, not a new box


def test_stores_not_created_yet_pass_and_name_themselves(tmp_path):
    """A data folder where the engine never ran: no database yet, an empty one, or only the
    configuration store (made by the web admin's first-boot wizard) is not a failure."""
    db = tmp_path / "linebox.db"
    result = check_stores(db, NOW)
    assert result.ok and "not created yet" in result.detail and not db.exists()  # the check makes nothing
    db.touch()
    result = check_stores(db, NOW)
    assert result.ok and "not created yet" in result.detail
    ConfigStore(db, boards=board_ports).close()
    result = check_stores(db, NOW)
    assert result.ok and result.detail.endswith("not created yet: acd_history, cdr, voicemail"), result.detail
    CdrStore(db).close()
    IntervalStore(db).close()
    VoicemailStore(db, tmp_path / "voicemail").close()
    result = check_stores(db, NOW)
    assert result.ok and "not created yet" not in result.detail


def test_a_store_that_exists_and_is_damaged_fails(box):
    size = box.stat().st_size
    with box.open("r+b") as handle:  # page 2 onwards overwritten: the tables' pages are garbage
        handle.seek(4096)
        handle.write(b"\xa5" * (size - 4096))
    result = check_stores(box, NOW)
    assert not result.ok and "not created yet" not in result.detail
    box.write_bytes(b"not a database at all, but some bytes")
    result = check_stores(box, NOW)
    assert not result.ok and "not created yet" not in result.detail


def test_disk_check_fails_at_80_percent_of_the_budget(box, tmp_path):
    policy = Retention(disk_budget_mb=64)
    assert check_disk(box, policy).ok
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "engine.log").write_bytes(b"x" * (52 * MB))  # with the database: over 80 % of 64 MB
    result = check_disk(box, policy)
    assert not result.ok and result.detail.startswith("storage WARNING")


@pytest.mark.parametrize("command", ["doctor", "selftest"])
def test_cli_json_exit_status_and_the_result_left_for_the_dashboard(box, capsys, monkeypatch, command):
    monkeypatch.setattr("linebox.doctor.clock.timedatectl", lambda: ClockState(True, "timedatectl"))
    assert main([command, "--json", "--db", str(box), "--seed", "2"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and len(report["checks"]) == 22 and set(report) == {"ok", "checks"}
    assert set(report["checks"][0]) == {"name", "ok", "detail"}
    kept = read_report(report_path(box))
    assert kept is not None and kept.ok and kept.document() == report and kept.at > NOW
    damaged = box.parent / "damaged.db"
    damaged.write_bytes(b"not a database at all, but some bytes")
    assert main([command, "--json", "--db", str(damaged)]) == 1
    report = json.loads(capsys.readouterr().out)
    failing = [c["name"] for c in report["checks"] if not c["ok"]]
    assert report["ok"] is False and failing == ["stores", "disk_space"]  # disk: its settings are in the database
    assert read_report(report_path(box)).failing == ("stores", "disk_space")  # the same data folder: the last run shows
    monkeypatch.setattr("linebox.doctor.clock.timedatectl", lambda: ClockState(False, "timedatectl"))
    assert main([command, "--json", "--db", str(box)]) == 1
    assert [c["name"] for c in json.loads(capsys.readouterr().out)["checks"] if not c["ok"]] == ["clock_sync"]
    assert main([command, "--json", "--db", str(box), "--skip", "clock_sync"]) == 0
    capsys.readouterr()
    # --board rpi asks the running engine; none answers on this socket: the link check says so
    assert main([command, "--json", "--board", "rpi", "--db", str(box), "--skip", "clock_sync",
                 "--socket", str(box.parent / "no-engine.sock")]) == 1
    checks = json.loads(capsys.readouterr().out)["checks"]
    assert [c["name"] for c in checks if not c["ok"]] == ["board_link"] and "does not answer" in checks[0]["detail"]


def _engine(link=None, ports=None):
    status = {"link": {"state": "up", "refused": None, "model": "LBX-2O4S", "firmware": "1.0.0", "protocol": "1.1",
                       "counters": {}} if link is None else link,
              "ports": [{"port": n, "type": "fxo" if n < 2 else "fxs", "state": "idle", "in_service": "yes"}
                        for n in range(6)] if ports is None else ports}
    asked = []

    def ask(command):
        asked.append(command)
        return [json.dumps(status)]
    return ask, asked


def test_on_hardware_the_card_and_ports_come_from_the_running_engine(box):
    ask, asked = _engine()
    checks = doctor(box, NOW, clock=SYNCED, engine=ask)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    assert _names(checks) == ["board_link", "port_fxo0", "port_fxo1", "port_fxs2", "port_fxs3", "port_fxs4",
                              "port_fxs5", "dsp_dtmf", "dsp_caller_id", "stores", "disk_space", "clock_sync"]
    assert asked == ["show status"] and "LBX-2O4S firmware 1.0.0 protocol 1.1" in checks[0].detail
    assert "not shown by the engine's console" in checks[1].detail
    ports = [{"port": 0, "type": "fxo", "state": "out_of_service", "in_service": "no"},
             {"port": 2, "type": "fxs", "state": "idle", "in_service": "yes"}]
    checks = doctor(box, NOW, clock=SYNCED, engine=_engine(ports=ports)[0])
    assert [c.name for c in checks if not c.ok] == ["port_fxo0"] and "out of service: no" in checks[1].detail
    down = {"state": "down", "refused": None, "model": None, "counters": {}}
    checks = doctor(box, NOW, clock=SYNCED, engine=_engine(link=down)[0])
    assert [c.name for c in checks if not c.ok] == ["board_link"] and _names(checks)[1] == "dsp_dtmf"
    assert "link down: is the line card connected" in checks[0].detail
    refused = {"state": "refused", "refused": "protocol 2.0 not supported", "model": "LBX-2O4S", "counters": {}}
    assert "(protocol 2.0 not supported)" in doctor(box, NOW, clock=SYNCED, engine=_engine(link=refused)[0])[0].detail
