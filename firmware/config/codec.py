"""The configuration as plain data (the YAML form) and back, with types and bounds checked.

:func:`to_dict` gives the documented layout (docs/configuration.md): plain dicts, lists,
strings, integers, booleans and ``None``, keys in a fixed order, so an export is stable.
:func:`from_dict` is the one place where types and bounds are enforced: unknown keys,
wrong types and out-of-range values are refused with a :class:`FirmwareError` whose
message starts with the path of the field, e.g. ``extensions[2].port: expected an
integer 0-63, got 'x'``. Every write to the store goes ``to_dict`` → ``from_dict`` →
cross-reference checks, so a Config built in Python is checked exactly like an import.
"""

from __future__ import annotations

import datetime as dt
import re
import reprlib
from collections.abc import Mapping
from dataclasses import MISSING, fields
from enum import StrEnum
from typing import Any

from firmware import FirmwareError
from firmware.acd.model import MAX_SKILL_LEVEL, MIN_SKILL_LEVEL, EmptyCondition, Strategy
from firmware.config import deskcodec
from firmware.config.model import (
    MAX_PRE_DIAL_HOLD_MS,
    AcdSettings,
    Agent,
    CallerIdStandard,
    Config,
    Destination,
    DestinationKind,
    Dialling,
    DialPlanSettings,
    DigitMaps,
    DisconnectMethod,
    Extension,
    FeatureCodes,
    Forwarding,
    InboundRoute,
    Line,
    LineSelection,
    ManagerSettings,
    OutboundClass,
    Queue,
    QueueCallback,
    QueueDesk,
    Relaxation,
    Retention,
    RingGroup,
    RingStrategy,
    RouteWhen,
    Security,
    VipCaller,
    Zone,
)
from firmware.dialplan import DigitMap
from firmware.schedule import WEEKDAYS, Holiday, Schedule, TimeRange, zone_info
from firmware.tollguard import MAX_EXTERNAL_DIGITS

FORMAT_VERSION = 1
"""``linebox_config:`` at the top of a YAML export: the layout of the file, not the schema."""

MAX_PORT = 63
MAX_LINES = 64
MAX_EXTENSIONS = 64
MAX_RING_GROUPS = 32
MAX_GROUP_MEMBERS = 16
MAX_ROUTES = 64
MAX_SCHEDULES = 16
MAX_RANGES_PER_DAY = 8
MAX_HOLIDAYS = 366
MAX_DIGIT_MAP_CHARS = 4000
MAX_QUEUES = 16
MAX_AGENTS = 64
MAX_SKILLS = 16
MAX_RELAX_STEPS = 8
MAX_VIP_CALLERS = 100
MAX_CALLBACK_AGENT_GRACE_S = 3600  # acd.callback_agent_grace_s: an hour at most
MAX_PENALTY = 10
MAX_ROUTE_PRIORITY = 100
"""A route's queue priority (higher is served first; a VIP caller's 1-9 counts when higher)."""
MIN_ANNOUNCE_S = 15
"""Announcement intervals are 0 (off) or at least this: a prompt must have time to end."""
MAX_ANNOUNCE_S = 600

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
"""Identifiers: board, ring-group, schedule, trunk-group, IVR and queue names."""
EXTENSION_RE = re.compile(r"[1-9][0-9]{1,5}")
PHONE_RE = re.compile(r"[0-9]{1,20}")
PREFIX_RE = re.compile(r"[0-9]{0,2}")
OUTSIDE_NUMBER_RE = re.compile(rf"[0-9]{{1,{2 + MAX_EXTERNAL_DIGITS}}}")
"""An ``outside`` destination: the outside prefix (PREFIX_RE) and an external number, digits only
(the toll guard classifies digits; ``*`` and ``#`` are never part of a number it allows)."""
FEATURE_CODE_RE = re.compile(r"[*#][0-9*#]{1,4}")
LANGUAGE_RE = re.compile(r"[a-z]{2}(_[A-Z]{2})?")
AGENT_ID_RE = re.compile(r"[0-9]{1,8}")
PIN_RE = re.compile(r"[0-9]{4,8}")
SKILL_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")
DTMF_KEYS = "0123456789*#"
QUEUE_DESTINATIONS = (DestinationKind.QUEUE, DestinationKind.VOICEMAIL, DestinationKind.IVR,
                      DestinationKind.EXTENSION, DestinationKind.HANGUP, DestinationKind.OUTSIDE)
"""Where a queue may send its callers (the ACD core has no ring groups)."""
WITHHELD = "withheld"
"""Route caller-ID pattern matching calls without a number (private, unavailable, none)."""


_KEY_RE = re.compile(r"[A-Za-z0-9_-]{1,40}")
_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 40
_SHORT.maxlevel = 2  # bounded work whatever the value: YAML aliases can make huge shared structures


QUOTE_HINT = "a number: put it in quotes"


def path_token(key: str) -> str:
    """How a mapping's key appears in a field's path (problem messages)."""
    if not _KEY_RE.fullmatch(key):
        return _SHORT.repr(key)  # a key from the file that is no name: quoted, escaped and shortened
    return key


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    key = path_token(key)
    return f"{path}.{key}" if path else key


