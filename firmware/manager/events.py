"""AMI events and their fan-out from the media loop to the manager sessions.

An :class:`Event` is made on the media loop's thread (the channel and queue observers) and
published to the :class:`EventHub`, which offers it to every session. A session keeps the
events it may read (its account's read classes, its ``Events:`` mask) in a bounded queue
of its own; the loop never waits for a client (a full queue marks the session for
disconnection, :mod:`firmware.manager.server`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from firmware.manager.protocol import frame

# The permission class of each event (Asterisk's EVENT_FLAG_* of the same events).
CALL, AGENT, SYSTEM, REPORTING, CDR, DIALPLAN, USER = "call", "agent", "system", "reporting", "cdr", "dialplan", "user"


@dataclass(frozen=True)
class Event:
    name: str
    ami_class: str
    fields: tuple[tuple[str, object], ...] = ()
    action_id: str = ""  # the action it answers (OriginateResponse): then only its session gets it
    session: int | None = None

    def encode(self) -> bytes:
        headers: list[tuple[str, object]] = [("Event", self.name), ("Privilege", f"{self.ami_class},all")]
        if self.action_id:
            headers.append(("ActionID", self.action_id))
        headers.extend(self.fields)
        return frame(headers)

    def get(self, key: str, default: object = "") -> object:
        return next((value for name, value in self.fields if name == key), default)


def event(name: str, ami_class: str, fields: Sequence[tuple[str, object]], action_id: str = "",
          session: int | None = None) -> Event:
    return Event(name, ami_class, tuple(fields), action_id, session)


class Subscriber(Protocol):
    number: int

    def offer(self, event: Event) -> None:
        """Takes the event if the session wants it; never blocks."""
        ...


class EventHub:
    """Sessions that receive events; ``publish`` is called on the media loop's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: tuple[Subscriber, ...] = ()

    @property
    def listening(self) -> bool:
        return bool(self._subscribers)

    def subscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers = (*self._subscribers, subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers = tuple(s for s in self._subscribers if s is not subscriber)

    def publish(self, item: Event) -> None:
        for subscriber in self._subscribers:  # a tuple swapped whole: no lock on the loop's thread
            if item.session is None or item.session == subscriber.number:
                subscriber.offer(item)
