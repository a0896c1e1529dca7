"""The box's configuration as an immutable snapshot: enums and frozen dataclasses.

A :class:`Config` is what ``ConfigStore.load()`` returns and what the call engine holds:
frozen dataclasses and tuples all the way down, so a snapshot can be shared between
threads and kept by a running call while a newer one is loaded. Lookups by key
(``config.extension("201")``) and the derived dial plan are computed once per snapshot.

Queues and agents of the ACD (:class:`Queue`, :class:`Agent`, :class:`AcdSettings`) use
the vocabulary of :mod:`firmware.acd.model` (its :class:`~firmware.acd.model.Strategy` and
:class:`~firmware.acd.model.EmptyCondition`); :func:`firmware.config.acd.acd_config` maps
them to the core's :class:`~firmware.acd.model.AcdConfig`.

The IVR's flows and named prompts (:mod:`firmware.config.ivrmodel`) and the outbound
campaigns (:mod:`firmware.config.campaignmodel`) are modules of their own; :class:`Config`
holds them like every other section.

Values left ``None`` follow the country zone (language, caller-ID standard, outside-line
prefix, external digit maps): :data:`ZONE_DEFAULTS` here, and the numbering table of
:mod:`firmware.tollguard`. Field meanings, bounds and
defaults are documented in docs/configuration.md; types and bounds are enforced by
:mod:`firmware.config.codec`, cross-references by :mod:`firmware.config.validate`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from types import MappingProxyType

from drivers.timing import MAX_PREDIAL_MS
from firmware.acd.model import EmptyCondition, Strategy
from firmware.config.campaignmodel import Campaign
from firmware.config.ivrmodel import IvrFlow, NamedPrompt
from firmware.dialplan import EXTERNAL_CLASSES, DialPlan
from firmware.schedule import Schedule
from firmware.tollguard import NUMBERING


class Zone(StrEnum):
    US = "us"
    CA = "ca"
    UK = "uk"
    DE = "de"
    FR = "fr"
    ES = "es"
    IT = "it"
    PT = "pt"
    NL = "nl"
    GR = "gr"
    MX = "mx"
    CO = "co"
    AR = "ar"
    CL = "cl"
    BR = "br"
    AU = "au"


class CallerIdStandard(StrEnum):
    BELL202 = "bell202"
    V23 = "v23"
    V23_BT = "v23_bt"
    DTMF = "dtmf"


class DisconnectMethod(StrEnum):
    POLARITY_REVERSAL = "polarity_reversal"
    LOOP_CURRENT_DROP = "loop_current_drop"
    BUSY_TONE = "busy_tone"
    SILENCE_TIMEOUT = "silence_timeout"


class Dialling(StrEnum):
    DTMF = "dtmf"
    PULSE = "pulse"


class OutboundClass(StrEnum):
    INTERNAL = "internal"
    LOCAL = "local"
    NATIONAL = "national"
    INTERNATIONAL = "international"


class DestinationKind(StrEnum):
    EXTENSION = "extension"
    RING_GROUP = "ring_group"
    IVR = "ivr"
    QUEUE = "queue"
    VOICEMAIL = "voicemail"
    HANGUP = "hangup"
    OUTSIDE = "outside"  # an outside number, digits as dialled (outside prefix included)


class RingStrategy(StrEnum):
    RINGALL = "ringall"
    LINEAR = "linear"


class LineSelection(StrEnum):
    """How an outside call picks a line of its trunk group (see firmware.engine.lines)."""

    FIRST_FREE = "first_free"  # the first free line in configuration order
    ROUND_ROBIN = "round_robin"  # the next free line after the one the group used last


class RouteWhen(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class PortKind(StrEnum):
    FXO = "fxo"
    FXS = "fxs"


@dataclass(frozen=True)
class ZoneDefaults:
    """What a zone implies unless the configuration says otherwise."""

    caller_id_standard: CallerIdStandard
    language: str
    outside_prefix: str


_BELL, _V23, _BT, _DTMF = (CallerIdStandard.BELL202, CallerIdStandard.V23, CallerIdStandard.V23_BT,
                           CallerIdStandard.DTMF)
ZONE_DEFAULTS: Mapping[Zone, ZoneDefaults] = MappingProxyType({
    # Caller ID: Telcordia GR-30-CORE Bell 202 FSK in NANP; ETSI EN 300 659 V.23 FSK in most
    # of Europe; BT SIN 227 in the UK; DTMF (ETSI EN 300 659-1 annex) in NL and BR. The
    # Latin-American Bell 202 entries are carrier practice, not a national standard: override
    # caller_id_standard if the line delivers something else.
    Zone.US: ZoneDefaults(_BELL, "en", "9"),
    Zone.CA: ZoneDefaults(_BELL, "en", "9"),
    Zone.UK: ZoneDefaults(_BT, "en", "0"),  # not 9: 9 + a local number beginning 99 would reach 999 first
    Zone.DE: ZoneDefaults(_V23, "de", "0"),
    Zone.FR: ZoneDefaults(_V23, "fr", "0"),
    Zone.ES: ZoneDefaults(_V23, "es", "9"),
    Zone.IT: ZoneDefaults(_V23, "it", "0"),
    Zone.PT: ZoneDefaults(_V23, "pt", "0"),
    Zone.NL: ZoneDefaults(_DTMF, "nl", "0"),
    Zone.GR: ZoneDefaults(_V23, "el", "9"),
    Zone.MX: ZoneDefaults(_BELL, "es", "9"),
    Zone.CO: ZoneDefaults(_BELL, "es", "9"),
    Zone.AR: ZoneDefaults(_BELL, "es", "9"),
    Zone.CL: ZoneDefaults(_BELL, "es", "9"),
    Zone.BR: ZoneDefaults(_DTMF, "pt", "9"),
    Zone.AU: ZoneDefaults(_V23, "en", "9"),
})


@dataclass(frozen=True)
class BoardPorts:
    """What the configuration needs to know about a board: its name and port kinds by number.

    The composition root builds it from the board definition (firmware never imports board/).
    """

    name: str
    kinds: tuple[PortKind, ...]

    def describe(self) -> str:
        return f"board {self.name} (ports 0-{len(self.kinds) - 1})" if self.kinds else f"board {self.name} (no ports)"


BoardLookup = Callable[[str], "BoardPorts | None"]
"""Returns the ports of the named board, or None when no such board exists."""

DestinationCheck = Callable[["Config", str], "str | None"]
"""Checks a destination name of one kind against a configuration: None if fine, else why not."""


@dataclass(frozen=True)
class Line:
    """An exchange line on an FXO port."""

    port: int
    name: str
    number: str = ""
    disconnect: tuple[DisconnectMethod, ...] = (
        DisconnectMethod.POLARITY_REVERSAL, DisconnectMethod.LOOP_CURRENT_DROP, DisconnectMethod.BUSY_TONE)
    silence_timeout_s: int = 120
    answer_by_polarity_reversal: bool = False
    dialling: Dialling = Dialling.DTMF
    group: str = "main"
    echo_canceller: bool = True
    """Cancel the line's echo (G.168) in what the box hears from it: the detectors, the other
    party of a call and recordings. Off for a line whose hybrid echo is below audibility
    (a four-wire or digital line), where the canceller would only add its 10 ms."""
    pre_dial_hold_ms: int | None = None
    """How long the line card holds a seized line before its first dial pulse or flash (ms,
    0-``MAX_PRE_DIAL_HOLD_MS``); None: the zone's (500 ms). A slow exchange needs more."""
    language: str | None = None
    """The language of callers on this line (IVR prompts, say-number, recognizer); None: the box's."""


