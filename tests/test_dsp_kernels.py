"""The compiled DSP kernels (dsp/jit.py) compile only the argument types they declare, when
their part is built, never on a call: after a realistic workload of every configuration the
engine and the tools use, each kernel holds exactly its declared signatures, and a call with
other types is a TypeError at once (numba's compilation is off), not a compile of seconds on
the media loop's thread."""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.numba_helpers import no_cache_sandbox

ROOT = Path(__file__).resolve().parents[1]

# In a fresh interpreter (a kernel another test called directly, before any part made it ready,
# could hold a signature compiled lazily in this one).
WORKLOAD = r"""
import json
import numba
import numpy as np
from dsp import dtmf_kernel, echo_kernels
from dsp.dtmf import DtmfDetector
from dsp.dtmfgen import generate_dtmf
from dsp.echo import EchoCanceller
from dsp.toneplans import get_plan
from firmware.engine.detectors import DetectorBank

rng = np.random.default_rng(7)

def talker(n):  # a far-end talker: noise bursts, 200 ms on, 100 ms off
    on = (np.arange(n) // 800) % 3 != 2
    return rng.normal(0.0, 2000.0, n) * on

def echo(far, path):
    return np.convolve(far, path)[: far.size]

paths = [np.r_[np.zeros(40), 0.3, -0.2, 0.1], np.r_[np.zeros(90), -0.25, 0.15]]
n = 8000 * 2
for tail_ms in (64.0, 128.0):
    for nlp in (True, False):
        for channels in (1, 3):
            canceller = EchoCanceller(channels, tail_ms=tail_ms, nlp=nlp)
            far = np.array([talker(n) for _ in range(channels)])
            # The echo path changes half-way; a near-end talker in the last quarter (double talk).
            near = np.array([np.r_[echo(row[: n // 2], paths[0]), echo(row[n // 2 :], paths[1])] for row in far])
            near[:, 3 * n // 4 :] += rng.normal(0.0, 1500.0, (channels, n // 4))
            far16, near16 = far.astype(np.int16), near.astype(np.int16)
            for at in range(0, n, 160):  # the engine's ticks, int16
                canceller.process(far16[:, at : at + 160], near16[:, at : at + 160])
            for at in range(0, 4000, 333):  # the tools': float samples, any block size
                canceller.process(far[:, at : at + 333], near[:, at : at + 333])
# The engine's way: the canceller on a subset of the lines (ports 0 and 2 of 4 lines, 2 phones).
bank = DetectorBank([False] * 4 + [True] * 2, get_plan("us"), "bell202", echo_on=[0, 2])
sent = np.zeros((6, 160), np.int16)
for _ in range(60):
    frame = rng.integers(-3000, 3000, (6, 160)).astype(np.int16)
    bank.process(bank.cancel_echo(frame, sent))
    sent = frame

detector = DtmfDetector(2)
tone = np.concatenate([np.zeros(400), generate_dtmf("5", -10.0, 60, 60), np.zeros(400)])
both = np.array([tone, tone[::-1]])
for at in range(0, both.shape[1], 160):  # the engine's int16 ticks
    detector.process(np.ascontiguousarray(both[:, at : at + 160]).astype(np.int16))
detector.process(both)  # the tools' float samples, a long block (cut in chunks)
detector.process(both.astype(np.float32)[:, :160])  # other types are converted, not compiled
detector.process(both.astype(np.int32)[:, :160])
detector.process(both.astype(np.int16)[:, ::2])  # a strided view
readonly = both.astype(np.int16)
readonly.flags.writeable = False  # a file's samples (np.frombuffer) are read-only
detector.process(readonly[:, :160])
detector.process(readonly[:, :160])  # a shape seen before: the fast path, straight to the kernel

def refused(call):
    try:
        call()
    except TypeError as exc:
        return "No matching definition" in str(exc)
    return False

state = {}
for module in (dtmf_kernel, echo_kernels):
    for name, obj in vars(module).items():
        if isinstance(obj, numba.core.dispatcher.Dispatcher) and obj.targetoptions.get("inline", "never") != "always":
            state[f"{module.__name__}.{name}"] = [sorted(map(str, obj.signatures)),
                                                  sorted(map(str, obj.declared_signatures))]
# A C-contiguous argument given as a strided view, a float32 block: refused, not compiled.
signals = np.zeros((3, 5, 320))[:, :, ::2]
wrong_layout = refused(lambda: echo_kernels.block_powers(signals, np.zeros((2, 3)), 0, 1.0, np.zeros((5, 3)),
                                                          np.zeros(3), np.zeros(3, bool)))
floats, ints = np.zeros(10, np.float32), np.zeros((4, 6), np.int64)
wrong_type = refused(lambda: dtmf_kernel.receive(np.zeros((1, 8), np.float32), floats, ints))
print(json.dumps({"kernels": state, "wrong_layout": wrong_layout, "wrong_type": wrong_type,
                  "signatures_after": {k: len(v.signatures) for k, v in
                                       (("block_powers", echo_kernels.block_powers),
                                        ("receive", dtmf_kernel.receive))}}))
"""


def _run(code: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=900, check=False)


def test_after_every_configuration_each_kernel_holds_only_its_declared_signatures_and_compiles_no_other():
    done = _run(WORKLOAD, {**os.environ, "PYTHONPATH": str(ROOT)}, ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    kernels = report["kernels"]
    assert set(kernels) == {
        "dsp.dtmf_kernel.receive",
        *(f"dsp.echo_kernels.{name}" for name in (
            "step_spectrum", "add_proportionate", "finish_step", "error_window", "block_powers", "talk_update",
            "two_path")),
    }
    for name, (compiled, declared) in kernels.items():
        assert declared, name
        assert compiled == declared, f"{name}: compiled {compiled}, declared {declared}"
    # One specialisation per echo kernel (strided views are declared of any layout), and the
    # receiver's two block types (the engine's int16, the tools' float64).
    assert all(len(compiled) == 1 for name, (compiled, _) in kernels.items() if ".echo_kernels." in name)
    assert len(kernels["dsp.dtmf_kernel.receive"][0]) == 2
    assert report["wrong_layout"] and report["wrong_type"]
    assert report["signatures_after"] == {"block_powers": 1, "receive": 2}  # the refused calls compiled nothing


def test_the_echo_kernels_import_and_build_when_no_cache_folder_is_writable(tmp_path):
    # As tests/test_dtmf_kernel.py does for the receiver: a copy of dsp/ whose __pycache__ is a
    # file, NUMBA_CACHE_DIR and HOME under a file, so numba finds no cache location at all.
    # Importing the echo kernels must not fail (it did with numba.njit(cache=True) directly):
    # one warning per kernel, and a kernel made ready compiles in the process and runs.
    env = no_cache_sandbox(tmp_path)
    code = (
        "import numpy as np\n"
        "from dsp import echo_kernels as k\n"
        "from dsp.jit import ready\n"
        "ready(k.block_powers)\n"
        "powers, tail, active = np.zeros((1, 1)), np.zeros(1), np.zeros(1, bool)\n"
        "k.block_powers(np.full((1, 1, 4), 2.0), np.zeros((2, 1)), 0, 1.0, powers, tail, active)\n"
        "print(len(k.KERNELS), powers[0, 0])\n"
    )
    done = _run(code, env, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["7", "4.0"]
    warned = [line for line in done.stderr.splitlines() if "KernelCacheWarning" in line]
    assert len(warned) == 7 and all("no locator available" in line for line in warned), done.stderr
