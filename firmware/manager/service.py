"""The manager interface in the running box: observers attached to the engine, the server
started, stopped or moved as the configuration says (applied live).

The composition root makes one :class:`ManagerService` per engine (``linebox run``, tests):
the channel observer and the click-to-call originator are attached to call control at
once (they cost one comparison per port per tick, and make events only while a client
listens); the queue bridge follows the ACD when there is one (:meth:`attach_acd`). The
server itself runs only while ``manager.enabled`` is true; a stored configuration that
changes the ``manager`` section stops the old server (its clients are disconnected) and
starts the new one, on the storing thread, never on the media loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drivers.logs import EventLogger
from firmware.accounts import AccountStore
from firmware.acdengine.service import QueueService
from firmware.config.model import Config, ManagerSettings
from firmware.console.gateway import EngineGateway
from firmware.engine.control import CallControlApi
from firmware.ivr.service import IvrService
from firmware.manager import ManagerError
from firmware.manager.actions import Actions, AddressLockout, EngineSide
from firmware.manager.channels import ChannelObserver
from firmware.manager.dialplan import CallSteps
from firmware.manager.events import EventHub
from firmware.manager.originate import Originator
from firmware.manager.queues import QueueBridge
from firmware.manager.server import ManagerServer


class ManagerService:
    def __init__(self, control: CallControlApi, ports: int, submit: Callable[[Callable[[], None]], None],
                 accounts: AccountStore, wall: Callable[[], float], monotonic: Callable[[], float],
                 log: EventLogger | None = None, show: Callable[[str], list[str]] | None = None) -> None:
        self.log = log or EventLogger("manager")
        self.hub = EventHub()
        self.channels = ChannelObserver(control, ports, self.hub)
        self.queues = QueueBridge(self.channels)
        self.channels.on_hangup = self.queues.remember
        self.channels.after = self.queues.flush
        self.steps = CallSteps(self.channels)
        self.queues.steps = self.steps
        self.originator = Originator(control, self.hub)
        control.attach(self.originator)
        control.attach(self.channels)  # after every service: it sees the tick's changes
        self.accounts = accounts
        self.monotonic = monotonic
        gateway = EngineGateway(submit, log=self.log)
        engine = EngineSide(call=gateway.call, channels=self.channels, queues=self.queues,
                            originator=self.originator, started=wall(), show=show)
        self.actions = Actions(engine, accounts, wall, AddressLockout(), self.log)
        self.settings: ManagerSettings | None = None
        self.server: ManagerServer | None = None

    def attach_acd(self, service: QueueService) -> None:
        self.queues.attach(service)

    def attach_ivr(self, ivr: IvrService) -> None:
        """Newexten and VarSet for calls in the IVR's flows (its public hook, firmware/ivr/watch.py)."""
        ivr.watch(self.steps)

    def hold_changed(self, port: int, held: bool) -> None:
        """A phone's flash put the party on ``port`` on hold or took it back: Hold/Unhold.
        The composition root adds this to the switch's ``FlashFeatures.hold_listeners``."""
        self.steps.hold_changed(port, held)

    def apply(self, settings: ManagerSettings) -> None:
        """Starts, stops or restarts the server for ``settings`` (nothing if they did not change).
        A server that cannot listen is logged and left off; the engine goes on."""
        if settings == self.settings:
            return
        self.settings = settings
        if self.server is not None:
            self.server.close()
            self.server = None
        if not settings.enabled:
            self.log.info("manager_off")
            return
        server = ManagerServer(settings.listen, self.actions, self.hub, self.monotonic,
                               max_clients=settings.max_clients, actions_per_second=settings.actions_per_second,
                               queue_events=settings.client_queue_events, log=self.log)
        try:
            self.server = server.start()
        except ManagerError as exc:
            self.log.error("manager_not_started", error=str(exc))

    def config_stored(self, config: Config, *_: Any) -> None:
        self.apply(config.manager)

    @property
    def port(self) -> int | None:
        return self.server.port if self.server is not None else None

    def close(self) -> None:
        """Stops the server (clients disconnected) and closes the account store it was given."""
        if self.server is not None:
            self.server.close()
            self.server = None
        self.accounts.close()