@dataclass(frozen=True)
class Forwarding:
    """Targets are dialled numbers ("" = off): an internal number, or prefix + outside number."""

    always: str = ""
    busy: str = ""
    no_answer: str = ""
    no_answer_s: int = 20


@dataclass(frozen=True)
class Extension:
    """A phone on an FXS port."""

    number: str
    port: int
    name: str = ""
    outbound_class: OutboundClass = OutboundClass.NATIONAL
    trunk_group: str = ""
    """The lines this extension's outside calls use ("" = ``dialplan.trunk_group``)."""
    dnd: bool = False
    forward: Forwarding = Forwarding()
    pickup_group: str = ""
    call_waiting: bool = True
    voicemail: bool = False


@dataclass(frozen=True)
class Destination:
    """Where a call goes: a kind and a name (extension number, group/IVR/queue name, mailbox,
    or for ``outside`` the number as an extension would dial it, outside prefix included)."""

    kind: DestinationKind
    name: str = ""

    def __str__(self) -> str:
        return f"{self.kind}" if self.kind == DestinationKind.HANGUP else f"{self.kind} {self.name}"


@dataclass(frozen=True)
class RingGroup:
    name: str
    members: tuple[str, ...]
    number: str = ""
    strategy: RingStrategy = RingStrategy.RINGALL
    ring_s: int = 30
    no_answer: Destination = Destination(DestinationKind.HANGUP)