def _describe(value: Any) -> str:
    text = _SHORT.repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class Reader:
    """Reads the keys of one mapping that becomes one dataclass; errors name the field."""

    def __init__(self, raw: Any, path: str, cls: type) -> None:
        if not isinstance(raw, Mapping):
            raise FirmwareError(f"{path or 'configuration'}: expected a mapping, got {_describe(raw)}")
        self.raw = raw
        self.path = path
        self.defaults = {
            f.name: f.default_factory() if f.default_factory is not MISSING else f.default for f in fields(cls)
        }
        for key in raw:
            if key not in self.defaults:
                known = ", ".join(self.defaults)
                raise FirmwareError(f"{_join(path, str(key))}: unknown key (known: {known})")

    def at(self, key: str) -> str:
        return _join(self.path, key)

    def value(self, key: str, required: bool = False) -> Any:
        if key in self.raw:
            return self.raw[key]
        if required or self.defaults[key] is MISSING:
            raise FirmwareError(f"{self.at(key)}: missing (required)")
        return self.defaults[key]

    def integer(self, key: str, low: int, high: int, optional: bool = False) -> int | None:
        value = self.value(key)
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise FirmwareError(f"{self.at(key)}: expected an integer {low}-{high}, got {_describe(value)}")
        return value

    def boolean(self, key: str) -> bool:
        value = self.value(key)
        if not isinstance(value, bool):
            raise FirmwareError(f"{self.at(key)}: expected true or false, got {_describe(value)}")
        return value

    def text(self, key: str, pattern: re.Pattern[str] | None = None, what: str = "",
             optional: bool = False, empty: bool = False, max_chars: int = 40) -> str | None:
        value = self.value(key)
        if value is None and optional:
            return None
        return check_text(value, self.at(key), pattern, what, empty=empty, max_chars=max_chars)

    def choice(self, key: str, enum: type[StrEnum], optional: bool = False) -> Any:
        value = self.value(key)
        if value is None and optional:
            return None
        return check_choice(value, self.at(key), enum)

    def items(self, key: str, limit: int) -> list[tuple[str, Any]]:
        value = self.value(key)
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (list, tuple)):
            raise FirmwareError(f"{self.at(key)}: expected a list, got {_describe(value)}")
        if len(value) > limit:
            raise FirmwareError(f"{self.at(key)}: at most {limit} entries, got {len(value)}")
        return [(_join(self.at(key), index), item) for index, item in enumerate(value)]


def check_text(value: Any, path: str, pattern: re.Pattern[str] | None = None, what: str = "",
               empty: bool = False, max_chars: int = 40) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # YAML reads `number: 204` as a number (and 0204 as octal, +1 212... as 1212...)
        raise FirmwareError(f"{path}: expected text, got {_describe(value)}, {QUOTE_HINT} ('{value}') so that "
                            "it is kept as written, leading 0 and + included")
    if not isinstance(value, str):
        raise FirmwareError(f"{path}: expected text, got {_describe(value)}")
    if value == "" and empty:
        return value
    if pattern is not None:
        if not pattern.fullmatch(value):
            raise FirmwareError(f"{path}: {_describe(value)} is not {what}")
        return value
    if value == "" or len(value) > max_chars or not value.isprintable() or value != value.strip():
        raise FirmwareError(f"{path}: expected 1-{max_chars} printable characters without leading or "
                            f"trailing spaces, got {_describe(value)}")
    return value


def check_choice(value: Any, path: str, enum: type[StrEnum]) -> Any:
    options = [member.value for member in enum]
    if not isinstance(value, str) or value not in options:
        raise FirmwareError(f"{path}: expected one of {', '.join(options)}, got {_describe(value)}")
    return enum(value)


# -- from plain data ---------------------------------------------------------------------------


def _line(raw: Any, path: str) -> Line:
    r = Reader(raw, path, Line)
    port = r.integer("port", 0, MAX_PORT)
    name = r.text("name")
    number = r.text("number", PHONE_RE, "a phone number of 1-20 digits", empty=True)
    methods = []
    for item_path, item in r.items("disconnect", limit=len(DisconnectMethod)):
        method = check_choice(item, item_path, DisconnectMethod)
        if method in methods:
            raise FirmwareError(f"{item_path}: {method} is listed twice")
        methods.append(method)
    if not methods:
        raise FirmwareError(f"{r.at('disconnect')}: at least one disconnect supervision method is needed")
    return Line(
        port=port,
        name=name,
        number=number,
        disconnect=tuple(methods),
        silence_timeout_s=r.integer("silence_timeout_s", 10, 3600),
        answer_by_polarity_reversal=r.boolean("answer_by_polarity_reversal"),
        dialling=r.choice("dialling", Dialling),
        group=r.text("group", NAME_RE, "a name (letters, digits, _ . -; up to 32)"),
        echo_canceller=r.boolean("echo_canceller"),
        pre_dial_hold_ms=r.integer("pre_dial_hold_ms", 0, MAX_PRE_DIAL_HOLD_MS, optional=True),
        language=r.text("language", LANGUAGE_RE, "a language code like en or pt_BR", optional=True),
    )


