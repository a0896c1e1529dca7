"""The one interface through which an answered inbound call reaches a call service.

Phones (extensions, ring groups) are the switch's own. Everything else a route can name —
an IVR, a queue, voicemail — is a *service*: an object with ``take(call, line_port, name)``
registered per destination kind with call control (``CallControl.register_service``).
``take`` returns False when it cannot take the call (no such IVR flow, queue closed to new
callers…); the switch then plays congestion to the caller and releases the line, with the
reason in the log. A service that raises instead ends only that call (``internal_error``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from firmware.config.model import DestinationKind
from firmware.engine.calls import Call

SERVICE_KINDS = (DestinationKind.IVR, DestinationKind.QUEUE, DestinationKind.VOICEMAIL)


class CallService(Protocol):
    def take(self, call: Call, line_port: int, name: str) -> bool:
        """Takes over the answered call on ``line_port``; False if it cannot."""
        ...


Services = Mapping[DestinationKind, CallService]


class AttachedService(Protocol):
    """A service that follows the engine (``CallControl.attach``): called on every tick, on every
    digit before the dial plan and on every hook flash before the flash features (True =
    consumed), after a phone answered a call, and before any call ends (the ACD: queue
    callers, offers to agents, agent feature prompts, an agent's flash ending wrap-up).

    Every hook has a default that does nothing (a service subclasses this protocol and writes
    only the hooks it uses)."""

    def on_tick(self, tick: int) -> None:
        return None

    def on_digit(self, port: int, digit: str) -> bool:
        return False

    def on_flash(self, port: int) -> bool:
        return False

    def answered(self, call: Call, port: int) -> None:
        return None

    def before_end(self, call: Call) -> None:
        return None

