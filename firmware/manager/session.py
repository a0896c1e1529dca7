"""One manager client's state: who logged in, which events it wants, its event queue, its limits.

The session's own thread (server.py) reads its actions and writes its replies; the media
loop's thread offers events (:meth:`Session.offer`), which land in a bounded queue. A
session whose queue fills (the client reads too slowly, or not at all) is marked
``overflowed`` and its thread disconnects it: the loop never waits for a client.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from dataclasses import dataclass, field

from firmware.accounts import User
from firmware.manager.events import Event

EVENT_CLASSES = frozenset({"system", "call", "log", "verbose", "agent", "user", "config", "command", "dtmf",
                           "reporting", "cdr", "dialplan", "originate"})


def parse_event_mask(text: str) -> frozenset[str] | None:
    """AMI's ``Events:`` value: on/yes/true → every class, off/no/false → none, else a class list.
    None if it names no known class (the caller refuses it)."""
    value = text.strip().lower()
    if value in ("on", "yes", "true", "1", "all"):
        return EVENT_CLASSES
    if value in ("off", "no", "false", "0", ""):
        return frozenset()
    classes = frozenset(item.strip() for item in value.split(",") if item.strip())
    if "all" in classes:
        return EVENT_CLASSES
    if not classes <= EVENT_CLASSES:
        return None
    return classes


@dataclass
class SyncWait:
    """A synchronous Originate waiting for its outcome (the OriginateResponse it would be sent)."""

    done: threading.Event = field(default_factory=threading.Event)
    outcome: Event | None = None


class Session:
    def __init__(self, number: int, address: str, queue_events: int) -> None:
        self.number = number
        self.address = address
        self._user: User | None = None
        self.challenge = ""
        self._mask: frozenset[str] = EVENT_CLASSES
        self._wanted: frozenset[str] = frozenset()  # classes the account may read and the mask asks for
        self._readable: frozenset[str] = frozenset()  # classes the account may read
        self.limit = queue_events
        self.events: deque[Event] = deque()  # appended on the loop's thread, popped on the session's
        self.overflowed = False
        self.dropped = 0
        self.sync_waits: dict[str, SyncWait] = {}
        self._lock = threading.Lock()
        self.action_tokens = 0.0
        self.tokens_at = 0.0
        # The session's thread sleeps in select() on its socket and this pipe: an event written
        # to an empty queue wakes it with one byte (no polling, however many clients).
        self.wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_write, False)
        self._woken = False
        self._closed = False

    def close(self) -> None:
        # Under the lock: the loop's thread may still hold this session in a tuple of subscribers
        # being published to, and must never write to a closed (or reused) descriptor.
        with self._lock:
            self._closed = True
            os.close(self.wake_read)
            os.close(self._wake_write)

    def _wake(self) -> None:
        if self._woken:
            return
        with self._lock:
            if self._closed:
                return
            self._woken = True
            try:
                os.write(self._wake_write, b"!")
            except BlockingIOError:
                pass  # the pipe holds bytes already: it wakes anyway

    def woken(self) -> None:
        """On the session's thread, after select() returned for the pipe."""
        self._woken = False
        try:
            os.read(self.wake_read, 64)
        except BlockingIOError:
            pass

    @property
    def logged_in(self) -> bool:
        return self._user is not None

    @property
    def user(self) -> User | None:
        return self._user

    @user.setter
    def user(self, user: User | None) -> None:
        readable = frozenset() if user is None else (
            EVENT_CLASSES if "all" in user.read else frozenset(user.read) & EVENT_CLASSES)
        self._readable = readable
        self._wanted = readable & self._mask
        self._user = user

    @property
    def mask(self) -> frozenset[str]:
        return self._mask

    @mask.setter
    def mask(self, mask: frozenset[str]) -> None:
        self._mask = mask
        self._wanted = self._readable & mask

    def offer(self, item: Event) -> None:
        """On the loop's thread: keep ``item`` if this session may and wants to read it.
        A few set lookups and a deque append (the loop pays this per event and client)."""
        if item.session is None:
            if item.ami_class not in self._wanted:
                return
        elif item.ami_class not in self._readable:
            return
        elif item.name == "OriginateResponse" and item.action_id in self.sync_waits:
            with self._lock:
                wait = self.sync_waits.pop(item.action_id, None)
            if wait is not None:
                wait.outcome = item
                wait.done.set()
                self._wake()
                return
        if len(self.events) >= self.limit:
            self.overflowed = True
            self.dropped += 1
        else:
            self.events.append(item)
        self._wake()

    def wait_for(self, action_id: str) -> SyncWait:
        wait = SyncWait()
        with self._lock:
            self.sync_waits[action_id] = wait
        return wait

    def forget(self, action_id: str) -> None:
        with self._lock:
            self.sync_waits.pop(action_id, None)

    def take_events(self, limit: int = 256) -> list[Event]:
        out: list[Event] = []
        while len(out) < limit:
            try:
                out.append(self.events.popleft())
            except IndexError:
                break
        return out

    def allow_action(self, now: float, per_second: float) -> bool:
        """Token bucket: ``per_second`` actions a second, bursts of the same size."""
        self.action_tokens = min(per_second, self.action_tokens + (now - self.tokens_at) * per_second)
        self.tokens_at = now
        if self.action_tokens < 1.0:
            return False
        self.action_tokens -= 1.0
        return True
