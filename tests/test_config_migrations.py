"""Schema migrations: a database made by the first schema (frozen below as SQL) is upgraded
in place, keeps its data, and gains the later settings with their defaults."""

import sqlite3

import pytest
from config_helpers import open_store, replace

from firmware import FirmwareError
from firmware.config import (
    AcdSettings,
    Agent,
    Destination,
    DestinationKind,
    Dialling,
    DisconnectMethod,
    Forwarding,
    LineSelection,
    Queue,
    Relaxation,
    VipCaller,
    Zone,
)
from firmware.config.codec import to_dict
from firmware.config.db import Migration, connect, migrate, schema_version
from firmware.config.model import ManagerSettings
from firmware.config.schema import MIGRATIONS
from firmware.contacts.store import ContactStore
from firmware.numbers import try_e164

# A configuration database as the first firmware wrote it (schema version 1). Frozen on
# purpose: it must not follow later edits of the migrations, it stands for boxes in the field.
V1_DATABASE = """
CREATE TABLE schema_version (component TEXT NOT NULL, version INTEGER NOT NULL, description TEXT NOT NULL,
    PRIMARY KEY (component, version));
INSERT INTO schema_version VALUES ('config', 1, 'initial configuration schema');
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE lines (port INTEGER PRIMARY KEY CHECK (port BETWEEN 0 AND 63), position INTEGER NOT NULL,
    name TEXT NOT NULL, number TEXT NOT NULL DEFAULT '', disconnect TEXT NOT NULL,
    dialling TEXT NOT NULL CHECK (dialling IN ('dtmf', 'pulse')), trunk_group TEXT NOT NULL);
CREATE TABLE extensions (number TEXT PRIMARY KEY, position INTEGER NOT NULL,
    port INTEGER NOT NULL UNIQUE CHECK (port BETWEEN 0 AND 63), name TEXT NOT NULL DEFAULT '',
    outbound_class TEXT NOT NULL, dnd INTEGER NOT NULL DEFAULT 0, forward_always TEXT NOT NULL DEFAULT '',
    pickup_group TEXT NOT NULL DEFAULT '');
CREATE TABLE ring_groups (name TEXT PRIMARY KEY, position INTEGER NOT NULL, number TEXT NOT NULL DEFAULT '',
    strategy TEXT NOT NULL, ring_s INTEGER NOT NULL, no_answer_kind TEXT NOT NULL,
    no_answer_name TEXT NOT NULL DEFAULT '');
CREATE TABLE ring_group_members (group_name TEXT NOT NULL REFERENCES ring_groups(name) ON DELETE CASCADE,
    position INTEGER NOT NULL, extension TEXT NOT NULL, PRIMARY KEY (group_name, position));
CREATE TABLE schedules (name TEXT PRIMARY KEY, position INTEGER NOT NULL, timezone TEXT NOT NULL);
CREATE TABLE schedule_hours (schedule TEXT NOT NULL REFERENCES schedules(name) ON DELETE CASCADE,
    weekday INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 6), position INTEGER NOT NULL,
    start_min INTEGER NOT NULL, end_min INTEGER NOT NULL, PRIMARY KEY (schedule, weekday, position));
CREATE TABLE holidays (schedule TEXT NOT NULL REFERENCES schedules(name) ON DELETE CASCADE,
    date TEXT NOT NULL, name TEXT NOT NULL DEFAULT '', PRIMARY KEY (schedule, date));
CREATE TABLE routes (position INTEGER PRIMARY KEY, name TEXT NOT NULL, line INTEGER, caller_id TEXT,
    schedule TEXT, when_state TEXT NOT NULL, dest_kind TEXT NOT NULL, dest_name TEXT NOT NULL DEFAULT '');
CREATE TABLE revision (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
INSERT INTO revision VALUES (1, 7);
INSERT INTO settings VALUES ('board', '"virtual"'), ('zone', '"de"'), ('language', 'null'),
    ('caller_id_standard', '"dtmf"'), ('dialplan.outside_prefix', '"0"'),
    ('dialplan.inter_digit_timeout_ms', '5000'), ('dialplan.incomplete_timeout_ms', '20000'),
    ('dialplan.trunk_group', '"main"'), ('dialplan.maps.internal', '"[2-3]xx"'), ('dialplan.maps.local', 'null'),
    ('dialplan.maps.national', 'null'), ('dialplan.maps.international', 'null'), ('dialplan.maps.premium', 'null'),
    ('security.trunk_to_trunk_allowed', 'false'), ('security.after_hours_schedule', '"buero"'),
    ('security.after_hours_max_class', '"national"'), ('security.allow_premium', 'false'),
    ('feature.forward_always', '"*21"'), ('feature.forward_cancel', '"#21"'), ('feature.dnd_on', '"*26"'),
    ('feature.dnd_off', '"#26"');
INSERT INTO lines VALUES (0, 0, 'Amt 1', '0301234567', 'polarity_reversal,busy_tone', 'dtmf', 'main'),
    (1, 1, 'Amt 2', '', 'loop_current_drop', 'pulse', 'main');
INSERT INTO extensions VALUES ('201', 0, 2, 'Empfang', 'national', 0, '', 'vorne'),
    ('202', 1, 3, 'Lager', 'local', 1, '201', 'vorne'), ('301', 2, 4, 'Chef', 'international', 0, '', '');
INSERT INTO ring_groups VALUES ('alle', 0, '300', 'linear', 25, 'extension', '201');
INSERT INTO ring_group_members VALUES ('alle', 0, '201'), ('alle', 1, '202');
INSERT INTO schedules VALUES ('buero', 0, 'Europe/Berlin');
INSERT INTO schedule_hours VALUES ('buero', 0, 0, 480, 1020), ('buero', 4, 0, 480, 840), ('buero', 5, 0, 1320, 360);
INSERT INTO holidays VALUES ('buero', '2026-10-03', 'Tag der Deutschen Einheit');
INSERT INTO routes VALUES (0, 'Geschaeftszeit', NULL, NULL, 'buero', 'open', 'ring_group', 'alle'),
    (1, 'Nachts', 0, '0301234xxx', 'buero', 'closed', 'extension', '301'),
    (2, 'Rest', NULL, NULL, NULL, 'open', 'hangup', '');
"""


