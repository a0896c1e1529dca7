"""Reading and checking a scenario file (the format is documented in docs/scenarios.md).

A scenario is a YAML mapping::

    linebox_scenario: 1          # optional: the layout version of this file
    name: internal call
    start: 2026-11-25T10:00:00-05:00
    seed: 1
    config: {...}                # optional: a `linebox config export` document (or its path)
    contacts: [{name: Ann, numbers: ['2125559876'], account: '4711'}]  # optional: the contact store
    exchange: [{port: 0, answer_reversal: true}]   # optional: how the simulated lines behave
    observe: {audio: true, log: true}
    steps:
    - offhook: 2
    - expect_tone: {port: 2, tone: dial, timeout_ms: 3000}

Every step is a mapping with exactly one key, the step's kind, whose value is a mapping
of its parameters (or, for kinds with a main parameter, that value alone: ``offhook: 2``
is ``offhook: {port: 2}``, ``wait: 500`` is ``wait: {ms: 500}``). The parameters of each
kind are declared in :data:`STEP_KINDS` (parser, required, default), so checking is one
loop: unknown keys are refused, every value is type- and bounds-checked, ports are checked
against the board (a phone action needs an FXS port, a line action an FXO port), files
must exist. The first problem is one :class:`ScenarioError` naming the field, e.g.
``steps[3].dial.port: port 0 is an exchange line (fxo), this step needs a phone (fxs)``.
The configuration goes through the same checks as ``linebox config import``, and all its
problems are reported at once (firmware/config/collect.py, as ``linebox config validate``):
one ScenarioError with one line per problem, each starting with its path (``config.zone: ...``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from board import BoardError
from board.definitions import BoardDefinition, load_board
from board.virtual.signals import CALLERID_STANDARDS
from dsp.progress import TONES
from firmware import FirmwareError
from firmware.acd.queue_log import DATA_FIELDS
from firmware.cdr import AmaFlags, Disposition, HangupBy
from firmware.config import Config, problems
from firmware.config.collect import document_problems
from firmware.config.demo import demo_config
from firmware.config.ivrcodec import contact_from_dict
from firmware.config.model import Contact
from firmware.config.yamlio import parse_yaml
from firmware.engine.calls import Direction, Leg
from firmware.numbers import try_e164
from linebox.sim import ScenarioError
from linebox.sim.audiocheck import STUTTER
from linebox.sim.ring_callerid import ring_caller_id
from linebox.storage import board_ports

FORMAT_VERSION = 1
DEFAULT_TIMEOUT_MS = 5000
MAX_MS = 24 * 3600 * 1000  # one simulated day: a longer step is a mistake
MAX_STEPS = 10_000
DTMF_DIGITS = re.compile(r"[0-9*#A-D]{1,64}")
PULSE_DIGITS = re.compile(r"[0-9]{1,64}")
NUMBER_DIGITS = re.compile(r"[0-9]{1,20}")
LINE_STATES = ("dead", "idle", "alerting", "dial_tone", "dialling", "progress", "connected", "cleared")
DISCONNECTS = ("polarity_reversal", "loop_current_drop", "busy_tone", "none")
OUTCOMES = ("answer", "busy", "congestion", "no_answer")
FAULTS = ("bad_crc", "drop_ack", "lose_frame", "duplicate", "garbage", "card_reset", "serial_unplug",
          "stop_answering", "fault", "overtemp", "audio_xrun", "ring_without_callerid",
          "far_end_gone_silently", "line_dead", "line_restored")
LINE_FAULTS = ("ring_without_callerid", "far_end_gone_silently", "line_dead", "line_restored")
EXPECTED_TONES = (*TONES, STUTTER)
NAME = re.compile(r"[a-z0-9_]{1,64}")
MAX_CLOCK_JUMP_S = 31 * 86400  # a set_clock step moves wall time a month at most (ACD statistics fill every interval)


@dataclass(frozen=True)
class Context:
    """What checking a value may need: the board (port kinds) and the scenario's folder."""

    board: BoardDefinition
    folder: Path


Parser = Callable[[Any, str, Context], Any]


@dataclass(frozen=True)
class Param:
    parse: Parser
    required: bool = False
    default: Any = None


@dataclass(frozen=True)
class StepKind:
    category: str  # "action", "wait", "expect", "absent" (a negative over an interval) or "traffic"
    params: Mapping[str, Param]
    main: str | None = None  # the parameter a bare value stands for