SkillLevels = tuple[tuple[str, int], ...]
"""Skill name -> level 1-10 as ordered pairs (the YAML mapping's order is kept)."""


@dataclass(frozen=True)
class Relaxation:
    """After ``after_s`` seconds of waiting, every required skill level is capped at ``max_level``.

    ``max_level`` 0 drops the skill requirements (any member of the queue may take the call).
    """

    after_s: int
    max_level: int


@dataclass(frozen=True)
class QueueCallback:
    """Callers may leave the queue and keep their place; an agent is rung, then the caller dialled."""

    enabled: bool = False
    max_attempts: int = 3
    retry_s: int = 300


@dataclass(frozen=True)
class DispositionCode:
    """One outcome an agent records after a queue's (or campaign's) call (docs/configuration.md "desk")."""

    code: str
    """Keyed on the headset during wrap-up, then ``#``: 1-4 digits."""
    label: str
    callback: bool = False
    """The agent gives a callback date; the ACD calls the caller back then."""
    do_not_call: bool = False
    """The number is recorded as not to be called (the campaign dialler's DNC list reads it)."""


@dataclass(frozen=True)
class WallboardTargets:
    """Where the wallboard colours a queue's figure (seed targets: 80 % in 20 s, abandon 5 %)."""

    service_level_min_percent: int = 80
    abandon_max_percent: int = 5
    asa_max_s: int = 20
    longest_wait_max_s: int = 60


@dataclass(frozen=True)
class QueueDesk:
    """A queue's agent-desk settings: disposition codes, call script, wallboard targets."""

    dispositions: tuple[DispositionCode, ...] = ()
    script: str = ""
    """Text shown to the agent, ``{name}``, ``{number}``, ``{account}``, ``{field.X}``, ``{var.X}`` filled in."""
    targets: WallboardTargets = WallboardTargets()

    def disposition(self, code: str) -> DispositionCode | None:
        return next((each for each in self.dispositions if each.code == code), None)


@dataclass(frozen=True)
class Queue:
    """An ACD queue (Asterisk ``queues.conf`` vocabulary; docs/configuration.md "queues")."""

    name: str
    number: str = ""
    strategy: Strategy = Strategy.LEASTRECENT
    ring_s: int = 15
    wrapup_s: int = 0
    service_level_s: int = 20
    max_wait_s: int = 0
    """0 = wait for an agent without limit."""
    overflow: Destination = Destination(DestinationKind.HANGUP)
    """Where callers go on max_wait_s, and when join_empty / leave_empty turns them away."""
    join_empty: tuple[EmptyCondition, ...] | None = None
    """None = always join; else refuse callers while no agent is logged in outside these states."""
    leave_empty: tuple[EmptyCondition, ...] | None = None
    """None = never leave; else waiting callers leave when the queue becomes empty in that sense."""
    announce_position_s: int = 0
    announce_hold_time: bool = False
    periodic_announce_s: int = 0
    exit_key: str = ""
    exit_destination: Destination = Destination(DestinationKind.HANGUP)
    required_skills: SkillLevels = ()
    relax: tuple[Relaxation, ...] = ()
    callback: QueueCallback = QueueCallback()
    music: str = "default"
    greeting: str = ""
    """A recording callers hear once on entering, before their position ("" = none)."""
    desk: QueueDesk = QueueDesk()


@dataclass(frozen=True)
class Agent:
    """A call-centre agent: logs in with the feature code from a phone, usually at ``extension``.

    ``pin`` is a login check typed on an analog phone, not a security boundary.
    """

    id: str
    extension: str
    name: str = ""
    pin: str = ""
    queues: tuple[tuple[str, int], ...] = ()
    """Queue name -> penalty 0-10 (lower is offered first), in the order given."""
    skills: SkillLevels = ()


@dataclass(frozen=True)
class VipCaller:
    """Calls from ``number`` (the caller ID, exactly) wait with ``priority`` (higher is served first)."""

    number: str
    priority: int = 1