def _forwarding(raw: Any, path: str) -> Forwarding:
    r = Reader(raw, path, Forwarding)
    target = "a number of 1-20 digits (an extension, or the outside prefix and a number)"
    return Forwarding(
        always=r.text("always", PHONE_RE, target, empty=True),
        busy=r.text("busy", PHONE_RE, target, empty=True),
        no_answer=r.text("no_answer", PHONE_RE, target, empty=True),
        no_answer_s=r.integer("no_answer_s", 5, 120),
    )


def _extension(raw: Any, path: str) -> Extension:
    r = Reader(raw, path, Extension)
    return Extension(
        number=r.text("number", EXTENSION_RE, "an extension number of 2-6 digits not starting with 0"),
        port=r.integer("port", 0, MAX_PORT),
        name=r.text("name", empty=True),
        outbound_class=r.choice("outbound_class", OutboundClass),
        trunk_group=r.text("trunk_group", NAME_RE, "a trunk group name (letters, digits, _ . -; up to 32) or ''",
                           empty=True),
        dnd=r.boolean("dnd"),
        forward=_forwarding(r.value("forward") if "forward" in r.raw else {}, r.at("forward")),
        pickup_group=r.text("pickup_group", NAME_RE, "a name (letters, digits, _ . -; up to 32)", empty=True),
        call_waiting=r.boolean("call_waiting"),
        voicemail=r.boolean("voicemail"),
    )


def _destination(raw: Any, path: str) -> Destination:
    r = Reader(raw, path, Destination)
    kind = r.choice("kind", DestinationKind)
    name = r.value("name")
    if kind == DestinationKind.HANGUP:
        if name not in ("", None):
            raise FirmwareError(f"{r.at('name')}: a hangup destination has no name, got {_describe(name)}")
        return Destination(kind)
    if kind == DestinationKind.EXTENSION or kind == DestinationKind.VOICEMAIL:
        name = check_text(name, r.at("name"), EXTENSION_RE, "an extension number")
    elif kind == DestinationKind.OUTSIDE:
        name = check_text(name, r.at("name"), OUTSIDE_NUMBER_RE,
                          f"an outside number (digits only, 1-{2 + MAX_EXTERNAL_DIGITS}, outside prefix included)")
    else:
        name = check_text(name, r.at("name"), NAME_RE, "a name (letters, digits, _ . -; up to 32)")
    return Destination(kind, name)


def _ring_group(raw: Any, path: str) -> RingGroup:
    r = Reader(raw, path, RingGroup)
    name = r.text("name", NAME_RE, "a name (letters, digits, _ . -; up to 32)")
    number = r.text("number", EXTENSION_RE, "a number of 2-6 digits not starting with 0", empty=True)
    members = []
    for item_path, item in r.items("members", MAX_GROUP_MEMBERS):
        members.append(check_text(item, item_path, EXTENSION_RE, "an extension number"))
    if not members:
        raise FirmwareError(f"{r.at('members')}: a ring group needs at least one member")
    no_answer = r.value("no_answer")
    return RingGroup(
        name=name,
        members=tuple(members),
        number=number,
        strategy=r.choice("strategy", RingStrategy),
        ring_s=r.integer("ring_s", 5, 300),
        no_answer=no_answer if isinstance(no_answer, Destination) else _destination(no_answer, r.at("no_answer")),
    )


def _digit_maps(raw: Any, path: str) -> DigitMaps:
    r = Reader(raw, path, DigitMaps)
    values: dict[str, str | None] = {}
    for key in r.defaults:
        value = r.value(key)
        if value is None and key != "internal":
            values[key] = None
            continue
        if not isinstance(value, str) or len(value) > MAX_DIGIT_MAP_CHARS:
            raise FirmwareError(f"{r.at(key)}: expected a digit map (text up to {MAX_DIGIT_MAP_CHARS} "
                                f"characters), got {_describe(value)}")
        try:
            DigitMap.parse(value)
        except FirmwareError as exc:
            raise FirmwareError(f"{r.at(key)}: {exc}") from exc
        values[key] = value
    if not values["internal"]:
        raise FirmwareError(f"{r.at('internal')}: the internal digit map cannot be empty")
    return DigitMaps(**values)


def _dialplan(raw: Any, path: str) -> DialPlanSettings:
    r = Reader(raw, path, DialPlanSettings)
    maps = r.value("maps")
    return DialPlanSettings(
        outside_prefix=r.text("outside_prefix", PREFIX_RE, "a prefix of 0-2 digits", optional=True, empty=True),
        inter_digit_timeout_ms=r.integer("inter_digit_timeout_ms", 1000, 20000),
        incomplete_timeout_ms=r.integer("incomplete_timeout_ms", 2000, 60000),
        trunk_group=r.text("trunk_group", NAME_RE, "a name (letters, digits, _ . -; up to 32)"),
        line_selection=r.choice("line_selection", LineSelection),
        maps=maps if isinstance(maps, DigitMaps) else _digit_maps(maps, r.at("maps")),
    )