@dataclass(frozen=True)
class Step:
    index: int
    kind: str
    params: Mapping[str, Any]

    @property
    def where(self) -> str:
        return f"steps[{self.index}] {self.kind}"

    @property
    def category(self) -> str:
        return STEP_KINDS[self.kind].category


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    start: dt.datetime
    seed: int
    config: Config | None  # None: the demo office
    board: str  # the virtual board it runs on
    exchange: Mapping[int, Mapping[str, Any]]  # FXO port -> board.virtual.pstn.LineConfig options
    observe_audio: bool
    observe_log: bool
    observe_history: bool
    steps: tuple[Step, ...]
    source: str = "<scenario>"
    port_kinds: tuple[str, ...] = field(default=())
    speech: bool = False  # the IVR's speech service on (docs/ivr.md): spoken menu choices
    dnc: tuple[str, ...] = ()  # E.164 numbers on the box's do-not-call list before it starts
    contacts: tuple[Contact, ...] = ()  # stored in the contact store before the run


# --------------------------------------------------------------------------- value parsers


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def integer(low: int, high: int) -> Parser:
    def parse(value: Any, where: str, ctx: Context) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ScenarioError(f"{where}: expected an integer {low}-{high}, got {_describe(value)}")
        return value
    return parse


def number(low: float, high: float) -> Parser:
    def parse(value: Any, where: str, ctx: Context) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise ScenarioError(f"{where}: expected a number {low:g} to {high:g}, got {_describe(value)}")
        return float(value)
    return parse


def boolean(value: Any, where: str, ctx: Context) -> bool:
    if not isinstance(value, bool):
        raise ScenarioError(f"{where}: expected true or false, got {_describe(value)}")
    return value


def text(max_len: int) -> Parser:
    def parse(value: Any, where: str, ctx: Context) -> str:
        if not isinstance(value, str) or len(value) > max_len:
            raise ScenarioError(f"{where}: expected text of at most {max_len} characters, got {_describe(value)}")
        return value
    return parse


def pattern(regex: re.Pattern[str], what: str) -> Parser:
    def parse(value: Any, where: str, ctx: Context) -> str:
        if not isinstance(value, str) or not regex.fullmatch(value):
            hint = " (quote digit strings: '201')" if isinstance(value, int) and not isinstance(value, bool) else ""
            raise ScenarioError(f"{where}: expected {what}, got {_describe(value)}{hint}")
        return value
    return parse


def choice(values: tuple[str, ...]) -> Parser:
    def parse(value: Any, where: str, ctx: Context) -> str:
        if value not in values:
            raise ScenarioError(f"{where}: expected one of {', '.join(values)}, got {_describe(value)}")
        return str(value)
    return parse


def port(kind: str | None) -> Parser:
    """A port of the board; ``kind`` "fxs" (a phone) or "fxo" (an exchange line), or any."""
    def parse(value: Any, where: str, ctx: Context) -> int:
        count = ctx.board.n_ports
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < count:
            raise ScenarioError(f"{where}: expected a port 0-{count - 1} of board {ctx.board.name}, "
                                f"got {_describe(value)}")
        actual = str(ctx.board.kind_of(value))
        if kind is not None and actual != kind:
            wanted = "a phone (fxs)" if kind == "fxs" else "an exchange line (fxo)"
            has = "a phone (fxs)" if actual == "fxs" else "an exchange line (fxo)"
            raise ScenarioError(f"{where}: port {value} is {has}, this step needs {wanted}")
        return value
    return parse


def port_pair(value: Any, where: str, ctx: Context) -> tuple[int, int]:
    if not isinstance(value, list) or len(value) != 2:
        raise ScenarioError(f"{where}: expected two ports like [2, 3], got {_describe(value)}")
    a, b = (port(None)(item, f"{where}[{i}]", ctx) for i, item in enumerate(value))
    if a == b:
        raise ScenarioError(f"{where}: expected two different ports, got {a} twice")
    return (min(a, b), max(a, b))


def audio_file(value: Any, where: str, ctx: Context) -> str:
    if not isinstance(value, str) or not value:
        raise ScenarioError(f"{where}: expected the path of an audio file, got {_describe(value)}")
    path = Path(value) if Path(value).is_absolute() else ctx.folder / value
    if not path.is_file():
        raise ScenarioError(f"{where}: {path}: no such file")
    return str(path)


def mapping(params: Mapping[str, Param]) -> Parser:
    def parse(value: Any, where: str, ctx: Context) -> dict[str, Any]:
        return read_params(value, params, where, ctx)
    return parse