@pytest.fixture
def v1_path(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(V1_DATABASE)
    conn.close()
    return path


def test_v1_database_is_upgraded_and_keeps_its_data(v1_path):
    with open_store(v1_path) as store:
        assert store.schema_version == len(MIGRATIONS) == 18
        config = store.load()
        assert store.config_version() == 7
    assert config.zone == Zone.DE and config.caller_id_standard == "dtmf"
    assert config.dialplan.inter_digit_timeout_ms == 5000 and config.dialplan.maps.internal == "[2-3]xx"
    first, second = config.lines
    assert (first.name, first.number, first.disconnect) == (
        "Amt 1", "0301234567", (DisconnectMethod.POLARITY_REVERSAL, DisconnectMethod.BUSY_TONE))
    assert (second.dialling, second.disconnect) == (Dialling.PULSE, (DisconnectMethod.LOOP_CURRENT_DROP,))
    # Added by migration 2, with their defaults:
    assert (first.silence_timeout_s, first.answer_by_polarity_reversal) == (120, False)
    lager = config.extension("202")
    assert lager.dnd and lager.pickup_group == "vorne"
    assert lager.forward == Forwarding(always="201", busy="", no_answer="", no_answer_s=20)
    assert (lager.call_waiting, lager.voicemail) == (True, False)
    # Moved by migration 3; codes the old database did not have take their defaults:
    codes = config.feature_codes
    assert (codes.forward_always, codes.forward_cancel, codes.dnd_on, codes.dnd_off) == ("*21", "#21", "*26", "#26")
    assert (codes.group_pickup, codes.agent_login) == ("*8", "*45")
    group = config.ring_group("alle")
    assert (group.number, group.members, group.strategy, group.ring_s) == ("300", ("201", "202"), "linear", 25)
    assert group.no_answer.kind == DestinationKind.EXTENSION and group.no_answer.name == "201"
    schedule = config.schedule("buero")
    assert [str(r) for r in schedule.hours[0]] == ["08:00-17:00"]
    assert [str(r) for r in schedule.hours[5]] == ["22:00-06:00"]
    assert schedule.holidays[0].name == "Tag der Deutschen Einheit"
    assert [route.name for route in config.routes] == ["Geschaeftszeit", "Nachts", "Rest"]
    assert config.routes[1].line == 0 and config.routes[1].caller_id == "0301234xxx"
    # Added by migration 4 (extension column) and later settings keys, with their defaults:
    assert {ext.trunk_group for ext in config.extensions} == {""}
    assert config.dialplan.line_selection == LineSelection.FIRST_FREE
    # Added by migration 5 (ACD tables) and the acd.* settings keys: no queues, default settings.
    assert (config.queues, config.agents, config.acd) == ((), (), AcdSettings())
    # Added by migration 6 (route columns), with their defaults:
    assert all((route.queue_priority, route.queue_skills) == (0, ()) for route in config.routes)
    # Added by migration 8 (line column): the echo canceller stays on, as before.
    assert all(line.echo_canceller for line in config.lines)
    # Added by migration 9 (line column): no pre-dial hold of its own, the zone's applies.
    assert all(line.pre_dial_hold_ms is None for line in config.lines)
    # Written by migration 10: the manager interface, off, on the loopback address.
    assert config.manager == ManagerSettings() and not config.manager.enabled
    assert config.manager.listen == "127.0.0.1:5038"
    # Added by migration 11 (IVR flow and contact tables): none yet (contacts: the contact store's, 17).
    assert config.ivr_flows == ()
    # Added by migration 15 (line and route columns): no language of their own, the box's applies.
    assert all(line.language is None for line in config.lines)
    assert all(route.language is None for route in config.routes)


def test_upgraded_database_has_the_new_layout(v1_path):
    with open_store(v1_path) as store:
        conn = store.conn
        versions = conn.execute("SELECT version, description FROM schema_version WHERE component = 'config'"
                                " ORDER BY version").fetchall()
        assert [v for v, _ in versions] == list(range(1, len(MIGRATIONS) + 1))
        assert conn.execute("SELECT value FROM settings WHERE key = 'manager.enabled'").fetchone()[0] == "false"
        assert conn.execute("SELECT COUNT(*) FROM settings WHERE key LIKE 'feature.%'").fetchone()[0] == 0
        assert conn.execute("SELECT code FROM feature_codes WHERE feature = 'dnd_on'").fetchone()[0] == "*26"
        columns = {row[1] for row in conn.execute("PRAGMA table_info(extensions)")}
        assert {"forward_busy", "forward_no_answer", "forward_no_answer_s", "call_waiting", "voicemail",
                "trunk_group"} <= columns
        assert {"echo_canceller", "pre_dial_hold_ms", "language"} <= {
            row[1] for row in conn.execute("PRAGMA table_info(lines)")}
        assert "language" in {row[1] for row in conn.execute("PRAGMA table_info(routes)")}
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"ivr_flows", "contacts", "contact_numbers", "contacts_revision"} <= tables


