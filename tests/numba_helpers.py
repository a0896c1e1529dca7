"""A sandbox where numba finds no writable cache location at all, for the tests that the
compiled kernels still build there (as on a box whose state folder is read-only)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def no_cache_sandbox(tmp_path: Path) -> dict[str, str]:
    """Copy dsp/ into ``tmp_path`` with its ``__pycache__`` a file, and return an environment
    whose NUMBA_CACHE_DIR, HOME and XDG_CACHE_HOME lie under a file: numba then has "no
    locator available". Run the child with ``cwd=tmp_path`` and this environment."""
    shutil.copytree(ROOT / "dsp", tmp_path / "dsp", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "dsp" / "__pycache__").write_text("")
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(PYTHONPATH=str(tmp_path), HOME=str(blocker), XDG_CACHE_HOME=str(blocker),
               NUMBA_CACHE_DIR=str(blocker / "numba"), PYTHONDONTWRITEBYTECODE="1")
    return env
