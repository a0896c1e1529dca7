"""FSK modem (dsp/fsk.py): Bell 202 and V.23 modulator, batched receiver and UART."""

from __future__ import annotations

import numpy as np
import pytest
from callerid_helpers import feed_in_blocks, on_line

from dsp import SAMPLE_RATE, DspError
from dsp.fsk import (
    BELL202,
    FSK_STANDARDS,
    V23,
    FskReceiver,
    alternating_bits,
    fsk_modulate,
    fsk_standard,
    mark_bits,
    run_lengths,
    uart_bits,
)
from dsp.levels import dbm0_to_peak, signal_dbm0

STANDARDS = [s.name for s in FSK_STANDARDS]


def random_bytes(seed: int, n: int = 40) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def transmission(
    data: bytes, standard: str, level_dbm0: float = -13.5, lead_marks: int = 80, **kw
) -> np.ndarray:
    bits = np.concatenate([mark_bits(lead_marks), uart_bits(data), mark_bits(8)])
    return fsk_modulate(bits, standard, level_dbm0=level_dbm0, **kw)


def receive(x: np.ndarray, standard: str) -> list:
    return FskReceiver(1, standard).process(x)


def values(received) -> bytes:
    return bytes(b.value for b in received)


def peak_hz(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)), n=1 << 17))
    return float(np.argmax(spectrum) * SAMPLE_RATE / (1 << 17))


# --- framing and modulator -------------------------------------------------------------


def test_uart_bits_frame_8n1_lsb_first():
    assert uart_bits(b"\x80").tolist() == [0, 0, 0, 0, 0, 0, 0, 0, 1, 1]
    assert uart_bits(b"\x01").tolist() == [0, 1, 0, 0, 0, 0, 0, 0, 0, 1]
    assert uart_bits(b"\x55").tolist() == [0, 1, 0, 1, 0, 1, 0, 1, 0, 1]  # seizure byte = alternation
    assert uart_bits(b"\x55" * 30).tolist() == alternating_bits(300).tolist()
    assert uart_bits(b"\xff", stop_bits=2).tolist() == [0] + [1] * 8 + [1, 1]
    assert uart_bits(b"").size == 0


@pytest.mark.parametrize("bad", ["text", [1, 2]])
def test_uart_bits_rejects_non_bytes(bad):
    with pytest.raises(DspError):
        uart_bits(bad)


def test_standards_have_the_specified_tones():
    assert (BELL202.mark_hz, BELL202.space_hz, BELL202.bit_rate) == (1200.0, 2200.0, 1200.0)  # GR-30-CORE
    assert (V23.mark_hz, V23.space_hz, V23.bit_rate) == (1300.0, 2100.0, 1200.0)  # ITU-T V.23 mode 2
    assert fsk_standard("v23") is V23
    with pytest.raises(DspError, match="unknown FSK standard"):
        fsk_standard("bell103")


@pytest.mark.parametrize("standard", FSK_STANDARDS, ids=STANDARDS)
@pytest.mark.parametrize("frequency_error", [-0.01, 0.0, 0.01])
def test_modulator_tones_and_level(standard, frequency_error):
    for bit, hz in ((1, standard.mark_hz), (0, standard.space_hz)):
        x = fsk_modulate(np.full(240, bit), standard, level_dbm0=-20.0, frequency_error=frequency_error)
        assert abs(peak_hz(x) - hz * (1 + frequency_error)) < 0.5
        assert abs(signal_dbm0(x) - (-20.0)) < 0.05
        assert np.max(np.abs(x)) <= dbm0_to_peak(-20.0) + 1e-9


@pytest.mark.parametrize("bit_rate_error", [-0.01, 0.0, 0.01])
def test_modulator_length_follows_the_bit_rate(bit_rate_error):
    x = fsk_modulate(alternating_bits(1200), BELL202, bit_rate_error=bit_rate_error)
    assert len(x) == int(np.ceil(1200 * SAMPLE_RATE / 1200.0 / (1 + bit_rate_error) - 1e-9))


