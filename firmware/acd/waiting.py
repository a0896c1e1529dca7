"""The calls waiting for an agent: order, positions, relaxation, callbacks, abandon-resume.

Order. Every call in a queue has the key ``(-priority, enqueue_time, seq)``: a higher
priority first, then the earlier enqueue time, then arrival order. A call may wait in
several queues at once; it is one :class:`WaitingCall` listed in each of them (so
positions are per queue) but routed as one object, so it is never offered twice.

Routing classes. Calls with the same queues, priority and base skill requirements form a
*class*, kept in key order. Because relaxation is monotone in waiting time (the config
refuses steps that tighten), the oldest call of a class is the least demanding one: if it
finds no agent, nobody younger in the class will, and the router skips the whole class.
That keeps one routing decision independent of the number of waiting calls.

Callbacks keep the place: the call keeps its key while the caller is off the line;
between dial-out attempts it is *parked* (listed, not routable) until the retry time.

Abandon-resume: a caller who hangs up while waiting and calls the same queue again
within ``abandon_resume_seconds`` (by caller ID, edge inclusive) gets the original
enqueue time back, so the original place.

Estimated wait (for position announcements):
``EWT = position x AHT / staffed`` where ``staffed`` counts the queue's logged-in,
unpaused agents and ``AHT`` is an exponentially weighted mean of the queue's recent
handle times (talk + wrap-up): with every agent busy, agents free up at a mean rate of
``staffed / AHT``, so the caller at ``position`` is reached after about
``position x AHT / staffed`` seconds. Unknown (None) when nobody is staffed.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator
from enum import StrEnum

from firmware.acd.model import MAX_SKILL_LEVEL, Offer, RelaxStep


class CallState(StrEnum):
    WAITING = "waiting"  # in the queue and routable
    OFFERING = "offering"  # ringing one agent, or a ring-all group
    DIALING = "dialing"  # callback: the agent answered, the caller is being dialled
    PARKED = "parked"  # callback: waiting for the next dial-out attempt
    CONNECTED = "connected"  # talking to an agent
    DONE = "done"  # left the ACD


CallKey = tuple[int, float, int]


class WaitingCall:
    """One call known to the ACD, from entering a queue to its end."""

    __slots__ = (
        "call_id",
        "caller_id",
        "queues",
        "priority",
        "requirements",
        "requirement_items",
        "relax_steps",
        "enqueue_time",
        "entered_at",
        "seq",
        "key",
        "state",
        "orig_positions",
        "offers",
        "declined",
        "callback_number",
        "callback_attempts",
        "reserved_for",
        "reserved_until",
        "agent_id",
        "connect_queue",
        "connected_at",
        "offer_id",
        "resumed",
        "skills_from_queue",
        "route_class",
        "_stage",
        "_relaxed",
    )

    def __init__(
        self,
        call_id: str,
        caller_id: str,
        queues: tuple[str, ...],
        priority: int,
        requirements: dict[str, int],
        relax_steps: tuple[RelaxStep, ...],
        enqueue_time: float,
        entered_at: float,
        seq: int,
    ) -> None:
        self.call_id = call_id
        self.caller_id = caller_id
        self.queues = queues
        self.priority = priority
        self.requirements = requirements
        self.requirement_items = tuple(sorted(requirements.items()))
        self.relax_steps = relax_steps
        self.enqueue_time = enqueue_time
        self.entered_at = entered_at
        self.seq = seq
        self.key: CallKey = (-priority, enqueue_time, seq)
        self.state = CallState.WAITING
        self.orig_positions: dict[str, int] = {}
        self.offers: dict[str, Offer] = {}
        self.declined: dict[str, float] = {}
        self.callback_number: str | None = None
        self.callback_attempts = 0
        self.reserved_for: str | None = None  # only this agent may get the call until reserved_until
        self.reserved_until = -math.inf
        self.agent_id: str | None = None
        self.connect_queue: str | None = None
        self.connected_at = 0.0
        self.offer_id = 0  # the answered offer
        self.resumed = False
        self.skills_from_queue = True  # False: the IVR gave the requirements at arrival
        self.route_class: RouteClass | None = None
        self._stage = -1
        self._relaxed: tuple[tuple[str, int], ...] = self.requirement_items

    def set_requirements(self, requirements: dict[str, int], relax_steps: tuple[RelaxStep, ...]) -> None:
        """New base requirements or relax steps (a reconfiguration); the relaxation cache
        restarts. The routing classes depend on them: :meth:`WaitingList.rebuild` afterwards."""
        self.requirements = requirements
        self.requirement_items = tuple(sorted(requirements.items()))
        self.relax_steps = relax_steps
        self._stage = -1
        self._relaxed = self.requirement_items

    def relax_stage(self, now: float) -> int:
        """How many relax steps apply after waiting since ``enqueue_time`` (edges inclusive)."""
        wait = now - self.enqueue_time
        stage = 0
        for step in self.relax_steps:
            if wait < step.after_seconds:
                break
            stage += 1
        return stage

    def relaxed_requirements(self, now: float) -> tuple[tuple[str, int], ...]:
        """(skill, minimum level) pairs that apply now; empty when nothing is required."""
        if not self.requirement_items:
            return ()
        stage = self.relax_stage(now) if self.relax_steps else 0
        if stage != self._stage:
            cap = self.relax_steps[stage - 1].max_level if stage else MAX_SKILL_LEVEL
            self._relaxed = () if cap == 0 else tuple((s, min(m, cap)) for s, m in self.requirement_items)
            self._stage = stage
        return self._relaxed

    def next_relax_at(self, now: float) -> float | None:
        """When the requirements next relax, or None when they never will again."""
        if not self.requirement_items:
            return None
        stage = self.relax_stage(now)
        if stage >= len(self.relax_steps):
            return None
        return self.enqueue_time + self.relax_steps[stage].after_seconds

    def reserved_agent(self, now: float) -> str | None:
        """The only agent the call may be offered to at ``now`` (None: any eligible agent)."""
        return self.reserved_for if now < self.reserved_until else None

    def in_cooldown(self, agent_id: str, now: float, retry_seconds: float) -> bool:
        declined_at = self.declined.get(agent_id)
        return declined_at is not None and now - declined_at < retry_seconds


class RouteClass:
    """Routable calls sharing queues, priority and base requirements, in key order."""

    __slots__ = ("signature", "queues", "priority", "entries")

    def __init__(self, signature: tuple, queues: tuple[str, ...], priority: int) -> None:
        self.signature = signature
        self.queues = queues
        self.priority = priority
        self.entries: list[tuple[float, int, WaitingCall]] = []


class WaitingList:
    """Every call in the ACD's queues: per-queue order for positions, classes for routing."""

    def __init__(self, queue_names: tuple[str, ...]) -> None:
        self.calls: dict[str, WaitingCall] = {}
        self.per_queue: dict[str, list[CallKey]] = {name: [] for name in queue_names}
        self.classes: dict[tuple, RouteClass] = {}

    def __len__(self) -> int:
        return len(self.calls)

    def __contains__(self, call_id: str) -> bool:
        return call_id in self.calls

    def add(self, call: WaitingCall) -> None:
        """Lists the call in its queues (recording its original positions) and makes it routable."""
        self.calls[call.call_id] = call
        for queue in call.queues:
            keys = self.per_queue[queue]
            index = bisect.bisect_left(keys, call.key)
            keys.insert(index, call.key)
            call.orig_positions[queue] = index + 1
        self.make_routable(call)

    def remove(self, call: WaitingCall) -> None:
        """Takes the call out of every queue (connected, abandoned, exited)."""
        if self.calls.pop(call.call_id, None) is None:
            return  # not listed: a callback being dialled when its queues were removed
        self.make_unroutable(call)
        for queue in call.queues:
            keys = self.per_queue[queue]
            index = bisect.bisect_left(keys, call.key)
            if index < len(keys) and keys[index] == call.key:
                del keys[index]

    def make_routable(self, call: WaitingCall) -> None:
        if call.route_class is not None:
            return
        signature = (call.queues, call.priority, call.requirement_items)
        route_class = self.classes.get(signature)
        if route_class is None:
            route_class = RouteClass(signature, call.queues, call.priority)
            self.classes[signature] = route_class
        entry = (call.enqueue_time, call.seq, call)
        entries = route_class.entries
        if not entries or entries[-1][:2] < entry[:2]:
            entries.append(entry)
        else:
            entries.insert(bisect.bisect_left(entries, entry[:2]), entry)
        call.route_class = route_class

    def make_unroutable(self, call: WaitingCall) -> None:
        route_class = call.route_class
        if route_class is None:
            return
        entries = route_class.entries
        if entries and entries[0][2] is call:
            del entries[0]
        else:
            index = bisect.bisect_left(entries, (call.enqueue_time, call.seq))
            if index < len(entries) and entries[index][2] is call:
                del entries[index]
        if not entries:
            del self.classes[route_class.signature]
        call.route_class = None

    def position(self, call: WaitingCall, queue: str) -> int:
        """1 = next in that queue; counts every call listed there (ringing and parked too);
        0 for a call no longer listed (a callback being dialled when its queues were removed)."""
        if call.call_id not in self.calls:
            return 0
        return bisect.bisect_left(self.per_queue[queue], call.key) + 1

    def rebuild(self, queue_names: tuple[str, ...]) -> None:
        """Recomputes the per-queue order and the routing classes from the listed calls (after
        a reconfiguration changed their queues or requirements). Routable calls stay routable."""
        routable = [call for call in self.calls.values() if call.route_class is not None]
        self.per_queue = {name: [] for name in queue_names}
        for call in self.calls.values():
            for queue in call.queues:
                self.per_queue[queue].append(call.key)
        for keys in self.per_queue.values():
            keys.sort()
        self.classes = {}
        for call in routable:
            call.route_class = None
        for call in sorted(routable, key=lambda each: each.key):
            self.make_routable(call)

    def count(self, queue: str) -> int:
        return len(self.per_queue[queue])

    def in_queue(self, queue: str) -> Iterator[WaitingCall]:
        return (call for call in self.calls.values() if queue in call.queues)

    def longest_wait(self, queue: str, now: float) -> float:
        """Seconds waited by the longest-waiting call listed in the queue (0 when none)."""
        keys = self.per_queue[queue]
        return max((now - key[1] for key in keys), default=0.0)


