"""Hook flash on the analog extensions: hold, consultation, transfer, three-way calling,
swapping between two calls, and recall.

The semantics are those users of analog PBXs expect (and that Asterisk's chan_dahdi
gives): a phone in a two-party call flashes (the line card reports a loop break between
the zone's ``flash_min_ms`` and ``flash_max_ms``); the other party is put on hold (music
on hold, or the hold tone when no music could be loaded) and the flasher — the
*controller* — hears recall dial tone and may dial a consultation call. Then:

===============  ====================================  ====================================
state            flash                                 controller hangs up
===============  ====================================  ====================================
CONSULTING       dial tone / dialling / failed: back   consultation ringing: blind
                 to the held party; consultation       transfer; answered: attended
                 ringing: cancel it, back; answered:   transfer; nothing dialled (or
                 three-way conference                  failed): recall
CONFERENCE       drop the last added party             the two others stay connected
                                                       (a transfer)
SWAPPING         swap the held and the active call     the active call ends; recall
                 (the active party gone: take the
                 held call back)
RECALL           —                                     — (the phone rings with the held
                                                       call; off-hook reconnects it)
===============  ====================================  ====================================

A call waiting (``callwaiting.py``) is answered by a flash: the first call goes on hold
and the session is SWAPPING. Hanging up with a call waiting ends the active call and
rings the phone with the waiting one.

Toll-fraud protection: a transfer or a conference that would leave two exchange lines
joined is refused unless ``security.trunk_to_trunk_allowed`` (``may_bridge_trunks``); the
log says why. A refused transfer ends the consultation and recalls the controller; a
refused conference leaves the controller with the consultation party and plays a short
refusal tone.

Call records: a transfer ends the transferor's calls — the held call and the
consultation, each with its record (causes ``blind_transfer`` / ``attended_transfer``) —
and the transferred party's conversation continues as a NEW call from the transferred
party to the target, whose record's ``userfield`` reads ``transfer <uniqueid>`` of the
held call it continues. Hold, swap, conference and recall change no record: a call's
record covers it from start to end whatever happened in between.

Only one session may involve a call: the parties of a held or consultation call cannot
start their own flash session or receive a call waiting while it lasts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np

from drivers.logs import EventLogger
from dsp.callerid import CallerId
from firmware import FirmwareError
from firmware.cdr import HangupBy
from firmware.engine.calls import Call, Direction, Leg, PortLeg
from firmware.engine.timers import Timers
from firmware.media.featuretones import hold_tone, recall_dial_tone, refusal_tone
from firmware.tollguard import may_bridge_trunks

if TYPE_CHECKING:
    from firmware.engine.switch import Switch

TICK_MS = 20
RECALL_RING_S = 60  # a recall nobody answers ends the held call after a minute (as an unanswered call)
TRANSFER_RING_S = 60  # a blind transfer nobody answers ends like an unanswered call


class FlashState(StrEnum):
    CONSULTING = "consulting"  # a call on hold; the controller at dial tone, dialling, consulting or failed
    CONFERENCE = "conference"  # the held call and the consultation joined: three parties
    SWAPPING = "swapping"  # two answered calls (call waiting): one on hold, flash swaps
    RECALL = "recall"  # the controller hung up with a call on hold: its phone rings with it


@dataclass
class FlashSession:
    port: int  # the controller's FXS port
    state: FlashState
    held: Call  # the call on hold (CONFERENCE: the first call)
    added: Call | None = None  # CONFERENCE: the consultation call, the last party added


def other_party(call: Call, port: int) -> int | None:
    """The port at the other end of a two-party ``call`` from ``port``."""
    return call.peer if call.origin == port else call.origin


def far_ports(call: Call, port: int) -> list[int]:
    """Every port of ``call`` except ``port`` (the target(s) of a consultation)."""
    return [p for p in call.ports() if p != port]


def _ticks(seconds: float) -> int:
    return max(1, round(seconds * 1000 / TICK_MS))


class FlashFeatures:
    """Hold, consultation, transfer, conference, swap and recall for the switch's FXS ports.

    Works on the switch's legs, calls, players and mixer (same package): the switch calls
    ``on_flash``, ``on_hook``, ``on_off_hook``, ``before_end``, ``port_lost`` and ``on_tick``.
    """

    def __init__(self, switch: Switch, hold_music: np.ndarray | None, log: EventLogger) -> None:
        self.sw = switch
        # One float64 buffer shared by every held port (the players do not copy it).
        self.hold_music = None if hold_music is None else np.asarray(hold_music, dtype=np.float64)
        if self.hold_music is not None and (self.hold_music.ndim != 1 or self.hold_music.size == 0):
            raise FirmwareError(f"hold music must be a non-empty 1-D array, got shape {self.hold_music.shape}")
        self.log = log
        self.sessions: dict[int, FlashSession] = {}
        self.timers = Timers()
        self._flash_handlers: dict[FlashState, Callable[[FlashSession, PortLeg], None]] = {
            FlashState.CONSULTING: self._flash_consulting,
            FlashState.CONFERENCE: self._flash_conference,
            FlashState.SWAPPING: self._flash_swapping,
            FlashState.RECALL: lambda session, leg: None,  # on hook: a flash cannot happen
        }
        self._hook_handlers: dict[FlashState, Callable[[FlashSession, PortLeg], None]] = {
            FlashState.CONSULTING: self._hangup_consulting,
            FlashState.CONFERENCE: self._hangup_conference,
            FlashState.SWAPPING: self._hangup_swapping,
            FlashState.RECALL: lambda session, leg: None,
        }

    # ------------------------------------------------------------------ queries
    def session_of_call(self, call: Call) -> FlashSession | None:
        for session in self.sessions.values():
            if call is session.held or call is session.added or call is self.sw.legs[session.port].call:
                return session
        return None

    def involved(self, port: int) -> bool:
        """True if ``port`` controls a session or its call belongs to one."""
        if port in self.sessions:
            return True
        call = self.sw.legs[port].call
        return call is not None and self.session_of_call(call) is not None

    def describe(self, port: int) -> str | None:
        session = self.sessions.get(port)
        return None if session is None else str(session.state)

    # ------------------------------------------------------------------ events
    def on_tick(self, tick: int) -> None:
        for port, name in self.timers.due(tick):
            if name == "recall":
                self._recall_expired(port)
        # A caller on hold listens to music: a held line is not silence-supervised.
        for session in self.sessions.values():
            party = other_party(session.held, session.port)
            if party is not None and not self.sw.legs[party].is_fxs:
                self.sw.legs[party].last_heard_tick = tick

    def on_flash(self, leg: PortLeg) -> None:
        if not leg.is_fxs:
            return
        session = self.sessions.get(leg.port)
        if session is not None:
            self._flash_handlers[session.state](session, leg)
            return
        waiting = self.sw.waiting.pending(leg.port)
        if waiting is not None and leg.leg in (Leg.CONNECTED, Leg.FAILED):
            self._answer_waiting(leg)
        elif leg.leg is Leg.CONNECTED and self.is_two_party(leg) and not self.involved(leg.port):
            self._start_consulting(leg)
        else:
            self.log.info("flash_ignored", port=leg.port, leg=leg.leg)

    def on_hook(self, leg: PortLeg) -> bool:
        """The controller hung up: True if a session (or a call waiting) took care of it."""
        session = self.sessions.get(leg.port)
        if session is not None:
            self._hook_handlers[session.state](session, leg)
            return True
        if self.sw.waiting.pending(leg.port) is None:
            return False
        self._end_active(leg)
        waiting = self.sw.waiting.take(leg.port)
        if waiting is not None:
            self._ring_with(leg.port, waiting, waiting.origin)
            self.log.info("waiting_call_rings", port=leg.port, call=waiting.call_id)
        return True

    def on_off_hook(self, leg: PortLeg) -> bool:
        """Answering a recall reconnects the held call: True if it was one."""
        session = self.sessions.get(leg.port)
        if session is None or session.state is not FlashState.RECALL:
            return False
        self.timers.cancel((leg.port, "recall"))
        self.sw._stop_ringing(leg.port, keep_call=True)
        del self.sessions[leg.port]
        self._reconnect(session.held, leg.port)
        self.log.info("recall_answered", port=leg.port, call=session.held.call_id)
        return True

    def before_end(self, call: Call) -> None:
        """``call`` is ending (the switch's ``_end_call``, before it touches the ports)."""
        for port, session in list(self.sessions.items()):
            if call is session.held:
                del self.sessions[port]
                self.timers.cancel((port, "recall"))
                if session.state is FlashState.CONFERENCE and session.added is not None:
                    self.sw.legs[port].call = session.added  # the controller stays with the added party
                self.log.info("held_party_left", port=port, call=call.call_id, state=session.state)
            elif call is session.added:
                # The added party left the conference: back to a two-party call with the first.
                del self.sessions[port]
                self.sw.legs[port].call = session.held
                self.log.info("conference_party_left", port=port, call=call.call_id)

    def port_lost(self, port: int) -> None:
        """The controller's port went out of service: its held calls end too."""
        session = self.sessions.pop(port, None)
        if session is None:
            return
        self.timers.cancel((port, "recall"))
        for call in (session.held, session.added):
            if call is not None:
                self.sw._end_call(call, HangupBy.SYSTEM, "out_of_service")

    # ------------------------------------------------------------------ hold and reconnect
    def is_two_party(self, leg: PortLeg) -> bool:
        call = leg.call
        if call is None:
            return False
        party = other_party(call, leg.port)
        return party is not None and not call.ringing and self.sw.legs[party].call is call

    def _hold(self, party: int) -> None:
        """``party`` hears the hold music (or tone) and nobody else; nobody hears it."""
        self.sw.mixer.isolate(party)
        if self.hold_music is not None:
            self.sw.players.play_samples(party, self.hold_music, loop=True)
        else:
            self.sw.players.play_tone(party, hold_tone(self.sw.plan))
        self.sw.mixer.listen_player(party, party)

    def _reconnect(self, call: Call, port: int) -> None:
        """The controller on ``port`` talks to the other party of ``call`` again."""
        party = other_party(call, port)
        for each in (port, party):
            self.sw.players.stop(each)
            self.sw.mixer.isolate(each)
            self.sw.legs[each].leg = Leg.CONNECTED
            self.sw.legs[each].call = call
        self.sw.mixer.bridge(port, party)

    def _recall_dial_tone(self, leg: PortLeg) -> None:
        leg.leg = Leg.DIALTONE
        leg.call = None
        self.sw.players.play_tone(leg.port, recall_dial_tone(self.sw.plan))
        self.sw.mixer.listen_player(leg.port, leg.port)
        collector = self.sw.config.dial_plan().start()
        self.sw._collectors[leg.port] = collector
        self.sw._after(collector.last.timeout_ms / 1000.0, leg.port, "digits")

    def _forget_dialling(self, port: int) -> None:
        self.sw._collectors.pop(port, None)
        for name in ("digits", "failed_tone"):
            self.sw.timers.cancel((port, name))

    def _identity(self, call: Call, party: int) -> tuple[str, str]:
        """Number and name of ``party`` in ``call`` (for caller ID and new call records)."""
        if party == call.origin:
            return call.caller_number, call.caller_name
        extension = self.sw._extension_of(party) if self.sw.legs[party].is_fxs else None
        if extension is not None:
            return extension.number, extension.name
        return call.destination, ""

    def _caller_id(self, call: Call, party: int) -> CallerId:
        number, name = self._identity(call, party)
        return CallerId(number=number or None, name=name or None, datetime=self.sw.now().strftime("%m%d%H%M"))

    def _ring_with(self, port: int, call: Call, party: int) -> None:
        """Rings the phone on ``port`` for ``call``, showing ``party`` as the caller."""
        leg = self.sw.legs[port]
        leg.leg = Leg.RINGING
        leg.call = call
        if port not in call.ringing and call.answer_tick is None:
            call.ringing.append(port)
        self.sw._ring_with_caller_id(port, self._caller_id(call, party))

    def _end_active(self, leg: PortLeg) -> None:
        """The controller hung up on its active call (if any): it ends normally; the port is reset."""
        call = leg.call
        if call is not None:
            hangup_by = HangupBy.CALLER if call.origin == leg.port else HangupBy.CALLEE
            self.sw._end_call(call, hangup_by, "normal_clearing")
        self._forget_dialling(leg.port)
        self.sw._reset_port(leg)

    # ------------------------------------------------------------------ starting a session
    def _start_consulting(self, leg: PortLeg) -> None:
        call = leg.call
        party = other_party(call, leg.port)
        self.sessions[leg.port] = FlashSession(leg.port, FlashState.CONSULTING, call)
        self._hold(party)
        self.sw.mixer.isolate(leg.port)
        self._recall_dial_tone(leg)
        self.log.info("hold", port=leg.port, call=call.call_id, held=party,
                      audio="music" if self.hold_music is not None else "tone")

    def _answer_waiting(self, leg: PortLeg) -> None:
        """Flash with a call waiting: the active call (if any) goes on hold, the waiting one is answered."""
        active = leg.call if leg.leg is Leg.CONNECTED else None
        waiting = self.sw.waiting.take(leg.port)
        if waiting is None:
            return
        if active is not None:
            self._hold(other_party(active, leg.port))
            self.sessions[leg.port] = FlashSession(leg.port, FlashState.SWAPPING, active)
        else:
            self._forget_dialling(leg.port)
        self.sw.mixer.isolate(leg.port)
        self.sw._answer(waiting, leg.port)
        self.log.info("waiting_call_answered", port=leg.port, call=waiting.call_id,
                      held=active.call_id if active is not None else "")

    # ------------------------------------------------------------------ flash per state
    def _flash_consulting(self, session: FlashSession, leg: PortLeg) -> None:
        consult = leg.call
        if consult is None or leg.leg in (Leg.DIALTONE, Leg.DIALING, Leg.FAILED):
            self._back_to_held(session, leg)
        elif leg.leg is Leg.CONNECTED:
            self._conference(session, leg)
        else:  # the consultation still rings (or the line is still dialling): cancel it
            hangup_by = HangupBy.CALLER if consult.origin == leg.port else HangupBy.CALLEE
            self.sw._end_call(consult, hangup_by, "consultation_cancelled")
            self._back_to_held(session, leg)

    def _back_to_held(self, session: FlashSession, leg: PortLeg) -> None:
        self._forget_dialling(leg.port)
        del self.sessions[leg.port]
        self._reconnect(session.held, leg.port)
        self.log.info("unhold", port=leg.port, call=session.held.call_id)

    def _trunks_refused(self, ports: list[int]) -> str | None:
        """Why joining these ports is refused (two or more exchange lines), else None."""
        lines = [p for p in ports if p is not None and not self.sw.legs[p].is_fxs]
        if len(lines) < 2:
            return None
        decision = may_bridge_trunks(self.sw.config)
        return None if decision.allowed else decision.reason

    def _conference(self, session: FlashSession, leg: PortLeg) -> None:
        consult = leg.call
        party = other_party(session.held, leg.port)
        targets = far_ports(consult, leg.port)
        refused = self._trunks_refused([party, *targets])
        if refused is not None:
            self.log.warning("conference_refused", port=leg.port, held=party, added=",".join(map(str, targets)),
                             reason=refused)
            self.sw.players.play_tone(leg.port, refusal_tone(self.sw.plan))
            self.sw.mixer.listen_player(leg.port, leg.port)
            return
        members = [party, leg.port, *targets]
        for port in members:
            self.sw.players.stop(port)
            self.sw.mixer.isolate(port)
        self.sw.mixer.conference(members)
        session.state = FlashState.CONFERENCE
        session.added = consult
        self.log.info("conference", port=leg.port, members=",".join(map(str, members)),
                      calls=f"{session.held.call_id},{consult.call_id}")

    def _flash_conference(self, session: FlashSession, leg: PortLeg) -> None:
        added = session.added
        del self.sessions[leg.port]
        leg.call = session.held  # the controller is out of the added call before it ends
        hangup_by = HangupBy.CALLER if added.origin == leg.port else HangupBy.CALLEE
        self.sw._end_call(added, hangup_by, "conference_drop")
        self._reconnect(session.held, leg.port)
        self.log.info("conference_drop", port=leg.port, dropped=added.call_id, call=session.held.call_id)

    def _flash_swapping(self, session: FlashSession, leg: PortLeg) -> None:
        if leg.leg is not Leg.CONNECTED or leg.call is None:
            self._back_to_held(session, leg)  # the active party has gone: take the held call back
            return
        active = leg.call
        self._hold(other_party(active, leg.port))
        held = session.held
        session.held = active
        self._reconnect(held, leg.port)
        self.log.info("swap", port=leg.port, call=held.call_id, held=active.call_id)

    # ------------------------------------------------------------------ hang-up per state
    def _hangup_consulting(self, session: FlashSession, leg: PortLeg) -> None:
        consult = leg.call
        if consult is not None and leg.leg in (Leg.RINGBACK, Leg.CONNECTED) and far_ports(consult, leg.port):
            self._transfer(session, leg, consult, attended=leg.leg is Leg.CONNECTED)
        else:
            self._end_active(leg)
            self._recall(session)

    def _hangup_conference(self, session: FlashSession, leg: PortLeg) -> None:
        self._transfer(session, leg, session.added, attended=True)

    def _hangup_swapping(self, session: FlashSession, leg: PortLeg) -> None:
        self._end_active(leg)
        if leg.port in self.sessions:  # the held party may have gone meanwhile
            self._recall(session)

    def _recall(self, session: FlashSession) -> None:
        session.state = FlashState.RECALL
        self.sessions[session.port] = session
        party = other_party(session.held, session.port)
        self._ring_with(session.port, session.held, party)
        self.timers.schedule(self.sw.tick + _ticks(RECALL_RING_S), (session.port, "recall"))
        self.log.info("recall", port=session.port, call=session.held.call_id, held=party)

    def _recall_expired(self, port: int) -> None:
        session = self.sessions.get(port)
        if session is None or session.state is not FlashState.RECALL:
            return
        del self.sessions[port]
        self.log.info("recall_no_answer", port=port, call=session.held.call_id)
        self.sw._end_call(session.held, HangupBy.SYSTEM, "recall_no_answer")

    # ------------------------------------------------------------------ transfer
    def _transfer(self, session: FlashSession, leg: PortLeg, consult: Call, attended: bool) -> None:
        """The controller hangs up: the held party and the consultation's far end(s) go on together."""
        port = leg.port
        held = session.held
        party = other_party(held, port)
        targets = far_ports(consult, port)
        kind = "attended_transfer" if attended else "blind_transfer"
        refused = self._trunks_refused([party, *targets])
        if refused is not None:
            self.log.warning("transfer_refused", port=port, call=held.call_id, held=party,
                             target=",".join(map(str, targets)), reason=refused)
            if session.state is FlashState.CONFERENCE:
                del self.sessions[port]
                leg.call = consult
                self.sw._end_call(held, self._role(held, port), "transfer_refused")
                self._end_active(leg)
            else:
                hangup_by = self._role(consult, port)
                self.sw._end_call(consult, hangup_by, "transfer_refused")
                self._end_active(leg)
                self._recall(session)
            return
        del self.sessions[port]
        continued = self._continue_call(held, consult, port, party, attended)
        for target in targets:
            if self.sw.legs[target].call is consult:
                self.sw.legs[target].call = continued
        leg.call = None
        self.sw._end_call(held, self._role(held, port), kind)
        self.sw._end_call(consult, self._role(consult, port), kind)
        self._forget_dialling(port)
        self.sw._reset_port(leg)
        self.sw.players.stop(party)
        self.sw.mixer.isolate(party)
        if attended:
            for target in targets:
                self.sw.players.stop(target)
                self.sw.mixer.isolate(target)
                self.sw.legs[target].leg = Leg.CONNECTED
            self.sw.legs[party].leg = Leg.CONNECTED
            self.sw.mixer.conference([party, *targets])
        else:
            self.sw.legs[party].leg = Leg.RINGBACK
            if continued.ringing:  # phones ring: the transferred party hears ringback
                self.sw.players.play_tone(party, self.sw.plan.ringback)
                self.sw.mixer.listen_player(party, party)
                self.sw._after(TRANSFER_RING_S, party, "no_answer")
        self.log.info(kind, port=port, held=party, target=",".join(map(str, targets)),
                      call=continued.call_id, ended=f"{held.call_id},{consult.call_id}")

    @staticmethod
    def _role(call: Call, port: int) -> HangupBy:
        return HangupBy.CALLER if call.origin == port else HangupBy.CALLEE

    def _continue_call(self, held: Call, consult: Call, port: int, party: int, attended: bool) -> Call:
        """The new call from the transferred party to the consultation's far end."""
        number, name = self._identity(held, party)
        outward = consult.origin == port and consult.direction is Direction.OUTBOUND
        direction = Direction.OUTBOUND if outward else held.direction
        call = self.sw._new_call(party, direction, number, name)
        if consult.origin == port:
            call.ringing = list(consult.ringing)
            call.peer = consult.peer
        else:
            call.peer = consult.origin
        call.destination = consult.destination
        call.dialled = consult.dialled
        call.explanation = consult.explanation
        call.answer_tick = self.sw.tick if attended else None
        call.userfield = f"transfer {self.sw.uniqueid(held)}"
        return call
