"""``linebox web [--listen 127.0.0.1:8080]``: the web admin, served by waitress as a process of its own.

It opens the same database as the engine (configuration store and account store) and reaches
the running engine through its console socket; a crash or a slow page here never touches a
call. While no admin account exists, a one-time setup token is made and printed (the serial
console and the journal see it): the first-boot wizard asks for it. ``linebox run`` starts
this command beside the engine (``--no-web`` to leave it off).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import ipaddress
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from drivers.logs import EventLogger, configure_logging
from firmware.accounts import AccountStore, check_password, check_user_name
from firmware.acdengine.history import IntervalStore
from firmware.cdr import CdrStore
from firmware.config import Config
from firmware.console.protocol import resolve_socket_path
from firmware.storage.pending import wait_until_applied
from linebox import LineboxError
from linebox.engine_builder import RESTART_NEEDED
from linebox.storage import board_ports, open_store, resolve_db_path
from linebox.supervision import RESTART_EXIT_STATUS, execute_again, under_systemd

DEFAULT_LISTEN = "127.0.0.1:8080"
THREADS = 10  # a small office's few browsers; each dashboard polls every 2 s; live desk pages hold one
# thread per open stream, at most webadmin.desk.MAX_STREAMS (6), so four are left for pages and actions
CONNECTION_LIMIT = 32  # a few browsers of ~6 connections each; also bounds what strangers can make waitress spool:
# it keeps a request's whole body (in a temporary file beyond 512 kB) before the application sees it, so at
# most CONNECTION_LIMIT x the body limit (server_options) at once, logged in or not (docs/webadmin.md)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("web", help="serve the web admin (its own process)")
    parser.add_argument("--listen", default=DEFAULT_LISTEN,
                        help=f"address:port to listen on (default {DEFAULT_LISTEN}; the office LAN needs HTTPS "
                             "in front, see docs/webadmin.md)")
    parser.add_argument("--db", default=None, help="database path (default: $LINEBOX_DB or var/linebox.db)")
    parser.add_argument("--socket", default=None,
                        help="the engine's console socket (default: $LINEBOX_CONSOLE or var/linebox.sock)")
    parser.add_argument("--board", default="virtual",
                        help="board of a box not configured yet (default: virtual; else the configuration's)")
    parser.add_argument("--behind-proxy", action="store_true",
                        help="an HTTPS reverse proxy on this machine forwards to us: take the client's address "
                             "from its X-Forwarded-For (for the login throttle and the audit log)")
    parser.add_argument("--exit-with-parent", action="store_true", help=argparse.SUPPRESS)  # set by linebox run
    parser.set_defaults(handler=serve)


def parse_listen(text: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port``; one clear error otherwise."""
    host, sep, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise LineboxError(f"--listen: {text!r} is not ADDRESS:PORT with a numeric address "
                           "(e.g. 127.0.0.1:8080 or 192.168.1.10:8080)") from None
    if not sep or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise LineboxError(f"--listen: {text!r} needs a port 1-65535 after the colon")
    return host, int(port)


