"""Which detectors run, from the ports' states (firmware/engine/detector_needs.py): a table
test, and the media loop recomputing them only when call control reports a change."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from firmware.config.demo import demo_config
from firmware.config.model import DisconnectMethod
from firmware.engine.calls import Call, Direction, Leg, PortLeg
from firmware.engine.detector_needs import DetectorNeeds, detector_needs

LINE, PHONE = 0, 2


def legs(line: Leg = Leg.IDLE, phone: Leg = Leg.IDLE, call: Call | None = None) -> list[PortLeg]:
    kinds = [False, False, True, True, True, True]
    out = [PortLeg(port, fxs) for port, fxs in enumerate(kinds)]
    out[LINE].leg, out[PHONE].leg = line, phone
    out[LINE].call = out[PHONE].call = call
    return out


INBOUND_TO_PHONE = Call(1, LINE, Direction.INBOUND, 0, peer=PHONE)
INBOUND_IN_A_QUEUE = Call(2, LINE, Direction.INBOUND, 0)  # the box serves it: no other party
OUTBOUND = Call(3, PHONE, Direction.OUTBOUND, 0, peer=LINE)
PHONE_SERVED = Call(4, PHONE, Direction.INTERNAL, 0)  # a phone calling voicemail: no other party
BUSY_TONE = demo_config()  # lines supervised by polarity, loop current and busy tone
NO_BUSY_TONE = replace(BUSY_TONE, lines=tuple(replace(line, disconnect=(DisconnectMethod.POLARITY_REVERSAL,
                                                                         DisconnectMethod.SILENCE_TIMEOUT))
                                               for line in BUSY_TONE.lines))


@pytest.mark.parametrize("states,config,expected", [
    # every port idle: only caller ID on the idle lines (fields: dial tone, disconnect, caller ID and its
    # lines, DTMF on phones, DTMF on lines, silence-metered lines)
    (legs(), BUSY_TONE, DetectorNeeds(False, False, True, (0, 1), False, False, ())),
    # a phone off hook dialling: DTMF on the phones; the other line still awaits caller ID
    (legs(phone=Leg.DIALING), BUSY_TONE, DetectorNeeds(False, False, True, (0, 1), True, False, ())),
    # the line rings: caller ID
    (legs(line=Leg.INCOMING), BUSY_TONE, DetectorNeeds(False, False, True, (0, 1), False, False, ())),
    # an outside call waiting for dial tone (the phone's keys are taken by nothing until the call ends)
    (legs(line=Leg.SEIZING, phone=Leg.RINGBACK, call=OUTBOUND), BUSY_TONE,
     DetectorNeeds(True, False, True, (1,), False, False, ())),
    # connected to a phone with busy-tone supervision: disconnect tones on the lines; the phone's keys
    # go to the caller in the audio, nothing in the box takes them: no DTMF on the phones
    (legs(line=Leg.CONNECTED, phone=Leg.CONNECTED, call=INBOUND_TO_PHONE), BUSY_TONE,
     DetectorNeeds(False, True, True, (1,), False, False, ())),
    # the same without busy-tone but with silence supervision: the silence meter on that line
    (legs(line=Leg.CONNECTED, phone=Leg.CONNECTED, call=INBOUND_TO_PHONE), NO_BUSY_TONE,
     DetectorNeeds(False, False, True, (1,), False, False, (LINE,))),
    # a caller waiting in a queue (ringback, no other party): their keys matter, silence metered
    (legs(line=Leg.RINGBACK, call=INBOUND_IN_A_QUEUE), NO_BUSY_TONE,
     DetectorNeeds(False, False, True, (1,), False, True, (LINE,))),
    # an outbound call connected: the far end's keys do not matter, nor the phone's
    (legs(line=Leg.CONNECTED, phone=Leg.CONNECTED, call=OUTBOUND), BUSY_TONE,
     DetectorNeeds(False, True, True, (1,), False, False, ())),
    # a phone hearing dial tone (its first digit), or failed (an agent keying a disposition)
    (legs(phone=Leg.DIALTONE), BUSY_TONE, DetectorNeeds(False, False, True, (0, 1), True, False, ())),
    (legs(phone=Leg.FAILED), BUSY_TONE, DetectorNeeds(False, False, True, (0, 1), True, False, ())),
    # a phone ringing (on hook): nothing
    (legs(phone=Leg.RINGING), BUSY_TONE, DetectorNeeds(False, False, True, (0, 1), False, False, ())),
    # a phone in a call the box serves (voicemail's menu, an IVR, a queue): its keys matter
    (legs(phone=Leg.CONNECTED, call=PHONE_SERVED), BUSY_TONE,
     DetectorNeeds(False, False, True, (0, 1), True, False, ())),
    (legs(phone=Leg.RINGBACK, call=PHONE_SERVED), BUSY_TONE,
     DetectorNeeds(False, False, True, (0, 1), True, False, ())),
])
def test_the_detectors_a_state_needs(states, config, expected):
    assert detector_needs(states, config) == expected


def test_a_call_waiting_offer_listens_to_the_phone_in_a_bridged_call():
    states = legs(line=Leg.CONNECTED, phone=Leg.CONNECTED, call=INBOUND_TO_PHONE)
    assert not detector_needs(states, BUSY_TONE).dtmf_phones
    assert detector_needs(states, BUSY_TONE, digits_wanted=frozenset({PHONE})).dtmf_phones


def test_the_loop_recomputes_the_needs_only_when_call_control_reports_a_change():
    from linebox.bench.engine import ORIGIN, QuietCard, SceneAudio
    from linebox.engine_builder import build_engine

    engine = build_engine(demo_config(), [False, False, True, True, True, True], SceneAudio(6, 1), QuietCard(),
                          ORIGIN)
    seen = []
    set_needs = engine.detectors.set_needs
    engine.detectors.set_needs = lambda needs: (seen.append(needs), set_needs(needs))
    engine.loop.run_ticks(50)
    assert len(seen) == 1 and not seen[0].dtmf_phones  # computed once: nothing changed since
    engine.switch.control.hook_changed(PHONE, True)
    engine.switch.control.dial_tone(PHONE, engine.plan.dial)  # a state change
    engine.loop.run_ticks(5)
    assert len(seen) == 2 and seen[1].dtmf_phones


def test_caller_id_runs_only_while_a_line_awaiting_it_carries_audio_and_a_second_after():
    """The receiver sleeps through silence on idle lines and wakes, afresh, for a message."""
    from drivers.audio import TICK_SAMPLES
    from dsp.callerid import CallerId, encode_caller_id
    from dsp.callerid_fsk import fsk_burst
    from dsp.toneplans import get_plan
    from firmware.engine.detectors import CALLER_ID_HANGOVER_TICKS, CallerIdHeard, DetectorBank

    bank = DetectorBank([False, False, True, True, True, True], get_plan("us"), "bell202")
    bank.set_needs(detector_needs(legs(), BUSY_TONE))
    calls = []
    process = bank.fsk.process
    bank.fsk.process = lambda audio: (calls.append(1), process(audio))[1]
    frame = np.zeros((6, TICK_SAMPLES), dtype=np.int16)
    for _ in range(CALLER_ID_HANGOVER_TICKS + 20):
        bank.process(frame)
    assert len(calls) == CALLER_ID_HANGOVER_TICKS - 1  # then asleep
    burst = fsk_burst(encode_caller_id(CallerId(number="5551234"), "mdmf"), "bell202")
    audio = np.concatenate([burst, np.zeros(TICK_SAMPLES * 10)])
    heard = []
    for at in range(0, len(audio) - TICK_SAMPLES, TICK_SAMPLES):
        frame[1] = np.clip(np.rint(audio[at : at + TICK_SAMPLES]), -32768, 32767)
        heard += [e for e in bank.process(frame)[0] if isinstance(e, CallerIdHeard)]
    assert [(e.port, e.caller.number) for e in heard] == [(1, "5551234")]
