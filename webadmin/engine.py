"""The engine as the web admin reaches it: its console socket, one connection per request.

The web admin runs in its own process and never reads the engine's memory: it sends the
console's own commands (``show status`` for the live state as one JSON line, ``port out``,
``call test``, ``config reload``) and reads their replies.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from firmware import FirmwareError
from firmware.console.client import ConsoleClient
from webadmin.services import Engine

TAIL_POLL_S = 0.02  # ``log tail`` is stopped after the first quiet gap this long following the backlog


class ConsoleEngine:
    """:class:`webadmin.services.Engine` over the console socket at ``path``."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def tail(self, lines: int) -> list[str]:
        """The last ``lines`` log lines (``log tail``'s backlog; the stream is stopped at once)."""
        got: list[str] = []
        with ConsoleClient(self.path, poll_s=TAIL_POLL_S) as client:
            client.run(f"log tail lines={lines}", got.append, lambda: True)
        return got[-lines:]

    def run(self, command: str) -> list[str]:
        lines: list[str] = []
        with ConsoleClient(self.path) as client:
            client.run(command, lines.append)
        return lines


def engine_status(engine: Engine) -> dict:
    """The engine's ``show status`` as data, or ``{"error": why}`` when it cannot be reached."""
    try:
        lines = engine.run("show status")
        return json.loads(lines[0]) if lines else {"error": "the engine sent no status"}
    except FirmwareError as exc:
        return {"error": str(exc)}
    except (ValueError, IndexError) as exc:
        return {"error": f"the engine's status could not be read: {exc}"}
