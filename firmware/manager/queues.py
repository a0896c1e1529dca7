"""The ACD as AMI queues: queue and agent events, QueueStatus/QueueSummary, agent actions.

:class:`QueueBridge` listens to the ACD core's events (``AcdCore.listeners``, the same
stream the queue_log writer and the statistics read) on the media loop's thread, keeps
offers until the channel observer's next pass (so an AgentCalled can name the agent's
channel, rung in the same tick) and publishes them with Asterisk's names and fields:

=================  ==========================================================
ACD event          AMI events
=================  ==========================================================
ENTERQUEUE         QueueCallerJoin
OFFER              AgentCalled
RINGNOANSWER       AgentRingNoAnswer
CONNECT            QueueCallerLeave, AgentConnect
ABANDON            QueueCallerAbandon, QueueCallerLeave
EXIT* (timeout,    QueueCallerLeave
key, empty)
COMPLETE*          AgentComplete (Reason caller or agent)
ADDMEMBER/REMOVE   QueueMemberAdded / QueueMemberRemoved
PAUSE/UNPAUSE      QueueMemberPause
AGENTSTATE         QueueMemberStatus (one per queue of the agent)
=================  ==========================================================

Members are named ``Agent/<agent id>`` (``Interface``), their phone ``FXS/<port>``
(``StateInterface``). Actions (QueueAdd/QueueRemove/QueuePause) go through the queue
service's and the core's public methods, as the agents' feature codes do.
"""

from __future__ import annotations

import re

from firmware.acd.agent_state import AgentState
from firmware.acd.events import AcdEvent, EventKind
from firmware.acd.queue_log import QueueLogRecord, QueueLogWriter
from firmware.acdengine.service import QueueService
from firmware.acdengine.stats import find_stats
from firmware.manager import ManagerError
from firmware.manager.channels import Channel, ChannelObserver
from firmware.manager.dialplan import CallSteps
from firmware.manager.events import AGENT, event

MEMBER_PREFIX = "Agent/"
QUEUE_LOG_EVENT = re.compile(r"[A-Z0-9_]{1,32}")
# Kept until the end of the observer's pass of the tick: the agent's phone or port is known only
# then, and a completed call is told after its channels' Hangup (Asterisk's order).
DEFERRED = frozenset({EventKind.OFFER, EventKind.ADDMEMBER, EventKind.AGENTSTATE, EventKind.COMPLETECALLER,
                      EventKind.COMPLETEAGENT})
RECENT_CHANNELS = 256  # ended channels remembered for events that come after the hang-up (AgentComplete)

# Asterisk's device states (include/asterisk/devicestate.h) for the agents' activities.
DEVICE_STATE = {"available": 1, "wrapup": 1, "paused": 1, "ringing": 6, "oncall": 2, "otherbusy": 2,
                "loggedout": 5}
STRATEGY = {"ringall": "ringall", "leastrecent": "leastrecent", "fewestcalls": "fewestcalls",
            "random": "random", "rrmemory": "rrmemory", "linear": "linear", "wrandom": "wrandom"}