def _caller_id_pattern(value: Any, path: str) -> str | None:
    if value is None or value == WITHHELD:
        return value
    if not isinstance(value, str) or not value or len(value) > MAX_DIGIT_MAP_CHARS:
        raise FirmwareError(f"{path}: expected a digit map or {WITHHELD!r}, got {_describe(value)}")
    try:
        digit_map = DigitMap.parse(value)
    except FirmwareError as exc:
        raise FirmwareError(f"{path}: {exc}") from exc
    if any(alt.timer for alt in digit_map.alternatives):
        raise FirmwareError(f"{path}: a caller-ID pattern cannot use the timer 'T'")
    return value


def _route(raw: Any, path: str) -> InboundRoute:
    r = Reader(raw, path, InboundRoute)
    return InboundRoute(
        name=r.text("name"),
        destination=_destination(r.value("destination", required=True), r.at("destination")),
        line=r.integer("line", 0, MAX_PORT, optional=True),
        caller_id=_caller_id_pattern(r.value("caller_id"), r.at("caller_id")),
        schedule=r.text("schedule", NAME_RE, "a schedule name", optional=True),
        when=r.choice("when", RouteWhen),
        queue_priority=r.integer("queue_priority", 0, MAX_ROUTE_PRIORITY),
        queue_skills=_skills(r, "queue_skills"),
        language=r.text("language", LANGUAGE_RE, "a language code like en or pt_BR", optional=True),
    )


def _holiday(raw: Any, path: str) -> Holiday:
    r = Reader(raw, path, Holiday)
    value = r.value("date")
    if isinstance(value, dt.datetime) or not isinstance(value, (str, dt.date)):
        raise FirmwareError(f"{r.at('date')}: expected a date YYYY-MM-DD, got {_describe(value)}")
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError as exc:
            raise FirmwareError(f"{r.at('date')}: expected a date YYYY-MM-DD, got {_describe(value)}") from exc
    return Holiday(date=value, name=r.text("name", empty=True))


def _schedule(raw: Any, path: str) -> Schedule:
    r = Reader(raw, path, Schedule)
    name = r.text("name", NAME_RE, "a name (letters, digits, _ . -; up to 32)")
    timezone = r.text("timezone", max_chars=64)
    try:
        zone_info(timezone)
    except FirmwareError as exc:
        raise FirmwareError(f"{r.at('timezone')}: {exc}") from exc
    hours_path = _join(path, "hours")
    hours = r.value("hours")
    if isinstance(hours, tuple):  # the default: closed every day
        hours = {}
    if not isinstance(hours, Mapping):
        raise FirmwareError(f"{hours_path}: expected a mapping of weekdays (mon-sun), got {_describe(hours)}")
    week = []
    for day in hours:
        if day not in WEEKDAYS:
            raise FirmwareError(f"{_join(hours_path, str(day))}: unknown weekday (use {', '.join(WEEKDAYS)})")
    for day in WEEKDAYS:
        ranges = hours.get(day) or []
        day_path = _join(hours_path, day)
        if isinstance(ranges, str) or not isinstance(ranges, (list, tuple)) or len(ranges) > MAX_RANGES_PER_DAY:
            raise FirmwareError(f"{day_path}: expected a list of up to {MAX_RANGES_PER_DAY} ranges like "
                                f"'09:00-17:00', got {_describe(ranges)}")
        parsed = []
        for index, text in enumerate(ranges):
            try:
                parsed.append(TimeRange.parse(text))
            except FirmwareError as exc:
                raise FirmwareError(f"{_join(day_path, index)}: {exc}") from exc
        week.append(tuple(parsed))
    holidays = []
    seen: dict[dt.date, str] = {}
    for item_path, item in r.items("holidays", MAX_HOLIDAYS):
        holiday = _holiday(item, item_path)
        if holiday.date in seen:
            raise FirmwareError(f"{item_path}.date: {holiday.date} is already listed at {seen[holiday.date]}")
        seen[holiday.date] = item_path
        holidays.append(holiday)
    return Schedule(
        name=name,
        timezone=timezone,
        hours=tuple(week),
        holidays=tuple(sorted(holidays, key=lambda holiday: holiday.date)),
    )


def _feature_codes(raw: Any, path: str) -> FeatureCodes:
    r = Reader(raw, path, FeatureCodes)
    what = "a feature code: * or # then 1-4 of 0-9 * #"
    return FeatureCodes(**{key: r.text(key, FEATURE_CODE_RE, what) for key in r.defaults})


def _security(raw: Any, path: str) -> Security:
    r = Reader(raw, path, Security)
    return Security(
        trunk_to_trunk_allowed=r.boolean("trunk_to_trunk_allowed"),
        after_hours_schedule=r.text("after_hours_schedule", NAME_RE, "a schedule name", optional=True),
        after_hours_max_class=r.choice("after_hours_max_class", OutboundClass),
        allow_premium=r.boolean("allow_premium"),
        prompt_recorders=_prompt_recorders(r),
    )


MAX_PROMPT_RECORDERS = 64


def _prompt_recorders(r: Reader) -> tuple[str, ...]:
    numbers = _list(r, "prompt_recorders", MAX_PROMPT_RECORDERS,
                    lambda item, path: check_text(item, path, EXTENSION_RE, "an extension number"))
    for index, number in enumerate(numbers):
        if number in numbers[:index]:
            raise FirmwareError(f"{r.at('prompt_recorders')}[{index}]: extension {number} is listed twice")
    return numbers


