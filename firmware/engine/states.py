"""The leg state table: which state a port may go to from which, and what the phone's hook
must be in each state.

Every change of a port's leg state goes through :func:`check_transition` (called by
``CallControl.set_state``); an illegal one is a :class:`~firmware.FirmwareError` naming the
port and both states, so a feature that would leave a port in a state that disagrees with
the hardware fails loudly at that point (the media loop's fault boundary then ends that
call) instead of leaving the port stuck.

The hook rule (FXS ports): a phone on hook is idle or ringing; a phone off hook is in one of
the off-hook states (hearing dial tone, dialling, ringback, in a call, or failed: hearing a
tone or a prompt until it hangs up). Out of service says nothing of the hook. The ACD's view
of an agent follows from it: an agent's phone in any state but idle is busy for the queues
(``firmware/acdengine/service.py``), so the port's state, the phone's hook and the agent's
state cannot disagree.

=============  ================================================================================
from           to
=============  ================================================================================
idle           dialtone, ringing, failed (FXS); incoming, seizing (FXO); out_of_service
dialtone       dialing, ringback, connected, failed, idle, out_of_service
dialing        ringback, connected, failed, idle, out_of_service
ringback       connected, failed, idle, out_of_service
ringing        connected, idle, out_of_service
connected      dialtone (flash), ringback (transfer, callback dial-out), failed, idle, out_of_service
failed         dialing (a service's prompt asks for digits), connected (flash back to a held
               call, a waiting call answered), idle, out_of_service
incoming       ringback (the box answers the line), idle (the caller gave up), out_of_service
seizing        dialing_out, idle, out_of_service
dialing_out    connected, idle, out_of_service
out_of_service idle, failed (back in service with the phone off hook)
=============  ================================================================================

Setting a port to the state it is in is always allowed (nothing changes).
"""

from __future__ import annotations

from types import MappingProxyType

from firmware import FirmwareError
from firmware.engine.calls import Leg

_ANY_DOWN = frozenset({Leg.OUT_OF_SERVICE})

TRANSITIONS = MappingProxyType({
    Leg.IDLE: frozenset({Leg.DIALTONE, Leg.RINGING, Leg.FAILED, Leg.INCOMING, Leg.SEIZING}) | _ANY_DOWN,
    Leg.DIALTONE: frozenset({Leg.DIALING, Leg.RINGBACK, Leg.CONNECTED, Leg.FAILED, Leg.IDLE}) | _ANY_DOWN,
    Leg.DIALING: frozenset({Leg.RINGBACK, Leg.CONNECTED, Leg.FAILED, Leg.IDLE}) | _ANY_DOWN,
    Leg.RINGBACK: frozenset({Leg.CONNECTED, Leg.FAILED, Leg.IDLE}) | _ANY_DOWN,
    Leg.RINGING: frozenset({Leg.CONNECTED, Leg.IDLE}) | _ANY_DOWN,
    Leg.CONNECTED: frozenset({Leg.DIALTONE, Leg.RINGBACK, Leg.FAILED, Leg.IDLE}) | _ANY_DOWN,
    Leg.FAILED: frozenset({Leg.DIALING, Leg.CONNECTED, Leg.IDLE}) | _ANY_DOWN,
    Leg.INCOMING: frozenset({Leg.RINGBACK, Leg.IDLE}) | _ANY_DOWN,
    Leg.SEIZING: frozenset({Leg.DIALING_OUT, Leg.IDLE}) | _ANY_DOWN,
    Leg.DIALING_OUT: frozenset({Leg.CONNECTED, Leg.IDLE}) | _ANY_DOWN,
    Leg.OUT_OF_SERVICE: frozenset({Leg.IDLE, Leg.FAILED}),
})

FXS_ON_HOOK = frozenset({Leg.IDLE, Leg.RINGING})
"""States of a phone on hook (besides out of service)."""
FXS_OFF_HOOK = frozenset({Leg.DIALTONE, Leg.DIALING, Leg.RINGBACK, Leg.CONNECTED, Leg.FAILED})
"""States of a phone off hook (besides out of service)."""
FXS_STATES = FXS_ON_HOOK | FXS_OFF_HOOK | _ANY_DOWN
FXO_STATES = frozenset({Leg.IDLE, Leg.INCOMING, Leg.SEIZING, Leg.DIALING_OUT, Leg.RINGBACK, Leg.CONNECTED,
                        Leg.FAILED, Leg.OUT_OF_SERVICE})


def transition_problem(old: Leg, new: Leg, is_fxs: bool, off_hook: bool) -> str | None:
    """Why a port may not go from ``old`` to ``new`` (None: it may)."""
    kind = "fxs" if is_fxs else "fxo"
    if new not in (FXS_STATES if is_fxs else FXO_STATES):
        return f"{new} is not a state of an {kind} port"
    if new is not old and new not in TRANSITIONS[old]:
        return f"no transition from {old} to {new}"
    if is_fxs and new in FXS_ON_HOOK and off_hook:
        return f"the phone is off hook, and {new} is an on-hook state"
    if is_fxs and new in FXS_OFF_HOOK and not off_hook:
        return f"the phone is on hook, and {new} is an off-hook state"
    return None


def check_transition(port: int, old: Leg, new: Leg, is_fxs: bool, off_hook: bool) -> None:
    """Raises FirmwareError (naming the port and both states) for an illegal transition."""
    problem = transition_problem(old, new, is_fxs, off_hook)
    if problem is not None:
        raise FirmwareError(f"port {port}: illegal state change {old} -> {new}: {problem}")
