"""Message-waiting indication (firmware/voicemail/mwi.py) on the virtual board: the stutter
dial tone (cadence checked by energy in 100 ms windows) and the on-hook FSK indication,
decoded by the project's caller-ID receiver and by Debian's minimodem (an independent
Bell 202 demodulator; a missing minimodem or sox is an error here, as in
tests/test_callerid_minimodem.py).
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from features_helpers import ORIGIN, PORT, band_fraction, dial, hang_up, office, run, state, switch_events

from drivers.audiofile import read_audio, write_wav
from dsp.callerid import decode_message, encode_mwi
from dsp.callerid_fsk import CallerIdReceiver
from dsp.toneplans import CONTINUOUS, get_plan
from firmware.config.model import CallerIdStandard
from firmware.media.featuretones import STUTTER_BURSTS, message_waiting_dial_tone
from firmware.media.words import PROMPT_DIR
from firmware.voicemail.mwi import MessageWaiting, mwi_audio
from firmware.voicemail.store import VoicemailStore

WINDOW_MS = 100
EDGE_MS = 15  # each window's edges are left out: the onset is found to within a few ms
LOUD = 500.0  # rms of a window with tone in it (US dial tone: -13 dBm0 per frequency, ~1600 rms)
QUIET = 50.0


@pytest.fixture(scope="module")
def voice() -> np.ndarray:
    return read_audio(PROMPT_DIR / "tt-weasels.wav").astype(np.float64)


def leave(store: VoicemailStore, samples: np.ndarray, mailbox: str = "201"):
    return store.save(mailbox, "2125557788", "OUTSIDE", ORIGIN.timestamp(), samples)


def window_levels(samples: np.ndarray, count: int) -> list[float]:
    """rms of ``count`` 100 ms windows from the tone's onset (edges left out)."""
    x = np.asarray(samples, dtype=np.float64)
    loud = np.flatnonzero(np.abs(x) > LOUD)
    assert loud.size, "no tone heard"
    onset = int(loud[0])
    step, edge = WINDOW_MS * 8, EDGE_MS * 8
    levels = []
    for i in range(count):
        part = x[onset + i * step + edge : onset + (i + 1) * step - edge]
        assert part.size == step - 2 * edge, "not enough audio"
        levels.append(float(np.sqrt(np.mean(part * part))))
    return levels


def off_hook_and_hear(app, extension: str, seconds: float) -> np.ndarray:
    start = app.switch.tick
    app.world.phone(PORT[extension]).offhook()
    run(app, seconds)
    return app.world.heard(PORT[extension], last_ms=(app.switch.tick - start) * 20)


def fsk_messages(samples: np.ndarray, standard: str = "bell202") -> list:
    receiver = CallerIdReceiver(1, standard)
    block = np.asarray(samples, dtype=np.float64)[np.newaxis, :]
    return [received.message for received in receiver.process(block) + receiver.flush()]


def heard_since(app, extension: str, tick: int) -> np.ndarray:
    return app.world.heard(PORT[extension], last_ms=(app.switch.tick - tick) * 20)


# ---------------------------------------------------------------- the tone (pure)


@pytest.mark.parametrize("zone", ["us", "de", "uk", "it", "au"])
def test_stutter_dial_tone_is_ten_bursts_then_steady_on_the_zones_dial_frequency(zone):
    plan = get_plan(zone)
    tone = message_waiting_dial_tone(plan)
    dial_frequency = plan.dial.frequencies()[0]
    assert STUTTER_BURSTS == 10 and len(tone.segments) == 2 * STUTTER_BURSTS + 1
    for i in range(STUTTER_BURSTS):
        on, off = tone.segments[2 * i], tone.segments[2 * i + 1]
        assert (on.duration_ms, on.frequency) == (100.0, dial_frequency)
        assert (off.duration_ms, off.frequency) == (100.0, None)
    assert tone.segments[-1].duration_ms == CONTINUOUS and tone.segments[-1].frequency == dial_frequency
    assert tone.level_dbm0 == plan.dial.level_dbm0 and tone.name == "mwi_dial"


def test_no_fsk_indication_in_dtmf_caller_id_zones():
    assert mwi_audio(CallerIdStandard.DTMF, True) is None
    for standard, modulation in ((CallerIdStandard.BELL202, "bell202"), (CallerIdStandard.V23, "v23"),
                                 (CallerIdStandard.V23_BT, "v23")):
        for on in (True, False):
            messages = fsk_messages(np.concatenate([mwi_audio(standard, on), np.zeros(800)]), modulation)
            assert [m.mwi for m in messages] == [on]


# ---------------------------------------------------------------- on the board