@pytest.mark.parametrize("standard", FSK_STANDARDS, ids=STANDARDS)
def test_modulator_phase_is_continuous(standard):
    x = fsk_modulate(alternating_bits(500), standard, level_dbm0=0.0)
    amplitude = dbm0_to_peak(0.0)
    largest_step = 2 * amplitude * np.sin(np.pi * standard.space_hz / SAMPLE_RATE)  # fastest sine's step
    assert np.max(np.abs(np.diff(x))) <= largest_step + 1e-6


def test_modulator_rejects_bad_input():
    with pytest.raises(DspError):
        fsk_modulate(np.array([0, 2, 1]), BELL202)
    with pytest.raises(DspError):
        fsk_modulate(np.zeros((2, 2)), BELL202)
    with pytest.raises(DspError, match="clip"):
        fsk_modulate(mark_bits(10), BELL202, level_dbm0=4.0)
    with pytest.raises(DspError):
        fsk_modulate(mark_bits(10), BELL202, bit_rate_error=float("nan"))
    assert fsk_modulate(mark_bits(0), BELL202).size == 0


# --- receiver ---------------------------------------------------------------------------


@pytest.mark.parametrize("standard", STANDARDS)
def test_clean_round_trip_and_timing(standard):
    data = random_bytes(1, 64)
    x = on_line(transmission(data, standard, lead_marks=180), seed=1, lead=333)
    received = receive(x, standard)
    assert values(received) == data
    bit = SAMPLE_RATE / 1200.0
    first = received[0]
    assert abs(first.start_sample - (333 + 180 * bit)) < 1.0  # leading edge of the start bit
    assert abs(first.mark_bits - 180) < 3
    assert first.gap_bits == np.inf
    assert all(abs(b.gap_bits) < 0.5 for b in received[1:])  # characters back to back
    clean = FskReceiver(1, standard).clean_discriminator
    assert min(b.quality for b in received) > 0.9 * clean  # a bit-long window also sees its neighbours


@pytest.mark.parametrize("standard", STANDARDS)
@pytest.mark.parametrize("level_dbm0", [-6.0, -9.0, -12.0, -15.0, -18.0, -21.0, -24.0, -27.0, -30.0])
def test_level_sweep_at_18_db_snr_with_one_percent_errors(standard, level_dbm0):
    """-6..-30 dBm0 at 18 dB SNR (white noise 0-4 kHz), tones and bit rate off by ±1 %."""
    for k, (frequency_error, bit_rate_error) in enumerate(
        [(-0.01, -0.01), (-0.01, 0.01), (0.01, -0.01), (0.01, 0.01)]
    ):
        data = random_bytes(100 + k)
        signal = transmission(
            data, standard, level_dbm0, frequency_error=frequency_error, bit_rate_error=bit_rate_error
        )
        x = on_line(signal, seed=200 + k, snr_db=18.0, lead=250)
        assert data in values(receive(x, standard)), (frequency_error, bit_rate_error)


@pytest.mark.parametrize("standard", STANDARDS)
@pytest.mark.parametrize("codec", ["ulaw", "alaw"])
@pytest.mark.parametrize("level_dbm0", [-6.0, -30.0])
def test_g711_in_the_path(standard, codec, level_dbm0):
    data = random_bytes(7)
    x = on_line(transmission(data, standard, level_dbm0), seed=3, snr_db=18.0, lead=100, codec=codec)
    assert data in values(receive(x, standard))


@pytest.mark.parametrize("standard", STANDARDS)
def test_random_start_offsets_and_phases(standard):
    rng = np.random.default_rng(11)
    for k in range(12):
        data = random_bytes(300 + k, 20)
        signal = transmission(data, standard, start_phase=float(rng.uniform(0, 2 * np.pi)))
        x = on_line(signal, seed=k, snr_db=25.0, lead=int(rng.integers(0, 2000)))
        assert data in values(receive(x, standard))


