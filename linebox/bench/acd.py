"""``linebox bench acd --json``: CPU time of one ACD routing decision under load.

Scene: 200 agents with mixed skills (3 languages, 4 products, levels 1-10) in 4 queues
(leastrecent, rrmemory with best-skill routing, fewestcalls, ringall) with penalties 0-2;
1,000 calls waiting (some in two queues, some VIP, most with skill requirements that relax
after 30 and 60 s). Each step one busy agent hangs up, one new call arrives, and the
decision that follows (:meth:`AcdCore.next_decision`) is timed in process CPU time; its
offers are answered so the scene stays loaded. Also reports the simulator's throughput
(simulated calls per CPU minute, Erlang C scene of ``linebox acd simulate``).
"""

from __future__ import annotations

import argparse
import random

import numpy as np

from firmware.acd.core import AcdCore
from firmware.acd.model import AcdConfig, AgentConfig, QueueConfig, RelaxStep, SkillSelection, Strategy
from firmware.acd.simulate import SimulationSpec, simulate
from linebox.bench.timing import cpu_seconds, print_json

AGENTS = 200
WAITING = 1000
STEPS = 3000
LANGUAGES = ("en", "fr", "de")
PRODUCTS = ("p1", "p2", "p3", "p4")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("acd", help="ACD routing decision time with 200 agents and 1,000 waiting calls")
    parser.add_argument("--json", action="store_true", help="one JSON object (the default output)")
    parser.add_argument("--seed", type=int, default=7)
    parser.set_defaults(handler=run)


def bench_config(rng: random.Random) -> AcdConfig:
    relax = (RelaxStep(30.0, 3), RelaxStep(60.0, 1))
    queues = (
        QueueConfig("sales", strategy=Strategy.LEASTRECENT, relax_steps=relax),
        QueueConfig("support", strategy=Strategy.RRMEMORY, relax_steps=relax, skill_selection=SkillSelection.BEST),
        QueueConfig("billing", strategy=Strategy.FEWESTCALLS, relax_steps=relax, skill_selection=SkillSelection.FILTER),
        QueueConfig("vip", strategy=Strategy.RINGALL, relax_steps=relax),
    )
    names = [queue.name for queue in queues]
    agents = []
    for number in range(AGENTS):
        skills = {language: rng.randint(1, 10) for language in rng.sample(LANGUAGES, rng.randint(1, 2))}
        skills.update({product: rng.randint(1, 10) for product in rng.sample(PRODUCTS, rng.randint(1, 3))})
        member_of = {queue: rng.randint(0, 2) for queue in rng.sample(names, rng.randint(1, 3))}
        agents.append(AgentConfig(f"a{number}", skills=skills, queues=member_of))
    return AcdConfig(queues=queues, agents=tuple(agents), vip_callers={"+15550000": 5}, autopause_after_missed=0)


class _Scene:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.config = bench_config(self.rng)
        self.core = AcdCore(self.config, random.Random(seed + 1))
        self.names = [queue.name for queue in self.config.queues]
        self.calls = 0
        self.now = 0.0
        for agent in self.config.agents:
            self.core.agent_login(agent.agent_id, self.now)

    def arrive(self) -> None:
        rng = self.rng
        self.calls += 1
        queues = rng.sample(self.names, 2) if rng.random() < 0.1 else [rng.choice(self.names)]
        skills = {}
        if rng.random() < 0.8:
            skills[rng.choice(LANGUAGES)] = rng.randint(1, 6)
            if rng.random() < 0.5:
                skills[rng.choice(PRODUCTS)] = rng.randint(1, 6)
        caller = "+15550000" if rng.random() < 0.05 else f"+1555{self.calls:07d}"
        self.core.call_arrived(str(self.calls), queues, caller, self.now, skills=skills)

    def answer(self, offers: list) -> None:
        for offer in offers:
            call = self.core.calls.get(offer.call_id)
            if call is not None and offer.agent_id in call.offers:
                self.core.offer_answered(offer.call_id, offer.agent_id, self.now)


def decision_times(seed: int, steps: int = STEPS) -> tuple[list[float], int]:
    """CPU seconds of each decision, and the fewest calls waiting when one was timed."""
    scene = _Scene(seed)
    core = scene.core
    for _ in range(WAITING + AGENTS):
        scene.arrive()
    scene.answer(core.next_decision(scene.now))
    times = []
    waiting = []
    box: list = []
    for _ in range(steps):
        scene.now += 1.0
        busy = [agent.agent_id for agent in core.agents.values() if agent.call_id and agent.state.value == "oncall"]
        if busy:
            call_id = core.agents[scene.rng.choice(busy)].call_id
            core.call_ended(call_id, scene.now)
        while len(core.waiting) < WAITING:
            scene.arrive()
        waiting.append(len(core.waiting))
        times.append(cpu_seconds(lambda now=scene.now: box.append(core.next_decision(now))))
        scene.answer(box.pop())
    return times, min(waiting)


def simulation_rate() -> float:
    spec = SimulationSpec(agents=14, calls_per_hour=200, aht_seconds=180, hours=100, seed=1)
    box: list = []
    seconds = cpu_seconds(lambda: box.append(simulate(spec)))
    return box[0].calls / seconds * 60.0


def run(args: argparse.Namespace) -> int:
    times, waiting = decision_times(args.seed)
    milliseconds = np.array(times) * 1000.0
    print_json(
        {
            "agents": AGENTS,
            "waiting": waiting,
            "decisions": len(times),
            "decision_p50_ms": round(float(np.percentile(milliseconds, 50)), 4),
            "decision_p99_ms": round(float(np.percentile(milliseconds, 99)), 4),
            "decision_max_ms": round(float(milliseconds.max()), 4),
            "simulated_calls_per_cpu_minute": round(simulation_rate()),
        }
    )
    return 0