def _levels(raw: Any, path: str, what: str, key_re: re.Pattern[str], key_what: str,
            low: int, high: int, limit: int) -> tuple[tuple[str, int], ...]:
    """A YAML mapping name -> integer as ordered pairs, each key and value checked."""
    if not isinstance(raw, Mapping):
        raise FirmwareError(f"{path}: expected a mapping of {what}, got {_describe(raw)}")
    if len(raw) > limit:
        raise FirmwareError(f"{path}: at most {limit} entries, got {len(raw)}")
    pairs = []
    for key, value in raw.items():
        check_text(key, f"{path}: key", key_re, key_what)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise FirmwareError(f"{_join(path, key)}: expected an integer {low}-{high}, got {_describe(value)}")
        pairs.append((key, value))
    return tuple(pairs)


def _skills(r: Reader, key: str) -> tuple[tuple[str, int], ...]:
    value = r.value(key)
    raw = dict(value) if isinstance(value, tuple) else value
    return _levels(raw, r.at(key), "skill: level", SKILL_RE, "a skill name (a-z, 0-9, _; up to 32, "
                   "starting with a letter)", MIN_SKILL_LEVEL, MAX_SKILL_LEVEL, MAX_SKILLS)


def _interval(r: Reader, key: str) -> int:
    value = r.integer(key, 0, MAX_ANNOUNCE_S)
    if 0 < value < MIN_ANNOUNCE_S:
        raise FirmwareError(f"{r.at(key)}: expected 0 (off) or {MIN_ANNOUNCE_S}-{MAX_ANNOUNCE_S} seconds, "
                            f"got {value}")
    return value


def _empty_conditions(r: Reader, key: str) -> tuple[EmptyCondition, ...] | None:
    if r.value(key) is None:
        return None
    conditions: list[EmptyCondition] = []
    for item_path, item in r.items(key, limit=len(EmptyCondition)):
        condition = check_choice(item, item_path, EmptyCondition)
        if condition in conditions:
            raise FirmwareError(f"{item_path}: {condition} is listed twice")
        conditions.append(condition)
    return tuple(conditions)


def _queue_destination(raw: Any, path: str) -> Destination:
    destination = raw if isinstance(raw, Destination) else _destination(raw, path)
    if destination.kind not in QUEUE_DESTINATIONS:
        kinds = ", ".join(kind.value for kind in QUEUE_DESTINATIONS)
        raise FirmwareError(f"{path}.kind: a queue sends callers to {kinds}; got {destination.kind}")
    return destination


def _relaxation(raw: Any, path: str) -> Relaxation:
    r = Reader(raw, path, Relaxation)
    return Relaxation(after_s=r.integer("after_s", 1, 86400), max_level=r.integer("max_level", 0, MAX_SKILL_LEVEL))


def _callback(raw: Any, path: str) -> QueueCallback:
    if isinstance(raw, QueueCallback):
        return raw
    r = Reader(raw, path, QueueCallback)
    return QueueCallback(enabled=r.boolean("enabled"), max_attempts=r.integer("max_attempts", 1, 10),
                         retry_s=r.integer("retry_s", 30, 86400))


def _queue(raw: Any, path: str) -> Queue:
    r = Reader(raw, path, Queue)
    name = r.text("name", NAME_RE, "a name (letters, digits, _ . -; up to 32)")
    if name == "NONE":
        raise FirmwareError(f"{r.at('name')}: NONE is reserved (it means 'no queue' in the queue log)")
    relax = _list(r, "relax", MAX_RELAX_STEPS, _relaxation)
    for index in range(1, len(relax)):
        before, step = relax[index - 1], relax[index]
        if step.after_s <= before.after_s or step.max_level > before.max_level:
            raise FirmwareError(f"{r.at('relax')}[{index}]: relaxation steps need increasing after_s and "
                                f"non-increasing max_level (after {before.after_s} s: {before.max_level})")
    exit_key = r.text("exit_key", empty=True, max_chars=1)
    if exit_key and exit_key not in DTMF_KEYS:
        raise FirmwareError(f"{r.at('exit_key')}: expected one DTMF key (0-9, *, #) or '', got {_describe(exit_key)}")
    return Queue(
        name=name,
        number=r.text("number", EXTENSION_RE, "a number of 2-6 digits not starting with 0", empty=True),
        strategy=r.choice("strategy", Strategy),
        ring_s=r.integer("ring_s", 5, 300),
        wrapup_s=r.integer("wrapup_s", 0, 3600),
        service_level_s=r.integer("service_level_s", 0, 3600),
        max_wait_s=r.integer("max_wait_s", 0, 86400),
        overflow=_queue_destination(r.value("overflow"), r.at("overflow")),
        join_empty=_empty_conditions(r, "join_empty"),
        leave_empty=_empty_conditions(r, "leave_empty"),
        announce_position_s=_interval(r, "announce_position_s"),
        announce_hold_time=r.boolean("announce_hold_time"),
        periodic_announce_s=_interval(r, "periodic_announce_s"),
        exit_key=exit_key,
        exit_destination=_queue_destination(r.value("exit_destination"), r.at("exit_destination")),
        required_skills=_skills(r, "required_skills"),
        relax=relax,
        callback=_callback(r.value("callback"), r.at("callback")),
        music=r.text("music", NAME_RE, "a music class name (letters, digits, _ . -; up to 32)"),
        greeting=r.text("greeting", NAME_RE, "a recording name (letters, digits, _ . -; up to 32) or ''",
                        empty=True),
        desk=deskcodec.desk_from_dict(r.value("desk"), r.at("desk")),
    )