def test_upgraded_database_accepts_changes_and_reopens(v1_path):
    with open_store(v1_path) as store:
        store.update(lambda c: c)
        assert store.config_version() == 8
    with open_store(v1_path) as again:
        assert again.schema_version == len(MIGRATIONS) == 18
        assert again.load().extension("301").name == "Chef"


def test_step_by_step_upgrade_gives_the_same_result(v1_path, tmp_path):
    conn = connect(v1_path)
    assert migrate(conn, "config", MIGRATIONS, upto=2) == 2
    assert conn.execute("SELECT COUNT(*) FROM settings WHERE key LIKE 'feature.%'").fetchone()[0] == 4
    conn.close()
    with open_store(v1_path) as store:
        assert store.schema_version == len(MIGRATIONS) == 18
        assert store.load().feature_codes.dnd_on == "*26"


def test_newer_database_is_refused_untouched(v1_path):
    conn = sqlite3.connect(v1_path)
    future = len(MIGRATIONS) + 1
    conn.execute("INSERT INTO schema_version VALUES ('config', ?, 'from the future')", (future,))
    conn.commit()
    before = list(conn.iterdump())
    conn.close()
    with pytest.raises(FirmwareError, match=f"schema version {future} is newer than this firmware"):
        open_store(v1_path)
    conn = sqlite3.connect(v1_path)
    assert list(conn.iterdump()) == before
    conn.close()


def test_failed_migration_rolls_back_entirely(tmp_path):
    conn = connect(tmp_path / "x.db")
    broken = (Migration(1, "ok", ("CREATE TABLE a (x INTEGER)",)),
              Migration(2, "broken", ("CREATE TABLE b (x INTEGER)", "INSERT INTO nowhere VALUES (1)")))
    with pytest.raises(FirmwareError, match=r"migration 2 \(broken\) failed: no such table: nowhere"):
        migrate(conn, "test", broken)
    assert schema_version(conn, "test") == 1
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "a" in tables and "b" not in tables