class AbandonMemory:
    """Recent abandons by caller ID, for abandon-resume; entries expire after the window."""

    def __init__(self, window_seconds: float) -> None:
        self.window_seconds = window_seconds
        self._entries: dict[str, tuple[float, float, tuple[str, ...]]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def remember(self, caller_id: str, abandoned_at: float, enqueue_time: float, queues: tuple[str, ...]) -> None:
        if self.window_seconds <= 0 or not usable_caller_id(caller_id):
            return
        self._entries.pop(caller_id, None)  # keep insertion order = abandon time order
        self._entries[caller_id] = (abandoned_at, enqueue_time, queues)

    def take(self, caller_id: str, queue: str, now: float) -> float | None:
        """The original enqueue time if this caller abandoned ``queue`` within the window."""
        entry = self._entries.get(caller_id)
        if entry is None:
            return None
        abandoned_at, enqueue_time, queues = entry
        if now - abandoned_at > self.window_seconds or queue not in queues:
            return None
        del self._entries[caller_id]
        return enqueue_time

    def prune(self, now: float) -> None:
        while self._entries:
            caller_id, (abandoned_at, _, _) = next(iter(self._entries.items()))
            if now - abandoned_at <= self.window_seconds:
                break
            del self._entries[caller_id]


def usable_caller_id(caller_id: str) -> bool:
    """Withheld or unknown numbers never match anybody (no resume, no VIP)."""
    return bool(caller_id) and caller_id.lower() not in {"anonymous", "unknown", "private", "o", "p"}


class AhtTracker:
    """Exponentially weighted handle time of one queue: ``aht += w x (handle - aht)``."""

    __slots__ = ("value", "weight", "samples")

    def __init__(self, initial_seconds: float, weight: float) -> None:
        self.value = initial_seconds
        self.weight = weight
        self.samples = 0

    def add(self, handle_seconds: float) -> None:
        if self.samples == 0:
            self.value = handle_seconds
        else:
            self.value += self.weight * (handle_seconds - self.value)
        self.samples += 1


def estimated_wait_seconds(position: int, aht_seconds: float, staffed: int) -> float | None:
    """``position x AHT / staffed``; None when no agent is staffed (the wait is unknown)."""
    if staffed <= 0:
        return None
    return position * aht_seconds / staffed
