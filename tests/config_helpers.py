"""Shared helpers of the configuration tests (test_config*, test_routing, test_tollguard, test_cdr);
mutations of the YAML form (``setting``, ``several``) and ``outcome`` for table-driven checks.

The virtual board's port map is written out here rather than read from board/, so these
tests check firmware/ on its own (firmware never imports board/).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import re
from pathlib import Path

from firmware import FirmwareError
from firmware.config import (
    BoardPorts,
    Config,
    ConfigStore,
    PortKind,
    demo_config,
    from_dict,
    to_dict,
    validate,
)

VIRTUAL = BoardPorts("virtual", (PortKind.FXO,) * 2 + (PortKind.FXS,) * 4)
BIG = BoardPorts("big", (PortKind.FXO,) * 4 + (PortKind.FXS,) * 12)
BOARDS = {board.name: board for board in (VIRTUAL, BIG)}


def lookup(name: str) -> BoardPorts | None:
    return BOARDS.get(name)


def open_store(path: Path) -> ConfigStore:
    return ConfigStore(path, boards=lookup)


def demo() -> Config:
    return demo_config()


def replace(obj, **changes):
    return dataclasses.replace(obj, **changes)


def utc(text: str) -> dt.datetime:
    """``"2026-03-02 14:00"`` as an aware UTC datetime."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def demo_data() -> dict:
    return to_dict(demo())


def outcome(data, checks=None) -> str:
    """"" when ``data`` is accepted, else the error line."""
    try:
        validate(from_dict(data), lookup, checks)
    except FirmwareError as exc:
        return str(exc)
    return ""


def setting(path: str, value):
    """A mutation setting ``path`` ("lines[0].name", "zone") to ``value``; value DELETE removes the key."""
    def mutate(data):
        target, key = locate(data, path)
        if value is DELETE:
            del target[key]
        else:
            target[key] = copy.deepcopy(value)
    return mutate


DELETE = object()


def locate(data, path: str):
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", path)
    target = data
    for part in parts[:-1]:
        target = target[int(part[1:-1])] if part.startswith("[") else target[part]
    last = parts[-1]
    return target, int(last[1:-1]) if last.startswith("[") else last


def several(*mutations):
    def mutate(data):
        for mutation in mutations:
            mutation(data)
    return mutate
