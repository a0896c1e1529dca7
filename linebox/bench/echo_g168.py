"""The echo canceller measured on the eight echo paths of ITU-T G.168 Annex D (clauses D.2-D.9),
with real far-end speech: shared by ``linebox bench echo --g168`` and tests/test_echo_g168.py.

Far end: Debian's recorded prompts (asterisk-core-sounds-en-wav, 8 kHz) with their leading and
trailing silence cut, joined with 20-60 ms pauses, at -20 dBm0 active level, through G.711
µ-law (what a far end sends). Near end: the far end through model ``m`` at ERL 6 or 10 dB
(``data/g168_echo_paths.json``: h = 10^(-ERL/20) K r) after a 5 ms bulk delay, plus white line
noise at -65 dBm0, through µ-law (the line card's codec). The canceller: 64 ms tail, NLP off
(the linear part is what is measured), fed 160-sample ticks as the engine does.

ERLE is echo power over residual power (the output minus the line noise and codec error, i.e.
minus ``near - echo``) over the 20 ms frames whose echo is above -50 dBm0, in a 0.5 s window
that starts when the far end has *talked* for 1 s or 5 s (frames above -40 dBm0): G.168
counts convergence time from the start of the far-end signal, which in its tests never pauses.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from drivers.audiofile import read_audio
from dsp import SAMPLE_RATE, g711
from dsp.echo import EchoCanceller
from dsp.levels import dbm0_to_rms, signal_dbm0
from linebox import LineboxError
from linebox.bench.echobridge import g168_echo_path

SPEECH_DIR = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
MODELS = tuple(range(1, 9))
ERLS_DB = (6.0, 10.0)
BULK_DELAY_MS = 5.0
SPEECH_DBM0 = -20.0  # G.168 tests use far-end levels of -10 .. -30 dBm0
LINE_NOISE_DBM0 = -65.0
TAIL_MS = 64.0
FRAME = 160
ECHO_ACTIVE_DBM0 = -50.0
FAR_ACTIVE_DBM0 = -40.0
WINDOW_S = 0.5
SWITCH_S = 6.0  # the echo path changes here in the reconvergence run
DT_START_S, DT_END_S = 5.0, 7.0  # near-end speech burst in the double-talk run
DT_SEEDS = (1, 2, 3, 4, 5)


def cases() -> list[tuple[int, float]]:
    return [(model, erl) for erl in ERLS_DB for model in MODELS]


def _prompts() -> list[Path]:
    paths = sorted(p for p in SPEECH_DIR.glob("*.wav") if "tone" not in p.stem and "beep" not in p.stem)
    if not paths:
        raise LineboxError(f"no speech in {SPEECH_DIR}: install asterisk-core-sounds-en-wav")
    return paths


def frame_levels(x: np.ndarray) -> np.ndarray:
    count = len(x) // FRAME
    power = np.mean(np.square(x[: count * FRAME].reshape(count, FRAME)), axis=1)
    with np.errstate(divide="ignore"):
        return np.maximum(10.0 * np.log10(power / dbm0_to_rms(0.0) ** 2), -200.0)


def continuous_speech(seconds: float, seed: int, level_dbm0: float = SPEECH_DBM0) -> np.ndarray:
    """Prompts, silence trimmed, 20-60 ms apart, at ``level_dbm0`` active level, through µ-law."""
    rng = np.random.default_rng(seed)
    paths = _prompts()
    wanted = round(seconds * SAMPLE_RATE)
    pieces, total = [], 0
    for index in rng.permutation(len(paths)):
        if total >= wanted:
            break
        samples = read_audio(paths[index]).astype(np.float64)
        levels = frame_levels(samples) - frame_levels(samples).max()
        loud = np.flatnonzero(levels > -35.0)  # within 35 dB of the prompt's loudest frame
        if not loud.size:
            continue
        gap = np.zeros(round(rng.uniform(20.0, 60.0) * SAMPLE_RATE / 1000.0))
        pieces += [samples[loud[0] * FRAME : (loud[-1] + 1) * FRAME], gap]
        total += len(pieces[-2]) + len(gap)
    x = np.concatenate(pieces)[:wanted]
    active = frame_levels(x) > frame_levels(x).max() - 40.0
    rms = np.sqrt(np.mean(np.square(x[: len(active) * FRAME].reshape(-1, FRAME)[active])))
    x = x * (dbm0_to_rms(level_dbm0) / rms)
    return g711.ulaw_roundtrip(np.clip(np.round(x), -32768, 32767).astype(np.int16)).astype(np.float64)


def echo_of(far: np.ndarray, model: int, erl_db: float) -> np.ndarray:
    return np.convolve(far, g168_echo_path(model, erl_db, BULK_DELAY_MS))[: len(far)]


def line_input(echo: np.ndarray, talker: np.ndarray | float, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0.0, dbm0_to_rms(LINE_NOISE_DBM0), len(echo))
    pcm = np.clip(np.round(echo + talker + noise), -32768, 32767).astype(np.int16)
    return g711.ulaw_roundtrip(pcm).astype(np.float64)


def line_alone_dbm0(samples: int, seed: int) -> float:
    """Level (dBm0) of what ``line_input(echo, 0.0, seed)`` carries without echo or talker:
    the line noise of that seed through the codec (-64.7 dBm0 for LINE_NOISE_DBM0's -65, µ-law
    adding its quantisation noise). What a canceller receives of the line's own noise, so
    what comfort noise matched to the line's noise (G.168 clause 3.13) is matched to."""
    return float(signal_dbm0(line_input(np.zeros(samples), 0.0, seed)))