def list_of(item: Parser, min_len: int = 1, max_len: int = 1000) -> Parser:
    def parse(value: Any, where: str, ctx: Context) -> tuple[Any, ...]:
        if not isinstance(value, list) or not min_len <= len(value) <= max_len:
            raise ScenarioError(f"{where}: expected a list of {min_len}-{max_len} items, got {_describe(value)}")
        return tuple(item(v, f"{where}[{i}]", ctx) for i, v in enumerate(value))
    return parse


def read_params(value: Any, params: Mapping[str, Param], where: str, ctx: Context) -> dict[str, Any]:
    """Checks a mapping against ``params``: unknown keys refused, required ones present."""
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise ScenarioError(f"{where}: expected a mapping of {', '.join(params) or 'nothing'}, got {_describe(value)}")
    for key in value:
        if key not in params:
            raise ScenarioError(f"{where}.{key}: unknown key (known: {', '.join(params) or 'none'})")
    out: dict[str, Any] = {}
    for name, param in params.items():
        if name in value and value[name] is not None:
            out[name] = param.parse(value[name], f"{where}.{name}", ctx)
        elif param.required:
            raise ScenarioError(f"{where}.{name}: required")
        else:
            out[name] = param.default
    return out


# --------------------------------------------------------------------------- step kinds

CALLER = {
    "number": Param(pattern(NUMBER_DIGITS, "1-20 digits")),
    "name": Param(pattern(re.compile(r"[ -~]{1,15}"), "a name of 1-15 printable ASCII characters")),
    "withheld": Param(boolean, default=False),
}
TIMEOUT = Param(integer(0, MAX_MS), default=DEFAULT_TIMEOUT_MS)
MS = integer(0, MAX_MS)
CDR_FIELDS = {
    "disposition": Param(choice(tuple(str(d) for d in Disposition))),
    "hangup_by": Param(choice(tuple(str(h) for h in HangupBy))),
    "context": Param(choice(tuple(str(d) for d in Direction))),
    "caller_number": Param(text(40)),
    "caller_name": Param(text(40)),
    "dst": Param(text(40)),
    "src_extension": Param(text(6)),
    "dst_extension": Param(text(6)),
    "src_port": Param(integer(0, 63)),
    "dst_port": Param(integer(0, 63)),
    "hangup_cause": Param(text(40)),
    "answered": Param(boolean),
    "min_billsec": Param(integer(0, 86400)),
    "max_billsec": Param(integer(0, 86400)),
    "min_duration": Param(integer(0, 86400)),
    "max_duration": Param(integer(0, 86400)),
    "channel": Param(pattern(re.compile(r"(FXS|FXO)/[0-9]{1,2}"), "a channel like FXS/2 or FXO/0")),
    "dstchannel": Param(pattern(re.compile(r"(FXS|FXO)/[0-9]{1,2}"), "a channel like FXS/2 or FXO/0")),
    "lastapp": Param(text(40)),
    "lastdata": Param(text(200)),
    "accountcode": Param(text(40)),
    "amaflags": Param(choice(tuple(str(a) for a in AmaFlags))),
    "userfield": Param(text(200)),
    "uniqueid": Param(text(64)),
    "name": Param(pattern(NAME, "a name like held_call (a-z, 0-9, _)")),
    "transfer_of": Param(pattern(NAME, "the name of an earlier expect_cdr")),
}
RANGE_MS = list_of(integer(0, 3_600_000), 2, 2)
TRAFFIC_RANGES = ("talk_ms", "answer_ms", "give_up_ms", "rest_ms")
MIX = {
    "internal": Param(number(0, 1000), default=1.0),
    "inbound": Param(number(0, 1000), default=1.0),
    "outbound": Param(number(0, 1000), default=1.0),
}

FOR_MS = Param(integer(20, MAX_MS), True)
MAX_SCRIPTED_CALLS = 1000  # outgoing calls one step may script on a line


def outcome_mix(value: Any, where: str, ctx: Context) -> str | dict[str, float]:
    """One outcome (``busy``), or relative weights (``{answer: 5, busy: 2, no_answer: 3}``)
    from which each scripted call's outcome is drawn with the scenario's seed."""
    if not isinstance(value, Mapping):
        return choice(OUTCOMES)(value, where, ctx)
    weights = read_params(value, {name: Param(number(0, 1000), default=0.0) for name in OUTCOMES}, where, ctx)
    if sum(weights.values()) <= 0:
        raise ScenarioError(f"{where}: at least one weight must be above 0")
    return weights


