"""The box's ports and calls as AMI channels, and the call events a CRM reads.

A *channel* is one port taking part in one call: it exists from the tick the port is given
a call (a phone that finished dialling, a phone rung, a line rung by the exchange or seized
for an outside call) until the port leaves that call. Its name is stable and documented
(docs/manager.md): ``FXS/<port>-<sequence>`` for a phone, ``FXO/<port>-<sequence>`` for an
exchange line, the sequence being 8 hex digits counted from 1 at each start (Asterisk's
``SIP/201-0000000a`` pattern). ``Linkedid`` is the call's uniqueid, the one in its call
record; the channel of the port the call came from has that same ``Uniqueid``, the other
channels ``<uniqueid>-<port>``.

:class:`ChannelObserver` is an attached service of call control
(``firmware/engine/services.py``): on every tick, on the media loop's thread, it compares
each port's call and leg state with what it saw last and publishes the differences as
Newchannel, Newstate, DialBegin, DialEnd and Hangup events. It only reads call control's
public lookups (``call_at``, ``state``, ``uniqueid``, ``extension_on``). It walks the ports
only on a tick where call control's ``changes`` counter moved: a steady tick costs one comparison, whatever the number of ports. Events
are made only while a session listens.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from drivers.audio import TICK_MS
from firmware.engine.calls import Call, Leg
from firmware.engine.control import CallControlApi
from firmware.engine.services import AttachedService
from firmware.manager.events import CALL, CDR, Event, EventHub, event

TICK_S = TICK_MS / 1000.0

# Asterisk's channel states (include/asterisk/channelstate.h) and their descriptions.
STATE_DESC = {0: "Down", 2: "OffHook", 3: "Dialing", 4: "Ring", 5: "Ringing", 6: "Up", 7: "Busy"}
LEG_STATE = {
    Leg.IDLE: 0, Leg.OUT_OF_SERVICE: 0, Leg.DIALTONE: 2, Leg.SEIZING: 2, Leg.DIALING: 3, Leg.DIALING_OUT: 3,
    Leg.RINGBACK: 4,  # this side hears ringback: the far end rings
    Leg.RINGING: 5, Leg.INCOMING: 5,  # this phone (or the box's line) is rung
    Leg.CONNECTED: 6, Leg.FAILED: 7,
}

# The box's hangup causes as ITU-T Q.850 cause values (what AMI's Hangup ``Cause`` carries),
# with Asterisk's text for each (``Cause-txt``).
Q850_TEXT = {0: "Unknown", 1: "Unallocated (unassigned) number", 16: "Normal Clearing", 17: "User busy",
             19: "User alerting, no answer", 21: "Call Rejected", 27: "Destination out of order",
             34: "Circuit/channel congestion", 41: "Temporary failure"}
CAUSES = {
    "normal_clearing": 16, "caller_abandoned": 16, "route_hangup": 16, "silence_timeout": 16,
    "conference_drop": 16, "consultation_cancelled": 16, "manager_hangup": 16, "manager_redirect": 16, "cut_short": 16,
    "polarity_reversal": 16, "loop_current_drop": 16, "busy_tone": 16, "congestion_tone": 16,  # line released
    "attended_transfer": 16, "blind_transfer": 16, "voicemail": 16, "queue_callback": 16,
    "user_busy": 17, "no_answer": 19, "recall_no_answer": 19, "callback_not_answered": 19,
    "originate_no_answer": 19, "call_rejected": 21, "destination_refused": 21, "transfer_refused": 21,
    "feature_unavailable": 21, "no_such_number": 1, "destination_unavailable": 27, "out_of_service": 27,
    "no_circuit_available": 34, "internal_error": 41,
}


def q850(cause: str) -> int:
    return CAUSES.get(cause, 0)


@dataclass(eq=False)  # a channel is itself: compared by identity
class Channel:
    name: str
    port: int
    call: Call
    uniqueid: str
    linkedid: str
    state: int
    start_tick: int
    dialled_from: Channel | None = None  # the caller's channel while this one is being dialled
    answered: bool = False
    bridged: bool = False  # hears another channel of its call (the mixer's bridge)
    held: bool = False  # put on hold by a phone's flash (Hold sent, Unhold not yet)

    def fields(self, cc: CallControlApi, prefix: str = "") -> list[tuple[str, object]]:
        """Asterisk's channel snapshot fields (with ``Dest`` before each for the dialled side)."""
        number, name = _caller_of(self, cc)
        connected_number, connected_name = _connected_of(self, cc)
        values = [
            ("Channel", self.name), ("ChannelState", self.state), ("ChannelStateDesc", STATE_DESC[self.state]),
            ("CallerIDNum", number or "<unknown>"), ("CallerIDName", name or "<unknown>"),
            ("ConnectedLineNum", connected_number or "<unknown>"),
            ("ConnectedLineName", connected_name or "<unknown>"),
            ("Language", cc.config.effective_language()), ("AccountCode", ""),
            ("Context", "from-internal" if self.name.startswith("FXS") else "from-line"),
            ("Exten", self.call.dialled or self.call.destination or "s"), ("Priority", 1),
            ("Uniqueid", self.uniqueid), ("Linkedid", self.linkedid),
        ]
        return [(prefix + key, value) for key, value in values]


