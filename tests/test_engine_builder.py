"""The one engine builder (linebox/engine_builder.py): one card for the switch and the loop, and
live rebuilds of the parts that follow the zone, the caller ID standard and the echo lines.
Fast: the engine over a scripted audio device and a stub card, no pty."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from drivers.audio import TICK_SAMPLES, XrunCounters
from drivers.ports import OffHook
from dsp.callerid import CallerId
from dsp.callerid_dtmf import dtmf_callerid_digits
from dsp.callerid_sequence import callerid_sequence, sequence_audio
from dsp.tonegen import render
from dsp.toneplans import get_plan
from firmware.config.demo import demo_config
from firmware.config.model import CallerIdStandard, Zone
from firmware.engine.calls import Leg
from firmware.engine.detectors import CallerIdHeard, ToneHeard
from linebox import LineboxError
from linebox.bench.engine import ORIGIN, QuietCard
from linebox.engine_builder import RESTART_NEEDED, build_engine

PORT_IS_FXS = [False, False, True, True, True, True]  # the demo office: lines 0-1, phones 2-5


class ScriptedAudio:
    """Six ports; what each port sends is queued per port (silence when nothing is queued)."""

    def __init__(self, ports: int = 6) -> None:
        self.ports = ports
        self.counters = XrunCounters()
        self.queued = [np.zeros(0) for _ in range(ports)]
        self.written: list[np.ndarray] = []

    def send(self, port: int, samples: np.ndarray) -> None:
        self.queued[port] = np.concatenate([self.queued[port], samples])

    def read_frame(self) -> np.ndarray:
        frame = np.zeros((self.ports, TICK_SAMPLES), dtype=np.int16)
        for port, samples in enumerate(self.queued):
            chunk = samples[:TICK_SAMPLES]
            frame[port, : len(chunk)] = np.clip(np.rint(chunk), -32768, 32767)
            self.queued[port] = samples[TICK_SAMPLES:]
        return frame

    def write_frame(self, frame: np.ndarray) -> None:
        self.written.append(frame.copy())

    def close(self) -> None:
        return None


class StubCard(QuietCard):
    """Reports the events queued by the test at the next poll; remembers the ring cadences."""

    def __init__(self) -> None:
        self.events: list = []
        self.rung: list[tuple[int, object]] = []

    def poll(self) -> list:
        events, self.events = self.events, []
        return events

    def ring(self, port: int, cadence_ms=None) -> None:
        self.rung.append((port, cadence_ms))


class DetectorSpy:
    """Wraps the bank's ``process`` to keep every event the detectors report."""

    def __init__(self, detectors) -> None:
        self.events: list = []
        self._process = detectors.process
        detectors.process = self

    def __call__(self, frame):
        events, levels = self._process(frame)
        self.events.extend(events)
        return events, levels


def engine_with(config=None, card=None):
    audio = ScriptedAudio()
    engine = build_engine(config or demo_config(), PORT_IS_FXS, audio, card or StubCard(), ORIGIN)
    return engine, audio


def test_the_switch_and_the_loop_share_one_card_and_one_plan():
    card = StubCard()
    engine, _ = engine_with(card=card)
    assert engine.switch.card is card and engine.loop.card is card
    assert engine.switch.plan == get_plan("us") == engine.plan
    assert engine.loop.detectors is engine.detectors
    assert engine.switch.players is engine.players is engine.loop.players
    assert engine.switch.mixer is engine.mixer is engine.loop.mixer


def test_a_board_and_an_audio_device_that_disagree_are_refused():
    with pytest.raises(LineboxError, match="audio device has 6 ports, the board 4"):
        build_engine(demo_config(), PORT_IS_FXS[:4], ScriptedAudio(), StubCard(), ORIGIN)


def dial_tone_heard(engine, audio, card, port: int) -> np.ndarray:
    """Takes ``port`` off hook and returns 200 ms of what it hears from the next tick on."""
    card.events.append(OffHook(port))
    engine.loop.run_ticks(1)  # the off-hook arrives: dial tone starts on this tick's players
    first = len(audio.written) - 1
    engine.loop.run_ticks(9)
    return np.concatenate([frame[port] for frame in audio.written[first:]]).astype(np.float64)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / np.sqrt(np.dot(a, a) * np.dot(b, b)))