def _agent(raw: Any, path: str) -> Agent:
    r = Reader(raw, path, Agent)
    queues = r.value("queues")
    return Agent(
        id=r.text("id", AGENT_ID_RE, "an agent number of 1-8 digits"),
        extension=r.text("extension", EXTENSION_RE, "an extension number"),
        name=r.text("name", empty=True),
        pin=r.text("pin", PIN_RE, "a PIN of 4-8 digits or ''", empty=True),
        queues=_levels(dict(queues) if isinstance(queues, tuple) else queues, r.at("queues"), "queue: penalty",
                       NAME_RE, "a queue name", 0, MAX_PENALTY, MAX_QUEUES),
        skills=_skills(r, "skills"),
    )


def _vip_caller(raw: Any, path: str) -> VipCaller:
    r = Reader(raw, path, VipCaller)
    return VipCaller(number=r.text("number", PHONE_RE, "a phone number of 1-20 digits"),
                     priority=r.integer("priority", 1, 9))


def _acd_settings(raw: Any, path: str) -> AcdSettings:
    r = Reader(raw, path, AcdSettings)
    vips = _list(r, "vip_callers", MAX_VIP_CALLERS, _vip_caller)
    seen: dict[str, int] = {}
    for index, vip in enumerate(vips):
        if vip.number in seen:
            raise FirmwareError(f"{r.at('vip_callers')}[{index}].number: {vip.number} is already listed at "
                                f"{r.at('vip_callers')}[{seen[vip.number]}]")
        seen[vip.number] = index
    return AcdSettings(auto_pause_after=r.integer("auto_pause_after", 0, 20),
                       abandon_resume_s=r.integer("abandon_resume_s", 0, 3600), vip_callers=vips,
                       callback_agent_grace_s=r.integer("callback_agent_grace_s", 0, MAX_CALLBACK_AGENT_GRACE_S))


RETENTION_KEYS = ("cdr_days", "cdr_max_rows", "queue_log_days", "queue_log_max_mb", "recordings_days",
                  "recordings_max_mb", "logs_days", "logs_max_mb", "disk_budget_mb")


def _retention(raw: Any, path: str) -> Retention:
    r = Reader(raw, path, Retention)
    days, ten_years = 0, 3653  # 0: no age limit
    return Retention(
        cdr_days=r.integer("cdr_days", days, ten_years), cdr_max_rows=r.integer("cdr_max_rows", 1000, 10_000_000),
        queue_log_days=r.integer("queue_log_days", days, ten_years),
        queue_log_max_mb=r.integer("queue_log_max_mb", 1, 4096),
        recordings_days=r.integer("recordings_days", days, ten_years),
        recordings_max_mb=r.integer("recordings_max_mb", 1, 65536),
        logs_days=r.integer("logs_days", days, ten_years), logs_max_mb=r.integer("logs_max_mb", 1, 4096),
        disk_budget_mb=r.integer("disk_budget_mb", 64, 1_048_576))
MANAGER_LISTEN_RE = re.compile(r"(?:(?:[0-9]{1,3}\.){3}[0-9]{1,3}|\[[0-9A-Fa-f:.]{2,45}\]|localhost):[0-9]{1,5}")


def _manager(raw: Any, path: str) -> ManagerSettings:
    r = Reader(raw, path, ManagerSettings)
    listen = r.text("listen", MANAGER_LISTEN_RE, "host:port (an IPv4 address, [IPv6] or localhost, then :port)",
                    max_chars=60)
    host, _, port = listen.rpartition(":")
    if not 1 <= int(port) <= 65535:
        raise FirmwareError(f"{r.at('listen')}: port must be 1-65535, got {port}")
    if "." in host and any(int(part) > 255 for part in host.split(".")):
        raise FirmwareError(f"{r.at('listen')}: {host} is not an IPv4 address")
    return ManagerSettings(enabled=r.boolean("enabled"), listen=listen,
                           max_clients=r.integer("max_clients", 1, 64),
                           actions_per_second=r.integer("actions_per_second", 1, 1000),
                           client_queue_events=r.integer("client_queue_events", 100, 100_000))


def _list(r: Reader, key: str, limit: int, parse: Any) -> tuple:
    return tuple(parse(item, item_path) for item_path, item in r.items(key, limit))


CONTACTS_MOVED = ("contacts: the contacts are not part of the configuration document (config migration 17): "
                  "import them as CSV (linebox contacts import FILE, or the web admin's Contacts page)")


