"""The compiled receiver (dsp/dtmf_kernel.py) against the numpy receiver it replaced, and the
numba plumbing around it (dsp/jit.py): a box whose cache cannot be written still starts."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numba
import numpy as np
import pytest

from dsp import jit
from dsp.dtmf import DtmfDetector
from linebox.bench.dtmf import TICK_SAMPLES, make_audio
from tests.numba_helpers import no_cache_sandbox

ROOT = Path(__file__).resolve().parent.parent
# Recorded from main's numpy receiver (commit 1aefcb1) on the benchmark's audio, seed 1.
RECORDED = json.loads((Path(__file__).parent / "data" / "dtmf_numpy_receiver_events.json").read_text())


def _bench_events(channels: int, seconds: float) -> list[str]:
    x = make_audio(channels, seconds, 1)
    detector = DtmfDetector(channels)
    events = []
    for at in range(0, x.shape[1], TICK_SAMPLES):
        events += detector.process(np.ascontiguousarray(x[:, at : at + TICK_SAMPLES]))
    return [repr(event) for event in events + detector.finish()]


@pytest.mark.parametrize("run", RECORDED["runs"], ids=lambda run: f"{run['channels']}ch")
def test_events_are_those_of_the_numpy_receiver_on_the_bench_audio(run):
    events = _bench_events(run["channels"], run["seconds"])
    if "events" in run:
        assert events == run["events"]
    assert len(events) == run["count"]
    assert hashlib.sha256("\n".join(events).encode()).hexdigest() == run["sha256"]


def test_a_kernel_is_built_without_a_cache_when_numba_has_nowhere_to_write_it(monkeypatch):
    real_njit = numba.njit

    def njit(**options):
        if options.get("cache"):
            raise RuntimeError("cannot cache function 'twice': no locator available for file 'x.py'")
        return real_njit(**options)

    monkeypatch.setattr(jit.numba, "njit", njit)

    def twice(x):
        return 2 * x

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compiled = jit.kernel("(int64,)")(twice)
    jit.ready(compiled)
    assert compiled(21) == 42
    assert [w.category for w in caught] == [jit.KernelCacheWarning]
    assert "NUMBA_CACHE_DIR" in str(caught[0].message) and "\n" not in str(caught[0].message)


def test_the_receiver_starts_when_no_cache_folder_is_writable(tmp_path):
    # A copy of dsp/ whose __pycache__ is a file, NUMBA_CACHE_DIR and HOME under a file: numba
    # finds no cache location at all ("no locator available"), as on a box whose state folder
    # is read-only. The receiver must still work (compiled in the process), after one warning.
    env = no_cache_sandbox(tmp_path)
    code = (
        "import numpy as np\n"
        "from dsp.dtmf import DtmfDetector\n"
        "from dsp.dtmfgen import generate_dtmf\n"
        "x = np.concatenate([np.zeros(400), generate_dtmf('7', -10.0, 60, 60)]).astype(np.int16)[None]\n"
        "d = DtmfDetector(1)\n"
        "print(''.join(e.digit for e in d.process(x) + d.finish() if type(e).__name__ == 'DtmfDigit'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "7"
    warned = [line for line in done.stderr.splitlines() if "KernelCacheWarning" in line]
    assert len(warned) == 1 and "no locator available" in warned[0]


def test_dsp_warm_compiles_the_kernels_and_says_where_they_are_cached(capsys, monkeypatch, tmp_path):
    from linebox.cli import main

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))  # read for the report only: the kernels are built
    assert main(["dsp", "warm"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["cached"] is True and report["cache_dir"] == str(tmp_path) and report["seconds"] >= 0