@dataclass(frozen=True)
class AcdSettings:
    """Settings of the ACD as a whole."""

    auto_pause_after: int = 3
    """Pause an agent after this many offers in a row rang unanswered; 0 = never."""
    abandon_resume_s: int = 0
    """A caller who hung up and calls back within this time gets the old place back; 0 = off."""
    vip_callers: tuple[VipCaller, ...] = ()
    callback_agent_grace_s: int = 60
    """A callback an agent booked is offered only to that agent for this long after it comes due
    (if logged in and available meanwhile), then to any agent of the queue; 0 = any agent at once."""


@dataclass(frozen=True)
class Retention:
    """How long and how much the box keeps (firmware/storage/retention.py): oldest goes first.

    Ages in days (0 = no age limit), sizes in MB (call records: rows). ``disk_budget_mb`` is
    what all of the box's data may take on the card; a warning at 80 % of it.
    """

    cdr_days: int = 730
    cdr_max_rows: int = 500_000
    queue_log_days: int = 730
    queue_log_max_mb: int = 64
    recordings_days: int = 90
    recordings_max_mb: int = 1024
    logs_days: int = 30
    logs_max_mb: int = 64
    disk_budget_mb: int = 2048


@dataclass(frozen=True)
class DigitMaps:
    """Digit maps per class (RFC 3435 syntax). External maps: ``None`` = the zone's own."""

    internal: str = "[1-8]xx"
    local: str | None = None
    national: str | None = None
    international: str | None = None
    premium: str | None = None


@dataclass(frozen=True)
class DialPlanSettings:
    outside_prefix: str | None = None
    inter_digit_timeout_ms: int = 4000
    incomplete_timeout_ms: int = 16000
    trunk_group: str = "main"
    line_selection: LineSelection = LineSelection.FIRST_FREE
    maps: DigitMaps = DigitMaps()


@dataclass(frozen=True)
class InboundRoute:
    """First matching route wins. ``None`` = any line / any caller / any time.

    ``queue_priority`` and ``queue_skills`` only apply to a ``queue`` destination: the call
    waits with that priority (higher is served first; the caller ID's VIP priority wins when
    higher) and needs agents with those skills (``()`` = the queue's ``required_skills``).
    """

    name: str
    destination: Destination
    line: int | None = None
    caller_id: str | None = None
    schedule: str | None = None
    when: RouteWhen = RouteWhen.OPEN
    queue_priority: int = 0
    queue_skills: SkillLevels = ()
    language: str | None = None  # the caller's language for calls it matches; None: the line's, else the box's


@dataclass(frozen=True)
class FeatureCodes:
    forward_always: str = "*72"
    forward_busy: str = "*90"
    forward_no_answer: str = "*92"
    forward_cancel: str = "*73"
    dnd_on: str = "*78"
    dnd_off: str = "*79"
    group_pickup: str = "*8"
    directed_pickup: str = "**"
    voicemail: str = "*97"
    agent_login: str = "*45"
    agent_logout: str = "*46"
    agent_pause: str = "*47"
    agent_unpause: str = "*48"
    agent_ready: str = "*49"
    record_prompt: str = "*77"  # record an IVR prompt by phone (security.prompt_recorders only; docs/ivr.md)


MAX_PRE_DIAL_HOLD_MS = MAX_PREDIAL_MS  # the line card driver's bound (drivers/timing.py)
FEATURES_WITH_ARGUMENT = ("forward_always", "forward_busy", "forward_no_answer", "directed_pickup")
"""Feature codes followed by digits: a forwarding target or the extension to pick up."""


@dataclass(frozen=True)
class Security:
    trunk_to_trunk_allowed: bool = False
    after_hours_schedule: str | None = None
    after_hours_max_class: OutboundClass = OutboundClass.LOCAL
    allow_premium: bool = False
    prompt_recorders: tuple[str, ...] = ()
    """Extensions that may record IVR prompts by phone (``feature_codes.record_prompt``): none by default."""


@dataclass(frozen=True)
class Contact:
    """A record the IVR's lookup node finds by caller ID or account number."""

    name: str
    numbers: tuple[str, ...] = ()
    account: str = ""
    fields: tuple[tuple[str, str], ...] = ()
    """Field name -> text (``balance: '12.50'``, ``order_status: shipped``), in the given order."""
    language: str = ""
    """The contact's language (``es``, ``pt_BR``), ``''``: not known."""
    notes: str = ""
    """Free text for the agent's screen pop."""


