"""``linebox bench manager-observer --ports N --json``: what the manager's channel observer costs a tick.

The observer (``firmware/manager/channels.py``) is attached to every engine, the manager
interface on or off. This bench builds the ``bench engine`` scene (N ports, half of them
phones each in an outside call on a line, or with ``--idle`` no call at all), runs the
media loop, and after each tick times one pass of a channel observer over the same call
control (``perf_counter``, in microseconds) with no manager client listening, as on a box
whose manager is off. A steady tick changes no port: the figures are the cost of a pass
that finds nothing new.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from firmware.manager.channels import ChannelObserver
from firmware.manager.events import EventHub
from linebox import LineboxError
from linebox.bench.calls import connect_calls, scene_config
from linebox.bench.engine import ORIGIN, QuietCard, SceneAudio
from linebox.bench.timing import print_json
from linebox.engine_builder import build_engine


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("manager-observer", help="per-tick cost of the manager's channel observer")
    parser.add_argument("--ports", type=int, default=8)
    parser.add_argument("--ticks", type=int, default=2000)
    parser.add_argument("--idle", action="store_true", help="no call on the board (default: every phone in a call)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="one JSON object (the default output)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.ports < 2 or args.ticks < 10:
        raise LineboxError("--ports must be at least 2 and --ticks at least 10")
    port_is_fxs = [index % 2 == 1 for index in range(args.ports)]
    pairs = [] if args.idle else [(line, line + 1) for line in range(0, args.ports - 1, 2)]
    engine = build_engine(scene_config(pairs), port_is_fxs, SceneAudio(args.ports, args.seed), QuietCard(), ORIGIN)
    connect_calls(engine, pairs)
    loop = engine.loop
    control = engine.switch.control
    observer = ChannelObserver(control, args.ports, EventHub())  # not attached: timed on its own
    loop.run_ticks(10)
    observer.on_tick(control.tick)  # the channels of the calls up open here
    pass_us = np.empty(args.ticks)
    for index in range(args.ticks):
        loop.step()
        before = time.perf_counter()
        observer.on_tick(control.tick)
        pass_us[index] = (time.perf_counter() - before) * 1e6
    p50, p99 = np.percentile(pass_us, [50.0, 99.0])
    print_json({"ports": args.ports, "calls_up": len(pairs), "ticks": args.ticks,
                "channels": len(observer.channels),
                "observer_p50_us": round(float(p50), 2), "observer_p99_us": round(float(p99), 2),
                "observer_mean_us": round(float(pass_us.mean()), 2)})
    return 0
