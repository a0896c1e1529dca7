"""linebox/releases.py: pruning a release removes its kernels from numba's cache
(/var/lib/linebox/numba-cache), which numba keys by each source folder's path; the kept
releases' and any other source's entries stay."""

import os
import subprocess
import sys
from pathlib import Path

from linebox.releases import COMPLETE_MARK, Layout, numba_cache_folders, prune

# A kernel in each release's dsp/ folder, compiled by numba into NUMBA_CACHE_DIR: the real
# folder names numba gives them (what prune must find).
COMPILE = r"""
import importlib.util, sys
for path in sys.argv[1:]:
    spec = importlib.util.spec_from_file_location(f"k{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.plus_one(1) == 2
"""
KERNEL = "import numba\n\n\n@numba.njit(cache=True)\ndef plus_one(x):\n    return x + 1\n"


def _release(layout: Layout, version: str, when: int) -> Path:
    release = layout.release(version)
    (release / "dsp").mkdir(parents=True)
    (release / "dsp" / "kernel.py").write_text(KERNEL)
    (release / COMPLETE_MARK).write_text("")
    os.utime(release / COMPLETE_MARK, (when, when))
    return release


def test_pruning_a_release_removes_its_numba_cache_folders_and_keeps_the_others(tmp_path):
    layout = Layout(tmp_path)
    releases = [_release(layout, version, when) for version, when in (("1.0.0", 100), ("2.0.0", 200), ("3.0.0", 300))]
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "kernel.py").write_text(KERNEL)
    layout.current.symlink_to(releases[2])
    done = subprocess.run(
        [sys.executable, "-c", COMPILE, *(str(r / "dsp" / "kernel.py") for r in releases), str(other / "kernel.py")],
        env={**os.environ, "NUMBA_CACHE_DIR": str(layout.numba_cache)}, capture_output=True, text=True, timeout=300,
        check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    before = sorted(path.name for path in layout.numba_cache.iterdir())
    assert len(before) == 4 and all(list(layout.numba_cache.glob(f"{name}/*.nbi")) for name in before), before
    owned = [numba_cache_folders(layout, release) for release in releases]
    assert all(len(folders) == 1 for folders in owned), owned  # found: numba's naming is the one assumed
    assert prune(layout, 2) == ["1.0.0"]
    after = sorted(path.name for path in layout.numba_cache.iterdir())
    assert after == sorted(set(before) - {owned[0][0].name})  # 2.0.0's, 3.0.0's and the other source's stay
    assert not releases[0].exists() and releases[1].is_dir()
    assert prune(layout, 2) == []  # nothing more to prune: the cache unchanged
    assert sorted(path.name for path in layout.numba_cache.iterdir()) == after


def test_no_numba_cache_folder_nothing_to_remove(tmp_path):
    layout = Layout(tmp_path)
    release = _release(layout, "1.0.0", 100)
    assert numba_cache_folders(layout, release) == []
