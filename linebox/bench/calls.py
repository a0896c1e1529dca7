"""Calls in progress for a benchmark's scene: each phone in a real outside call on its own line.

The engine runs its detectors only where the ports' states need them (``detector_needs.py``),
so a scene that only bridged ports in the mixer would measure an idle box. Here every pair
goes through the switch as on the box: the phone goes off hook, dials ``9`` and a local
number, the switch seizes the pair's line (one trunk group per line), the line "gives dial
tone", the number is dialled and the call is connected and bridged -- all within tick 0,
through the switch's public handlers, so the scene's audio starts with every call up.
"""

from __future__ import annotations

from collections.abc import Sequence

from drivers.ports import OffHook
from firmware.config.model import Config, Extension, Line, OutboundClass, Zone
from firmware.engine.calls import Leg
from linebox import LineboxError
from linebox.engine_builder import Engine

NUMBER = "95551234"  # a local number of the US dial plan: complete at its last digit


def scene_config(pairs: Sequence[tuple[int, int]], echo_canceller: bool = True, zone: Zone = Zone.US) -> Config:
    """Line ``line`` and extension ``1000 + phone`` on phone ``phone`` for each pair, in a trunk group of their own."""
    return Config(
        zone=zone,
        lines=tuple(Line(port=line, name=f"Line {line}", group=f"g{line}", echo_canceller=echo_canceller)
                    for line, _ in pairs),
        extensions=tuple(Extension(number=str(1000 + phone), port=phone, name=f"Phone {phone}",
                                   outbound_class=OutboundClass.LOCAL, trunk_group=f"g{line}")
                         for line, phone in pairs),
    )


def connect_calls(engine: Engine, pairs: Sequence[tuple[int, int]]) -> None:
    """Each phone calls out on its line (module docstring); an error if a call did not connect."""
    switch = engine.switch
    control = switch.control
    for line, phone in pairs:
        switch.on_port_event(OffHook(phone))
        for digit in NUMBER:
            switch.on_digit(phone, digit)
        if control.state(line) is not Leg.SEIZING:
            raise LineboxError(f"bench scene: phone {phone} did not seize line {line} ({control.state(line)})")
        switch.on_tone(line, "dial", True)  # the exchange's dial tone: the number is dialled
        switch.outside.digits_sent(line)
        if control.state(line) is not Leg.CONNECTED or control.state(phone) is not Leg.CONNECTED:
            raise LineboxError(f"bench scene: phone {phone} and line {line} are not connected")