def _extension_party(cc: CallControlApi, port: int) -> tuple[str, str]:
    extension = cc.config.extension_on_port(port)
    return (extension.number, extension.name) if extension is not None else ("", "")


def _caller_of(channel: Channel, cc: CallControlApi) -> tuple[str, str]:
    """Who this channel is: a phone is its extension; a line is the outside party."""
    if channel.name.startswith("FXS"):
        return _extension_party(cc, channel.port)
    call = channel.call
    if channel.port == call.origin:
        return call.caller_number, call.caller_name
    return call.destination, ""


def _connected_of(channel: Channel, cc: CallControlApi) -> tuple[str, str]:
    """The other party of this channel's call, as this channel sees it."""
    call = channel.call
    if channel.port != call.origin:
        if cc.is_fxs(call.origin):
            return _extension_party(cc, call.origin)
        return call.caller_number, call.caller_name
    if call.peer is not None and cc.is_fxs(call.peer):
        return _extension_party(cc, call.peer)
    return call.destination, ""


class ChannelObserver(AttachedService):
    """Follows the ports every tick and publishes the channel events (see module docstring)."""

    def __init__(self, control: CallControlApi, ports: int, hub: EventHub,
                 on_hangup: Callable[[Channel], None] | None = None,
                 after: Callable[[], None] | None = None) -> None:
        self.cc = control
        self.after = after
        self.ports = ports
        self.hub = hub
        self.on_hangup = on_hangup
        self.channels: dict[int, Channel] = {}  # port -> its channel now
        self._sequence = 0
        self._seen_changes = -1  # call control's change counter at the last walk of the ports
        self._names: dict[int, dict[int, str]] = {}  # call id -> port -> channel name (for its Cdr event)
        self._ended_calls: list[Call] = []

    # -------------------------------------------------------------- attached service
    def on_tick(self, tick: int) -> None:
        """One pass: new channels, state changes, the channels that left their call, then
        ``after`` (the ACD's events kept for this pass: an agent called on the phone just rung,
        a call completed after its hang-up)."""
        cc = self.cc
        # Nothing a channel follows (a port's call or leg state, a call's end) happens without
        # call control's change counter moving, except the mixer's bridges (checked while a
        # client listens): a tick that moved nothing costs one comparison, not a walk of the ports.
        changes = cc.changes
        if changes != self._seen_changes:
            self._seen_changes = changes
            self._follow_ports(tick)
        elif self.hub.listening and self.channels:
            self._bridges([])
        if self.after is not None:
            self.after()
        for call in self._ended_calls:
            self._cdr(call)
        self._ended_calls.clear()

    def _follow_ports(self, tick: int) -> None:
        cc = self.cc
        now: dict[int, tuple[Call | None, Leg]] = {port: (cc.call_at(port), cc.state(port))
                                                   for port in range(self.ports)}
        gone = [channel for port, channel in self.channels.items()
                if now[port][0] is not channel.call or now[port][1] is Leg.IDLE or channel.call.end_tick is not None]
        replaced = [channel for channel in gone if now[channel.port][0] is not None
                    and now[channel.port][0] is not channel.call and now[channel.port][1] is not Leg.IDLE]
        self._hang_up_all(replaced)  # a port already in another call: its old channel ends first
        fresh = [port for port, (call, leg) in now.items()
                 if call is not None and leg is not Leg.IDLE and call.end_tick is None and port not in self.channels]
        for port in sorted(fresh, key=lambda p: p != now[p][0].origin):  # the caller's channel first
            self._open(port, now[port][0], now[port][1], tick)
        for port, channel in self.channels.items():
            if channel in gone:
                continue
            state = LEG_STATE[now[port][1]]
            if state != channel.state:
                channel.state = state
                self._publish(lambda ch=channel: event("Newstate", CALL, ch.fields(cc)))
                if state == 6 and channel.dialled_from is not None and not channel.answered:
                    channel.answered = True
                    self._dial_end(channel, "ANSWER")
        self._bridges(gone)
        self._hang_up_all([channel for channel in gone if channel not in replaced])

    def _hang_up_all(self, channels: list[Channel]) -> None:
        # the dialled channels first: their DialEnd comes before the caller's Hangup
        for channel in sorted(channels, key=lambda ch: ch.port == ch.call.origin):
            self._hang_up(channel)

    # -------------------------------------------------------------- the events
    def _publish(self, make: Callable[[], Event]) -> None:
        if self.hub.listening:
            self.hub.publish(make())

    def _open(self, port: int, call: Call, leg: Leg, tick: int) -> None:
        self._sequence += 1
        kind = "FXS" if self.cc.is_fxs(port) else "FXO"
        uniqueid = self.cc.uniqueid(call)
        channel = Channel(name=f"{kind}/{port}-{self._sequence:08x}", port=port, call=call,
                          uniqueid=uniqueid if port == call.origin else f"{uniqueid}-{port}",
                          linkedid=uniqueid, state=LEG_STATE[leg], start_tick=tick)
        self.channels[port] = channel
        self._names.setdefault(call.call_id, {})[port] = channel.name
        self._publish(lambda: event("Newchannel", CALL, channel.fields(self.cc)))
        caller = self.channels.get(call.origin)
        if port != call.origin and caller is not None and caller.call is call:
            channel.dialled_from = caller
            channel.answered = channel.state == 6
            self._publish(lambda: event("DialBegin", CALL, [*caller.fields(self.cc), *channel.fields(self.cc, "Dest"),
                                                             ("DialString", call.destination or call.dialled)]))
            if channel.answered:
                self._dial_end(channel, "ANSWER")

    def _dial_end(self, channel: Channel, status: str) -> None:
        caller = channel.dialled_from
        self._publish(lambda: event("DialEnd", CALL, [*caller.fields(self.cc), *channel.fields(self.cc, "Dest"),
                                                       ("DialStatus", status)]))

    def _bridges(self, gone: list[Channel]) -> None:
        """BridgeEnter/BridgeLeave: a channel is in its call's bridge while the mixer lets it hear
        another channel of the same call (a queue caller during the agent's whisper is not)."""
        if not self.hub.listening or not any(channel.bridged for channel in self.channels.values()) \
                and len(self.channels) < 2:
            return
        hearing: set[int] = set()
        for a, b in self.cc.bridged_pairs():
            first, second = self.channels.get(a), self.channels.get(b)
            if first is not None and second is not None and first.call is second.call:
                hearing.update((a, b))
        for port, channel in self.channels.items():
            if channel in gone:
                continue
            if (port in hearing) != channel.bridged:
                channel.bridged = port in hearing
                self._bridge_event(channel, "BridgeEnter" if channel.bridged else "BridgeLeave")

    def _bridge_event(self, channel: Channel, name: str) -> None:
        members = sum(1 for other in self.channels.values() if other.call is channel.call and other.bridged)
        self._publish(lambda: event(name, CALL, [
            ("BridgeUniqueid", f"{channel.linkedid}-bridge"), ("BridgeType", "basic"),
            ("BridgeTechnology", "simple_bridge"), ("BridgeCreator", "<unknown>"), ("BridgeName", "<unknown>"),
            ("BridgeNumChannels", members), ("BridgeVideoSourceMode", "none"), *channel.fields(self.cc)]))

    def _cdr(self, call: Call) -> None:
        """The call's record as AMI's Cdr event (cdr_manager's fields), when its channels are gone."""
        names = self._names.pop(call.call_id, {})
        if not self.hub.listening:
            return
        record = self.cc.record(call)
        stamp = "%Y-%m-%d %H:%M:%S"

        def when(epoch: float | None) -> str:
            return "" if epoch is None else dt.datetime.fromtimestamp(epoch, dt.UTC).strftime(stamp)

        caller = f'"{record.caller_name}" <{record.caller_number}>' if record.caller_name else record.caller_number
        self.hub.publish(event("Cdr", CDR, [
            ("AccountCode", record.accountcode), ("Source", record.caller_number or record.src_extension),
            ("Destination", record.dst), ("DestinationContext", record.context), ("CallerID", caller),
            ("Channel", names.get(call.origin, "")),
            ("DestinationChannel", names.get(call.peer, "") if call.peer is not None else ""),
            ("LastApplication", record.lastapp), ("LastData", record.lastdata),
            ("StartTime", when(record.start)), ("AnswerTime", when(record.answer)), ("EndTime", when(record.end)),
            ("Duration", record.duration), ("BillableSeconds", record.billsec),
            ("Disposition", str(record.disposition)), ("AMAFlags", str(record.amaflags)),
            ("UniqueID", record.uniqueid), ("UserField", record.userfield)]))

    def _hang_up(self, channel: Channel) -> None:
        del self.channels[channel.port]
        call = channel.call
        if channel.bridged:
            channel.bridged = False
            self._bridge_event(channel, "BridgeLeave")
        if call.end_tick is not None and call.call_id in self._names and call not in self._ended_calls:
            self._ended_calls.append(call)
        if channel.dialled_from is not None and not channel.answered:
            status = ("BUSY" if call.hangup_cause == "user_busy" else
                      "CANCEL" if call.end_tick is not None or call.peer not in (None, channel.port) else "NOANSWER")
            self._dial_end(channel, status)
        cause = q850(call.hangup_cause) if call.end_tick is not None else 16
        channel.state = 0
        self._publish(lambda: event("Hangup", CALL, [*channel.fields(self.cc), ("Cause", cause),
                                                      ("Cause-txt", Q850_TEXT.get(cause, "Unknown"))]))
        if self.on_hangup is not None:
            self.on_hangup(channel)

    # -------------------------------------------------------------- lookups (loop thread)
    def channel_of(self, port: int) -> Channel | None:
        """The channel of ``port``'s call now. A port given its call earlier in this tick (before
        this observer's pass) gets its channel, and its Newchannel, at once: an event about it
        made by a service in the same tick (Newexten, VarSet, Hold) comes after its Newchannel."""
        call = self.cc.call_at(port)
        channel = self.channels.get(port)
        if call is not None and (channel is None or channel.call is not call):
            self._follow_ports(self.cc.tick)
            channel = self.channels.get(port)
        return channel if channel is not None and channel.call is call else None

    def by_name(self, name: str) -> Channel | None:
        return next((channel for channel in self.channels.values() if channel.name == name), None)

    def by_uniqueid(self, uniqueid: str) -> Channel | None:
        return next((channel for channel in self.channels.values() if channel.uniqueid == uniqueid), None)

    def call_count(self) -> int:
        """Calls that have a channel now."""
        return len({channel.call.call_id for channel in self.channels.values()})

    def snapshot(self, tick: int) -> list[dict[str, object]]:
        """Every channel now, as CoreShowChannels and Status list them (plain data)."""
        rows = []
        for channel in sorted(self.channels.values(), key=lambda ch: ch.name):
            seconds = int((tick - channel.start_tick) * TICK_S)
            bridged = next((other.name for other in self.channels.values()
                            if other is not channel and other.call is channel.call and other.state == 6
                            and channel.state == 6), "")
            rows.append({"fields": channel.fields(self.cc), "seconds": seconds, "bridged": bridged,
                         "application": "Dial" if channel.port == channel.call.origin else "AppDial"})
        return rows
