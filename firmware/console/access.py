"""What the console may look at and act on in the running engine, handed over by the composition root.

The console never builds anything: ``linebox run`` (or a test) passes the objects it made.
The switch, the mixer and the loop's statistics are read and changed only through
``loop.submit`` (see :mod:`firmware.console.gateway`); the link and the store are thread-safe
and are read directly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from firmware.config.store import ConfigStore
from firmware.engine.loop import MediaLoop
from firmware.engine.switch import Switch


class LinkView(Protocol):
    """The line card's link as ``drivers.link.SerialLink`` shows it (state, card, counters, frames)."""

    @property
    def state(self) -> object: ...  # a LinkState (``.value`` is its name)

    identity: object | None  # a CardIdentity once the card has identified itself
    refusal: str | None
    counters: Mapping[str, int]

    def recent_frames(self) -> list[str]: ...


class TestCaller(Protocol):
    """Places a test call from ``port`` to ``number``, hung up after ``hold_s``; runs on the loop's thread.

    Returns one line saying what was done; raises FirmwareError (nothing done) when it cannot.
    Only a simulated board can do this: on real hardware nobody lifts the handset for us.
    """

    def __call__(self, port: int, number: str, hold_s: int) -> str: ...


class MediaFiles(Protocol):
    """Music-on-hold classes and queue greetings in the engine's memory
    (``firmware.acdengine.mediareload.MediaReload``)."""

    def reload(self) -> list[str]:
        """Re-reads what changed on disk (on the console's thread) and queues the swap on the loop."""
        ...

    def lines(self) -> list[str]:
        """What is in memory, one line each (on the loop's thread)."""
        ...


@dataclass(frozen=True)
class EngineAccess:
    loop: MediaLoop
    switch: Switch
    store: ConfigStore
    link: LinkView | None = None
    test_call: TestCaller | None = None
    board: str = ""  # the board definition's name, for the banner
    storage: Callable[[], str] | None = None  # one line: the data's size against the disk budget (retention)
    # Ends the engine so that it starts again (``engine restart``); None when nothing would start
    # it again (an engine not run by ``linebox run``: then refused).
    restart: Callable[[], None] | None = None
    restarter: str = "systemd"  # who starts it again: "systemd" (the unit) or "self" (it executes itself again)
    voicemail: object | None = None  # the box's voicemail (firmware.voicemail.Voicemail), for ``mailbox`` commands
    media: MediaFiles | None = None  # music classes and queue greetings (``media reload``, ``show media``)
