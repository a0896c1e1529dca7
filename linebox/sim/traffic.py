"""Seeded random call traffic for soak scenarios (the ``traffic`` step).

The generator starts ``calls`` calls, a seeded random mix of internal, inbound and
outbound calls (weights ``mix``, the kind of each call drawn in turn): attempts arrive at
random (exponential gaps, mean ``interval_ms``); an attempt that finds no free phone or
line for the kind drawn waits for the next arrival (the step fails if none could start for
two minutes). Every party is played by a small policy driven by what the switch and the
simulated exchange show, tick by tick (all durations drawn uniformly from the ranges):

- a phone that rings answers after ``answer_ms`` with probability ``answer_probability``,
  else lets it ring until the caller gives up;
- a connected party hangs up after ``talk_ms`` (each side draws its own: whichever comes
  first hangs up), a caller hearing ringback gives up after ``give_up_ms``, a phone hearing
  busy or congestion hangs up after 100-1000 ms, and a phone rests ``rest_ms`` on hook
  before its next call;
- an exchange line whose box side is connected hangs up after ``talk_ms`` with one of the
  disconnect signals the line is configured to trust; an outgoing call gets a random
  outcome (answer 70 %, busy 10 %, congestion 10 %, no answer 10 %);
- an incoming caller gives up while ringing now and then (5 %, after 0.5-6 s), and always
  after 10-30 s of ringing; caller ID is a random number, withheld (10 %) or absent (10 %);
  a line rests 1.5 s after its clear, and after a ring train the box did not answer, until
  the card has ended that train (the zone's ``ring_end_ms``: a new call sooner would be the
  same train to the card, see ``drivers/timing.py``).

Internal calls ring an idle extension (90 %) or any other one, whatever its state (so some
are busy); a phone about to be rung is not picked by another call for 3 s. An outbound
attempt needs a line idle for the exchange as well as for the switch, beyond the lines
other outbound calls are about to take, and no line ringing unseen by the box (glare: the
card reports a ring at the end of its first burst, and seizing a line that rings answers
that call); no line rings while an outbound call is being dialled.

Every started call must give exactly one call record. When all calls are started the
generator waits, at most ``max_wait_ms``, until everything is idle: no call in the switch,
every port idle, nothing bridged, every exchange line idle and released, every phone on
hook. The step fails if anything is left over or a record is missing.

Memory: the resident set size is sampled after the warm-up (the first fifth of the calls)
and at the end; with ``trace_memory`` the Python allocations made after the warm-up and
still alive at the end are summed with ``tracemalloc`` (the scenario's own bookkeeping in
``linebox/sim`` excluded), which is how a per-call leak shows.
"""

from __future__ import annotations

import resource
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drivers.timing import zone_timing
from dsp.callerid import CallerId
from linebox.sim.observer import TICK_MS

OUTCOMES = ("answer", "busy", "congestion", "no_answer")
OUTCOME_WEIGHTS = (0.7, 0.1, 0.1, 0.1)
DISCONNECT_METHODS = ("polarity_reversal", "loop_current_drop", "busy_tone")
WARMUP_FRACTION = 0.2
LINE_REST_MS = 1500  # an exchange line rests this long after its clear before it rings again
RING_END_MARGIN_MS = 2000  # beyond the card's ring_end_ms after an unanswered ring train
CALLEE_RESERVED_MS = 3000  # a phone about to be rung is not picked by another call meanwhile
FAILED_HANGUP_MS = (100, 1000)  # a phone hearing busy or congestion hangs up after this
ABANDON_EARLY_MS = (500, 6000)
ABANDON_LATE_MS = (10_000, 30_000)
OFFHOOK_SEEN_MS = 1000  # the card reports an off-hook well within this
STALLED_MS = 120_000  # no call could start for this long: the traffic step fails
STUCK_MS = 20_000  # a phone in the same state this long hangs up (a safety net, counted)


def _ticks(ms: float) -> int:
    return max(1, int(round(ms / TICK_MS)))


def rss_kib() -> int:
    """The process's resident set size (Linux /proc), KiB; 0 where it cannot be read."""
    try:
        fields = Path("/proc/self/statm").read_text().split()
    except OSError:
        return 0
    return int(fields[1]) * resource.getpagesize() // 1024


@dataclass
class PhonePlan:
    port: int
    extension: str
    state: str = "idle"  # the switch's state of the port, as last seen
    since_tick: int = 0
    action_tick: int | None = None  # when this phone does its next thing
    action: str = ""  # "offhook" or "hangup"
    free_from_tick: int = 0  # resting or reserved until then
    outbound: bool = False  # dialling an outside number, the line not taken yet
    dialled_tick: int | None = None  # went off hook to call; the switch has not seen it yet


