"""What the IVR tells the rest of the box as a call walks a flow: the public hook.

An :class:`IvrWatcher` given to :meth:`IvrService.watch` hears, on the media loop's thread,
every node a call enters and every variable set on it (a ``collect`` node's digits, a
``set`` node, a ``lookup``'s contact fields). The manager interface publishes them as AMI's
``Newexten`` and ``VarSet`` events (docs/manager.md), so a CRM can pop a caller's record by
the account number keyed in the IVR, without reading the IVR's internals.
"""

from __future__ import annotations

from typing import Protocol

from firmware.config.ivrmodel import IvrNode
from firmware.engine.calls import Call


class IvrWatcher(Protocol):
    def ivr_node(self, call: Call, line_port: int, flow: str, node: IvrNode) -> None:
        """``call`` (its line on ``line_port``) entered ``node`` of ``flow``."""
        ...

    def ivr_variable(self, call: Call, line_port: int, name: str, value: str) -> None:
        """Variable ``name`` of ``call`` is now ``value``."""
        ...
