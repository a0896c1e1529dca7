"""``linebox bench acd-engine --json``: the media loop's per-tick time with the ACD and voicemail busy.

Scene (``bench engine``'s approach: the box's own objects over :class:`SceneAudio`, no
simulated world, so only the box's work is measured): ``--lines`` exchange lines whose
callers are routed to one queue, two more lines whose callers leave a voicemail message,
and ``--agents`` agents' phones. The production ACD (``attach_acd``, ``Prompts.load``,
music on hold, ``attach_stats`` with a temporary database, queue_log) and voicemail
(``start_voicemail``) are attached as ``linebox/appliance.py`` does.

The line card is :class:`CallCentreCard`: it answers the switch's commands with the events
a real card would send. A released line rings again (``RingStart`` + ``RingQualified``: the
switch answers at the second ring) after a short gap, so every line always has a caller;
a rung agent's phone goes off-hook (``OffHook``) after 0.5-1.5 s and hangs up (``OnHook``)
4-10 s later. The queue has leastrecent routing, 5 s wrap-up and position announcements
every 30 s; waiting callers hear the default music class. Delays are drawn from ``--seed``.

The warm-up fills the queue and runs until the first agent comes out of wrap-up (every
agent has been offered a call, every buffer is allocated), so each run starts from the same
point of the ACD's cycle and even a short run sees offers and answers. Then the run is
measured like ``bench engine`` (``tick_*_ms`` with ``perf_counter`` per tick, process CPU
time). ``offers`` and ``answered`` count the ACD's
OFFER and CONNECT events during the measured run; ``callers_waiting_mean`` is the mean
number of callers hearing announcements or music. The same ports with plain bridged calls
and no ACD or voicemail attached give the ``baseline_*`` figures; ``acd_overhead_*`` is the
difference.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from drivers.audio import TICK_MS
from drivers.audiofile import read_audio
from drivers.ports import OffHook, OnHook, PortEvent, RingQualified, RingStart
from firmware.acd.agent_state import AgentState
from firmware.acd.events import AcdEvent, EventKind
from firmware.acdengine import Prompts, QueueService, attach_acd
from firmware.acdengine.service import Phase
from firmware.acdengine.setup import setup_from_config
from firmware.acdengine.stats import attach_stats
from firmware.config.model import (
    Agent,
    Config,
    Destination,
    DestinationKind,
    Extension,
    InboundRoute,
    Line,
    Queue,
    Zone,
)
from firmware.engine.loop import MediaLoop
from firmware.media.music import DEFAULT_CLASS
from firmware.voicemail import Voicemail
from linebox import LineboxError
from linebox.appliance import music_library, start_voicemail
from linebox.bench.engine import ORIGIN, QuietCard, SceneAudio
from linebox.bench.timing import print_json
from linebox.engine_builder import build_engine

TICK_S = TICK_MS / 1000.0
VOICEMAIL_LINES = 2  # callers leaving a message, beside the queue's lines
QUEUE = "support"
MAILBOX = "201"  # the first agent's extension has the mailbox
WRAPUP_S = 5
ANNOUNCE_POSITION_S = 30
ANSWER_S = (0.5, 1.5)  # an agent (headset on) picks up this long after the phone starts ringing
TALK_S = (4.0, 10.0)  # short calls: offers, answers and wrap-ups all happen during the run
NEXT_CALLER_S = (0.5, 2.0)  # a released line rings again after this gap
FIRST_CALLERS_S = 1.0  # the first callers ring in over this first second
MAX_WARM_UP_S = 120.0  # an agent leaves wrap-up long before this (answer + talk + wrap-up < 20 s)
MAX_AGENTS = 99  # agents' extensions are 201-299


@dataclass(frozen=True)
class Layout:
    """Ports of the scene: queue lines, then voicemail lines (FXO), then agents' phones (FXS)."""

    lines: int
    agents: int

    @property
    def line_ports(self) -> range:
        return range(self.lines + VOICEMAIL_LINES)

    @property
    def voicemail_ports(self) -> range:
        return range(self.lines, self.lines + VOICEMAIL_LINES)

    @property
    def phone_ports(self) -> range:
        first = self.lines + VOICEMAIL_LINES
        return range(first, first + self.agents)

    @property
    def ports(self) -> int:
        return self.lines + VOICEMAIL_LINES + self.agents

    def port_is_fxs(self) -> list[bool]:
        return [port in self.phone_ports for port in range(self.ports)]


