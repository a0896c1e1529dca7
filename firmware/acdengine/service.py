"""The queue service: answered inbound calls wait in the ACD, agents' phones ring, callers
and agents are bridged.

:class:`QueueService` is the switch's call service for ``DestinationKind.QUEUE``
(``take``) and an attached service (``Switch.attached``: ``on_tick``, ``on_digit``,
``answered``, ``before_end``). It drives :class:`firmware.acd.core.AcdCore` with the
engine's audio clock (``now``: the tick's wall time, ``Switch.clock``, epoch seconds for the queue_log):

1. ``take``: the call joins the queue (``call_arrived`` with its caller ID); a refused join
   (joinempty, full) goes to the queue's destination. The caller hears the position
   announcement, then the queue's music class (``firmware.media.music``: looped, one shared
   buffer per class; or the ringback tone).
2. every tick: ``AcdCore.tick`` gives offers (ring the agent's phone through
   ``Switch.ring_for``, the caller-ID name shown is the queue's name), ring timeouts (stop
   ringing) and exits (max wait, leave-when-empty: the caller goes to the destination
   through ``Switch.deliver``; another queue is joined here). Announcements fall due.
3. the agent answers (``answered``): ``offer_answered``; the caller keeps music on hold
   while the agent hears the whisper (beep + the queue's name, or its number); then the two are bridged.
4. a call ends (``before_end``): the caller hung up while waiting (``caller_abandoned``),
   or a connected call ended (``call_ended``, by the agent or the caller, reported at the
   next tick when the switch has recorded who hung up); wrap-up is the core's.

An agent's phone that is off-hook for anything but an ACD call is busy for the ACD
(``agent_phone_busy``), checked each tick for logged-in agents only. Agents log in and out
by feature code (:mod:`firmware.acdengine.agents`). Every routing decision's trace is
logged by the core (event ``route``); queue_log lines go to the listeners given to the core.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from drivers.audio import TICK_MS
from drivers.logs import EventLogger
from dsp.callerid import displayed_caller_id
from firmware import FirmwareError
from firmware.acd.agent_state import AgentState
from firmware.acd.core import AcdCore, Exit
from firmware.acd.core_types import SavedLogin
from firmware.acd.model import Destination as AcdDestination
from firmware.acd.model import DestinationKind as AcdKind
from firmware.acd.model import Offer, OfferFailure, OfferKind
from firmware.acdengine.announcements import Prompts
from firmware.acdengine.callbacks import CALLBACK_KEY, Callbacks
from firmware.acdengine.setup import AcdSetup
from firmware.cdr import HangupBy
from firmware.config.acd import config_destination
from firmware.config.model import Destination, DestinationKind
from firmware.desk.tracker import DeskTracker
from firmware.engine.calls import Call, Leg
from firmware.engine.control import CallControlApi, Then
from firmware.media.featuretones import hold_tone
from firmware.media.music import RINGBACK_CLASS, MusicLibrary

TICK_S = TICK_MS / 1000.0


class Phase(StrEnum):
    PROMPT = "prompt"  # hearing an announcement; music on hold follows
    HOLD = "hold"  # music on hold (agents may be ringing)
    WHISPER = "whisper"  # the agent answered and hears the whisper; the caller still hears music
    CONNECTED = "connected"


@dataclass
class QueueCaller:
    call: Call
    line_port: int
    acd_id: str
    queue: str
    phase: Phase = Phase.PROMPT
    ringing: dict[str, int] = field(default_factory=dict)  # agent id -> port rung for this call
    agent_port: int | None = None
    next_position_tick: int | None = None
    next_periodic_tick: int | None = None
    priority: int = 0  # from the inbound route; kept when overflow moves the caller to another queue
    skills: dict[str, int] | None = None  # the route's requirements; None = each queue's own


def _ticks(seconds: float) -> int:
    return max(1, round(seconds / TICK_S))


class QueueService:
    """Queue callers on the engine, and agents' phones (see module docstring)."""

    def __init__(self, control: CallControlApi, core: AcdCore, setup: AcdSetup, prompts: Prompts,
                 music: MusicLibrary, log: EventLogger | None = None) -> None:
        self.cc = control
        self.core = core
        self.setup = setup.validate()
        self.prompts = prompts
        self.music = music  # classes named by the queues, loaded before they are used
        self.log = log or EventLogger("acd")
        self.callers: dict[str, QueueCaller] = {}  # ACD call id -> caller
        self.by_call: dict[int, QueueCaller] = {}  # switch call id -> caller
        self.agent_ports: dict[str, int] = {}  # logged-in agent -> the port they logged in at
        self._busy: set[str] = set()  # agents whose phone the core was told is busy
        self._ended: list[tuple[QueueCaller, float]] = []  # connected calls ended this tick
        self.desk = None  # the AgentDesk (agents.py), set by attach_acd
        self.callbacks = Callbacks(control, core, self.log)
        self._leaving: dict[int, tuple[Call, int]] = {}  # callers hearing "thank you" before release
        self._retiring = False  # a logged-in agent is to be logged out after the current call
        self.tracker: DeskTracker | None = None  # the agent desk (firmware/desk/tracker.py), set by attach_acd

    @property
    def sw(self) -> CallControlApi:
        """The call control this service drives (the name older callers know it by)."""
        return self.cc

    # ACD time: epoch seconds of the audio tick from the switch's wall clock (firmware/engine/
    # wallclock.py), so queue_log lines carry wall time while the engine never reads a clock.
    def now(self) -> float:
        return self.wall_time(self.cc.tick)

    def wall_time(self, tick: int) -> float:
        """Epoch seconds of ``tick`` from call control's wall clock (anchored at the loop's edge)."""
        return self.cc.epoch(tick)

    # ------------------------------------------------------------------ call service
    def take(self, call: Call, line_port: int, name: str) -> bool:
        if name not in self.core.queues:
            self.log.warning("queue_unknown", call=call.call_id, queue=name)
            return False
        acd_id = self.cc.uniqueid(call)
        caller = QueueCaller(call, line_port, acd_id, name)
        # The inbound route that sent the call here gives its priority and skills (the snapshot
        # the call was routed with is still the current one). Other ways in (a ring group's
        # no-answer destination) have no route to this queue: the defaults.
        route = self.cc.config.route_to_queue(call.route, name)
        if route is not None:
            caller.priority = route.queue_priority
            caller.skills = dict(route.queue_skills) or None
        # What a service set for this call on its way here (an IVR's set node) comes last, so it wins.
        if call.queue_priority is not None:
            caller.priority = call.queue_priority
        if call.queue_skills is not None:
            caller.skills = dict(call.queue_skills) or None
        return self._join(caller, name)

    def _join(self, caller: QueueCaller, name: str) -> bool:
        now = self.now()
        result = self.core.call_arrived(caller.acd_id, [name], caller.call.caller_number or "unknown", now,
                                        priority=caller.priority, skills=caller.skills)
        shown_skills = ",".join(f"{skill}:{level}" for skill, level in (caller.skills or {}).items()) or "queue"
        self.log.info("queue_join", call=caller.call.call_id, queue=name, joined=result.joined,
                      position=result.position, resumed=result.resumed, reason=result.reason,
                      priority=caller.priority, skills=shown_skills)
        caller.queue = name
        if not result.joined:
            self._send_to(caller, result.destination or AcdDestination(), result.reason)
            return True
        self.callers[caller.acd_id] = caller
        self.by_call[caller.call.call_id] = caller
        settings = self.setup.queue(name)
        if settings.announce_position_s > 0:
            caller.next_position_tick = self.cc.tick + _ticks(settings.announce_position_s)
        if settings.periodic_announce_s > 0:
            caller.next_periodic_tick = self.cc.tick + _ticks(settings.periodic_announce_s)
        self._announce(caller, with_hold_time=settings.announce_hold_time,
                       greeting=self.prompts.recording(settings.greeting) if settings.greeting else [])
        return True

    def _play_to_caller(self, caller: QueueCaller, samples: np.ndarray) -> None:
        caller.phase = Phase.PROMPT
        self.cc.say(caller.line_port, samples, Then.CONTINUE)

    def _hold(self, caller: QueueCaller) -> None:
        caller.phase = Phase.HOLD
        self._play_music(caller)

    def _play_music(self, caller: QueueCaller) -> None:
        """The queue's music class (music.py): recorded music, the ringback tone, or the hold tone
        when no music could be loaded."""
        name = self.setup.queue(caller.queue).music
        port = caller.line_port
        samples = None if name == RINGBACK_CLASS else self.music.samples(name)
        if name == RINGBACK_CLASS:
            self.cc.play_tone(port, self.cc.plan.ringback)
        elif samples is not None:
            self.cc.play(port, samples, loop=True)
        else:
            self.cc.play_tone(port, hold_tone(self.cc.plan))

    def _announce(self, caller: QueueCaller, with_hold_time: bool, greeting: list[str] | None = None) -> None:
        position = self.core.position(caller.acd_id)
        wait = self.core.estimated_wait(caller.acd_id)
        self.log.info("queue_announce", call=caller.call.call_id, position=position,
                      estimated_wait_s=None if wait is None else round(wait, 1), greeting=bool(greeting))
        after = self.prompts.callback_words(CALLBACK_KEY) if self.setup.queue(caller.queue).callback else None
        self._play_to_caller(caller, self.prompts.announcement(position, wait, with_hold_time, before=greeting,
                                                               after=after))

    # ------------------------------------------------------------------ ticks
    def on_tick(self, tick: int) -> None:
        if self._ended:
            self._report_ended()
        if self.desk is not None:
            self.desk.on_tick(tick)
        if self._leaving:
            self._release_leaving()
        if not self.agent_ports and not self.callers and not self.callbacks.pending and not self.callbacks.booked:
            return
        now = self.wall_time(tick)
        self._check_phones(now)
        self.callbacks.on_tick(now)
        result = self.core.tick(now)
        for offer in result.cancelled:
            self._stop_offer(offer)
        for exit_ in result.exits:
            self._exit(exit_)
        for offer in result.offers:
            self._ring(offer, now)
        for caller in list(self.callers.values()):
            self._caller_tick(caller, tick)

    def _caller_tick(self, caller: QueueCaller, tick: int) -> None:
        if caller.phase is Phase.PROMPT and not self.cc.playing(caller.line_port):
            self._hold(caller)
        elif (caller.phase is Phase.WHISPER and caller.agent_port is not None
              and not self.cc.playing(caller.agent_port)):
            self._bridge(caller)
        if caller.phase is not Phase.HOLD:
            return
        settings = self.setup.queue(caller.queue)
        if caller.next_position_tick is not None and tick >= caller.next_position_tick:
            caller.next_position_tick = tick + _ticks(settings.announce_position_s)
            self._announce(caller, with_hold_time=settings.announce_hold_time)
        elif caller.next_periodic_tick is not None and tick >= caller.next_periodic_tick:
            caller.next_periodic_tick = tick + _ticks(settings.periodic_announce_s)
            self._play_to_caller(caller, self.prompts.sentence(["queue-periodic-announce"]))

    def _check_phones(self, now: float) -> None:
        """An agent's phone in use for anything but this ACD's call is busy for the ACD."""
        if self._retiring:
            self._forget_logged_out()
        for agent_id, port in self.agent_ports.items():
            call = self.cc.call_at(port)
            ours = call is not None and (call.call_id in self.by_call or self.callbacks.owns(call))
            busy = self.cc.state(port) is not Leg.IDLE and not ours
            if busy != (agent_id in self._busy):
                (self._busy.add if busy else self._busy.discard)(agent_id)
                self.core.agent_phone_busy(agent_id, busy, now)

    # ------------------------------------------------------------------ offers
    def _ring(self, offer: Offer, now: float) -> None:
        caller = self.callers.get(offer.call_id)
        port = self.agent_ports.get(offer.agent_id)
        if offer.kind is OfferKind.CALLBACK:
            self.callbacks.ring(offer, port, now)
            return
        if caller is None or port is None:
            self.core.offer_failed(offer.call_id, offer.agent_id, now, OfferFailure.BUSY)
            return
        shown = displayed_caller_id(caller.call.caller_number, caller.queue, caller.call.caller_absence,
                                    self.cc.now().strftime("%m%d%H%M"))
        if not self.cc.ring(caller.call, port, shown):
            self.log.info("offer_busy", call=caller.call.call_id, agent=offer.agent_id, port=port)
            self.core.offer_failed(offer.call_id, offer.agent_id, now, OfferFailure.BUSY)
            return
        caller.ringing[offer.agent_id] = port
        if self.tracker is not None:
            call = caller.call
            self.tracker.offered(offer.agent_id, caller.acd_id, caller.queue, call.caller_number, call.caller_name,
                                 call.variables, now)
        self.log.info("offer_ringing", call=caller.call.call_id, queue=offer.queue, agent=offer.agent_id, port=port)

    def _stop_offer(self, offer: Offer) -> None:
        if self.callbacks.stop(offer):
            return
        caller = self.callers.get(offer.call_id)
        if caller is None:
            return
        port = caller.ringing.pop(offer.agent_id, None)
        if self.tracker is not None:
            self.tracker.withdrawn(offer.agent_id, caller.acd_id)
        if port is not None:
            self.cc.stop_ring_for(caller.call, port)
            self.log.info("offer_stopped", call=caller.call.call_id, agent=offer.agent_id, port=port)

    def answered(self, call: Call, port: int) -> None:
        if self.callbacks.answered(call, port, self.now()):
            return
        caller = self.by_call.get(call.call_id)
        if caller is None or caller.phase in (Phase.WHISPER, Phase.CONNECTED):
            return
        agent_id = next((agent for agent, rung in caller.ringing.items() if rung == port), None)
        now = self.now()
        if agent_id is None:
            # Picked up by a phone the ACD did not offer it to (group or directed pickup): the
            # call leaves the queue (queue_log ABANDON) and stays with whoever picked it up.
            del self.by_call[call.call_id]
            self.callers.pop(caller.acd_id, None)
            caller.ringing.clear()
            self.core.caller_abandoned(caller.acd_id, now)
            self.log.info("queue_call_picked_up", call=call.call_id, queue=caller.queue, port=port)
            return
        for offer in self.core.offer_answered(caller.acd_id, agent_id, now):
            caller.ringing.pop(offer.agent_id, None)  # the switch stopped the other phones
            if self.tracker is not None:
                self.tracker.withdrawn(offer.agent_id, caller.acd_id)
        caller.ringing.clear()
        caller.agent_port = port
        caller.phase = Phase.WHISPER
        if self.tracker is not None:
            self.tracker.connected(agent_id, caller.acd_id)
        # The switch bridged them; the caller keeps the music until the whisper is over.
        self.cc.isolate(caller.line_port)
        self._play_music(caller)
        self.cc.play(port, self.prompts.whisper(self.setup.queue(caller.queue).number, caller.queue))
        self.log.info("agent_answered", call=call.call_id, agent=agent_id, port=port, queue=caller.queue)

    def _bridge(self, caller: QueueCaller) -> None:
        port = caller.agent_port
        for each in (caller.line_port, port):
            self.cc.stop_audio(each)
            self.cc.hear_nothing(each)
        self.cc.bridge(caller.line_port, port)
        caller.phase = Phase.CONNECTED
        self.log.info("queue_bridged", call=caller.call.call_id, line=caller.line_port, port=port)

    # ------------------------------------------------------------------ ends and exits
    def before_end(self, call: Call) -> None:
        if self.callbacks.before_end(call, self.now()):
            return
        caller = self.by_call.pop(call.call_id, None)
        if caller is None:
            return
        self.callers.pop(caller.acd_id, None)
        now = self.now()
        if caller.phase in (Phase.WHISPER, Phase.CONNECTED):
            self._ended.append((caller, now))  # who hung up is known once the switch recorded it
            return
        self.core.caller_abandoned(caller.acd_id, now)
        if self.tracker is not None:
            self.tracker.forget(caller.acd_id)
        self.log.info("queue_abandoned", call=call.call_id, queue=caller.queue)

    def _callback_request(self, caller: QueueCaller) -> None:
        """The caller asked to be called back: "thank you", then the line is released."""
        cancelled = self.callbacks.request(caller.acd_id, caller.queue, caller.call.caller_number, self.now(),
                                           caller.call.variables)
        if cancelled is None:
            self.log.info("callback_refused", call=caller.call.call_id, reason="no dialable caller ID")
            return
        for offer in cancelled:
            self._stop_offer(offer)
        self.callers.pop(caller.acd_id, None)
        del self.by_call[caller.call.call_id]
        self._leaving[caller.call.call_id] = (caller.call, caller.line_port)
        self._play_to_caller(caller, self.prompts.sentence(["queue-thankyou"]))

    def _release_leaving(self) -> None:
        for call_id, (call, line_port) in list(self._leaving.items()):
            if call.end_tick is not None:
                del self._leaving[call_id]  # hung up during the thank-you
            elif not self.cc.playing(line_port):
                del self._leaving[call_id]
                self.cc.end_service_call(call, "queue_callback")

    def _report_ended(self) -> None:
        ended, self._ended = self._ended, []
        for caller, when in ended:
            by_agent = caller.call.hangup_by == HangupBy.CALLEE
            self.core.call_ended(caller.acd_id, when, by_agent=by_agent)
            agent = self.agent_at(caller.agent_port) if caller.agent_port is not None else None
            if self.tracker is not None and agent is not None:
                self.tracker.ended(agent, caller.acd_id)

    def _exit(self, exit_: Exit) -> None:
        caller = self.callers.pop(exit_.call_id, None)
        if caller is None:
            self.callbacks.drop(exit_.call_id, str(exit_.reason))  # nobody on the line to send anywhere
            return
        del self.by_call[caller.call.call_id]
        self.log.info("queue_exit", call=caller.call.call_id, queue=exit_.queue, reason=str(exit_.reason),
                      destination=str(exit_.destination))
        for port in list(caller.ringing.values()):
            self.cc.stop_ring_for(caller.call, port)
        if self.tracker is not None:
            self.tracker.forget(caller.acd_id)
        self._send_to(caller, exit_.destination, str(exit_.reason))

    def _send_to(self, caller: QueueCaller, destination: AcdDestination, reason: str) -> None:
        """Hands the caller to a destination: another queue here, the rest through the switch."""
        self.cc.stop_audio(caller.line_port)
        self.cc.hear_nothing(caller.line_port)
        if destination.kind is AcdKind.QUEUE:  # the same call id: the core forgot the call on leaving
            caller.phase = Phase.PROMPT
            caller.ringing.clear()
            self._join(caller, destination.target)
            return
        target = self._switch_destination(destination)
        self.log.info("queue_leaves", call=caller.call.call_id, reason=reason, destination=str(target))
        self.cc.deliver(caller.call, caller.line_port, target)

    def _switch_destination(self, destination: AcdDestination) -> Destination:
        """The configuration's destination for a core destination (``firmware.config.acd``): an
        internal number that is a ring group's rings the group; an outside number goes out on a
        line through ``Switch.deliver`` (trunk-to-trunk rules checked there)."""
        target = config_destination(destination)
        if target.kind == DestinationKind.EXTENSION and self.cc.config.extension(target.name) is None \
                and target.name in self.cc.config.internal_numbers():
            return Destination(DestinationKind.RING_GROUP, target.name)
        return target

    # ------------------------------------------------------------------ configuration changes
    def reconfigure(self, setup: AcdSetup) -> tuple[str, ...]:
        """A changed configuration's ACD, applied now (loop thread): the core keeps calls and
        agents (``AcdCore.reconfigure``); offers it withdraws stop ringing, callers of removed
        queues go to their destination, announcements and music follow the new settings.
        Returns the core's summary of what changed. FirmwareError (nothing changed) if invalid."""
        if setup == self.setup:
            return ()  # e.g. an extension's DND stored: nothing of the ACD changed
        setup = setup.validate()
        result = self.core.reconfigure(setup.acd, self.now())
        self.setup = setup
        if self.desk is not None:
            self.desk.setup = setup
            self.desk.known = {agent.agent_id for agent in setup.acd.agents}
        for offer in result.cancelled:
            self._stop_offer(offer)
        for exit_ in result.exits:
            self._exit(exit_)
        self._forget_logged_out()
        for caller in self.callers.values():
            settings = setup.queue(caller.queue)
            caller.next_position_tick = (self.cc.tick + _ticks(settings.announce_position_s)
                                         if settings.announce_position_s > 0 else None)
            caller.next_periodic_tick = (self.cc.tick + _ticks(settings.periodic_announce_s)
                                         if settings.periodic_announce_s > 0 else None)
            if caller.phase is Phase.HOLD:
                self._play_music(caller)  # the queue's music class may have changed
        for line in result.summary:
            self.log.info("acd_reconfigured", change=line)
        return result.summary

    def _forget_logged_out(self) -> None:
        """Agents the core logged out on its own (removed from the configuration, after their
        call) no longer own a phone."""
        retiring = False
        for agent_id in list(self.agent_ports):
            agent = self.core.agents.get(agent_id)
            if agent is None or agent.state is AgentState.LOGGED_OUT:
                del self.agent_ports[agent_id]
                self._busy.discard(agent_id)
                self.log.info("agent_logout", agent=agent_id, reason="removed from the configuration")
            elif agent.logout_after_work:
                retiring = True
        self._retiring = retiring

    # ------------------------------------------------------------------ agents (agents.py)
    def agent_at(self, port: int) -> str | None:
        return next((agent for agent, at in self.agent_ports.items() if at == port), None)

    def login(self, agent_id: str, port: int) -> None:
        if agent_id in self.agent_ports:
            raise FirmwareError(f"acd: agent {agent_id} is already logged in")
        self.core.agent_login(agent_id, self.now())
        self.agent_ports[agent_id] = port

    def restore_login(self, saved: SavedLogin) -> None:
        """An agent logged in before a restart (persist.py), back at the port of that log-in;
        FirmwareError (nothing changes) when that port has no extension now or another agent."""
        port = saved.port
        if port is None or self.sw.config.extension_on_port(port) is None or self.agent_at(port) is not None:
            raise FirmwareError(f"acd: agent {saved.agent_id}: port {port} has no extension or has another agent")
        self.core.restore_agent(saved, self.now())
        self.agent_ports[saved.agent_id] = port

    def logout(self, agent_id: str) -> None:
        for offer in self.core.agent_logout(agent_id, self.now()):
            self._stop_offer(offer)
        self.agent_ports.pop(agent_id, None)
        self._busy.discard(agent_id)

    def in_wrapup(self, agent_id: str) -> bool:
        agent = self.core.agents.get(agent_id)
        return agent is not None and agent.state is AgentState.WRAP_UP

    def on_flash(self, port: int) -> bool:
        """A hook flash of an agent in wrap-up ends it (agents.py); others go to the switch."""
        return self.desk is not None and self.desk.on_flash(port)

    def on_digit(self, port: int, digit: str) -> bool:
        """Agent prompts (agents.py) and queue callers' exit keys take their digits."""
        if self.desk is not None and self.desk.on_digit(port, digit):
            return True
        agent = self.agent_at(port) if self.tracker is not None else None
        if agent is not None and self.tracker.on_digit(agent, port, digit, self.now()):
            return True
        caller = next((c for c in self.callers.values() if c.line_port == port), None)
        if caller is None or caller.phase not in (Phase.PROMPT, Phase.HOLD):
            return False
        destination, cancelled = self.core.caller_pressed_key(caller.acd_id, digit, self.now())
        if destination is None:
            if digit == CALLBACK_KEY and self.setup.queue(caller.queue).callback:
                self._callback_request(caller)
            return True
        for offer in cancelled:
            self._stop_offer(offer)
        self.callers.pop(caller.acd_id, None)
        del self.by_call[caller.call.call_id]
        self.log.info("queue_exit", call=caller.call.call_id, queue=caller.queue, reason="key", key=digit,
                      destination=str(destination))
        self._send_to(caller, destination, f"key_{digit}")
        return True
