"""Demo traffic for the virtual board: callers and office staff that keep calls flowing.

``make run`` starts the appliance on the virtual board; without traffic nothing would
happen. ``DemoTraffic`` schedules, on the world's tick clock and from a seeded generator,
a mix of inbound calls (an exchange line rings with caller ID, one phone picks up after a
couple of rings, the caller talks with real recorded speech and hangs up) and internal
calls (a phone dials another extension, the other picks up, they talk, both hang up).
Only idle lines and phones are used; a call whose parties are busy is skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from board.virtual.pstn import FarEnd, LineState
from board.virtual.world import World
from dsp.callerid import CallerId

SPEECH_DIR = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
CALLERS = (("2125550147", "ALICE SMITH"), ("3105550199", "BOB JONES"), ("6175550123", "CAROL WHITE"),
           ("4155550178", "DAVE BROWN"))


class DemoTraffic:
    def __init__(self, world: World, extensions: Sequence[tuple[str, int]], rng: np.random.Generator,
                 mean_gap_s: float = 25.0) -> None:
        """``extensions``: (number, FXS port) pairs the staff can dial and answer on."""
        self.world = world
        self.extensions = list(extensions)
        self.rng = rng
        self.mean_gap_s = mean_gap_s
        self.started = 0
        self._speech = sorted(SPEECH_DIR.glob("*.wav"))

    def start(self) -> None:
        self._schedule_next()

    def _schedule_next(self) -> None:
        gap_ms = int(1000 * self.rng.exponential(self.mean_gap_s)) + 2000
        self.world.after_ms(gap_ms, self._next_call)

    def _idle_phones(self) -> list[tuple[str, int]]:
        return [(number, port) for number, port in self.extensions if not self.world.phone(port).is_offhook]

    def _far_end(self) -> FarEnd:
        if not self._speech:
            return FarEnd()
        return FarEnd.from_file(self._speech[int(self.rng.integers(len(self._speech)))], loop=True)

    def _next_call(self) -> None:
        self._schedule_next()
        phones = self._idle_phones()
        if not phones:
            return
        idle_lines = [line for line in self.world.lines if line.state is LineState.IDLE]
        if idle_lines and self.rng.random() < 0.6:
            self._inbound(idle_lines[int(self.rng.integers(len(idle_lines)))], phones)
        elif len(phones) >= 2:
            self._internal(phones)

    def _talk_ms(self) -> int:
        return int(1000 * self.rng.uniform(8.0, 25.0))

    def _inbound(self, line, phones: list[tuple[str, int]]) -> None:
        number, name = CALLERS[int(self.rng.integers(len(CALLERS)))]
        _, port = phones[int(self.rng.integers(len(phones)))]
        phone = self.world.phone(port)
        phone.answer_on_ring(rings=2, delay_ms=int(self.rng.integers(200, 1500)))
        line.ring(caller_id=CallerId(number=number, name=name), far_end=self._far_end(), max_rings=8)
        self.started += 1

        def caller_hangs_up() -> None:
            if line.state is LineState.CONNECTED:
                line.far_end_hangup()
            self.world.after_ms(1500, lambda: phone.hangup() if phone.is_offhook else None)

        self.world.after_ms(12_000 + self._talk_ms(), caller_hangs_up)

    def _internal(self, phones: list[tuple[str, int]]) -> None:
        picks = self.rng.choice(len(phones), size=2, replace=False)
        (_, caller_port), (callee_number, callee_port) = phones[int(picks[0])], phones[int(picks[1])]
        caller, callee = self.world.phone(caller_port), self.world.phone(callee_port)
        callee.answer_on_ring(rings=1, delay_ms=int(self.rng.integers(300, 2000)))
        caller.offhook()
        self.world.after_ms(800, lambda: caller.dial(callee_number) if caller.is_offhook else None)
        self.started += 1

        def hang_up() -> None:
            for phone in (caller, callee):
                if phone.is_offhook:
                    phone.hangup()

        self.world.after_ms(8_000 + self._talk_ms(), hang_up)
