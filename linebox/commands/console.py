"""``linebox console``: attach to the running engine, like ``asterisk -r`` (docs/console.md).

Interactive (prompt ``linebox> ``, readline line editing, history in
``~/.linebox_console_history``, Tab completes command words) or one command with
``-x "COMMAND"`` for scripts (like ``asterisk -rx``): its lines on stdout, a refused command
as one line on stderr and exit status 2. The socket is ``--socket PATH``, else
``$LINEBOX_CONSOLE``, else ``var/linebox.sock`` under the current folder. ``log tail``
follows until Enter (interactive) or Ctrl-C.

For ``linebox run`` (the composition root of the console): :func:`start_console` builds
the console server of an appliance, with test calls on the virtual board's simulated phones
and exchange lines (:class:`VirtualTestCall`).
"""

from __future__ import annotations

import argparse
import os
import select
import sys
from collections.abc import Callable
from pathlib import Path

from board import BoardError
from board.virtual.pstn import LineState
from dsp.callerid import CallerId
from firmware import FirmwareError
from firmware.console import ConsoleClient, ConsoleServer, EngineAccess, LogBuffer
from firmware.console.commands import COMMANDS
from firmware.console.protocol import resolve_socket_path

HISTORY_FILE = "~/.linebox_console_history"
HISTORY_LINES = 1000
DIAL_AFTER_OFFHOOK_MS = 500  # the phone waits for dial tone as a person would (the switch gives it in 1 tick)
TEST_CALLER_NAME = "LINEBOX TEST"


# ----------------------------------------------------------------------------- the engine side


class VirtualTestCall:
    """``call test``: the virtual world's phone on an FXS port lifts and dials; an exchange line rings.

    Runs on the media loop's thread (through the console's gateway), where the world advances.
    """

    def __init__(self, world) -> None:
        self.world = world

    def __call__(self, port: int, number: str, hold_s: int) -> str:
        world = self.world
        try:
            if port in world.fxs_ports:
                phone = world.phone(port)
                if phone.is_offhook:
                    raise FirmwareError(f"the phone on port {port} is off hook already")
                phone.offhook()
                world.after_ms(DIAL_AFTER_OFFHOOK_MS, lambda: self._dial(phone, number))
                world.after_ms(hold_s * 1000, phone.hangup)
                return (f"test call: phone on port {port} off hook, dials {number} in "
                        f"{DIAL_AFTER_OFFHOOK_MS} ms, hangs up in {hold_s} s")
            if not number.isdigit():
                raise FirmwareError(f"an exchange line rings with a caller number of digits 0-9, got {number!r}")
            line = world.line(port)
            line.ring(caller_id=CallerId(number=number, name=TEST_CALLER_NAME))
            world.after_ms(hold_s * 1000, lambda: self._clear(line))
            return f"test call: exchange line on port {port} rings from {number}, caller clears in {hold_s} s"
        except BoardError as exc:
            raise FirmwareError(f"call test: {exc}") from exc

    @staticmethod
    def _dial(phone, number: str) -> None:
        if phone.is_offhook:  # not hung up meanwhile
            phone.dial(number)

    @staticmethod
    def _clear(line) -> None:
        if line.state is LineState.ALERTING:
            line.abandon()
        elif line.state in (LineState.CONNECTED, LineState.PROGRESS):
            line.far_end_hangup()


def start_console(app, socket_path: str | os.PathLike, log_buffer: LogBuffer,
                  restart: Callable[[], None] | None = None, restarter: str = "systemd") -> ConsoleServer:
    """The console server of a running appliance (``linebox.appliance.Appliance``), started.
    ``restart``: how ``engine restart`` ends the engine (None: refused); ``restarter``: who starts it
    again (``"systemd"``, or ``"self"``: it executes itself again)."""
    try:
        test_call = VirtualTestCall(app.world)
    except BoardError:
        test_call = None  # real hardware: nobody to lift a handset
    engine = EngineAccess(loop=app.loop, switch=app.switch, store=app.store, link=app.card.link, test_call=test_call,
                          board=app.definition.name,
                          storage=app.retention.status_line if app.retention is not None else None,
                          restart=restart, restarter=restarter, voicemail=app.voicemail, media=app.media)
    return ConsoleServer(socket_path, engine, log_buffer).start()


