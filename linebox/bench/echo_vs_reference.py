"""The box's echo canceller beside an open-source reference, OSLEC (linebox/bench/oslec_echo.py)
or spandsp's (linebox/bench/spandsp_echo.py), on the G.168 Annex D scenarios of
linebox/bench/echo_g168.py: same far-end speech, echo paths, ERLs, line noise and codec,
measured the same way. Shared by ``linebox bench echo --reference oslec|spandsp`` and
tests/test_echo_spandsp.py.

A canceller is a *runner*: ``run(far, near, nlp) -> out`` on (channels, n) arrays, the output
aligned with the input (the box's 20 ms latency taken out; the references have none). Every
figure is measured on the output only (black box: a reference's taps cannot be read), so all
cancellers are judged by one rule:

- ``convergence``: linear ERLE (NLP off) at 1 s and 5 s of far speech, per case (as
  echo_g168.convergence);
- ``reconvergence``: linear ERLE 1 s of far speech after the path switches from model m to
  m+1 at SWITCH_S (as echo_g168.reconvergence);
- ``double_talk``: near-end speech (-20 dBm0) from DT_START_S to DT_END_S, NLP off; the
  linear ERLE over the second before the burst and the second after it (G.168 test 3 style:
  ``loss_vs_before_db``, on different far speech), and over that second after it on the same
  signal without the burst (``loss_vs_no_burst_db``: same speech, so it is what the burst cost,
  divergence *and* the adaptation a canceller holds back while it hears a talker);
- ``long_tail``: linear ERLE at 1 s and 5 s with a 128 ms tail, every path behind 100 ms of
  bulk delay;
- ``nlp``: with NLP (and comfort noise) on, the output level from 5 s of far speech on
  (dBm0: residual echo plus comfort noise), and what the NLP takes away of a near-end talker
  during double talk (``near_end_loss_db``: output power with the NLP off over output power
  with it on, on the frames where the talker is above -40 dBm0: 0 dB = the NLP is open while
  the near end talks, large = it cuts the talker).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dsp import SAMPLE_RATE
from dsp.echo import EchoCanceller
from dsp.levels import signal_dbm0
from linebox.bench import echo_g168 as g168
from linebox.bench import oslec_echo, spandsp_echo
from linebox.bench.sample_canceller import SampleApi, SampleCanceller, cost_per_sample

Runner = Callable[[np.ndarray, np.ndarray, bool], np.ndarray]
TALKER_ACTIVE_DBM0 = -40.0
DT_SEEDS = (1, 2, 3)
LONG_TAIL_MS = 128.0
FLOOR_DB = -200.0  # digital silence is reported as -200 dBm0 (JSON has no -inf)


def ours(tail_ms: float = g168.TAIL_MS, seed: int = 1) -> Runner:
    def run(far: np.ndarray, near: np.ndarray, nlp: bool) -> np.ndarray:
        canceller = EchoCanceller(far.shape[0], tail_ms, nlp=nlp, rng=np.random.default_rng(seed))
        return g168.run(canceller, far, near)

    return run


# name: (loader, (linear mode, mode with NLP), what its loader raises when it is not there)
REFERENCES = {
    "oslec": (oslec_echo.load, (oslec_echo.LINEAR, oslec_echo.WITH_NLP), oslec_echo.OslecMissing),
    "spandsp": (spandsp_echo.load, (spandsp_echo.LINEAR, spandsp_echo.WITH_NLP), spandsp_echo.SpandspMissing),
}


def reference_runner(name: str, api: SampleApi, tail_ms: float = g168.TAIL_MS) -> Runner:
    linear, with_nlp = REFERENCES[name][1]

    def run(far: np.ndarray, near: np.ndarray, nlp: bool) -> np.ndarray:
        canceller = SampleCanceller(api, far.shape[0], tail_ms, int(with_nlp if nlp else linear))
        try:
            return canceller.process(far, near).astype(np.float64)
        finally:
            canceller.close()

    return run


def _key(model: int, erl: float) -> str:
    return f"model{model}_erl{erl:g}"


def _scene(far: np.ndarray, echoes: list[np.ndarray], talker: np.ndarray | float = 0.0):
    near = np.array([g168.line_input(e, talker, i) for i, e in enumerate(echoes)])
    return np.tile(far, (len(echoes), 1)), near


def _erle(echo: np.ndarray, out: np.ndarray, near: np.ndarray, start_s: float, seconds: float) -> float:
    """ERLE of ``out`` with the line's own part (near - echo: noise, codec, a talker) removed."""
    return round(g168.erle_db(echo, out - (near - echo), start_s, start_s + seconds), 1)


def convergence(run: Runner, seed: int = 1, seconds: float = 10.0) -> dict[str, dict[str, float]]:
    far = g168.continuous_speech(seconds, seed)
    return _erle_at_1_and_5_s(run, far, [g168.echo_of(far, m, erl) for m, erl in g168.cases()])