def talked(far: np.ndarray, seconds: float, after_s: float = 0.0) -> float:
    """Time (s) at which the far end has talked ``seconds`` since ``after_s``."""
    first = int(after_s * SAMPLE_RATE) // FRAME
    active = np.cumsum(frame_levels(far)[first:] > FAR_ACTIVE_DBM0) * FRAME / SAMPLE_RATE
    return after_s + float((np.searchsorted(active, seconds) + 1) * FRAME / SAMPLE_RATE)


def erle_db(echo: np.ndarray, residual: np.ndarray, start_s: float, end_s: float) -> float:
    first, last = int(start_s * SAMPLE_RATE) // FRAME, int(end_s * SAMPLE_RATE) // FRAME
    count = len(echo) // FRAME
    e = echo[: count * FRAME].reshape(count, FRAME)[first:last]
    r = residual[: count * FRAME].reshape(count, FRAME)[first:last]
    active = frame_levels(echo)[first:last] > ECHO_ACTIVE_DBM0
    if not active.any():
        raise LineboxError(f"no echo-active frame in {start_s:.2f}-{end_s:.2f} s")
    return float(10.0 * np.log10(np.sum(e[active] ** 2) / max(np.sum(r[active] ** 2), 1e-12)))


def run(canceller: EchoCanceller, far: np.ndarray, near: np.ndarray) -> np.ndarray:
    """Feed (channels, n) in engine ticks; the output shifted back by the canceller's latency."""
    out = np.concatenate(
        [canceller.process(far[:, i : i + FRAME], near[:, i : i + FRAME]) for i in range(0, far.shape[1], FRAME)],
        axis=1,
    )
    lag = canceller.latency_samples
    return np.concatenate([out[:, lag:], np.zeros((out.shape[0], lag))], axis=1)


