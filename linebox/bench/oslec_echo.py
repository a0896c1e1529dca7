"""OSLEC, the Linux kernel's line echo canceller (drivers/misc/echo), as a user-space library
for the echo benchmark's side-by-side runs (linebox/bench/echo_vs_reference.py).

OSLEC is only distributed as kernel source, so it is built here, once, from Debian's
``linux-source-6.1`` package (``/usr/src/linux-source-6.1.tar.xz``; in the Makefile's
APT_PACKAGES): its four files under ``drivers/misc/echo`` are extracted from the tarball and
compiled with ``gcc -O2`` into a shared object, against three small headers written here that
stand in for the kernel's (allocation as calloc/free, ``fls``, module macros as nothing).
Nothing of OSLEC is kept in this repository. The result is cached under
``$XDG_CACHE_HOME/linebox/oslec/`` (default ``~/.cache``), keyed by the tarball's name and
modification time; the first build takes about half a minute (xz decompression of the tarball).

API (``drivers/misc/echo/oslec.h``): ``oslec_create(taps, mode)``,
``oslec_update(state, tx, rx)`` -> cleaned rx (int16, one call per sample, no latency),
``oslec_hpf_tx``, ``oslec_free``; the mode bits are :class:`Mode`.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import tempfile
from enum import IntFlag
from pathlib import Path

from linebox.bench.sample_canceller import UPDATE, SampleApi, SampleCanceller

SOURCE_GLOB = "linux-source-*.tar.xz"
SOURCE_DIR = Path("/usr/src")
MEMBERS = "*/drivers/misc/echo/*"

# Stand-ins for the three kernel headers echo.c includes (user space: libc allocation).
SHIM = {
    "linux/kernel.h": "#include <stdint.h>\n#include <stdlib.h>\n#include <string.h>\n"
    "static inline int fls(int x) { return x ? 32 - __builtin_clz((unsigned int) x) : 0; }\n",
    "linux/slab.h": "#include <stdlib.h>\n#define GFP_KERNEL 0\n"
    "#define kzalloc(size, flags) calloc(1, (size))\n#define kcalloc(n, size, flags) calloc((n), (size))\n"
    "#define kfree(p) free(p)\n",
    "linux/module.h": "".join(
        f"#define {macro}(x) extern int linebox_oslec_unused\n"
        for macro in ("EXPORT_SYMBOL_GPL", "MODULE_LICENSE", "MODULE_AUTHOR", "MODULE_DESCRIPTION", "MODULE_VERSION")
    ),
}


class OslecMissing(Exception):
    """OSLEC could not be built or loaded (its source package or gcc is missing)."""


class Mode(IntFlag):
    """Adaption mode bits of OSLEC (the kernel's ``oslec.h``)."""

    ADAPTION = 0x01
    NLP = 0x02
    CNG = 0x04
    CLIP = 0x08
    TX_HPF = 0x10
    RX_HPF = 0x20
    DISABLE = 0x40


# As DAHDI creates it for Asterisk (dahdi_echocan_oslec: adaption, NLP, CLIP, TX and RX
# high-pass), less the TX high-pass: that one filters what is sent to the line
# (``oslec_hpf_tx``), which the scenarios' far end is, unfiltered. Linear figures: NLP off.
LINEAR = Mode.ADAPTION | Mode.RX_HPF
WITH_NLP = Mode.ADAPTION | Mode.NLP | Mode.CLIP | Mode.RX_HPF
WITH_CNG = Mode.ADAPTION | Mode.NLP | Mode.CNG | Mode.RX_HPF  # its comfort noise instead of CLIP


def source_tarball(source_dir: Path = SOURCE_DIR) -> Path:
    found = sorted(source_dir.glob(SOURCE_GLOB))
    if not found:
        raise OslecMissing(f"no {SOURCE_GLOB} in {source_dir}: install Debian's linux-source-6.1 (OSLEC's source)")
    return found[-1]


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "linebox" / "oslec"


def build(tarball: Path, cache: Path) -> Path:
    """The shared object built from ``tarball`` (cached in ``cache``)."""
    target = cache / f"{tarball.name.removesuffix('.tar.xz')}-{int(tarball.stat().st_mtime)}" / "liboslec.so"
    if target.exists():
        return target
    if shutil.which("gcc") is None or shutil.which("tar") is None:
        raise OslecMissing("building OSLEC needs gcc and tar (Debian packages gcc, tar)")
    with tempfile.TemporaryDirectory() as work:
        root = Path(work)
        extract = ["tar", "-xJf", str(tarball), "-C", work, "--wildcards", MEMBERS]
        done = subprocess.run(extract, capture_output=True, text=True, check=False)
        sources = list(root.glob("*/drivers/misc/echo/echo.c"))
        if done.returncode != 0 or not sources:
            raise OslecMissing(f"no drivers/misc/echo/echo.c in {tarball}: {done.stderr.strip()[:200]}")
        for name, text in SHIM.items():
            (root / "shim" / name).parent.mkdir(parents=True, exist_ok=True)
            (root / "shim" / name).write_text(text)
        built = root / "liboslec.so"
        compile_ = ["gcc", "-O2", "-shared", "-fPIC", "-I", str(root / "shim"), "-o", str(built), str(sources[0])]
        done = subprocess.run(compile_, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise OslecMissing(f"OSLEC did not compile: {done.stderr.strip().splitlines()[-1][:200]}")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        shutil.copyfile(built, partial)
        partial.replace(target)  # atomic: a concurrent build gives the same file
    return target


def load(source_dir: Path = SOURCE_DIR, cache: Path | None = None) -> SampleApi:
    """OSLEC's functions (built first if needed); OslecMissing with the reason if it cannot be."""
    path = build(source_tarball(source_dir), cache or cache_dir())
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as exc:
        raise OslecMissing(f"{path} does not load: {exc}") from exc
    # struct oslec_state *oslec_create(int len, int adaption_mode)
    lib.oslec_create.restype = ctypes.c_void_p
    lib.oslec_create.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.oslec_free.restype = None
    lib.oslec_free.argtypes = [ctypes.c_void_p]
    return SampleApi(
        create=lib.oslec_create,
        # int16_t oslec_update(struct oslec_state *ec, int16_t tx, int16_t rx)
        update=UPDATE(("oslec_update", lib)),
        # int16_t oslec_hpf_tx(struct oslec_state *ec, int16_t tx): tx when TX_HPF is off;
        # called with the update's prototype (the third argument is ignored: SysV x86-64/AArch64)
        noop=UPDATE(("oslec_hpf_tx", lib)),
        free=lib.oslec_free,
    )


class OslecEcho(SampleCanceller):
    """One OSLEC per channel (64 or 128 ms tail, adaption ``mode``)."""

    def __init__(self, api: SampleApi, channels: int, tail_ms: float = 64.0, mode: Mode = LINEAR) -> None:
        super().__init__(api, channels, tail_ms, int(mode))
