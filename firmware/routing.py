"""Inbound routing: which destination answers a call arriving on an exchange line, and why.

``route_inbound(config, line, caller_id, when)`` walks ``config.routes`` in order; the
first route whose conditions all hold wins:

- ``line``: the FXO port the call arrived on (``None`` in the route: any line);
- ``caller_id``: a digit map (RFC 3435 syntax, matched against the whole number) or
  ``withheld`` for calls without a number (``None``: any caller);
- ``schedule`` + ``when``: the named schedule is open (``when: open``) or closed
  (``when: closed``) at the call's time (``None``: any time).

When no route matches, the call is refused (destination ``hangup``). The decision carries
an explanation, one line per route considered with each condition and whether it held,
so an installer can see why a call went where it went ("routing that explains itself").

Caller-ID numbers are matched on their digits only; an empty or missing number is
"withheld" (private, unavailable, or no caller ID on the line). Time is an argument: an
aware datetime, converted to each schedule's own time zone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from firmware import FirmwareError
from firmware.config.codec import WITHHELD
from firmware.config.model import Config, Destination, DestinationKind, InboundRoute, RouteWhen
from firmware.dialplan import DigitMap
from firmware.schedule import check_open

REFUSED = Destination(DestinationKind.HANGUP)


@dataclass(frozen=True)
class RouteDecision:
    destination: Destination
    route: str | None
    """Name of the route that matched; None when none did."""
    explanation: tuple[str, ...]

    def explain(self) -> str:
        return "\n".join(self.explanation)


def _caller_condition(route: InboundRoute, number: str) -> tuple[bool, str]:
    shown = number or WITHHELD
    if route.caller_id is None:
        return True, "caller ID any: yes"
    if route.caller_id == WITHHELD:
        return number == "", f"caller ID withheld wanted, got {shown}: {'yes' if not number else 'no'}"
    matched = bool(number) and DigitMap.parse(route.caller_id).fullmatch(number) is not None
    return matched, f"caller ID {route.caller_id} wanted, got {shown}: {'yes' if matched else 'no'}"


def _schedule_condition(config: Config, route: InboundRoute, when: dt.datetime) -> tuple[bool, str]:
    if route.schedule is None:
        return True, "time any: yes"
    schedule = config.schedule(route.schedule)
    if schedule is None:
        return False, f"schedule {route.schedule} does not exist: no"
    state = check_open(schedule, when)
    wanted_open = route.when == RouteWhen.OPEN
    held = state.is_open == wanted_open
    return held, f"schedule {route.schedule} {route.when} wanted, {state.reason}: {'yes' if held else 'no'}"


def _notes(config: Config, destination: Destination) -> list[str]:
    """What the engine will do next that an installer would want to know about."""
    if destination.kind != DestinationKind.EXTENSION:
        return []
    extension = config.extension(destination.name)
    if extension is None:
        return []
    notes = []
    if extension.dnd:
        notes.append(f"note: extension {extension.number} has do-not-disturb on")
    if extension.forward.always:
        notes.append(f"note: extension {extension.number} forwards all calls to {extension.forward.always}")
    return notes


def route_inbound(config: Config, line: int, caller_id: str | None, local_time: dt.datetime) -> RouteDecision:
    """The destination of a call on FXO port ``line`` from ``caller_id`` at the aware time ``local_time``."""
    when = local_time
    if when.tzinfo is None or when.utcoffset() is None:
        raise FirmwareError(f"route_inbound needs an aware datetime (with a time zone), got {when}")
    number = "".join(ch for ch in (caller_id or "") if ch.isdigit())
    line_config = config.line(line)
    header = (f"call on port {line}{f' ({line_config.name})' if line_config else ''} from {number or WITHHELD} "
              f"at {when.isoformat(timespec='minutes')}")
    explanation = [header]
    if line_config is None:
        explanation.append(f"port {line} is not a configured line: refused")
        return RouteDecision(REFUSED, None, tuple(explanation))
    for index, route in enumerate(config.routes):
        checks = []
        if route.line is None:
            checks.append((True, "line any: yes"))
        else:
            held = route.line == line
            checks.append((held, f"line {route.line} wanted: {'yes' if held else 'no'}"))
        checks.append(_caller_condition(route, number))
        checks.append(_schedule_condition(config, route, when))
        matched = all(held for held, _ in checks)
        verdict = f"match -> {route.destination}" if matched else "skipped"
        explanation.append(f"routes[{index}] {route.name!r}: " + "; ".join(text for _, text in checks)
                           + f" => {verdict}")
        if matched:
            explanation.extend(_notes(config, route.destination))
            return RouteDecision(route.destination, route.name, tuple(explanation))
    explanation.append("no route matched: refused (hangup)")
    return RouteDecision(REFUSED, None, tuple(explanation))
