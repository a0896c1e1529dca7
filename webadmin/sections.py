"""The configuration pages as data: which list of the configuration each page edits, and its fields.

A field names a key of one item of the configuration's plain form (``firmware.config.to_dict``),
dotted for nested keys (``forward.busy``). The web form turns what was typed into that plain
form, nothing more: every rule (types, bounds, references) is the configuration's own
(``firmware.config``'s codec and validation), so a page refuses exactly what
``linebox config import`` refuses, with the same message, shown next to its field. Keys a
page does not show are kept as they are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from firmware.acd.model import EmptyCondition, Strategy
from firmware.config import (
    Agent,
    CallerIdStandard,
    Config,
    Destination,
    DestinationKind,
    Dialling,
    DisconnectMethod,
    Extension,
    FeatureCodes,
    InboundRoute,
    Line,
    LineSelection,
    OutboundClass,
    Queue,
    RingGroup,
    RingStrategy,
    RouteWhen,
    Schedule,
    Zone,
    to_dict,
)


class Kind(StrEnum):
    TEXT = "text"
    OPTIONAL_TEXT = "optional_text"  # empty = null (follows the zone, any ...)
    INT = "int"
    OPTIONAL_INT = "optional_int"
    BOOL = "bool"
    CHOICE = "choice"
    OPTIONAL_CHOICE = "optional_choice"
    CHECKS = "checks"  # several of the choices
    LIST = "list"  # comma-separated
    PAIRS = "pairs"  # name:number, comma-separated (a mapping)
    DATED = "dated"  # "YYYY-MM-DD name", comma-separated (a list of {date, name}: holidays)
    STEPS = "steps"  # a:b number pairs, comma-separated (a list of {keys[0]: a, keys[1]: b})
    EMPTY_RULE = "empty_rule"  # checkboxes: none ticked = null; "on" (and any of the choices) = a list
    TEXTAREA = "textarea"  # several lines of text (a script)
    CODES = "codes"  # one disposition code a line: "CODE: label [callback] [do-not-call]"


@dataclass(frozen=True)
class Field:
    path: str
    label: str
    kind: Kind = Kind.TEXT
    choices: tuple[str, ...] = ()
    help: str = ""
    keys: tuple[str, str] = ("", "")  # STEPS: the keys of each pair's two numbers
    choice_labels: tuple[str, ...] = ()  # CHECKS, EMPTY_RULE: what each choice says on the page


@dataclass(frozen=True)
class Section:
    key: str  # the configuration's list (``extensions``); "" for the general settings
    title: str
    item: str  # one of them, for headings
    id_field: str  # the field naming an item in URLs; "" = its position (routes: order matters)
    fields: tuple[Field, ...]
    columns: tuple[str, ...]  # the fields shown in the list


def _values(enum: type[StrEnum]) -> tuple[str, ...]:
    return tuple(member.value for member in enum)


DESTINATIONS = _values(DestinationKind)


def _destination(path: str, label: str) -> tuple[Field, Field]:
    return (Field(f"{path}.kind", f"{label}: kind", Kind.CHOICE, DESTINATIONS),
            Field(f"{path}.name", f"{label}: name", help="extension number, group, queue or mailbox; "
                                                         "for outside: the number as dialled"))


BOXES = (Kind.CHECKS, Kind.EMPTY_RULE)
"""Fields shown as checkboxes: the browser sends every ticked one (``getlist``)."""
EMPTY_ON = "on"
"""The first box of an EMPTY_RULE field: the rule is on (a list, maybe empty) rather than null."""
CODE_FLAGS = {"callback": "callback", "do-not-call": "do_not_call"}
"""A disposition line's flags, ``[callback]`` and ``[do-not-call]``, and the keys they set."""


def _empty_rule(path: str, label: str, action: str) -> Field:
    """``queues[].join_empty`` / ``leave_empty``: null (off), [] (on: no agent logged in) or the
    agent states that count as absent too (docs/configuration.md, "Queues")."""
    states = _values(EmptyCondition)
    return Field(path, label, Kind.EMPTY_RULE, (EMPTY_ON, *states),
                 help=f"{action} while no agent of the queue can take a call; ticking a state turns it on",
                 choice_labels=("on: when no agent is logged in",
                                *(f"agents {state} count as absent too" for state in states)))