@pytest.mark.parametrize("standard", STANDARDS)
def test_squelch_edge(standard):
    """Nothing below the squelch (-42 dBm0 default); the same signal at -38 dBm0 is received."""
    data = random_bytes(5, 10)
    assert receive(on_line(transmission(data, standard, -46.0), seed=1), standard) == []
    assert values(receive(on_line(transmission(data, standard, -38.0), seed=1), standard)) == data


def test_silence_gives_nothing():
    assert FskReceiver(3, BELL202).process(np.zeros((3, 8000))) == []


@pytest.mark.parametrize("standard", STANDARDS)
def test_block_length_independence(standard):
    data = random_bytes(9, 30)
    x = on_line(transmission(data, standard), seed=4, snr_db=20.0, lead=123)[None, :]
    reference = FskReceiver(1, standard).process(x)
    assert data in values(reference)  # with junk from the noise around it
    rng = np.random.default_rng(5)
    for sizes in ([1], [7], [160], [1000], list(rng.integers(1, 400, 50))):
        receiver = FskReceiver(1, standard)
        got = feed_in_blocks(receiver.process, x, sizes)
        assert [b.value for b in got] == [b.value for b in reference]
        assert np.allclose([b.start_sample for b in got], [b.start_sample for b in reference], atol=1e-6)
        assert np.allclose([b.quality for b in got], [b.quality for b in reference], atol=1e-9)


@pytest.mark.parametrize("standard", STANDARDS)
def test_multichannel_independence(standard):
    """Each channel of a batch decodes exactly what a receiver of its own would."""
    rng = np.random.default_rng(6)
    n = 6000
    channels = []
    for ch in range(6):
        if ch == 4:
            channels.append(np.zeros(n))  # a silent line
            continue
        if ch == 5:
            channels.append(rng.normal(0, 2000, n))  # a noisy line
            continue
        signal = transmission(random_bytes(40 + ch, 25), standard, level_dbm0=-6.0 - 6.0 * ch)
        lead = int(rng.integers(0, n - len(signal) - 10))
        channels.append(on_line(signal, seed=ch, snr_db=20.0, lead=lead, tail=n - lead - len(signal)))
    batch = np.stack(channels)
    together = feed_in_blocks(FskReceiver(6, standard).process, batch, [160])
    for ch in range(6):
        alone = feed_in_blocks(FskReceiver(1, standard).process, batch[ch : ch + 1], [160])
        mine = [b for b in together if b.channel == ch]
        assert [(b.value, round(b.start_sample, 6)) for b in mine] == [
            (b.value, round(b.start_sample, 6)) for b in alone
        ]
    for ch in range(4):
        assert random_bytes(40 + ch, 25) in values(b for b in together if b.channel == ch)
    assert [b for b in together if b.channel == 4] == []


def test_reset_starts_over():
    x = on_line(transmission(random_bytes(2, 10), "bell202"), seed=1)
    receiver = FskReceiver(1, "bell202")
    first = receiver.process(x[:3000])
    receiver.reset()
    assert receiver.samples_seen == 0
    assert receiver.process(x) == receive(x, "bell202")
    assert first  # the partial feed did receive something before the reset


def test_receiver_rejects_bad_input():
    with pytest.raises(DspError):
        FskReceiver(0, BELL202)
    with pytest.raises(DspError):
        FskReceiver(2, "bell212")
    receiver = FskReceiver(2, BELL202)
    with pytest.raises(DspError):
        receiver.process(np.zeros(160))
    with pytest.raises(DspError):
        receiver.process(np.zeros((3, 160)))
    with pytest.raises(DspError):
        receiver.process(np.array([["a", "b"], ["c", "d"]]))
    assert receiver.process(np.zeros((2, 0))) == []


def test_run_lengths_carry_across_blocks():
    flags = np.array([[True, True, False, True], [False, True, True, True]])
    assert run_lengths(flags, np.array([5, 0])).tolist() == [[6, 7, 0, 1], [0, 1, 2, 3]]
