"""The ACD's settings on the box, beside the core's :class:`~firmware.acd.model.AcdConfig`.

The core knows queues, agents, skills and routing; the engine side also needs, per queue,
its internal number (spoken in the agent whisper) and its announcements, and per agent the
extension they normally sit at and an optional PIN checked at login. A PIN typed on an
analog phone is a login check, not a security boundary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from firmware import FirmwareError
from firmware.acd.model import AcdConfig
from firmware.config.acd import acd_config
from firmware.config.model import Config


@dataclass(frozen=True)
class QueueSettings:
    number: str = ""  # internal number of the queue; the whisper speaks it
    announce_position_s: float = 0.0  # position (and hold time) every N seconds; 0 = off
    announce_hold_time: bool = False  # add the estimated hold time to the position
    periodic_announce_s: float = 0.0  # queue-periodic-announce every N seconds; 0 = off
    callback: bool = False  # callers may press * to be called back (callbacks.py)
    music: str = "default"  # music-on-hold class (firmware.media.music)
    greeting: str = ""  # a recording heard once on entering (Prompts.learn), "" = none


@dataclass(frozen=True)
class AgentSeat:
    extension: str = ""  # the extension the agent normally sits at
    pin: str = ""  # digits asked after the agent number at login; "" = none


@dataclass(frozen=True)
class AcdSetup:
    acd: AcdConfig
    queues: Mapping[str, QueueSettings] = field(default_factory=dict)
    agents: Mapping[str, AgentSeat] = field(default_factory=dict)
    login_by_extension: bool = False  # *45 at an agent's own extension logs that agent in directly

    def validate(self) -> AcdSetup:
        self.acd.validate()
        names = {queue.name for queue in self.acd.queues}
        ids = {agent.agent_id for agent in self.acd.agents}
        for name, queue in self.queues.items():
            if name not in names:
                raise FirmwareError(f"acd: settings for unknown queue {name!r}")
            if queue.announce_position_s < 0 or queue.periodic_announce_s < 0:
                raise FirmwareError(f"acd: queue {name}: announcement intervals must be >= 0 seconds")
            if queue.number and not queue.number.isdigit():
                raise FirmwareError(f"acd: queue {name}: number must be digits")
        for agent_id, seat in self.agents.items():
            if agent_id not in ids:
                raise FirmwareError(f"acd: seat for unknown agent {agent_id!r}")
            if seat.pin and not seat.pin.isdigit():
                raise FirmwareError(f"acd: agent {agent_id}: pin must be digits")
        return self

    def music_classes(self) -> set[str]:
        return {settings.music for settings in self.queues.values()}

    def greetings(self) -> set[str]:
        return {settings.greeting for settings in self.queues.values() if settings.greeting}

    def queue(self, name: str) -> QueueSettings:
        return self.queues.get(name, QueueSettings())

    def seat(self, agent_id: str) -> AgentSeat:
        return self.agents.get(agent_id, AgentSeat())


def setup_from_config(config: Config) -> AcdSetup | None:
    """The ACD of a configuration snapshot (``firmware.config.acd.acd_config`` for the core,
    queue numbers, announcements, agent seats and PINs here); None without queues."""
    core = acd_config(config)
    if core is None:
        return None
    queues = {queue.name: QueueSettings(queue.number, float(queue.announce_position_s), queue.announce_hold_time,
                                        float(queue.periodic_announce_s), queue.callback.enabled, queue.music,
                                        queue.greeting)
              for queue in config.queues}
    agents = {agent.id: AgentSeat(agent.extension, agent.pin) for agent in config.agents}
    return AcdSetup(core, queues, agents).validate()
