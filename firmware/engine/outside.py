"""Outside calls: the box places a call on one of its exchange lines.

Moved out of ``switch.py``, which owns one :class:`OutsideCalls` (``Switch.outside``) and
hands it every call that leaves the box:

- an extension dials an outside number (``call`` with the extension: the toll guard with
  its class and the after-hours limits, ``firmware/tollguard.py``);
- a forwarding to an outside number (``features.py``: ``call`` with the forwarding extension);
- a destination of kind outside, a route's or a queue's overflow (``send``: the rules of
  ``firmware/config/outside.py``, and trunk to trunk for a caller on a line);
- a call service's call whose phone has answered, an ACD callback (``dial_for_service``).

Then, for each: the first free line of the trunk group by the dial plan's line selection
(``lines.py``), seize it, wait for the exchange's dial tone (``dial_digits`` when the tone
detector hears it, or blind after ``DIAL_TONE_WAIT_S``), dial in DTMF or pulses as the line
is configured, and bridge the caller to the line once the digits are out
(``digits_sent``). The switch's timers ``dial_tone_wait`` and ``dialled_out`` call back here.

A line the box has just released is not free for ``LINE_GUARD_S`` (``line_released``):
the exchange needs about a second on hook to clear the old call.
"""

from __future__ import annotations

from collections.abc import Mapping

from drivers.logs import EventLogger
from dsp.dtmfgen import generate_dtmf
from firmware.cdr import Disposition
from firmware.config.model import Dialling, Extension
from firmware.config.outside import may_send_outside
from firmware.engine.calls import Call, Direction, Leg
from firmware.engine.control import CallControl, ticks
from firmware.engine.lines import select_line
from firmware.schedule import is_open
from firmware.tollguard import may_bridge_trunks, may_dial

DIAL_TONE_WAIT_S = 3  # blind-dial an outside number if the exchange gives no dial tone
LINE_GUARD_S = 1.5  # after releasing a line, wait this long before seizing it again (the exchange
# needs about a second on hook to clear the call; sooner it is a hook flash)
DTMF_DIAL_ON_MS = 80.0
DTMF_DIAL_OFF_MS = 80.0
PULSE_S = 0.1  # loop-disconnect dialling at 10 pps (60/40 ms break/make, drivers/timing.py); "0" is ten pulses
INTERDIGIT_S = 0.8  # an upper bound of the card's pause between pulse digits (0.7-0.8 s, drivers/timing.py)