def test_migrations_must_be_numbered_in_order(tmp_path):
    conn = connect(tmp_path / "x.db")
    with pytest.raises(FirmwareError, match="numbered 1..2 in order"):
        migrate(conn, "test", (Migration(2, "b", ()), Migration(1, "a", ())))


def test_components_share_one_database(tmp_path):
    from firmware.cdr import CdrStore

    path = tmp_path / "linebox.db"
    with CdrStore(path), open_store(path) as store:
        assert store.schema_version == len(MIGRATIONS) == 18
        rows = dict(store.conn.execute("SELECT component, MAX(version) FROM schema_version GROUP BY component"))
        assert rows == {"config": len(MIGRATIONS), "cdr": 3}  # cdr 3: call dispositions (issue 14)


def test_a_file_that_is_not_a_database(tmp_path):
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(FirmwareError, match="junk.db"):
        open_store(path)


@pytest.fixture
def v3_path(v1_path):
    """A database as the firmware of schema version 3 left it, with a row it wrote itself.

    Migrations 2 and 3 are shipped and never edited, so applying them to the frozen v1 fixture
    gives exactly a version-3 box; the extension added here uses the version-3 column list.
    """
    conn = connect(v1_path)
    assert migrate(conn, "config", MIGRATIONS, upto=3) == 3
    conn.execute(
        "INSERT INTO extensions (number, position, port, name, outbound_class, dnd, forward_always, pickup_group,"
        " forward_busy, forward_no_answer, forward_no_answer_s, call_waiting, voicemail)"
        " VALUES ('302', 3, 5, 'Buchhaltung', 'national', 0, '', '', '201', '', 30, 0, 1)")
    conn.execute("UPDATE lines SET trunk_group = 'verkauf' WHERE port = 1")
    conn.close()
    return v1_path


def test_v3_database_gains_extension_trunk_groups(v3_path):
    with open_store(v3_path) as store:
        assert store.schema_version == len(MIGRATIONS) == 18
        versions = [row[0] for row in store.conn.execute(
            "SELECT version FROM schema_version WHERE component = 'config' ORDER BY version")]
        assert versions == list(range(1, len(MIGRATIONS) + 1))
        config = store.load()
        assert store.config_version() == 7  # a migration is not a configuration change
        assert [ext.number for ext in config.extensions] == ["201", "202", "301", "302"]
        assert all(ext.trunk_group == "" for ext in config.extensions)
        assert config.trunk_group_of(config.extension("302")) == "main"
        buchhaltung = config.extension("302")
        assert (buchhaltung.forward.busy, buchhaltung.forward.no_answer_s, buchhaltung.call_waiting,
                buchhaltung.voicemail) == ("201", 30, False, True)
        assert [line.group for line in config.lines] == ["main", "verkauf"]
        assert config.dialplan.line_selection == LineSelection.FIRST_FREE
        store.update(lambda c: replace(
            c, dialplan=replace(c.dialplan, line_selection=LineSelection.ROUND_ROBIN),
            extensions=tuple(replace(e, trunk_group="verkauf") if e.number == "302" else e for e in c.extensions)))
    with open_store(v3_path) as again:
        config = again.load()
        assert config.extension("302").trunk_group == "verkauf"
        assert config.trunk_group_of(config.extension("302")) == "verkauf"
        assert config.trunk_group_of(config.extension("301")) == "main"
        assert config.dialplan.line_selection == LineSelection.ROUND_ROBIN
        row = again.conn.execute("SELECT trunk_group FROM extensions WHERE number = '302'").fetchone()
        assert row[0] == "verkauf"


@pytest.fixture
def v4_path(v1_path):
    """A database as the firmware of schema version 4 left it (migrations 2-4 are shipped, never edited)."""
    conn = connect(v1_path)
    assert migrate(conn, "config", MIGRATIONS, upto=4) == 4
    conn.execute("UPDATE extensions SET trunk_group = 'main' WHERE number = '301'")
    conn.close()
    return v1_path