def ms_or_range(high: int) -> Parser:
    """Milliseconds, or ``[low, high]``: each scripted call draws a time in that range."""
    one, pair = integer(0, high), list_of(integer(0, high), 2, 2)

    def parse(value: Any, where: str, ctx: Context) -> int | tuple[int, int]:
        if not isinstance(value, list):
            return one(value, where, ctx)
        low, top = pair(value, where, ctx)
        if low > top:
            raise ScenarioError(f"{where}: the range [{low}, {top}] runs backwards")
        return (low, top)
    return parse


def _log_fields(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ScenarioError(f"{where}: expected a mapping of log fields to values, got {_describe(value)}")
    out = {}
    for key, item in value.items():
        if not isinstance(key, str) or isinstance(item, (list, dict)):
            raise ScenarioError(f"{where}.{key}: expected a plain value, got {_describe(item)}")
        out[key] = "" if item is None else str(item).lower() if isinstance(item, bool) else str(item)
    return out


def _time(value: Any, where: str) -> dt.datetime:
    """An ISO 8601 time with a UTC offset (YAML may have read an unquoted one itself)."""
    if isinstance(value, dt.datetime):
        when = value
    elif isinstance(value, str):
        try:
            when = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ScenarioError(f"{where}: {value!r} is not an ISO 8601 time like 2026-11-25T10:00:00-05:00") from None
    else:
        raise ScenarioError(f"{where}: expected an ISO 8601 time with a UTC offset, got {_describe(value)}")
    if when.tzinfo is None:
        raise ScenarioError(f"{where}: {value!s} has no UTC offset (add e.g. -05:00 or Z)")
    return when


def lamp(value: Any, where: str, ctx: Context) -> str:
    """``on`` or ``off`` (YAML reads them unquoted as true and false)."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return choice(("on", "off"))(value, where, ctx)


def without_timeout(params: Mapping[str, Param]) -> dict[str, Param]:
    return {name: param for name, param in params.items() if name != "timeout_ms"}


LOG_EVENT = {
    "event": Param(pattern(NAME, "an event name like route"), True),
    "component": Param(pattern(NAME, "a component like switch, acd or voicemail")),
    "fields": Param(lambda v, w, c: _log_fields(v, w), default={}),
    "timeout_ms": TIMEOUT,
}
QUEUE_LOG_LINE = {
    "event": Param(choice(tuple(DATA_FIELDS)), True),
    "queue": Param(text(40)),
    "agent": Param(text(40)),
    "fields": Param(lambda v, w, c: _log_fields(v, w), default={}),
    "timeout_ms": TIMEOUT,
}

STEP_KINDS: Mapping[str, StepKind] = {
    # phones (FXS ports)
    "offhook": StepKind("action", {"port": Param(port("fxs"), True)}, main="port"),
    "hangup": StepKind("action", {"port": Param(port("fxs"), True)}, main="port"),
    "dial": StepKind("action", {
        "port": Param(port(None), True),  # a phone dials; on an exchange line, the far-end caller presses keys
        "digits": Param(pattern(DTMF_DIGITS, "DTMF digits 0-9 * # A-D"), True),
        "method": Param(choice(("dtmf", "pulse")), default="dtmf"),
    }),
    "flash": StepKind("action", {"port": Param(port("fxs"), True), "ms": Param(integer(1, 5000), default=300)},
                      main="port"),
    "play": StepKind("action", {"port": Param(port(None), True), "file": Param(audio_file, True)}),
    # exchange lines (FXO ports)
    "ring": StepKind("action", {
        "port": Param(port("fxo"), True),
        "caller_id": Param(ring_caller_id),  # anything an exchange might send: linebox.sim.ring_callerid
        "max_rings": Param(integer(1, 100)),
    }, main="port"),
    "abandon": StepKind("action", {"port": Param(port("fxo"), True)}, main="port"),
    "outgoing": StepKind("action", {
        "port": Param(port("fxo"), True),
        "outcome": Param(outcome_mix, default="answer"),
        "answer_after_ms": Param(ms_or_range(600_000), default=4000),
        "digits": Param(integer(1, 30)),
        "file": Param(audio_file),
        "calls": Param(integer(1, MAX_SCRIPTED_CALLS), default=1),
    }, main="port"),
    "answer_on_ring": StepKind("action", {
        "port": Param(port("fxs"), True),
        "rings": Param(integer(1, 100), default=1),
        "delay_ms": Param(integer(0, 60_000), default=0),
        "hangup_after_ms": Param(integer(20, MAX_MS)),
        "repeat": Param(boolean, default=False),
    }, main="port"),
    "answer": StepKind("action", {"port": Param(port("fxo"), True)}, main="port"),
    "far_end_hangup": StepKind("action", {
        "port": Param(port("fxo"), True),
        "method": Param(choice(DISCONNECTS)),
    }, main="port"),
    # the box and the world
    "inject": StepKind("action", {
        "fault": Param(choice(FAULTS), True),
        "port": Param(port(None)),
        "count": Param(integer(1, 1000)),
        "seconds": Param(number(0.01, 30.0)),
    }, main="fault"),
    "wait": StepKind("wait", {"ms": Param(MS, True)}, main="ms"),
    "preview": StepKind("action", {
        "agent": Param(pattern(re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}"), "an agent id like 1001"), True),
        "decision": Param(choice(("accept", "skip")), True),
        "campaign": Param(text(80)),
    }),
    "set_clock": StepKind("action", {
        "to": Param(lambda v, w, c: _time(v, w)),
        "forward_s": Param(integer(1, MAX_CLOCK_JUMP_S)),
    }, main="to"),
    "traffic": StepKind("traffic", {
        "calls": Param(integer(1, 1_000_000), True),
        "seed": Param(integer(0, 2**63 - 1)),
        "mix": Param(mapping(MIX), default={"internal": 1.0, "inbound": 1.0, "outbound": 1.0}),
        "outbound_numbers": Param(list_of(pattern(DTMF_DIGITS, "digits as an extension dials them"))),
        "interval_ms": Param(integer(20, 3_600_000), default=1000),
        "talk_ms": Param(RANGE_MS, default=(200, 3000)),
        "answer_ms": Param(RANGE_MS, default=(0, 3000)),
        "give_up_ms": Param(RANGE_MS, default=(2000, 12_000)),
        "rest_ms": Param(RANGE_MS, default=(300, 3000)),
        "answer_probability": Param(number(0.0, 1.0), default=0.9),
        "max_wait_ms": Param(integer(1000, MAX_MS), default=120_000),
        "trace_memory": Param(boolean, default=False),
    }, main="calls"),
    # expectations
    "expect_state": StepKind("expect", {
        "port": Param(port(None), True),
        "state": Param(choice(tuple(str(leg) for leg in Leg)), True),
        "timeout_ms": TIMEOUT,
    }),
    "expect_tone": StepKind("expect", {
        "port": Param(port(None), True),
        "tone": Param(choice(EXPECTED_TONES), True),
        "timeout_ms": TIMEOUT,
    }),
    "expect_mwi": StepKind("expect", {
        "port": Param(port("fxs"), True),
        "lamp": Param(lamp, True),
        "timeout_ms": TIMEOUT,
    }),
    "expect_digits": StepKind("expect", {
        "port": Param(port(None), True),
        "digits": Param(pattern(DTMF_DIGITS, "DTMF digits 0-9 * # A-D"), True),
        "timeout_ms": TIMEOUT,
    }),
    "expect_caller_id": StepKind("expect", {
        "port": Param(port("fxs"), True),
        **CALLER,
        "timeout_ms": TIMEOUT,
    }),
    "expect_bridge": StepKind("expect", {"ports": Param(port_pair, True), "timeout_ms": TIMEOUT}, main="ports"),
    "expect_cdr": StepKind("expect", {**CDR_FIELDS, "timeout_ms": TIMEOUT}),
    "expect_speech": StepKind("expect", {
        "port": Param(port(None), True),
        "file": Param(audio_file, True),
        "min_correlation": Param(number(0.1, 1.0), default=0.8),
        "timeout_ms": TIMEOUT,
    }),
    "expect_exchange": StepKind("expect", {
        "port": Param(port("fxo"), True),
        "state": Param(choice(LINE_STATES)),
        "seized": Param(boolean),
        "timeout_ms": TIMEOUT,
    }),
    "expect_idle": StepKind("expect", {"timeout_ms": TIMEOUT}, main="timeout_ms"),
    "expect_log": StepKind("expect", LOG_EVENT, main="event"),
    "expect_queue_log": StepKind("expect", QUEUE_LOG_LINE, main="event"),
    # negatives: what must not happen during the next for_ms
    "expect_not_state": StepKind("absent", {
        "port": Param(port(None), True),
        "state": Param(choice(tuple(str(leg) for leg in Leg)), True),
        "for_ms": FOR_MS,
    }),
    "expect_not_tone": StepKind("absent", {
        "port": Param(port(None), True),
        "tone": Param(choice(EXPECTED_TONES), True),
        "for_ms": FOR_MS,
    }),
    "expect_no_bridge": StepKind("absent", {"ports": Param(port_pair, True), "for_ms": FOR_MS}),
    "expect_no_log": StepKind("absent", {**without_timeout(LOG_EVENT), "for_ms": FOR_MS}),
    "expect_no_queue_log": StepKind("absent", {**without_timeout(QUEUE_LOG_LINE), "for_ms": FOR_MS}),
}
AUDIO_EXPECTATIONS = ("expect_tone", "expect_caller_id", "expect_speech", "expect_mwi", "expect_not_tone")
DIGIT_EXPECTATIONS = ("expect_digits",)
LOG_EXPECTATIONS = ("expect_log", "expect_no_log")


EXCHANGE_LINE = {
    "port": Param(port("fxo"), True),
    "disconnect": Param(choice(DISCONNECTS)),
    "answer_reversal": Param(boolean),
    "callerid_standard": Param(choice(tuple(CALLERID_STANDARDS))),
    "loop_drop_ms": Param(integer(1, 60_000)),
    "clear_ms": Param(integer(2, 60_000)),
    "interdigit_timeout_ms": Param(integer(1, 60_000)),
    "noise_dbm0": Param(number(-90.0, -10.0)),
    "number": Param(pattern(re.compile(r"[0-9]{0,20}"), "0-20 digits")),
}
TOP_KEYS = ("linebox_scenario", "name", "description", "start", "seed", "config", "contacts", "exchange", "observe",
            "speech", "dnc", "steps")
MAX_DNC_NUMBERS = 1000
MAX_SCENARIO_CONTACTS = 1000


# --------------------------------------------------------------------------- the file


def load_scenario(path: str | Path) -> Scenario:
    """Reads and checks a scenario file; ScenarioError on any problem (one line, or one line per
    problem of its configuration, each starting with the file's path)."""
    path = Path(path)
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        data = parse_yaml(source)
    except FirmwareError as exc:
        raise ScenarioError(f"{path}: {exc}") from None
    try:
        return parse_scenario(data, path.parent.resolve(), default_name=path.stem, source=str(path))
    except ScenarioError as exc:  # every line names the file (a configuration's problems are one a line)
        raise ScenarioError("\n".join(f"{path}: {line}" for line in str(exc).splitlines())) from None


def parse_scenario(data: Any, folder: Path, default_name: str = "scenario", source: str = "<scenario>") -> Scenario:
    """A checked :class:`Scenario` from the plain data of a scenario document."""
    if not isinstance(data, Mapping):
        raise ScenarioError("a scenario is a mapping with start, steps and optionally config, seed, ...")
    for key in data:
        if key not in TOP_KEYS:
            raise ScenarioError(f"{key}: unknown key (known: {', '.join(TOP_KEYS)})")
    version = data.get("linebox_scenario", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise ScenarioError(f"linebox_scenario: this firmware reads format {FORMAT_VERSION}, got {_describe(version)}")
    config = _config(data.get("config"), folder)
    board = _simulated_board(config)
    ctx = Context(board, folder)
    name = text(80)(data.get("name", default_name), "name", ctx)
    description = text(2000)(data.get("description", ""), "description", ctx)
    if "start" not in data:
        raise ScenarioError("start: required (the simulated wall time of tick 0, e.g. 2026-11-25T10:00:00-05:00)")
    start = _start(data["start"])
    seed = integer(0, 2**63 - 1)(data.get("seed", 1), "seed", ctx)
    observe = read_params(data.get("observe"), {"audio": Param(boolean, default=True),
                                                 "log": Param(boolean, default=True),
                                                 "history": Param(boolean, default=True)}, "observe", ctx)
    exchange = _exchange(data.get("exchange"), ctx)
    speech = boolean(data.get("speech", False), "speech", ctx)
    dnc = _dnc(data.get("dnc", []), str(config.zone) if config is not None else str(demo_config().zone))
    steps = _steps(data.get("steps"), ctx, observe["audio"], observe["log"])
    contacts = _contacts(data.get("contacts", []))
    return Scenario(name=name, description=description, start=start, seed=seed, config=config, board=board.name,
                    contacts=contacts,
                    exchange=exchange, observe_audio=observe["audio"], observe_log=observe["log"],
                    observe_history=observe["history"], steps=steps,
                    source=source, port_kinds=tuple(str(p.kind) for p in board.ports), speech=speech,
                    dnc=dnc)


def _dnc(value: Any, zone: str) -> tuple[str, ...]:
    """The ``dnc`` list: numbers as the box's zone reads them, kept in E.164."""
    if not isinstance(value, list) or len(value) > MAX_DNC_NUMBERS:
        raise ScenarioError(f"dnc: expected a list of at most {MAX_DNC_NUMBERS} telephone numbers")
    numbers = []
    for index, number in enumerate(value):
        e164 = try_e164(number, zone) if isinstance(number, str) else None
        if e164 is None:
            raise ScenarioError(f"dnc[{index}]: {_describe(number)} is not a valid number in zone {zone} "
                                "(quote it: '2125552001')")
        numbers.append(e164)
    return tuple(numbers)


def _contacts(value: Any) -> tuple[Contact, ...]:
    """The contact store's contacts for the run (the YAML form of one contact, as
    firmware.config.ivrcodec reads it; numbers are stored in E.164 of the configuration's zone)."""
    if not isinstance(value, list) or len(value) > MAX_SCENARIO_CONTACTS:
        raise ScenarioError(f"contacts: expected a list of at most {MAX_SCENARIO_CONTACTS} contacts")
    try:
        return tuple(contact_from_dict(item, f"contacts[{index}]") for index, item in enumerate(value))
    except FirmwareError as exc:
        raise ScenarioError(str(exc)) from None


def _start(value: Any) -> dt.datetime:
    return _time(value, "start")


def _config(value: Any, folder: Path) -> Config | None:
    if value is None:
        return None
    if isinstance(value, str):
        path = Path(value) if Path(value).is_absolute() else folder / value
        try:
            value = parse_yaml(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ScenarioError(f"config: {path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
        except FirmwareError as exc:
            raise ScenarioError(f"config: {path}: {exc}") from None
    if not isinstance(value, Mapping):
        raise ScenarioError("config: expected a configuration (the `linebox config export` layout) or its path")
    # Every problem at once, as `linebox config validate` finds them, one line each with its path.
    found = document_problems(dict(value), lambda config: problems(config, board_ports))
    if found.errors or found.config is None:
        raise ScenarioError("\n".join([*(f"config.{error}" for error in found.errors),
                                       *(f"note: config.{note}" for note in found.notes)]))
    return found.config


def _simulated_board(config: Config | None) -> BoardDefinition:
    """The virtual board the scenario runs on: the configuration's own board if it is virtual,
    else ``virtual`` when its ports are the same kinds (a hardware configuration is tested on
    the simulated telephone world before the real lines are plugged in)."""
    name = "virtual" if config is None else str(config.board)
    try:
        board = load_board(name)
        if board.virtual:
            return board
        virtual = load_board("virtual")
    except BoardError as exc:
        raise ScenarioError(f"config.board: {exc}") from None
    kinds = [str(p.kind) for p in board.ports]
    simulated = [str(p.kind) for p in virtual.ports]
    if kinds != simulated:
        raise ScenarioError(f"config.board: board {name} has ports {','.join(kinds)}; the virtual board has "
                            f"{','.join(simulated)}: it cannot be simulated")
    return virtual


def _exchange(value: Any, ctx: Context) -> dict[int, dict[str, Any]]:
    if value is None:
        return {}
    lines = list_of(mapping(EXCHANGE_LINE), 1, 64)(value, "exchange", ctx)
    out: dict[int, dict[str, Any]] = {}
    for index, line in enumerate(lines):
        port_number = line.pop("port")
        if port_number in out:
            raise ScenarioError(f"exchange[{index}].port: port {port_number} is described twice")
        options = {key: item for key, item in line.items() if item is not None}
        if options.get("clear_ms", 1000) <= 120:
            raise ScenarioError(f"exchange[{index}].clear_ms: must be longer than a dialling pulse (120 ms)")
        out[port_number] = options
    return out


def _steps(value: Any, ctx: Context, audio: bool, log: bool) -> tuple[Step, ...]:
    if not isinstance(value, list) or not value:
        raise ScenarioError("steps: expected a list of steps (at least one)")
    if len(value) > MAX_STEPS:
        raise ScenarioError(f"steps: at most {MAX_STEPS} steps, got {len(value)}")
    steps = []
    cdr_names: set[str] = set()
    for index, raw in enumerate(value):
        where = f"steps[{index}]"
        if not isinstance(raw, Mapping) or len(raw) != 1:
            raise ScenarioError(f"{where}: expected one step like `offhook: 2` or `expect_tone: {{...}}`, "
                                f"got {_describe(raw)}")
        (kind, params), = raw.items()
        spec = STEP_KINDS.get(kind)
        if spec is None:
            raise ScenarioError(f"{where}: unknown step {kind!r} (known: {', '.join(STEP_KINDS)})")
        if spec.main is not None and not isinstance(params, (Mapping, type(None))):
            params = {spec.main: params}
        checked = read_params(params, spec.params, f"{where}.{kind}", ctx)
        _check_step(kind, checked, f"{where}.{kind}", ctx, audio, log)
        if kind == "expect_cdr":
            _check_cdr_names(checked, f"{where}.{kind}", cdr_names)
        steps.append(Step(index, kind, checked))
    return tuple(steps)


def _check_cdr_names(params: dict[str, Any], where: str, names: set[str]) -> None:
    """``transfer_of`` names a record an earlier expect_cdr matched; each name is given once."""
    if params["transfer_of"] is not None:
        if params["transfer_of"] not in names:
            raise ScenarioError(f"{where}.transfer_of: no earlier expect_cdr is named {params['transfer_of']!r}")
        if params["userfield"] is not None:
            raise ScenarioError(f"{where}: give userfield or transfer_of, not both")
    if params["name"] is not None:
        if params["name"] in names:
            raise ScenarioError(f"{where}.name: {params['name']!r} names an earlier expect_cdr already")
        names.add(params["name"])


def _check_step(kind: str, params: dict[str, Any], where: str, ctx: Context, audio: bool, log: bool) -> None:
    """Rules that involve more than one parameter, or the scenario's observe settings."""
    if kind == "dial" and params["method"] == "pulse" and not PULSE_DIGITS.fullmatch(params["digits"]):
        raise ScenarioError(f"{where}.digits: pulse dialling sends 0-9 only, got {params['digits']!r}")
    if kind == "dial" and params["method"] == "pulse" and str(ctx.board.kind_of(params["port"])) == "fxo":
        raise ScenarioError(f"{where}.method: the far end of exchange line {params['port']} can only dial DTMF")
    if kind in ("expect_tone", "expect_not_tone") and params["tone"] == STUTTER \
            and str(ctx.board.kind_of(params["port"])) != "fxs":
        raise ScenarioError(f"{where}.tone: the stutter dial tone is listened for on phones (fxs ports)")
    if kind == "set_clock" and (params["to"] is None) == (params["forward_s"] is None):
        raise ScenarioError(f"{where}: give to (a time) or forward_s, one of them")
    if kind in ("expect_queue_log", "expect_no_queue_log"):
        names = [name for name in DATA_FIELDS[params["event"]] if name]
        for key in params["fields"]:
            if key not in names:
                raise ScenarioError(f"{where}.fields.{key}: {params['event']} has "
                                    f"{'the fields ' + ', '.join(names) if names else 'no named fields'}")
    if kind == "inject":
        if params["fault"] in LINE_FAULTS and (params["port"] is None or str(ctx.board.kind_of(params["port"])) != "fxo"):
            raise ScenarioError(f"{where}.port: fault {params['fault']} needs the port of an exchange line (fxo)")
    if kind == "expect_exchange" and params["state"] is None and params["seized"] is None:
        raise ScenarioError(f"{where}: give state, seized or both")
    if kind == "expect_caller_id" and not (params["number"] or params["name"] or params["withheld"]):
        raise ScenarioError(f"{where}: give number, name or withheld: true")
    if kind == "traffic":
        mix = params["mix"]
        if sum(mix.values()) <= 0:
            raise ScenarioError(f"{where}.mix: at least one weight must be above 0")
        if mix["outbound"] > 0 and not params["outbound_numbers"]:
            raise ScenarioError(f"{where}.outbound_numbers: required when mix.outbound is above 0")
        for name in TRAFFIC_RANGES:
            low, high = params[name]
            if low > high:
                raise ScenarioError(f"{where}.{name}: the minimum {low} is above the maximum {high}")
    if kind in AUDIO_EXPECTATIONS + DIGIT_EXPECTATIONS and not audio:
        if not (kind == "expect_digits" and str(ctx.board.kind_of(params["port"])) == "fxo"):
            raise ScenarioError(f"{where}: needs observe.audio (it is off)")
    if kind in LOG_EXPECTATIONS and not log:
        raise ScenarioError(f"{where}: needs observe.log (it is off)")
