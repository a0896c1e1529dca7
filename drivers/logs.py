"""Logging for the technician: one line per event, readable on a 115200-baud console.

A line reads ``2026-11-25T17:30:00.120Z INFO engine event=offhook port=3 call=17``:
timestamp (UTC, ms), level, component (the logger name below ``linebox.``), then
``key=value`` fields. Values with spaces or quotes are double-quoted.

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


def format_value(value: Any) -> str:
    """One field value as it appears on the console."""
    if isinstance(value, float):
        text = f"{value:.6g}"
    else:
        text = str(value)
    if text == "" or any(ch in text for ch in ' "=\n\t'):
        escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    return text


def format_fields(fields: Mapping[str, Any]) -> str:
    return " ".join(f"{key}={format_value(value)}" for key, value in fields.items())


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
            line += "\n" + self.formatException(record.exc_info)
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
