"""The box's echo canceller against spandsp's (Debian's libspandsp2, through ctypes) on the
G.168 Annex D scenarios of linebox/bench/echo_g168.py (issue 17: "match it").

"Match it" as hard limits, case by case (8 paths x ERL 6 and 10 dB, real speech through
µ-law, line noise -65 dBm0, 64 ms tail, seed 1): our linear ERLE at 1 s and 5 s of far speech,
after an echo path change and after a burst of double talk is at least spandsp's; with the
NLP on, our near end passes at least as well as spandsp's. Where spandsp's figure cannot be
"matched" because it is reached by a defect (its NLP mutes everything, so its residual is
lower than ours), the issue's absolute limit is tested instead (G.168: residual below -60
dBm0 with comfort noise at the line's level). The measured figures are in docs/dsp.md.

Skipped, with the reason, only where libspandsp2 is not installed (the Makefile installs it).
"""

from __future__ import annotations

import numpy as np
import pytest

from dsp.levels import dbm0_to_rms
from linebox import LineboxError
from linebox.bench import echo_g168 as g168
from linebox.bench import echo_vs_spandsp as compare
from linebox.bench import spandsp_echo
from linebox.bench.spandsp_ref import SpandspMissing

RESIDUAL_WITH_NLP_DBM0 = -60.0  # issue 17 / G.168: residual echo with NLP in steady state
NEAR_END_LOSS_DB = 1.0  # the NLP lets a near-end talker through (issue 17: it must open)


@pytest.fixture(scope="module")
def lib():
    try:
        return spandsp_echo.load()
    except SpandspMissing as exc:
        pytest.skip(f"spandsp reference not available: {exc}")


def _erle_by_second(echo: np.ndarray, out: np.ndarray) -> list[float]:
    return [g168.erle_db(echo, out, s, s + 1.0) for s in range(len(echo) // 8000)]


def test_the_binding_cancels_white_noise_echo_like_an_nlms_should(lib, capfd):
    # The sanity check of the binding (argument order, int16 scale, tail): on white noise,
    # where any NLMS converges, spandsp's canceller removes > 50 dB within 3 s.
    rng = np.random.default_rng(1)
    far = rng.standard_normal(4 * 8000) * dbm0_to_rms(-20.0)
    echo = np.convolve(far, g168.g168_echo_path(1, 6.0, g168.BULK_DELAY_MS))[: len(far)]
    canceller = spandsp_echo.SpandspEcho(lib, 1, 64.0)
    out = canceller.process(far[None], echo[None])[0].astype(np.float64)
    canceller.close()
    erle = _erle_by_second(echo, out)
    assert erle[0] < 20.0 < erle[1] and min(erle[2:]) > 50.0, erle
    # Debian's build prints two debugging lines per sample: none of them reaches our stdout.
    assert capfd.readouterr().out == ""


def test_128_ms_tail_is_1024_taps_and_other_tails_are_refused(lib):
    canceller = spandsp_echo.SpandspEcho(lib, 2, 128.0)
    assert canceller.taps == 1024
    canceller.close()
    with pytest.raises(LineboxError, match="tail_ms must be one of"):
        spandsp_echo.SpandspEcho(lib, 1, 100.0)


def test_a_missing_library_is_one_clear_error(monkeypatch):
    monkeypatch.setattr("linebox.bench.spandsp_ref.LIBRARY_NAMES", ("libspandsp-absent.so.9",))
    with pytest.raises(SpandspMissing, match="libspandsp2"):
        spandsp_echo.load()
    assert compare.reference()["error"].startswith("libspandsp (Debian package libspandsp2)")


def test_cost_per_sample_is_measured_without_the_ctypes_call(lib):
    cost = spandsp_echo.throughput(lib, samples=8000)
    assert 0 < cost["us_per_sample_ctypes_overhead"] < cost["us_per_sample_through_ctypes"]
    assert cost["us_per_sample_c"] == pytest.approx(
        cost["us_per_sample_through_ctypes"] - cost["us_per_sample_ctypes_overhead"], abs=0.002
    )


@pytest.fixture(scope="module")
def both(lib):
    """The figures of both cancellers, seed 1 (spandsp: ~1 M ctypes calls per scenario)."""
    runners = {"ours": compare.ours(), "spandsp": compare.spandsp(lib)}
    return {
        name: {
            "convergence": compare.convergence(run),
            "reconvergence": compare.reconvergence(run),
            "double_talk": compare.double_talk(run, 1),
            "nlp": compare.nlp(run),
        }
        for name, run in runners.items()
    }


CASES = [f"model{m}_erl{erl:g}" for m, erl in g168.cases()]


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_linear_erle_at_1_s_and_5_s_is_at_least_spandsps(both, case):
    ours, theirs = both["ours"]["convergence"][case], both["spandsp"]["convergence"][case]
    assert ours["erle_1s_db"] >= theirs["erle_1s_db"], (ours, theirs)
    assert ours["erle_5s_db"] >= theirs["erle_5s_db"], (ours, theirs)


@pytest.mark.slow
def test_reconvergence_after_a_path_change_is_at_least_spandsps(both):
    ours, theirs = both["ours"]["reconvergence"], both["spandsp"]["reconvergence"]
    worse = {case: (ours[case], theirs[case]) for case in ours if ours[case] < theirs[case]}
    assert not worse, worse


@pytest.mark.slow
def test_erle_after_double_talk_is_at_least_spandsps(both):
    ours, theirs = both["ours"]["double_talk"], both["spandsp"]["double_talk"]
    pairs = {case: (ours[case]["erle_after_db"], theirs[case]["erle_after_db"]) for case in ours}
    worse = {case: pair for case, pair in pairs.items() if pair[0] < pair[1]}
    assert not worse, worse


@pytest.mark.slow
def test_with_nlp_the_near_end_passes_at_least_as_well_and_the_residual_meets_g168(both):
    ours, theirs = both["ours"]["nlp"], both["spandsp"]["nlp"]
    for case in CASES:
        loss = ours["near_end_loss_db"][case]
        assert loss <= min(NEAR_END_LOSS_DB, theirs["near_end_loss_db"][case]), (case, loss, theirs)
        # spandsp's residual is lower only because its NLP mutes the line (comfort noise far
        # below the -65 dBm0 line noise, or none): ours must meet G.168's limit and keep the
        # line's noise (comfort noise within 3 dB of it, not silence).
        level = ours["residual_dbm0"][case]
        assert g168.LINE_NOISE_DBM0 - 3.0 <= level <= RESIDUAL_WITH_NLP_DBM0, (case, level)