def scene_config(layout: Layout) -> Config:
    """Lines to the queue (two to voicemail), agents 1001… at extensions 201… on the phones."""
    extensions = tuple(Extension(number=str(201 + index), port=port, name=f"Agent {index + 1}",
                                 voicemail=index == 0)
                       for index, port in enumerate(layout.phone_ports))
    agents = tuple(Agent(id=str(1001 + index), extension=extension.number, queues=((QUEUE, 0),))
                   for index, extension in enumerate(extensions))
    to_voicemail = tuple(InboundRoute(f"voicemail {port}", Destination(DestinationKind.VOICEMAIL, MAILBOX), line=port)
                         for port in layout.voicemail_ports)
    return Config(
        zone=Zone.US,
        lines=tuple(Line(port=port, name=f"Line {port + 1}") for port in layout.line_ports),
        extensions=extensions,
        routes=(*to_voicemail, InboundRoute("queue", Destination(DestinationKind.QUEUE, QUEUE))),
        queues=(Queue(name=QUEUE, number="700", wrapup_s=WRAPUP_S, announce_position_s=ANNOUNCE_POSITION_S),),
        agents=agents,
    )


class CallCentreCard:
    """A line card whose far ends behave like busy callers and agents (see module docstring).

    Its clock is the number of polls (the media loop polls once a tick); one pending event
    list per port. Commands the switch gives between two polls count from the later one.
    """

    def __init__(self, layout: Layout, rng: random.Random) -> None:
        self.layout = layout
        self.rng = rng
        self.tick = 0
        self._pending: dict[int, tuple[int, list[PortEvent]]] = {}
        for port in layout.line_ports:
            self._ring_in(port, rng.uniform(0.0, FIRST_CALLERS_S))

    def _after(self, port: int, seconds: float, events: list[PortEvent]) -> None:
        self._pending[port] = (self.tick + max(1, round(seconds / TICK_S)), events)

    def _ring_in(self, port: int, seconds: float) -> None:
        self._after(port, seconds, [RingStart(port), RingQualified(port, "standard")])

    def poll(self) -> list[PortEvent]:
        due = sorted(port for port, (tick, _) in self._pending.items() if tick <= self.tick)
        events = [event for port in due for event in self._pending.pop(port)[1]]
        self.tick += 1
        for event in events:
            if isinstance(event, OffHook):  # the agent talks, then hangs up
                self._after(event.port, self.rng.uniform(*TALK_S), [OnHook(event.port)])
        return events

    def wait_acked(self, timeout_s: float) -> bool:
        return True

    def ring(self, port: int, cadence_ms=None) -> None:
        if port in self.layout.phone_ports:
            self._after(port, self.rng.uniform(*ANSWER_S), [OffHook(port)])

    def stop_ring(self, port: int) -> None:
        pending = self._pending.get(port)
        if pending is not None and isinstance(pending[1][0], OffHook):
            del self._pending[port]  # answered elsewhere or withdrawn: nobody picks up

    def seize(self, port: int) -> None: ...

    def release(self, port: int) -> None:
        if port in self.layout.line_ports:
            self._ring_in(port, self.rng.uniform(*NEXT_CALLER_S))

    def pulse_dial(self, port: int, digits: str) -> None: ...

    def oht_window(self, port: int, ms: int) -> None:
        """On-hook transmission (message waiting, firmware/voicemail/mwi.py): nothing to report."""


class AcdEventCounter:
    """Counts the core's OFFER and CONNECT events (a listener of ``AcdCore``)."""

    def __init__(self) -> None:
        self.offers = 0
        self.answered = 0

    def on_event(self, event: AcdEvent) -> None:
        if event.kind is EventKind.OFFER:
            self.offers += 1
        elif event.kind is EventKind.CONNECT:
            self.answered += 1


@dataclass
class AcdScene:
    loop: MediaLoop
    service: QueueService
    counter: AcdEventCounter
    voicemail: Voicemail
    close: list  # what to close at the end, in order

    def waiting(self) -> int:
        return sum(caller.phase in (Phase.PROMPT, Phase.HOLD) for caller in self.service.callers.values())

    def wrapup_ending(self) -> bool:
        """An agent's wrap-up ends within the next tick (its next offer follows at once)."""
        now = self.service.now()
        return any(agent.state is AgentState.WRAP_UP and agent.wrapup_deadline - now <= TICK_S
                   for agent in self.service.core.agents.values())

    def warm_up(self) -> None:
        """Runs until the first agent comes out of wrap-up (module docstring)."""
        for _ in range(round(MAX_WARM_UP_S / TICK_S)):
            self.loop.step()
            if self.wrapup_ending():
                return
        raise LineboxError(f"bench acd-engine: no agent finished a call in {MAX_WARM_UP_S:.0f} s of warm-up")


