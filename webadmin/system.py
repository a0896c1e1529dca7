"""CPU, memory and disk of the box, for the dashboard (Linux ``/proc``; the web process reads them),
and the box's data against the retention's disk budget (the warning at 80 %, issue 16)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from firmware.storage.retention import MB, WARN_PERCENT, measure


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


def storage_figures(db_path: Path, budget_mb: int) -> dict:
    """The data on the card against ``retention.disk_budget_mb``, measured as the retention job
    measures it; ``storage_warning`` from :data:`WARN_PERCENT` % (the console logs
    ``storage_budget`` then too)."""
    usage = measure(db_path, budget_mb)
    return {"storage_used_mb": round(usage.total / MB, 1), "storage_budget_mb": budget_mb,
            "storage_percent": round(100 * usage.fraction, 1), "storage_warning": usage.warning,
            "storage_warn_percent": WARN_PERCENT}
