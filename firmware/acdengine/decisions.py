"""The last routing decisions of the running ACD and why each was made, for the console.

:class:`RoutingHistory` listens to the core (``OFFER`` events carry the decision's
:class:`~firmware.acd.router.RouteTrace`) and keeps the last ``size`` traces in memory (a
deque: old ones fall off, nothing is written). ``show routing`` (docs/console.md) renders them
with :func:`trace_lines`: one header line per decision (time, call, queue, strategy, the rule
that decided, who got it) and its candidates, best first, with penalty, idle time and their
levels on the skills the call needed, as relaxed at that moment.
"""

from __future__ import annotations

import datetime as dt
from collections import deque

from firmware.acd.events import AcdEvent, EventKind
from firmware.acd.router import RouteTrace

HISTORY_SIZE = 200  # decisions kept; a busy box makes a few per minute


class RoutingHistory:
    def __init__(self, size: int = HISTORY_SIZE) -> None:
        self.traces: deque[RouteTrace] = deque(maxlen=size)

    def on_event(self, event: AcdEvent) -> None:
        if event.kind is EventKind.OFFER and event.trace is not None:
            self.traces.append(event.trace)

    def last(self, count: int, queue: str | None = None, call: str | None = None) -> list[RouteTrace]:
        """The ``count`` most recent decisions (oldest first), of one queue or one call if given;
        ``call`` matches the ACD call id or its part after the dot (the switch's call number)."""
        def wanted(trace: RouteTrace) -> bool:
            if queue is not None and trace.queue != queue:
                return False
            return call is None or trace.call_id == call or trace.call_id.rpartition(".")[2] == call

        found = [trace for trace in reversed(self.traces) if wanted(trace)][:count]
        return found[::-1]


def trace_lines(traces: list[RouteTrace]) -> list[str]:
    """Each decision as a header line and one line per candidate (UTC times)."""
    if not traces:
        return ["no routing decisions yet"]
    lines: list[str] = []
    for trace in traces:
        at = dt.datetime.fromtimestamp(trace.time, dt.UTC).strftime("%H:%M:%S")
        needs = ", ".join(f"{skill}>={level}" for skill, level in trace.requirements) or "none"
        lines.append(f"{at} call {trace.call_id} queue {trace.queue} strategy {trace.strategy}: "
                     f"{', '.join(trace.chosen)} by rule {trace.rule}")
        lines.append(f"  needs {needs} (relaxation step {trace.relax_stage}), penalty tier {trace.tier_penalty}, "
                     f"excluded: {trace.excluded_skills} for skills, {trace.excluded_retry} waiting to retry")
        for rank, candidate in enumerate(trace.candidates, start=1):
            levels = " ".join(f"{skill}={level}" for skill, level in candidate.levels)
            mark = "*" if candidate.agent_id in trace.chosen else " "
            lines.append(f"  {mark}{rank:>2} {candidate.agent_id}  penalty {candidate.penalty}  "
                         f"idle {candidate.idle_seconds:.1f}s" + (f"  {levels}" if levels else ""))
    return lines
