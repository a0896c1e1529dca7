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
from dsp.callerid import CallerId, displayed_caller_id
from firmware.cdr import HangupBy
from firmware.engine.calls import Call, Direction, Leg
from firmware.engine.control import CallControl, ticks
from firmware.engine.timers import Timers
from firmware.media.featuretones import hold_tone, recall_dial_tone, refusal_tone
from firmware.tollguard import may_bridge_trunks

if TYPE_CHECKING:
    from firmware.engine.callwaiting import CallWaiting

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


HoldMusic = Callable[[], "np.ndarray | None"]
"""What a party put on hold hears now: a non-empty 1-D float64 buffer at 8 kHz, shared by every
held port (the players do not copy it), or None for the hold tone. Asked at each hold, on the
media loop, so it must not read a file: ``MusicLibrary.samples`` (firmware/media/music.py),
whose buffers ``media reload`` swaps between two ticks -- a party put on hold after a reload
hears the new files, one already on hold keeps what it was playing."""


def _no_music() -> np.ndarray | None:
    return None


class FlashFeatures:
    """Hold, consultation, transfer, conference, swap and recall for the switch's FXS ports.

    Works through call control (``control.py``): the switch calls ``on_flash``, ``on_hook``,
    ``on_off_hook``, ``port_lost`` and ``on_tick``; call control calls ``before_end``.
    """

    def __init__(self, control: CallControl, hold_music: HoldMusic | None, log: EventLogger) -> None:
        self.cc = control
        self.waiting: CallWaiting | None = None  # the call-waiting offers (callwaiting.py), set by the switch
        self.music: HoldMusic = hold_music or _no_music  # asked at each hold: follows ``media reload``
        self.log = log
        self.sessions: dict[int, FlashSession] = {}
        # Told ``(port, held)`` when the party on ``port`` goes on hold or comes back (the
        # manager's Hold/Unhold events); on the media loop's thread.
        self.hold_listeners: list[Callable[[int, bool], None]] = []
        self.timers = Timers()
        self._flash_handlers: dict[FlashState, Callable[[FlashSession, int], None]] = {
            FlashState.CONSULTING: self._flash_consulting,
            FlashState.CONFERENCE: self._flash_conference,
            FlashState.SWAPPING: self._flash_swapping,
            FlashState.RECALL: lambda session, port: None,  # on hook: a flash cannot happen
        }
        self._hook_handlers: dict[FlashState, Callable[[FlashSession, int], None]] = {
            FlashState.CONSULTING: self._hangup_consulting,
            FlashState.CONFERENCE: self._hangup_conference,
            FlashState.SWAPPING: self._hangup_swapping,
            FlashState.RECALL: lambda session, port: None,
        }

    # ------------------------------------------------------------------ queries
    def session_of_call(self, call: Call) -> FlashSession | None:
        for session in self.sessions.values():
            if call is session.held or call is session.added or call is self.cc.call_at(session.port):
                return session
        return None

    def involved(self, port: int) -> bool:
        """True if ``port`` controls a session or its call belongs to one."""
        if port in self.sessions:
            return True
        call = self.cc.call_at(port)
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
            if party is not None and not self.cc.is_fxs(party):
                self.cc.heard_from_line(party)

    def on_flash(self, port: int) -> None:
        if not self.cc.is_fxs(port):
            return
        session = self.sessions.get(port)
        if session is not None:
            self._flash_handlers[session.state](session, port)
            return
        state = self.cc.state(port)
        waiting = self.waiting.pending(port) if self.waiting is not None else None
        if waiting is not None and state in (Leg.CONNECTED, Leg.FAILED):
            self._answer_waiting(port)
        elif state is Leg.CONNECTED and self.is_two_party(port) and not self.involved(port):
            self._start_consulting(port)
        else:
            self.log.info("flash_ignored", port=port, leg=state)

    def on_hook(self, port: int) -> bool:
        """The controller hung up: True if a session (or a call waiting) took care of it."""
        session = self.sessions.get(port)
        if session is not None:
            self._hook_handlers[session.state](session, port)
            return True
        if self.waiting is None or self.waiting.pending(port) is None:
            return False
        self._end_active(port)
        waiting = self.waiting.take(port)
        if waiting is not None:
            self._ring_with(port, waiting, waiting.origin)
            self.log.info("waiting_call_rings", port=port, call=waiting.call_id)
        return True

    def on_off_hook(self, port: int) -> bool:
        """Answering a recall reconnects the held call: True if it was one."""
        session = self.sessions.get(port)
        if session is None or session.state is not FlashState.RECALL:
            return False
        self.timers.cancel((port, "recall"))
        self.cc.stop_ringing(port, keep_call=True)
        del self.sessions[port]
        self._reconnect(session.held, port)
        self.log.info("recall_answered", port=port, call=session.held.call_id)
        return True

    def before_end(self, call: Call) -> None:
        """``call`` is ending (a call-control listener, before its ports are touched)."""
        for port, session in list(self.sessions.items()):
            if call is session.held:
                del self.sessions[port]
                self.timers.cancel((port, "recall"))
                if session.state is FlashState.CONFERENCE and session.added is not None:
                    self.cc.set_call(port, session.added)  # the controller stays with the added party
                self.log.info("held_party_left", port=port, call=call.call_id, state=session.state)
            elif call is session.added:
                # The added party left the conference: back to a two-party call with the first.
                del self.sessions[port]
                self.cc.set_call(port, session.held)
                self.log.info("conference_party_left", port=port, call=call.call_id)

    def port_lost(self, port: int) -> None:
        """The controller's port went out of service: its held calls end too."""
        session = self.sessions.pop(port, None)
        if session is None:
            return
        self.timers.cancel((port, "recall"))
        for call in (session.held, session.added):
            if call is not None:
                self.cc.end_call(call, HangupBy.SYSTEM, "out_of_service")

    # ------------------------------------------------------------------ hold and reconnect
    def is_two_party(self, port: int) -> bool:
        call = self.cc.call_at(port)
        if call is None:
            return False
        party = other_party(call, port)
        return party is not None and not call.ringing and self.cc.call_at(party) is call

    @property
    def hold_music(self) -> np.ndarray | None:
        """What a party put on hold now hears (None: the hold tone)."""
        return self.music()

    def _hold(self, party: int) -> str:
        """``party`` hears the hold music (or tone) and nobody else; nobody hears it. What it hears."""
        self.cc.isolate(party)
        for listener in self.hold_listeners:
            listener(party, True)
        music = self.music()
        if music is not None:
            self.cc.play(party, music, loop=True)
            return "music"
        self.cc.play_tone(party, hold_tone(self.cc.plan))
        return "tone"

    def _reconnect(self, call: Call, port: int) -> None:
        """The controller on ``port`` talks to the other party of ``call`` again."""
        party = other_party(call, port)
        for each in (port, party):
            self.cc.stop_audio(each)
            self.cc.isolate(each)
            self.cc.set_state(each, Leg.CONNECTED, call=call)
        self.cc.bridge(port, party)
        for listener in self.hold_listeners:
            listener(party, False)

    def _recall_dial_tone(self, port: int) -> None:
        self.cc.dial_tone(port, recall_dial_tone(self.cc.plan))

    def _identity(self, call: Call, party: int) -> tuple[str, str]:
        """Number and name of ``party`` in ``call`` (for caller ID and new call records)."""
        if party == call.origin:
            return call.caller_number, call.caller_name
        extension = self.cc.extension_on(party) if self.cc.is_fxs(party) else None
        if extension is not None:
            return extension.number, extension.name
        return call.destination, ""

    def _caller_id(self, call: Call, party: int) -> CallerId:
        number, name = self._identity(call, party)
        return displayed_caller_id(number, name, datetime=self.cc.now().strftime("%m%d%H%M"))

    def _ring_with(self, port: int, call: Call, party: int) -> None:
        """Rings the phone on ``port`` for ``call``, showing ``party`` as the caller."""
        self.cc.set_state(port, Leg.RINGING, call=call)
        if port not in call.ringing and call.answer_tick is None:
            call.ringing.append(port)
        self.cc.ring_with_caller_id(port, self._caller_id(call, party))

    def _end_active(self, port: int) -> None:
        """The controller hung up on its active call (if any): it ends normally; the port is reset."""
        call = self.cc.call_at(port)
        if call is not None:
            hangup_by = HangupBy.CALLER if call.origin == port else HangupBy.CALLEE
            self.cc.end_call(call, hangup_by, "normal_clearing")
        self.cc.forget_digits(port)
        self.cc.reset_port(port)

    # ------------------------------------------------------------------ starting a session
    def _start_consulting(self, port: int) -> None:
        call = self.cc.call_at(port)
        party = other_party(call, port)
        self.sessions[port] = FlashSession(port, FlashState.CONSULTING, call)
        audio = self._hold(party)
        self.cc.isolate(port)
        self._recall_dial_tone(port)
        self.log.info("hold", port=port, call=call.call_id, held=party, audio=audio)

    def _answer_waiting(self, port: int) -> None:
        """Flash with a call waiting: the active call (if any) goes on hold, the waiting one is answered."""
        active = self.cc.call_at(port) if self.cc.state(port) is Leg.CONNECTED else None
        waiting = self.waiting.take(port)
        if waiting is None:
            return
        if active is not None:
            self._hold(other_party(active, port))
            self.sessions[port] = FlashSession(port, FlashState.SWAPPING, active)
        else:
            self.cc.forget_digits(port)
        self.cc.isolate(port)
        self.cc.answer(waiting, port)
        self.log.info("waiting_call_answered", port=port, call=waiting.call_id,
                      held=active.call_id if active is not None else "")

    # ------------------------------------------------------------------ flash per state
    def _flash_consulting(self, session: FlashSession, port: int) -> None:
        consult = self.cc.call_at(port)
        state = self.cc.state(port)
        if consult is None or state in (Leg.DIALTONE, Leg.DIALING, Leg.FAILED):
            self._back_to_held(session, port)
        elif state is Leg.CONNECTED:
            self._conference(session, port)
        else:  # the consultation still rings (or the line is still dialling): cancel it
            hangup_by = HangupBy.CALLER if consult.origin == port else HangupBy.CALLEE
            self.cc.end_call(consult, hangup_by, "consultation_cancelled")
            self._back_to_held(session, port)

    def _back_to_held(self, session: FlashSession, port: int) -> None:
        self.cc.forget_digits(port)
        del self.sessions[port]
        self._reconnect(session.held, port)
        self.log.info("unhold", port=port, call=session.held.call_id)

    def _trunks_refused(self, ports: list[int]) -> str | None:
        """Why joining these ports is refused (two or more exchange lines), else None."""
        lines = [p for p in ports if p is not None and not self.cc.is_fxs(p)]
        if len(lines) < 2:
            return None
        decision = may_bridge_trunks(self.cc.config)
        return None if decision.allowed else decision.reason

    def _conference(self, session: FlashSession, port: int) -> None:
        consult = self.cc.call_at(port)
        party = other_party(session.held, port)
        targets = far_ports(consult, port)
        refused = self._trunks_refused([party, *targets])
        if refused is not None:
            self.log.warning("conference_refused", port=port, held=party, added=",".join(map(str, targets)),
                             reason=refused)
            self.cc.play_tone(port, refusal_tone(self.cc.plan))
            return
        members = [party, port, *targets]
        for each in members:
            self.cc.stop_audio(each)
            self.cc.isolate(each)
        self.cc.conference(members)
        for listener in self.hold_listeners:
            listener(party, False)  # the held party joins the conference
        session.state = FlashState.CONFERENCE
        session.added = consult
        self.log.info("conference", port=port, members=",".join(map(str, members)),
                      calls=f"{session.held.call_id},{consult.call_id}")

    def _flash_conference(self, session: FlashSession, port: int) -> None:
        added = session.added
        del self.sessions[port]
        self.cc.set_call(port, session.held)  # the controller is out of the added call before it ends
        hangup_by = HangupBy.CALLER if added.origin == port else HangupBy.CALLEE
        self.cc.end_call(added, hangup_by, "conference_drop")
        self._reconnect(session.held, port)
        self.log.info("conference_drop", port=port, dropped=added.call_id, call=session.held.call_id)

    def _flash_swapping(self, session: FlashSession, port: int) -> None:
        active = self.cc.call_at(port)
        if self.cc.state(port) is not Leg.CONNECTED or active is None:
            self._back_to_held(session, port)  # the active party has gone: take the held call back
            return
        self._hold(other_party(active, port))
        held = session.held
        session.held = active
        self._reconnect(held, port)
        self.log.info("swap", port=port, call=held.call_id, held=active.call_id)

    # ------------------------------------------------------------------ hang-up per state
    def _hangup_consulting(self, session: FlashSession, port: int) -> None:
        consult = self.cc.call_at(port)
        state = self.cc.state(port)
        if consult is not None and state in (Leg.RINGBACK, Leg.CONNECTED) and far_ports(consult, port):
            self._transfer(session, port, consult, attended=state is Leg.CONNECTED)
        else:
            self._end_active(port)
            self._recall(session)

    def _hangup_conference(self, session: FlashSession, port: int) -> None:
        self._transfer(session, port, session.added, attended=True)

    def _hangup_swapping(self, session: FlashSession, port: int) -> None:
        self._end_active(port)
        if port in self.sessions:  # the held party may have gone meanwhile
            self._recall(session)

    def _recall(self, session: FlashSession) -> None:
        session.state = FlashState.RECALL
        self.sessions[session.port] = session
        party = other_party(session.held, session.port)
        self._ring_with(session.port, session.held, party)
        self.timers.schedule(self.cc.tick + ticks(RECALL_RING_S), (session.port, "recall"))
        self.log.info("recall", port=session.port, call=session.held.call_id, held=party)

    def _recall_expired(self, port: int) -> None:
        session = self.sessions.get(port)
        if session is None or session.state is not FlashState.RECALL:
            return
        del self.sessions[port]
        self.log.info("recall_no_answer", port=port, call=session.held.call_id)
        self.cc.end_call(session.held, HangupBy.SYSTEM, "recall_no_answer")

    # ------------------------------------------------------------------ transfer
    def _transfer(self, session: FlashSession, port: int, consult: Call, attended: bool) -> None:
        """The controller hangs up: the held party and the consultation's far end(s) go on together."""
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
                self.cc.set_call(port, consult)
                self.cc.end_call(held, self._role(held, port), "transfer_refused")
                self._end_active(port)
            else:
                hangup_by = self._role(consult, port)
                self.cc.end_call(consult, hangup_by, "transfer_refused")
                self._end_active(port)
                self._recall(session)
            return
        del self.sessions[port]
        continued = self._continue_call(held, consult, port, party, attended)
        for target in targets:
            if self.cc.call_at(target) is consult:
                self.cc.set_call(target, continued)
        self.cc.set_call(port, None)
        self.cc.end_call(held, self._role(held, port), kind)
        self.cc.end_call(consult, self._role(consult, port), kind)
        self.cc.forget_digits(port)
        self.cc.reset_port(port)
        self.cc.stop_audio(party)
        self.cc.isolate(party)
        if attended:
            for target in targets:
                self.cc.stop_audio(target)
                self.cc.isolate(target)
                self.cc.set_state(target, Leg.CONNECTED)
            self.cc.set_state(party, Leg.CONNECTED)
            self.cc.conference([party, *targets])
        else:
            self.cc.set_state(party, Leg.RINGBACK)
            if continued.ringing:  # phones ring: the transferred party hears ringback
                self.cc.play_tone(party, self.cc.plan.ringback)
                self.cc.after(TRANSFER_RING_S, party, "no_answer")
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
        call = self.cc.new_call(party, direction, number, name)
        if consult.origin == port:
            call.ringing = list(consult.ringing)
            call.peer = consult.peer
        else:
            call.peer = consult.origin
        call.destination = consult.destination
        call.dialled = consult.dialled
        call.explanation = consult.explanation
        call.userfield = f"transfer {self.cc.uniqueid(held)}"
        if attended:
            self.cc.mark_answered(call)
        return call
