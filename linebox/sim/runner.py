"""Running a scenario: the appliance on the virtual board, unpaced, driven step by step.

:func:`run_scenario` builds the production stack with ``linebox.appliance`` in a temporary
folder (its own configuration and CDR database: a scenario never touches the box's
files), applies the scenario's exchange settings to the simulated lines, and runs the
steps in order:

- an action is applied between two ticks (the world acts on it from the next tick) and
  marks the time the following expectations look from; ``set_clock`` moves the switch's
  wall time forward (``Switch.advance_clock``);
- ``wait`` runs the media loop for that long;
- an expectation runs the loop tick by tick until it holds, and fails the scenario when
  its timeout passes first (the remaining steps are not run); a negative runs it for its
  whole interval and fails at the first tick its positive check holds;
- ``traffic`` hands the ticks to the random call generator (:mod:`linebox.sim.traffic`).

Errors of the box's layers raised by an action or a tick (a phone told to dial while on
hook, a dead card link ...) fail the step with their message. The report
(:class:`Report`, ``as_json()``) holds the verdict and everything observed: per port the
states, the tones recognised in its audio, digits, caller ID; bridges; every component's log;
the call records, the queue_log; what is left at the end. After every tick the runner waits
for the box's worker threads (records and messages being stored), so the report is the same
for the same scenario and seed. Simulated time runs as fast as the machine
allows; the wall time and the media loop's tick statistics are reported under ``timing``
(the only figures that differ between two runs of the same scenario and seed).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from board import BoardError
from board.virtual.pstn import FarEnd
from drivers import DriverError
from drivers.audiofile import read_audio
from drivers.link import IN_SERVICE
from dsp import DspError
from firmware import FirmwareError
from firmware.campaign.console import preview_decision
from firmware.leads import DncList
from linebox.appliance import Appliance, open_virtual_appliance
from linebox.sim.expect import Expectations, Verdict, cdr_dict
from linebox.sim.observer import TICK_MS, Observer
from linebox.sim.ring_callerid import RingCallerId
from linebox.sim.scenario import MAX_CLOCK_JUMP_S, Scenario, Step
from linebox.sim.traffic import Traffic

BOX_ERRORS = (BoardError, DriverError, DspError, FirmwareError)
READY_TIMEOUT_MS = 5000  # the card link comes up within a few ticks of the start
SETTLE_MS = 100  # after that, the card's first port snapshot and line voltages arrive
STEP_KEYS = ("step", "kind", "at_ms", "result", "waited_ms", "detail")  # a step's own fields in the report


@dataclass
class StepResult:
    step: int
    kind: str
    at_ms: int
    result: str  # "done", "passed", "failed"
    detail: str = ""
    waited_ms: int | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"step": self.step, "kind": self.kind, "at_ms": self.at_ms, "result": self.result}
        if self.waited_ms is not None:
            out["waited_ms"] = self.waited_ms
        if self.detail:
            out["detail"] = self.detail
        # What the check observed never replaces what the step is (when it started, its result).
        out.update({key: value for key, value in self.data.items() if key not in STEP_KEYS})
        return out


@dataclass
class Report:
    data: dict[str, Any]

    @property
    def passed(self) -> bool:
        return bool(self.data["passed"])

    @property
    def failure(self) -> dict[str, Any] | None:
        return self.data["failure"]

    def as_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.data, indent=indent, sort_keys=False)


OUTGOING_STREAM = 0x6F7574  # the seed's second word for the outgoing steps' draws


def draw_outgoing(outcome: str | dict[str, float], answer_after_ms: int | tuple[int, int], calls: int,
                  rng: np.random.Generator) -> list[tuple[str, int]]:
    """(outcome, answer after ms) of ``calls`` outgoing calls: ``outcome`` one name or relative
    weights, ``answer_after_ms`` a time or an inclusive range, drawn from ``rng``."""
    names = tuple(outcome) if isinstance(outcome, dict) else (outcome,)
    weights = np.array([outcome[n] for n in names] if isinstance(outcome, dict) else [1.0], dtype=float)
    picks = rng.choice(len(names), size=calls, p=weights / weights.sum())
    if isinstance(answer_after_ms, tuple):
        waits = rng.integers(answer_after_ms[0], answer_after_ms[1] + 1, size=calls)
    else:
        waits = np.full(calls, answer_after_ms)
    return [(names[int(i)], int(w)) for i, w in zip(picks, waits, strict=True)]


class _StepFailed(Exception):
    """An action the box or the world refused; its message is the step's failure."""


