"""``linebox run``: start the appliance and run its media loop until stopped.

On the virtual board (the default, what ``make run`` starts) the board paces the loop in
real time; the demo office is seeded into an empty database. The clock is read here to
tell the engine the wall time of tick 0, and by the media loop at each tick's edge to keep
event times on the wall clock (``firmware.engine.wallclock``); ``--origin`` sets the time of
tick 0 instead and the clock is not read (a box without a real-time clock, tests).
SIGINT/SIGTERM stop it cleanly: the loop finishes its tick, call records are committed and
the line card driver closes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import signal
import subprocess
import sys
import time

import numpy as np

from board.virtual.traffic import DemoTraffic
from drivers.logs import EventLogger, configure_logging
from firmware.console import LogBuffer
from firmware.console.protocol import resolve_socket_path
from firmware.storage.pending import apply_pending
from linebox import LineboxError
from linebox.appliance import open_hardware_appliance, open_virtual_appliance
from linebox.commands.console import start_console
from linebox.commands.web import DEFAULT_LISTEN, parse_listen, url_of, web_command
from linebox.config_watch import ConfigWatcher
from linebox.engine_builder import RESTART_NEEDED
from linebox.manager_setup import start_manager
from linebox.sdnotify import Notifier
from linebox.storage import resolve_db_path
from linebox.supervision import RESTART_EXIT_STATUS, execute_again, restarter


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
    parser.add_argument("--origin", default=None,
                        help="virtual board: the wall time of tick 0 (ISO 8601 with offset); the clock is then "
                             "not read: wall time is origin + 20 ms a tick (a box without a real-time clock)")
    parser.add_argument("--web-listen", default=DEFAULT_LISTEN,
                        help=f"where the web admin listens (default {DEFAULT_LISTEN})")
    parser.add_argument("--no-web", action="store_true", help="do not start the web admin beside the engine")
    parser.add_argument("--no-speech", action="store_true",
                        help="no speech recognition: IVR menus take keys only (no model loaded, no child process)")
    parser.set_defaults(handler=run)


def _origin(text: str) -> dt.datetime:
    try:
        origin = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise LineboxError(f"--origin: {text!r} is not an ISO 8601 time") from exc
    if origin.tzinfo is None:
        raise LineboxError(f"--origin: {text!r} has no UTC offset (add e.g. +00:00 or Z)")
    return origin


RESTART_GRACE_TICKS = 25  # 0.5 s of audio between `engine restart` and the stop: the asker's reply goes out


def _stop_web(web: subprocess.Popen | None) -> None:
    if web is not None:
        web.terminate()
        try:
            web.wait(timeout=10)
        except subprocess.TimeoutExpired:
            web.kill()


def run(args: argparse.Namespace) -> int:
    configure_logging(sys.stdout, getattr(logging, args.log_level))
    log_buffer = LogBuffer().attach()  # the last log lines, for `linebox console` (log tail)
    log = EventLogger("run")
    db_path = resolve_db_path(args.db)
    if not args.no_web:
        parse_listen(args.web_listen)  # a wrong address is refused before anything starts
    if args.origin is not None and args.board != "virtual":
        raise LineboxError("--origin is for the virtual board: real hardware reads its clock")
    origin = _origin(args.origin) if args.origin is not None else dt.datetime.now(dt.UTC)
    # The wall clock is read at each tick's edge (firmware/engine/wallclock.py) unless the origin is given.
    read_wall = time.time if args.origin is None else None
    # A restore or factory reset the web admin staged (firmware/storage/pending.py): before any store opens.
    applied = apply_pending(db_path, dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    if applied is not None:
        (log.error if applied.startswith("restore failed") else log.warning)("pending_data_operation",
                                                                             result=applied)
    if args.board == "virtual":
        app = open_virtual_appliance(db_path, paced=True, seed=args.seed, origin=origin, read_wall=read_wall,
                                     speech=not args.no_speech)
        if not args.no_demo_traffic:
            extensions = [(ext.number, ext.port) for ext in app.store.load().extensions]
            DemoTraffic(app.world, extensions, np.random.default_rng(args.seed)).start()
    else:
        app = open_hardware_appliance(args.board, db_path, origin, read_wall=read_wall, speech=not args.no_speech)
    stopping: list[str] = []
    # The console's ``engine restart`` (the web admin's System page, a staged restore) ends the loop
    # RESTART_GRACE_TICKS later (the web page's or console's answer goes out first); then, under
    # systemd, the exit status 75 has the unit start it again, elsewhere it executes itself again
    # (linebox/supervision.py), the web admin child with it.
    restart_at: list[int] = []
    console = start_console(app, resolve_socket_path(args.socket, os.environ), log_buffer,
                            restart=lambda: restart_at.append(app.loop.tick + RESTART_GRACE_TICKS),
                            restarter=restarter(os.environ))
    manager = start_manager(app, db_path, console=console.console)  # AMI-compatible, if configured on
    watcher = ConfigWatcher(app.store).start()  # `linebox config import` applies without a restart
    signal.signal(signal.SIGTERM, lambda *_: stopping.append("SIGTERM"))
    # The web admin is a process of its own: its crash or slow page never delays a tick.
    web = None if args.no_web else subprocess.Popen(
        web_command(args.web_listen, db_path, resolve_socket_path(args.socket, os.environ)))
    config = app.store.load()
    log.info("started", board=app.definition.name, ports=app.audio.ports, zone=str(config.zone), db=str(db_path),
             extensions=",".join(ext.number for ext in config.extensions))
    # Configuration changes apply live (linebox/engine_builder.py), all but these:
    log.info("live_config", restart_needed="; ".join(RESTART_NEEDED))
    if web is not None:
        log.info("web_admin", url=url_of(*parse_listen(args.web_listen)), pid=web.pid)
    # Models load in the background: menus take keys only until `speech_available` (docs/ivr.md).
    if app.speech is None:
        log.info("ivr_speech", state="off", note="menus take keys only (--no-speech)")
    else:
        log.info("ivr_speech", state="loading", languages=",".join(app.speech.loading()) or "none",
                 note="menus take keys only until speech_available")
    notifier = Notifier.from_environ(os.environ)  # systemd: READY, WATCHDOG from this thread, STOPPING
    try:
        while not stopping:
            app.loop.step()
            notifier.ticked(app.loop.tick)
            if restart_at and app.loop.tick >= restart_at[0]:
                stopping.append("restart")
    except KeyboardInterrupt:
        stopping.append("SIGINT")
    finally:
        log.info("stopping", reason=stopping[0] if stopping else "error")
        _stop_web(web)
        notifier.stopping()
        notifier.close()
        watcher.close()
        manager.close()
        console.close()
        app.close()
    if stopping[:1] != ["restart"]:
        return 0
    if restarter(os.environ) == "systemd":
        return RESTART_EXIT_STATUS
    log.info("restarting", how="executing itself again (not under systemd)")
    execute_again()
