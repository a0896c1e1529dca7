"""Per-country hook, ring and line timing: data, keyed by zone id, and its validation.

The line card measures (hook breaks, ring bursts, loop-current drops, in ms of its own
clock) and runs the timers that must fire without a further event (a break longer than the
flash maximum is a hang-up; no ring for ``ring_end_ms`` ends a ring train). The host sends
it these thresholds from this table at every handshake (``fxs_timing``, ``fxo_country``),
and ``drivers/ports.py`` qualifies what the card measured against the same table: flash
window, minimum ring length, cadence families.

Values are nominal defaults from common national practice and can be overridden per
installation (:func:`zone_timing` with overrides):

- Hook flash: North American style "flash" 80-800 ms (TIA-470 style window, as used by
  PBX line circuits); European and Australian "timed break recall" (TBR) 100 ms nominal,
  detected 70-130 ms (ETSI ES 201 970 register recall; PBX vendors detect 70-125 ms);
  France's "R" key breaks 270 ms. A break longer than ``flash_max_ms`` is a hang-up.
- Pulse dialling: 10 pulses per second; a break up to ``pulse_break_max_ms`` is a dial
  pulse (60-67 ms nominal), it must stay below ``flash_min_ms``; a make longer than
  ``pulse_make_max_ms`` ends the digit (inter-digit pause >= 300 ms in all zones).
- Ring cadences (ITU-T E.180 Supplement 2): one or more named families per zone, on/off ms.
  A ring train ends (``ring_end_ms``) once the silence is longer than the zone's longest
  off period can be within ``cadence_tolerance_pct``: a longer silence cannot be a pause of
  the same cadence, so a burst after it is a new call (a fixed 6-7 s timeout merged a new
  call arriving 5-7 s after an abandoned one into the old ring train).
- Loop-current drop ("calling party control" disconnect): drops of ``cpc_min_ms`` or more.
- Pre-dial hold (``predial_ms``): after seizing a line the card waits this long before the
  first dial pulse or flash, so the exchange has seen the seizure (docs/protocol.md,
  ``fxo_line_timing``). 500 ms in every zone, the value the card used as a constant; a line
  on a slow exchange gets its own (``LineCard(predial_ms={port: ms})``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from types import MappingProxyType

from drivers import DriverError
from drivers.protocol import FXO_PREDIAL_MS, Impedance

MAX_PREDIAL_MS = 10000  # a sanity bound: a line slower than this waits for dial tone instead


@dataclass(frozen=True)
class ZoneTiming:
    zone: str
    # FXS hook detection (card side: debounce, pulse decoding, hang-up timer)
    hook_debounce_ms: int
    pulse_break_max_ms: int
    pulse_make_max_ms: int
    flash_min_ms: int  # host: shorter breaks (longer than a dial pulse) are ignored as hits
    flash_max_ms: int  # card: longer breaks are a hang-up
    # FXO ring detection and cadence qualification
    ring_threshold_v: int  # DAA ring detection threshold, V rms
    ring_debounce_ms: int
    min_ring_ms: int  # host: shorter bursts never qualify a ring
    ring_end_ms: int  # card: a longer silence ends a ring train (longest off period + tolerance)
    cadences: tuple[tuple[str, tuple[int, ...]], ...]  # (family name, on/off ms ...)
    cadence_tolerance_pct: int
    # FXO line
    impedance: Impedance
    line_debounce_ms: int
    cpc_min_ms: int
    # FXO outgoing signalling
    dial_break_ms: int
    dial_make_ms: int
    dial_interdigit_ms: int
    flash_out_ms: int  # hook flash the host sends on an FXO line
    predial_ms: int  # card: a seized line is held this long before its first break (dial pulse or flash)

    def cadence(self, name: str | None = None) -> tuple[int, ...]:
        """The on/off pattern of family ``name`` (default: the zone's standard ring)."""
        if name is None:
            return self.cadences[0][1]
        for family, pattern in self.cadences:
            if family == name:
                return pattern
        raise DriverError(f"zone {self.zone} has no ring cadence {name!r}; it has {[f for f, _ in self.cadences]}")


def ring_end_for(cadences: tuple[tuple[str, tuple[int, ...]], ...], tolerance_pct: int) -> int:
    """The silence that ends a ring train: the longest off period the cadence qualification
    accepts (nominal + tolerance). The card ends the train when the silence grows longer
    than this, so a burst after it starts a new train (a new call)."""
    longest_off = max(max(pattern[1::2]) for _, pattern in cadences)
    return longest_off * (100 + tolerance_pct) // 100


def _americas(zone: str, cadences: tuple, impedance: Impedance = Impedance.R600, **changes: int) -> ZoneTiming:
    base = ZoneTiming(
        zone=zone, hook_debounce_ms=10, pulse_break_max_ms=75, pulse_make_max_ms=150, flash_min_ms=80,
        flash_max_ms=800, ring_threshold_v=40, ring_debounce_ms=30, min_ring_ms=200,
        ring_end_ms=ring_end_for(cadences, 25),
        cadences=cadences, cadence_tolerance_pct=25, impedance=impedance, line_debounce_ms=100, cpc_min_ms=350,
        dial_break_ms=60, dial_make_ms=40, dial_interdigit_ms=700, flash_out_ms=600, predial_ms=FXO_PREDIAL_MS,
    )
    return replace(base, **changes)


def _tbr(zone: str, cadences: tuple, impedance: Impedance = Impedance.CTR21, **changes: int) -> ZoneTiming:
    base = ZoneTiming(
        zone=zone, hook_debounce_ms=10, pulse_break_max_ms=68, pulse_make_max_ms=150, flash_min_ms=70,
        flash_max_ms=130, ring_threshold_v=25, ring_debounce_ms=30, min_ring_ms=200,
        ring_end_ms=ring_end_for(cadences, 25),
        cadences=cadences, cadence_tolerance_pct=25, impedance=impedance, line_debounce_ms=100, cpc_min_ms=250,
        dial_break_ms=60, dial_make_ms=40, dial_interdigit_ms=800, flash_out_ms=100, predial_ms=FXO_PREDIAL_MS,
    )
    return replace(base, **changes)


_NANP = (("standard", (2000, 4000)), ("double", (800, 400, 800, 4000)), ("triple", (400, 200, 400, 200, 800, 4000)))
_DOUBLE_UK = (("standard", (400, 200, 400, 2000)),)

ZONES: Mapping[str, ZoneTiming] = MappingProxyType({
    "us": _americas("us", _NANP),
    "ca": _americas("ca", _NANP),
    "mx": _americas("mx", (("standard", (1000, 4000)),)),
    "co": _americas("co", (("standard", (1000, 4000)),)),
    "ar": _americas("ar", (("standard", (1000, 4500)),)),
    "cl": _americas("cl", (("standard", (1000, 3000)),)),
    "br": _americas("br", (("standard", (1000, 4000)),), impedance=Impedance.R900, ring_threshold_v=35),
    "uk": _tbr("uk", _DOUBLE_UK, impedance=Impedance.BT3, dial_break_ms=67, dial_make_ms=33),
    "au": _tbr("au", _DOUBLE_UK, impedance=Impedance.AU),
    "de": _tbr("de", (("standard", (1000, 4000)),)),
    "fr": _tbr("fr", (("standard", (1500, 3500)),), flash_min_ms=200, flash_max_ms=350, flash_out_ms=270),
    "es": _tbr("es", (("standard", (1500, 3000)),)),
    "it": _tbr("it", (("standard", (1000, 4000)),)),
    "pt": _tbr("pt", (("standard", (1000, 5000)),)),
    "nl": _tbr("nl", (("standard", (1000, 4000)),)),
    "gr": _tbr("gr", (("standard", (1000, 4000)),)),
})


def validate(timing: ZoneTiming) -> ZoneTiming:
    """Checks the orderings the detection relies on; DriverError naming the first violation."""
    problems = []
    if not 0 < timing.hook_debounce_ms < timing.pulse_break_max_ms < timing.flash_min_ms <= timing.flash_max_ms:
        problems.append("need 0 < hook_debounce_ms < pulse_break_max_ms < flash_min_ms <= flash_max_ms")
    if timing.pulse_break_max_ms > 255 or timing.hook_debounce_ms > 255:
        problems.append("hook_debounce_ms and pulse_break_max_ms must fit in 255 ms")
    if not timing.cadences:
        problems.append("at least one ring cadence family is needed")
    for name, pattern in timing.cadences:
        if not pattern or len(pattern) % 2 or len(pattern) > 8 or min(pattern) <= 0:
            problems.append(f"cadence {name}: need 1-4 on/off pairs of positive ms")
        elif max(pattern[1::2]) >= timing.ring_end_ms:
            problems.append(f"cadence {name}: an off period reaches ring_end_ms {timing.ring_end_ms}")
    if not 0 < timing.ring_debounce_ms < timing.min_ring_ms:
        problems.append("need 0 < ring_debounce_ms < min_ring_ms")
    if not 0 <= timing.predial_ms <= MAX_PREDIAL_MS:
        problems.append(f"predial_ms must be 0..{MAX_PREDIAL_MS}")
    for name in ("dial_break_ms", "dial_make_ms"):
        if not 0 < getattr(timing, name) <= 255:
            problems.append(f"{name} must be 1..255")
    for item in fields(timing):
        value = getattr(timing, item.name)
        if isinstance(value, int) and not isinstance(value, bool) and not 0 <= value <= 0xFFFF:
            problems.append(f"{item.name}={value} must be 0..65535")
    if problems:
        raise DriverError(f"zone {timing.zone} timing invalid: {problems[0]}")
    return timing


def zone_timing(zone: str, **overrides: object) -> ZoneTiming:
    """The table entry for ``zone`` with per-installation ``overrides``, validated."""
    base = ZONES.get(zone)
    if base is None:
        raise DriverError(f"unknown zone {zone!r}; known zones: {', '.join(sorted(ZONES))}")
    unknown = sorted(set(overrides) - {item.name for item in fields(ZoneTiming)})
    if unknown:
        raise DriverError(f"unknown timing settings {unknown}")
    return validate(replace(base, **overrides))  # type: ignore[arg-type]