@dataclass(frozen=True)
class ManagerSettings:
    """The AMI-compatible manager interface (docs/manager.md); off unless the installer turns it on."""

    enabled: bool = False
    listen: str = "127.0.0.1:5038"  # host:port ([v6]:port); loopback only by default
    max_clients: int = 8
    actions_per_second: int = 20  # per client
    client_queue_events: int = 1000  # events waiting for one client before it is dropped as too slow


@dataclass(frozen=True)
class SmtpSettings:
    """Where voicemail's e-mail notifications go out (docs/voicemail.md); ``host`` '' = no e-mail."""

    host: str = ""
    port: int = 587  # RFC 6409 message submission
    starttls: bool = True  # RFC 3207
    user: str = ""  # '' = no SMTP AUTH
    password: str = ""
    from_address: str = ""


@dataclass(frozen=True)
class MailboxSettings:
    """One mailbox's own settings (config migration 16). A mailbox (an extension with
    ``voicemail: true``) without an entry in ``voicemail.mailboxes`` has these defaults."""

    number: str = ""
    operator: Destination | None = None  # where ``0`` during the greeting goes; None: 0 is ignored
    email: str = ""  # '' = no e-mail notification
    attach: bool = True  # the message's WAV attached to the e-mail
    envelope: bool = True  # Asterisk ``envelope``: date, time and number said before each message
    max_messages: int = 100  # Asterisk voicemail.conf ``maxmsg``
    max_message_s: int = 180  # Asterisk ``maxsecs``
    min_message_s: int = 1  # Asterisk ``minsecs``
    expiry_days: int = 0  # messages older than this are deleted by the retention job; 0 = kept
    language: str = ""  # what the owner hears at *97 (menu, envelope); '' = the box's language


@dataclass(frozen=True)
class VoicemailSettings:
    """The ``voicemail:`` section: mailboxes' own settings, the envelope's time zone, SMTP."""

    timezone: str = "UTC"  # the time zone the envelope says a message's date and time in
    mailboxes: tuple[MailboxSettings, ...] = ()
    smtp: SmtpSettings = SmtpSettings()

    def mailbox(self, number: str) -> MailboxSettings:
        """The settings of mailbox ``number`` (the defaults if it has no entry)."""
        for entry in self.mailboxes:
            if entry.number == number:
                return entry
        return MailboxSettings(number=number)


