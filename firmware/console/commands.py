"""The console's commands: parsing, checking, and running them against the engine.

One command per line, words separated by blanks, options as ``key=value``. Every argument
is checked before anything happens, so a bad command gets one line of error and changes
nothing. What reads or changes the switch runs on the media loop's thread through the
:class:`EngineGateway`; the link, the store and the log buffer are thread-safe.

:meth:`Console.execute` returns what the server sends: :class:`Output` (lines, then the end
of the response), :class:`Follow` (a live ``log tail``) or :class:`Quit`; it raises
:class:`FirmwareError` with the one-line message of a refused command.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from drivers.logs import EventLogger, set_component_levels
from dsp.callerid import MAX_NUMBER_DIGITS
from firmware import FirmwareError
from firmware.acdengine.decisions import HISTORY_SIZE, trace_lines
from firmware.campaign.console import campaign_lines, preview_decision
from firmware.console import desk, status, views
from firmware.console.access import EngineAccess
from firmware.console.gateway import EngineGateway
from firmware.console.logbuffer import LogBuffer, LogFilter, known_components, parse_level
from firmware.console.mailboxes import MAILBOX_CHANGES, MAILBOX_COMMANDS, MailboxCommands, redacted
from firmware.engine.calls import Leg

TAIL_BACKLOG_LINES = 10  # ``log tail`` first shows this many recent lines, like tail(1)
TEST_CALL_HOLD_S = 30  # a test call hangs up by itself after this long unless ``hold=`` says otherwise
MAX_HOLD_S = 3600
DIAL_KEYS = "0123456789*#"


@dataclass(frozen=True)
class Output:
    lines: list[str]


@dataclass(frozen=True)
class Follow:
    backlog: list[str]
    log_filter: LogFilter


@dataclass(frozen=True)
class Quit:
    lines: list[str]


Response = Output | Follow | Quit


@dataclass(frozen=True)
class CommandSpec:
    words: tuple[str, ...]
    usage: str
    summary: str
    method: str  # the Console method that runs it, with the remaining words


NO_SUPERVISOR = ("engine restart: this engine was not started by systemd or linebox run, so nothing would start "
                 "it again: stop it and start it again by hand")

COMMANDS = (
    CommandSpec(("help",), "help", "this list", "help"),
    CommandSpec(("show", "ports"), "show ports", "every port: type, state, call, tone, in service", "show_ports"),
    CommandSpec(("show", "calls"), "show calls", "calls in progress: direction, ports, caller, state, duration",
                "show_calls"),
    CommandSpec(("show", "bridges"), "show bridges", "port pairs that hear each other", "show_bridges"),
    CommandSpec(("show", "stats"), "show stats", "media loop tick times, deadline misses, ticks, calls", "show_stats"),
    CommandSpec(("show", "link"), "show link", "line card link: state, card, counters", "show_link"),
    CommandSpec(("show", "status"), "show status", "ports, calls, stats, link and agents as one JSON line "
                "(for programs: the web admin)", "show_status"),
    CommandSpec(("show", "storage"), "show storage", "data on the card against the disk budget (warning at 80 %)",
                "show_storage"),
    CommandSpec(("show", "queues"), "show queues",
                "ACD queues: waiting, agents by state, today's calls, service level, ASA, AHT", "show_queues"),
    CommandSpec(("show", "agents"), "show agents", "ACD agents: state, since, today's calls, talk time, occupancy",
                "show_agents"),
    CommandSpec(("show", "ivr"), "show ivr", "calls in voice menus (node, language, recognizer), last paths taken",
                "show_ivr"),
    CommandSpec(("show", "routing"), "show routing [queue=Q] [call=C] [lines=N]",
                "ACD: the last N routing decisions (default 3) and why: candidates, rule, who got the call",
                "show_routing"),
    CommandSpec(("show", "campaigns"), "show campaigns",
                "outbound campaigns: one JSON line each (attempts, contacts, abandon rate, productivity)",
                "show_campaigns"),
    CommandSpec(("campaign", "accept"), "campaign accept AGENT [campaign=NAME]",
                "preview: the agent accepts the lead shown, the box dials it", "campaign_accept"),
    CommandSpec(("campaign", "skip"), "campaign skip AGENT [campaign=NAME]",
                "preview: the agent skips the lead shown (it goes back to the list)", "campaign_skip"),
    CommandSpec(("log", "tail"), "log tail [component=C] [level=L] [port=N] [lines=N]",
                "recent log lines, then new ones live; send any line to stop", "log_tail"),
    CommandSpec(("log", "level"), "log level [COMPONENT LEVEL]",
                "set a component's log level now (no arguments: list them)", "log_level"),
    CommandSpec(("call", "test"), "call test FROM_PORT NUMBER [hold=S]",
                f"virtual board: a test call from a port, hung up after S s (default {TEST_CALL_HOLD_S})",
                "call_test"),
    CommandSpec(("port", "out"), "port out N", "take port N out of service (its call ends)", "port_out"),
    CommandSpec(("port", "in"), "port in N", "put port N back in service", "port_in"),
    CommandSpec(("dump", "frames"), "dump frames", "the link's last frames sent and received, hex", "dump_frames"),
    CommandSpec(("config", "reload"), "config reload", "re-read the configuration store and apply it",
                "config_reload"),
    CommandSpec(("media", "reload"), "media reload",
                "re-read the music-on-hold classes and queue greetings whose files changed (new plays hear them)",
                "media_reload"),
    CommandSpec(("show", "media"), "show media", "music classes and queue greetings in the engine's memory, seconds",
                "show_media"),
    CommandSpec(("show", "desk"), "show desk [agent=ID]",
                "agents' desks as one JSON line: state, pause reason, current call, disposition (web admin)",
                "show_desk"),
    CommandSpec(("agent", "pause"), "agent pause ID [reason=R]", "pause an ACD agent (after the current call)",
                "agent_pause"),
    CommandSpec(("agent", "unpause"), "agent unpause ID", "unpause an ACD agent", "agent_unpause"),
    CommandSpec(("agent", "logout"), "agent logout ID", "log an ACD agent out", "agent_logout"),
    CommandSpec(("agent", "dispose"), "agent dispose ID CODE [note=TEXT] [callback=EPOCH]",
                "record the disposition of the agent's last call (note percent-encoded)", "agent_dispose"),
    CommandSpec(("engine", "restart"), "engine restart",
                "stop the engine and start it again (systemd, or itself; calls in progress end)", "engine_restart"),
    CommandSpec(("quit",), "quit", "leave the console (the engine keeps running)", "quit"),
    CommandSpec(("exit",), "exit", "same as quit", "quit"),
    *(CommandSpec(spec.words, spec.usage, spec.summary, spec.method) for spec in MAILBOX_COMMANDS),
)
CHANGES = frozenset({"media_reload", "log_level", "call_test", "port_out", "port_in", "config_reload", "engine_restart", "agent_pause",
                     "agent_unpause", "agent_logout", "agent_dispose", "campaign_accept", "campaign_skip"}) | MAILBOX_CHANGES  # logged at info


def find_command(words: list[str]) -> tuple[CommandSpec, list[str]]:
    lowered = [word.lower() for word in words]
    for spec in sorted(COMMANDS, key=lambda each: -len(each.words)):
        if tuple(lowered[: len(spec.words)]) == spec.words:
            return spec, words[len(spec.words):]
    head = " ".join(words[:2])
    if lowered[0] in {spec.words[0] for spec in COMMANDS if len(spec.words) > 1}:
        choices = ", ".join(spec.usage.split(" [")[0] for spec in COMMANDS if spec.words[0] == lowered[0])
        raise FirmwareError(f"unknown command {head!r}: did you mean one of {choices}?")
    raise FirmwareError(f"unknown command {words[0]!r}: type help")


def _usage(spec: CommandSpec) -> FirmwareError:
    return FirmwareError(f"usage: {spec.usage}")


def _options(spec: CommandSpec, args: list[str], allowed: tuple[str, ...]) -> dict[str, str]:
    options: dict[str, str] = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep or not value:
            raise FirmwareError(f"{arg!r} is not key=value; usage: {spec.usage}")
        if key not in allowed:
            raise FirmwareError(f"unknown option {key!r} (options: {', '.join(allowed)})")
        if key in options:
            raise FirmwareError(f"option {key!r} given twice")
        options[key] = value
    return options


def _integer(what: str, text: str, low: int, high: int) -> int:
    if not text.isascii() or not text.isdigit():
        raise FirmwareError(f"{what} must be a whole number, got {text!r}")
    value = int(text)
    if not low <= value <= high:
        raise FirmwareError(f"{what} {value} is out of range {low}-{high}")
    return value


def _number(text: str) -> str:
    """A number a test call dials or rings with: the keys 0-9 * #, at most the caller ID limit
    (one definition, :data:`dsp.callerid.MAX_NUMBER_DIGITS`): an exchange line sends it as caller ID."""
    if any(ch not in DIAL_KEYS for ch in text):
        raise FirmwareError(f"number {text[:MAX_NUMBER_DIGITS + 8]!r} must be keys 0-9 * # only")
    if len(text) > MAX_NUMBER_DIGITS:
        raise FirmwareError(f"number is {len(text)} digits long: the limit is {MAX_NUMBER_DIGITS} "
                            "(the longest number caller ID carries, EN 300 659-3)")
    return text


class Console:
    """Runs command lines against one engine; thread-safe (one per server, shared by sessions)."""

    def __init__(self, engine: EngineAccess, log_buffer: LogBuffer, gateway: EngineGateway,
                 log: EventLogger | None = None,
                 set_levels: Callable[[dict[str, int]], None] = set_component_levels) -> None:
        self.engine = engine
        self.log_buffer = log_buffer
        self.gateway = gateway
        self.log = log or EventLogger("console")
        self._set_levels = set_levels
        self.n_ports = len(engine.switch.snapshot())
        control = engine.switch.control
        self.mailboxes = MailboxCommands(engine.voicemail, engine.store.load,
                                         lambda: self.gateway.call(lambda: control.epoch(control.tick)))

    def execute(self, line: str, session: int = 0) -> Response:
        words = line.split()
        if not words:
            return Output([])
        spec, args = find_command(words)
        if spec.method in CHANGES:
            self.log.info("console_command", session=session, command=redacted(words))
        else:
            self.log.debug("console_command", session=session, command=redacted(words))
        if spec.method.startswith("mailbox_"):  # firmware/console/mailboxes.py
            return Output(self.mailboxes.run(spec.method, args, spec.usage))
        return getattr(self, spec.method)(spec, args)

    def _no_args(self, spec: CommandSpec, args: list[str]) -> None:
        if args:
            raise _usage(spec)

    def _port(self, text: str) -> int:
        return _integer("port", text, 0, self.n_ports - 1)

    # ----------------------------------------------------------------- commands

    def help(self, spec: CommandSpec, args: list[str]) -> Response:
        self._no_args(spec, args)
        width = max(len(each.usage) for each in COMMANDS)
        return Output([f"{each.usage.ljust(width)}  {each.summary}" for each in COMMANDS])

    def quit(self, spec: CommandSpec, args: list[str]) -> Response:
        self._no_args(spec, args)
        return Quit(["bye"])

    def show_ports(self, spec: CommandSpec, args: list[str]) -> Response:
        self._no_args(spec, args)
        switch = self.engine.switch
        return Output(views.port_lines(self.gateway.call(lambda: views.port_rows(switch))))

    def show_calls(self, spec: CommandSpec, args: list[str]) -> Response:
        self._no_args(spec, args)
        switch = self.engine.switch
        return Output(views.call_lines(self.gateway.call(lambda: views.call_rows(switch))))

    def show_bridges(self, spec: CommandSpec, args: list[str]) -> Response:
        self._no_args(spec, args)
        loop, switch = self.engine.loop, self.engine.switch
        return Output(views.bridge_lines(self.gateway.call(lambda: views.bridge_rows(loop, switch))))

    def show_stats(self, spec: CommandSpec, args: list[str]) -> Response:
        self._no_args(spec, args)
        loop, switch = self.engine.loop, self.engine.switch
        return Output(views.stats_lines(self.gateway.call(lambda: views.stats_rows(loop, switch))))

    def show_queues(self, spec: CommandSpec, args: list[str]) -> Response:
        self._no_args(spec, args)
        switch = self.engine.switch
        return Output(views.queue_live_lines(self.gateway.call(lambda: views.queue_live_rows(switch))))

    def show_agents(self, spec: CommandSpec, args: list[str]) -> Response:
        self._no_args(spec, args)
        switch = self.engine.switch
        return Output(views.agent_live_lines(self.gateway.call(lambda: views.agent_live_rows(switch))))

    def show_ivr(self, spec: CommandSpec, args: list[str]) -> Response:
        self._no_args(spec, args)
        switch = self.engine.switch
        return Output(self.gateway.call(lambda: views.ivr_lines(switch)))

    def show_routing(self, spec: CommandSpec, args: list[str]) -> Response:
        options = _options(spec, args, ("queue", "call", "lines"))
        count = _integer("lines", options["lines"], 1, HISTORY_SIZE) if "lines" in options else 3
        switch = self.engine.switch
        traces = self.gateway.call(lambda: views.routing_traces(switch, count, options.get("queue"),
                                                                 options.get("call")))
        return Output(trace_lines(traces))

    def show_campaigns(self, spec: CommandSpec, args: list[str]) -> Response:
        self._no_args(spec, args)
        control = self.engine.switch.control
        return Output(self.gateway.call(lambda: campaign_lines(control.attached)))

    def _preview(self, spec: CommandSpec, args: list[str], accept: bool) -> Response:
        if not args:
            raise _usage(spec)
        options = _options(spec, args[1:], ("campaign",))
        control = self.engine.switch.control
        return Output([self.gateway.call(lambda: preview_decision(control.attached, args[0], accept,
                                                                  options.get("campaign")))])

    def campaign_accept(self, spec: CommandSpec, args: list[str]) -> Response:
        return self._preview(spec, args, True)

    def campaign_skip(self, spec: CommandSpec, args: list[str]) -> Response:
        return self._preview(spec, args, False)

    def show_status(self, spec: CommandSpec, args: list[str]) -> Response:
        self._no_args(spec, args)
        loop, switch = self.engine.loop, self.engine.switch
        rows = self.gateway.call(lambda: status.engine_rows(loop, switch))
        # the web's restart button: "systemd", "self" (linebox run executes itself again) or "none"
        rows["restart"] = self.engine.restarter if self.engine.restart is not None else "none"
        return Output([status.status_line(rows, self.engine.link)])

    def show_link(self, spec: CommandSpec, args: list[str]) -> Response:
        self._no_args(spec, args)
        return Output(views.link_lines(self.engine.link))

    def show_storage(self, spec: CommandSpec, args: list[str]) -> Response:
        self._no_args(spec, args)
        return Output([self.engine.storage() if self.engine.storage is not None else "no storage on this engine"])

    def dump_frames(self, spec: CommandSpec, args: list[str]) -> Response:
        self._no_args(spec, args)
        return Output(views.frame_lines(self.engine.link))

    def _component(self, text: str) -> str:
        known = known_components(self.log_buffer.components())
        if text not in known:
            raise FirmwareError(f"unknown log component {text!r} (components: {', '.join(known)})")
        return text

    def log_tail(self, spec: CommandSpec, args: list[str]) -> Response:
        options = _options(spec, args, ("component", "level", "port", "lines"))
        log_filter = LogFilter(
            component=self._component(options["component"]) if "component" in options else None,
            min_level=parse_level(options["level"]) if "level" in options else logging.NOTSET,
            port=self._port(options["port"]) if "port" in options else None,
        )
        count = _integer("lines", options["lines"], 0, 1000) if "lines" in options else TAIL_BACKLOG_LINES
        return Follow(self.log_buffer.recent(log_filter, count), log_filter)

    def log_level(self, spec: CommandSpec, args: list[str]) -> Response:
        if not args:
            rows = [(name, logging.getLevelName(logging.getLogger(f"linebox.{name}").getEffectiveLevel()).lower())
                    for name in known_components(self.log_buffer.components())]
            return Output(views.table(("component", "level"), rows))
        if len(args) != 2:
            raise _usage(spec)
        component, level = self._component(args[0]), parse_level(args[1])
        logger = logging.getLogger(f"linebox.{component}")
        before = logging.getLevelName(logger.getEffectiveLevel()).lower()
        self._set_levels({component: level})
        after = logging.getLevelName(logger.getEffectiveLevel()).lower()
        return Output([f"log level of {component}: {after} (was {before})"])

    def call_test(self, spec: CommandSpec, args: list[str]) -> Response:
        positional = [arg for arg in args if "=" not in arg]
        if len(positional) != 2:
            raise _usage(spec)
        options = _options(spec, [arg for arg in args if "=" in arg], ("hold",))
        port = self._port(positional[0])
        number = _number(positional[1])
        hold_s = _integer("hold", options["hold"], 1, MAX_HOLD_S) if "hold" in options else TEST_CALL_HOLD_S
        test_call = self.engine.test_call
        if test_call is None:
            raise FirmwareError(f"call test needs the virtual board: on this board lift the handset on port "
                                f"{port} and dial {number}")
        return Output([self.gateway.call(lambda: test_call(port, number, hold_s))])

    def _set_service(self, spec: CommandSpec, args: list[str], in_service: bool) -> Response:
        if len(args) != 1:
            raise _usage(spec)
        port = self._port(args[0])
        switch = self.engine.switch

        def change() -> str:
            control = switch.control
            current = control.call_at(port)
            call = current.call_id if current is not None else None
            was_out = control.state(port) is Leg.OUT_OF_SERVICE
            switch.set_in_service(port, in_service, reason="console")
            if in_service:
                if control.state(port) is Leg.OUT_OF_SERVICE:
                    return f"port {port} stays out of service: the line card has it out (see show link)"
                if not was_out:
                    return f"port {port} was already in service"
                if control.state(port) is Leg.FAILED:  # the hook, read again from the card: off
                    return f"port {port} in service; its phone is off hook (congestion until it hangs up)"
                return f"port {port} in service"
            ended = f" (call {call} ended)" if call is not None else ""
            if was_out:
                return f"port {port} was already out of service; it stays out until 'port in {port}'"
            return f"port {port} out of service{ended}"

        return Output([self.gateway.call(change)])

    def port_out(self, spec: CommandSpec, args: list[str]) -> Response:
        return self._set_service(spec, args, False)

    def port_in(self, spec: CommandSpec, args: list[str]) -> Response:
        return self._set_service(spec, args, True)

    def engine_restart(self, spec: CommandSpec, args: list[str]) -> Response:
        self._no_args(spec, args)
        if self.engine.restart is None:
            raise FirmwareError(NO_SUPERVISOR)
        self.engine.restart()
        if self.engine.restarter == "self":
            return Output(["the engine stops now and starts itself again within seconds (not under systemd)"])
        return Output(["the engine stops now; systemd starts it again within seconds"])

    def config_reload(self, spec: CommandSpec, args: list[str]) -> Response:
        self._no_args(spec, args)
        store = self.engine.store
        # A change committed by another process goes to the store's subscribers (the switch, the
        # ACD), which hand it to the loop; the gateway call after it returns once the loop applied it.
        changed = store.reload_if_changed() is not None
        self.gateway.call(lambda: None)
        revision = store.config_version()
        if changed:
            return Output([f"configuration revision {revision} applied (calls in progress keep going)"])
        return Output([f"configuration revision {revision} is already running"])

    def _media(self):
        if self.engine.media is None:
            raise FirmwareError("this engine plays no music classes or queue greetings")
        return self.engine.media

    def media_reload(self, spec: CommandSpec, args: list[str]) -> Response:
        self._no_args(spec, args)
        lines = self._media().reload()  # files read here, on the console's thread
        self.gateway.call(lambda: None)  # returns once the loop made the swap queued before it
        return Output(lines)

    def show_media(self, spec: CommandSpec, args: list[str]) -> Response:
        self._no_args(spec, args)
        media = self._media()
        return Output(self.gateway.call(media.lines) or ["no music class or queue greeting in memory"])

    # ----------------------------------------------------------------- agent desk (desk.py)

    def show_desk(self, spec: CommandSpec, args: list[str]) -> Response:
        options = _options(spec, args, ("agent",))
        only = desk.agent_id(options["agent"]) if "agent" in options else None
        switch = self.engine.switch
        return Output([self.gateway.call(lambda: desk.desk_on_loop(switch, only))])

    def _agent_change(self, spec: CommandSpec, args: list[str], action: str) -> Response:
        positional = [arg for arg in args if "=" not in arg]
        if len(positional) != 1:
            raise _usage(spec)
        options = _options(spec, [arg for arg in args if "=" in arg], ("reason",) if action == "pause" else ())
        agent = desk.agent_id(positional[0])
        why = desk.reason(options["reason"]) if "reason" in options else ""
        switch = self.engine.switch
        return Output([self.gateway.call(lambda: desk.change_on_loop(switch, action, agent, why))])

    def agent_pause(self, spec: CommandSpec, args: list[str]) -> Response:
        return self._agent_change(spec, args, "pause")

    def agent_unpause(self, spec: CommandSpec, args: list[str]) -> Response:
        return self._agent_change(spec, args, "unpause")

    def agent_logout(self, spec: CommandSpec, args: list[str]) -> Response:
        return self._agent_change(spec, args, "logout")

    def agent_dispose(self, spec: CommandSpec, args: list[str]) -> Response:
        positional = [arg for arg in args if "=" not in arg]
        if len(positional) != 2:
            raise _usage(spec)
        options = _options(spec, [arg for arg in args if "=" in arg], ("note", "callback"))
        agent = desk.agent_id(positional[0])
        code = positional[1]
        if not code.isascii() or not code.isdigit() or len(code) > 4:
            raise FirmwareError(f"code {code[:8]!r} is not a disposition code (1-4 digits)")
        text = desk.note(options["note"]) if "note" in options else ""
        callback_at = desk.epoch(options["callback"]) if "callback" in options else None
        switch = self.engine.switch
        return Output([self.gateway.call(lambda: desk.dispose_on_loop(switch, agent, code, text, callback_at))])
