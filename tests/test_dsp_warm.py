"""dsp/warm.py and ``linebox dsp warm``: every compiled kernel of dsp/ is warmed, and after a
warm the engine's detectors compile nothing (they load every kernel from numba's cache)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numba
import pytest

from dsp import warm
from linebox.cli import main

ROOT = Path(__file__).resolve().parents[1]

# Run in a fresh interpreter (a kernel another test compiled in this process would pass for
# warmed): warm(), then for each dsp module that uses numba (imports it, or builds its kernels
# with dsp/jit.py), its kernels (numba dispatchers, inlined helpers aside: they are compiled into
# their callers) and whether each now has a compiled signature.
KERNELS_AFTER_WARM = r"""
import importlib, json, pathlib, re, sys
import numba
import dsp
from dsp.warm import warm
parts = warm()
uses_numba = re.compile(r"^(import numba|from numba\b|@(jit\.)?kernel\b|from dsp\.jit import .*\bkernel\b)", re.M)
def compile_disabled(dispatcher):
    try:  # None for every argument: no matching signature; numba compiles one only if it may
        dispatcher(*[None] * dispatcher.py_func.__code__.co_argcount)
    except TypeError as exc:
        return "No matching definition" in str(exc)
    except numba.core.errors.TypingError:
        return False
    return False
modules = {}
for path in sorted(pathlib.Path(dsp.__file__).parent.glob("*.py")):
    if not uses_numba.search(path.read_text()):
        continue
    module = importlib.import_module(f"dsp.{path.stem}")
    modules[module.__name__] = {
        name: [len(obj.signatures), getattr(obj, "declared_signatures", None) is not None
               and sorted(map(str, obj.signatures)) == sorted(map(str, obj.declared_signatures)),
               compile_disabled(obj)]
        for name, obj in vars(module).items()
        if isinstance(obj, numba.core.dispatcher.Dispatcher) and obj.py_func.__module__ == module.__name__
        and obj.targetoptions.get("inline", "never") != "always"}
print(json.dumps({"parts": parts, "modules": modules}))
"""

BUILDERS = {"dsp.jit"}  # uses numba to build kernels, has none of its own


def _python(code: str, env: dict[str, str]) -> dict:
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), **extra}


def test_every_kernel_of_every_dsp_module_using_numba_is_compiled_by_warm():
    report = _python(KERNELS_AFTER_WARM, _env())
    modules = report["modules"]
    assert {"dsp.dtmf_kernel", "dsp.echo_kernels"} <= set(modules), modules  # today's; a new one joins them
    for name, kernels in modules.items():
        if name in BUILDERS:
            assert not kernels, f"{name} has kernels of its own: warm them and take it out of BUILDERS"
            continue
        assert kernels, f"{name} uses numba but no kernel of it was found (inlined helpers only?)"
        cold = sorted(kernel for kernel, (signatures, _, _) in kernels.items() if not signatures)
        assert not cold, f"{name}: {cold} not compiled by dsp/warm.py's parts: build their part there"
        # Made with dsp.jit.kernel, compiled for exactly what they declare, compilation then off.
        undeclared = sorted(kernel for kernel, (_, declared, _) in kernels.items() if not declared)
        assert not undeclared, f"{name}: {undeclared} compiled for other types than they declare (dsp.jit.kernel)"
        open_ = sorted(kernel for kernel, (_, _, disabled) in kernels.items() if not disabled)
        assert not open_, f"{name}: {open_} can still compile after the warm (dsp.jit.ready)"
    assert report["parts"] == ["dtmf", "echo"]


# The engine's detectors (firmware/engine/detectors.py) on a box of 4 lines and 4 phones, for
# some ticks of int16 audio as the media loop gives them, in a new process after the warm: every
# kernel numba needed came from the cache (a miss is a compile the warm did not cover).
ENGINE_TICKS = r"""
import json, numba, numpy as np
from dsp import dtmf_kernel, echo_kernels
from dsp.toneplans import get_plan
from firmware.engine.detectors import DetectorBank
bank = DetectorBank([False] * 4 + [True] * 4, get_plan("us"), "bell202")
rng = np.random.default_rng(10)
sent = np.zeros((8, 160), np.int16)
for _ in range(20):
    frame = rng.integers(-3000, 3000, (8, 160)).astype(np.int16)
    bank.process(bank.cancel_echo(frame, sent))
    sent = frame
stats = {}
for module in (dtmf_kernel, echo_kernels):
    for name, obj in vars(module).items():
        if isinstance(obj, numba.core.dispatcher.Dispatcher) and obj.targetoptions.get("inline", "never") != "always":
            stats[f"{module.__name__}.{name}"] = [sum(obj.stats.cache_hits.values()), sum(obj.stats.cache_misses.values())]
print(json.dumps(stats))
"""


@pytest.mark.slow
def test_after_linebox_dsp_warm_the_engines_detectors_compile_nothing(tmp_path):
    env = _env(NUMBA_CACHE_DIR=str(tmp_path / "numba-cache"))
    done = subprocess.run([sys.executable, "-m", "linebox", "dsp", "warm"], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["cached"] is True and report["parts"] == ["dtmf", "echo"], report
    stats = _python(ENGINE_TICKS, env)
    assert stats and all(hits for hits, _ in stats.values()), stats  # each kernel was used, from the cache
    assert not [name for name, (_, misses) in stats.items() if misses], stats


def test_a_part_whose_kernel_does_not_compile_fails_the_warm_with_one_line_last(monkeypatch, capsys):
    def bad() -> None:
        numba.njit(lambda x: "x" + x)(1)  # a typing error: found when numba compiles

    monkeypatch.setattr(warm, "PARTS", (("bad", bad),))
    assert main(["dsp", "warm"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines()[-1] == ("linebox: bad: its kernels do not build: TypingError: Failed in nopython "
                                             "mode pipeline (step: nopython frontend)")
    assert "add(Literal[str](x), int64)" in captured.err  # numba's own message comes first
