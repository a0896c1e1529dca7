"""Logging for the technician: one line per event, readable on a 115200-baud console.

A line reads ``2026-11-25T17:30:00.120Z INFO engine event=offhook port=3 call=17``:
timestamp (UTC, ms), level, component (the logger name below ``linebox.``), then
``key=value`` fields. Values with spaces, quotes, ``=`` or backslashes are double-quoted.

No character that is not printable ever reaches a line as itself: C0 controls (0x00-0x1f),
DEL (0x7f), C1 controls (0x80-0x9f, e.g. the 8-bit CSI 0x9b) and the other non-printable
code points (Unicode's line separators, bidirectional overrides) are written as ``\\n``,
``\\t``, ``\\r``, ``\\xNN``, ``\\uNNNN`` or ``\\UNNNNNNNN``, in every value, in the event
text and in tracebacks (which keep only their own line breaks). Text from the outside
world (a caller ID name, a console command) therefore cannot clear a technician's terminal
or forge a log line.

A token bucket per component and event keeps a fault storm from flooding the serial
line; suppressed lines are counted and reported on the next line that passes.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO

ROOT_LOGGER = "linebox"


_NAMED_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_QUOTED_IF = frozenset(' "=\\')


def escape_char(ch: str) -> str:
    """A non-printable character as a Python-style escape (``\\x1b``, ``\\u2028``)."""
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def escape_text(text: str, keep: str = "") -> str:
    """``text`` with every non-printable character escaped (those in ``keep`` left as they are).

    Backslashes are left alone: use :func:`format_value` where the result must be unambiguous.
    """
    if text.isprintable() and not keep:
        return text
    return "".join(ch if ch.isprintable() or ch in keep else _NAMED_ESCAPES.get(ch) or escape_char(ch)
                   for ch in text)


def one_line(text: str) -> str:
    """``text`` as one printable line: runs of whitespace (line breaks included) become one space,
    other non-printable characters are escaped. For error messages that quote outside input."""
    return escape_text(" ".join(text.split()))


def format_value(value: Any) -> str:
    """One field value as it appears on the console: one token, printable, unambiguous."""
    if isinstance(value, float):
        text = f"{value:.6g}"
    else:
        text = str(value)
    if text != "" and text.isprintable() and not any(ch in _QUOTED_IF for ch in text):
        return text
    escaped = "".join(_NAMED_ESCAPES.get(ch) or (ch if ch.isprintable() else escape_char(ch)) for ch in text)
    return f'"{escaped}"'


def format_fields(fields: Mapping[str, Any]) -> str:
    return " ".join(f"{_format_key(key)}={format_value(value)}" for key, value in fields.items())


def _format_key(key: Any) -> str:
    """Keys are identifiers written in code; anything else is escaped so it cannot split the line."""
    text = str(key)
    if text.isidentifier():
        return text
    return "".join(ch if ch.isprintable() and ch not in _QUOTED_IF else escape_char(ch) for ch in text) or '""'


class KeyValueFormatter(logging.Formatter):
    """Formats records made by :class:`EventLogger` (and plain ones) as one line each."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        component = record.name.removeprefix(ROOT_LOGGER).lstrip(".") or ROOT_LOGGER
        fields = getattr(record, "fields", None)
        body = f"event={format_value(record.getMessage())}"
        if fields:
            body += " " + format_fields(fields)
        line = f"{stamp}.{int(record.msecs):03d}Z {record.levelname} {component} {body}"
        if record.exc_info:
            # Tracebacks stay multi-line: they are read at the bench, not parsed.
            line += "\n" + escape_text(self.formatException(record.exc_info), keep="\n")
        return line


class RateLimitFilter(logging.Filter):
    """Token bucket per (component, event): ``burst`` lines, refilled at ``per_second``."""

    def __init__(self, per_second: float = 5.0, burst: int = 20) -> None:
        super().__init__()
        self.per_second = per_second
        self.burst = burst
        self._buckets: dict[tuple[str, str], list[float]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and record.exc_info:
            return True
        key = (record.name, str(record.msg))
        tokens, last, suppressed = self._buckets.get(key, [float(self.burst), record.created, 0.0])
        tokens = min(float(self.burst), tokens + (record.created - last) * self.per_second)
        if tokens < 1.0:
            self._buckets[key] = [tokens, record.created, suppressed + 1]
            return False
        if suppressed:
            fields = dict(getattr(record, "fields", None) or {})
            fields["suppressed"] = int(suppressed)
            record.fields = fields
        self._buckets[key] = [tokens - 1.0, record.created, 0.0]
        return True


class EventLogger:
    """``log.info("offhook", port=3)`` instead of formatting strings at every call site."""

    def __init__(self, component: str, **context: Any) -> None:
        self.logger = logging.getLogger(f"{ROOT_LOGGER}.{component}")
        self.context = context

    def bind(self, **context: Any) -> EventLogger:
        """A logger for the same component that adds ``context`` to every line."""
        bound = EventLogger.__new__(EventLogger)
        bound.logger = self.logger
        bound.context = {**self.context, **context}
        return bound

    def log(self, level: int, event: str, exc_info: bool = False, **fields: Any) -> None:
        if self.logger.isEnabledFor(level):
            self.logger.log(level, event, extra={"fields": {**self.context, **fields}}, exc_info=exc_info)

    def debug(self, event: str, **fields: Any) -> None:
        self.log(logging.DEBUG, event, **fields)

    def info(self, event: str, **fields: Any) -> None:
        self.log(logging.INFO, event, **fields)

    def warning(self, event: str, **fields: Any) -> None:
        self.log(logging.WARNING, event, **fields)

    def error(self, event: str, **fields: Any) -> None:
        self.log(logging.ERROR, event, **fields)

    def exception(self, event: str, **fields: Any) -> None:
        """At a loop or thread entry point: the traceback goes with the line."""
        self.log(logging.ERROR, event, exc_info=True, **fields)


def configure_logging(
    stream: TextIO | None = None,
    level: int = logging.INFO,
    component_levels: Mapping[str, int] | None = None,
    rate_limit: RateLimitFilter | None = None,
) -> logging.Handler:
    """Installs the one console handler on the ``linebox`` logger and returns it."""
    root = logging.getLogger(ROOT_LOGGER)
    for old in list(root.handlers):
        root.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    handler.addFilter(rate_limit or RateLimitFilter())
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
    set_component_levels(component_levels or {})
    return handler


def set_component_levels(levels: Mapping[str, int]) -> None:
    """Changes per-component levels at runtime (the console's ``log level`` command)."""
    for component, component_level in levels.items():
        logging.getLogger(f"{ROOT_LOGGER}.{component}").setLevel(component_level)
