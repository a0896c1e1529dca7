"""A call's steps through the box as AMI events: Newexten, VarSet, Hold and Unhold.

Asterisk reports a channel's way through its dialplan with ``Newexten`` (one per priority
run) and the variables set on it with ``VarSet``; CRMs follow a call through the IVR and
into a queue with them, and pop a record by a variable the caller keyed. linebox has no
dialplan: its steps are the IVR flow's nodes and the queue a call joins, so:

- an IVR node entered: ``Newexten`` with ``Context: ivr-<flow>``, ``Extension`` (and
  ``Exten``) the node's id, ``Application`` the node's type in Asterisk's nearest words
  (table :data:`APPLICATIONS`), ``AppData`` the node's type;
- a caller joining a queue: ``Newexten`` with ``Context: queue``, ``Extension`` the queue's
  name, ``Application: Queue`` (queues.py publishes it before ``QueueCallerJoin``);
- a variable set by the IVR (a ``collect`` node's digits, a ``set`` node, a ``lookup``'s
  contact fields): ``VarSet`` with ``Variable`` and ``Value`` (class ``dialplan``);
- a phone's flash putting its party on hold: ``Hold`` (``MusicClass: default``) on the held
  party's channel, ``Unhold`` when it is taken back or joins a conference (class ``call``).

:class:`CallSteps` hears the IVR through its public hook (``firmware/ivr/watch.py``) and the
flash features through ``FlashFeatures.hold_listeners``; all on the media loop's thread.
"""

from __future__ import annotations

from firmware.config.ivrmodel import IvrNode, IvrNodeType
from firmware.engine.calls import Call
from firmware.manager.channels import Channel, ChannelObserver
from firmware.manager.events import CALL, DIALPLAN, event

# IVR node type -> the Asterisk application that does the same step.
APPLICATIONS = {
    IvrNodeType.PLAY: "Playback", IvrNodeType.SAY: "SayNumber", IvrNodeType.MENU: "Background",
    IvrNodeType.COLLECT: "Read", IvrNodeType.SET: "Set", IvrNodeType.LOOKUP: "Set",
    IvrNodeType.TIME_CONDITION: "GotoIfTime", IvrNodeType.GOTO: "Goto",
}
MAX_VALUE_CHARS = 200  # a VarSet value is one AMI line (protocol.py bounds lines at 1024 bytes)


def at_step(fields: list[tuple[str, object]], context: str, exten: str, priority: int) -> list[tuple[str, object]]:
    """A channel's snapshot fields with its dialplan place replaced."""
    place = {"Context": context, "Exten": exten, "Priority": priority}
    return [(key, place.get(key, value)) for key, value in fields]


class CallSteps:
    """IVR watcher and hold listener publishing Newexten, VarSet, Hold and Unhold (module docstring)."""

    def __init__(self, channels: ChannelObserver) -> None:
        self.channels = channels
        self.hub = channels.hub
        self._priority: dict[int, int] = {}  # call id -> the last Newexten's priority

    def _next_priority(self, call: Call) -> int:
        if len(self._priority) > 1024:  # bounded: calls long gone
            self._priority = {k: v for k, v in self._priority.items() if k == call.call_id}
        self._priority[call.call_id] = self._priority.get(call.call_id, 0) + 1
        return self._priority[call.call_id]

    def _channel(self, port: int) -> Channel | None:
        return self.channels.channel_of(port) if self.hub.listening else None

    # ------------------------------------------------------------------ the IVR (firmware/ivr/watch.py)
    def ivr_node(self, call: Call, line_port: int, flow: str, node: IvrNode) -> None:
        channel = self._channel(line_port)
        if channel is None:
            return
        self.newexten(channel, f"ivr-{flow}", node.id, APPLICATIONS.get(node.type, "NoOp"), str(node.type))

    def ivr_variable(self, call: Call, line_port: int, name: str, value: str) -> None:
        channel = self._channel(line_port)
        if channel is None:
            return
        self.hub.publish(event("VarSet", DIALPLAN, [*channel.fields(self.channels.cc), ("Variable", name),
                                                    ("Value", value[:MAX_VALUE_CHARS])]))

    def newexten(self, channel: Channel, context: str, exten: str, application: str, data: str) -> None:
        fields = at_step(channel.fields(self.channels.cc), context, exten, self._next_priority(channel.call))
        self.hub.publish(event("Newexten", DIALPLAN, [*fields, ("Extension", exten), ("Application", application),
                                                      ("AppData", data)]))

    # ------------------------------------------------------------------ hold (FlashFeatures.hold_listeners)
    def hold_changed(self, port: int, held: bool) -> None:
        channel = self.channels.channels.get(port)
        if channel is None or channel.held == held:
            return  # no channel (nobody follows it yet), or no change (a reconnect after a conference)
        channel.held = held
        if not self.hub.listening:
            return
        extra = [("MusicClass", "default")] if held else []
        self.hub.publish(event("Hold" if held else "Unhold", CALL, [*channel.fields(self.channels.cc), *extra]))
