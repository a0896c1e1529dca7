"""Shared helpers of the configuration tests (test_config*, test_routing, test_tollguard, test_cdr).

The virtual board's port map is written out here rather than read from board/, so these
tests check firmware/ on its own (firmware never imports board/).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from firmware.config import BoardPorts, Config, ConfigStore, PortKind, demo_config

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
