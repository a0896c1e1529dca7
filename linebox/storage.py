"""Where the box keeps its database, and the board lookup the configuration store needs.

Kept apart from the command modules so that any part of the composition root (commands,
the appliance assembly, the scenario runner) can open the store without importing the
command line (which imports them back).
"""

from __future__ import annotations

import os
from pathlib import Path

from board.definitions import available_boards, load_board
from firmware.config import BoardPorts, ConfigStore, PortKind

DEFAULT_DB = Path("var") / "linebox.db"


def resolve_db_path(option: str | None) -> Path:
    """``--db``, else ``$LINEBOX_DB``, else ``var/linebox.db`` under the current folder."""
    if option:
        return Path(option)
    return Path(os.environ.get("LINEBOX_DB") or Path.cwd() / DEFAULT_DB)


def board_ports(name: str) -> BoardPorts | None:
    """The configuration's view of a board definition (None: no such board).

    Resolved here, in the composition root, because firmware may not import board/.
    """
    if name not in available_boards():
        return None
    definition = load_board(name)
    return BoardPorts(definition.name, tuple(PortKind(str(port.kind)) for port in definition.ports))


def open_store(db: str | None) -> ConfigStore:
    return ConfigStore(resolve_db_path(db), boards=board_ports)
