"""Click-to-call (AMI ``Originate``): ring the extension's phone, then dial the number.

The number is taken as the extension's user would key it (outside-line prefix first) and
goes through the same toll guard, with the extension's outbound class, as if the person
had dialled it (``firmware/tollguard.py``): an AMI client cannot make a call the extension
could not. It is checked when the action arrives (a refusal is the action's
``Response: Error``) and again when the box dials (the configuration may have changed).
Internal numbers and emergency numbers are refused: click-to-call is for outside numbers,
and a CRM must never place an emergency call on its own.

Asynchronous, as AMI's ``Async: true``: the action is answered at once ("Originate
successfully queued"); then, for the session that asked, one ``OriginateResponse`` event
with the action's ActionID: ``Response: Success`` (``Reason: 4``, answered) when the phone
is picked up and the box starts dialling, else ``Failure`` with Asterisk's reason code (3:
no answer within ``Timeout``; 1: the call ended before, e.g. ringing stopped).

:class:`Originator` is an attached service of call control: ``answered`` starts the
dial-out (``CallControlApi.dial_out``), ``on_tick`` ends phones rung past their timeout.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.audio import TICK_MS
from dsp.callerid import CallerId
from firmware.engine.calls import Call
from firmware.engine.control import CallControlApi
from firmware.engine.services import AttachedService
from firmware.manager import ManagerError
from firmware.manager.events import CALL, EventHub, event
from firmware.tollguard import NumberClass, is_after_hours, may_dial

TICK_S = TICK_MS / 1000.0
REASON_HANGUP, REASON_NO_ANSWER, REASON_ANSWERED = 1, 3, 4  # Asterisk's AST_CONTROL_* in OriginateResponse
MAX_PENDING = 16  # originates ringing at once (a CRM loop cannot ring every phone forever)


@dataclass
class Pending:
    call: Call
    port: int
    digits: str
    action_id: str
    session: int
    deadline_tick: int
    channel: str
    answered: bool = False


class Originator(AttachedService):
    def __init__(self, control: CallControlApi, hub: EventHub) -> None:
        self.cc = control
        self.hub = hub
        self.pending: dict[int, Pending] = {}  # switch call id -> originate

    def start(self, port: int, digits: str, caller: CallerId, timeout_s: float, action_id: str,
              session: int) -> str:
        """On the loop's thread: checks, then rings ``port``; returns the phone's channel prefix."""
        cc = self.cc
        extension = cc.config.extension_on_port(port)
        if extension is None:
            raise ManagerError(f"No extension on FXS/{port}")
        if not digits or not all(c in "0123456789*#" for c in digits):
            raise ManagerError(f"Exten {digits!r}: expected the digits the extension would key")
        decision = may_dial(cc.config, extension, digits, is_after_hours(cc.config, cc.now()))
        if decision.number_class is NumberClass.INTERNAL:
            raise ManagerError(f"Exten {digits}: an internal number (click-to-call dials outside numbers, "
                               f"outside prefix {cc.config.outside_prefix()} first)")
        if decision.number_class is NumberClass.EMERGENCY:
            raise ManagerError(f"Exten {digits}: emergency numbers are not dialled from the manager interface")
        if not decision.allowed:
            raise ManagerError(f"Originate refused by the toll guard: {decision.reason}")
        if len(self.pending) >= MAX_PENDING:
            raise ManagerError(f"Too many originates ringing (at most {MAX_PENDING})")
        call = cc.ring_from_service(port, caller)
        if call is None:
            raise ManagerError(f"Extension {extension.number} (FXS/{port}) cannot ring now (busy, off hook or DND)")
        ticks = max(1, round(timeout_s / TICK_S))
        self.pending[call.call_id] = Pending(call, port, digits, action_id, session, cc.tick + ticks, f"FXS/{port}")
        return f"FXS/{port}"

    def _respond(self, pending: Pending, ok: bool, reason: int) -> None:
        self.hub.publish(event("OriginateResponse", CALL, [
            ("Response", "Success" if ok else "Failure"), ("Channel", pending.channel),
            ("Context", "from-internal"), ("Exten", pending.digits), ("Application", ""), ("Data", ""),
            ("Reason", reason), ("Uniqueid", self.cc.uniqueid(pending.call)),
            ("CallerIDNum", pending.call.caller_number or "<unknown>"),
            ("CallerIDName", pending.call.caller_name or "<unknown>")],
            action_id=pending.action_id, session=pending.session))

    # -------------------------------------------------------------- attached service
    def answered(self, call: Call, port: int) -> None:
        pending = self.pending.pop(call.call_id, None)
        if pending is None or port != pending.port:
            return
        pending.answered = True
        self._respond(pending, True, REASON_ANSWERED)
        self.cc.dial_out(call, pending.digits)

    def on_tick(self, tick: int) -> None:
        for call_id, pending in list(self.pending.items()):
            if tick >= pending.deadline_tick:
                del self.pending[call_id]
                self._respond(pending, False, REASON_NO_ANSWER)
                self.cc.end_service_call(pending.call, "originate_no_answer")

    def before_end(self, call: Call) -> None:
        pending = self.pending.pop(call.call_id, None)
        if pending is not None:
            self._respond(pending, False, REASON_HANGUP)
