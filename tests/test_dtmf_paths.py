"""The receiver gives the same events whatever the blocks it is fed, on the benchmark's audio
(speech, noise and DTMF bursts): the kernel completes a sub-block from samples it holds, from
the block itself, or both (dsp/dtmf_kernel.py), and long blocks go in pieces (dsp/dtmf.py)."""

from __future__ import annotations

import numpy as np

from dsp.dtmf import CHUNK_SAMPLES, DtmfDetector, DtmfDigit
from linebox.bench.dtmf import make_audio

CHANNELS = 64


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


def test_bench_audio_gives_the_same_events_in_ticks_as_in_long_blocks():
    x = make_audio(CHANNELS, 4.0, seed=3)
    reference = _events(x, _every(1000, x.shape[1]))  # 1000 samples: held samples, then pieces
    assert sum(1 for event in reference if isinstance(event, DtmfDigit)) > 25
    for tick in (160, 200, 640, CHUNK_SAMPLES + 40, x.shape[1]):
        assert _events(x, _every(tick, x.shape[1])) == reference, tick


def test_block_lengths_mixed_mid_stream_change_no_event():
    x = make_audio(CHANNELS, 4.0, seed=5)
    reference = _events(x, _every(1000, x.shape[1]))
    rng = np.random.default_rng(9)
    # Whole sub-blocks, lengths that leave samples held, and lengths cut into pieces.
    choices = [160, 160, 160, 200, 320, 640, 37, 3, 40, 120, 680, 1000]
    blocks, total = [], 0
    while total < x.shape[1]:
        blocks.append(int(rng.choice(choices)))
        total += blocks[-1]
    assert len(set(blocks)) > 6
    assert _events(x, blocks) == reference


def test_int16_and_float_blocks_give_the_same_events():
    x = make_audio(8, 4.0, seed=4)
    assert _events(x, _every(160, x.shape[1])) == _events(x.astype(np.float64), _every(160, x.shape[1]))
