"""``linebox run``: start the appliance and run its media loop until stopped.

On the virtual board (the default, what ``make run`` starts) the board paces the loop in
real time; the demo office is seeded into an empty database. The clock is read once, here,
to tell the engine the wall time of tick 0. SIGINT/SIGTERM stop it cleanly: the loop
finishes its tick, call records are committed and the line card driver closes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import signal
import sys

import numpy as np

from board.virtual.traffic import DemoTraffic
from drivers.logs import EventLogger, configure_logging
from firmware.console import LogBuffer
from firmware.console.protocol import resolve_socket_path
from linebox.appliance import open_hardware_appliance, open_virtual_appliance
from linebox.commands.console import start_console
from linebox.config_watch import ConfigWatcher
from linebox.engine_builder import RESTART_NEEDED
from linebox.storage import resolve_db_path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="start the appliance")
    parser.add_argument("--board", default="virtual", help="board definition name (default: virtual)")
    parser.add_argument("--db", default=None, help="database path (default: $LINEBOX_DB or var/linebox.db)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the virtual board's simulated world")
    parser.add_argument("--no-demo-traffic", action="store_true",
                        help="virtual board: no simulated callers (by default demo calls keep flowing)")
    parser.add_argument("--socket", default=None,
                        help="console socket (default: $LINEBOX_CONSOLE or var/linebox.sock)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    configure_logging(sys.stdout, getattr(logging, args.log_level))
    log_buffer = LogBuffer().attach()  # the last log lines, for `linebox console` (log tail)
    log = EventLogger("run")
    db_path = resolve_db_path(args.db)
    origin = dt.datetime.now(dt.UTC)
    if args.board == "virtual":
        app = open_virtual_appliance(db_path, paced=True, seed=args.seed, origin=origin)
        if not args.no_demo_traffic:
            extensions = [(ext.number, ext.port) for ext in app.store.load().extensions]
            DemoTraffic(app.world, extensions, np.random.default_rng(args.seed)).start()
    else:
        app = open_hardware_appliance(args.board, db_path, origin)
    console = start_console(app, resolve_socket_path(args.socket, os.environ), log_buffer)
    watcher = ConfigWatcher(app.store).start()  # `linebox config import` applies without a restart
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append("SIGTERM"))
    config = app.store.load()
    log.info("started", board=app.definition.name, ports=app.audio.ports, zone=str(config.zone), db=str(db_path),
             extensions=",".join(ext.number for ext in config.extensions))
    # Configuration changes apply live (linebox/engine_builder.py), all but these:
    log.info("live_config", restart_needed="; ".join(RESTART_NEEDED))
    log.info("not_built_yet", parts="web admin, IVR",
             note="configure with 'linebox config export/import'; demo calls flow on the virtual board")
    try:
        while not stopping:
            app.loop.step()
    except KeyboardInterrupt:
        stopping.append("SIGINT")
    finally:
        log.info("stopping", reason=stopping[0] if stopping else "error")
        watcher.close()
        console.close()
        app.close()
    return 0
