"""The feature modules (flash.py, callwaiting.py, features.py, outside.py) over the real call
control and switch, against a stub card: no pty, milliseconds each. The whole-appliance
tests (test_engine_features_*.py) keep what only they can show (what each party hears)."""

from __future__ import annotations

import pytest
from engine_fakes import Rig

from drivers.ports import HookFlash, OffHook, OnHook
from firmware.cdr import Disposition

A, B, C, D = 2, 3, 4, 5  # extensions 201-204


@pytest.mark.parametrize(("answer_before_hangup", "cause", "state_of_b"), [
    (False, "blind_transfer", "ringback"),
    (True, "attended_transfer", "connected"),
])
def test_transfer(answer_before_hangup, cause, state_of_b):
    rig = Rig()
    rig.call_between(A, B)
    rig.event(HookFlash(A, 500))
    assert rig.switch.flash.describe(A) == "consulting" and rig.state(A) == "dialtone"
    assert rig.players.tone(B) == "hold"
    rig.digits(A, "204")
    assert rig.state(D) == "ringing"
    if answer_before_hangup:
        rig.event(OffHook(D))
    rig.event(OnHook(A))
    assert rig.state(A) == "idle" and rig.state(B) == state_of_b
    assert sorted(r.hangup_cause for r in rig.records) == [cause, cause]
    if not answer_before_hangup:
        rig.event(OffHook(D))
    assert rig.state(B) == rig.state(D) == "connected"
    pairs = {tuple(sorted(p)) for p in rig.mixer.bridged_pairs()}
    assert (B, D) in pairs


def test_flash_back_to_the_held_call():
    rig = Rig()
    rig.call_between(A, B)
    rig.event(HookFlash(A, 500))
    rig.event(HookFlash(A, 500))
    assert rig.switch.flash.describe(A) is None and rig.state(A) == rig.state(B) == "connected"


def test_call_waiting_is_offered_and_answered_by_flash():
    rig = Rig()
    rig.call_between(A, B)
    rig.event(OffHook(C))
    rig.digits(C, "201")
    assert rig.state(C) == "ringback" and rig.switch.waiting.pending(A) is not None
    rig.run(1.0)
    rig.event(HookFlash(A, 500))
    assert rig.switch.flash.describe(A) == "swapping"
    assert rig.state(A) == rig.state(C) == "connected" and rig.players.tone(B) == "hold"


@pytest.mark.parametrize(("code", "caller_state", "rings"), [
    ("*78", "failed", None),  # do-not-disturb on: the caller hears busy
    ("*72204#", "ringback", D),  # forward always to 204: 204 rings instead
    ("*92204#", "ringback", C),  # forward on no answer: 203 rings first
])
def test_feature_code_then_a_call_for_that_extension(code, caller_state, rings):
    rig = Rig()
    rig.event(OffHook(C))
    rig.digits(C, code)
    assert rig.state(C) == "failed" and rig.players.tone(C) == "confirm"
    rig.event(OnHook(C))
    rig.event(OffHook(A))
    rig.digits(A, "203")
    assert rig.state(A) == caller_state
    if rings is None:
        assert rig.players.tone(A) == "busy" and rig.records[-1].disposition is Disposition.BUSY
    else:
        assert rig.state(rings) == "ringing"


def test_an_outside_call_seizes_dials_and_connects():
    rig = Rig()
    rig.event(OffHook(D))
    rig.digits(D, "95551234")
    assert ("seize", 0) in rig.card.commands and rig.state(0) == "seizing" and rig.state(D) == "ringback"
    rig.switch.on_tone(0, "dial", True)
    assert rig.state(0) == "dialing_out" and rig.players.busy(0)  # DTMF going out
    rig.run(2.0)
    assert rig.state(0) == rig.state(D) == "connected"
    assert (0, D) in {tuple(sorted(p)) for p in rig.mixer.bridged_pairs()}
    rig.event(OnHook(D))
    assert ("release", 0) in rig.card.commands and rig.state(0) == "idle"
    assert rig.records[-1].dst == "5551234" or rig.records[-1].dst.endswith("5551234")
