"""Agents on analog headsets: log in, log out, pause, unpause and end wrap-up early, by
feature code or hook flash.

The feature codes (``FeatureCodes``: agent_login *45, agent_logout *46, agent_pause *47,
agent_unpause *48, agent_ready *49) reach :class:`AgentDesk` through
``ExtensionFeatures.service_codes``. Each is confirmed by a spoken prompt (Debian's Asterisk
recordings):

========  =====================================================================
``*45``   "agent number" (``agent-user``), the agent id then ``#``; if the agent has
          a PIN, "password" (``agent-pass``), the PIN then ``#``. With
          ``login_by_extension`` an agent whose seat is this extension (and has no PIN)
          is logged in at once. Then ``agent-loginok``; a wrong id or PIN
          ``agent-incorrect``; already logged in ``agent-alreadyon``.
``*46``   logs out the agent logged in at this phone: ``agent-loggedoff``.
``*47``   pause; one more digit within ``PAUSE_REASON_S`` is the reason code (``#`` or
          nothing: no reason); confirmed by "paused" and the reason digit.
``*48``   unpause: "activated".
``*49``   ends wrap-up now (ready for the next call): "activated".
flash     after an ACD call, while the agent is in wrap-up and the phone is still off-hook
          (hearing busy tone: the caller hung up), a hook flash ends wrap-up like
          ``*49`` — a headset agent never has to hang up to take the next call. A flash
          during a call keeps its usual meaning (hold, transfer: ``flash.py``).
========  =====================================================================

Anything refused (no agent at this phone, not paused, not in wrap-up…) gives the error
beep (``beeperr``) and the reason in the log. The agent is logged in at the phone they
dialled from: offers ring that port. A digit entry left unfinished for ``ENTRY_TIMEOUT_S``
ends with ``agent-incorrect``. After the confirmation the phone hears silence until on-hook.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from drivers.audio import TICK_MS
from drivers.logs import EventLogger
from firmware import FirmwareError
from firmware.config.model import Extension
from firmware.dialplan import DialResult
from firmware.engine.calls import Leg
from firmware.engine.control import Then

TICK_S = TICK_MS / 1000.0
PAUSE_REASON_S = 3.0  # wait for the optional reason digit after *47
ENTRY_TIMEOUT_S = 10.0  # agent id or PIN not finished with # by then: refused
MAX_ENTRY_DIGITS = 16


class Step(StrEnum):
    AGENT_ID = "agent_id"
    PIN = "pin"
    PAUSE_REASON = "pause_reason"


@dataclass
class Entry:
    port: int
    step: Step
    deadline_tick: int
    digits: str = ""
    agent_id: str = ""


class AgentDesk:
    """Agent feature codes and their digit entry, per FXS port."""

    def __init__(self, service, log: EventLogger | None = None) -> None:
        self.service = service
        self.cc = service.cc
        self.prompts = service.prompts
        self.setup = service.setup
        self.log = log or EventLogger("acd")
        self.entries: dict[int, Entry] = {}
        self.known = {agent.agent_id for agent in self.setup.acd.agents}

    def codes(self) -> dict:
        """Handlers for ``ExtensionFeatures.service_codes``."""
        return {"agent_login": self._login, "agent_logout": self._logout,
                "agent_pause": self._pause, "agent_unpause": self._unpause, "agent_ready": self._ready}

    # ------------------------------------------------------------------ prompts
    def _say(self, port: int, names: list[str], done: bool = True) -> None:
        if done:
            self.entries.pop(port, None)
        # done: nothing more to do but hang up; else the digits of the entry come here
        self.cc.say(port, self.prompts.sentence(names), Then.WAIT_ON_HOOK if done else Then.DIGITS)

    def _refuse(self, port: int, feature: str, reason: str) -> None:
        self.log.info("agent_feature_refused", port=port, feature=feature, reason=reason)
        self._say(port, ["beeperr"])

    def _ask(self, port: int, step: Step, prompt: list[str], seconds: float, agent_id: str = "") -> None:
        self.entries[port] = Entry(port, step, self.cc.tick + round(seconds / TICK_S), agent_id=agent_id)
        self._say(port, prompt, done=False)  # digits come here (attached service) until the entry is over

    # ------------------------------------------------------------------ feature codes
    def _login(self, port: int, extension: Extension, result: DialResult) -> None:
        if self.service.agent_at(port) is not None:
            self.log.info("agent_feature_refused", port=port, feature="agent_login", reason="already logged in here")
            self._say(port, ["agent-alreadyon"])
            return
        if self.setup.login_by_extension:
            for agent_id, seat in self.setup.agents.items():
                if seat.extension == extension.number:
                    if seat.pin:
                        self._ask(port, Step.PIN, ["agent-pass"], ENTRY_TIMEOUT_S, agent_id=agent_id)
                    else:
                        self._do_login(port, agent_id)
                    return
        self._ask(port, Step.AGENT_ID, ["agent-user"], ENTRY_TIMEOUT_S)

    def _do_login(self, port: int, agent_id: str) -> None:
        try:
            self.service.login(agent_id, port)
        except FirmwareError as exc:
            self.log.info("agent_feature_refused", port=port, feature="agent_login", agent=agent_id, reason=str(exc))
            self._say(port, ["agent-alreadyon" if "already" in str(exc) else "agent-incorrect"])
            return
        self.log.info("agent_login", port=port, agent=agent_id)
        self._say(port, ["agent-loginok"])

    def _logout(self, port: int, extension: Extension, result: DialResult) -> None:
        agent_id = self.service.agent_at(port)
        if agent_id is None:
            self._refuse(port, "agent_logout", "no agent logged in at this phone")
            return
        try:
            self.service.logout(agent_id)
        except FirmwareError as exc:
            self._refuse(port, "agent_logout", str(exc))
            return
        self.log.info("agent_logout", port=port, agent=agent_id)
        self._say(port, ["agent-loggedoff"])

    def _pause(self, port: int, extension: Extension, result: DialResult) -> None:
        agent_id = self.service.agent_at(port)
        if agent_id is None:
            self._refuse(port, "agent_pause", "no agent logged in at this phone")
            return
        self.cc.set_state(port, Leg.DIALING, call=None)
        self.cc.stop_audio(port)
        self.entries[port] = Entry(port, Step.PAUSE_REASON, self.cc.tick + round(PAUSE_REASON_S / TICK_S),
                                   agent_id=agent_id)

    def _do_pause(self, port: int, agent_id: str, reason: str) -> None:
        try:
            self.service.core.agent_pause(agent_id, reason, self.service.now())
        except FirmwareError as exc:
            self._refuse(port, "agent_pause", str(exc))
            return
        self.log.info("agent_pause", port=port, agent=agent_id, reason=reason)
        self._say(port, ["dictate/paused", *([f"digits/{reason}"] if reason.isdigit() else [])])

    def _unpause(self, port: int, extension: Extension, result: DialResult) -> None:
        agent_id = self.service.agent_at(port)
        if agent_id is None:
            self._refuse(port, "agent_unpause", "no agent logged in at this phone")
            return
        try:
            self.service.core.agent_unpause(agent_id, self.service.now())
        except FirmwareError as exc:
            self._refuse(port, "agent_unpause", str(exc))
            return
        self.log.info("agent_unpause", port=port, agent=agent_id)
        self._say(port, ["activated"])

    def _ready(self, port: int, extension: Extension, result: DialResult) -> None:
        agent_id = self.service.agent_at(port)
        if agent_id is None:
            self._refuse(port, "agent_ready", "no agent logged in at this phone")
            return
        self._end_wrapup(port, agent_id, "feature_code")

    def _end_wrapup(self, port: int, agent_id: str, how: str) -> None:
        try:
            self.service.core.wrapup_end(agent_id, self.service.now())
        except FirmwareError as exc:
            self._refuse(port, "agent_ready", str(exc))
            return
        self.log.info("agent_ready", port=port, agent=agent_id, by=how)
        self._say(port, ["activated"])

    def on_flash(self, port: int) -> bool:
        """A hook flash after an ACD call, in wrap-up, ends it (True: the flash was taken)."""
        agent_id = self.service.agent_at(port)
        if agent_id is None or self.cc.state(port) is not Leg.FAILED or not self.service.in_wrapup(agent_id):
            return False
        self._end_wrapup(port, agent_id, "hook_flash")
        return True

    # ------------------------------------------------------------------ digit entry
    def on_digit(self, port: int, digit: str) -> bool:
        entry = self.entries.get(port)
        if entry is None:
            return False
        if entry.step is Step.PAUSE_REASON:
            self._do_pause(port, entry.agent_id, "" if digit == "#" else digit)
            return True
        if digit != "#":
            if len(entry.digits) < MAX_ENTRY_DIGITS and digit.isdigit():
                entry.digits += digit
            self.cc.stop_audio(port)  # typing cuts the prompt short
            return True
        if entry.step is Step.AGENT_ID:
            agent_id = entry.digits
            if agent_id not in self.known:
                self.log.info("agent_feature_refused", port=port, feature="agent_login", reason="unknown agent id")
                self._say(port, ["agent-incorrect"])
            elif self.setup.seat(agent_id).pin:
                self._ask(port, Step.PIN, ["agent-pass"], ENTRY_TIMEOUT_S, agent_id=agent_id)
            else:
                self._do_login(port, agent_id)
        elif entry.digits == self.setup.seat(entry.agent_id).pin:
            self._do_login(port, entry.agent_id)
        else:
            self.log.info("agent_feature_refused", port=port, feature="agent_login", agent=entry.agent_id,
                          reason="wrong pin")
            self._say(port, ["agent-incorrect"])
        return True

    def on_tick(self, tick: int) -> None:
        for port, entry in list(self.entries.items()):
            if self.cc.state(port) is not Leg.DIALING:
                del self.entries[port]  # hung up (or taken out of service) during the entry
            elif tick >= entry.deadline_tick:
                if entry.step is Step.PAUSE_REASON:
                    self._do_pause(port, entry.agent_id, "")
                else:
                    self.log.info("agent_feature_refused", port=port, feature="agent_login", reason="entry timeout")
                    self._say(port, ["agent-incorrect"])
