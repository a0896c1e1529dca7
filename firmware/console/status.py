"""``show status``: the engine's live state as one JSON line, for programs (the web admin).

The same rows as ``show ports``, ``show calls``, ``show stats``, ``show link`` and ``show
agents`` (:mod:`firmware.console.views`), keyed by their column names, so a program reads
them without parsing aligned tables. :func:`engine_rows` runs on the loop's thread; the
link is thread-safe and read on the console's.
"""

from __future__ import annotations

import dataclasses
import json

from firmware.acdengine.stats import find_stats
from firmware.console import views
from firmware.console.access import LinkView
from firmware.engine.loop import MediaLoop
from firmware.engine.switch import Switch

PORT_KEYS = ("port", "type", "state", "in_service", "call", "tone", "name")
CALL_KEYS = ("call", "direction", "ports", "caller", "destination", "state", "duration")


def engine_rows(loop: MediaLoop, switch: Switch) -> dict:
    """On the loop's thread: ports, calls, tick figures and (with an ACD) agents, as plain data."""
    stats = find_stats(switch.control)
    return {
        "ports": [dict(zip(PORT_KEYS, row, strict=True)) for row in views.port_rows(switch)],
        "calls": [dict(zip(CALL_KEYS, row, strict=True)) for row in views.call_rows(switch)],
        "stats": {name: value for name, value in views.stats_rows(loop, switch)},
        "agents": None if stats is None else [dataclasses.asdict(row) for row in stats.agent_rows()],
        "queues": None if stats is None else [dataclasses.asdict(row) for row in stats.queue_rows()],
    }


def link_document(link: LinkView | None) -> dict | None:
    if link is None:
        return None
    identity = link.identity
    return {
        "state": str(getattr(link.state, "value", link.state)),
        "refused": link.refusal,
        "model": getattr(identity, "model", None),
        "firmware": None if identity is None else ".".join(map(str, identity.firmware)),
        "protocol": None if identity is None else ".".join(map(str, identity.protocol)),
        "counters": dict(link.counters),
    }


def status_line(rows: dict, link: LinkView | None) -> str:
    """One line of JSON (ASCII only: the console escapes nothing in it)."""
    return json.dumps({**rows, "link": link_document(link)}, ensure_ascii=True, separators=(",", ":"),
                      default=str)
