"""Feature codes and what happens when a call is for an extension: do-not-disturb,
forwarding, call waiting, pickup.

Feature codes (``config.feature_codes``, configurable; the dial plan returns them as
``DialKind.FEATURE`` with the feature's name and its argument):

=================  =======  ==============================================================
feature            default  what it does
=================  =======  ==============================================================
dnd_on / dnd_off   *78/*79  do-not-disturb on / off for the dialling extension
forward_always     *72 N#   forward every call to N (an extension, a ring group, or an
forward_busy       *90 N#   outside number with the outside prefix); busy: only when the
forward_no_answer  *92 N#   extension is busy; no answer: after ``forward.no_answer_s``
forward_cancel     *73      cancels all three forwardings
group_pickup       *8       answers the longest-ringing call at another extension of the
                            same pickup group
directed_pickup    ** N#    answers the call ringing at extension N (any group)
=================  =======  ==============================================================

Settings are checked as the configuration store checks them (``config/validate.py``):
forwarding to an outside number needs ``security.trunk_to_trunk_allowed`` (toll-fraud
protection) and a number the extension may dial (``tollguard.may_dial``); never to itself
or to an emergency number. Accepted: confirmation tone (three short bursts), the switch's
snapshot changes at once and the change goes to the store through the ``change_extension``
callback (the switch does no I/O; the composition root commits it and the store's
subscribers bring the committed snapshot back). Refused: congestion, and the reason in the
log. Feature codes make no call record (they are settings, not calls).

A call for an extension (dialled, routed from a line, or forwarded there):

1. forward always set: ring the target instead;
2. do-not-disturb: the extension is busy;
3. idle: it rings; with forward on no answer, after ``no_answer_s`` the ringing moves to
   the target;
4. busy: call waiting if the extension has it and is in a plain two-party call
   (``callwaiting.py``), else forward on busy, else the caller hears busy tone.

Forwarding chains follow at most ``MAX_FORWARD_HOPS`` forwards; a target already in the
chain (A→B→A) is a loop: the chain stops and the last extension reached is treated as if
it had no forwarding for this call (it rings, or is busy). An outside target is reached
through the toll guard with the forwarding extension's class, and for a call that came in
on a line only if trunk-to-trunk is allowed; otherwise the forwarding is ignored for that
call and the log says why. Ring-group members are rung as members: their own forwarding
applies to calls for their number only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from drivers.logs import EventLogger
from firmware import FirmwareError
from firmware.cdr import Disposition
from firmware.config.model import Config, Extension
from firmware.dialplan import DialResult
from firmware.engine.calls import Call, Direction, Leg
from firmware.engine.control import CallControl, ticks
from firmware.engine.timers import Timers
from firmware.media.featuretones import confirmation_tone
from firmware.tollguard import NumberClass, may_bridge_trunks, may_dial

if TYPE_CHECKING:
    from firmware.engine.callwaiting import CallWaiting
    from firmware.engine.outside import OutsideCalls

MAX_FORWARD_HOPS = 3  # forwards followed for one call; a longer chain stops where it is

ExtensionChange = Callable[[Extension], Extension]
ChangeExtension = Callable[[str, ExtensionChange], None]
FeatureHandler = Callable[[int, Extension, DialResult], None]
"""A feature code's handler: ``handler(port, extension, result)`` for the phone that dialled it."""
"""``change_extension(number, change)``: persist ``change`` of extension ``number`` (the
composition root commits it to the configuration store)."""


def replace_extension(config: Config, number: str, change: ExtensionChange) -> Config:
    """``config`` with extension ``number`` replaced by ``change(extension)``."""
    if config.extension(number) is None:
        raise FirmwareError(f"extension {number} does not exist")
    return replace(config, extensions=tuple(change(e) if e.number == number else e for e in config.extensions))


def set_dnd(on: bool) -> ExtensionChange:
    return lambda extension: replace(extension, dnd=on)


def set_forward(kind: str, target: str) -> ExtensionChange:
    """``kind``: always, busy or no_answer; ``target`` "" turns it off."""
    return lambda extension: replace(extension, forward=replace(extension.forward, **{kind: target}))


def cancel_forwarding() -> ExtensionChange:
    return lambda extension: replace(extension, forward=replace(extension.forward, always="", busy="", no_answer=""))


def forward_target_problem(config: Config, extension: Extension, target: str) -> str | None:
    """Why ``extension`` may not forward to ``target`` (as the store's validation says), else None."""
    if not target:
        return "no forwarding target dialled"
    if target == extension.number:
        return "an extension cannot forward to itself"
    if target in config.internal_numbers():
        return None
    if not config.security.trunk_to_trunk_allowed:
        return (f"{target} is not an internal number, and forwarding to an outside number needs "
                "security.trunk_to_trunk_allowed (toll-fraud protection)")
    decision = may_dial(config, extension, target, after_hours=False)
    if not decision.allowed:
        return decision.reason
    if decision.number_class is NumberClass.EMERGENCY:
        return "emergency numbers are not forwarding targets"
    return None