def from_dict(raw: Any) -> Config:
    """A typed, bounds-checked Config from the YAML form (cross-references not checked here)."""
    from firmware.config import campaigncodec, ivrcodec, promptcodec, vmcodec  # noqa: PLC0415 -- they build on this module's Reader
    if isinstance(raw, Mapping) and "linebox_config" in raw:
        if raw["linebox_config"] != FORMAT_VERSION:
            raise FirmwareError(f"linebox_config: this firmware reads format {FORMAT_VERSION}, "
                                f"got {_describe(raw['linebox_config'])}")
        raw = {key: value for key, value in raw.items() if key != "linebox_config"}
    if isinstance(raw, Mapping) and "contacts" in raw:
        raise FirmwareError(CONTACTS_MOVED)
    r = Reader(raw, "", Config)
    r.value("board", required=True)
    r.value("zone", required=True)

    def nested(key: str, parse: Any) -> Any:
        return parse(r.raw[key], key) if key in r.raw else r.defaults[key]

    return Config(
        board=r.text("board", NAME_RE, "a board name"),
        zone=r.choice("zone", Zone),
        language=r.text("language", LANGUAGE_RE, "a language code like en or pt_BR", optional=True),
        caller_id_standard=r.choice("caller_id_standard", CallerIdStandard, optional=True),
        lines=_list(r, "lines", MAX_LINES, _line),
        extensions=_list(r, "extensions", MAX_EXTENSIONS, _extension),
        ring_groups=_list(r, "ring_groups", MAX_RING_GROUPS, _ring_group),
        dialplan=nested("dialplan", _dialplan),
        routes=_list(r, "routes", MAX_ROUTES, _route),
        schedules=_list(r, "schedules", MAX_SCHEDULES, _schedule),
        feature_codes=nested("feature_codes", _feature_codes),
        security=nested("security", _security),
        queues=_list(r, "queues", MAX_QUEUES, _queue),
        agents=_list(r, "agents", MAX_AGENTS, _agent),
        acd=nested("acd", _acd_settings),
        retention=nested("retention", _retention),
        ivr_flows=_list(r, "ivr_flows", ivrcodec.MAX_IVR_FLOWS, ivrcodec.flow_from_dict),
        ivr_prompts=_list(r, "ivr_prompts", promptcodec.MAX_NAMED_PROMPTS, promptcodec.prompt_from_dict),
        manager=nested("manager", _manager),
        campaigns=_list(r, "campaigns", campaigncodec.MAX_CAMPAIGNS, campaigncodec.campaign_from_dict),
        voicemail=nested("voicemail", vmcodec.voicemail_from_dict),
    )


# -- to plain data -----------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """Enums become their text; everything else as is (wrong types are for from_dict to catch)."""
    return value.value if isinstance(value, StrEnum) else value


def _destination_dict(destination: Any) -> Any:
    if not isinstance(destination, Destination):
        return destination
    return {"kind": _plain(destination.kind), "name": destination.name}


def _pairs(pairs: Any) -> Any:
    return dict(pairs) if isinstance(pairs, tuple) else pairs


def _conditions(conditions: Any) -> Any:
    return [_plain(c) for c in conditions] if isinstance(conditions, tuple) else conditions


def _queue_dict(queue: Queue) -> dict[str, Any]:
    callback = queue.callback
    return {
        "name": queue.name,
        "number": queue.number,
        "strategy": _plain(queue.strategy),
        "ring_s": queue.ring_s,
        "wrapup_s": queue.wrapup_s,
        "service_level_s": queue.service_level_s,
        "max_wait_s": queue.max_wait_s,
        "overflow": _destination_dict(queue.overflow),
        "join_empty": _conditions(queue.join_empty),
        "leave_empty": _conditions(queue.leave_empty),
        "announce_position_s": queue.announce_position_s,
        "announce_hold_time": queue.announce_hold_time,
        "periodic_announce_s": queue.periodic_announce_s,
        "exit_key": queue.exit_key,
        "exit_destination": _destination_dict(queue.exit_destination),
        "required_skills": _pairs(queue.required_skills),
        "relax": [{"after_s": step.after_s, "max_level": step.max_level} if isinstance(step, Relaxation) else step
                  for step in queue.relax],
        "callback": {"enabled": callback.enabled, "max_attempts": callback.max_attempts, "retry_s": callback.retry_s}
        if isinstance(callback, QueueCallback) else callback,
        "music": queue.music,
        "greeting": queue.greeting,
        "desk": deskcodec.desk_dict(queue.desk) if isinstance(queue.desk, QueueDesk) else queue.desk,
    }


def _schedule_dict(schedule: Schedule) -> dict[str, Any]:
    hours: Any = schedule.hours
    if isinstance(hours, tuple) and len(hours) == 7:
        hours = {day: [str(r) if isinstance(r, TimeRange) else r for r in ranges]
                 for day, ranges in zip(WEEKDAYS, schedule.hours, strict=True)}
    return {
        "name": schedule.name,
        "timezone": schedule.timezone,
        "hours": hours,
        "holidays": [
            {"date": h.date.isoformat() if isinstance(h.date, dt.date) else h.date, "name": h.name}
            if isinstance(h, Holiday) else h
            for h in schedule.holidays
        ],
    }