SECTIONS: dict[str, Section] = {section.key: section for section in (
    Section("lines", "Lines", "line", "port", (
        Field("port", "FXO port", Kind.INT),
        Field("name", "Name"),
        Field("number", "Number", help="the line's own number (optional)"),
        Field("group", "Trunk group"),
        Field("dialling", "Dialling", Kind.CHOICE, _values(Dialling)),
        Field("disconnect", "Disconnect supervision", Kind.CHECKS, _values(DisconnectMethod)),
        Field("silence_timeout_s", "Silence timeout (s)", Kind.INT),
        Field("answer_by_polarity_reversal", "Far end answers by polarity reversal", Kind.BOOL),
        Field("echo_canceller", "Echo canceller", Kind.BOOL),
    ), ("port", "name", "number", "group", "dialling")),
    Section("extensions", "Extensions", "extension", "number", (
        Field("number", "Number"),
        Field("port", "FXS port", Kind.INT),
        Field("name", "Name"),
        Field("outbound_class", "Outbound calls", Kind.CHOICE, _values(OutboundClass)),
        Field("trunk_group", "Trunk group", help="empty: the dial plan's"),
        Field("dnd", "Do not disturb", Kind.BOOL),
        Field("call_waiting", "Call waiting", Kind.BOOL),
        Field("voicemail", "Voicemail box", Kind.BOOL),
        Field("pickup_group", "Pickup group"),
        Field("forward.always", "Forward always to"),
        Field("forward.busy", "Forward when busy to"),
        Field("forward.no_answer", "Forward on no answer to"),
        Field("forward.no_answer_s", "No answer after (s)", Kind.INT),
    ), ("number", "port", "name", "outbound_class", "dnd")),
    Section("ring_groups", "Ring groups", "ring group", "name", (
        Field("name", "Name"),
        Field("number", "Number", help="optional: dial it to ring the group"),
        Field("members", "Members", Kind.LIST, help="extension numbers, comma-separated"),
        Field("strategy", "Strategy", Kind.CHOICE, _values(RingStrategy)),
        Field("ring_s", "Ring for (s)", Kind.INT),
        *_destination("no_answer", "No answer"),
    ), ("name", "number", "members", "strategy")),
    Section("routes", "Inbound routes", "route", "", (
        Field("name", "Name"),
        Field("line", "Line port", Kind.OPTIONAL_INT, help="empty: any line"),
        Field("caller_id", "Caller ID", Kind.OPTIONAL_TEXT, help="digit map; empty: any caller"),
        Field("schedule", "Schedule", Kind.OPTIONAL_TEXT, help="empty: any time"),
        Field("when", "When the schedule is", Kind.CHOICE, _values(RouteWhen)),
        *_destination("destination", "Destination"),
        Field("queue_priority", "Queue priority", Kind.INT),
    ), ("name", "line", "schedule", "when", "destination.kind", "destination.name")),
    Section("schedules", "Schedules", "schedule", "name", (
        Field("name", "Name"),
        Field("timezone", "Time zone", help="e.g. Europe/Berlin"),
        *(Field(f"hours.{day}", f"Open {day}", Kind.LIST, help="e.g. 09:00-12:00, 13:00-17:00")
          for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")),
        Field("holidays", "Holidays (closed all day)", Kind.DATED,
              help="YYYY-MM-DD and a name, comma-separated, e.g. 2026-12-25 Christmas, 2027-01-01 New Year"),
    ), ("name", "timezone")),
    Section("queues", "Queues", "queue", "name", (
        Field("name", "Name"),
        Field("number", "Number", help="optional: dial it to join the queue"),
        Field("strategy", "Strategy", Kind.CHOICE, _values(Strategy)),
        Field("ring_s", "Ring an agent for (s)", Kind.INT),
        Field("wrapup_s", "Wrap-up (s)", Kind.INT),
        Field("service_level_s", "Service level target (s)", Kind.INT),
        Field("max_wait_s", "Longest wait (s)", Kind.INT, help="0: no limit"),
        *_destination("overflow", "Overflow"),
        _empty_rule("join_empty", "Refuse new callers (they go to the overflow)", "new callers are refused"),
        _empty_rule("leave_empty", "Send waiting callers to the overflow", "waiting callers leave"),
        Field("announce_position_s", "Announce position every (s)", Kind.INT),
        Field("announce_hold_time", "Announce hold time", Kind.BOOL),
        Field("periodic_announce_s", "Periodic announcement every (s)", Kind.INT),
        Field("exit_key", "Exit key"),
        *_destination("exit_destination", "Exit"),
        Field("music", "Music class"),
        Field("greeting", "Greeting", help="recording name (optional): upload, listen and pick on the Media page"),
        Field("required_skills", "Required skills", Kind.PAIRS,
              help="skill:level 1-10 an agent needs, e.g. english:3 (empty: any agent of the queue)"),
        Field("relax", "Relax the skills", Kind.STEPS, keys=("after_s", "max_level"),
              help="seconds:level, e.g. 30:2, 60:0 — after that long, levels capped (0: no skill needed)"),
        Field("callback.enabled", "Offer a callback (the caller keeps the place and hangs up)", Kind.BOOL),
        Field("callback.max_attempts", "Callback: attempts to reach the caller", Kind.INT),
        Field("callback.retry_s", "Callback: between attempts (s)", Kind.INT),
        Field("desk.dispositions", "Disposition codes (agent desk)", Kind.CODES,
              help="one a line: CODE: label, then [callback] or [do-not-call] if it asks for one, "
                   "e.g. 2: call back [callback]; agents key the code and # during wrap-up"),
        Field("desk.script", "Call script (agent desk)", Kind.TEXTAREA,
              help="shown to the agent; {name}, {number}, {account}, {queue}, {agent}, {field.X}, {var.X} "
                   "are filled in"),
        Field("desk.targets.service_level_min_percent", "Wallboard: service level at least (%)", Kind.INT),
        Field("desk.targets.abandon_max_percent", "Wallboard: abandoned at most (%)", Kind.INT),
        Field("desk.targets.asa_max_s", "Wallboard: average answer at most (s)", Kind.INT),
        Field("desk.targets.longest_wait_max_s", "Wallboard: longest wait at most (s)", Kind.INT),
    ), ("name", "number", "strategy", "max_wait_s")),
    Section("agents", "Agents", "agent", "id", (
        Field("id", "Agent ID", help="digits the agent keys at login"),
        Field("name", "Name"),
        Field("extension", "Extension"),
        Field("pin", "PIN", help="optional"),
        Field("queues", "Queues", Kind.PAIRS, help="queue:penalty, comma-separated, e.g. support:0"),
        Field("skills", "Skills", Kind.PAIRS, help="skill:level 1-10, e.g. english:5"),
    ), ("id", "name", "extension", "queues")),
)}

SETTINGS: dict[str, Section] = {
    "country": Section("", "Country", "settings", "", (
        Field("zone", "Country", Kind.CHOICE, _values(Zone), help="sets the tone plan, numbering and defaults"),
        Field("language", "Language", Kind.OPTIONAL_TEXT, help="empty: the country's"),
        Field("caller_id_standard", "Caller ID standard", Kind.OPTIONAL_CHOICE, _values(CallerIdStandard),
              help="empty: the country's"),
    ), ()),
    "dialplan": Section("", "Dial plan and trunk groups", "settings", "", (
        Field("dialplan.outside_prefix", "Outside-line prefix", Kind.OPTIONAL_TEXT, help="empty: the country's"),
        Field("dialplan.trunk_group", "Trunk group for outside calls"),
        Field("dialplan.line_selection", "Line selection", Kind.CHOICE, _values(LineSelection)),
        Field("dialplan.inter_digit_timeout_ms", "Between digits (ms)", Kind.INT),
        Field("dialplan.incomplete_timeout_ms", "Incomplete number (ms)", Kind.INT),
        Field("dialplan.maps.internal", "Internal numbers (digit map)"),
        *(Field(f"dialplan.maps.{name}", f"{name.capitalize()} numbers (digit map)", Kind.OPTIONAL_TEXT,
                help="empty: the country's") for name in ("local", "national", "international", "premium")),
    ), ()),
    "security": Section("", "Toll-fraud protection", "settings", "", (
        Field("security.trunk_to_trunk_allowed", "Allow trunk-to-trunk calls (forwarding outside)", Kind.BOOL),
        Field("security.allow_premium", "Allow premium-rate numbers", Kind.BOOL),
        Field("security.after_hours_schedule", "After-hours schedule", Kind.OPTIONAL_TEXT,
              help="empty: no after-hours limit"),
        Field("security.after_hours_max_class", "After hours, calls up to", Kind.CHOICE, _values(OutboundClass)),
    ), ()),
    "features": Section("", "Feature codes", "settings", "", tuple(
        Field(f"feature_codes.{name}", name.replace("_", " ").capitalize()) for name in FeatureCodes.__dataclass_fields__
    ), ()),
    "acd": Section("", "Call centre", "settings", "", (
        Field("acd.auto_pause_after", "Pause an agent after this many unanswered offers", Kind.INT, help="0: never"),
        Field("acd.abandon_resume_s", "A caller back within (s) keeps the place", Kind.INT, help="0: off"),
        Field("acd.callback_agent_grace_s", "A booked callback waits for its agent (s)", Kind.INT,
              help="then any agent; 0: any agent at once"),
    ), ()),
}

_INTEGER = re.compile(r"-?[0-9]{1,9}")
_CODE_LINE = re.compile(r"\s*([^:\s]*)\s*:\s*(.*?)\s*")
_FLAG_AT_END = re.compile(r"\s*\[(" + "|".join(CODE_FLAGS) + r")\]\s*$")
_PAIR = re.compile(r"\s*([^:,\s][^:,]*?)\s*:\s*(-?[0-9]{1,9})\s*")
_STEP = re.compile(r"\s*(-?[0-9]{1,9})\s*:\s*(-?[0-9]{1,9})\s*")


class FormProblem(ValueError):
    """What was typed cannot even be put in the configuration's form (a pair without its number)."""


def typed(field: Field, raw: str | None, many: list[str]) -> object:
    """The plain value of one form field. Integers that do not parse go on as text, so the
    configuration's own check refuses them with its message (``expected an integer 5-120``)."""
    text = (raw or "").strip()
    if field.kind is Kind.BOOL:
        return raw is not None
    if field.kind is Kind.CHECKS:
        return list(many)
    if field.kind is Kind.EMPTY_RULE:
        return [choice for choice in many if choice != EMPTY_ON] if many else None
    if field.kind is Kind.TEXTAREA:
        return (raw or "").replace("\r\n", "\n").strip("\n")  # the browser's line ends; the codec judges the rest
    if field.kind is Kind.CODES:
        return _codes(raw or "")
    if field.kind is Kind.LIST:
        return [part.strip() for part in text.split(",") if part.strip()]
    if field.kind is Kind.PAIRS:
        pairs: dict[str, int] = {}
        for part in filter(None, (part.strip() for part in text.split(","))):
            match = _PAIR.fullmatch(part)
            if match is None:
                raise FormProblem(f"{part!r}: expected name:number")
            pairs[match.group(1)] = int(match.group(2))
        return pairs
    if field.kind is Kind.STEPS:
        first, second = field.keys
        steps = []
        for part in filter(None, (part.strip() for part in text.split(","))):
            match = _STEP.fullmatch(part)
            if match is None:
                raise FormProblem(f"{part!r}: expected number:number, e.g. 30:2")
            steps.append({first: int(match.group(1)), second: int(match.group(2))})
        return steps
    if field.kind is Kind.DATED:
        dated = []
        for part in filter(None, (part.strip() for part in text.split(","))):
            date, _, name = part.partition(" ")
            dated.append({"date": date, "name": name.strip()})  # the date is the codec's to judge
        return dated
    if field.kind in (Kind.INT, Kind.OPTIONAL_INT):
        if not text and field.kind is Kind.OPTIONAL_INT:
            return None
        return int(text) if _INTEGER.fullmatch(text) else text
    if field.kind in (Kind.OPTIONAL_TEXT, Kind.OPTIONAL_CHOICE):
        return text or None
    return text


def _codes(text: str) -> list[dict]:
    """Disposition lines as the desk block's list (every value the codec's to judge)."""
    codes = []
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        if not line.strip():
            continue
        match = _CODE_LINE.fullmatch(line)
        if match is None:
            raise FormProblem(f"line {number}: expected CODE: label, e.g. 2: call back [callback]")
        label, flags = match.group(2), {key: False for key in CODE_FLAGS.values()}
        while (flag := _FLAG_AT_END.search(label)) is not None:
            flags[CODE_FLAGS[flag.group(1)]] = True
            label = label[:flag.start()]
        codes.append({"code": match.group(1), "label": label, **flags})
    return codes


def checked(field: Field, value: object) -> list[str]:
    """The boxes ticked for a CHECKS or EMPTY_RULE field's plain value."""
    if field.kind is Kind.EMPTY_RULE:
        return [] if value is None else [EMPTY_ON, *(value if isinstance(value, list) else [])]
    return list(value) if isinstance(value, list) else []


def shown(field: Field, value: object) -> str:
    """A plain value as the form shows it."""
    if value is None:
        return ""
    if field.kind is Kind.LIST and isinstance(value, list):
        return ", ".join(map(str, value))
    if field.kind is Kind.CODES and isinstance(value, list):
        return "\n".join(f"{code.get('code')}: {code.get('label')}"
                         + "".join(f" [{flag}]" for flag, key in CODE_FLAGS.items() if code.get(key))
                         for code in value if isinstance(code, dict))
    if field.kind is Kind.PAIRS and isinstance(value, dict):
        return ", ".join(f"{name}:{number}" for name, number in value.items())
    if field.kind is Kind.STEPS and isinstance(value, list):
        first, second = field.keys
        return ", ".join(f"{step.get(first)}:{step.get(second)}" for step in value if isinstance(step, dict))
    if field.kind is Kind.DATED and isinstance(value, list):
        return ", ".join(f"{day.get('date')} {day.get('name') or ''}".strip() for day in value
                         if isinstance(day, dict))
    return str(value)


def get_path(item: Mapping[str, object], path: str) -> object:
    value: object = item
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def set_path(item: dict, path: str, value: object) -> None:
    *parents, last = path.split(".")
    for part in parents:
        child = item.get(part)
        if not isinstance(child, dict):
            child = item[part] = {}
        item = child
    item[last] = value


def new_item(section: Section) -> dict:
    """What a new item's form starts from: the model's own defaults (firmware.config.model)."""
    blank = Config(lines=(Line(0, ""),), extensions=(Extension("", 0),), ring_groups=(RingGroup("", ()),),
                   routes=(InboundRoute("", Destination(DestinationKind.HANGUP)),), schedules=(Schedule(""),),
                   queues=(Queue(""),), agents=(Agent("", ""),))
    return to_dict(blank)[section.key][0] if section.key else {}


MANAGER = Section("", "Manager interface (AMI) settings", "settings", "", (
    Field("manager.enabled", "Manager interface on", Kind.BOOL,
          help="CRMs, wallboards and click-to-call tools connect to it (docs/manager.md)"),
    Field("manager.listen", "Listen on", help="host:port; 127.0.0.1:5038 only this machine, 0.0.0.0:5038 the office"),
    Field("manager.max_clients", "Clients at once", Kind.INT),
    Field("manager.actions_per_second", "Actions a second per client", Kind.INT),
    Field("manager.client_queue_events", "Events waiting for a slow client before it is dropped", Kind.INT),
), ())
"""The ``manager`` section of the configuration: edited on the manager page (webadmin/manager.py)."""