def test_v4_database_gains_empty_queue_and_agent_tables(v4_path):
    with open_store(v4_path) as store:
        assert store.schema_version == len(MIGRATIONS) == 18
        tables = {row[0] for row in store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"queues", "agents"} <= tables
        config = store.load()
        assert store.config_version() == 7  # a migration is not a configuration change
        assert (config.queues, config.agents, config.acd) == ((), (), AcdSettings())
        assert config.extension("301").trunk_group == "main" and config.extension("201").name == "Empfang"
        store.update(lambda c: replace(
            c, queues=(Queue(name="kunden", number="250", overflow=Destination(DestinationKind.EXTENSION, "201"),
                             required_skills=(("deutsch", 6),), relax=(Relaxation(45, 0),)),),
            agents=(Agent(id="7", extension="202", pin="1234", queues=(("kunden", 2),), skills=(("deutsch", 9),)),),
            acd=AcdSettings(auto_pause_after=0, vip_callers=(VipCaller("0301234567", 3),))))
    with open_store(v4_path) as again:
        config = again.load()
        assert config.queue("kunden").required_skills == (("deutsch", 6),)
        assert config.queue("kunden").overflow == Destination(DestinationKind.EXTENSION, "201")
        assert config.agent("7") == Agent(id="7", extension="202", pin="1234", queues=(("kunden", 2),),
                                          skills=(("deutsch", 9),))
        assert config.acd.vip_callers == (VipCaller("0301234567", 3),) and config.acd.auto_pause_after == 0
        row = again.conn.execute("SELECT number, required_skills, relax FROM queues WHERE name = 'kunden'").fetchone()
        assert row == ("250", '{"deutsch": 6}', '[{"after_s": 45, "max_level": 0}]')


def test_v11_contacts_gain_language_and_notes_and_move_to_the_contact_store(v1_path):
    """Migration 13: contacts stored by a version-11 box keep every value and get '' language and
    notes; migration 17: they are the contact store's, found by their number in E.164 (read in the
    stored zone) and by account, and no longer part of the configuration."""
    conn = connect(v1_path)
    assert migrate(conn, "config", MIGRATIONS, upto=11) == 11
    conn.execute("INSERT INTO contacts (position, name, numbers, account, fields) VALUES "
                 "(0, 'Ann', '[\"2125552001\"]', '1234', '{\"balance\": \"12.50\"}')")
    conn.execute("INSERT INTO contacts (position, name, numbers, account, fields) VALUES "
                 "(1, 'Bob', '[\"2125552001\", \"2125552002\"]', '', '{}')")
    conn.close()
    with open_store(v1_path) as store:
        assert store.schema_version == len(MIGRATIONS) == 18
        zone = str(store.load().zone)
        assert "contacts" not in to_dict(store.load())
    with ContactStore(v1_path) as contacts:
        ann = contacts.by_account("1234")
        assert (ann.name, ann.numbers, ann.account, ann.fields, ann.language, ann.notes) == (
            "Ann", ("2125552001",), "1234", (("balance", "12.50"),), "", "")
        assert try_e164("2125552001", zone) is None  # not a German number: indexed as written
        assert contacts.by_number("2125552001", zone) == ann  # the first contact keeps a number
        assert contacts.by_number("2125552002", zone).name == "Bob"
        assert contacts.count() == 2 and contacts.revision() == 0


def test_a_migration_applied_meanwhile_by_another_process_is_not_applied_twice(tmp_path):
    """The engine and the web admin start together on a new database: each reads the schema
    version, then migrates; the second must find the first one's work under the write lock."""
    path = tmp_path / "linebox.db"
    steps = (Migration(1, "a table", ("CREATE TABLE t (x INTEGER)",)),
             Migration(2, "a column", ("ALTER TABLE t ADD COLUMN y INTEGER",)))

    class RacedBy(tuple):
        def __getitem__(self, index):  # called after ``current`` was read: the other process goes first
            if isinstance(index, slice):
                assert migrate(connect(path), "race", steps) == 2
            return tuple.__getitem__(self, index)

    conn = connect(path)
    assert migrate(conn, "race", RacedBy(steps)) == 2
    assert conn.execute("SELECT COUNT(*) FROM schema_version WHERE component = 'race'").fetchone()[0] == 2


def test_v16_database_gains_named_prompts(v1_path):
    """Migration 18: a version-17 database gets an empty ivr_prompts table; named prompts then store."""
    from firmware.config.model import NamedPrompt
    conn = connect(v1_path)
    assert migrate(conn, "config", MIGRATIONS, upto=17) == 17
    conn.close()
    with open_store(v1_path) as store:
        assert store.schema_version == len(MIGRATIONS) == 18
        assert store.load().ivr_prompts == ()
        welcome = NamedPrompt("welcome", text=(("en", "Welcome."),))
        store.update(lambda c: replace(c, ivr_prompts=(welcome,)))
    with open_store(v1_path) as again:
        assert again.load().ivr_prompts == (welcome,)
