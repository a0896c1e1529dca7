"""The box's echo canceller against the open-source references, on the G.168 Annex D scenarios
of linebox/bench/echo_g168.py (issue 17: "the best open-source anchor is OSLEC ... match it").

References (linebox/bench/echo_vs_reference.py): OSLEC, the Linux kernel's line echo
canceller, built from Debian's linux-source-6.1 (linebox/bench/oslec_echo.py); and spandsp's
canceller in Debian's libspandsp2 (linebox/bench/spandsp_echo.py), which is *not* OSLEC but
Steve Underwood's older single-filter NLMS (docs/dsp.md).

"Match it" as hard limits, case by case (8 paths x ERL 6 and 10 dB, real speech through
µ-law, line noise -65 dBm0, 64 ms tail, seed 1): our linear ERLE at 1 s and 5 s of far speech,
1 s after an echo path change and after a burst of double talk is at least the reference's
(and with a 128 ms tail behind 100 ms of bulk delay, at 1 s and 5 s);
with the NLP on, it takes no more of a near-end talker than the reference's, give or take what
the 20 ms the issue allows it to open costs (and at most 1 dB), and its output in single talk
is at least as close to the line's own noise through the codec as the reference's. The measured
figures: docs/dsp.md.

Skipped, with the reason, only where a reference is not installed (the Makefile installs both).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from dsp import SAMPLE_RATE
from dsp.levels import dbm0_to_rms
from linebox import LineboxError
from linebox.bench import echo_g168 as g168
from linebox.bench import echo_vs_reference as compare
from linebox.bench import oslec_echo, spandsp_echo
from linebox.bench.sample_canceller import SampleCanceller, cost_per_sample
from linebox.cli import main

RESIDUAL_WITH_NLP_DBM0 = -60.0  # issue 17 / G.168: residual echo with NLP in steady state
NEAR_END_LOSS_DB = 1.0  # the NLP lets a near-end talker through (issue 17: it must open)
CASES = [f"model{m}_erl{erl:g}" for m, erl in g168.cases()]
NLP_SEED, NLP_SECONDS = 2, 8.0  # the single-talk-with-NLP scenario (far speech seed, length)
REFERENCES = sorted(compare.REFERENCES)


def _api(name: str):
    load, _, missing = compare.REFERENCES[name]
    try:
        return load()
    except missing as exc:
        pytest.skip(f"reference {name} not available: {exc}")


@pytest.fixture(scope="module", params=REFERENCES)
def reference(request):
    return request.param, _api(request.param)


def _erle_by_second(echo: np.ndarray, out: np.ndarray) -> list[float]:
    return [g168.erle_db(echo, out, s, s + 1.0) for s in range(len(echo) // 8000)]


def test_the_binding_cancels_white_noise_echo_like_an_nlms_should(reference, capfd):
    # The check of the binding (argument order, int16 scale, tail): on white noise, where any
    # NLMS converges, the reference removes > 35 dB within 3 s (so its figures on speech below
    # are its own, not a wiring mistake).
    name, api = reference
    rng = np.random.default_rng(1)
    far = rng.standard_normal(4 * 8000) * dbm0_to_rms(-20.0)
    echo = np.convolve(far, g168.g168_echo_path(1, 6.0, g168.BULK_DELAY_MS))[: len(far)]
    canceller = SampleCanceller(api, 1, 64.0, int(compare.REFERENCES[name][1][0]))
    out = canceller.process(far[None], echo[None])[0].astype(np.float64)
    canceller.close()
    erle = _erle_by_second(echo, out)
    assert erle[0] < 20.0 < erle[1] and min(erle[2:]) > 35.0, (name, erle)
    # Debian's spandsp prints two debugging lines per sample: none of them reaches our stdout.
    assert capfd.readouterr().out == ""


def test_128_ms_tail_is_1024_taps_and_other_tails_are_refused(reference):
    _, api = reference
    canceller = SampleCanceller(api, 2, 128.0, 1)
    assert canceller.taps == 1024
    canceller.close()
    with pytest.raises(LineboxError, match="tail_ms must be one of"):
        SampleCanceller(api, 1, 100.0, 1)


def test_cost_per_sample_is_measured_without_the_ctypes_call(reference):
    _, api = reference
    cost = cost_per_sample(api, 1, samples=8000)
    assert 0 < cost["us_per_sample_ctypes_overhead"] < cost["us_per_sample_through_ctypes"]
    assert cost["us_per_sample_c"] == pytest.approx(
        cost["us_per_sample_through_ctypes"] - cost["us_per_sample_ctypes_overhead"], abs=0.002
    )


def test_a_missing_spandsp_is_one_clear_error(monkeypatch):
    monkeypatch.setattr("linebox.bench.spandsp_ref.LIBRARY_NAMES", ("libspandsp-absent.so.9",))
    with pytest.raises(spandsp_echo.SpandspMissing, match="libspandsp2"):
        spandsp_echo.load()
    assert compare.reference("spandsp")["error"].startswith("libspandsp (Debian package libspandsp2)")


def test_a_missing_oslec_source_is_one_clear_error(tmp_path):
    with pytest.raises(oslec_echo.OslecMissing, match="install Debian's linux-source-6.1"):
        oslec_echo.load(source_dir=tmp_path, cache=tmp_path)


def test_a_source_tarball_without_oslec_is_one_clear_error(tmp_path):
    (tmp_path / "linux-source-9.9.tar.xz").write_bytes(b"not a tarball")
    with pytest.raises(oslec_echo.OslecMissing, match="no drivers/misc/echo/echo.c"):
        oslec_echo.load(source_dir=tmp_path, cache=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


@pytest.fixture(scope="module")
def both(reference):
    """Ours and the reference's figures, seed 1 (the reference: ~1 M ctypes calls per scenario)."""
    name, api = reference
    runners = {"ours": compare.ours(), name: compare.reference_runner(name, api)}
    figures = {
        side: {
            "convergence": compare.convergence(run),
            "reconvergence": compare.reconvergence(run),
            "double_talk": compare.double_talk(run, 1),
            "nlp": compare.nlp(run, NLP_SEED, NLP_SECONDS),
        }
        for side, run in runners.items()
    }
    figures["ours"]["long_tail"] = compare.long_tail(compare.ours(compare.LONG_TAIL_MS))
    figures[name]["long_tail"] = compare.long_tail(compare.reference_runner(name, api, compare.LONG_TAIL_MS))
    return figures["ours"], figures[name]