# ----------------------------------------------------------------------------- the client


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("console", help="attach to the running engine (like asterisk -r)",
                                   description="The technician's console of the running engine.")
    parser.add_argument("--socket", default=None,
                        help="console socket (default: $LINEBOX_CONSOLE or var/linebox.sock)")
    parser.add_argument("-x", dest="command", metavar="COMMAND", default=None,
                        help='run one command and exit, e.g. -x "show calls"')
    parser.set_defaults(handler=run_console)


def run_console(args: argparse.Namespace) -> int:
    path = resolve_socket_path(args.socket, os.environ)
    client = ConsoleClient(path)
    client.connect()
    try:
        if args.command is not None:
            client.run(args.command, _print_line)
            return 0
        return _interactive(client)
    finally:
        client.close()


def _print_line(text: str) -> None:
    print(text, flush=True)


def _is_stream(command: str) -> bool:
    return [word.lower() for word in command.split()[:2]] == ["log", "tail"]


class _Keyboard:
    """Commands typed at the prompt, and "was Enter pressed?" while a ``log tail`` runs.

    On a terminal, ``input()`` with readline; from a pipe, lines are read from the file
    descriptor without Python's buffering, so that a line already sent is seen by select().
    """

    def __init__(self, stream=None) -> None:
        stream = stream or sys.stdin
        self.stream = stream
        self.fd = stream.fileno()
        self.tty = stream.isatty()
        self._buffer = bytearray()
        self._eof = False

    def command(self, prompt: str) -> str | None:
        """The next command line; None at end of input."""
        if self.tty:
            try:
                return input(prompt)
            except EOFError:
                return None
        print(prompt, end="", flush=True)
        return self._line(block=True)

    def enter_pressed(self) -> bool:
        """True (the line is used up) when a line, or the end of input, is waiting."""
        if self.tty:
            readable, _, _ = select.select([self.fd], [], [], 0)
            if readable:
                self.stream.readline()
            return bool(readable)
        return self._line(block=False) is not None or self._eof

    def _line(self, block: bool) -> str | None:
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line = bytes(self._buffer[:end]).decode("utf-8", errors="replace")
                del self._buffer[: end + 1]
                return line
            if self._eof:
                if not self._buffer:
                    return None
                line = bytes(self._buffer).decode("utf-8", errors="replace")
                self._buffer.clear()
                return line
            if not block and not select.select([self.fd], [], [], 0)[0]:
                return None
            data = os.read(self.fd, 4096)
            if data:
                self._buffer += data
            else:
                self._eof = True


def _interactive(client: ConsoleClient) -> int:
    keyboard = _Keyboard()
    history = _setup_readline() if keyboard.tty else None
    for line in client.banner:
        print(line)
    try:
        while True:
            try:
                command = keyboard.command("linebox> ")
            except KeyboardInterrupt:
                print()
                continue
            if command is None:
                print()
                return 0
            words = command.split()
            if not words:
                continue
            streaming = _is_stream(command)
            if streaming:
                print("(following; press Enter to stop)", file=sys.stderr)
            try:
                client.run(command, _print_line, keyboard.enter_pressed if streaming else _never)
            except FirmwareError as exc:
                if "closed the console connection" in str(exc):
                    raise
                print(f"error: {exc}")
            if words[0].lower() in ("quit", "exit") and len(words) == 1:
                return 0
    finally:
        _save_history(history)


def _never() -> bool:
    return False


def _setup_readline() -> Path | None:
    try:
        import readline
    except ImportError:
        return None
    words = sorted({" ".join(spec.words) for spec in COMMANDS})

    def complete(text: str, state: int) -> str | None:
        typed = readline.get_line_buffer()
        before = " ".join(typed[: len(typed) - len(text)].split())  # the words before the one completed
        key = f"{before} {text}" if before else text
        matches = [word[len(key) - len(text):] + " " for word in words if word.startswith(key)]
        return matches[state] if state < len(matches) else None

    readline.set_completer(complete)
    readline.set_completer_delims(" ")
    readline.parse_and_bind("tab: complete")
    readline.set_history_length(HISTORY_LINES)
    path = Path(os.path.expanduser(HISTORY_FILE))
    if path.exists():
        try:
            readline.read_history_file(path)
        except OSError as exc:
            print(f"linebox: history not read from {path}: {exc.strerror or exc}", file=sys.stderr)
    return path


def _save_history(path: Path | None) -> None:
    if path is None:
        return
    import readline

    try:
        readline.write_history_file(path)
    except OSError as exc:
        print(f"linebox: history not saved to {path}: {exc.strerror or exc}", file=sys.stderr)