def convergence(seed: int = 1, seconds: float = 10.0) -> dict[str, dict[str, float]]:
    """Linear ERLE per case at 1 s and 5 s of far speech (0.5 s windows), and the lowest
    window from 5 s to the end (steady state)."""
    far = continuous_speech(seconds, seed)
    all_cases = cases()
    echoes = [echo_of(far, m, erl) for m, erl in all_cases]
    near = np.array([line_input(e, 0.0, i) for i, e in enumerate(echoes)])
    out = run(EchoCanceller(len(all_cases), TAIL_MS, nlp=False), np.tile(far, (len(all_cases), 1)), near)
    t1, t5 = talked(far, 1.0), talked(far, 5.0)
    steady = np.arange(t5, seconds - WINDOW_S, WINDOW_S)
    result = {}
    for k, (m, erl) in enumerate(all_cases):
        residual = out[k] - (near[k] - echoes[k])
        result[f"model{m}_erl{erl:g}"] = {
            "erle_1s_db": round(erle_db(echoes[k], residual, t1, t1 + WINDOW_S), 1),
            "erle_5s_db": round(erle_db(echoes[k], residual, t5, t5 + WINDOW_S), 1),
            "erle_steady_min_db": round(min(erle_db(echoes[k], residual, t, t + WINDOW_S) for t in steady), 1),
        }
    return result


def reconvergence(seed: int = 1, seconds: float = 9.0) -> dict[str, float]:
    """Linear ERLE after 1 s of far speech following a switch at SWITCH_S from model m to m+1."""
    far = continuous_speech(seconds, seed)
    cut = int(SWITCH_S * SAMPLE_RATE)
    all_cases = cases()
    echoes = [
        np.r_[echo_of(far, m, erl)[:cut], echo_of(far, m % 8 + 1, erl)[cut:]] for m, erl in all_cases
    ]
    near = np.array([line_input(e, 0.0, i) for i, e in enumerate(echoes)])
    out = run(EchoCanceller(len(all_cases), TAIL_MS, nlp=False), np.tile(far, (len(all_cases), 1)), near)
    t1 = talked(far, 1.0, SWITCH_S)
    return {
        f"model{m}to{m % 8 + 1}_erl{erl:g}": round(
            erle_db(echoes[k], out[k] - (near[k] - echoes[k]), t1, t1 + WINDOW_S), 1
        )
        for k, (m, erl) in enumerate(all_cases)
    }


def filter_erle_db(far: np.ndarray, path: np.ndarray, estimate: np.ndarray, start_s: float, end_s: float) -> float:
    """ERLE (dB) that the echo path ``estimate`` would give over [start_s, end_s) of ``far`` on
    the true ``path``: so two filter states can be compared on the same speech."""
    size = max(len(path), len(estimate))
    error = np.r_[path, np.zeros(size - len(path))] - np.r_[estimate, np.zeros(size - len(estimate))]
    echo = np.convolve(far, path)[: len(far)]
    return erle_db(echo, np.convolve(far, error)[: len(far)], start_s, end_s)


def double_talk(seed: int, seconds: float = 9.0, talker_dbm0: float = SPEECH_DBM0) -> dict:
    """Near-end speech (``talker_dbm0``, real speech) from DT_START_S to DT_END_S over the far
    end, NLP off. The foreground's echo path is taken just before the burst and just after it;
    the loss is the ERLE of the first minus that of the second, both over the second after the
    burst (the same speech: what the burst did to the filter, not a change of speech)."""
    far = continuous_speech(seconds, seed)
    talker = np.zeros_like(far)
    span = slice(int(DT_START_S * SAMPLE_RATE), int(DT_END_S * SAMPLE_RATE))
    talker[span] = continuous_speech(DT_END_S - DT_START_S, seed + 1000, talker_dbm0)
    all_cases = cases()
    paths = [g168_echo_path(m, erl, BULK_DELAY_MS) for m, erl in all_cases]
    near = np.array([line_input(np.convolve(far, p)[: len(far)], talker, i) for i, p in enumerate(paths)])
    fars = np.tile(far, (len(all_cases), 1))
    canceller = EchoCanceller(len(all_cases), TAIL_MS, nlp=False)
    states = {}
    end = int(DT_END_S * SAMPLE_RATE)
    for i in range(0, end, FRAME):
        if i == span.start:
            states["before"] = canceller.echo_path()
        canceller.process(fars[:, i : i + FRAME], near[:, i : i + FRAME])
    states["after"] = canceller.echo_path()
    window = (DT_END_S, DT_END_S + 1.0)
    before = [filter_erle_db(far, p, states["before"][k], *window) for k, p in enumerate(paths)]
    after = [filter_erle_db(far, p, states["after"][k], *window) for k, p in enumerate(paths)]
    loss = np.array(before) - np.array(after)
    worst = int(np.argmax(loss))
    m, erl = all_cases[worst]
    return {
        "seed": seed,
        "worst_loss_db": round(float(loss[worst]), 1),
        "worst_case": f"model{m}_erl{erl:g}",
        "erle_before_min_db": round(min(before), 1),
        "erle_after_min_db": round(min(after), 1),
    }