@dataclass
class LinePlan:
    port: int
    disconnect: tuple[str, ...]
    state: str = "idle"  # the exchange's state of the line, as last seen
    rang: bool = False  # an incoming call rang in this busy period
    hangup_tick: int | None = None
    abandon_tick: int | None = None
    free_from_tick: int = 0


class Traffic:
    """One ``traffic`` step of a :class:`linebox.sim.runner.ScenarioRun`."""

    def __init__(self, run, params: dict[str, Any], scenario_seed: int) -> None:
        self.run_ = run
        self.app = run.app
        self.p = params
        self.rng = np.random.default_rng(params["seed"] if params["seed"] is not None else scenario_seed)
        config = self.app.switch.config
        self.ring_end_ms = zone_timing(str(config.zone)).ring_end_ms
        self.phones = {ext.port: PhonePlan(ext.port, ext.number) for ext in config.extensions}
        self.lines = {line.port: LinePlan(line.port, tuple(str(m) for m in line.disconnect
                                                           if str(m) in DISCONNECT_METHODS))
                      for line in config.lines}
        mix = params["mix"]
        kinds = [kind for kind in ("internal", "inbound", "outbound") if mix[kind] > 0]
        if not self.lines:
            kinds = [kind for kind in kinds if kind == "internal"]
        if len(self.phones) < 2:
            kinds = [kind for kind in kinds if kind != "internal"]
        weights = np.array([mix[kind] for kind in kinds], dtype=float)
        self.kinds = kinds
        self.weights = weights / weights.sum() if kinds else weights
        self.started = {"internal": 0, "inbound": 0, "outbound": 0}
        self.events = {"answered_by_phone": 0, "far_end_hangups": 0, "abandoned": 0, "gave_up": 0,
                       "stuck_hangups": 0}
        self.outcomes = {outcome: 0 for outcome in OUTCOMES}
        self.attempts_waited = 0  # arrivals that found no free phone or line for the kind drawn
        self.kind = self._draw_kind() if kinds else ""

    @property
    def tick(self) -> int:
        return self.app.board.tick

    def _after(self, span: tuple[int, int] | list[int]) -> int:
        """The tick a random time within ``span`` (ms) from now."""
        return self.tick + _ticks(float(self.rng.uniform(span[0], span[1])))

    # -- the run -------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        total = self.p["calls"]
        cdrs_before = self._cdr_count()
        first_tick = self.tick
        warmup = max(1, int(total * WARMUP_FRACTION))
        memory: dict[str, Any] = {}
        if not self.kinds:
            return self._summary(cdrs_before, first_tick, memory,
                                 ["no kind of call is possible with this configuration and mix"])
        traced = False
        next_attempt = self.tick
        last_start = self.tick
        while sum(self.started.values()) < total:
            if self.tick - last_start > _ticks(STALLED_MS):
                self._drive()
                return self._summary(cdrs_before, first_tick, memory, [
                    f"traffic stalled: no {self.kind} call could start for {STALLED_MS // 1000} s",
                    *self._leftovers()])
            if sum(self.started.values()) >= warmup and "rss_kib_after_warmup" not in memory:
                memory["rss_kib_after_warmup"] = rss_kib()
                if self.p["trace_memory"] and not tracemalloc.is_tracing():
                    tracemalloc.start()
                    traced = True
            if self.tick >= next_attempt:
                if self._attempt():
                    last_start = self.tick
                next_attempt = self.tick + _ticks(float(self.rng.exponential(self.p["interval_ms"])))
            self._drive()
            self.run_.tick()
        deadline = self.tick + _ticks(self.p["max_wait_ms"])
        while not self._all_idle() and self.tick < deadline:
            self._drive()
            self.run_.tick()
        for _ in range(_ticks(LINE_REST_MS)):
            self.run_.tick()  # the lines' clear time passes, the last records are written
        if traced:
            memory["traced_growth_bytes"] = self._traced_growth()
            tracemalloc.stop()
        memory["rss_kib_end"] = rss_kib()
        return self._summary(cdrs_before, first_tick, memory, self._leftovers())

    def _summary(self, cdrs_before: int, first_tick: int, memory: dict[str, Any],
                 problems: list[str]) -> dict[str, Any]:
        cdrs = self._cdr_count() - cdrs_before
        started = sum(self.started.values())
        if cdrs != started:
            problems = [*problems, f"{started} calls started but {cdrs} call records written"]
        return {
            "calls": self.p["calls"],
            "started": dict(self.started),
            "cdrs": cdrs,
            "ok": not problems,
            "attempts_waited": self.attempts_waited,
            "events": dict(self.events),
            "outgoing_outcomes": dict(self.outcomes),
            "simulated_s": round((self.tick - first_tick) * TICK_MS / 1000.0, 2),
            "memory": memory,
            "detail": "; ".join(problems) or f"{started} calls, {cdrs} call records, everything idle afterwards",
        }

    def _cdr_count(self) -> int:
        self.app.cdr_writer.drain()
        return self.app.cdr.count()

    @staticmethod
    def _traced_growth() -> int:
        snapshot = tracemalloc.take_snapshot().filter_traces((
            tracemalloc.Filter(False, tracemalloc.__file__),
            tracemalloc.Filter(False, "*/linebox/sim/*"),
        ))
        return sum(stat.size for stat in snapshot.statistics("filename"))

    # -- starting calls -----------------------------------------------------------------------

    def _free_phones(self) -> list[PhonePlan]:
        world = self.app.world
        return [plan for plan in self.phones.values()
                if plan.state == "idle" and plan.action_tick is None and plan.dialled_tick is None
                and self.tick >= plan.free_from_tick and not world.phone(plan.port).is_offhook]

    def _free_lines(self) -> list[LinePlan]:
        world, legs = self.app.world, self.app.switch.snapshot()
        return [plan for plan in self.lines.values()
                if plan.state == "idle" and self.tick >= plan.free_from_tick and legs[plan.port]["state"] == "idle"
                and str(world.line(plan.port).state) == "idle" and not world.line(plan.port).box_offhook]

    def _ringing_unseen(self) -> bool:
        """A line rings but the box does not know yet (its first ring ends before the card
        reports it): seizing it now would answer that call (glare), so no outbound call."""
        legs = self.app.switch.snapshot()
        return any(str(self.app.world.line(port).state) == "alerting" and legs[port]["state"] == "idle"
                   for port in self.lines)

    def _draw_kind(self) -> str:
        return self.kinds[int(self.rng.choice(len(self.kinds), p=self.weights))]

    def _attempt(self) -> bool:
        """Starts a call of the kind drawn, if phones and lines allow; True if it did (then
        the next kind is drawn: the mix of calls started follows the weights)."""
        kind = self.kind
        phones = self._free_phones()
        if kind == "internal" and len(phones) >= 1:
            caller = phones[int(self.rng.integers(len(phones)))]
            idle = [plan for plan in phones if plan.port != caller.port]
            others = [plan for plan in self.phones.values() if plan.port != caller.port]
            pool = idle if idle and self.rng.random() < 0.9 else others
            callee = pool[int(self.rng.integers(len(pool)))]
            callee.free_from_tick = max(callee.free_from_tick, self.tick + _ticks(CALLEE_RESERVED_MS))
            self._dial(caller, callee.extension)
            self.started["internal"] += 1
        elif kind == "outbound" and phones and not self._ringing_unseen() and \
                len(self._free_lines()) > sum(plan.outbound for plan in self.phones.values()):
            caller = phones[int(self.rng.integers(len(phones)))]
            numbers = self.p["outbound_numbers"]
            self._dial(caller, numbers[int(self.rng.integers(len(numbers)))])
            caller.outbound = True
            self.started["outbound"] += 1
        elif kind == "inbound" and self._free_lines() and not any(plan.outbound for plan in self.phones.values()):
            lines = self._free_lines()
            self._ring(lines[int(self.rng.integers(len(lines)))])
            self.started["inbound"] += 1
        else:
            self.attempts_waited += 1
            return False
        self.kind = self._draw_kind()
        return True

    def _dial(self, plan: PhonePlan, digits: str) -> None:
        phone = self.app.world.phone(plan.port)
        phone.offhook()
        phone.dial(digits)
        plan.dialled_tick = self.tick

    def _ring(self, plan: LinePlan) -> None:
        draw = float(self.rng.random())
        if draw < 0.1:
            caller = CallerId(number_absence="private", name_absence="private")
        elif draw < 0.2:
            caller = None
        else:
            caller = CallerId(number=str(int(self.rng.integers(2_000_000_000, 9_999_999_999))))
        self.app.world.line(plan.port).ring(caller_id=caller)
        plan.state, plan.rang = "alerting", True
        plan.abandon_tick = self._after(ABANDON_EARLY_MS if self.rng.random() < 0.05 else ABANDON_LATE_MS)

    # -- playing the parties --------------------------------------------------------------

    def _drive(self) -> None:
        for plan in self.phones.values():
            self._drive_phone(plan)
        for plan in self.lines.values():
            self._drive_line(plan)

    def _drive_phone(self, plan: PhonePlan) -> None:
        state = self.run_.obs.state(plan.port)
        phone = self.app.world.phone(plan.port)
        if plan.dialled_tick is not None:
            if state == "idle" and self.tick - plan.dialled_tick < _ticks(OFFHOOK_SEEN_MS):
                return  # the card has not reported the off-hook yet
            plan.dialled_tick = None
        if state != plan.state:
            self._phone_state_changed(plan, state, phone.is_offhook)
        if plan.action_tick is None and state not in ("idle", "out_of_service") and phone.is_offhook \
                and self.tick - plan.since_tick > _ticks(STUCK_MS):
            plan.action_tick, plan.action = self.tick, "hangup"
            self.events["stuck_hangups"] += 1
        if plan.action_tick is not None and self.tick >= plan.action_tick:
            action, plan.action_tick, plan.action = plan.action, None, ""
            if action == "offhook" and not phone.is_offhook:
                phone.offhook()
                self.events["answered_by_phone"] += 1
            elif action == "hangup" and phone.is_offhook:
                phone.hangup()
                if state == "ringback":
                    self.events["gave_up"] += 1

    def _phone_state_changed(self, plan: PhonePlan, state: str, offhook: bool) -> None:
        plan.state, plan.since_tick = state, self.tick
        plan.action_tick, plan.action = None, ""
        if state not in ("dialtone", "dialing"):
            plan.outbound = False  # the switch has decided: a line is taken, or none
        if state == "ringing" and self.rng.random() < self.p["answer_probability"]:
            plan.action_tick, plan.action = self._after(self.p["answer_ms"]), "offhook"
        elif state == "connected":
            plan.action_tick, plan.action = self._after(self.p["talk_ms"]), "hangup"
        elif state == "ringback":
            plan.action_tick, plan.action = self._after(self.p["give_up_ms"]), "hangup"
        elif state == "failed" or (state == "idle" and offhook):
            plan.action_tick, plan.action = self._after(FAILED_HANGUP_MS), "hangup"
        elif state == "idle":
            plan.free_from_tick = max(plan.free_from_tick, self._after(self.p["rest_ms"]))

    def _drive_line(self, plan: LinePlan) -> None:
        line = self.app.world.line(plan.port)
        state = str(line.state)
        if state != plan.state:
            plan.state = state
            if state == "dial_tone":  # the box seized the line for an outgoing call
                outcome = OUTCOMES[int(self.rng.choice(len(OUTCOMES), p=OUTCOME_WEIGHTS))]
                self.outcomes[outcome] += 1
                line.script_outgoing(outcome=outcome, answer_after_ms=int(self.rng.integers(500, 5000)))
            elif state == "connected" and plan.disconnect:
                plan.hangup_tick = self._after(self.p["talk_ms"])
            elif state == "idle":
                rest = LINE_REST_MS + (self.ring_end_ms + RING_END_MARGIN_MS if plan.rang else 0)
                plan.rang, plan.hangup_tick, plan.abandon_tick = False, None, None
                plan.free_from_tick = self.tick + _ticks(rest)
        if plan.abandon_tick is not None and self.tick >= plan.abandon_tick:
            plan.abandon_tick = None
            if state == "alerting" and not line.box_offhook:
                line.abandon()
                self.events["abandoned"] += 1
        if plan.hangup_tick is not None and self.tick >= plan.hangup_tick:
            plan.hangup_tick = None
            if state in ("connected", "progress"):
                line.far_end_hangup(plan.disconnect[int(self.rng.integers(len(plan.disconnect)))])
                self.events["far_end_hangups"] += 1

    # -- the end -------------------------------------------------------------------------

    def _leftovers(self) -> list[str]:
        problems = []
        switch = self.app.switch
        if switch.calls:
            problems.append(f"calls left in the switch: {sorted(switch.calls)}")
        busy = [f"{e['port']} {e['state']}" for e in switch.snapshot() if e["state"] != "idle"]
        if busy:
            problems.append(f"ports not idle: {', '.join(busy)}")
        if switch.mixer.bridged_pairs():
            problems.append(f"bridges left: {switch.mixer.bridged_pairs()}")
        for port in self.lines:
            line = self.app.world.line(port)
            if str(line.state) != "idle" or line.box_offhook:
                problems.append(f"line {port} left {line.state}{' seized' if line.box_offhook else ''}")
        offhook = [str(port) for port in self.phones if self.app.world.phone(port).is_offhook]
        if offhook:
            problems.append(f"phones off hook: {', '.join(offhook)}")
        return problems

    def _all_idle(self) -> bool:
        return not self._leftovers() and all(plan.action_tick is None for plan in self.phones.values())
