"""The configuration's tables in SQLite, their migrations, and rows ↔ the YAML-form dict.

Scalar settings (board, zone, dial-plan timers, security…) live in ``settings`` as JSON
values under dotted keys (``dialplan.inter_digit_timeout_ms``); lists live in their own
tables with a ``position`` column that keeps the installer's order (routes are matched
first to last). ``revision`` holds one counter, incremented by every committed change:
the running engine polls it (``ConfigStore.config_version()``) to learn about changes.

Migrations (component ``config``):

1. the first schema, as shipped;
2. per-line silence timeout and answer detection by polarity reversal; per-extension
   forwarding on busy / no answer, call waiting and voicemail (new columns with defaults);
3. feature codes move from ``settings`` keys ``feature.<name>`` to a ``feature_codes``
   table (a data-moving migration);
4. per-extension trunk group for outside calls (a new column, ``''`` = the dial plan's).
   The dial plan's line selection is a new ``settings`` key and needs no migration.
5. ACD queues and agents (two new tables; a queue's or agent's small maps and lists, such
   as skill levels, are JSON text in their row). The ACD-wide settings (``acd.*``,
   including the VIP callers) are ``settings`` keys and need no migration.
6. per-route queue priority and skill requirements (two new ``routes`` columns whose
   defaults, 0 and ``{}``, keep the old behaviour: the queue's own requirements).
7. a queue's greeting recording (a new ``queues`` column, ``''`` = none).
8. per-line echo canceller switch (a new ``lines`` column; default 1 = on, as before).
9. a line's own pre-dial hold (a new ``lines`` column; NULL = the zone's hold, as before).
10. the manager interface's section (``manager.*`` settings keys): a configured database gets
    the documented defaults written (off, 127.0.0.1:5038), so an export shows the section.
11. IVR flows and the contacts their lookup nodes read (two new tables; a flow's nodes are
    JSON text in its row, in the YAML form of docs/ivr.md, like a queue's skill map).
12. a queue's agent desk: disposition codes, call script, wallboard targets (a new ``queues``
    column, JSON text of the ``desk:`` block; the default ``{}`` reads as no codes, no script,
    the seed targets).
13. a contact's language and notes (two new ``contacts`` columns, ``''`` in upgraded databases).
14. outbound campaigns (a new ``campaigns`` table; a campaign's settings are JSON text in its
    row, in the YAML form of docs/campaigns.md).
15. the caller's language per line and per inbound route (a new ``lines`` and ``routes``
    column each; NULL = inherited, as before).
16. voicemail: mailboxes' own settings (operator, e-mail, limits, expiry) in a new table; the
    ``voicemail.*`` settings keys (time zone, SMTP) need no migration.
17. contacts leave the configuration document: the ``contacts`` table becomes the contact store's
    (firmware/contacts/store.py; tens of thousands of rows, never loaded whole), with a
    ``contact_numbers`` index (each number in E.164, read in the stored zone), a name index, a
    case-folded search text and a revision counter of its own; the configuration neither reads
    nor writes those tables.
18. named IVR prompts (``ivr_prompts``: text or recording per language) in a new table.

Keys missing from a database (a setting added later) take their documented default when
loaded, because loading goes through :func:`firmware.config.codec.from_dict`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from firmware.config.db import Migration
from firmware.schedule import WEEKDAYS, TimeRange

COMPONENT = "config"

_V1 = (
    "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE lines ("
    " port INTEGER PRIMARY KEY CHECK (port BETWEEN 0 AND 63),"
    " position INTEGER NOT NULL,"
    " name TEXT NOT NULL,"
    " number TEXT NOT NULL DEFAULT '',"
    " disconnect TEXT NOT NULL,"
    " dialling TEXT NOT NULL CHECK (dialling IN ('dtmf', 'pulse')),"
    " trunk_group TEXT NOT NULL)",
    "CREATE TABLE extensions ("
    " number TEXT PRIMARY KEY,"
    " position INTEGER NOT NULL,"
    " port INTEGER NOT NULL UNIQUE CHECK (port BETWEEN 0 AND 63),"
    " name TEXT NOT NULL DEFAULT '',"
    " outbound_class TEXT NOT NULL,"
    " dnd INTEGER NOT NULL DEFAULT 0,"
    " forward_always TEXT NOT NULL DEFAULT '',"
    " pickup_group TEXT NOT NULL DEFAULT '')",
    "CREATE TABLE ring_groups ("
    " name TEXT PRIMARY KEY,"
    " position INTEGER NOT NULL,"
    " number TEXT NOT NULL DEFAULT '',"
    " strategy TEXT NOT NULL,"
    " ring_s INTEGER NOT NULL,"
    " no_answer_kind TEXT NOT NULL,"
    " no_answer_name TEXT NOT NULL DEFAULT '')",
    "CREATE TABLE ring_group_members ("
    " group_name TEXT NOT NULL REFERENCES ring_groups(name) ON DELETE CASCADE,"
    " position INTEGER NOT NULL,"
    " extension TEXT NOT NULL,"
    " PRIMARY KEY (group_name, position))",
    "CREATE TABLE schedules (name TEXT PRIMARY KEY, position INTEGER NOT NULL, timezone TEXT NOT NULL)",
    "CREATE TABLE schedule_hours ("
    " schedule TEXT NOT NULL REFERENCES schedules(name) ON DELETE CASCADE,"
    " weekday INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 6),"
    " position INTEGER NOT NULL,"
    " start_min INTEGER NOT NULL,"
    " end_min INTEGER NOT NULL,"
    " PRIMARY KEY (schedule, weekday, position))",
    "CREATE TABLE holidays ("
    " schedule TEXT NOT NULL REFERENCES schedules(name) ON DELETE CASCADE,"
    " date TEXT NOT NULL,"
    " name TEXT NOT NULL DEFAULT '',"
    " PRIMARY KEY (schedule, date))",
    "CREATE TABLE routes ("
    " position INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " line INTEGER,"
    " caller_id TEXT,"
    " schedule TEXT,"
    " when_state TEXT NOT NULL,"
    " dest_kind TEXT NOT NULL,"
    " dest_name TEXT NOT NULL DEFAULT '')",
    "CREATE TABLE revision (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL)",
    "INSERT INTO revision (id, value) VALUES (1, 0)",
)

_V2 = (
    "ALTER TABLE lines ADD COLUMN silence_timeout_s INTEGER NOT NULL DEFAULT 120",
    "ALTER TABLE lines ADD COLUMN answer_by_polarity_reversal INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE extensions ADD COLUMN forward_busy TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE extensions ADD COLUMN forward_no_answer TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE extensions ADD COLUMN forward_no_answer_s INTEGER NOT NULL DEFAULT 20",
    "ALTER TABLE extensions ADD COLUMN call_waiting INTEGER NOT NULL DEFAULT 1",
    "ALTER TABLE extensions ADD COLUMN voicemail INTEGER NOT NULL DEFAULT 0",
)


def _v3_feature_codes_table(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE feature_codes (feature TEXT PRIMARY KEY, code TEXT NOT NULL UNIQUE)")
    rows = conn.execute("SELECT key, value FROM settings WHERE key LIKE 'feature.%'").fetchall()
    for key, value in rows:
        conn.execute("INSERT INTO feature_codes (feature, code) VALUES (?, ?)",
                     (key.removeprefix("feature."), json.loads(value)))
    conn.execute("DELETE FROM settings WHERE key LIKE 'feature.%'")


_V4 = (
    "ALTER TABLE extensions ADD COLUMN trunk_group TEXT NOT NULL DEFAULT ''",
)

_V5 = (
    "CREATE TABLE queues ("
    " name TEXT PRIMARY KEY,"
    " position INTEGER NOT NULL,"
    " number TEXT NOT NULL DEFAULT '',"
    " strategy TEXT NOT NULL,"
    " ring_s INTEGER NOT NULL,"
    " wrapup_s INTEGER NOT NULL,"
    " service_level_s INTEGER NOT NULL,"
    " max_wait_s INTEGER NOT NULL,"
    " overflow_kind TEXT NOT NULL,"
    " overflow_name TEXT NOT NULL DEFAULT '',"
    " join_empty TEXT NOT NULL,"  # JSON: null or a list of conditions
    " leave_empty TEXT NOT NULL,"
    " announce_position_s INTEGER NOT NULL,"
    " announce_hold_time INTEGER NOT NULL,"
    " periodic_announce_s INTEGER NOT NULL,"
    " exit_key TEXT NOT NULL DEFAULT '',"
    " exit_kind TEXT NOT NULL,"
    " exit_name TEXT NOT NULL DEFAULT '',"
    " required_skills TEXT NOT NULL,"  # JSON object skill -> level, in the installer's order
    " relax TEXT NOT NULL,"  # JSON list of {after_s, max_level}
    " callback_enabled INTEGER NOT NULL,"
    " callback_max_attempts INTEGER NOT NULL,"
    " callback_retry_s INTEGER NOT NULL,"
    " music TEXT NOT NULL)",
    "CREATE TABLE agents ("
    " id TEXT PRIMARY KEY,"
    " position INTEGER NOT NULL,"
    " name TEXT NOT NULL DEFAULT '',"
    " extension TEXT NOT NULL,"
    " pin TEXT NOT NULL DEFAULT '',"
    " queues TEXT NOT NULL,"  # JSON object queue -> penalty
    " skills TEXT NOT NULL)",  # JSON object skill -> level
)

_V6 = (
    "ALTER TABLE routes ADD COLUMN queue_priority INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE routes ADD COLUMN queue_skills TEXT NOT NULL DEFAULT '{}'",  # JSON object skill -> level
)

_V7 = ("ALTER TABLE queues ADD COLUMN greeting TEXT NOT NULL DEFAULT ''",)

_V8 = ("ALTER TABLE lines ADD COLUMN echo_canceller INTEGER NOT NULL DEFAULT 1 CHECK (echo_canceller IN (0, 1))",)

_V9 = ("ALTER TABLE lines ADD COLUMN pre_dial_hold_ms INTEGER",)  # NULL: the zone's
_V11 = (
    "CREATE TABLE ivr_flows ("
    " name TEXT PRIMARY KEY,"
    " position INTEGER NOT NULL,"
    " start TEXT NOT NULL,"
    " languages TEXT NOT NULL,"  # JSON list of language codes, the default first
    " nodes TEXT NOT NULL)",  # JSON list of nodes (the YAML form)
    "CREATE TABLE contacts ("
    " position INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " numbers TEXT NOT NULL,"  # JSON list of phone numbers
    " account TEXT NOT NULL DEFAULT '',"
    " fields TEXT NOT NULL)",  # JSON object field -> text, in the installer's order
    "CREATE INDEX contacts_account ON contacts (account)",
)
_V12 = ("ALTER TABLE queues ADD COLUMN desk TEXT NOT NULL DEFAULT '{}'",)  # JSON: the queue's desk: block
_V15 = (
    "ALTER TABLE lines ADD COLUMN language TEXT",  # NULL: the box's language
    "ALTER TABLE routes ADD COLUMN language TEXT",  # NULL: the line's
)
_V13 = ("ALTER TABLE contacts ADD COLUMN language TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE contacts ADD COLUMN notes TEXT NOT NULL DEFAULT ''")
_V14 = ("CREATE TABLE campaigns (name TEXT PRIMARY KEY, position INTEGER NOT NULL,"
        " settings TEXT NOT NULL)",)  # JSON object: the campaign's YAML form
_V16 = (
    "CREATE TABLE voicemail_mailboxes ("
    " number TEXT PRIMARY KEY,"
    " position INTEGER NOT NULL,"
    " settings TEXT NOT NULL)",  # JSON object: the entry's YAML form without its number
)
_V18 = ("CREATE TABLE ivr_prompts (name TEXT PRIMARY KEY, position INTEGER NOT NULL,"
        " settings TEXT NOT NULL)",)  # JSON object: text and recording per language (the YAML form)


def folded_text(name: str, account: str, values: Iterable[str]) -> str:
    """A contact's searchable text: name, account and free fields' values, case-folded, one
    unit separator (U+001F, never in a stored value) between them."""
    return "\x1f".join((name, account, *values)).casefold()


def _v17_contact_store(conn: sqlite3.Connection) -> None:
    from firmware.numbers import try_e164  # noqa: PLC0415 -- only this data-moving migration needs the plans
    conn.execute("CREATE TABLE contact_numbers ("
                 " number TEXT PRIMARY KEY,"  # E.164 (or as written when it is not a valid number)
                 " contact INTEGER NOT NULL REFERENCES contacts(position) ON DELETE CASCADE) WITHOUT ROWID")
    conn.execute("CREATE INDEX contact_numbers_contact ON contact_numbers (contact)")
    conn.execute("CREATE INDEX contacts_name ON contacts (name COLLATE NOCASE, position)")
    # what a search matches a part of: name, account and free fields' text, case-folded (any script)
    conn.execute("ALTER TABLE contacts ADD COLUMN folded TEXT NOT NULL DEFAULT ''")
    conn.execute("CREATE TABLE contacts_revision (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL)")
    conn.execute("INSERT INTO contacts_revision (id, value) VALUES (1, 0)")
    row = conn.execute("SELECT value FROM settings WHERE key = 'zone'").fetchone()
    zone = json.loads(row[0]) if row else "us"
    rows = conn.execute("SELECT position, numbers, name, account, fields FROM contacts ORDER BY position").fetchall()
    for position, numbers, name, account, fields in rows:
        conn.execute("UPDATE contacts SET folded = ? WHERE position = ?",
                     (folded_text(name, account, json.loads(fields).values()), position))
        for number in json.loads(numbers):  # the first contact of a number keeps it, as the lookup did
            conn.execute("INSERT OR IGNORE INTO contact_numbers (number, contact) VALUES (?, ?)",
                         (try_e164(number, zone) or number, position))


_MANAGER_DEFAULTS = (("manager.enabled", "false"), ("manager.listen", '"127.0.0.1:5038"'),
                     ("manager.max_clients", "8"), ("manager.actions_per_second", "20"),
                     ("manager.client_queue_events", "1000"))


def _v10_manager_settings(conn: sqlite3.Connection) -> None:
    if is_empty(conn):
        return  # nothing configured yet: the first save writes every key
    conn.executemany("INSERT OR IGNORE INTO settings (key, value) VALUES (?, ?)", _MANAGER_DEFAULTS)


MIGRATIONS = (
    Migration(1, "initial configuration schema", _V1),
    Migration(2, "line silence timeout and polarity answer; extension forwarding, call waiting, voicemail", _V2),
    Migration(3, "feature codes in their own table", _v3_feature_codes_table),
    Migration(4, "extension trunk group", _V4),
    Migration(5, "ACD queues and agents", _V5),
    Migration(6, "route queue priority and skills", _V6),
    Migration(7, "queue greeting", _V7),
    Migration(8, "line echo canceller switch", _V8),
    Migration(9, "line pre-dial hold", _V9),
    Migration(10, "manager interface settings", _v10_manager_settings),
    Migration(11, "IVR flows and contacts", _V11),
    Migration(12, "queue desk: dispositions, script, wallboard targets", _V12),
    Migration(13, "contact language and notes", _V13),
    Migration(14, "outbound campaigns", _V14),
    Migration(15, "line and route language", _V15),
    Migration(16, "voicemail mailbox settings", _V16),
    Migration(17, "contacts in their own store: number index, name index, revision", _v17_contact_store),
    Migration(18, "named IVR prompts", _V18),
)

_SETTINGS = (
    "board", "zone", "language", "caller_id_standard",
    "dialplan.outside_prefix", "dialplan.inter_digit_timeout_ms", "dialplan.incomplete_timeout_ms",
    "dialplan.trunk_group", "dialplan.line_selection", "dialplan.maps.internal", "dialplan.maps.local",
    "dialplan.maps.national", "dialplan.maps.international", "dialplan.maps.premium",
    "security.trunk_to_trunk_allowed", "security.after_hours_schedule", "security.after_hours_max_class",
    "security.allow_premium", "acd.auto_pause_after", "acd.abandon_resume_s", "acd.vip_callers",
    # retention.*: key/value rows, no migration (a database without them reads the defaults)
    "retention.cdr_days", "retention.cdr_max_rows", "retention.queue_log_days", "retention.queue_log_max_mb",
    "retention.recordings_days", "retention.recordings_max_mb", "retention.logs_days", "retention.logs_max_mb",
    "retention.disk_budget_mb",
    "manager.enabled", "manager.listen", "manager.max_clients", "manager.actions_per_second",
    "manager.client_queue_events",
    "voicemail.timezone", "voicemail.smtp.host", "voicemail.smtp.port", "voicemail.smtp.starttls",
    "voicemail.smtp.user", "voicemail.smtp.password", "voicemail.smtp.from_address",
    "security.prompt_recorders",  # a settings key: no migration (a database without it reads none)
    "acd.callback_agent_grace_s",  # a settings key: no migration (a database without it reads 60)
)
_TABLES = ("settings", "lines", "extensions", "ring_group_members", "ring_groups", "schedule_hours", "holidays",
           "schedules", "routes", "feature_codes", "queues", "agents", "ivr_flows", "campaigns",
           "voicemail_mailboxes", "ivr_prompts")
_QUEUE_COLUMNS = ("name", "number", "strategy", "ring_s", "wrapup_s", "service_level_s", "max_wait_s",
                  "overflow_kind", "overflow_name", "join_empty", "leave_empty", "announce_position_s",
                  "announce_hold_time", "periodic_announce_s", "exit_key", "exit_kind", "exit_name",
                  "required_skills", "relax", "callback_enabled", "callback_max_attempts", "callback_retry_s",
                  "music", "greeting", "desk")


def _get(data: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        data = data[part]
    return data


def _put(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[last] = value


def write_rows(conn: sqlite3.Connection, data: dict[str, Any]) -> None:
    """Replaces every configuration row with ``data`` (the YAML form). Inside a transaction."""
    for table in _TABLES:
        conn.execute(f"DELETE FROM {table}")
    for key in _SETTINGS:
        conn.execute("INSERT INTO settings (key, value) VALUES (?, ?)", (key, json.dumps(_get(data, key))))
    for position, line in enumerate(data["lines"]):
        conn.execute(
            "INSERT INTO lines (port, position, name, number, disconnect, dialling, trunk_group,"
            " silence_timeout_s, answer_by_polarity_reversal, echo_canceller, pre_dial_hold_ms, language)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (line["port"], position, line["name"], line["number"], ",".join(line["disconnect"]), line["dialling"],
             line["group"], line["silence_timeout_s"], int(line["answer_by_polarity_reversal"]),
             int(line["echo_canceller"]), line.get("pre_dial_hold_ms"), line.get("language")))
    for position, ext in enumerate(data["extensions"]):
        forward = ext["forward"]
        conn.execute(
            "INSERT INTO extensions (number, position, port, name, outbound_class, dnd, forward_always,"
            " pickup_group, forward_busy, forward_no_answer, forward_no_answer_s, call_waiting, voicemail,"
            " trunk_group) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (ext["number"], position, ext["port"], ext["name"], ext["outbound_class"], int(ext["dnd"]),
             forward["always"], ext["pickup_group"], forward["busy"], forward["no_answer"],
             forward["no_answer_s"], int(ext["call_waiting"]), int(ext["voicemail"]), ext["trunk_group"]))
    for position, group in enumerate(data["ring_groups"]):
        conn.execute(
            "INSERT INTO ring_groups (name, position, number, strategy, ring_s, no_answer_kind, no_answer_name)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (group["name"], position, group["number"], group["strategy"], group["ring_s"],
             group["no_answer"]["kind"], group["no_answer"]["name"]))
        for member_position, member in enumerate(group["members"]):
            conn.execute("INSERT INTO ring_group_members (group_name, position, extension) VALUES (?, ?, ?)",
                         (group["name"], member_position, member))
    for position, schedule in enumerate(data["schedules"]):
        conn.execute("INSERT INTO schedules (name, position, timezone) VALUES (?, ?, ?)",
                     (schedule["name"], position, schedule["timezone"]))
        for weekday, day in enumerate(WEEKDAYS):
            for range_position, text in enumerate(schedule["hours"][day]):
                time_range = TimeRange.parse(text)
                conn.execute(
                    "INSERT INTO schedule_hours (schedule, weekday, position, start_min, end_min)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (schedule["name"], weekday, range_position, time_range.start_min, time_range.end_min))
        for holiday in schedule["holidays"]:
            conn.execute("INSERT INTO holidays (schedule, date, name) VALUES (?, ?, ?)",
                         (schedule["name"], holiday["date"], holiday["name"]))
    for position, route in enumerate(data["routes"]):
        conn.execute(
            "INSERT INTO routes (position, name, line, caller_id, schedule, when_state, dest_kind, dest_name,"
            " queue_priority, queue_skills, language) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (position, route["name"], route["line"], route["caller_id"], route["schedule"], route["when"],
             route["destination"]["kind"], route["destination"]["name"], route["queue_priority"],
             json.dumps(route["queue_skills"]), route.get("language")))
    for feature, code in data["feature_codes"].items():
        conn.execute("INSERT INTO feature_codes (feature, code) VALUES (?, ?)", (feature, code))
    for position, queue in enumerate(data["queues"]):
        callback = queue["callback"]
        values = (queue["name"], queue["number"], queue["strategy"], queue["ring_s"], queue["wrapup_s"],
                  queue["service_level_s"], queue["max_wait_s"], queue["overflow"]["kind"],
                  queue["overflow"]["name"], json.dumps(queue["join_empty"]), json.dumps(queue["leave_empty"]),
                  queue["announce_position_s"], int(queue["announce_hold_time"]), queue["periodic_announce_s"],
                  queue["exit_key"], queue["exit_destination"]["kind"], queue["exit_destination"]["name"],
                  json.dumps(queue["required_skills"]), json.dumps(queue["relax"]), int(callback["enabled"]),
                  callback["max_attempts"], callback["retry_s"], queue["music"],
                  queue["greeting"], json.dumps(queue["desk"]))
        conn.execute(f"INSERT INTO queues (position, {', '.join(_QUEUE_COLUMNS)})"
                     f" VALUES (?, {', '.join('?' * len(_QUEUE_COLUMNS))})", (position, *values))
    for position, agent in enumerate(data["agents"]):
        conn.execute(
            "INSERT INTO agents (id, position, name, extension, pin, queues, skills) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (agent["id"], position, agent["name"], agent["extension"], agent["pin"], json.dumps(agent["queues"]),
             json.dumps(agent["skills"])))
    for position, flow in enumerate(data["ivr_flows"]):
        conn.execute("INSERT INTO ivr_flows (name, position, start, languages, nodes) VALUES (?, ?, ?, ?, ?)",
                     (flow["name"], position, flow["start"], json.dumps(flow["languages"]),
                      json.dumps(flow["nodes"])))
    for position, prompt in enumerate(data["ivr_prompts"]):
        conn.execute("INSERT INTO ivr_prompts (name, position, settings) VALUES (?, ?, ?)",
                     (prompt["name"], position, json.dumps({"text": prompt["text"],
                                                            "recording": prompt["recording"]})))
    for position, campaign in enumerate(data.get("campaigns", ())):
        conn.execute("INSERT INTO campaigns (name, position, settings) VALUES (?, ?, ?)",
                     (campaign["name"], position, json.dumps(campaign)))
    for position, entry in enumerate(data["voicemail"]["mailboxes"]):
        settings = {key: value for key, value in entry.items() if key != "number"}
        conn.execute("INSERT INTO voicemail_mailboxes (number, position, settings) VALUES (?, ?, ?)",
                     (entry["number"], position, json.dumps(settings)))


def read_rows(conn: sqlite3.Connection) -> dict[str, Any]:
    """The stored configuration in the YAML form (types are checked by the caller's from_dict)."""
    data: dict[str, Any] = {}
    for key, value in conn.execute("SELECT key, value FROM settings ORDER BY key"):
        _put(data, key, json.loads(value))
    data["lines"] = [
        {"port": port, "name": name, "number": number, "disconnect": disconnect.split(",") if disconnect else [],
         "silence_timeout_s": silence, "answer_by_polarity_reversal": bool(polarity), "dialling": dialling,
         "group": group, "echo_canceller": bool(echo), "pre_dial_hold_ms": pre_dial_hold, "language": language}
        for port, name, number, disconnect, silence, polarity, dialling, group, echo, pre_dial_hold, language
        in conn.execute(
            "SELECT port, name, number, disconnect, silence_timeout_s, answer_by_polarity_reversal, dialling,"
            " trunk_group, echo_canceller, pre_dial_hold_ms, language FROM lines ORDER BY position")
    ]
    data["extensions"] = [
        {"number": number, "port": port, "name": name, "outbound_class": outbound, "trunk_group": trunk_group,
         "dnd": bool(dnd),
         "forward": {"always": always, "busy": busy, "no_answer": no_answer, "no_answer_s": no_answer_s},
         "pickup_group": pickup, "call_waiting": bool(waiting), "voicemail": bool(voicemail)}
        for (number, port, name, outbound, trunk_group, dnd, always, busy, no_answer, no_answer_s, pickup, waiting,
             voicemail)
        in conn.execute(
            "SELECT number, port, name, outbound_class, trunk_group, dnd, forward_always, forward_busy,"
            " forward_no_answer, forward_no_answer_s, pickup_group, call_waiting, voicemail FROM extensions"
            " ORDER BY position")
    ]
    members: dict[str, list[str]] = {}
    for group_name, extension in conn.execute(
            "SELECT group_name, extension FROM ring_group_members ORDER BY group_name, position"):
        members.setdefault(group_name, []).append(extension)
    data["ring_groups"] = [
        {"name": name, "number": number, "members": members.get(name, []), "strategy": strategy,
         "ring_s": ring_s, "no_answer": {"kind": kind, "name": target}}
        for name, number, strategy, ring_s, kind, target in conn.execute(
            "SELECT name, number, strategy, ring_s, no_answer_kind, no_answer_name FROM ring_groups"
            " ORDER BY position")
    ]
    hours: dict[str, dict[str, list[str]]] = {}
    for schedule, weekday, start, end in conn.execute(
            "SELECT schedule, weekday, start_min, end_min FROM schedule_hours ORDER BY schedule, weekday, position"):
        day = hours.setdefault(schedule, {d: [] for d in WEEKDAYS})[WEEKDAYS[weekday]]
        day.append(str(TimeRange(start, end)))
    holidays: dict[str, list[dict[str, str]]] = {}
    for schedule, date, name in conn.execute("SELECT schedule, date, name FROM holidays ORDER BY schedule, date"):
        holidays.setdefault(schedule, []).append({"date": date, "name": name})
    data["schedules"] = [
        {"name": name, "timezone": timezone, "hours": hours.get(name, {d: [] for d in WEEKDAYS}),
         "holidays": holidays.get(name, [])}
        for name, timezone in conn.execute("SELECT name, timezone FROM schedules ORDER BY position")
    ]
    data["routes"] = [
        {"name": name, "line": line, "caller_id": caller_id, "schedule": schedule, "when": when,
         "destination": {"kind": kind, "name": target}, "queue_priority": priority,
         "queue_skills": json.loads(skills), "language": language}
        for name, line, caller_id, schedule, when, kind, target, priority, skills, language in conn.execute(
            "SELECT name, line, caller_id, schedule, when_state, dest_kind, dest_name, queue_priority, queue_skills,"
            " language FROM routes ORDER BY position")
    ]
    data["feature_codes"] = dict(conn.execute("SELECT feature, code FROM feature_codes ORDER BY rowid"))
    data["queues"] = [_queue_row(dict(zip(_QUEUE_COLUMNS, row, strict=True))) for row in conn.execute(
        f"SELECT {', '.join(_QUEUE_COLUMNS)} FROM queues ORDER BY position")]
    data["agents"] = [
        {"id": agent_id, "name": name, "extension": extension, "pin": pin, "queues": json.loads(queues),
         "skills": json.loads(skills)}
        for agent_id, name, extension, pin, queues, skills in conn.execute(
            "SELECT id, name, extension, pin, queues, skills FROM agents ORDER BY position")
    ]
    data["ivr_flows"] = [
        {"name": name, "start": start, "languages": json.loads(languages), "nodes": json.loads(nodes)}
        for name, start, languages, nodes in conn.execute(
            "SELECT name, start, languages, nodes FROM ivr_flows ORDER BY position")
    ]
    data["ivr_prompts"] = [
        {"name": name, **json.loads(settings)}
        for name, settings in conn.execute("SELECT name, settings FROM ivr_prompts ORDER BY position")
    ]
    data["campaigns"] = [json.loads(settings) for (settings,) in
                         conn.execute("SELECT settings FROM campaigns ORDER BY position")]
    data.setdefault("voicemail", {})["mailboxes"] = [
        {"number": number, **json.loads(settings)}
        for number, settings in conn.execute("SELECT number, settings FROM voicemail_mailboxes ORDER BY position")
    ]
    return data


def _queue_row(row: dict[str, Any]) -> dict[str, Any]:
    """One ``queues`` row in the YAML form."""
    return {
        "name": row["name"], "number": row["number"], "strategy": row["strategy"], "ring_s": row["ring_s"],
        "wrapup_s": row["wrapup_s"], "service_level_s": row["service_level_s"], "max_wait_s": row["max_wait_s"],
        "overflow": {"kind": row["overflow_kind"], "name": row["overflow_name"]},
        "join_empty": json.loads(row["join_empty"]), "leave_empty": json.loads(row["leave_empty"]),
        "announce_position_s": row["announce_position_s"], "announce_hold_time": bool(row["announce_hold_time"]),
        "periodic_announce_s": row["periodic_announce_s"], "exit_key": row["exit_key"],
        "exit_destination": {"kind": row["exit_kind"], "name": row["exit_name"]},
        "required_skills": json.loads(row["required_skills"]), "relax": json.loads(row["relax"]),
        "callback": {"enabled": bool(row["callback_enabled"]), "max_attempts": row["callback_max_attempts"],
                     "retry_s": row["callback_retry_s"]},
        "music": row["music"],
        "greeting": row["greeting"],
        "desk": json.loads(row["desk"]),
    }


def bump_revision(conn: sqlite3.Connection) -> int:
    conn.execute("UPDATE revision SET value = value + 1 WHERE id = 1")
    return int(conn.execute("SELECT value FROM revision WHERE id = 1").fetchone()[0])


def revision(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT value FROM revision WHERE id = 1").fetchone()[0])


def is_empty(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT COUNT(*) FROM settings").fetchone()[0] == 0
