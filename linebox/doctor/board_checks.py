"""The doctor's checks of the line card and its ports, on a :class:`~linebox.doctor.rig.Rig`.

- ``board_link``: the link comes up (handshake, protocol version, port map) within
  :data:`LINK_TICKS` ticks; the detail names the card, firmware and protocol;
- ``port_fxs<N>`` / ``port_fxo<N>``: what the card reports of each port (docs/protocol.md,
  ``port_status`` snapshot and the events after it): in service or not, an FXS phone's hook,
  an FXO line's voltage class and volts (``fxo_line``). An FXO line with no voltage (< 3 V:
  dead or unplugged) fails, and so does one whose voltage the card has not reported within
  :data:`LINE_TICKS`. The protocol reports no loop current as a value (only its absence,
  ``fxo_loop_drop``) and no FXS line voltage: the detail says so;
- ``audio_fxs<N>_out`` / ``_in``, each FXS port both ways: the box sends a
  :data:`TEST_TONE_HZ` tone at :data:`TEST_LEVEL_DBM0` and the phone (off hook) must hear it,
  then the phone sends it and the box must receive it; pass when the received level is within
  :data:`LEVEL_TOLERANCE_DB` and at least :data:`TONE_PURITY` of the power is at the tone;
- ``dial_tone_fxo<N>``, each exchange line: seized, the line's dial tone (the zone's: US
  350 + 440 Hz, ANSI T1.401) must reach the box.
"""

from __future__ import annotations

import numpy as np

from drivers.audio import TICK_SAMPLES
from drivers.link import IN_SERVICE
from drivers.ports import LineVoltage
from drivers.protocol import LineState
from dsp import SAMPLE_RATE
from dsp.levels import dbm0_to_peak, signal_dbm0
from firmware.storage.doctor_report import Check
from linebox.doctor.rig import Rig

LINK_TICKS = 500  # 10 s of audio: the link's handshake takes a few ticks; its retries take seconds
LINE_TICKS = 100  # 2 s for the card to measure and report every FXO line's voltage class
TEST_TONE_HZ = 1004.0  # the usual test-tone frequency: not a submultiple of 8000 Hz, so every PCM phase is met
TEST_LEVEL_DBM0 = -10.0
TONE_TICKS = 25  # 500 ms; the first 200 ms are left out (the path's delay and start-up)
SETTLE_SAMPLES = 1600
LEVEL_TOLERANCE_DB = 1.0  # this box's limit for a digital loop through the codec path
TONE_PURITY = 0.9  # share of the received power at the test frequency
DIAL_TONE_HZ = {"us": (350.0, 440.0)}  # ANSI T1.401 precise dial tone; other zones: energy only
DIAL_TONE_TICKS = 75  # 1.5 s after seizing: the exchange's dial tone is steady by then
MIN_DIAL_TONE_DBM0 = -30.0
NOT_REPORTED = "loop current: not reported by the card protocol (only its absence, fxo_loop_drop)"


def _bin_share(samples: np.ndarray, hz: float) -> float:
    """Share of the signal's power at ``hz`` (a single-bin DFT on a window of whole cycles, or nearly)."""
    n = np.arange(samples.size)
    phasor = np.exp(-2j * np.pi * hz * n / SAMPLE_RATE)
    at = 2.0 * abs(np.dot(samples, phasor)) ** 2 / samples.size
    total = float(np.dot(samples, samples))
    return at / total if total > 0 else 0.0


def tone_check(name: str, received: np.ndarray) -> Check:
    samples = received[SETTLE_SAMPLES:].astype(np.float64)
    level = float(signal_dbm0(samples))
    share = _bin_share(samples, TEST_TONE_HZ)
    ok = bool(abs(level - TEST_LEVEL_DBM0) <= LEVEL_TOLERANCE_DB and share >= TONE_PURITY)
    return Check(name, ok, f"{level:.2f} dBm0 (sent {TEST_LEVEL_DBM0:.0f}), {100 * share:.0f} % at "
                           f"{TEST_TONE_HZ:.0f} Hz")


def check_link(rig: Rig, ticks: int = LINK_TICKS) -> Check:
    for tick in range(ticks):
        if rig.card.link.state in IN_SERVICE and rig.card.link.identity is not None:
            identity = rig.card.link.identity
            return Check("board_link", True, f"up after {tick} ticks: {identity.model} firmware "
                         f"{'.'.join(map(str, identity.firmware))} protocol {'.'.join(map(str, identity.protocol))}, "
                         f"ports {','.join(identity.port_types)}")
        rig.step()
    link = rig.card.link
    why = f" ({link.refusal})" if link.refusal else ""
    return Check("board_link", False, f"link {link.state.value}{why} after {ticks} ticks: "
                                      "is the line card connected and powered?")