def _erle_at_1_and_5_s(run: Runner, far: np.ndarray, echoes: list[np.ndarray]) -> dict[str, dict[str, float]]:
    """Linear ERLE of each case after 1 s and 5 s of far speech (one echo per G.168 case)."""
    fars, near = _scene(far, echoes)
    out = run(fars, near, False)
    t1, t5 = g168.talked(far, 1.0), g168.talked(far, 5.0)
    return {
        _key(m, erl): {
            "erle_1s_db": _erle(echoes[k], out[k], near[k], t1, g168.WINDOW_S),
            "erle_5s_db": _erle(echoes[k], out[k], near[k], t5, g168.WINDOW_S),
        }
        for k, (m, erl) in enumerate(g168.cases())
    }


def reconvergence(run: Runner, seed: int = 1, seconds: float = 9.0) -> dict[str, float]:
    far = g168.continuous_speech(seconds, seed)
    cut = int(g168.SWITCH_S * SAMPLE_RATE)
    echoes = [np.r_[g168.echo_of(far, m, erl)[:cut], g168.echo_of(far, m % 8 + 1, erl)[cut:]] for m, erl in g168.cases()]
    fars, near = _scene(far, echoes)
    out = run(fars, near, False)
    t1 = g168.talked(far, 1.0, g168.SWITCH_S)
    return {
        f"model{m}to{m % 8 + 1}_erl{erl:g}": _erle(echoes[k], out[k], near[k], t1, g168.WINDOW_S)
        for k, (m, erl) in enumerate(g168.cases())
    }


def long_tail(run: Runner, seed: int = 1, seconds: float = 8.0, delay_ms: float = 100.0) -> dict[str, dict[str, float]]:
    """Linear ERLE at 1 s and 5 s of far speech, every path behind ``delay_ms`` of bulk delay
    (for a runner with a 128 ms tail: as echo_g168.long_tail)."""
    far = g168.continuous_speech(seconds, seed)
    echoes = [np.convolve(far, g168.g168_echo_path(m, erl, delay_ms))[: len(far)] for m, erl in g168.cases()]
    return _erle_at_1_and_5_s(run, far, echoes)


def _talker(far: np.ndarray, seed: int) -> np.ndarray:
    talker = np.zeros_like(far)
    span = slice(int(g168.DT_START_S * SAMPLE_RATE), int(g168.DT_END_S * SAMPLE_RATE))
    talker[span] = g168.continuous_speech(g168.DT_END_S - g168.DT_START_S, seed + 1000)
    return talker


def double_talk(run: Runner, seed: int, seconds: float = 9.0) -> dict:
    far = g168.continuous_speech(seconds, seed)
    echoes = [g168.echo_of(far, m, erl) for m, erl in g168.cases()]
    fars, quiet = _scene(far, echoes)
    _, talking = _scene(far, echoes, _talker(far, seed))
    out_quiet, out_talking = run(fars, quiet, False), run(fars, talking, False)
    result = {}
    for k, (m, erl) in enumerate(g168.cases()):
        before = _erle(echoes[k], out_talking[k], talking[k], g168.DT_START_S - 1.0, 1.0)
        without = _erle(echoes[k], out_quiet[k], quiet[k], g168.DT_END_S, 1.0)
        after = _erle(echoes[k], out_talking[k], talking[k], g168.DT_END_S, 1.0)
        result[_key(m, erl)] = {
            "erle_before_db": before,
            "erle_after_db": after,
            "erle_after_without_burst_db": without,
            "loss_vs_before_db": round(before - after, 1),
            "loss_vs_no_burst_db": round(without - after, 1),
        }
    return result


def nlp(run: Runner, seed: int = 2, seconds: float = 8.0) -> dict:
    far = g168.continuous_speech(seconds, seed)
    echoes = [g168.echo_of(far, m, erl) for m, erl in g168.cases()]
    fars, near = _scene(far, echoes)
    out = run(fars, near, True)
    start = int(g168.talked(far, 5.0) * SAMPLE_RATE)
    residual = {
        _key(m, erl): round(max(float(signal_dbm0(out[k, start : len(far) - 160])), FLOOR_DB), 1)
        for k, (m, erl) in enumerate(g168.cases())
    }
    talker = _talker(far, seed)
    _, talking = _scene(far, echoes, talker)
    opened, linear = run(fars, talking, True), run(fars, talking, False)
    active = g168.frame_levels(talker) > TALKER_ACTIVE_DBM0
    frames = len(active) * g168.FRAME

    def power(x: np.ndarray) -> float:
        return max(float(np.sum(x[:frames].reshape(-1, g168.FRAME)[active] ** 2)), 1e-9)

    passed = {
        _key(m, erl): round(min(10.0 * np.log10(power(linear[k]) / power(opened[k])), -FLOOR_DB), 1)
        for k, (m, erl) in enumerate(g168.cases())
    }
    return {"residual_dbm0": residual, "near_end_loss_db": passed, "onset_allowance_db": onset_allowance_db(talker)}


