"""Outbound line selection: which exchange line an outside call seizes, and why.

An outside call uses the lines of one trunk group (``lines[].group``): the calling
extension's own ``trunk_group``, or ``dialplan.trunk_group`` when the extension names none
(or when there is no calling extension). Within the group, ``dialplan.line_selection``
decides the order in which lines are tried:

- ``first_free``: configuration order, every call; the first lines carry most traffic
  (the usual choice when some lines are cheaper or more reliable than others);
- ``round_robin``: starting with the line after the one this group used last, wrapping
  round, so calls (and wear, and per-line call allowances) spread evenly over the group.

Lines that are busy (any leg state but idle) or out of service are skipped. The function
is pure: the switch passes which ports are busy and the "last used" state it keeps (trunk
group → FXO port of the line used last), and gets back the chosen line, the updated state
(a fresh mapping; the argument is never modified) and a one-line explanation of every line
considered, for the log ("line selection that explains itself"). Nothing here reads a clock
or draws random numbers.

Typical use (in the switch)::

    choice = select_line(config, extension, busy_ports=busy, last_used=self.last_line,
                         out_of_service=down)
    self.log.info("line_selection", why=choice.explanation)
    if choice.line is None: ...congestion...
    self.last_line = choice.last_used
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass
from types import MappingProxyType

from firmware.config.model import Config, Extension, Line, LineSelection


@dataclass(frozen=True)
class LineChoice:
    """The outcome of :func:`select_line`."""

    group: str
    """The trunk group the call uses."""
    line: Line | None
    """The line to seize; None when every line of the group is busy or out of service."""
    last_used: Mapping[str, int]
    """The state to keep for the next call: trunk group → port of the line used last."""
    explanation: str
    """One line: the group and why, the order tried, and each line considered."""

    @property
    def port(self) -> int | None:
        return None if self.line is None else self.line.port


def _group_source(config: Config, extension: Extension | None) -> str:
    if extension is not None and extension.trunk_group:
        return f"extension {extension.number}'s trunk_group"
    if extension is not None:
        return f"dialplan.trunk_group; extension {extension.number} names none"
    return "dialplan.trunk_group"


def _order(lines: tuple[Line, ...], mode: LineSelection, last_port: int | None) -> tuple[tuple[Line, ...], str]:
    """The lines in the order to try them, and how that order came about."""
    if mode is LineSelection.FIRST_FREE:
        return lines, "first_free: configuration order"
    ports = [line.port for line in lines]
    if last_port is None:
        return lines, "round_robin: no line used yet, from the first"
    if last_port not in ports:
        return lines, f"round_robin: last used port {last_port} is not in the group, from the first"
    start = ports.index(last_port) + 1
    return lines[start:] + lines[:start], f"round_robin: after port {last_port}"


def select_line(config: Config, extension: Extension | None, busy_ports: Set[int],
                last_used: Mapping[str, int], out_of_service: Set[int] = frozenset()) -> LineChoice:
    """The line an outside call from ``extension`` (None: not from an extension) should seize.

    ``busy_ports``: FXO ports not available for a new call (a port listed in
    ``out_of_service`` is reported as such and need not be listed here too).
    ``last_used``: trunk group → port of the line that group used last (empty at start).
    """
    group = config.trunk_group_of(extension)
    mode = config.dialplan.line_selection
    state = dict(last_used)
    header = f'trunk group "{group}" ({_group_source(config, extension)})'
    lines = config.lines_in_group(group)
    if not lines:
        return LineChoice(group, None, MappingProxyType(state), f"{header}; no line is in this group: none")
    order, how = _order(lines, mode, last_used.get(group))
    notes = []
    for line in order:
        label = f"port {line.port} ({line.name})"
        if line.port in out_of_service:
            notes.append(f"{label} out of service")
        elif line.port in busy_ports:
            notes.append(f"{label} busy")
        else:
            notes.append(f"{label} free => chosen")
            state[group] = line.port
            return LineChoice(group, line, MappingProxyType(state), "; ".join([header, how, *notes]))
    notes.append(f"all {len(order)} line{'s' if len(order) != 1 else ''} unavailable: none")
    return LineChoice(group, None, MappingProxyType(state), "; ".join([header, how, *notes]))
