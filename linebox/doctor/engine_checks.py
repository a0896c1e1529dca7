"""``linebox doctor --board rpi``: the line card as the running engine sees it.

On the Pi the engine owns the line card's UART and the codec, so the doctor does not open them:
it asks the engine on its console (``show status``, one JSON line: firmware/console/status.py).

- ``board_link``: the link is up (or degraded) and the card identified; the detail names the
  card, its firmware and protocol version. An engine that does not answer fails it too;
- ``port_<kind><N>``: the engine has the port in service; the detail gives its state. The
  console shows no line voltage or loop current (the card reports the voltage class as events
  that the engine consumes; no loop current value at all): the detail says so.

The audio loopback and dial-tone checks need the codec and are not run here (the virtual
board's doctor runs them on its own board).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from firmware import FirmwareError
from firmware.storage.doctor_report import Check

Ask = Callable[[str], list[str]]
"""One console command -> its data lines; FirmwareError when the engine cannot be reached."""

LINK_UP = ("up", "degraded")
NOT_SHOWN = "line voltage and loop current: not shown by the engine's console"


def _status(ask: Ask) -> dict:
    lines = ask("show status")
    if not lines:
        raise FirmwareError("the engine sent no status")
    try:
        status = json.loads(lines[0])
    except ValueError as exc:
        raise FirmwareError(f"the engine's status could not be read: {exc}") from exc
    if not isinstance(status, dict):
        raise FirmwareError("the engine's status is not an object")
    return status


def engine_board_checks(ask: Ask) -> list[Check]:
    try:
        status = _status(ask)
    except FirmwareError as exc:
        return [Check("board_link", False, f"the engine does not answer ({exc}): on the Pi the doctor reads the "
                                           "line card through the running engine (systemctl status linebox)")]
    link = status.get("link") or {}
    state = str(link.get("state", "none"))
    if state not in LINK_UP or not link.get("model"):
        refused = f" ({link['refused']})" if link.get("refused") else ""
        return [Check("board_link", False, f"link {state}{refused}: is the line card connected and powered?")]
    checks = [Check("board_link", True, f"{state}: {link['model']} firmware {link.get('firmware') or '?'} "
                                        f"protocol {link.get('protocol') or '?'}")]
    for port in status.get("ports") or []:
        name = f"port_{port.get('type')}{port.get('port')}"
        service = str(port.get("in_service"))
        detail = f"{'in service' if service == 'yes' else 'out of service: ' + service}, {port.get('state')}; {NOT_SHOWN}"
        checks.append(Check(name, service == "yes", detail))
    return checks