def onset_allowance_db(talker: np.ndarray) -> float:
    """What an NLP that takes the 20 ms issue 17 allows it to open at every onset of ``talker``
    would take away of it: the first 20 ms frame of each talk spurt cut, in dB of its power."""
    active = g168.frame_levels(talker) > TALKER_ACTIVE_DBM0
    frames = talker[: len(active) * g168.FRAME].reshape(-1, g168.FRAME)
    onsets = active & ~np.r_[False, active[:-1]]
    whole = np.sum(frames[active] ** 2)
    return round(float(10.0 * np.log10(whole / max(whole - np.sum(frames[onsets] ** 2), 1e-9))), 2)


def measure(run: Runner, seed: int = 1) -> dict:
    """Every figure of the module docstring for one canceller."""
    conv = convergence(run, seed)
    recon = reconvergence(run, seed)
    dt = {s: double_talk(run, s) for s in DT_SEEDS}
    with_nlp = nlp(run)
    return {
        "convergence": conv,
        "erle_1s_worst_db": min(v["erle_1s_db"] for v in conv.values()),
        "erle_5s_worst_db": min(v["erle_5s_db"] for v in conv.values()),
        "reconvergence_1s": recon,
        "reconvergence_1s_worst_db": min(recon.values()),
        "double_talk": {str(s): figures for s, figures in dt.items()},
        "double_talk_worst_loss_vs_before_db": max(f["loss_vs_before_db"] for fs in dt.values() for f in fs.values()),
        "double_talk_worst_loss_vs_no_burst_db": max(
            f["loss_vs_no_burst_db"] for fs in dt.values() for f in fs.values()
        ),
        "double_talk_erle_after_worst_db": min(f["erle_after_db"] for fs in dt.values() for f in fs.values()),
        "nlp": with_nlp,
        "nlp_residual_worst_dbm0": max(with_nlp["residual_dbm0"].values()),
        "nlp_near_end_worst_loss_db": max(with_nlp["near_end_loss_db"].values()),
    }


def reference(name: str, seed: int = 1) -> dict:
    """Ours and reference ``name``'s figures and its cost, or why the reference could not be run."""
    load, modes, missing = REFERENCES[name]
    try:
        api = load()
    except missing as exc:
        return {"name": name, "error": str(exc)}
    return {
        "name": name,
        "modes": {"linear": int(modes[0]), "with_nlp": int(modes[1])},
        "tail_ms": g168.TAIL_MS,
        "seed": seed,
        "ours": measure(ours(g168.TAIL_MS, seed), seed),
        name: measure(reference_runner(name, api, g168.TAIL_MS), seed),
        "tail_128ms_delay_100ms": {
            "ours": long_tail(ours(LONG_TAIL_MS, seed), seed),
            name: long_tail(reference_runner(name, api, LONG_TAIL_MS), seed),
        },
        "cost": [cost_per_sample(api, modes[0], tail) for tail in (64.0, 128.0)],
    }


def table(ref: dict) -> str:
    """The side-by-side figures as a Markdown table (what docs/dsp.md shows)."""
    name = ref["name"]
    if "error" in ref:
        return f"reference {name}: not run: {ref['error']}"
    a, b = ref["ours"], ref[name]
    lines = [
        f"| case | ERLE 1 s ours / {name} | ERLE 5 s ours / {name} | re-convergence 1 s ours / {name} "
        f"| ERLE after double talk, worst ours / {name} | NLP residual dBm0 ours / {name} "
        f"| near end lost dB ours / {name} |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    recon = list(zip(a["reconvergence_1s"].values(), b["reconvergence_1s"].values(), strict=True))
    for k, case in enumerate(a["convergence"]):
        ca, cb = a["convergence"][case], b["convergence"][case]
        dt = [min(figures[case]["erle_after_db"] for figures in side["double_talk"].values()) for side in (a, b)]
        nlp_cells = [
            f"{a['nlp'][key][case]:.1f} / {b['nlp'][key][case]:.1f}" for key in ("residual_dbm0", "near_end_loss_db")
        ]
        lines.append(
            f"| {case} | {ca['erle_1s_db']:.1f} / {cb['erle_1s_db']:.1f} | {ca['erle_5s_db']:.1f} / {cb['erle_5s_db']:.1f} "
            f"| {recon[k][0]:.1f} / {recon[k][1]:.1f} | {dt[0]:.1f} / {dt[1]:.1f} | {' | '.join(nlp_cells)} |"
        )
    long = ref["tail_128ms_delay_100ms"]
    for when in ("erle_1s_db", "erle_5s_db"):
        worst = [min(figures[when] for figures in long[side].values()) for side in ("ours", name)]
        lines.append(f"128 ms tail, 100 ms bulk delay, worst {when}: ours {worst[0]:.1f}, {name} {worst[1]:.1f}")
    for cost in ref["cost"]:
        lines.append(
            f"{name} {cost['tail_ms']:g} ms tail: {cost['us_per_sample_c']} us/sample in C "
            f"({cost['realtime_channels_per_core_c']} channels per core), "
            f"{cost['us_per_sample_through_ctypes']} us/sample through ctypes "
            f"(call overhead {cost['us_per_sample_ctypes_overhead']} us)"
        )
    return "\n".join(lines)
