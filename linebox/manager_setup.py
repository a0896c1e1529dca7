"""Puts the manager interface (firmware/manager) into a running appliance.

Called by ``linebox run`` (and tests) after the appliance is assembled and before its media
loop runs: the observers are attached to call control then, the queue bridge follows the
ACD (now, or when the first queue is configured), and the server follows the stored
configuration's ``manager`` section, now and at every change. The account store is the
box's database (``firmware/accounts``), the one ``linebox users`` writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from firmware.accounts import AccountStore
from firmware.console.commands import Console
from firmware.manager.service import ManagerService
from linebox.appliance import Appliance


def start_manager(app: Appliance, db_path: str | Path, wall: Callable[[], float] = time.time,
                  monotonic: Callable[[], float] = time.monotonic,
                  accounts: AccountStore | None = None, console: Console | None = None) -> ManagerService:
    """The manager service of ``app`` (its server running if the configuration enables it).
    ``console``: the technician's console, whose ``show`` commands AMI's ``Command`` may run.
    ``close()`` stops the server and closes the account store."""
    show = None if console is None else (lambda line: list(console.execute(line).lines))
    service = ManagerService(app.switch.control, app.audio.ports, app.loop.submit,
                             accounts or AccountStore(db_path), wall, monotonic, show=show)
    if app.acd is not None:
        service.attach_acd(app.acd)
    if app.ivr is not None:
        service.attach_ivr(app.ivr)
    app.switch.flash.hold_listeners.append(service.hold_changed)
    app.acd_started.append(service.attach_acd)
    app.store.subscribe(service.config_stored)
    service.apply(app.store.load().manager)
    return service