class OutsideCalls:
    """Seizes a line, dials and bridges; keeps the round-robin and line-guard bookkeeping."""

    def __init__(self, control: CallControl, log: EventLogger) -> None:
        self.cc = control
        self.log = log
        self._last_line: Mapping[str, int] = {}  # trunk group -> the line it used last (round robin)
        self._released_tick: dict[int, int] = {}  # FXO port -> tick the box last released it

    def after_hours(self) -> bool:
        """Whether the security settings' after-hours schedule is closed now (toll guard limits)."""
        config = self.cc.config
        name = config.security.after_hours_schedule
        schedule = config.schedule(name) if name else None
        return schedule is not None and not is_open(schedule, self.cc.now())

    def call(self, call: Call, extension: Extension | None, digits: str) -> None:
        """Toll guard, line, seize, dial, bridge; ``extension`` None: a destination, no class applies."""
        cc = self.cc
        if extension is None:
            decision = may_send_outside(cc.config, digits)
        else:
            decision = may_dial(cc.config, extension, digits, self.after_hours())
        call.explanation = (decision.reason,)
        self.log.info("toll_guard", call=call.call_id, allowed=decision.allowed, reason=decision.reason)
        # (scenario fix) a refused call's record names the number tried: a toll-fraud audit needs it.
        call.destination = decision.number or digits
        if not decision.allowed:
            cc.caller_fails(call, "congestion", "call_rejected", Disposition.FAILED)
            return
        call.destination = decision.number
        line = self._free_line(extension)
        if line is None:
            cc.caller_fails(call, "congestion", "no_circuit_available", Disposition.FAILED)
            return
        call.peer = line
        cc.set_state(line, Leg.SEIZING, call=call)
        cc.set_state(call.origin, Leg.RINGBACK)
        cc.seize(line)
        cc.after(DIAL_TONE_WAIT_S, line, "dial_tone_wait")
        self.log.info("seize", call=call.call_id, line=line, number=decision.number)

    def send(self, call: Call, digits: str) -> None:
        """Sends ``call`` to an outside number (a destination of kind outside; ``digits`` with the
        outside prefix) on a line of ``dialplan.trunk_group``, by the rules of
        :mod:`firmware.config.outside`, asked again now: the snapshot may have changed since."""
        cc = self.cc
        toll = may_send_outside(cc.config, digits)
        from_phone = cc.is_fxs(call.origin)  # e.g. an extension that dialled a queue
        bridge = toll if from_phone else may_bridge_trunks(cc.config)  # a line sent out on another
        refusal = toll if bridge.allowed else bridge
        call.destination = toll.number or digits
        if not refusal.allowed:
            self.log.warning("destination_refused", call=call.call_id, destination=f"outside {digits}",
                             reason=refusal.reason)
            cc.caller_fails(call, "congestion", "destination_refused", Disposition.FAILED)
            return
        if from_phone:
            call.direction = Direction.OUTBOUND
        cc.stop_audio(call.origin)  # e.g. a queue's music
        cc.isolate(call.origin)
        cc.play_tone(call.origin, cc.plan.ringback)  # until the line is bridged
        self.call(call, None, digits)

    def dial_for_service(self, call: Call, digits: str) -> None:
        """The answered phone of a service's call dials ``digits`` (outside prefix included) on a
        line, through the toll guard with the phone's extension class."""
        call.peer = None
        self.cc.clear_answer(call)
        self.cc.isolate(call.origin)
        self.call(call, self.cc.extension_on(call.origin), digits)

    def place(self, line: int, digits: str) -> Call | None:
        """A call service's own call on ``line`` (an outbound campaign): seize, dial tone, dial
        ``digits`` as given (no prefix, no toll guard: the service checked its number), then the
        line is connected to the box and the service listens for the outcome; None if the line
        is not free now."""
        cc = self.cc
        guard = ticks(LINE_GUARD_S)
        if (cc.is_fxs(line) or cc.state(line) is not Leg.IDLE
                or cc.tick - self._released_tick.get(line, -guard) < guard):
            return None
        call = cc.new_call(line, Direction.OUTBOUND, "", "")
        call.destination = digits
        call.peer = line
        cc.set_state(line, Leg.SEIZING, call=call)
        cc.seize(line)
        cc.after(DIAL_TONE_WAIT_S, line, "dial_tone_wait")
        self.log.info("seize", call=call.call_id, line=line, number=digits, service=True)
        return call

    def line_released(self, port: int) -> None:
        """The box released the line on ``port``: it is not free again for ``LINE_GUARD_S``."""
        self._released_tick[port] = self.cc.tick

    def _free_line(self, extension: Extension | None) -> int | None:
        """A line of the extension's trunk group, by the dial plan's line selection."""
        cc = self.cc
        ports = [line.port for line in cc.config.lines]
        # (scenario fix) a line released less than LINE_GUARD_S ago is not free: re-seized sooner,
        # the exchange takes it for a hook flash of the old call (no dial tone, digits lost).
        guard = ticks(LINE_GUARD_S)
        busy = frozenset(port for port in ports if cc.state(port) is not Leg.IDLE
                         or cc.tick - self._released_tick.get(port, -guard) < guard)
        down = frozenset(port for port in ports if cc.state(port) is Leg.OUT_OF_SERVICE)
        choice = select_line(cc.config, extension, busy, self._last_line, out_of_service=down)
        self.log.info("line_selection", group=choice.group, line=choice.port, why=choice.explanation)
        if choice.line is None:
            return None
        self._last_line = choice.last_used
        return choice.line.port

    def dial_digits(self, line: int) -> None:
        """The seized line gave dial tone (or none came in time): dial the call's number."""
        cc = self.cc
        call = cc.call_at(line)
        cc.cancel(line, "dial_tone_wait")
        cc.set_state(line, Leg.DIALING_OUT)
        config = cc.config.line(line)
        if config is not None and config.dialling is Dialling.PULSE:
            cc.pulse_dial(line, call.destination)
            seconds = sum((int(d) or 10) * PULSE_S + INTERDIGIT_S
                          for d in call.destination if d.isdigit())
        else:
            samples = generate_dtmf(call.destination, on_ms=DTMF_DIAL_ON_MS, off_ms=DTMF_DIAL_OFF_MS)
            cc.play(line, samples)
            seconds = len(samples) / 8000.0
        cc.after(seconds, line, "dialled_out")

    def digits_sent(self, line: int) -> None:
        """The number is out: bridge the caller to the line (answered now, unless the line
        signals the far end's answer by polarity reversal)."""
        cc = self.cc
        call = cc.call_at(line)
        cc.stop_audio(line)
        cc.hear_nothing(line)
        if call.origin == line:  # a service's own call (place): the service decides the answer
            cc.set_state(line, Leg.CONNECTED)
            cc.heard_from_line(line)
            self.log.info("outside_dialled", call=call.call_id, line=line, number=call.destination)
            return
        for port in (call.origin, line):
            cc.set_state(port, Leg.CONNECTED)
            cc.stop_audio(port)
        cc.hear_nothing(call.origin)
        cc.bridge(call.origin, line)
        cc.heard_from_line(line)
        config = cc.config.line(line)
        if config is None or not config.answer_by_polarity_reversal:
            cc.mark_answered(call)  # no answer supervision: count from the end of dialling
        self.log.info("outside_connected", call=call.call_id, line=line, number=call.destination)