def build_acd_scene(layout: Layout, seed: int, folder: Path) -> AcdScene:
    """The switch with the ACD and voicemail attached as the appliance does; files in ``folder``."""
    config = scene_config(layout)
    db_path = folder / "linebox.db"
    music = music_library(db_path, config)
    engine = build_engine(config, layout.port_is_fxs(), SceneAudio(layout.ports, seed),
                          CallCentreCard(layout, random.Random(seed)), ORIGIN, hold_music=lambda: music.samples(DEFAULT_CLASS))
    switch, loop = engine.switch, engine.loop
    queue_log = open(folder / "queue_log", "a", encoding="utf-8")  # noqa: SIM115 (closed by the caller)
    service = attach_acd(switch.control, setup_from_config(config), Prompts.load(read_audio), music, queue_log, seed)
    stats = attach_stats(service, db_path)
    voicemail = start_voicemail(switch, loop, db_path, config)
    counter = AcdEventCounter()
    service.core.listeners.append(counter)
    for agent, port in zip(config.agents, layout.phone_ports, strict=True):
        service.login(agent.id, port)
    if voicemail is None:  # cannot happen: extension 201 has a mailbox, so missing prompts raise
        raise LineboxError("bench acd-engine: voicemail did not start")
    return AcdScene(loop, service, counter, voicemail, [stats.close, queue_log.close, voicemail.close])


def build_baseline_scene(layout: Layout, seed: int) -> MediaLoop:
    """The same ports without the ACD: each phone bridged to a line, the other lines in pairs."""
    engine = build_engine(scene_config(layout), layout.port_is_fxs(), SceneAudio(layout.ports, seed), QuietCard(),
                          ORIGIN)
    mixer = engine.mixer
    lines = list(layout.line_ports)
    for phone, line in zip(layout.phone_ports, lines, strict=False):
        mixer.bridge(phone, line)
    rest = lines[layout.agents:]
    for first, second in zip(rest[::2], rest[1::2], strict=False):
        mixer.bridge(first, second)
    return engine.loop


def _measure(loop: MediaLoop, ticks: int, each_tick=None) -> dict:
    """Runs ``ticks`` ticks with fresh tick statistics: the ``bench engine`` figures."""
    loop.stats = type(loop.stats)()
    started = time.process_time()
    for _ in range(ticks):
        loop.step()
        if each_tick is not None:
            each_tick()
    cpu = time.process_time() - started
    summary = loop.stats.summary()
    return {
        "ticks": summary.ticks,
        "tick_p50_ms": round(summary.tick_p50_ms, 3),
        "tick_p99_ms": round(summary.tick_p99_ms, 3),
        "tick_max_ms": round(summary.tick_max_ms, 3),
        "deadline_misses": summary.deadline_misses,
        "cpu_seconds": round(cpu, 3),
    }


def measure_acd(layout: Layout, seconds: float, seed: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="linebox-bench-") as folder:
        scene = build_acd_scene(layout, seed, Path(folder))
        try:
            scene.warm_up()
            before = (scene.counter.offers, scene.counter.answered)
            waiting: list[int] = []
            figures = _measure(scene.loop, round(seconds / TICK_S), lambda: waiting.append(scene.waiting()))
        finally:
            for close in scene.close:
                close()
    figures["callers_waiting_mean"] = round(sum(waiting) / len(waiting), 2)
    figures["offers"] = scene.counter.offers - before[0]
    figures["answered"] = scene.counter.answered - before[1]
    return figures


def measure_baseline(layout: Layout, seconds: float, seed: int) -> dict:
    loop = build_baseline_scene(layout, seed)
    loop.run_ticks(50)  # warm-up, as bench engine
    return _measure(loop, round(seconds / TICK_S))


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("acd-engine", help="per-tick time of the media loop with the ACD and voicemail busy")
    parser.add_argument("--lines", type=int, default=24, help="lines whose callers queue (default 24)")
    parser.add_argument("--agents", type=int, default=8, help="agents' phones (default 8)")
    parser.add_argument("--seconds", type=float, default=30.0, help="audio seconds to measure (default 30)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="one JSON object (the default output)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.lines < 1 or not 1 <= args.agents <= MAX_AGENTS or not args.seconds > 0:
        raise LineboxError(f"bench acd-engine: --lines must be >= 1, --agents 1-{MAX_AGENTS}, --seconds > 0")
    layout = Layout(args.lines, args.agents)
    acd = measure_acd(layout, args.seconds, args.seed)
    baseline = measure_baseline(layout, args.seconds, args.seed)
    result = {"ports": layout.ports, "lines": layout.lines, "voicemail_lines": VOICEMAIL_LINES,
              "agents": layout.agents, "audio_seconds": round(acd["ticks"] * TICK_S, 2), **acd}
    result.update({f"baseline_{key}": value for key, value in baseline.items() if key != "ticks"})
    result["acd_overhead_p50_ms"] = round(acd["tick_p50_ms"] - baseline["tick_p50_ms"], 3)
    result["acd_overhead_p99_ms"] = round(acd["tick_p99_ms"] - baseline["tick_p99_ms"], 3)
    result["acd_overhead_cpu_seconds"] = round(acd["cpu_seconds"] - baseline["cpu_seconds"], 3)
    print_json(result)
    return 0
