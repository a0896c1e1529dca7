"""Seeded random call traffic for soak scenarios (the ``traffic`` step).

The generator starts ``calls`` calls, a seeded random mix of internal, inbound and
outbound calls in the proportions of the weights ``mix``: attempts arrive at random
(exponential gaps, mean ``interval_ms``); each starts the kind furthest behind its share
that can start, while a kind waiting for a free phone or line keeps the kinds behind it off
that resource, so none starves (the step fails if no call could start for two minutes). Every party is played by a small policy driven by what the switch and the
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
- an incoming caller gives up while ringing now and then (5 %, 0.5-6 s after the box has
  seen the ring: a caller gone before that was never a call for the box), and always after
  10-30 s of ringing; caller ID is a random number, withheld (10 %) or absent (10 %);
  a line rests 1.5 s after its clear, and after a ring train nobody answered until the card
  has ended that train (the zone's ``ring_end_ms``: a new call sooner would be the same
  train to the card, see ``drivers/timing.py``).

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

Memory is measured before the first call, after the warm-up (a fifth of the calls),
halfway, at three quarters and at the end, after a full garbage collection: the objects of
the box's own classes alive (``dsp``, ``drivers``, ``firmware``: not the simulated world,
not the scenario's bookkeeping) — the box is idle at the start and at the end, so those
should be the same objects, whatever the number of calls; what grew is listed by class,
with the call and call-record objects still alive. Live Python memory blocks, objects the
collector tracks and the resident set size are reported too. ``trace_memory`` adds
``tracemalloc`` from halfway on: the bytes that grew between three quarters and the end,
by file (a diagnosis aid: it makes that half of the run about 3 times slower).
"""

from __future__ import annotations

import gc
import resource
import sys
import tracemalloc
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drivers.timing import zone_timing
from dsp.callerid import CallerId
from firmware.cdr import CallRecord
from firmware.engine.calls import Call
from linebox.sim.observer import TICK_MS

OUTCOMES = ("answer", "busy", "congestion", "no_answer")
RESOURCES = {"internal": frozenset({"phones"}), "inbound": frozenset({"lines"}),
             "outbound": frozenset({"phones", "lines"})}
OUTCOME_WEIGHTS = (0.7, 0.1, 0.1, 0.1)
DISCONNECT_METHODS = ("polarity_reversal", "loop_current_drop", "busy_tone")
BOX_PACKAGES = ("dsp", "drivers", "firmware")  # the box's layers (board/ is the simulated hardware)
MEMORY_CHECKPOINTS = (("after_warmup", 0.2), ("halfway", 0.5), ("three_quarters", 0.75))  # of the calls started
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