class ScenarioRun:
    """One run of a scenario against one appliance (see the module doc)."""

    def __init__(self, scenario: Scenario, app: Appliance, observer: Observer) -> None:
        self.scenario = scenario
        self.app = app
        self.obs = observer
        self.expectations = Expectations(observer, app)
        self.since_ms = 0
        self.ready_ms: int | None = None
        self.results: list[StepResult] = []
        self.traffic: list[dict[str, Any]] = []
        self.clock: list[dict[str, Any]] = []  # set_clock steps: {ms, from, to}
        # the draws of outgoing steps with a mix of outcomes: a stream of their own, so the
        # same scenario and seed script the same calls whatever else is random
        self.rng = np.random.default_rng([scenario.seed, OUTGOING_STREAM])

    def tick(self) -> None:
        self.app.loop.step()
        self._drain_workers()
        self.obs.after_tick()

    def _drain_workers(self) -> None:
        """Waits for the box's worker threads to finish what this tick gave them (call records,
        messages and settings to store): what they log then carries this tick's time, and what
        they cause (a message-waiting lamp) follows at the same tick, in every run."""
        app = self.app
        app.cdr_writer.drain()
        app.extension_changes.drain()
        if app.voicemail is not None:
            app.voicemail.deposit.drain()
            app.voicemail.menu.worker.drain()
        if app.acd_stats is not None and app.acd_stats.history is not None:
            app.acd_stats.history.drain()
        if app.campaigns.worker is not None:  # attempts, leads, the do-not-call list; live campaign changes
            app.campaigns.worker.drain()

    def run_ms(self, ms: int) -> None:
        for _ in range(math.ceil(ms / TICK_MS)):
            self.tick()

    def wait_ready(self) -> bool:
        """Runs the loop until every port is in service (the card link is up), then a few
        ticks more for the card's first port snapshot; False if that takes too long."""
        card = self.app.card
        ports = range(len(self.scenario.port_kinds))
        # The handshake runs on the link's and the card's threads, not on ticks: waiting for
        # it before tick 0 makes the start (and so the whole run) the same every time.
        card.link.wait_state(IN_SERVICE, READY_TIMEOUT_MS / 1000.0)
        for _ in range(math.ceil(READY_TIMEOUT_MS / TICK_MS)):
            if all(card.in_service(port) for port in ports):
                self.run_ms(SETTLE_MS)
                self.ready_ms = self.obs.now_ms
                self.since_ms = self.ready_ms
                return True
            self.tick()
        return False

    def run(self) -> dict[str, Any] | None:
        """Runs every step; the failure (step, kind, reason) or None."""
        if not self.wait_ready():
            return {"step": None, "kind": "start", "reason": f"the line card was not in service within "
                                                             f"{READY_TIMEOUT_MS} ms of the start"}
        for step in self.scenario.steps:
            result = self._run_step(step)
            self.results.append(result)
            if result.result == "failed":
                return {"step": step.index, "kind": step.kind, "reason": result.detail}
        return None

    def _run_step(self, step: Step) -> StepResult:
        at = self.obs.now_ms
        try:
            if step.category == "action":
                self._act(step)
                self.since_ms = at
                return StepResult(step.index, step.kind, at, "done")
            if step.category == "wait":
                self.run_ms(step.params["ms"])
                return StepResult(step.index, step.kind, at, "done")
            if step.category == "traffic":
                summary = Traffic(self, step.params, self.scenario.seed).run()
                self.traffic.append(summary)
                self.since_ms = at
                ok = summary["ok"]
                return StepResult(step.index, step.kind, at, "passed" if ok else "failed", summary["detail"],
                                  self.obs.now_ms - at, {"summary": summary})
            if step.category == "absent":
                return self._absent(step, at)
            return self._expect(step, at)
        except (_StepFailed, *BOX_ERRORS) as exc:
            return StepResult(step.index, step.kind, at, "failed", f"{step.where}: {exc}")

    def _expect(self, step: Step, at: int) -> StepResult:
        deadline = self.app.board.tick + math.ceil(step.params["timeout_ms"] / TICK_MS)
        while True:
            verdict = self.expectations.check(step.kind, step.index, step.params, self.since_ms)
            if verdict.passed:
                break
            if self.app.board.tick >= deadline:
                self.obs.pull_audio()  # the last partial block of audio counts too
                verdict = self.expectations.check(step.kind, step.index, step.params, self.since_ms)
                if not verdict.passed:
                    verdict = Verdict(False, f"{step.where}: not within {step.params['timeout_ms']} ms: "
                                             f"{verdict.detail}", verdict.data)
                break
            self.tick()
        result = "passed" if verdict.passed else "failed"
        return StepResult(step.index, step.kind, at, result, verdict.detail, self.obs.now_ms - at, verdict.data)

    def _absent(self, step: Step, at: int) -> StepResult:
        """A negative: its positive check must not hold at any tick of the next ``for_ms``."""
        end = self.app.board.tick + math.ceil(step.params["for_ms"] / TICK_MS)
        while True:
            verdict = self.expectations.check_absent(step.kind, step.index, step.params, at)
            if not verdict.passed:
                detail = f"{step.where}: within {step.params['for_ms']} ms: {verdict.detail}"
                return StepResult(step.index, step.kind, at, "failed", detail, self.obs.now_ms - at, verdict.data)
            if self.app.board.tick >= end:
                break
            self.tick()
        self.obs.pull_audio()  # the last partial block of audio counts too
        verdict = self.expectations.check_absent(step.kind, step.index, step.params, at)
        if not verdict.passed:
            detail = f"{step.where}: within {step.params['for_ms']} ms: {verdict.detail}"
            return StepResult(step.index, step.kind, at, "failed", detail, self.obs.now_ms - at, verdict.data)
        return StepResult(step.index, step.kind, at, "passed", f"not seen for {step.params['for_ms']} ms",
                          self.obs.now_ms - at)

    def _act(self, step: Step) -> None:
        p, world, kind = step.params, self.app.world, step.kind
        if kind == "offhook":
            world.phone(p["port"]).offhook()
        elif kind == "hangup":
            world.phone(p["port"]).hangup()
        elif kind == "dial" and self.scenario.port_kinds[p["port"]] == "fxo":
            self._far_end(p["port"], "dial").dial(p["digits"])
        elif kind == "dial":
            world.phone(p["port"]).dial(p["digits"], method=p["method"])
        elif kind == "flash":
            world.phone(p["port"]).flash(p["ms"])
        elif kind == "answer_on_ring":
            world.phone(p["port"]).answer_on_ring(p["rings"], p["delay_ms"], hangup_after_ms=p["hangup_after_ms"],
                                                  repeat=p["repeat"])
        elif kind == "play":
            self._play(p["port"], p["file"])
        elif kind == "ring":
            self._ring(p["port"], p["caller_id"], p["max_rings"])
        elif kind == "abandon":
            world.line(p["port"]).abandon()
        elif kind == "outgoing":
            self._script_outgoing(p)
        elif kind == "answer":
            world.line(p["port"]).answer()
        elif kind == "far_end_hangup":
            world.line(p["port"]).far_end_hangup(p["method"])
        elif kind == "inject":
            params = {key: p[key] for key in ("count", "seconds") if p[key] is not None}
            self.app.board.inject(p["fault"], p["port"], **params)
        elif kind == "set_clock":
            self._set_clock(p["to"], p["forward_s"])
        elif kind == "preview":  # the agent page's Accept or Skip (the console's campaign accept|skip)
            preview_decision(self.app.switch.control.attached, p["agent"], p["decision"] == "accept", p["campaign"])
        else:  # the scenario parser only lets known kinds through
            raise _StepFailed(f"unknown action {kind}")

    def _script_outgoing(self, p: dict[str, Any]) -> None:
        """The next ``calls`` outgoing calls of the line, each with its outcome and answer
        time drawn (seeded) when ``outcome`` is a mix or ``answer_after_ms`` a range."""
        words = read_audio(p["file"]) if p["file"] else None
        for outcome, wait in draw_outgoing(p["outcome"], p["answer_after_ms"], p["calls"], self.rng):
            self.app.world.line(p["port"]).script_outgoing(
                outcome=outcome, answer_after_ms=wait, digits=p["digits"],
                far_end=FarEnd(words) if words is not None else FarEnd())

    def _ring(self, port: int, spec: RingCallerId | None, max_rings: int | None) -> None:
        """An incoming call with the caller ID a scenario gives, sent as the exchange would."""
        line = self.app.world.line(port)
        if spec is None:
            line.ring(max_rings=max_rings)
            return
        now = (self.scenario.start + dt.timedelta(milliseconds=self.obs.now_ms)).strftime("%m%d%H%M")
        line.ring(callerid_message=lambda standard: spec.message(standard, now), callerid_standard=spec.standard,
                  max_rings=max_rings)

    def _play(self, port: int, path: str) -> None:
        if self.scenario.port_kinds[port] == "fxs":
            self.app.world.phone(port).play(path)
            return
        self._far_end(port, "speak").say(read_audio(path))

    def _far_end(self, port: int, what: str) -> FarEnd:
        far_end = self.app.world.line(port).far_end
        if far_end is None or far_end.gone:
            raise _StepFailed(f"line {port} has no far-end party to {what} (no call on it)")
        return far_end

    def _set_clock(self, to: dt.datetime | None, forward_s: int | None) -> None:
        """Moves the box's wall time forward (the switch's origin): simulated ms go on as before."""
        now = self.app.switch.now()
        delta = to - now if to is not None else dt.timedelta(seconds=forward_s or 0)
        if delta <= dt.timedelta(0):
            raise _StepFailed(f"the clock only moves forward: it is {now.isoformat()} already")
        if delta > dt.timedelta(seconds=MAX_CLOCK_JUMP_S):
            raise _StepFailed(f"the clock moves at most {MAX_CLOCK_JUMP_S // 86400} days at once, not {delta}")
        self.app.switch.advance_clock(delta)  # FirmwareError (a call is up) fails the step
        self.clock.append({"ms": self.obs.now_ms, "from": now.isoformat(),
                           "to": self.app.switch.now().astimezone(now.tzinfo).isoformat()})


