"""The ``show`` and ``dump`` commands' text: what the engine is doing, as aligned tables.

The ``*_rows`` functions read the switch and the media loop and must run on the loop's
thread (they are passed to the gateway); they copy what they need into plain tuples so
the formatting happens afterwards, on the console's thread. Durations come from the audio
clock (ticks of 20 ms), never from the wall clock.
"""

from __future__ import annotations

from collections.abc import Sequence

from drivers.audio import TICK_MS
from firmware import FirmwareError
from firmware.acdengine.stats import AGENT_COLUMNS, AgentLive, QueueLive, find_stats
from firmware.console.access import LinkView
from firmware.engine.calls import Leg
from firmware.engine.loop import MediaLoop
from firmware.engine.switch import Switch
from firmware.ivr import find_ivr

LINK_COUNTERS_FIRST = ("frames_tx", "frames_rx", "retransmissions", "crc_errors", "resyncs", "reconnects")
NOT_COUNTED = "not counted by this link driver"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """Columns padded to their widest cell; ``-`` for a missing value."""
    cells = [[str(h) for h in headers]] + [["-" if v is None or v == "" else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in cells]


def duration(ticks: int) -> str:
    seconds = max(0, ticks) * TICK_MS // 1000
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


# ----------------------------------------------------------------------------- on the loop's thread

def port_rows(switch: Switch) -> list[tuple]:
    rows = []
    for port in switch.snapshot():
        number = port["port"]
        if port["state"] != str(Leg.OUT_OF_SERVICE):
            service = "yes"
        elif number in switch.out_by_hand:
            service = "no (by hand)"
        else:
            service = "no"
        if port["type"] == "fxs":
            extension = switch.config.extension_on_port(number)
            name = f"{extension.number} {extension.name}".strip() if extension else ""
        else:
            line = switch.config.line(number)
            name = line.name if line else ""
        rows.append((number, port["type"], port["state"], service, port["call"], port["tone"], name))
    return rows


def _call_state(switch: Switch, call) -> str:
    if call.ringing:
        return "ringing"
    return str(switch.control.state(call.peer if call.peer is not None else call.origin))


def call_rows(switch: Switch) -> list[tuple]:
    rows = []
    for call in sorted(switch.calls.values(), key=lambda each: each.call_id):
        caller = (call.caller_number or "withheld") if call.direction == "inbound" else call.caller_number
        if call.caller_name:
            caller = f'{caller} "{call.caller_name}"'
        rows.append((call.call_id, str(call.direction), ",".join(map(str, call.ports())), caller,
                     call.destination or call.dialled, _call_state(switch, call),
                     duration(switch.tick - call.start_tick)))
    return rows


def bridge_rows(loop: MediaLoop, switch: Switch) -> list[tuple]:
    rows = []
    for a, b in switch.control.bridged_pairs():
        call_a, call_b = switch.control.call_at(a), switch.control.call_at(b)
        call = call_a.call_id if call_a is not None and call_a is call_b else None
        rows.append((a, b, call))
    return rows


def stats_rows(loop: MediaLoop, switch: Switch) -> list[tuple[str, object]]:
    summary = loop.stats.summary()
    rows: list[tuple[str, object]] = [
        ("ticks", loop.tick),
        ("uptime", f"{duration(loop.tick)} (audio clock)"),
        ("tick_p50_ms", f"{summary.tick_p50_ms:.3f}"),
        ("tick_p99_ms", f"{summary.tick_p99_ms:.3f}"),
        ("tick_max_ms", f"{summary.tick_max_ms:.3f}"),
        ("deadline_misses", summary.deadline_misses),
        ("calls", len(switch.calls)),
        ("internal_errors", switch.faults),  # handler exceptions caught; each ended one call (loop.py)
    ]
    counters = getattr(loop.audio, "counters", None)
    for name in ("xruns_capture", "xruns_playback"):
        if hasattr(counters, name):
            rows.append((name, getattr(counters, name)))
    return rows


def _acd(switch: Switch):
    stats = find_stats(switch.control)
    if stats is None:
        raise FirmwareError("no ACD on this box: the configuration has no queues")
    return stats


def queue_live_rows(switch: Switch) -> list[QueueLive]:
    return _acd(switch).queue_rows()


def agent_live_rows(switch: Switch) -> list[AgentLive]:
    return _acd(switch).agent_rows()


def ivr_lines(switch: Switch) -> list[str]:
    """``show ivr``: calls in a voice menu now, then the paths of the last ones (firmware/ivr)."""
    service = find_ivr(switch.control)
    if service is None:
        raise FirmwareError("no IVR on this box")
    return service.show()


def routing_traces(switch: Switch, count: int, queue: str | None, call: str | None) -> list:
    stats = _acd(switch)
    if queue is not None and queue not in stats.core.queues:
        raise FirmwareError(f"no queue named {queue!r} (queues: {', '.join(stats.core.queues) or 'none'})")
    return stats.decisions.last(count, queue, call)


# ----------------------------------------------------------------------------- anywhere

def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _clock(seconds: float) -> str:
    return duration(round(seconds * 1000) // TICK_MS)


def queue_live_lines(rows: list[QueueLive]) -> list[str]:
    """``show queues``: live state, then today's figures (service level: answered within T over
    answered, and over answered + abandoned; docs/acd.md)."""
    headers = ("queue", "waiting", "longest", *AGENT_COLUMNS, "offered", "answered", "abandoned",
               "sl", "sl_offered", "asa_s", "aht_s", "abandon_rate")
    return table(headers, [(row.queue, row.waiting, _clock(row.longest_wait_seconds),
                            *(row.agents.get(name, 0) for name in AGENT_COLUMNS),
                            row.offered, row.answered, row.abandoned, _percent(row.service_level),
                            _percent(row.service_level_offered), _seconds(row.asa_seconds),
                            _seconds(row.aht_seconds), _percent(row.abandon_rate)) for row in rows])


def agent_live_lines(rows: list[AgentLive]) -> list[str]:
    """``show agents``: state and since when, then today's answered calls, talk time, occupancy."""
    headers = ("agent", "state", "since", "answered", "talk", "occupancy", "pause_reason", "port")
    return table(headers, [(row.agent, row.state, _clock(row.since_seconds), row.answered,
                            _clock(row.talk_seconds), _percent(row.occupancy), row.pause_reason, row.port)
                           for row in rows])


def port_lines(rows: list[tuple]) -> list[str]:
    return table(("port", "type", "state", "in_service", "call", "tone", "name"), rows)


def call_lines(rows: list[tuple]) -> list[str]:
    if not rows:
        return ["no calls"]
    return table(("call", "direction", "ports", "caller", "destination", "state", "duration"), rows)


def bridge_lines(rows: list[tuple]) -> list[str]:
    if not rows:
        return ["no bridges"]
    return table(("port", "port", "call"), rows)


def stats_lines(rows: list[tuple[str, object]]) -> list[str]:
    return table(("stat", "value"), rows)


def link_lines(link: LinkView | None) -> list[str]:
    if link is None:
        return ["no line card link on this engine"]
    state = getattr(link.state, "value", link.state)
    rows: list[tuple[str, object]] = [("state", state)]
    if link.refusal:
        rows.append(("refused", link.refusal))
    identity = link.identity
    if identity is None:
        rows.append(("card", "not identified yet"))
    else:
        rows += [
            ("model", identity.model),
            ("firmware", ".".join(map(str, identity.firmware))),
            ("protocol", ".".join(map(str, identity.protocol))),
            ("ports", ",".join(identity.port_types)),
            ("reset_cause", identity.reset_cause),
        ]
    counters = dict(link.counters)
    for name in LINK_COUNTERS_FIRST:
        rows.append((name, counters.pop(name, NOT_COUNTED)))
    rows += sorted(counters.items())
    return table(("link", "value"), rows)


def frame_lines(link: LinkView | None) -> list[str]:
    if link is None:
        return ["no line card link on this engine"]
    frames = link.recent_frames()
    if not frames:
        return ["no frames yet"]
    return [f"{number}/{len(frames)} {frame}" for number, frame in enumerate(frames, 1)]
