"""CPU, memory and disk of the box, for the dashboard (Linux ``/proc``; the web process reads them)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def _meminfo(path: Path) -> dict[str, int]:
    values: dict[str, int] = {}
    try:
        for line in path.read_text().splitlines():
            key, _, rest = line.partition(":")
            parts = rest.split()
            if parts and parts[0].isdigit():
                values[key] = int(parts[0]) * 1024  # kB
    except OSError:
        return {}
    return values


def system_figures(data_dir: Path, proc: Path = Path("/proc")) -> dict:
    """Load per core, memory used, disk used under the data folder; a figure that cannot be read is None."""
    figures: dict[str, object] = {"cpu_load_per_core": None, "memory_used_percent": None,
                                  "disk_used_percent": None, "disk_free_mb": None}
    try:
        load1 = float((proc / "loadavg").read_text().split()[0])
        figures["cpu_load_per_core"] = round(load1 / (os.cpu_count() or 1), 2)
    except (OSError, ValueError, IndexError):
        figures["cpu_load_per_core"] = None  # no /proc/loadavg (not Linux): shown as "-"
    memory = _meminfo(proc / "meminfo")
    if memory.get("MemTotal") and "MemAvailable" in memory:
        figures["memory_used_percent"] = round(100 * (1 - memory["MemAvailable"] / memory["MemTotal"]), 1)
    try:
        usage = shutil.disk_usage(data_dir)
        figures["disk_used_percent"] = round(100 * usage.used / usage.total, 1)
        figures["disk_free_mb"] = usage.free // (1024 * 1024)
    except OSError:
        figures["disk_used_percent"] = None
    return figures