@dataclass(frozen=True)
class Config:
    board: str = "virtual"
    zone: Zone = Zone.US
    language: str | None = None
    caller_id_standard: CallerIdStandard | None = None
    lines: tuple[Line, ...] = ()
    extensions: tuple[Extension, ...] = ()
    ring_groups: tuple[RingGroup, ...] = ()
    dialplan: DialPlanSettings = DialPlanSettings()
    routes: tuple[InboundRoute, ...] = ()
    schedules: tuple[Schedule, ...] = ()
    feature_codes: FeatureCodes = FeatureCodes()
    security: Security = Security()
    queues: tuple[Queue, ...] = ()
    agents: tuple[Agent, ...] = ()
    acd: AcdSettings = AcdSettings()
    retention: Retention = Retention()
    ivr_flows: tuple[IvrFlow, ...] = ()
    ivr_prompts: tuple[NamedPrompt, ...] = ()
    manager: ManagerSettings = ManagerSettings()
    campaigns: tuple[Campaign, ...] = ()
    voicemail: VoicemailSettings = VoicemailSettings()

    # -- values that follow the zone ------------------------------------------------------

    def effective_language(self) -> str:
        return self.language or ZONE_DEFAULTS[self.zone].language

    def caller_language(self, route: str, line_port: int, contact_language: str = "") -> str:
        """A caller's language: ``contact_language`` (the language of the contact whose numbers
        hold the caller ID, from the contact store: firmware.desk.lookup.contact_language), else
        the matched inbound route's, else the line's, else the box's (docs/ivr.md, "Languages";
        a flow's own choice comes before all of these, in the IVR)."""
        if contact_language:
            return contact_language
        matched = next((r for r in self.routes if r.name == route), None) if route else None
        if matched is not None and matched.language:
            return matched.language
        line = self.line(line_port)
        return line.language if line is not None and line.language else self.effective_language()

    def effective_caller_id_standard(self) -> CallerIdStandard:
        return self.caller_id_standard or ZONE_DEFAULTS[self.zone].caller_id_standard

    def outside_prefix(self) -> str:
        prefix = self.dialplan.outside_prefix
        return ZONE_DEFAULTS[self.zone].outside_prefix if prefix is None else prefix

    def emergency_numbers(self) -> tuple[str, ...]:
        return NUMBERING[self.zone].emergency

    def digit_maps(self) -> dict[str, str]:
        """Effective maps: ``internal`` and each external class (zone default where None)."""
        zone_maps = NUMBERING[self.zone].maps()
        maps = {"internal": self.dialplan.maps.internal}
        for number_class in EXTERNAL_CLASSES:
            own = getattr(self.dialplan.maps, number_class)
            maps[number_class] = zone_maps[number_class] if own is None else own
        return maps

    @cached_property
    def _dial_plan(self) -> DialPlan:
        maps = self.digit_maps()
        codes = {name: getattr(self.feature_codes, name) for name in FeatureCodes.__dataclass_fields__}
        return DialPlan(
            emergency=self.emergency_numbers(),
            internal_map=maps.pop("internal"),
            external_maps=maps,
            outside_prefix=self.outside_prefix(),
            feature_codes=codes,
            feature_arguments=FEATURES_WITH_ARGUMENT,
            inter_digit_timeout_ms=self.dialplan.inter_digit_timeout_ms,
            incomplete_timeout_ms=self.dialplan.incomplete_timeout_ms,
        )

    def dial_plan(self) -> DialPlan:
        """The combined dial plan of this snapshot (built once)."""
        return self._dial_plan

    # -- lookups ---------------------------------------------------------------------------

    @cached_property
    def _index(self) -> dict[str, dict]:
        return {
            "line": {line.port: line for line in self.lines},
            "extension": {ext.number: ext for ext in self.extensions},
            "extension_port": {ext.port: ext for ext in self.extensions},
            "ring_group": {group.name: group for group in self.ring_groups},
            "schedule": {schedule.name: schedule for schedule in self.schedules},
            "queue": {queue.name: queue for queue in self.queues},
            "agent": {agent.id: agent for agent in self.agents},
            "ivr_flow": {flow.name: flow for flow in self.ivr_flows},
        }

    def line(self, port: int) -> Line | None:
        return self._index["line"].get(port)

    def extension(self, number: str) -> Extension | None:
        return self._index["extension"].get(number)

    def extension_on_port(self, port: int) -> Extension | None:
        return self._index["extension_port"].get(port)

    def ring_group(self, name: str) -> RingGroup | None:
        return self._index["ring_group"].get(name)

    def schedule(self, name: str) -> Schedule | None:
        return self._index["schedule"].get(name)

    def queue(self, name: str) -> Queue | None:
        return self._index["queue"].get(name)

    def agent(self, agent_id: str) -> Agent | None:
        return self._index["agent"].get(agent_id)

    def ivr_flow(self, name: str) -> IvrFlow | None:
        return self._index["ivr_flow"].get(name)

    def named_prompt(self, name: str) -> NamedPrompt | None:
        return next((prompt for prompt in self.ivr_prompts if prompt.name == name), None)

    def route_to_queue(self, route_name: str, queue: str) -> InboundRoute | None:
        """The inbound route named ``route_name`` when it sends calls to ``queue``, else None
        (validation keeps the names of routes with queue settings unique)."""
        wanted = Destination(DestinationKind.QUEUE, queue)
        return next((route for route in self.routes if route.name == route_name and route.destination == wanted),
                    None)

    def trunk_group_of(self, extension: Extension | None) -> str:
        """The trunk group an outside call from ``extension`` uses (None: the dial plan's)."""
        if extension is not None and extension.trunk_group:
            return extension.trunk_group
        return self.dialplan.trunk_group

    def lines_in_group(self, group: str) -> tuple[Line, ...]:
        """The lines of trunk group ``group``, in configuration order."""
        return tuple(line for line in self.lines if line.group == group)

    def internal_numbers(self) -> frozenset[str]:
        """Numbers an extension dials without the outside prefix: extensions and ring groups."""
        numbers = {ext.number for ext in self.extensions}
        numbers.update(group.number for group in self.ring_groups if group.number)
        return frozenset(numbers)