class QueueBridge:
    """ACD events to AMI events; queue snapshots and agent actions (on the loop's thread)."""

    def __init__(self, channels: ChannelObserver) -> None:
        self.channels = channels
        self.hub = channels.hub
        self.service: QueueService | None = None
        self._pending: list[AcdEvent] = []
        self._ended: dict[str, Channel] = {}  # uniqueid -> channel that hung up
        self.steps: CallSteps | None = None  # publishes the queue's Newexten (dialplan.py)

    def attach(self, service: QueueService) -> None:
        """Follows ``service``'s core (at start, or when the first queue is configured)."""
        self.service = service
        service.core.listeners.append(self)

    def remember(self, channel: Channel) -> None:
        """A channel hung up (the observer tells): kept for events that name it later."""
        self._ended[channel.uniqueid] = channel
        if len(self._ended) > RECENT_CHANNELS:
            del self._ended[next(iter(self._ended))]

    # ------------------------------------------------------------------ events
    def on_event(self, acd_event: AcdEvent) -> None:
        """Published at once, but offers and agent changes wait for the observer's pass (the
        agent's phone is rung, the agent's port recorded, later in the same tick) and the
        events after them wait behind them, in order."""
        if not self.hub.listening or acd_event.kind in (EventKind.OFFERCANCEL, EventKind.PAUSEPENDING,
                                                        EventKind.CALLBACKREQUEST):
            return
        if acd_event.kind in DEFERRED or self._pending:
            self._pending.append(acd_event)
            return
        self._publish(acd_event)

    def flush(self) -> None:
        """Publishes the ACD events kept since the last pass (called by the channel observer)."""
        pending, self._pending = self._pending, []
        for item in pending:
            self._publish(item)

    def _publish(self, acd_event: AcdEvent) -> None:
        if acd_event.kind is EventKind.ENTERQUEUE and self.steps is not None:
            channel = self.channels.by_uniqueid(acd_event.call_id)
            if channel is not None:  # the caller's dialplan step (dialplan.py), before QueueCallerJoin
                self.steps.newexten(channel, "queue", acd_event.queue, "Queue", acd_event.queue)
        for name, fields in self._translate(acd_event):
            self.hub.publish(event(name, AGENT, fields))

    def _caller(self, uniqueid: str) -> list[tuple[str, object]]:
        channel = self.channels.by_uniqueid(uniqueid) or self._ended.get(uniqueid)
        if channel is None:
            return [("Uniqueid", uniqueid), ("Linkedid", uniqueid)]
        return channel.fields(self.channels.cc)

    def _agent_channel(self, agent_id: str) -> list[tuple[str, object]]:
        port = self.service.agent_ports.get(agent_id) if self.service else None
        channel = self.channels.channels.get(port) if port is not None else None
        return channel.fields(self.channels.cc, "Dest") if channel is not None else []

    def _member(self, agent_id: str) -> list[tuple[str, object]]:
        agent = self.channels.cc.config.agent(agent_id)
        port = self.service.agent_ports.get(agent_id) if self.service else None
        return [("MemberName", agent.name if agent is not None and agent.name else agent_id),
                ("Interface", MEMBER_PREFIX + agent_id),
                ("StateInterface", f"FXS/{port}" if port is not None else "")]

    def _count(self, queue: str) -> int:
        core = self.service.core if self.service else None
        return core.waiting.count(queue) if core is not None and queue in core.queues else 0

    def _translate(self, e: AcdEvent) -> list[tuple[str, list[tuple[str, object]]]]:
        kind, queue = e.kind, ("Queue", e.queue)
        if kind is EventKind.ENTERQUEUE:
            return [("QueueCallerJoin", [*self._caller(e.call_id), queue, ("Position", e.position),
                                         ("Count", self._count(e.queue))])]
        if kind is EventKind.OFFER:
            return [("AgentCalled", [*self._caller(e.call_id), *self._agent_channel(e.agent), queue,
                                     *self._member(e.agent)])]
        if kind is EventKind.RINGNOANSWER:
            return [("AgentRingNoAnswer", [*self._caller(e.call_id), queue, *self._member(e.agent),
                                           ("RingTime", int(e.ring * 1000))])]
        if kind is EventKind.CONNECT:
            return [("QueueCallerLeave", [*self._caller(e.call_id), queue, ("Position", e.orig_position),
                                          ("Count", self._count(e.queue))]),
                    ("AgentConnect", [*self._caller(e.call_id), *self._agent_channel(e.agent), queue,
                                      *self._member(e.agent), ("HoldTime", round(e.wait)),
                                      ("RingTime", round(e.ring))])]
        if kind is EventKind.ABANDON:
            return [("QueueCallerAbandon", [*self._caller(e.call_id), queue, ("Position", e.position),
                                            ("OriginalPosition", e.orig_position), ("HoldTime", round(e.wait))]),
                    ("QueueCallerLeave", [*self._caller(e.call_id), queue, ("Position", e.position),
                                          ("Count", self._count(e.queue))])]
        if kind in (EventKind.EXITWITHTIMEOUT, EventKind.EXITWITHKEY, EventKind.EXITEMPTY):
            return [("QueueCallerLeave", [*self._caller(e.call_id), queue, ("Position", e.position),
                                          ("Count", self._count(e.queue))])]
        if kind in (EventKind.COMPLETECALLER, EventKind.COMPLETEAGENT):
            reason = "caller" if kind is EventKind.COMPLETECALLER else "agent"
            return [("AgentComplete", [*self._caller(e.call_id), queue, *self._member(e.agent),
                                       ("HoldTime", round(e.wait)), ("TalkTime", round(e.talk)),
                                       ("Reason", reason)])]
        if kind in (EventKind.ADDMEMBER, EventKind.REMOVEMEMBER):
            name = "QueueMemberAdded" if kind is EventKind.ADDMEMBER else "QueueMemberRemoved"
            return [(name, [queue, *self._member(e.agent)])]
        if kind in (EventKind.PAUSE, EventKind.UNPAUSE):
            paused = int(kind is EventKind.PAUSE)
            return [("QueueMemberPause", [queue, *self._member(e.agent), ("Paused", paused),
                                          ("PausedReason", e.reason if paused else ""), ("Reason", e.reason)])]
        if kind is EventKind.AGENTSTATE:
            return [("QueueMemberStatus", [("Queue", name), *self._member_status(e.agent, name)])
                    for name in e.queues]
        return []

    # ------------------------------------------------------------------ snapshots
    def _member_status(self, agent_id: str, queue: str) -> list[tuple[str, object]]:
        core = self.service.core
        agent = core.agents[agent_id]
        logged = queue in agent.logged_queues
        activity = agent.current_activity() if logged else AgentState.LOGGED_OUT.value
        return [*self._member(agent_id), ("Membership", "dynamic"), ("Penalty", agent.penalties.get(queue, 0)),
                ("CallsTaken", agent.calls_taken.get(queue, 0)), ("LastCall", int(agent.last_talk or 0)),
                ("LastPause", int(agent.state_since) if agent.state is AgentState.PAUSED else 0),
                ("LoginTime", int(agent.login_at or 0) if logged else 0),
                ("InCall", int(agent.state in (AgentState.RINGING, AgentState.ON_CALL))),
                ("Status", DEVICE_STATE.get(activity, 0)),
                ("Paused", int(agent.state is AgentState.PAUSED)),
                ("PausedReason", agent.paused_reason or "" if agent.state is AgentState.PAUSED else ""),
                ("Wrapuptime", int(core.queues[queue].wrapup_seconds))]

    def _service(self) -> QueueService:
        if self.service is None:
            raise ManagerError("No queues configured")
        return self.service

    def _queues(self, name: str) -> list[str]:
        core = self._service().core
        if name and name not in core.queues:
            raise ManagerError(f"No such queue {name!r}")
        return [name] if name else list(core.queues)

    def status(self, name: str, member: str, now: float) -> list[tuple[str, list[tuple[str, object]]]]:
        """QueueStatus: QueueParams, QueueMember and QueueEntry events (plain data)."""
        service = self._service()
        core = service.core
        stats = find_stats(service.sw)
        out: list[tuple[str, list[tuple[str, object]]]] = []
        for queue in self._queues(name):
            config = core.queues[queue]
            figures = stats.collector.queue_stats(queue) if stats is not None else None
            answered = figures.answered if figures else 0
            out.append(("QueueParams", [
                ("Queue", queue), ("Max", config.maxlen), ("Strategy", STRATEGY.get(str(config.strategy), "")),
                ("Calls", core.waiting.count(queue)),
                ("Holdtime", round(figures.answered_wait_seconds / answered) if answered else 0),
                ("TalkTime", round(figures.talk_seconds / figures.completed) if figures and figures.completed else 0),
                ("Completed", figures.completed if figures else 0), ("Abandoned", figures.abandoned if figures else 0),
                ("ServiceLevel", int(config.service_level_seconds)),
                ("ServicelevelPerf", round(100.0 * figures.answered_in_sl / answered, 1) if answered else 0.0),
                ("ServicelevelPerf2", 0.0), ("Weight", 0)]))
            for agent in core.members[queue]:
                if member and MEMBER_PREFIX + agent.agent_id != member:
                    continue
                out.append(("QueueMember", [("Queue", queue), *self._member_status(agent.agent_id, queue)]))
            callers = [c for c in service.callers.values() if c.queue == queue and c.acd_id in core.calls]
            entries = []
            for caller in callers:
                try:
                    position = core.position(caller.acd_id, queue)
                except Exception:  # noqa: BLE001 -- a caller leaving this very tick: not waiting any more
                    continue
                waited = now - core.calls[caller.acd_id].enqueue_time
                entries.append((position, caller, waited))
            for position, caller, waited in sorted(entries, key=lambda item: item[0]):
                channel = self._caller(caller.acd_id)
                keep = {"Channel", "Uniqueid", "CallerIDNum", "CallerIDName", "ConnectedLineNum",
                        "ConnectedLineName"}
                out.append(("QueueEntry", [("Queue", queue), ("Position", position),
                                           *[(k, v) for k, v in channel if k in keep],
                                           ("Wait", int(waited)), ("Priority", caller.priority)]))
        return out

    def summary(self, name: str, now: float) -> list[tuple[str, list[tuple[str, object]]]]:
        """QueueSummary: one event per queue."""
        core = self._service().core
        out = []
        for queue in self._queues(name):
            snapshot = core.queue_snapshot(queue, now)
            agents = snapshot["agents"]
            logged_in = sum(count for activity, count in agents.items() if activity != "loggedout")
            out.append(("QueueSummary", [
                ("Queue", queue), ("LoggedIn", logged_in), ("Available", agents.get("available", 0)),
                ("Callers", snapshot["waiting"]), ("HoldTime", round(snapshot["aht_seconds"] or 0)),
                ("TalkTime", 0), ("LongestHoldTime", round(snapshot["longest_wait_seconds"] or 0))]))
        return out

    # ------------------------------------------------------------------ actions
    def agent_of(self, interface: str) -> str:
        """The agent id of ``Agent/<id>`` (or a bare id); ManagerError if there is no such agent."""
        agent_id = interface.removeprefix(MEMBER_PREFIX)
        if agent_id not in self._service().core.agents:
            raise ManagerError(f"No such member {interface!r} (members are Agent/<agent id>)")
        return agent_id

    def add(self, queue: str, interface: str, state_interface: str, paused: bool, now: float) -> None:
        """QueueAdd: the agent logs in (at their extension's phone, or at ``FXS/<port>``)."""
        service = self._service()
        agent_id = self.agent_of(interface)
        self._queues(queue)
        if queue and queue not in service.core.agents[agent_id].penalties:
            raise ManagerError(f"Agent {agent_id} is not a member of queue {queue!r}")
        port = self._port(agent_id, state_interface)
        if agent_id in service.agent_ports:
            raise ManagerError("Unable to add interface: Already there")
        if service.agent_at(port) is not None:
            raise ManagerError(f"Unable to add interface: another agent is logged in at FXS/{port}")
        service.login(agent_id, port)
        if paused:
            service.core.agent_pause(agent_id, "", now)

    def _port(self, agent_id: str, state_interface: str) -> int:
        cc = self.channels.cc
        if state_interface:
            kind, _, number = state_interface.partition("/")
            if kind.upper() != "FXS" or not number.isdigit():
                raise ManagerError(f"StateInterface {state_interface!r}: expected FXS/<port>")
            port = int(number)
            if cc.config.extension_on_port(port) is None:
                raise ManagerError(f"StateInterface {state_interface!r}: no extension on that port")
            return port
        seat = cc.config.agent(agent_id)
        extension = cc.config.extension(seat.extension) if seat is not None and seat.extension else None
        if extension is None:
            raise ManagerError(f"Agent {agent_id} has no extension: give StateInterface: FXS/<port>")
        return extension.port

    def remove(self, queue: str, interface: str) -> None:
        service = self._service()
        agent_id = self.agent_of(interface)
        self._queues(queue)
        if agent_id not in service.agent_ports:
            raise ManagerError("Unable to remove interface: Not there")
        service.logout(agent_id)

    def write_log(self, queue: str, name: str, uniqueid: str, interface: str, message: str, now: float) -> None:
        """QueueLog: a custom line in var/queue_log (``time|uniqueid|queue|agent|EVENT|message``),
        through the ACD's own queue_log writer."""
        service = self._service()
        if not queue or not QUEUE_LOG_EVENT.fullmatch(name):
            raise ManagerError("QueueLog: need Queue and Event (1-32 of A-Z, 0-9, _)")
        writer = next((each for each in service.core.listeners if isinstance(each, QueueLogWriter)), None)
        if writer is None:
            raise ManagerError("QueueLog: this box writes no queue_log")
        agent = interface.removeprefix(MEMBER_PREFIX) if interface else "NONE"
        writer.write(QueueLogRecord(int(now), uniqueid or "NONE", queue, agent, name, (message,)))

    def pause(self, queue: str, interface: str, paused: bool, reason: str, now: float) -> None:
        service = self._service()
        agent_id = self.agent_of(interface)
        self._queues(queue)
        if agent_id not in service.agent_ports:
            raise ManagerError(f"Interface {interface} is not logged in")
        if paused:
            service.core.agent_pause(agent_id, reason, now)
        else:
            service.core.agent_unpause(agent_id, now)
