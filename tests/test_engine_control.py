"""Call control (firmware/engine/control.py) and the leg state table (states.py): every
legal and illegal transition, the hook rule, and the primitives (new call, answer, end,
fail, say, ring, stop ringing, listeners) against a stub card. Fast: no pty."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from engine_fakes import ORIGIN, PORT_IS_FXS, StubCard

from drivers.logs import EventLogger
from dsp.callerid import CallerId
from dsp.toneplans import get_plan
from firmware import FirmwareError
from firmware.cdr import Disposition, HangupBy
from firmware.config.demo import demo_config
from firmware.engine.calls import Direction, Leg
from firmware.engine.control import CallControl, Then
from firmware.engine.states import (
    FXO_STATES,
    FXS_OFF_HOOK,
    FXS_ON_HOOK,
    FXS_STATES,
    TRANSITIONS,
    check_transition,
    transition_problem,
)
from firmware.media.mixer import Mixer
from firmware.media.players import PlayerBank

# The table as docs/ARCHITECTURE.md states it (written out again here: the test is the spec).
EXPECTED = {
    "idle": "dialtone ringing failed incoming seizing out_of_service",
    "dialtone": "dialing ringback connected failed idle out_of_service",
    "dialing": "ringback connected failed idle out_of_service",
    "ringback": "connected failed idle out_of_service",
    "ringing": "connected idle out_of_service",
    "connected": "dialtone ringback failed idle out_of_service",
    "failed": "dialing connected idle out_of_service",
    "incoming": "ringback idle out_of_service",
    "seizing": "dialing_out idle out_of_service",
    "dialing_out": "connected idle out_of_service",
    "out_of_service": "idle failed",
}


def test_the_table_is_the_documented_one():
    assert {str(old): {str(new) for new in news} for old, news in TRANSITIONS.items()} == \
        {old: set(news.split()) for old, news in EXPECTED.items()}


def _hook_for(state: Leg) -> list[bool]:
    if state in FXS_ON_HOOK:
        return [False]
    if state in FXS_OFF_HOOK:
        return [True]
    return [False, True]


@pytest.mark.parametrize(("old", "new"), list(itertools.product(Leg, Leg)))
def test_every_transition_of_an_fxs_port(old, new):
    if old not in FXS_STATES:
        return
    for off_hook in _hook_for(new):
        legal = new in FXS_STATES and (new is old or new in TRANSITIONS[old])
        problem = transition_problem(old, new, True, off_hook)
        assert (problem is None) is legal, (old, new, off_hook, problem)
        if not legal:
            with pytest.raises(FirmwareError) as error:
                check_transition(4, old, new, True, off_hook)
            assert f"port 4: illegal state change {old} -> {new}" in str(error.value)


@pytest.mark.parametrize(("old", "new"), list(itertools.product(Leg, Leg)))
def test_every_transition_of_an_fxo_port(old, new):
    if old not in FXO_STATES:
        return
    legal = new in FXO_STATES and (new is old or new in TRANSITIONS[old])
    assert (transition_problem(old, new, False, False) is None) is legal, (old, new)


@pytest.mark.parametrize("state", sorted(FXS_ON_HOOK))
def test_an_off_hook_phone_is_never_idle_or_ringing(state):
    old = Leg.OUT_OF_SERVICE if state in TRANSITIONS[Leg.OUT_OF_SERVICE] else Leg.IDLE
    assert "off hook" in transition_problem(old, state, True, off_hook=True)


@pytest.mark.parametrize("state", sorted(FXS_OFF_HOOK))
def test_an_on_hook_phone_is_never_in_an_off_hook_state(state):
    old = Leg.IDLE if state in TRANSITIONS[Leg.IDLE] else Leg.DIALTONE
    assert "on hook" in transition_problem(old, state, True, off_hook=False)


def test_dialing_out_is_no_state_of_a_phone():
    assert "not a state of an fxs port" in transition_problem(Leg.DIALING, Leg.DIALING_OUT, True, True)


# ----------------------------------------------------------------------------- call control


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple] = []


def control(card: StubCard | None = None) -> tuple[CallControl, list]:
    records: list = []
    config = demo_config()
    cc = CallControl(config, PORT_IS_FXS, get_plan(str(config.zone)), card or StubCard(),
                     PlayerBank(len(PORT_IS_FXS)), Mixer(len(PORT_IS_FXS), len(PORT_IS_FXS)),
                     records.append, ORIGIN, EventLogger("test"))
    return cc, records


def off_hook(cc: CallControl, port: int) -> None:
    cc.hook_changed(port, True)


def test_set_state_goes_through_the_table():
    cc, _ = control()
    with pytest.raises(FirmwareError, match="port 2: illegal state change idle -> connected"):
        cc.set_state(2, Leg.CONNECTED)
    assert cc.state(2) is Leg.IDLE  # nothing changed
    with pytest.raises(FirmwareError, match="on hook"):
        cc.set_state(2, Leg.DIALTONE)
    off_hook(cc, 2)
    cc.set_state(2, Leg.DIALTONE)
    assert cc.state(2) is Leg.DIALTONE
    with pytest.raises(FirmwareError, match="port 9 does not exist"):
        cc.state(9)


def test_an_internal_call_rings_answers_and_ends_with_its_record():
    card = StubCard()
    cc, records = control(card)
    stopped, ended = [], []
    cc.on_ringing_stopped(stopped.append)
    cc.on_before_end(ended.append)
    off_hook(cc, 2)
    cc.dial_tone(2, cc.plan.dial)
    cc.set_state(2, Leg.DIALING)
    call = cc.new_call(2, Direction.INTERNAL, "201", "Reception")
    cc.ring_targets(call, [3])
    assert cc.state(3) is Leg.RINGING and cc.state(2) is Leg.RINGBACK and ("ring", 3) in card.commands
    assert cc.tone(2) == "ringback"
    off_hook(cc, 3)
    cc.answer(call, 3)
    assert cc.state(2) is cc.state(3) is Leg.CONNECTED and stopped == [3]
    assert (2, 3) in cc.bridged_pairs() or (3, 2) in cc.bridged_pairs()
    cc.hook_changed(3, False)  # 202 hangs up
    cc.end_call(call, HangupBy.CALLEE, "normal_clearing")
    cc.reset_port(3)
    assert ended == [call] and cc.state(3) is Leg.IDLE
    assert cc.state(2) is Leg.FAILED and cc.tone(2) == "busy"  # 201 still off hook: busy tone
    [record] = records
    assert record.disposition is Disposition.ANSWERED and (record.src_port, record.dst_port) == (2, 3)
    assert cc.calls == {}


def test_ring_targets_with_nobody_free_is_busy():
    cc, records = control()
    off_hook(cc, 3)
    cc.dial_tone(3, cc.plan.dial)  # 202 is off hook: cannot ring
    off_hook(cc, 2)
    cc.dial_tone(2, cc.plan.dial)
    call = cc.new_call(2, Direction.INTERNAL, "201", "")
    cc.ring_targets(call, [3])
    assert records[0].disposition is Disposition.BUSY and cc.state(2) is Leg.FAILED and cc.tone(2) == "busy"


def test_say_then_wait_for_on_hook():
    cc, _ = control()
    off_hook(cc, 4)
    cc.dial_tone(4, cc.plan.dial)
    cc.say(4, np.ones(800), Then.WAIT_ON_HOOK)
    assert cc.state(4) is Leg.FAILED and cc.playing(4) and cc.call_at(4) is None
    assert not cc.timers.pending((4, "digits"))


def test_say_then_digits_keeps_the_phone_dialling():
    cc, _ = control()
    off_hook(cc, 4)
    cc.dial_tone(4, cc.plan.dial)
    cc.say(4, np.ones(800), Then.DIGITS)
    assert cc.state(4) is Leg.DIALING and cc.playing(4)


def test_fail_plays_the_tone_until_on_hook():
    cc, _ = control()
    off_hook(cc, 5)
    cc.dial_tone(5, cc.plan.dial)
    cc.fail(5, "congestion")
    assert cc.state(5) is Leg.FAILED and cc.tone(5) == "congestion" and cc.timers.pending((5, "failed_tone"))


def test_a_service_rings_a_phone_and_withdraws_the_offer():
    card = StubCard()
    cc, _ = control(card)
    call = cc.new_call(0, Direction.INBOUND, "5551234", "")
    cc.set_state(0, Leg.INCOMING)
    cc.set_state(0, Leg.RINGBACK)
    assert cc.ring(call, 4, CallerId(number="5551234", name="support"))
    assert cc.state(4) is Leg.RINGING and call.ringing == [4]
    cc.stop_ring_for(call, 4)
    assert cc.state(4) is Leg.IDLE and call.ringing == [] and ("stop_ring", 4) in card.commands
    off_hook(cc, 5)
    assert not cc.ring(call, 5, CallerId(number="1"))  # off hook: cannot ring


def test_a_line_that_cannot_be_put_through_hears_the_tone_then_is_released():
    card = StubCard()
    cc, records = control(card)
    released = []
    cc.on_line_released(released.append)
    call = cc.new_call(0, Direction.INBOUND, "", "")
    cc.set_state(0, Leg.INCOMING)
    cc.set_state(0, Leg.RINGBACK)
    cc.caller_fails(call, "congestion", "destination_unavailable", Disposition.FAILED)
    assert cc.state(0) is Leg.FAILED and cc.timers.pending((0, "release_line"))
    cc.release_line(0)
    assert released == [0] and ("release", 0) in card.commands and cc.state(0) is Leg.IDLE
    assert records[0].hangup_cause == "destination_unavailable"


def test_routing_needs_a_router():
    cc, _ = control()
    call = cc.new_call(0, Direction.INBOUND, "", "")
    with pytest.raises(FirmwareError, match="no router"):
        cc.dial_out(call, "95551234")


def test_read_hook_asks_the_card():
    card = StubCard()
    cc, _ = control(card)
    card.hooks[5] = True
    assert cc.read_hook(5) is True and cc.off_hook(5)


def test_an_offer_for_a_call_the_box_answered_can_be_withdrawn():
    """An extension that dialled a queue's number is answered by the box; the agent's phone
    rung for it must still stop when the offer is withdrawn."""
    card = StubCard()
    cc, _ = control(card)
    off_hook(cc, 2)
    cc.dial_tone(2, cc.plan.dial)
    call = cc.new_call(2, Direction.INTERNAL, "201", "")
    call.answer_tick = cc.tick
    cc.set_state(2, Leg.RINGBACK)
    assert cc.ring(call, 5, CallerId(number="201", name="support"))
    cc.stop_ring_for(call, 5)
    assert cc.state(5) is Leg.IDLE and ("stop_ring", 5) in card.commands