def url_of(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def restart_needed(old: Config, new: Config) -> list[str]:
    """What only a restart applies (linebox/engine_builder.py): the zone's line-card timing."""
    return list(RESTART_NEEDED) if old.zone != new.zone else []


def version() -> str:
    try:
        return importlib.metadata.version("linebox")
    except importlib.metadata.PackageNotFoundError:
        return "development tree"


def check_account(name: str, password: str) -> None:
    check_user_name(name)
    check_password(name, password)


def _exit_with_parent(period_s: float = 1.0) -> None:
    """Started by ``linebox run``: stop when it is gone (even killed with SIGKILL), never left behind
    holding the port."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(period_s)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent watch", daemon=True).start()


PENDING_WAIT_S = 120.0  # the engine's start (the unit allows 90 s) applies a staged restore first
RESTART_DELAY_S = 1.0  # the page that asked for it is sent first


def _restart_web(delay_s: float = RESTART_DELAY_S):
    """Restarts this process shortly after the response (the page's data were replaced under it):
    under systemd exit status 75 (linebox-web.service starts it again), else it executes itself
    again (linebox/supervision.py); either way the new process waits for the engine to apply a
    staged restore or reset before it opens the data."""
    def end() -> None:
        systemd = under_systemd(os.environ)
        EventLogger("web").info("restarting", how="exit status 75 for systemd" if systemd else "executing itself again")
        if systemd:
            os._exit(RESTART_EXIT_STATUS)
        execute_again()

    def restart() -> None:
        threading.Timer(delay_s, end).start()
    return restart


def build_app(db: str | None, socket: str | None, board: str, loopback: bool):
    """The WSGI app over the box's database and console socket (the composition of webadmin)."""
    from firmware.contacts.store import ContactStore
    from webadmin.app import create_app
    from webadmin.audit import AuditLog
    from webadmin.engine import ConsoleEngine
    from webadmin.services import SerializedAccounts, WebServices

    db_path = resolve_db_path(db)
    # A restore or factory reset staged from the System page is applied by the engine at its start:
    # open nothing before it is done (firmware/storage/pending.py).
    if not wait_until_applied(db_path, PENDING_WAIT_S):
        EventLogger("web").warning("pending_data_operation_not_applied", waited_s=PENDING_WAIT_S)
    store = open_store(db)
    name = board if store.is_empty() else store.load().board
    ports = board_ports(name)
    if ports is None:
        raise LineboxError(f"--board: unknown board {name!r}")
    services = WebServices(
        store=store, accounts=SerializedAccounts(AccountStore(db_path)),
        engine=ConsoleEngine(resolve_socket_path(socket, os.environ)), board=ports,
        data_dir=db_path.parent, clock=time.time, check_account=check_account,
        audit=AuditLog(db_path), cdr=CdrStore(db_path), intervals=IntervalStore(db_path), restart_needed=restart_needed,
        contacts=ContactStore(db_path),
        cookie_secure=not loopback, version=version(), restart_web=_restart_web())
    return create_app(services), services


def serve(args: argparse.Namespace) -> int:
    import waitress

    from webadmin.app import has_admin
    from webadmin.security import SetupToken

    configure_logging(sys.stdout, logging.INFO)
    if args.exit_with_parent:
        _exit_with_parent()
    host, port = parse_listen(args.listen)
    exposed = not ipaddress.ip_address(host).is_loopback
    # Secure cookies whenever a browser reaches us through HTTPS (a proxy) or from the LAN (HTTPS required)
    app, services = build_app(args.db, args.socket, args.board, loopback=not (exposed or args.behind_proxy))
    log = EventLogger("web")
    url = url_of(host, port)
    if not has_admin(services):
        token = SetupToken(services.data_dir).issue()
        print(f"linebox web: no admin account yet: open {url}setup and type the setup token {token}", flush=True)
        log.warning("setup_token", token=token, url=f"{url}setup")
    print(f"linebox web: the web admin listens on {url}", flush=True)
    if exposed:
        print("linebox web: listening beyond this machine: put HTTPS in front (docs/webadmin.md)", file=sys.stderr)
    proxy = {"trusted_proxy": "127.0.0.1", "trusted_proxy_count": 1,
             "trusted_proxy_headers": {"x-forwarded-for"}} if args.behind_proxy else {}
    waitress.serve(app, host=host, port=port, _quiet=True, **server_options(app), **proxy)
    return 0


def server_options(app) -> dict:
    """waitress's settings for the web admin. Its body limit is global (waitress has no per-page
    limit, and it reads a body whole before the application can look at the session): the largest
    body any page takes in one request (``largest_upload``: music, 32 MB; a full backup's restore
    comes in 4 MB pieces, webadmin/data.py). A declared larger body is refused (413) before any of
    it is read; a chunked one once it passes the limit."""
    from webadmin.admin import UPLOAD_LIMIT
    from webadmin.app import largest_upload

    return {"threads": THREADS, "connection_limit": CONNECTION_LIMIT, "ident": "linebox",
            "clear_untrusted_proxy_headers": True,
            # waitress refuses a body *equal* to its limit (waitress/parser.py: >=); Flask takes it
            "max_request_body_size": max(UPLOAD_LIMIT, largest_upload(app)) + 1}


def web_command(listen: str, db: Path, socket: Path) -> list[str]:
    """The command line ``linebox run`` starts the web admin with (a child process of its own)."""
    return [sys.executable, "-m", "linebox", "web", "--listen", listen, "--db", os.fspath(db),
            "--socket", os.fspath(socket), "--exit-with-parent"]
