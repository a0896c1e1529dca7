"""Which detectors a tick needs, from the ports' states: computed when a state changes, not per tick.

Every detector costs a fixed part per call (numpy's overhead on a few ports is most of it)
plus a small part per port, so a detector that no port needs now is not run at all. What
each one is for, and therefore when it runs (``DetectorBank.set_needs``):

- not the echo canceller: it runs on every line that has one, idle or not. On an idle line
  it learns the line's background noise, which its double-talk detection needs from the first
  moment of a call; started cold at seizure, a line-to-line call with both far ends talking
  from the start never converged (``test_inbound_call_forwarded_outside_when_trunk_to_trunk_is_allowed``
  failed so). Its cost is the ``ec`` branch's (dsp/echo.py);
- call progress, as two detectors listening for less each: dial tone on a line waiting for it
  (``seizing``), busy and congestion on a line in a call with busy-tone disconnect supervision
  configured (``lines[].disconnect: busy_tone``): the switch acts on no other tone
  (``Switch._tone``);
- caller ID (FSK or DTMF): a line idle or ringing (``incoming``): caller ID arrives before
  the first ring (ETSI EN 300 659-1 / BT SIN 227) or between the first two (GR-30-CORE).
  Within that, the receiver runs only on ticks where one of those lines carries more than
  ``SILENCE_DBM0`` (-50 dBm0, ``detectors.py``) of audio: an idle line is silent nearly all
  the time, and the FSK receiver's squelch passes nothing below -42 dBm0 anyway;
- DTMF on the phones: a phone whose keys something takes (``Switch.on_digit`` and the
  services' ``on_digit``): dial tone and dialling (the switch's collector, an agent's login
  entry), ``failed`` (an agent keying a disposition after the call, ``firmware/desk/``), a
  call the box itself serves (voicemail's menu, an IVR, a queue: as for the lines below), and
  a port with a call-waiting offer (its acknowledgement digit, ``callwaiting.py``: the caller
  passed in ``digits_wanted``). A phone bridged to a line or another phone is not listened
  to: its keys go to the other party in the audio, and nothing in the box takes them;
- DTMF on the lines: a line in a call the box itself serves (a queue, voicemail, a service's
  prompt: the call has no other party), where the caller's keys reach the services
  (``AttachedService.on_digit``); a line bridged to a phone or another line is not listened to;
- the silence meter: a line in a call the box answered or placed (``ringback``, ``connected``)
  with the silence-timeout supervision configured (checked once connected; metered from
  ringback on, so a caller who waited in a queue is not taken for silent when answered).

A detector that stops and later starts again starts afresh (``DetectorBank``): what it had
half-heard belongs to a call that is over.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from firmware.config.model import Config, DisconnectMethod
from firmware.engine.calls import Leg, PortLeg

_AWAITING_CALLER_ID = frozenset({Leg.IDLE, Leg.INCOMING})
_PHONE_KEYS = frozenset({Leg.DIALTONE, Leg.DIALING, Leg.FAILED})  # states whose keys the switch or a service takes
_SERVED = frozenset({Leg.RINGBACK, Leg.CONNECTED})


@dataclass(frozen=True)
class DetectorNeeds:
    dial_tone: bool = True
    disconnect: bool = True
    caller_id: bool = True
    caller_id_lines: tuple[int, ...] | None = None  # the lines awaiting caller ID (None: every line)
    dtmf_phones: bool = True
    dtmf_lines: bool = True
    silence_lines: tuple[int, ...] = ()  # lines in a call with silence-timeout supervision


ALL = DetectorNeeds()  # every detector on every tick (an engine whose states are not followed)


def _served_by_the_box(leg: PortLeg) -> bool:
    call = leg.call
    if leg.leg not in _SERVED or call is None:
        return False
    other = call.peer if call.origin == leg.port else call.origin
    return other is None or other == leg.port


def detector_needs(legs: Sequence[PortLeg], config: Config, digits_wanted: Collection[int] = ()) -> DetectorNeeds:
    """What the present states of ``legs`` need (module docstring); ``digits_wanted``: phones
    whose keys are awaited whatever their state (a call-waiting offer's acknowledgement)."""
    dial_tone = disconnect = caller_id = dtmf_lines = False
    dtmf_phones = bool(digits_wanted)
    silence: list[int] = []
    awaiting: list[int] = []
    for leg in legs:
        state = leg.leg
        if leg.is_fxs:
            dtmf_phones = dtmf_phones or state in _PHONE_KEYS or _served_by_the_box(leg)
            continue
        if state in _AWAITING_CALLER_ID:
            caller_id = True
            awaiting.append(leg.port)
        dtmf_lines = dtmf_lines or _served_by_the_box(leg)
        if state is Leg.SEIZING:
            dial_tone = True
        elif state in _SERVED:
            line = config.line(leg.port)
            methods = line.disconnect if line is not None else ()
            disconnect = disconnect or (state is Leg.CONNECTED and DisconnectMethod.BUSY_TONE in methods)
            if DisconnectMethod.SILENCE_TIMEOUT in methods:
                silence.append(leg.port)
    return DetectorNeeds(dial_tone, disconnect, caller_id, tuple(awaiting), dtmf_phones, dtmf_lines, tuple(silence))