def test_stutter_dial_tone_with_unheard_messages_plain_without(tmp_path, voice):
    with office(tmp_path) as app:
        store = app.voicemail.store
        assert isinstance(app.voicemail.mwi, MessageWaiting)
        plain = window_levels(off_hook_and_hear(app, "201", 3.0), 25)
        assert min(plain) > LOUD, "no messages: the plain, steady dial tone"
        assert app.switch.players.tone(PORT["201"]) == "dial"
        hang_up(app, "201")

        message = leave(store, voice)
        run(app, 2.0)
        audio = off_hook_and_hear(app, "201", 3.0)
        levels = window_levels(audio, 25)
        assert all(level > LOUD for level in levels[0:20:2]), levels  # bursts: 100 ms on ...
        assert all(level < QUIET for level in levels[1:20:2]), levels  # ... 100 ms off, ten times
        assert all(level > LOUD for level in levels[20:25]), levels  # then steady
        for hz in (350.0, 440.0):
            assert band_fraction(audio[-4000:], hz) > 0.3  # the zone's dial-tone frequencies
        assert app.switch.players.tone(PORT["201"]) == "mwi_dial"
        assert app.switch.players.tone(PORT["202"]) is None
        hang_up(app, "201")

        store.mark_heard(message.id)  # heard: the plain tone again
        run(app, 2.0)
        assert min(window_levels(off_hook_and_hear(app, "201", 3.0), 25)) > LOUD


def test_dialling_works_over_the_stutter_tone(tmp_path, voice):
    with office(tmp_path) as app:
        leave(app.voicemail.store, voice)
        run(app, 2.0)
        dial(app, "201", "202", 1.0)  # the first digit during the first bursts
        assert state(app, PORT["202"]) == "ringing"
        assert app.switch.players.tone(PORT["201"]) == "ringback"


def test_visual_indication_on_then_off_decoded_by_our_receiver(tmp_path, voice):
    with office(tmp_path) as app:
        store = app.voicemail.store
        start = app.switch.tick
        with switch_events("voicemail") as events:
            message = leave(store, voice)
            run(app, 2.0)
        on = heard_since(app, "201", start)
        assert [m.mwi for m in fsk_messages(on)] == [True]
        assert [(e["port"], e["waiting"]) for e in events.named("mwi_sent")] == [(PORT["201"], True)]
        assert events.named("mwi") == [{"mailbox": "201", "waiting": True, "unheard": 1}]
        assert fsk_messages(heard_since(app, "202", start)) == []  # only the mailbox's phone

        run(app, 3.0)  # a state is sent once
        start = app.switch.tick
        second = leave(store, voice)  # still waiting: nothing new to send
        run(app, 2.0)
        assert fsk_messages(heard_since(app, "201", start)) == []

        start = app.switch.tick
        store.mark_heard(message.id)
        store.delete(second.id)
        run(app, 2.0)
        assert [m.mwi for m in fsk_messages(heard_since(app, "201", start))] == [False]


def test_indication_waits_until_the_phone_is_idle(tmp_path, voice):
    with office(tmp_path) as app:
        with switch_events("voicemail") as events:
            app.world.phone(PORT["201"]).offhook()
            run(app, 0.5)
            leave(app.voicemail.store, voice)
            run(app, 3.0)
            assert events.named("mwi_sent") == []  # off-hook: not now
            start = app.switch.tick
            hang_up(app, "201")
            run(app, 1.5)
        assert [e["waiting"] for e in events.named("mwi_sent")] == [True]
        assert [m.mwi for m in fsk_messages(heard_since(app, "201", start))] == [True]


def test_mailboxes_with_messages_are_indicated_at_start(tmp_path, voice):
    store = VoicemailStore(tmp_path / "db.sqlite", tmp_path / "voicemail")
    leave(store, voice)
    store.close()
    with office(tmp_path) as app:
        assert app.voicemail.mwi.waiting["201"] is True
        run(app, 1.5)
        assert [m.mwi for m in fsk_messages(app.world.heard(PORT["201"]))] == [True]
        levels = window_levels(off_hook_and_hear(app, "201", 2.5), 20)
        assert levels[1] < QUIET < LOUD < levels[0]


def test_minimodem_reads_the_indication(tmp_path, voice):
    sox, minimodem = shutil.which("sox"), shutil.which("minimodem")
    assert sox and minimodem, "sox and minimodem are installed by make install"
    with office(tmp_path) as app:
        for on in (True, False):
            start = app.switch.tick
            if on:
                message = leave(app.voicemail.store, voice)
            else:
                app.voicemail.store.mark_heard(message.id)
            run(app, 2.0)
            audio = heard_since(app, "201", start)
            write_wav(tmp_path / "x8.wav", audio)
            subprocess.run([sox, str(tmp_path / "x8.wav"), "-r", "48000", str(tmp_path / "x48.wav")],
                           check=True, timeout=30)
            out = subprocess.run([minimodem, "--rx", "1200", "-q", "-f", str(tmp_path / "x48.wav")],
                                 capture_output=True, check=True, timeout=30).stdout
            # channel seizure (0x55...), then the message. minimodem may print a noise byte while it
            # locks onto the carrier, and more after the message: the 20 bytes before it must be seizure.
            start_byte = out.index(0x82)
            assert start_byte >= 20 and set(out[start_byte - 20:start_byte]) <= {0x55, 0xD5}, out.hex()
            received = decode_message(out[start_byte:start_byte + len(encode_mwi(on))])
            assert received.checksum_ok and received.mwi is on