def check_ports(rig: Rig) -> list[Check]:
    """One check per port from the card's reports (see the module)."""
    fxo = [port for port, kind in enumerate(rig.kinds) if kind == "fxo"]
    for _ in range(LINE_TICKS):
        if all(port in rig.line_voltage for port in fxo):
            break
        rig.step()
    checks = []
    for port, kind in enumerate(rig.kinds):
        name = f"port_{kind}{port}"
        if not rig.card.in_service(port):
            why = rig.out_of_service.get(port, "the card has not put it in service")
            checks.append(Check(name, False, f"out of service: {why}"))
        elif kind == "fxs":
            hook = "off hook" if rig.card.off_hook(port) else "on hook"
            checks.append(Check(name, True, f"in service, phone {hook}; line voltage and loop current: "
                                            "not reported by the card protocol for FXS ports"))
        else:
            checks.append(_fxo_port(name, rig.line_voltage.get(port)))
    return checks


def _fxo_port(name: str, report: LineVoltage | None) -> Check:
    if report is None:
        return Check(name, False, f"in service, but no line voltage reported within {LINE_TICKS * 20} ms; "
                                  + NOT_REPORTED)
    volts = f"{report.volts:.1f} V"
    if report.state == LineState.ABSENT:
        return Check(name, False, f"no line voltage ({volts}): the exchange line is dead or unplugged; "
                                  + NOT_REPORTED)
    what = "idle" if report.state == LineState.IDLE else "in use by a parallel phone"
    return Check(name, True, f"in service, line {what} at {volts}; {NOT_REPORTED}")


def check_fxs(rig: Rig, port: int) -> list[Check]:
    tone = dbm0_to_peak(TEST_LEVEL_DBM0) * np.sin(2 * np.pi * TEST_TONE_HZ * np.arange(TONE_TICKS * TICK_SAMPLES)
                                                  / SAMPLE_RATE)
    phone = rig.world.phone(port)
    phone.offhook()
    for index in range(TONE_TICKS):
        out = np.zeros((rig.board.ports, TICK_SAMPLES), np.int16)
        out[port] = np.round(tone[index * TICK_SAMPLES:(index + 1) * TICK_SAMPLES]).astype(np.int16)
        rig.step(out)
    to_phone = tone_check(f"audio_fxs{port}_out", rig.world.heard(port, last_ms=TONE_TICKS * 20))
    phone.say(np.concatenate([tone, tone]))  # longer than the window: the path's delay is not measured here
    received = np.concatenate([rig.step()[port] for _ in range(TONE_TICKS)])
    from_phone = tone_check(f"audio_fxs{port}_in", received)
    phone.stop_talking()
    phone.hangup()
    for _ in range(5):
        rig.step()
    return [to_phone, from_phone]


def check_fxo(rig: Rig, port: int) -> Check:
    rig.card.seize(port)
    received = np.concatenate([rig.step()[port] for _ in range(DIAL_TONE_TICKS)])[-TONE_TICKS * TICK_SAMPLES:]
    rig.card.release(port)
    for _ in range(5):
        rig.step()
    samples = received.astype(np.float64)
    level = float(signal_dbm0(samples)) if samples.any() else float("-inf")
    pair = DIAL_TONE_HZ.get(rig.zone)
    share = sum(_bin_share(samples, hz) for hz in pair) if pair else 1.0
    ok = bool(level >= MIN_DIAL_TONE_DBM0 and share >= TONE_PURITY)
    return Check(f"dial_tone_fxo{port}", ok, f"{level:.1f} dBm0, {100 * share:.0f} % at "
                 f"{'+'.join(f'{hz:.0f}' for hz in pair or ())} Hz" + ("" if ok else ": no dial tone on the line"))


def board_checks(rig: Rig, link_ticks: int = LINK_TICKS) -> list[Check]:
    """Link, then (with the link up) every port, every FXS audio path, every line's dial tone."""
    link = check_link(rig, link_ticks)
    if not link.ok:
        return [link]
    checks = [link, *check_ports(rig)]
    for port, kind in enumerate(rig.kinds):
        if kind == "fxs":
            checks += check_fxs(rig, port)
    checks += [check_fxo(rig, port) for port, kind in enumerate(rig.kinds) if kind == "fxo"]
    return checks