def _box_class_of(cls: type) -> str | None:
    """``module.Class`` of one of the box's own classes, else None."""
    module = cls.__dict__.get("__module__") if isinstance(cls.__dict__, dict) else None
    module = module if isinstance(module, str) else getattr(cls, "__module__", None)
    if not isinstance(module, str) or module.split(".")[0] not in BOX_PACKAGES:
        return None
    return f"{module}.{cls.__qualname__}"


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
    unanswered: bool = False  # the caller gave up ringing: the card ends that ring train late
    early_abandon: bool = False  # this caller gives up soon after the box has seen the call
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
        self._traced: tracemalloc.Snapshot | None = None
        self._box_at_start: Counter[str] = Counter()
        self.attempts_waited = 0  # arrivals that found no free phone or line for the kind drawn

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
        checkpoints = {max(1, int(total * fraction)): name for name, fraction in MEMORY_CHECKPOINTS}
        memory: dict[str, Any] = {}
        if not self.kinds:
            return self._summary(cdrs_before, first_tick, memory,
                                 ["no kind of call is possible with this configuration and mix"])
        memory["start"] = self._measure_memory("start")
        next_attempt = self.tick
        last_start = self.tick
        while sum(self.started.values()) < total:
            if self.tick - last_start > _ticks(STALLED_MS):
                self._drive()
                return self._summary(cdrs_before, first_tick, memory, [
                    f"traffic stalled: no call could start for {STALLED_MS // 1000} s",
                    *self._leftovers()])
            name = checkpoints.get(sum(self.started.values()))
            if name is not None and name not in memory:
                memory[name] = self._measure_memory(name)
            self._drive()  # first: the attempt must see the states of the tick just run
            if self.tick >= next_attempt:
                if self._attempt():
                    last_start = self.tick
                next_attempt = self.tick + _ticks(float(self.rng.exponential(self.p["interval_ms"])))
            self.run_.tick()
        deadline = self.tick + _ticks(self.p["max_wait_ms"])
        while not self._all_idle() and self.tick < deadline:
            self._drive()
            self.run_.tick()
        for _ in range(_ticks(LINE_REST_MS)):
            self.run_.tick()  # the lines' clear time passes, the last records are written
        memory["end"] = self._measure_memory("end")
        if tracemalloc.is_tracing() and self.p["trace_memory"]:
            tracemalloc.stop()
        self._traced = None
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

    def _measure_memory(self, name: str) -> dict[str, Any]:
        """Memory after a full collection: objects of the box's own classes alive (the
        ``dsp``, ``drivers`` and ``firmware`` layers: the simulated world and the scenario's
        bookkeeping are not the box), live Python memory blocks, objects the collector
        tracks, the resident set size; at the end, what grew since the start by class and
        the call and call-record objects still alive. With ``trace_memory``, tracing starts
        halfway, a snapshot is taken at three quarters, and the end reports the bytes that
        grew since, by file (excluding ``linebox/sim``)."""
        self.app.cdr_writer.drain()  # records still queued for the writer are not a leak
        gc.collect()
        live = gc.get_objects()
        # Counted by type first (one pass in C), each type named once: a test session holds millions of objects.
        by_type = Counter(map(type, live))
        box: Counter[str] = Counter()
        for cls, count in by_type.items():
            label = _box_class_of(cls)
            if label is not None:
                box[label] += count
        out: dict[str, Any] = {"calls_started": sum(self.started.values()), "box_objects": sum(box.values()),
                               "allocated_blocks": sys.getallocatedblocks(), "gc_objects": len(live),
                               "rss_kib": rss_kib()}
        if name == "start":
            self._box_at_start = box
        elif name == "end":
            grown = box - self._box_at_start
            out["box_objects_grown"] = dict(grown.most_common(5))
            # Counted as growth since the start of the traffic: objects the same process held
            # before (other scenarios, a test session's earlier tests) are not this run's leak.
            out["live_calls"] = grown.get(f"{Call.__module__}.{Call.__qualname__}", 0)
            out["live_call_records"] = grown.get(f"{CallRecord.__module__}.{CallRecord.__qualname__}", 0)
        del live
        if not self.p["trace_memory"]:
            return out
        if name == "halfway":
            tracemalloc.start()
        elif name == "three_quarters" and tracemalloc.is_tracing():
            self._traced = tracemalloc.take_snapshot()
        elif name == "end" and self._traced is not None:
            exclude = (tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "*/linebox/sim/*"))
            now = tracemalloc.take_snapshot().filter_traces(exclude)
            diff = now.compare_to(self._traced.filter_traces(exclude), "filename")
            out["traced_growth_bytes"] = sum(stat.size_diff for stat in diff)
            out["traced_top"] = [f"{stat.traceback[0].filename}: {stat.size_diff:+d} B" for stat in diff[:5]]
        return out

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

    def _attempt(self) -> bool:
        """An arrival: the kinds are tried furthest behind their share of the mix first; a
        kind that cannot start keeps the kinds behind it off the resources it is waiting for
        (an outbound call waiting for a line keeps inbound calls off the lines and internal
        calls off the phones), so no kind starves. True if a call started."""
        started = sum(self.started.values())
        deficit = {kind: float(weight) * (started + 1) - self.started[kind] + float(self.rng.random()) * 1e-6
                   for kind, weight in zip(self.kinds, self.weights, strict=True)}
        waiting: set[str] = set()
        for kind in sorted(self.kinds, key=deficit.__getitem__, reverse=True):
            if RESOURCES[kind] & waiting:
                continue
            if self._start(kind):
                return True
            waiting |= RESOURCES[kind]
        self.attempts_waited += 1
        return False

    def _start(self, kind: str) -> bool:
        phones = self._free_phones()
        if kind == "internal" and phones:
            caller = phones[int(self.rng.integers(len(phones)))]
            idle = [plan for plan in phones if plan.port != caller.port]
            others = [plan for plan in self.phones.values() if plan.port != caller.port]
            pool = idle if idle and self.rng.random() < 0.9 else others
            callee = pool[int(self.rng.integers(len(pool)))]
            callee.free_from_tick = max(callee.free_from_tick, self.tick + _ticks(CALLEE_RESERVED_MS))
            self._dial(caller, callee.extension)
        elif kind == "outbound" and phones and not self._ringing_unseen() and \
                len(self._free_lines()) > sum(plan.outbound for plan in self.phones.values()):
            caller = phones[int(self.rng.integers(len(phones)))]
            numbers = self.p["outbound_numbers"]
            self._dial(caller, numbers[int(self.rng.integers(len(numbers)))])
            caller.outbound = True
        elif kind == "inbound" and self._free_lines() and not any(plan.outbound for plan in self.phones.values()):
            lines = self._free_lines()
            self._ring(lines[int(self.rng.integers(len(lines)))])
        else:
            return False
        self.started[kind] += 1
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
        plan.state = "alerting"
        plan.early_abandon = bool(self.rng.random() < 0.05)
        plan.abandon_tick = self._after(ABANDON_LATE_MS)

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
                rest = LINE_REST_MS + (self.ring_end_ms + RING_END_MARGIN_MS if plan.unanswered else 0)
                plan.unanswered, plan.hangup_tick, plan.abandon_tick, plan.early_abandon = False, None, None, False
                plan.free_from_tick = self.tick + _ticks(rest)
        if plan.early_abandon and self.app.switch.snapshot()[plan.port]["state"] != "idle":
            # Only once the box has seen the ring: a caller gone before the first ring ends
            # was never a call for the box (no record), so the count would not match.
            plan.early_abandon = False
            plan.abandon_tick = min(plan.abandon_tick or self.tick, self._after(ABANDON_EARLY_MS))
        if plan.abandon_tick is not None and self.tick >= plan.abandon_tick:
            plan.abandon_tick = None
            if state == "alerting" and not line.box_offhook:
                line.abandon()
                plan.unanswered = True
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
