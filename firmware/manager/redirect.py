"""AMI's ``Redirect``: send an answered caller's line somewhere else (a blind transfer).

A CRM or operator panel moves a caller — talking to an extension, in an IVR flow, waiting
in a queue — to another extension, ring group, queue, IVR flow or voicemail box. ``Exten``
names the target and ``Context`` its kind (:data:`CONTEXTS`; ``from-internal``, Asterisk's
usual context, is an extension or ring group number, as a phone would dial it).

On the engine it is a blind transfer of the line, as a phone's flash-and-hang-up makes one
(``firmware/engine/flash.py``): the line's call ends (record cause ``manager_redirect``; the
phone that was talking hears busy tone, the IVR ends its path, a queue caller leaves the
queue as an abandon, an agent's call completes), and the line goes on in a new call,
answered by the box, delivered to the target through the same routing as a route's
destination (``CallControl.deliver``). Only an exchange line's channel of an answered
inbound call can be redirected; phones are not moved (they hang up on their own).
"""

from __future__ import annotations

from firmware.config.model import Config, Destination, DestinationKind
from firmware.engine.calls import Direction, Leg
from firmware.engine.control import CallControlApi
from firmware.manager import ManagerError
from firmware.manager.channels import Channel

CONTEXTS = {
    "from-internal": DestinationKind.EXTENSION, "default": DestinationKind.EXTENSION,
    "extension": DestinationKind.EXTENSION, "ring_group": DestinationKind.RING_GROUP,
    "queue": DestinationKind.QUEUE, "ivr": DestinationKind.IVR, "voicemail": DestinationKind.VOICEMAIL,
}
CAUSE = "manager_redirect"


def target(config: Config, exten: str, context: str) -> Destination:
    """The destination ``Exten``/``Context`` name in ``config``; ManagerError naming what is wrong."""
    kind = CONTEXTS.get((context or "from-internal").strip().lower())
    if kind is None:
        raise ManagerError(f"Context {context!r}: expected one of {', '.join(CONTEXTS)}")
    exten = exten.strip()
    if not exten:
        raise ManagerError("Exten not specified")
    known = {
        DestinationKind.EXTENSION: lambda: config.extension(exten) is not None
        or any(group.number == exten for group in config.ring_groups),
        DestinationKind.RING_GROUP: lambda: any(exten in (group.name, group.number) for group in config.ring_groups),
        DestinationKind.QUEUE: lambda: any(queue.name == exten for queue in config.queues),
        DestinationKind.IVR: lambda: config.ivr_flow(exten) is not None,
        DestinationKind.VOICEMAIL: lambda: config.extension(exten) is not None,
    }[kind]
    if not known():
        raise ManagerError(f"Redirect: no {kind.value.replace('_', ' ')} {exten!r} in the configuration")
    return Destination(kind, exten)


def redirect(cc: CallControlApi, channel: Channel, destination: Destination) -> None:
    """On the loop's thread: the line of ``channel`` leaves its call for ``destination`` (module docstring)."""
    call, port = channel.call, channel.port
    if cc.is_fxs(port):
        raise ManagerError("Redirect: only an exchange line's channel (FXO/<port>-…) can be sent elsewhere")
    if call.end_tick is not None or cc.call_at(port) is not call:
        raise ManagerError("No such channel")
    if port != call.origin or call.direction is not Direction.INBOUND or cc.state(port) is not Leg.CONNECTED:
        raise ManagerError("Redirect: only the line of an answered inbound call can be sent elsewhere")
    moved = cc.new_call(port, Direction.INBOUND, call.caller_number, call.caller_name)  # the line is its now
    cc.end_service_call(call, CAUSE)
    cc.stop_audio(port)
    cc.isolate(port)
    cc.mark_answered(moved)  # the box answered the line already
    cc.deliver(moved, port, destination)
