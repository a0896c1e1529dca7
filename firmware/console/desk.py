"""The agent desk's console commands (docs/console.md, "Agent desk"): what the web admin's
wallboard and agent page read and do, and what a technician may type.

- ``show desk [agent=ID]``: one JSON line: ``version`` (grows with every change of any agent's
  desk, so a poller compares one number) and each agent's desk (state, pause reason, port, the
  current or last call: uniqueid, queue, caller ID, IVR variables, phase, disposition);
- ``agent pause ID [reason=R]``, ``agent unpause ID``, ``agent logout ID``: a supervisor's
  change of an agent's state (the ACD's own rules: a pause while on a call applies after it);
- ``agent dispose ID CODE [note=TEXT] [callback=EPOCH]``: the disposition of the agent's last
  call; ``TEXT`` is percent-encoded (``%20`` for a blank) since the console splits at blanks.

The ``*_on_loop`` functions run on the media loop's thread (through the gateway).
"""

from __future__ import annotations

import json
import urllib.parse

from firmware import FirmwareError
from firmware.acdengine.service import QueueService
from firmware.cdr import MAX_NOTE
from firmware.config.codec import AGENT_ID_RE
from firmware.engine.switch import Switch

MAX_REASON_CHARS = 16
MAX_EPOCH = 2**33  # year 2242: beyond is a typo


def find_acd(switch: Switch) -> QueueService:
    for service in switch.control.attached:
        if isinstance(service, QueueService):
            return service
    raise FirmwareError("no ACD on this box: the configuration has no queues")


def agent_id(text: str) -> str:
    if not AGENT_ID_RE.fullmatch(text):
        raise FirmwareError(f"agent {text[:12]!r} is not an agent number (1-8 digits)")
    return text


def reason(text: str) -> str:
    if len(text) > MAX_REASON_CHARS or not text.isprintable() or "|" in text:
        raise FirmwareError(f"a pause reason is 1-{MAX_REASON_CHARS} printable characters without '|'")
    return text


def note(text: str) -> str:
    try:
        decoded = urllib.parse.unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise FirmwareError("note= must be percent-encoded UTF-8") from None
    if len(decoded) > MAX_NOTE or not decoded.replace("\n", " ").isprintable():
        raise FirmwareError(f"a note is up to {MAX_NOTE} printable characters")
    return decoded


def epoch(text: str) -> float:
    if not text.isascii() or not text.isdigit() or not 0 < int(text) < MAX_EPOCH:
        raise FirmwareError(f"callback= takes epoch seconds, got {text[:20]!r}")
    return float(text)


# ----------------------------------------------------------------------------- on the loop's thread

def desk_on_loop(switch: Switch, only: str | None) -> str:
    acd = find_acd(switch)
    tracker = acd.tracker
    agents = [agent.id for agent in switch.config.agents]
    if only is not None:
        if only not in agents:
            raise FirmwareError(f"no agent {only} in the configuration")
        agents = [only]
    rows = tracker.rows(agents) if tracker is not None else []
    names = {agent.id: agent.name for agent in switch.config.agents}
    for row in rows:
        row["name"] = names.get(row["agent"], "")
    document = {"version": tracker.version if tracker is not None else 0, "agents": rows}
    return json.dumps(document, ensure_ascii=True, separators=(",", ":"))


def change_on_loop(switch: Switch, action: str, agent: str, why: str = "") -> str:
    acd = find_acd(switch)
    if switch.config.agent(agent) is None:
        raise FirmwareError(f"no agent {agent} in the configuration")
    now = acd.now()
    if action == "pause":
        acd.core.agent_pause(agent, why, now)
        done = f"agent {agent} paused" + (f" ({why})" if why else "")
    elif action == "unpause":
        acd.core.agent_unpause(agent, now)
        done = f"agent {agent} unpaused"
    else:
        if agent not in acd.agent_ports:
            raise FirmwareError(f"agent {agent} is not logged in")
        acd.logout(agent)
        done = f"agent {agent} logged out"
    if acd.tracker is not None:
        acd.tracker.changed()
    acd.log.info("agent_changed_by_console", agent=agent, action=action, reason=why)
    return done


def dispose_on_loop(switch: Switch, agent: str, code: str, text: str, callback_at: float | None) -> str:
    acd = find_acd(switch)
    if acd.tracker is None:
        raise FirmwareError("the agent desk is not running")
    entry = acd.tracker.dispose(agent, code, text, callback_at, "page", acd.now())
    return f"disposition {entry.code} ({entry.label}) recorded for call {entry.uniqueid}"