@pytest.mark.slow
@pytest.mark.parametrize("scene", ["convergence", "long_tail"])  # 64 ms tail; 128 ms behind 100 ms of delay
def test_linear_erle_at_1_s_and_5_s_is_at_least_the_references(both, scene):
    ours, theirs = (side[scene] for side in both)
    worse = {
        (case, when): (ours[case][when], theirs[case][when])
        for case in CASES
        for when in ("erle_1s_db", "erle_5s_db")
        if ours[case][when] < theirs[case][when]
    }
    assert not worse, worse


@pytest.mark.slow
def test_reconvergence_after_a_path_change_is_at_least_the_references(both):
    ours, theirs = (side["reconvergence"] for side in both)
    worse = {case: (ours[case], theirs[case]) for case in ours if ours[case] < theirs[case]}
    assert not worse, worse


@pytest.mark.slow
def test_erle_after_double_talk_is_at_least_the_references(both):
    ours, theirs = (side["double_talk"] for side in both)
    pairs = {case: (ours[case]["erle_after_db"], theirs[case]["erle_after_db"]) for case in CASES}
    worse = {case: pair for case, pair in pairs.items() if pair[0] < pair[1]}
    assert not worse, worse


@pytest.mark.slow
def test_with_nlp_the_near_end_passes_at_least_as_well(both):
    ours, theirs = (side["nlp"] for side in both)
    # The issue lets the NLP take 20 ms to open on near-end speech: what that costs on this
    # talker (its first 20 ms frame of every talk spurt, ~0.13 dB) is the one margin allowed.
    margin = ours["onset_allowance_db"]
    for case in CASES:
        loss = ours["near_end_loss_db"][case]
        assert loss <= min(NEAR_END_LOSS_DB, theirs["near_end_loss_db"][case] + margin), (case, loss, theirs)


@pytest.mark.slow
def test_with_nlp_the_output_is_as_close_to_the_lines_noise_as_the_references(both):
    # G.168 with NLP: residual echo below -60 dBm0 and comfort noise at the line's level, so
    # the best output in single talk is the line's own noise: neither louder (residual echo,
    # comfort noise too loud) nor quieter (a muted line). Ours must be at least as close to it
    # as the reference's, case by case, and meet G.168's limits. The target is the line's noise
    # as the canceller receives it, through the codec (that case's own noise signal through
    # µ-law: -64.7 dBm0, not the nominal -65 it was generated at): µ-law's quantisation noise
    # is part of what the line carries in silence, so comfort noise matched to the line (issue
    # 17, G.168 clause 3.13) is matched to that; measured against -65 an output that sounds
    # exactly like the line would count 0.3 dB off (test_echo_g168.py's "sounds like the line
    # alone" test uses the same level, g168.line_alone_dbm0).
    samples = int(NLP_SECONDS * SAMPLE_RATE)
    line = {case: g168.line_alone_dbm0(samples, k) for k, case in enumerate(CASES)}
    ours, theirs = (side["nlp"]["residual_dbm0"] for side in both)
    for case in CASES:
        assert g168.LINE_NOISE_DBM0 - 3.0 <= ours[case] <= RESIDUAL_WITH_NLP_DBM0, (case, ours[case])
    distance = {case: (abs(ours[case] - line[case]), abs(theirs[case] - line[case])) for case in CASES}
    farther = {case: pair for case, pair in distance.items() if pair[0] > pair[1]}
    assert not farther, farther


def test_bench_echo_reports_the_reference_or_why_not(monkeypatch, capsys):
    def unavailable(name, seed=1):
        return {"name": name, "error": "not here"}

    monkeypatch.setattr(compare, "reference", unavailable)
    args = ["bench", "echo", "--channels", "1", "--seconds", "0.2", "--reference", "oslec"]
    assert main([*args, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["reference"] == {"name": "oslec", "error": "not here"}
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "realtime_channels_per_core" in out and out.rstrip().endswith("reference oslec: not run: not here")
