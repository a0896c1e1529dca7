"""The receiver's two sample paths give the same events: with TICK_PATH_MIN_CHANNELS
channels or more, blocks of whole 5 ms sub-blocks of 160-640 samples (the engine's 20 ms
tick) skip the sliding sample buffer that every other block goes through
(dsp/dtmf_frames.py, ``_TICK_MAX_SAMPLES``)."""

from __future__ import annotations

import numpy as np

from dsp.dtmf import DtmfDetector, DtmfDigit
from dsp.dtmf_frames import TICK_PATH_MIN_CHANNELS
from linebox.bench.dtmf import make_audio


def _events(x: np.ndarray, blocks: list[int]) -> list:
    detector = DtmfDetector(x.shape[0])
    events, at = [], 0
    for block in blocks:
        events += detector.process(x[:, at : at + block])
        at += block
    assert at >= x.shape[1]
    return events + detector.finish()


def _every(block: int, n: int) -> list[int]:
    return [block] * -(-n // block)


def test_bench_audio_gives_the_same_events_in_ticks_as_through_the_sliding_buffer():
    # Speech, noise and DTMF bursts, as `linebox bench dtmf`, on enough channels for the tick path.
    x = make_audio(TICK_PATH_MIN_CHANNELS, 2.0, seed=3)
    reference = _events(x, _every(1000, x.shape[1]))  # 1000 samples: never the tick path
    assert sum(1 for event in reference if isinstance(event, DtmfDigit)) > 200
    for tick in (160, 200, 640):
        assert _events(x, _every(tick, x.shape[1])) == reference, tick


def test_switching_between_the_paths_mid_stream_changes_no_event():
    x = make_audio(TICK_PATH_MIN_CHANNELS, 2.0, seed=5)
    reference = _events(x, _every(1000, x.shape[1]))
    rng = np.random.default_rng(9)
    # Tick-path lengths, lengths that leave samples held, and lengths beyond the tick path.
    choices = [160, 160, 160, 200, 320, 640, 37, 3, 40, 120, 680, 1000]
    blocks, total = [], 0
    while total < x.shape[1]:
        blocks.append(int(rng.choice(choices)))
        total += blocks[-1]
    assert len(set(blocks)) > 6
    assert _events(x, blocks) == reference