def run_scenario(
    scenario: Scenario,
    seed: int | None = None,
    folder: str | Path | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Report:
    """Runs ``scenario`` (its seed, or ``seed``) and returns the report; the appliance is closed."""
    seed = scenario.seed if seed is None else seed
    scenario = dataclasses.replace(scenario, seed=seed)
    began = clock()
    with tempfile.TemporaryDirectory(prefix="linebox-sim-", dir=folder) as work:
        if scenario.dnc:
            with DncList(Path(work) / "scenario.db") as dnc:
                for number in scenario.dnc:
                    dnc.add(number, "us", source="scenario")  # E.164 already: read the same in any zone
        app = open_virtual_appliance(Path(work) / "scenario.db", paced=False, seed=seed, origin=scenario.start,
                                     board_name=scenario.board, config=scenario.config, speech=scenario.speech,
                                     contacts=scenario.contacts)
        try:
            for port, options in scenario.exchange.items():
                line = app.world.line(port)
                line.config = dataclasses.replace(line.config, **options)
            config = app.switch.config
            observer = Observer(app, app.switch.plan, str(config.effective_caller_id_standard()),
                                audio=scenario.observe_audio, log=scenario.observe_log,
                                history=scenario.observe_history)
            run = ScenarioRun(scenario, app, observer)
            observer.start()
            try:
                failure = run.run()
            finally:
                observer.stop()
                observer.close()
            app.cdr_writer.drain()
            records = [cdr_dict(record) for record in app.cdr.records()]
            data = _report(scenario, run, failure, records)
            summary = app.loop.stats.summary()
        finally:
            app.close()
    data["timing"] = {
        "wall_s": round(clock() - began, 3),
        "ticks": summary.ticks,
        "tick_p50_ms": round(summary.tick_p50_ms, 3),
        "tick_p99_ms": round(summary.tick_p99_ms, 3),
        "tick_max_ms": round(summary.tick_max_ms, 3),
    }
    return Report(data)


def _report(scenario: Scenario, run: ScenarioRun, failure: dict[str, Any] | None,
            records: list[dict[str, Any]]) -> dict[str, Any]:
    app, obs = run.app, run.obs
    config = app.switch.config
    ran = {result.step for result in run.results}
    steps = [result.as_dict() for result in run.results]
    steps += [{"step": step.index, "kind": step.kind, "result": "not_run"} for step in scenario.steps
              if step.index not in ran]
    snapshot = app.switch.snapshot()
    ports = []
    for port in obs.ports:
        entry: dict[str, Any] = {"port": port.port, "type": port.kind, "states": port.states}
        if obs.audio_on:
            entry["tones_heard"] = port.tones
            entry["digits_heard"] = [{"ms": ms, "digit": digit} for ms, digit in port.digits]
        if port.kind == "fxo":
            entry["exchange_digits"] = [{"ms": ms, "digit": digit} for ms, digit in port.exchange_digits]
            line = app.world.line(port.port)
            entry["exchange_state"] = str(line.state)
            entry["exchange_seized"] = bool(line.box_offhook)
        elif obs.audio_on:
            entry["caller_ids"] = port.caller_ids
            entry["mwi"] = port.mwi
        ports.append(entry)
    open_calls = [{"call": call.call_id, "origin": call.origin, "direction": str(call.direction),
                   "ports": call.ports()} for call in app.switch.calls.values()]
    data: dict[str, Any] = {
        "scenario": scenario.name,
        "source": scenario.source,
        "description": scenario.description,
        "seed": scenario.seed,
        "start": scenario.start.isoformat(),
        "board": scenario.board,
        "zone": str(config.zone),
        "caller_id_standard": str(config.effective_caller_id_standard()),
        "passed": failure is None,
        "failure": failure,
        "ready_ms": run.ready_ms,
        "simulated_ms": obs.now_ms,
        "steps": steps,
        "ports": ports,
        "bridges": obs.bridges,
        "calls": records,
        "end": {
            "idle": all(e["state"] == "idle" for e in snapshot) and not open_calls and not obs.bridged_now(),
            "states": {str(e["port"]): e["state"] for e in snapshot},
            "calls_open": open_calls,
            "bridges": [list(pair) for pair in sorted(obs.bridged_now())],
        },
    }
    if run.traffic:
        data["traffic"] = run.traffic
    if run.clock:
        data["clock"] = run.clock
    if obs.queue_log:
        data["queue_log"] = obs.queue_log
    if obs.log_on:
        data["log"] = obs.events
    return data
