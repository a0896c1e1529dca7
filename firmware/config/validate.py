"""Cross-reference checks of a configuration: does everything it names exist and fit?

Types and bounds are :mod:`firmware.config.codec`'s job; here the whole snapshot is
checked against itself and against the board (which firmware learns through a
:data:`~firmware.config.model.BoardLookup`, since it never imports board/):

- the board exists; lines sit on FXO ports and extensions on FXS ports of that board,
  each port used once;
- extension and ring-group numbers are unique, match the internal digit map, do not start
  with the outside-line prefix and do not collide with the zone's emergency numbers;
- forwarding targets are internal numbers, or outside numbers the extension may dial
  (:func:`firmware.tollguard.may_dial`) when trunk-to-trunk forwarding is allowed;
- trunk groups named by ``dialplan.trunk_group`` (when lines exist) and by extensions
  have at least one line;
- ring-group members, route lines, schedules and destinations exist (queues among them);
  a route's ``queue_priority`` and ``queue_skills`` need a queue destination and a route
  name no other route has (the queue service finds the route by name);
  an ``outside`` destination (:mod:`firmware.config.outside`) needs trunk-to-trunk
  allowed, a number of a known class that is neither internal nor an emergency number
  (premium only with ``security.allow_premium``), and a line to leave on;
  an ``ivr`` destination names an IVR flow; hooks the composition root passes may replace
  the check of a kind (queue, ivr);
- queues: unique names, numbers clear of extensions and ring groups, overflow and exit
  destinations exist, no queue overflows into a cycle (a caller would be passed around
  for ever), an exit destination needs an exit key; agents: unique ids, an existing
  extension, existing queues;
- IVR flows (:mod:`firmware.config.ivrcheck`): node references, unreachable
  nodes, loops without input, prompts in every offered language, destinations;
- feature codes are unique and none is the beginning of another; the outside prefix and
  an outside number can never spell an emergency number first (0 + 0011… would call 000
  in Australia).

:func:`problems` lists every problem found (one line each, starting with the field's
path); :func:`validate` raises :class:`FirmwareError` with the first one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from firmware import FirmwareError
from firmware.config.campaigncodec import campaign_problems
from firmware.config.codec import from_dict, to_dict
from firmware.config.ivrcheck import configured_flow, flow_problems, recorder_problems
from firmware.config.model import (
    BoardLookup,
    BoardPorts,
    Config,
    Destination,
    DestinationCheck,
    DestinationKind,
    PortKind,
)
from firmware.config.outside import outside_destination_problem
from firmware.config.promptcodec import named_prompt_problems
from firmware.config.vmcodec import mailbox_problems
from firmware.dialplan import EXTERNAL_CLASSES, DigitMap, MatchState
from firmware.tollguard import NumberClass, may_dial


def _configured_queue(config: Config, name: str) -> str | None:
    return None if config.queue(name) is not None else "no such queue"


DEFAULT_CHECKS: Mapping[DestinationKind, DestinationCheck] = {
    DestinationKind.IVR: configured_flow,
    DestinationKind.QUEUE: _configured_queue,
}


def _destination_problem(config: Config, destination: Destination,
                         checks: Mapping[DestinationKind, DestinationCheck]) -> str | None:
    kind, name = destination.kind, destination.name
    if kind in checks:
        problem = checks[kind](config, name)
        return None if problem is None else f"{kind} {name}: {problem}"
    if kind == DestinationKind.OUTSIDE:
        problem = outside_destination_problem(config, name)
        if problem is None and not config.lines:  # with lines, dialplan.trunk_group is checked
            problem = f"outside {name}: no lines are configured (the call would have no line to leave on)"
        return problem
    if kind == DestinationKind.EXTENSION and config.extension(name) is None:
        return f"extension {name} does not exist"
    if kind == DestinationKind.RING_GROUP and config.ring_group(name) is None:
        return f"ring group {name} does not exist"
    if kind == DestinationKind.VOICEMAIL:
        extension = config.extension(name)
        if extension is None:
            return f"voicemail {name}: extension {name} does not exist"
        if not extension.voicemail:
            return f"voicemail {name}: extension {name} has voicemail off"
    return None


def _board_problems(config: Config, board: BoardPorts | None) -> Iterator[str]:
    if board is None:
        yield f"board: unknown board {config.board!r}"
        return
    used: dict[int, str] = {}

    def port_problem(path: str, port: int, kind: PortKind) -> str | None:
        if port >= len(board.kinds):
            return f"{path}: port {port} does not exist on {board.describe()}"
        if board.kinds[port] != kind:
            return f"{path}: port {port} is {board.kinds[port].upper()}, not {kind.upper()}, on board {board.name}"
        if port in used:
            return f"{path}: port {port} is already used by {used[port]}"
        used[port] = path.removesuffix(".port")
        return None

    for index, line in enumerate(config.lines):
        problem = port_problem(f"lines[{index}].port", line.port, PortKind.FXO)
        if problem:
            yield problem
    for index, extension in enumerate(config.extensions):
        problem = port_problem(f"extensions[{index}].port", extension.port, PortKind.FXS)
        if problem:
            yield problem


def _number_problems(config: Config) -> Iterator[str]:
    """Extension and ring-group numbers: unique, dialable, clear of emergency numbers."""
    internal = DigitMap.parse(config.dialplan.maps.internal)
    prefix = config.outside_prefix()
    emergency = config.emergency_numbers()
    owners: dict[str, str] = {}
    numbered = [(f"extensions[{i}].number", e.number) for i, e in enumerate(config.extensions)]
    numbered += [(f"ring_groups[{i}].number", g.number) for i, g in enumerate(config.ring_groups) if g.number]
    numbered += [(f"queues[{i}].number", q.number) for i, q in enumerate(config.queues) if q.number]
    for path, number in numbered:
        if number in owners:
            yield f"{path}: number {number} is already used by {owners[number]}"
            continue
        owners[number] = path.removesuffix(".number")
        clash = next((e for e in emergency if e.startswith(number) or number.startswith(e)), None)
        if clash is not None:
            yield f"{path}: {number} collides with the emergency number {clash} of zone {config.zone}"
        elif prefix and number.startswith(prefix):
            yield f"{path}: {number} starts with the outside-line prefix {prefix} (dialplan.outside_prefix)"
        elif internal.match(number).state not in (MatchState.COMPLETE, MatchState.COMPLETE_ON_TIMEOUT):
            yield (f"{path}: {number} does not match the internal digit map "
                   f"{config.dialplan.maps.internal!r} (dialplan.maps.internal)")


def _trunk_group_problem(config: Config, group: str) -> str | None:
    """None when some line is in trunk group ``group``, else why not (naming the groups there are)."""
    groups = sorted({line.group for line in config.lines})
    if group in groups:
        return None
    known = f"groups: {', '.join(groups)}" if groups else "no lines are configured"
    return f'no line is in trunk group "{group}" ({known})'


def _extension_problems(config: Config) -> Iterator[str]:
    internal = config.internal_numbers()
    trunk_to_trunk = config.security.trunk_to_trunk_allowed
    for index, extension in enumerate(config.extensions):
        if extension.trunk_group:
            problem = _trunk_group_problem(config, extension.trunk_group)
            if problem:
                yield f"extensions[{index}].trunk_group: {problem}"
        for field in ("always", "busy", "no_answer"):
            target = getattr(extension.forward, field)
            path = f"extensions[{index}].forward.{field}"
            if not target:
                continue
            if target == extension.number:
                yield f"{path}: an extension cannot forward to itself"
            elif target in internal:
                continue
            elif not trunk_to_trunk:
                yield (f"{path}: forwarding to the outside number {target} needs "
                       f"security.trunk_to_trunk_allowed (toll-fraud protection)")
            else:
                decision = may_dial(config, extension, target, after_hours=False)
                if not decision.allowed or decision.number_class == NumberClass.EMERGENCY:
                    reason = "emergency numbers are not forwarding targets" if decision.allowed else decision.reason
                    yield f"{path}: cannot forward to {target}: {reason}"


def _group_problems(config: Config, checks: Mapping[DestinationKind, DestinationCheck]) -> Iterator[str]:
    names: dict[str, int] = {}
    for index, group in enumerate(config.ring_groups):
        path = f"ring_groups[{index}]"
        if group.name in names:
            yield f"{path}.name: ring group {group.name} is already defined at ring_groups[{names[group.name]}]"
        names.setdefault(group.name, index)
        seen: set[str] = set()
        for position, member in enumerate(group.members):
            if member in seen:
                yield f"{path}.members[{position}]: extension {member} is listed twice"
            elif config.extension(member) is None:
                yield f"{path}.members[{position}]: extension {member} does not exist"
            seen.add(member)
        if group.no_answer.kind == DestinationKind.RING_GROUP and group.no_answer.name == group.name:
            yield f"{path}.no_answer: a ring group cannot overflow to itself"
        else:
            problem = _destination_problem(config, group.no_answer, checks)
            if problem:
                yield f"{path}.no_answer: {problem}"


def _dialplan_problems(config: Config) -> Iterator[str]:
    prefix = config.outside_prefix()
    maps = config.digit_maps()
    external = DigitMap([])
    for number_class in EXTERNAL_CLASSES:
        external |= DigitMap.parse(maps[number_class])
    for number in config.emergency_numbers():
        # The prefix may begin an emergency number (9 and 911) as long as no outside number
        # dialled after it could begin with the rest (0 + 0011… would reach 000 in Australia).
        if prefix and number.startswith(prefix):
            rest = number[len(prefix):]
            if external.match(rest).state is not MatchState.NO_MATCH:
                yield (f"dialplan.outside_prefix: {prefix!r} then an outside number beginning {rest} would "
                       f"dial the emergency number {number} of zone {config.zone}; choose another prefix")
                break
    if config.lines:
        problem = _trunk_group_problem(config, config.dialplan.trunk_group)
        if problem:
            yield f"dialplan.trunk_group: {problem}"
    if config.dialplan.incomplete_timeout_ms < config.dialplan.inter_digit_timeout_ms:
        yield ("dialplan.incomplete_timeout_ms: must not be shorter than "
               f"dialplan.inter_digit_timeout_ms ({config.dialplan.inter_digit_timeout_ms})")


def _route_problems(config: Config, checks: Mapping[DestinationKind, DestinationCheck]) -> Iterator[str]:
    for index, route in enumerate(config.routes):
        path = f"routes[{index}]"
        if route.line is not None and config.line(route.line) is None:
            yield f"{path}.line: port {route.line} is not a configured line"
        if route.schedule is not None and config.schedule(route.schedule) is None:
            yield f"{path}.schedule: schedule {route.schedule} does not exist"
        if route.schedule is None and route.when != "open":
            yield f"{path}.when: '{route.when}' needs a schedule"
        problem = _destination_problem(config, route.destination, checks)
        if problem:
            yield f"{path}.destination: {problem}"
        if route.destination.kind != DestinationKind.QUEUE:
            if route.queue_priority != 0:
                yield f"{path}.queue_priority: only for a queue destination"
            if route.queue_skills:
                yield f"{path}.queue_skills: only for a queue destination"
    yield from _route_name_problems(config)


def _route_name_problems(config: Config) -> Iterator[str]:
    """A route with queue settings needs a name of its own: the queue finds it by name."""
    first: dict[str, int] = {}
    with_queue_settings = {route.name for route in config.routes if route.queue_priority or route.queue_skills}
    for index, route in enumerate(config.routes):
        if route.name in first and route.name in with_queue_settings:
            yield (f"routes[{index}].name: route {route.name!r} is already routes[{first[route.name]}]; a route "
                   f"with queue_priority or queue_skills needs a name of its own")
        first.setdefault(route.name, index)


def _schedule_problems(config: Config) -> Iterator[str]:
    names: dict[str, int] = {}
    for index, schedule in enumerate(config.schedules):
        if schedule.name in names:
            yield f"schedules[{index}].name: schedule {schedule.name} is already defined at schedules[{names[schedule.name]}]"
        names.setdefault(schedule.name, index)
    name = config.security.after_hours_schedule
    if name is not None and config.schedule(name) is None:
        yield f"security.after_hours_schedule: schedule {name} does not exist"


def _feature_code_problems(config: Config) -> Iterator[str]:
    """Reported on the later of two clashing codes, in the documented order of the fields."""
    codes = [(name, getattr(config.feature_codes, name)) for name in type(config.feature_codes).__dataclass_fields__]
    for later, (name, code) in enumerate(codes):
        for other, other_code in codes[:later]:
            if code == other_code:
                yield f"feature_codes.{name}: {code} is already the code of {other}"
            elif other_code.startswith(code):
                yield f"feature_codes.{name}: {code} is the beginning of {other} ({other_code})"
            elif code.startswith(other_code):
                yield f"feature_codes.{name}: {code} begins with {other} ({other_code})"


def _overflow_cycle(config: Config, start: str) -> list[str] | None:
    """The queues a caller of ``start`` passes by overflowing until one repeats, or None."""
    path = [start]
    queue = config.queue(start)
    while queue is not None and queue.overflow.kind == DestinationKind.QUEUE:
        target = queue.overflow.name
        if target in path:
            return path[path.index(target):] + [target]
        path.append(target)
        queue = config.queue(target)
    return None


def _queue_problems(config: Config, checks: Mapping[DestinationKind, DestinationCheck]) -> Iterator[str]:
    names: dict[str, int] = {}
    for index, queue in enumerate(config.queues):
        path = f"queues[{index}]"
        if queue.name in names:
            yield f"{path}.name: queue {queue.name} is already defined at queues[{names[queue.name]}]"
            continue
        names[queue.name] = index
        if queue.overflow.kind == DestinationKind.QUEUE and queue.overflow.name == queue.name:
            yield f"{path}.overflow: a queue cannot overflow to itself"
        else:
            problem = _destination_problem(config, queue.overflow, checks)
            if problem:
                yield f"{path}.overflow: {problem}"
            else:
                cycle = _overflow_cycle(config, queue.name)
                if cycle is not None and cycle[0] == queue.name:
                    yield f"{path}.overflow: queues overflow in a circle ({' -> '.join(cycle)})"
        if not queue.exit_key and queue.exit_destination.kind != DestinationKind.HANGUP:
            yield f"{path}.exit_destination: needs an exit_key (the key a caller presses to leave)"
        elif queue.exit_destination.kind == DestinationKind.QUEUE and queue.exit_destination.name == queue.name:
            yield f"{path}.exit_destination: the exit key cannot lead back into the same queue"
        else:
            problem = _destination_problem(config, queue.exit_destination, checks)
            if problem:
                yield f"{path}.exit_destination: {problem}"


def _agent_problems(config: Config) -> Iterator[str]:
    ids: dict[str, int] = {}
    for index, agent in enumerate(config.agents):
        path = f"agents[{index}]"
        if agent.id in ids:
            yield f"{path}.id: agent {agent.id} is already defined at agents[{ids[agent.id]}]"
        ids.setdefault(agent.id, index)
        if config.extension(agent.extension) is None:
            yield f"{path}.extension: extension {agent.extension} does not exist"
        for queue_name, _penalty in agent.queues:
            if config.queue(queue_name) is None:
                yield f"{path}.queues.{queue_name}: queue {queue_name} does not exist"


def plain(config: Config) -> dict:
    """``to_dict`` of a hand-built snapshot; a structure that is not a Config at all is refused."""
    try:
        return to_dict(config)
    except (AttributeError, TypeError) as exc:
        raise FirmwareError(f"configuration: not a configuration snapshot ({exc})") from exc


def problems(config: Config, boards: BoardLookup,
             checks: Mapping[DestinationKind, DestinationCheck] | None = None) -> list[str]:
    """Every cross-reference problem of an already type-checked config, one line each."""
    hooks = {**DEFAULT_CHECKS, **(checks or {})}
    found: list[str] = []
    steps: list[Callable[[], Iterator[str]]] = [
        lambda: _board_problems(config, boards(config.board)),
        lambda: _dialplan_problems(config),
        lambda: _number_problems(config),
        lambda: _extension_problems(config),
        lambda: _group_problems(config, hooks),
        lambda: _schedule_problems(config),
        lambda: _route_problems(config, hooks),
        lambda: _feature_code_problems(config),
        lambda: _queue_problems(config, hooks),
        lambda: _agent_problems(config),
        lambda: flow_problems(config, lambda destination: _destination_problem(config, destination, hooks)),
        lambda: recorder_problems(config),
        lambda: named_prompt_problems(config),
        lambda: campaign_problems(config),
        lambda: mailbox_problems(config, lambda destination: _destination_problem(config, destination, hooks)),
    ]
    for step in steps:
        found.extend(step())
    return found


def validate(config: Config, boards: BoardLookup,
             checks: Mapping[DestinationKind, DestinationCheck] | None = None) -> Config:
    """The checked, normalised config; FirmwareError naming the first bad field otherwise."""
    checked = from_dict(plain(config))
    found = problems(checked, boards, checks)
    if found:
        more = f" (and {len(found) - 1} more problem{'s' if len(found) > 2 else ''})" if len(found) > 1 else ""
        raise FirmwareError(found[0] + more)
    return checked
