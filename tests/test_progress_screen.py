"""The call-progress bank's screen (dsp/progress_bank.py, ``ToneBank._window_test``) never
changes a decision: a block whose windows' bound reaches neither the ratio nor the level
test is decided without the fit, and that must give exactly what the fit gives.

Compared with the same bank whose screen always lets the fit run (its bound made infinite),
frame by frame (``on`` and the tone level, bit for bit), on the signals nearest the screen's
limits: tones at the level floor (-45 dBm0) and just below it, tones 1 % and 2 % off
frequency, tones buried in noise around the 0.8 energy ratio, a tone's edges, speech and
silence, in every zone's plan, both for all the plan's tones and for the disconnect subset.
"""

from __future__ import annotations

import numpy as np
import pytest
from audio_corpus import speech

from dsp.levels import dbm0_to_rms
from dsp.progress import CallProgressDetector
from dsp.tonegen import render
from dsp.toneplans import ZONES, get_plan

RATE = 8000
CHANNELS = 8
SECONDS = 3


def _signals(zone: str) -> np.ndarray:
    """(CHANNELS, 3 s): tones of ``zone`` near the screen's limits, speech, silence (seeded)."""
    plan = get_plan(zone)
    rng = np.random.default_rng(7)
    n = SECONDS * RATE
    busy, dial = plan.busy, plan.dial
    x = np.zeros((CHANNELS, n))
    x[0] = render(busy.with_level(-45.0), n)  # at the level floor
    x[1] = render(busy.with_level(-46.0), n)  # just below it
    x[2] = render(busy.scaled(frequency=1.01).with_level(-20.0), n)
    x[3] = render(dial.scaled(frequency=0.98).with_level(-20.0), n)
    # Noise near the 0.8 ratio: a -20 dBm0 tone with noise 6-7 dB below it.
    x[4] = render(busy.with_level(-20.0), n) + rng.normal(0.0, dbm0_to_rms(-26.5), n)
    x[5] = render(dial.with_level(-20.0), n) + rng.normal(0.0, dbm0_to_rms(-27.5), n)
    x[6] = speech(SECONDS, rng) * 2.0  # 6 dB hotter than recorded
    x[7, RATE // 2: RATE] = render(busy.with_level(-15.0), RATE // 2)  # edges, then silence
    return x


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("only", [None, ("busy", "congestion")])
def test_the_screen_decides_every_frame_as_the_fit_does(zone, only):
    x = _signals(zone)
    screened = CallProgressDetector(CHANNELS, get_plan(zone), only=only)._bank
    unscreened = CallProgressDetector(CHANNELS, get_plan(zone), only=only)._bank
    unscreened._bound = np.full_like(unscreened._bound, 1e30)  # the fit runs on every block
    ran_the_fit = 0
    for at in range(0, x.shape[1], 4 * 160):  # the engine's 4-tick batches
        block = x[:, at: at + 4 * 160]
        on, level = screened.process(block)
        on_fit, level_fit = unscreened.process(block)
        assert np.array_equal(on, on_fit)
        assert np.array_equal(level, level_fit)
        ran_the_fit += bool(on.any())
    assert ran_the_fit  # the tones were there: the comparison covered decided frames