def test_a_zone_changed_live_gives_the_next_dial_tone_from_the_new_plan():
    card = StubCard()
    engine, audio = engine_with(card=card)
    us, de = get_plan("us").dial, get_plan("de").dial  # 350+440 Hz; 425 Hz
    heard = dial_tone_heard(engine, audio, card, 2)
    assert correlation(heard, render(us, len(heard))) > 0.99

    engine.config_stored(replace(demo_config(), zone=Zone.DE))
    assert engine.switch.plan == get_plan("us")  # nothing changes until the loop's next tick
    engine.loop.run_ticks(1)  # applied on the loop's thread, between two ticks
    assert engine.switch.plan == get_plan("de")
    heard = dial_tone_heard(engine, audio, card, 3)
    assert correlation(heard, render(de, len(heard))) > 0.99
    assert abs(correlation(heard, render(us, len(heard)))) < 0.2


def test_a_zone_changed_live_reaches_the_call_progress_detector():
    engine, audio = engine_with()
    spy = DetectorSpy(engine.detectors)
    uk_busy = render(get_plan("uk").busy, 8000 * 3)  # 400 Hz, 375 ms on / 375 ms off
    # Call progress runs on a line in a call with busy-tone supervision (detector_needs.py): phone 2
    # calls out; the line it seized is connected.
    card = engine.loop.card
    card.events.append(OffHook(2))
    engine.loop.run_ticks(1)
    for digit in "95551234":
        engine.switch.on_digit(2, digit)
    line = engine.switch.control.call_at(2).peer
    engine.switch.on_tone(line, "dial", True)
    engine.switch.outside.digits_sent(line)
    assert engine.switch.control.state(line) is Leg.CONNECTED

    def busy_heard() -> bool:
        spy.events.clear()
        audio.send(line, uk_busy)
        engine.loop.run_ticks(len(uk_busy) // TICK_SAMPLES + 10)
        return any(isinstance(e, ToneHeard) and e.port == line and e.tone == "busy" for e in spy.events)

    assert not busy_heard()  # not a US busy tone
    engine.config_stored(replace(demo_config(), zone=Zone.UK))
    assert busy_heard()


def test_a_caller_id_standard_changed_live_reaches_the_receiver():
    engine, audio = engine_with()
    spy = DetectorSpy(engine.detectors)
    caller = CallerId(number="5551234")
    digits = sequence_audio(callerid_sequence("dtmf", dtmf_callerid_digits(caller), ring=False))

    def numbers_heard() -> list[str]:
        spy.events.clear()
        audio.send(1, np.r_[digits, np.zeros(8000)])
        engine.loop.run_ticks((len(digits) + 8000) // TICK_SAMPLES + 10)
        return [e.caller.number for e in spy.events if isinstance(e, CallerIdHeard) and e.port == 1]

    assert numbers_heard() == []  # the US zone's receiver listens for Bell 202 FSK
    engine.config_stored(replace(demo_config(), caller_id_standard=CallerIdStandard.DTMF))
    assert numbers_heard() == ["5551234"]


def test_a_snapshot_that_changes_none_of_them_keeps_every_part():
    engine, _ = engine_with()
    before = (engine.detectors.dial_tone, engine.detectors.disconnect, engine.detectors.fsk, engine.detectors.echo, engine.switch.plan)
    config = replace(demo_config(), language="de")
    engine.config_stored(config)
    engine.loop.run_ticks(1)
    assert engine.switch.config is config
    assert (engine.detectors.dial_tone, engine.detectors.disconnect, engine.detectors.fsk, engine.detectors.echo, engine.switch.plan) == before


def test_a_line_whose_canceller_is_switched_off_live_loses_it_and_the_other_keeps_its_own():
    engine, _ = engine_with()
    assert engine.detectors.echo_rows.tolist() == [0, 1]
    config = demo_config()
    off = replace(config, lines=tuple(replace(line, echo_canceller=line.port != 1) for line in config.lines))
    engine.config_stored(off)
    engine.loop.run_ticks(1)
    assert engine.detectors.echo_rows.tolist() == [0]
    assert engine.detectors.echo.channels == 1


def test_only_the_line_card_timing_needs_a_restart():
    assert len(RESTART_NEEDED) == 1 and RESTART_NEEDED[0].startswith("zone: the line card's timing")