def long_tail(seed: int = 1, seconds: float = 8.0, delay_ms: float = 100.0) -> dict[str, list[float]]:
    """Linear ERLE at 1 s and 5 s of far speech with a 128 ms tail, every case behind a bulk
    delay of ``delay_ms`` (a long line, or a bulk delay in the path)."""
    far = continuous_speech(seconds, seed)
    all_cases = cases()
    echoes = [np.convolve(far, g168_echo_path(m, erl, delay_ms))[: len(far)] for m, erl in all_cases]
    near = np.array([line_input(e, 0.0, i) for i, e in enumerate(echoes)])
    out = run(EchoCanceller(len(all_cases), 128.0, nlp=False), np.tile(far, (len(all_cases), 1)), near)
    figures: dict[str, list[float]] = {"erle_1s_db": [], "erle_5s_db": []}
    for k in range(len(all_cases)):
        residual = out[k] - (near[k] - echoes[k])
        for key, talk_s in (("erle_1s_db", 1.0), ("erle_5s_db", 5.0)):
            t = talked(far, talk_s)
            figures[key].append(round(erle_db(echoes[k], residual, t, t + WINDOW_S), 1))
    return figures


def tick_cost_ms(channels: int, ticks: int = 250, seed: int = 1, tail_ms: float = TAIL_MS) -> float:
    """CPU ms per 20 ms tick of one canceller (NLP on) over ``channels`` channels of speech echo."""
    far = np.tile(continuous_speech(ticks * FRAME / SAMPLE_RATE, seed), (channels, 1))
    near = np.array([line_input(echo_of(far[0], i % 8 + 1, 6.0), 0.0, i) for i in range(channels)])
    far16, near16 = far.astype(np.int16), near.astype(np.int16)
    canceller = EchoCanceller(channels, tail_ms)
    start = time.process_time()
    for i in range(0, far.shape[1], FRAME):
        canceller.process(far16[:, i : i + FRAME], near16[:, i : i + FRAME])
    return (time.process_time() - start) / ticks * 1000.0


def report(seed: int = 1) -> dict:
    conv = convergence(seed)
    recon = reconvergence(seed)
    dt = [double_talk(s) for s in DT_SEEDS]
    return {
        "g168_models": len(MODELS),
        "erls_db": list(ERLS_DB),
        "convergence": conv,
        "erle_1s_worst_db": min(v["erle_1s_db"] for v in conv.values()),
        "erle_5s_worst_db": min(v["erle_5s_db"] for v in conv.values()),
        "erle_steady_worst_db": min(v["erle_steady_min_db"] for v in conv.values()),
        "reconvergence_1s": recon,
        "reconvergence_1s_worst_db": min(recon.values()),
        "double_talk": dt,
        "double_talk_worst_loss_db": max(d["worst_loss_db"] for d in dt),
        "tail_128ms_delay_100ms": long_tail(seed),
        "tick_ms_8_channels": round(tick_cost_ms(8), 3),
        "tick_ms_64_channels": round(tick_cost_ms(64), 3),
        "tick_ms_8_channels_128ms": round(tick_cost_ms(8, tail_ms=128.0), 3),
        "tick_ms_64_channels_128ms": round(tick_cost_ms(64, tail_ms=128.0), 3),
    }