def to_dict(config: Config) -> dict[str, Any]:
    """The YAML form of ``config``: keys in documented order, values as plain data."""
    from firmware.config import campaigncodec, ivrcodec, promptcodec, vmcodec  # noqa: PLC0415 -- they build on this module's Reader
    return {
        "linebox_config": FORMAT_VERSION,
        "board": config.board,
        "zone": _plain(config.zone),
        "language": config.language,
        "caller_id_standard": _plain(config.caller_id_standard),
        "lines": [
            {
                "port": line.port,
                "name": line.name,
                "number": line.number,
                "disconnect": [_plain(m) for m in line.disconnect],
                "silence_timeout_s": line.silence_timeout_s,
                "answer_by_polarity_reversal": line.answer_by_polarity_reversal,
                "dialling": _plain(line.dialling),
                "group": line.group,
                "echo_canceller": line.echo_canceller,
                "pre_dial_hold_ms": line.pre_dial_hold_ms,
                "language": line.language,
            }
            for line in config.lines
        ],
        "extensions": [
            {
                "number": ext.number,
                "port": ext.port,
                "name": ext.name,
                "outbound_class": _plain(ext.outbound_class),
                "trunk_group": ext.trunk_group,
                "dnd": ext.dnd,
                "forward": {
                    "always": ext.forward.always,
                    "busy": ext.forward.busy,
                    "no_answer": ext.forward.no_answer,
                    "no_answer_s": ext.forward.no_answer_s,
                },
                "pickup_group": ext.pickup_group,
                "call_waiting": ext.call_waiting,
                "voicemail": ext.voicemail,
            }
            for ext in config.extensions
        ],
        "ring_groups": [
            {
                "name": group.name,
                "number": group.number,
                "members": list(group.members),
                "strategy": _plain(group.strategy),
                "ring_s": group.ring_s,
                "no_answer": _destination_dict(group.no_answer),
            }
            for group in config.ring_groups
        ],
        "dialplan": {
            "outside_prefix": config.dialplan.outside_prefix,
            "inter_digit_timeout_ms": config.dialplan.inter_digit_timeout_ms,
            "incomplete_timeout_ms": config.dialplan.incomplete_timeout_ms,
            "trunk_group": config.dialplan.trunk_group,
            "line_selection": _plain(config.dialplan.line_selection),
            "maps": {
                "internal": config.dialplan.maps.internal,
                "local": config.dialplan.maps.local,
                "national": config.dialplan.maps.national,
                "international": config.dialplan.maps.international,
                "premium": config.dialplan.maps.premium,
            },
        },
        "routes": [
            {
                "name": route.name,
                "line": route.line,
                "caller_id": route.caller_id,
                "schedule": route.schedule,
                "when": _plain(route.when),
                "destination": _destination_dict(route.destination),
                "queue_priority": route.queue_priority,
                "queue_skills": _pairs(route.queue_skills),
                "language": route.language,
            }
            for route in config.routes
        ],
        "schedules": [_schedule_dict(schedule) for schedule in config.schedules],
        "feature_codes": {key: getattr(config.feature_codes, key) for key in FeatureCodes.__dataclass_fields__},
        "security": {
            "trunk_to_trunk_allowed": config.security.trunk_to_trunk_allowed,
            "after_hours_schedule": config.security.after_hours_schedule,
            "after_hours_max_class": _plain(config.security.after_hours_max_class),
            "allow_premium": config.security.allow_premium,
            "prompt_recorders": list(config.security.prompt_recorders),
        },
        "queues": [_queue_dict(queue) for queue in config.queues],
        "agents": [
            {
                "id": agent.id,
                "name": agent.name,
                "extension": agent.extension,
                "pin": agent.pin,
                "queues": _pairs(agent.queues),
                "skills": _pairs(agent.skills),
            }
            for agent in config.agents
        ],
        "acd": {
            "auto_pause_after": config.acd.auto_pause_after,
            "abandon_resume_s": config.acd.abandon_resume_s,
            "vip_callers": [{"number": vip.number, "priority": vip.priority} if isinstance(vip, VipCaller) else vip
                            for vip in config.acd.vip_callers],
            "callback_agent_grace_s": config.acd.callback_agent_grace_s,
        },
        "retention": {name: getattr(config.retention, name) for name in RETENTION_KEYS},
        "ivr_flows": [ivrcodec.flow_dict(flow) for flow in config.ivr_flows],
        "ivr_prompts": [promptcodec.prompt_dict(prompt) for prompt in config.ivr_prompts],
        "manager": {
            "enabled": config.manager.enabled,
            "listen": config.manager.listen,
            "max_clients": config.manager.max_clients,
            "actions_per_second": config.manager.actions_per_second,
            "client_queue_events": config.manager.client_queue_events,
        },
        "campaigns": [campaigncodec.campaign_dict(campaign) for campaign in config.campaigns],
        "voicemail": vmcodec.voicemail_dict(config.voicemail),
    }


# The helpers the ``ivr_flows:`` section and the contact rules (firmware/config/ivrcodec.py) share.
describe = _describe
join = _join
read_skills = _skills
destination_from_dict = _destination
destination_dict = _destination_dict
plain_value = _plain