class ExtensionFeatures:
    """Feature codes, and the routing of calls to an extension (forwarding, DND, busy)."""

    def __init__(self, control: CallControl, waiting: CallWaiting, outside: OutsideCalls,
                 change_extension: ChangeExtension | None, log: EventLogger) -> None:
        self.cc = control
        self.waiting = waiting
        self.outside = outside
        self.change_extension = change_extension
        self.log = log
        self.timers = Timers()
        self._chains: dict[int, tuple[str, ...]] = {}  # port -> forwarding chain of the call ringing there
        self._codes: dict[str, FeatureHandler] = {
            "dnd_on": lambda port, ext, result: self._change(port, ext, set_dnd(True), "dnd_on"),
            "dnd_off": lambda port, ext, result: self._change(port, ext, set_dnd(False), "dnd_off"),
            "forward_always": lambda port, ext, result: self._set_forward(port, ext, "always", result.number),
            "forward_busy": lambda port, ext, result: self._set_forward(port, ext, "busy", result.number),
            "forward_no_answer": lambda port, ext, result: self._set_forward(port, ext, "no_answer", result.number),
            "forward_cancel": lambda port, ext, result: self._change(port, ext, cancel_forwarding(), "forward_cancel"),
            "group_pickup": self._group_pickup,
            "directed_pickup": self._directed_pickup,
        }

    @property
    def service_codes(self) -> dict[str, FeatureHandler]:
        """Codes handled by a service (the ACD's agent_login/logout/pause/unpause, voicemail's
        menu), same signature: call control's (``CallControl.add_feature_codes``)."""
        return self.cc.feature_codes

    # ------------------------------------------------------------------ feature codes
    def dialled(self, port: int, result: DialResult) -> bool:
        """A feature code was dialled: True if handled here (others: voicemail, agents)."""
        handler = self._codes.get(result.name) or self.service_codes.get(result.name)
        extension = self.cc.extension_on(port)
        if handler is None or extension is None:
            return False
        self.cc.forget_digits(port)
        handler(port, extension, result)
        return True

    def _confirm(self, port: int) -> None:
        self.cc.set_state(port, Leg.FAILED, call=None)  # nothing more to do but hang up
        self.cc.hear_nothing(port)
        self.cc.play_tone(port, confirmation_tone(self.cc.plan))

    def _refuse(self, port: int, feature: str, reason: str) -> None:
        self.log.info("feature_refused", port=port, feature=feature, reason=reason)
        self.cc.fail(port, "congestion")

    def _change(self, port: int, extension: Extension, change: ExtensionChange, feature: str) -> None:
        changed = change(extension)
        self.cc.config = replace_extension(self.cc.config, extension.number, change)
        if self.change_extension is not None:
            self.change_extension(extension.number, change)
        self.log.info("feature", port=port, extension=extension.number, feature=feature, dnd=changed.dnd,
                      always=changed.forward.always, busy=changed.forward.busy, no_answer=changed.forward.no_answer,
                      persisted=self.change_extension is not None)
        self._confirm(port)

    def _set_forward(self, port: int, extension: Extension, kind: str, target: str) -> None:
        problem = forward_target_problem(self.cc.config, extension, target)
        if problem is not None:
            self._refuse(port, f"forward_{kind}", problem)
            return
        self._change(port, extension, set_forward(kind, target), f"forward_{kind}")

    def _pickup(self, port: int, call: Call, ringing_at: int, feature: str) -> None:
        self.log.info("pickup", port=port, call=call.call_id, ringing_at=ringing_at, feature=feature)
        self.cc.answer(call, port)

    def _ringing_call(self, port: int, picker: int) -> Call | None:
        call = self.cc.call_at(port)
        if (port == picker or self.cc.state(port) is not Leg.RINGING or call is None or call.answer_tick is not None
                or call.origin == picker or port not in call.ringing):
            return None
        return call

    def _group_pickup(self, picker: int, extension: Extension, result: DialResult) -> None:
        group = extension.pickup_group
        if not group:
            self._refuse(picker, "group_pickup", f"extension {extension.number} is in no pickup group")
            return
        candidates = []
        for member in self.cc.config.extensions:
            call = self._ringing_call(member.port, picker) if member.pickup_group == group else None
            if call is not None:
                candidates.append((call.start_tick, call.call_id, member.port, call))
        if not candidates:
            self._refuse(picker, "group_pickup", f"nothing rings in pickup group {group}")
            return
        _, _, port, call = min(candidates, key=lambda item: item[:2])
        self._pickup(picker, call, port, "group_pickup")

    def _directed_pickup(self, picker: int, extension: Extension, result: DialResult) -> None:
        target = self.cc.config.extension(result.number)
        call = None if target is None else self._ringing_call(target.port, picker)
        if call is None:
            self._refuse(picker, "directed_pickup", f"nothing rings at extension {result.number}")
            return
        self._pickup(picker, call, target.port, "directed_pickup")

    # ------------------------------------------------------------------ calls for an extension
    def ring_extension(self, call: Call, extension: Extension, chain: tuple[str, ...] = ()) -> None:
        chain = (*chain, extension.number)
        if extension.forward.always and self._forward(call, extension, extension.forward.always, chain, "always"):
            return
        port = extension.port
        if extension.dnd:
            self.log.info("dnd", call=call.call_id, extension=extension.number)
            self._busy(call, extension, chain, waiting_allowed=False)
            return
        if self.cc.can_ring(port):
            self.cc.ring_targets(call, [port])
            self._arm_no_answer(port, extension, chain)
            return
        self._busy(call, extension, chain, waiting_allowed=True)

    def _arm_no_answer(self, port: int, extension: Extension, chain: tuple[str, ...]) -> None:
        if extension.forward.no_answer:
            self._chains[port] = chain
            self.timers.schedule(self.cc.tick + ticks(extension.forward.no_answer_s), (port, "no_answer"))

    def _busy(self, call: Call, extension: Extension, chain: tuple[str, ...], waiting_allowed: bool) -> None:
        port = extension.port
        if waiting_allowed and extension.call_waiting and self.waiting.can_offer(port, call):
            call.destination = call.destination or extension.number
            self.waiting.offer(call, port)
            self._arm_no_answer(port, extension, chain)
            return
        if extension.forward.busy and self._forward(call, extension, extension.forward.busy, chain, "busy"):
            return
        self.cc.caller_fails(call, "busy", "user_busy", Disposition.BUSY)

    def _forward_plan(self, call: Call, extension: Extension, target: str,
                      chain: tuple[str, ...], why: str) -> tuple[str, object] | None:
        """Where a forwarding of ``extension`` to ``target`` goes, or None (logged) if not followed."""
        if len(chain) > MAX_FORWARD_HOPS:
            self.log.info("forward_limit", call=call.call_id, chain=">".join(chain), target=target, why=why)
            return None
        config = self.cc.config
        target_extension = config.extension(target)
        if target_extension is not None:
            if target in chain:
                self.log.info("forward_loop", call=call.call_id, chain=">".join((*chain, target)), why=why)
                return None
            return ("extension", target_extension)
        if target in config.internal_numbers():
            return ("group", target)
        decision = may_dial(config, extension, target, self.outside.after_hours())
        if decision.allowed and not self.cc.is_fxs(call.origin):
            decision = may_bridge_trunks(config)  # an outside caller forwarded outside: trunk to trunk
        if not decision.allowed or decision.number_class is NumberClass.EMERGENCY:
            self.log.warning("forward_refused", call=call.call_id, extension=extension.number, target=target,
                             why=why, reason=decision.reason)
            return None
        return ("outside", target)

    def _forward(self, call: Call, extension: Extension, target: str, chain: tuple[str, ...], why: str) -> bool:
        plan = self._forward_plan(call, extension, target, chain, why)
        if plan is None:
            return False
        self._follow(call, extension, plan, chain, why)
        return True

    def _follow(self, call: Call, extension: Extension, plan: tuple[str, object],
                chain: tuple[str, ...], why: str) -> None:
        kind, where = plan
        number = where.number if isinstance(where, Extension) else str(where)
        self.log.info("forward", call=call.call_id, extension=extension.number, target=number, why=why,
                      chain=">".join(chain))
        if kind == "extension":
            self.ring_extension(call, where, chain)
        elif kind == "group":
            self.cc.ring_targets(call, self.cc.targets_of(number))
        else:
            if self.cc.is_fxs(call.origin):
                call.direction = Direction.OUTBOUND
            self.outside.call(call, extension, number)

    # ------------------------------------------------------------------ no answer
    def ringing_stopped(self, port: int) -> None:
        """The phone on ``port`` stopped ringing (answered, or the call went away)."""
        self.timers.cancel((port, "no_answer"))
        self._chains.pop(port, None)

    def on_tick(self, tick: int) -> None:
        for port, _name in self.timers.due(tick):
            self._no_answer(port)

    def _no_answer(self, port: int) -> None:
        chain = self._chains.pop(port, None)
        extension = self.cc.extension_on(port)
        if chain is None or extension is None or not extension.forward.no_answer:
            return
        ringing = self.cc.call_at(port)
        waiting = self.waiting.pending(port)
        if self.cc.state(port) is Leg.RINGING and ringing is not None and ringing.answer_tick is None:
            call = ringing
        elif waiting is not None:
            call = waiting
        else:
            return
        plan = self._forward_plan(call, extension, extension.forward.no_answer, chain, "no_answer")
        if plan is None:
            return  # it keeps ringing here
        if call is waiting:
            self.waiting.take(port)
        else:
            self.cc.stop_ringing(port)
            call.ringing.remove(port)
        self._follow(call, extension, plan, chain, "no_answer")
