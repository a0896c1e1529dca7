"""Helpers for the extension-feature tests (tests/test_engine_features_*.py).

Every test runs the whole appliance on the virtual board (card emulator over a real pty,
simulated phones and exchange lines, the real switch and media loop), unpaced and seeded,
so runs are deterministic. Phones and far ends "talk" distinct single tones, and what a
party hears is checked by spectrum: :func:`band_fraction` is the share of a signal's
power within a few Hz of a frequency.

The demo office: exchange lines on ports 0-1, extensions 201-204 on ports 2-5, ring
group 600, zone us; ``ORIGIN`` is a Wednesday 10:00 in New York (business hours).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np

from board.virtual.pstn import FarEnd
from dsp.callerid import CallerId
from dsp.levels import dbm0_to_peak
from firmware.config.model import Config, Contact, Extension
from linebox.appliance import Appliance, open_virtual_appliance

ORIGIN = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)
LINE_1, LINE_2 = 0, 1
PORT = {"201": 2, "202": 3, "203": 4, "204": 5}
TICKS_PER_S = 50
# What each party says (single tones away from the DTMF and call-progress frequencies).
VOICE_HZ = {2: 500.0, 3: 1100.0, 4: 1700.0, 5: 2300.0, LINE_1: 900.0, LINE_2: 1900.0}
HEARS = 0.05  # a talker is heard: at least this share of the power in its band
SILENT = 0.002  # a talker is not heard


def sine(hz: float, seconds: float = 1.0, level_dbm0: float = -10.0) -> np.ndarray:
    """A whole number of periods of ``hz`` (so it loops seamlessly), int16."""
    n = int(round(seconds * 8000))
    t = np.arange(n) / 8000.0
    return np.rint(dbm0_to_peak(level_dbm0) * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def band_fraction(samples: np.ndarray, hz: float, width_hz: float = 20.0) -> float:
    """Share of the power of ``samples`` within ``width_hz`` of ``hz`` (0 for silence)."""
    x = np.asarray(samples, dtype=np.float64)
    if x.size == 0:
        return 0.0
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size))) ** 2
    total = spectrum.sum()
    if total <= 0.0:
        return 0.0
    freqs = np.fft.rfftfreq(x.size, 1 / 8000.0)
    return float(spectrum[np.abs(freqs - hz) <= width_hz].sum() / total)


def rms(samples: np.ndarray) -> float:
    x = np.asarray(samples, dtype=np.float64)
    return float(np.sqrt(np.mean(x * x))) if x.size else 0.0


def best_match(heard: np.ndarray, reference: np.ndarray) -> float:
    """Highest normalised correlation of ``heard`` against any stretch of ``reference``."""
    h = np.asarray(heard, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    n = h.size
    size = 1 << int(np.ceil(np.log2(r.size + n)))
    corr = np.fft.irfft(np.fft.rfft(r, size) * np.conj(np.fft.rfft(h, size)), size)[: r.size - n + 1]
    energy = np.concatenate([[0.0], np.cumsum(r * r)])
    window = energy[n:] - energy[:-n]
    scores = corr / np.sqrt(np.maximum(window, 1e-9) * float(h @ h))
    return float(scores.max())


def with_extensions(config: Config, **changes: dict) -> Config:
    """``config`` with extensions changed: ``with_extensions(c, e202={"call_waiting": False})``."""
    extensions = []
    for extension in config.extensions:
        change = changes.get(f"e{extension.number}")
        extensions.append(replace(extension, **change) if change else extension)
    return replace(config, extensions=tuple(extensions))


@contextmanager
def office(tmp_path: Path, config: Config | None = None, seed: int = 1,
           contacts: Sequence[Contact] = ()) -> Iterator[Appliance]:
    app = open_virtual_appliance(tmp_path / "db.sqlite", paced=False, seed=seed, origin=ORIGIN, config=config,
                                 contacts=contacts)
    try:
        run(app, 0.2)
        yield app
    finally:
        app.close()


def run(app: Appliance, seconds: float) -> None:
    app.loop.run_ticks(int(round(seconds * TICKS_PER_S)))


def state(app: Appliance, port: int) -> str:
    return app.switch.legs[port].leg.value


def talk(app: Appliance, port: int) -> None:
    """The party on ``port`` (phone or line far end) says its tone, over and over."""
    if port in (LINE_1, LINE_2):
        far_end = app.world.line(port).far_end
        assert far_end is not None, f"line {port} has no call"
        far_end.say(np.tile(sine(VOICE_HZ[port]), 120))
    else:
        app.world.phone(port).loop(sine(VOICE_HZ[port]))


def heard(app: Appliance, port: int, ms: int = 1000) -> np.ndarray:
    """The last ``ms`` of what the box sent on ``port``."""
    return app.world.heard(port, last_ms=ms)


def far_end_heard(app: Appliance, line: int, ms: int = 1000) -> np.ndarray:
    return app.world.line(line).far_end.heard(last_ms=ms)


def hears(samples: np.ndarray, port: int) -> float:
    return band_fraction(samples, VOICE_HZ[port])


def internal_call(app: Appliance, caller: str, callee: str, answer: bool = True) -> None:
    """``caller`` dials ``callee``; it rings (and is answered)."""
    phone = app.world.phone(PORT[caller])
    phone.offhook()
    run(app, 0.4)
    phone.dial(callee)
    run(app, 0.8)
    assert state(app, PORT[callee]) == "ringing", app.switch.snapshot()
    if answer:
        app.world.phone(PORT[callee]).offhook()
        run(app, 0.4)
        assert state(app, PORT[caller]) == state(app, PORT[callee]) == "connected", app.switch.snapshot()


def dial(app: Appliance, extension: str, digits: str, seconds: float = 1.0) -> None:
    phone = app.world.phone(PORT[extension])
    if not phone.is_offhook:
        phone.offhook()
        run(app, 0.4)
    phone.dial(digits)
    run(app, seconds)


def flash(app: Appliance, extension: str, seconds: float = 0.6) -> None:
    app.world.phone(PORT[extension]).flash(300)  # inside every zone's flash window (US: 80-800 ms)
    run(app, seconds)


def hang_up(app: Appliance, extension: str, seconds: float = 1.2) -> None:
    """On hook; the card reports it after its flash window (800 ms in the US)."""
    app.world.phone(PORT[extension]).hangup()
    run(app, seconds)


def inbound_call(app: Appliance, line: int, number: str = "2125557788", seconds: float = 7.0) -> None:
    """An outside caller rings ``line`` (with caller ID) and is routed; the far end waits to talk."""
    app.world.line(line).ring(caller_id=CallerId(number=number, name="OUTSIDE"), far_end=FarEnd())
    run(app, seconds)


def records(app: Appliance) -> list:
    app.cdr_writer.drain()
    return list(app.cdr.records())


class EventLog(logging.Handler):
    """Collects the switch's log events (name and fields) for a test."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.events: list[tuple[str, dict]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.events.append((record.getMessage(), dict(getattr(record, "fields", {}))))

    def named(self, name: str) -> list[dict]:
        return [fields for event, fields in self.events if event == name]


@contextmanager
def switch_events(component: str = "switch") -> Iterator[EventLog]:
    logger = logging.getLogger(f"linebox.{component}")
    handler = EventLog()
    old_level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def extension(app: Appliance, number: str) -> Extension:
    """The extension as the switch sees it now."""
    return app.switch.config.extension(number)
