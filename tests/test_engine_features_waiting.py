"""Call waiting end to end on the virtual board: the tone over the conversation, caller ID on
call waiting (GR-30-CORE type II: SAS + CAS, the phone's DTMF D acknowledgement, FSK), the
caller's ringback, answering by flash, swapping, recall, and the cases without it.

The phone on the busy extension plays a type II phone: it listens for the CAS and answers
with DTMF D as the CAS ends (GR-30 gives it 100 ms).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from features_helpers import (
    HEARS,
    SILENT,
    band_fraction,
    best_match,
    dial,
    flash,
    hang_up,
    heard,
    hears,
    internal_call,
    office,
    records,
    run,
    state,
    switch_events,
    talk,
    with_extensions,
)

from dsp.callerid_fsk import CallerIdReceiver
from firmware.config.demo import demo_config
from firmware.config.model import Zone

BUSY_PHONE = 3  # 202, talking to 201 (port 2) when 203 (port 4) calls


def _cas(block: np.ndarray) -> bool:
    """The GR-30 CAS (2130 + 2750 Hz) fills this block."""
    return band_fraction(block, 2130, 60) > 0.3 and band_fraction(block, 2750, 60) > 0.3


def run_type2_phone(app, seconds: float, acknowledge: bool = True, delay_ms: int = 0) -> list[np.ndarray]:
    """Runs tick by tick; the busy phone answers a CAS with DTMF D ``delay_ms`` after its end (its
    handset muted meanwhile, as a type II phone does). Returns what it heard, per tick."""
    phone = app.world.phone(BUSY_PHONE)
    blocks, cas_over_at, acked_at = [], None, None
    in_cas = False
    for index in range(int(seconds * 50)):
        app.loop.step()
        block = app.world.heard(BUSY_PHONE, last_ms=20)
        blocks.append(block)
        if _cas(block):
            in_cas = True
        elif in_cas and cas_over_at is None:
            cas_over_at = index
        if (cas_over_at is not None and acked_at is None and acknowledge
                and (index - cas_over_at) * 20 >= delay_ms):
            phone.stop_talking()
            phone.dial("D", on_ms=60.0, off_ms=20.0)
            acked_at = index
        if acked_at is not None and index == acked_at + 25:
            talk(app, BUSY_PHONE)  # the handset is back after the data
    return blocks


def _waiting_call(app, acknowledge: bool = True, delay_ms: int = 0) -> list[np.ndarray]:
    internal_call(app, "201", "202")
    talk(app, 2)
    talk(app, 3)
    run(app, 0.5)
    app.world.phone(4).offhook()
    run(app, 0.4)
    app.world.phone(4).dial("202")
    return run_type2_phone(app, 4.0, acknowledge, delay_ms)


def test_call_waiting_alert_caller_id_and_ringback(tmp_path):
    with office(tmp_path) as app, switch_events() as events:
        blocks = _waiting_call(app)
        assert state(app, 4) == "ringback" and state(app, BUSY_PHONE) == "connected"
        caller = heard(app, 4, 3000)  # ringback 2 s on, 4 s off
        assert band_fraction(caller, 440) + band_fraction(caller, 480) > 0.9  # ringback
        cas = [i for i, block in enumerate(blocks) if _cas(block)]
        assert len(cas) in (4, 5)  # 80 ms
        sas = np.concatenate(blocks[cas[0] - 14 : cas[0]])  # the 280 ms before the CAS
        assert band_fraction(sas, 440) > 0.9  # SAS: the call-waiting tone's burst, 440 Hz
        assert hears(sas, 2) < SILENT  # the conversation is muted under the alert
        audio = np.concatenate(blocks).astype(np.float64)[None, :]
        receiver = CallerIdReceiver(1, "bell202")
        messages = receiver.process(audio) + receiver.flush()
        (message,) = [m.message for m in messages if m.message.checksum_ok]
        assert (message.caller.number, message.caller.name) == ("203", "Support")
        assert events.named("call_waiting_ack")
        assert app.switch.waiting.state(BUSY_PHONE) == "tone"
        assert hears(heard(app, BUSY_PHONE), 2) > 0.9  # the voice path is back
        assert hears(heard(app, 2), BUSY_PHONE) > 0.9


@pytest.mark.parametrize(("delay_ms", "sent"), [(0, True), (100, True), (400, False), (600, False)])
def test_acknowledgement_window(tmp_path, delay_ms, sent):
    """GR-30-CORE: the phone acknowledges within 100 ms of the CAS end; a later D gets no data."""
    with office(tmp_path) as app, switch_events() as events:
        blocks = _waiting_call(app, delay_ms=delay_ms)
        audio = np.concatenate(blocks).astype(np.float64)[None, :]
        receiver = CallerIdReceiver(1, "bell202")
        decoded = [m for m in receiver.process(audio) + receiver.flush() if m.message.checksum_ok]
        assert bool(decoded) is sent and bool(events.named("call_waiting_ack")) is sent
        assert hears(heard(app, BUSY_PHONE), 2) > 0.9  # the conversation is back either way


def test_no_acknowledgement_no_caller_id_and_the_tone_repeats(tmp_path):
    with office(tmp_path) as app, switch_events() as events:
        blocks = _waiting_call(app, acknowledge=False)
        audio = np.concatenate(blocks).astype(np.float64)[None, :]
        receiver = CallerIdReceiver(1, "bell202")
        assert receiver.process(audio) + receiver.flush() == []
        assert events.named("call_waiting_no_ack") and not events.named("call_waiting_ack")
        assert hears(heard(app, BUSY_PHONE), 2) > 0.9
        quiet = heard(app, BUSY_PHONE, 3000)  # between the bursts: the conversation only
        assert band_fraction(quiet, 440) < SILENT
        run(app, 6.8)  # past 10 s after the first burst: the second (US: 440 Hz 300 ms every 10 s)
        burst = heard(app, BUSY_PHONE, 1000)
        assert band_fraction(burst, 440) > HEARS and hears(burst, 2) > HEARS  # over the conversation


def test_flash_answers_the_waiting_call_swaps_and_recalls_the_held_one(tmp_path):
    with office(tmp_path) as app:
        _waiting_call(app)
        talk(app, 4)
        music = app.switch.flash.hold_music[: 8000 * 10]
        flash(app, "202", seconds=1.6)  # answer the waiting call, 201 goes on hold
        assert state(app, 4) == state(app, BUSY_PHONE) == "connected"
        assert hears(heard(app, BUSY_PHONE), 4) > 0.9 and hears(heard(app, 4), BUSY_PHONE) > 0.9
        assert best_match(heard(app, 2, 500), music) > 0.99
        flash(app, "202", seconds=1.6)  # swap: back to 201, 203 on hold
        assert hears(heard(app, BUSY_PHONE), 2) > 0.9 and hears(heard(app, 2), BUSY_PHONE) > 0.9
        assert best_match(heard(app, 4, 500), music) > 0.99
        flash(app, "202", seconds=1.6)  # and back to 203
        assert hears(heard(app, BUSY_PHONE), 4) > 0.9
        hang_up(app, "202")  # the active call (203) ends; the phone rings with 201 on hold
        assert state(app, 4) == "failed" and state(app, BUSY_PHONE) == "ringing"
        app.world.phone(BUSY_PHONE).offhook()
        run(app, 1.0)
        assert state(app, BUSY_PHONE) == state(app, 2) == "connected"
        assert hears(heard(app, BUSY_PHONE), 2) > 0.9
        (ended,) = records(app)
    assert (ended.src_port, ended.dst_port, ended.hangup_by) == (4, BUSY_PHONE, "callee")
    assert ended.disposition == "ANSWERED"


def test_hanging_up_with_a_call_waiting_rings_the_phone_with_it(tmp_path):
    with office(tmp_path) as app:
        _waiting_call(app)
        hang_up(app, "202")
        assert state(app, 2) == "failed" and state(app, BUSY_PHONE) == "ringing" and state(app, 4) == "ringback"
        app.world.phone(BUSY_PHONE).offhook()
        run(app, 0.5)
        assert state(app, BUSY_PHONE) == state(app, 4) == "connected"


def test_the_waiting_caller_gives_up(tmp_path):
    with office(tmp_path) as app, switch_events() as events:
        _waiting_call(app)
        hang_up(app, "203")
        assert events.named("call_waiting_withdrawn")
        assert app.switch.waiting.pending(BUSY_PHONE) is None
        run(app, 10.0)  # no more call-waiting bursts
        assert band_fraction(heard(app, BUSY_PHONE, 10000), 440) < SILENT


def test_without_call_waiting_the_caller_hears_busy(tmp_path):
    config = with_extensions(demo_config(), e202={"call_waiting": False})
    with office(tmp_path, config=config) as app:
        internal_call(app, "201", "202")
        dial(app, "203", "202")
        assert state(app, 4) == "failed" and app.switch.waiting.pending(BUSY_PHONE) is None
        busy = heard(app, 4, 1000)
        assert band_fraction(busy, 480) + band_fraction(busy, 620) > 0.9


def test_v23_zone_caller_id_on_call_waiting(tmp_path):
    config = replace(demo_config(), zone=Zone.DE)
    with office(tmp_path, config=config) as app:
        blocks = _waiting_call(app)
        cas = [i for i, block in enumerate(blocks) if _cas(block)]
        sas = np.concatenate(blocks[cas[0] - 10 : cas[0]])
        assert band_fraction(sas, 425) > 0.9 and hears(sas, 2) < SILENT  # DE call-waiting burst, 200 ms
        audio = np.concatenate(blocks).astype(np.float64)[None, :]
        receiver = CallerIdReceiver(1, "v23")
        messages = receiver.process(audio) + receiver.flush()
        (message,) = [m.message for m in messages if m.message.checksum_ok]
        assert message.caller.number == "203"


def test_dtmf_caller_id_zone_gets_the_tone_alone_over_the_conversation(tmp_path):
    config = replace(demo_config(), zone=Zone.NL)
    with office(tmp_path, config=config) as app:
        blocks = _waiting_call(app)
        assert not any(_cas(block) for block in blocks)
        first = np.concatenate(blocks[:60])
        assert band_fraction(first, 425) > HEARS and hears(first, 2) > HEARS  # not muted
        assert app.switch.waiting.state(BUSY_PHONE) == "tone"
