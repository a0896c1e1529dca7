"""The last log lines in memory, and live copies of new ones for the consoles (``log tail``).

:class:`LogBuffer` is a ``logging.Handler`` attached to the ``linebox`` logger beside the
console handler of ``drivers/logs.py``; it formats each record the same way (one line,
``key=value``), keeps the last ``capacity`` lines in a ring and offers each new one to every
:class:`Subscription` whose :class:`LogFilter` matches (component, minimum level, port).

Whoever logs (the media loop's thread included) never waits for a console: a subscription
is a bounded queue, and a line that does not fit is dropped and counted, so a console that
reads slowly, or not at all, costs the engine one append per line and nothing more.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from drivers.logs import ROOT_LOGGER, KeyValueFormatter
from firmware import FirmwareError

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "warn": logging.WARNING,
          "error": logging.ERROR, "critical": logging.CRITICAL}
PORT_FIELDS = ("port", "line", "origin", "ports")  # fields that name the port(s) a line is about
DEFAULT_CAPACITY = 2000
DEFAULT_QUEUE_LINES = 1000


def parse_level(text: str) -> int:
    level = LEVELS.get(text.lower())
    if level is None:
        raise FirmwareError(f"unknown log level {text!r} (levels: debug, info, warning, error, critical)")
    return level


def known_components(extra: Iterable[str] = ()) -> list[str]:
    """Components that have a logger now (every ``EventLogger`` made so far), plus ``extra``."""
    prefix = ROOT_LOGGER + "."
    names = {name.removeprefix(prefix) for name, each in logging.Logger.manager.loggerDict.items()
             if name.startswith(prefix) and isinstance(each, logging.Logger)}
    return sorted(names | set(extra))


def _ports_of(fields: Mapping[str, object] | None) -> frozenset[int]:
    ports: set[int] = set()
    for key in PORT_FIELDS:
        value = (fields or {}).get(key)
        if value is None or isinstance(value, bool):
            continue
        for part in str(value).split(","):
            if part.strip().isdigit():
                ports.add(int(part))
    return frozenset(ports)


@dataclass(frozen=True)
class LogEntry:
    line: str
    component: str
    levelno: int
    ports: frozenset[int]


@dataclass(frozen=True)
class LogFilter:
    component: str | None = None  # this component and its children (``link`` matches ``link.x``)
    min_level: int = logging.NOTSET
    port: int | None = None  # lines whose port, line, origin or ports field names it

    def matches(self, entry: LogEntry) -> bool:
        if entry.levelno < self.min_level:
            return False
        if self.component is not None and not (
                entry.component == self.component or entry.component.startswith(self.component + ".")):
            return False
        return self.port is None or self.port in entry.ports


class Subscription:
    """New matching lines for one console; bounded, never blocks the logger."""

    def __init__(self, log_filter: LogFilter, max_lines: int) -> None:
        self.filter = log_filter
        self._lines: queue.Queue[str] = queue.Queue(maxsize=max_lines)
        self._lock = threading.Lock()
        self._dropped = 0

    def offer(self, entry: LogEntry) -> None:
        if not self.filter.matches(entry):
            return
        try:
            self._lines.put_nowait(entry.line)
        except queue.Full:
            with self._lock:
                self._dropped += 1

    def take(self, timeout_s: float) -> list[str]:
        """The lines waiting (after up to ``timeout_s`` for the first), and a note of any dropped."""
        lines: list[str] = []
        try:
            lines.append(self._lines.get(timeout=timeout_s))
        except queue.Empty:
            pass
        while True:
            try:
                lines.append(self._lines.get_nowait())
            except queue.Empty:
                break
        with self._lock:
            dropped, self._dropped = self._dropped, 0
        if dropped:
            lines.append(f"console: {dropped} log lines dropped (this console read too slowly)")
        return lines


class LogBuffer(logging.Handler):
    """Ring of the last ``capacity`` formatted lines; fans new lines out to subscriptions."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY, queue_lines: int = DEFAULT_QUEUE_LINES) -> None:
        super().__init__(logging.NOTSET)
        if capacity < 1 or queue_lines < 1:
            raise FirmwareError(f"log buffer needs capacity and queue_lines >= 1, got {capacity}, {queue_lines}")
        self.setFormatter(KeyValueFormatter())
        self.queue_lines = queue_lines
        self._ring: deque[LogEntry] = deque(maxlen=capacity)
        self._subscriptions: list[Subscription] = []
        self._guard = threading.Lock()
        self._components: set[str] = set()

    def attach(self, logger: logging.Logger | None = None) -> LogBuffer:
        """Adds this handler to ``logger`` (default: the ``linebox`` logger); returns self."""
        (logger or logging.getLogger(ROOT_LOGGER)).addHandler(self)
        return self

    def detach(self, logger: logging.Logger | None = None) -> None:
        (logger or logging.getLogger(ROOT_LOGGER)).removeHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            entry = LogEntry(
                line=self.format(record),
                component=record.name.removeprefix(ROOT_LOGGER).lstrip(".") or ROOT_LOGGER,
                levelno=record.levelno,
                ports=_ports_of(getattr(record, "fields", None)),
            )
        except (TypeError, ValueError) as exc:
            entry = LogEntry(f"console: a log line could not be formatted ({exc})", "console", logging.ERROR,
                             frozenset())
        with self._guard:
            self._ring.append(entry)
            self._components.add(entry.component)
            subscriptions = tuple(self._subscriptions)
        for subscription in subscriptions:
            subscription.offer(entry)

    def recent(self, log_filter: LogFilter, count: int) -> list[str]:
        """The last ``count`` kept lines that match, oldest first."""
        with self._guard:
            entries = list(self._ring)
        matching = [entry.line for entry in entries if log_filter.matches(entry)]
        return matching[-count:] if count > 0 else []

    def components(self) -> set[str]:
        """Components seen in lines so far."""
        with self._guard:
            return set(self._components)

    def subscribe(self, log_filter: LogFilter) -> Subscription:
        subscription = Subscription(log_filter, self.queue_lines)
        with self._guard:
            self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._guard:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)

    @property
    def subscribers(self) -> int:
        with self._guard:
            return len(self._subscriptions)
