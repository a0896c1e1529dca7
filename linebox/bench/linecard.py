"""``linebox bench linecard --json``: CPU cost of the line-card protocol and its emulator.

- ``parse_frames_per_cpu_s``: frames through the host's stream parser and message decoder
  (``drivers/protocol.py``), from a byte stream of typical events with some noise.
- ``emulator_idle_tick_us``: CPU µs of one 20 ms tick of the card emulator
  (``drives`` + ``step``) on the virtual board's 6 ports with nothing happening.
- ``lockstep_cpu_per_sim_s``: CPU seconds per simulated second of a busy virtual card
  driven by the real host link over a pty in lock-step (4 phones pulse dialling and
  flashing, 2 lines ringing); the host side (link thread, LineCard) and the emulator
  share the process, so this is an upper bound of the host's protocol cost.
"""

from __future__ import annotations

import argparse
import logging
import sys

import numpy as np

from board.virtual.analog import MS_PER_TICK, SAMPLES_PER_TICK, WorldTick, idle_world_tick
from board.virtual.card import CardEmulator
from drivers.link import IN_SERVICE, LinkConfig
from drivers.logs import configure_logging
from drivers.ports import open_line_card
from drivers.protocol import FrameParser, decode_payload, frame_bytes
from linebox.bench.timing import cpu_seconds, print_json

PORTS = ("fxo", "fxo", "fxs", "fxs", "fxs", "fxs")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("linecard", help="line-card protocol parsing and emulator cost")
    parser.add_argument("--json", action="store_true", help="one JSON object (the default output)")
    parser.add_argument("--seconds", type=float, default=20.0, help="simulated seconds of the lock-step run")
    parser.set_defaults(handler=run)


def _parse_rate() -> float:
    frames = [frame_bytes(i % 256, "fxs_digit", port=2 + i % 4, pulses=i % 10 + 1, t_ms=i * 20) for i in range(2000)]
    stream = b"\x00\x13".join(frames)
    parser = FrameParser()
    decoded: list = []

    def work() -> None:
        for start in range(0, len(stream), 64):
            for frame in parser.feed(stream[start : start + 64]):
                decoded.append(decode_payload(frame))

    seconds = cpu_seconds(work)
    return len(decoded) / seconds if seconds else float("inf")


def _idle_tick_us(ticks: int = 5000) -> float:
    card = CardEmulator(PORTS)
    world = idle_world_tick(4, 2, 6)

    def work() -> None:
        for tick in range(ticks):
            card.drives(tick)
            card.step(tick, world)

    try:
        return cpu_seconds(work) / ticks * 1e6
    finally:
        card.close()


def _busy_world(tick: int) -> WorldTick:
    world = idle_world_tick(4, 2, 6)
    ms = np.arange(tick * MS_PER_TICK, (tick + 1) * MS_PER_TICK)
    phase = ms % 5000
    for phone in range(4):
        offset = phone * 250
        # off hook 0.1-3.5 s of every 5 s: one digit "3" at 1 s, a 300 ms flash at 2 s, then hang-up
        up = (phase >= 100 + offset) & (phase < 3500)
        pulse = (phase >= 1000 + offset) & (phase < 1300 + offset) & ((phase - 1000 - offset) % 100 < 60)
        flash = (phase >= 2000 + offset) & (phase < 2300 + offset)
        world.fxs_offhook_ms[phone] = up & ~pulse & ~flash
    world.fxo_ring_ms[:] = (ms % 6000) < 2000
    world.audio_from_lines = np.zeros((6, SAMPLES_PER_TICK), dtype=np.int16)
    return world


def _lockstep_cost(seconds: float) -> tuple[float, int]:
    card = CardEmulator(PORTS)
    card.start()
    line = open_line_card(card.path, PORTS, "us", LinkConfig(keepalive_s=0.5))
    events = 0
    try:
        if not line.link.wait_state(IN_SERVICE, 10.0) or not line.wait_acked(10.0):
            raise SystemExit("linebox bench linecard: the emulated card did not come up")
        ticks = int(seconds * 1000 / MS_PER_TICK)

        def work() -> None:
            nonlocal events
            for tick in range(ticks):
                card.drives(tick)
                card.step(tick, _busy_world(tick))
                card.wait_events_acked(5.0)
                events += len(line.poll())
                line.wait_acked(5.0)

        return cpu_seconds(work) / seconds, events
    finally:
        line.close()
        card.close()


def run(args: argparse.Namespace) -> int:
    configure_logging(sys.stderr, logging.ERROR)
    cost, events = _lockstep_cost(args.seconds)
    print_json({
        "benchmark": "linecard",
        "parse_frames_per_cpu_s": round(_parse_rate()),
        "emulator_idle_tick_us": round(_idle_tick_us(), 1),
        "lockstep_cpu_per_sim_s": round(cost, 4),
        "lockstep_events": events,
        "simulated_s": args.seconds,
    })
    return 0
