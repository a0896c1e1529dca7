"""``linebox linecard``: the technician's tools for the line-card UART (docs/protocol.md).

- ``linebox linecard decode HEX...``: decodes frames from hex (a wire-log line, a logic
  analyser capture, bytes with noise between frames): one line per frame with its fields,
  one line per problem the parser found (CRC mismatch, truncated frame, noise).
- ``linebox linecard probe URL --ports fxo,fxo,fxs,...``: opens the card's UART (a device
  path or a pyserial URL), does the handshake, prints the card's identity and the port
  events for ``--seconds``; ``--wire`` adds one line per frame. ``--virtual`` probes an
  emulated card on a pty instead (bring-up of the host side without hardware).
Exit status 0 when the card came up, 2 with one line on stderr otherwise.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import time

from board.virtual.card import CardEmulator
from drivers import DriverError
from drivers.link import FINAL, IN_SERVICE, LinkConfig
from drivers.logs import configure_logging
from drivers.ports import open_line_card
from drivers.protocol import BY_ID, FrameParser, decode_payload

_HEX = re.compile(r"\b[0-9a-fA-F]{2}\b")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("linecard", help="line-card UART tools: decode frames, probe a card")
    tools = parser.add_subparsers(dest="tool", required=True, metavar="TOOL")
    decode = tools.add_parser("decode", help="decode protocol frames from hex bytes")
    decode.add_argument("hex", nargs="*", help="hex bytes (default: read lines from stdin)")
    decode.set_defaults(handler=run_decode)
    probe = tools.add_parser("probe", help="handshake with a card and print its events")
    probe.add_argument("url", nargs="?", help="serial device or pyserial URL (e.g. /dev/ttyUSB0, socket://h:p)")
    probe.add_argument("--ports", required=True, help="the board's port types in order, e.g. fxo,fxo,fxs,fxs")
    probe.add_argument("--zone", default="us", help="timing zone (default: us)")
    probe.add_argument("--seconds", type=float, default=5.0, help="how long to print events (default: 5)")
    probe.add_argument("--wire", action="store_true", help="also print every frame in hex")
    probe.add_argument("--virtual", action="store_true", help="probe an emulated card instead of a device")
    probe.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    probe.set_defaults(handler=run_probe)


def decode_text(text: str) -> list[str]:
    """One line per frame (and per parser problem) found in the hex bytes of ``text``."""
    data = bytes(int(byte, 16) for byte in _HEX.findall(text))
    parser = FrameParser()
    frames = parser.feed(data) + parser.flush()
    lines = []
    for frame in frames:
        spec = BY_ID.get(frame.msg_id)
        name = spec.name if spec else f"0x{frame.msg_id:02x}"
        try:
            fields = decode_payload(frame).fields
        except DriverError as exc:
            lines.append(f"seq={frame.seq} {name} error: {exc}")
            continue
        shown = " ".join(f"{key}={','.join(map(str, value)) if isinstance(value, tuple) else value}"
                         for key, value in fields.items())
        lines.append(f"seq={frame.seq} {name} {shown}".rstrip())
    lines += [f"error: {problem}" for problem in parser.take_errors()]
    return lines


def run_decode(args: argparse.Namespace) -> int:
    text = " ".join(args.hex) if args.hex else sys.stdin.read()
    for line in decode_text(text):
        print(line)
    return 0


def run_probe(args: argparse.Namespace) -> int:
    ports = [kind.strip() for kind in args.ports.split(",") if kind.strip()]
    if any(kind not in ("fxs", "fxo") for kind in ports) or not ports:
        raise DriverError(f"--ports must list fxs/fxo port types, got {args.ports!r}")
    if (args.url is None) == (not args.virtual):
        raise DriverError("give either a serial URL or --virtual")
    configure_logging(sys.stderr, getattr(logging, args.log_level))
    card = CardEmulator(ports) if args.virtual else None
    if card is not None:
        card.start()
    line = open_line_card(card.path if card else args.url, ports, args.zone, LinkConfig())
    if args.wire:
        line.link.set_wire_log(True, lambda text: print(f"wire {text}", flush=True))
    try:
        deadline = time.monotonic() + args.seconds
        line.link.wait_state(IN_SERVICE | FINAL, args.seconds)
        if line.link.state not in IN_SERVICE:
            raise DriverError(line.link.refusal or f"line card at {line.link.url} did not answer "
                              f"(link {line.link.state.value})")
        identity = line.link.identity
        print(f"card {identity.model} firmware {'.'.join(map(str, identity.firmware))} protocol "
              f"{identity.protocol[0]}.{identity.protocol[1]} ports {','.join(identity.port_types)} "
              f"reset_cause {identity.reset_cause}", flush=True)
        while time.monotonic() < deadline:
            for event in line.poll():
                print(event, flush=True)
            time.sleep(0.05)
        for event in line.poll():
            print(event, flush=True)
        return 0
    finally:
        line.close()
        if card is not None:
            card.close()
