"""The engine process that ``linebox bench durability`` kills: the appliance on the virtual board,
unpaced, with call traffic that writes to every store.

Run as ``python -m linebox.bench.durability_engine --db FILE --seed N``. It is the production
stack (``open_virtual_appliance``: the same stores, writers and start-up clean-up as
``linebox run``), only unpaced (ticks as fast as the CPU allows) with a fixed origin (no clock
read), so a kill lands in the middle of dense traffic. The traffic, on the world's tick clock
and from a seeded generator, writes every kind of row the box keeps:

- line 0 rings; its route is the queue ``support``: call records, queue_log lines, ACD
  statistics (callers wait, some are answered by the agent phones, some give up);
- line 1 rings; its route is voicemail 201: the caller skips the greeting (``#``), speaks and
  hangs up, a message (a WAV file and its row) is saved;
- extension 202 calls 203, who answers: call records of internal calls;
- extension 204 dials ``*78``/``*79`` (do-not-disturb on/off): configuration changes.

The configuration is stored only into an empty database (the first start); later starts
run on what is stored. Both lines ring at the first tick, so the time from the process start
to the first ``route`` log line (the box answered a call) is the time to answer calls again.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import logging
import signal
import sys
from pathlib import Path

import numpy as np

from board.virtual.pstn import FarEnd, LineState
from board.virtual.world import World
from drivers.audiofile import read_audio
from drivers.logs import EventLogger, configure_logging
from dsp.callerid import CallerId
from firmware.config.demo import demo_config
from firmware.config.model import Config, Destination, DestinationKind, InboundRoute
from linebox.appliance import open_virtual_appliance
from linebox.storage import open_store

ORIGIN = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)  # a Monday, in the demo's business hours
SPEECH = Path("/usr/share/asterisk/sounds/en_US_f_Allison/hello-world.wav")
QUEUE_LINE, VOICEMAIL_LINE = 0, 1
CALLER, CALLEE, DND_PHONE = 3, 4, 5  # extensions 202, 203, 204 (ports of the demo board)
AGENT_PHONES = (4, 5)  # the queue's agents sit at 203 and 204


def bench_config() -> Config:
    """The demo office with line 0 routed to the queue and line 1 to voicemail 201."""
    routes = (
        InboundRoute(name="queue", destination=Destination(DestinationKind.QUEUE, "support"), line=QUEUE_LINE),
        InboundRoute(name="messages", destination=Destination(DestinationKind.VOICEMAIL, "201"),
                     line=VOICEMAIL_LINE),
    )
    return dataclasses.replace(demo_config(), routes=routes)


class StoreTraffic:
    """Seeded calls on the world's tick clock that write to every store (see the module)."""

    def __init__(self, world: World, rng: np.random.Generator) -> None:
        self.world = world
        self.rng = rng
        self.dnd = False
        words = read_audio(SPEECH).astype(np.float64) if SPEECH.exists() else np.zeros(8000)
        self.speech = np.concatenate([words, words])  # over the 1 s a message must last (deposit.MIN_MESSAGE_S)

    def start(self) -> None:
        self.world.after_ms(20, self._queue_call)
        self.world.after_ms(20, self._voicemail_call)
        self.world.after_ms(3_000, self._internal_call)
        self.world.after_ms(5_000, self._toggle_dnd)

    def _ms(self, low_s: float, high_s: float) -> int:
        return int(1000 * self.rng.uniform(low_s, high_s))

    def _far_end(self) -> FarEnd:
        return FarEnd.from_file(SPEECH, loop=True) if SPEECH.exists() else FarEnd()

    def _hang_up_line(self, port: int) -> None:
        line = self.world.line(port)
        if line.state in (LineState.CONNECTED, LineState.PROGRESS):
            line.far_end_hangup()

    def _queue_call(self) -> None:
        self.world.after_ms(self._ms(8, 14), self._queue_call)
        line = self.world.line(QUEUE_LINE)
        if line.state is not LineState.IDLE:
            return
        for port in AGENT_PHONES:  # an agent picks up sometimes; otherwise the caller waits, then gives up
            phone = self.world.phone(port)
            if not phone.is_offhook and self.rng.random() < 0.5:
                phone.answer_on_ring(rings=1, delay_ms=self._ms(0.2, 1.0))
                self.world.after_ms(self._ms(6, 9), lambda phone=phone: phone.hangup() if phone.is_offhook else None)
        line.ring(caller_id=CallerId(number="2125550147", name="ALICE SMITH"), far_end=self._far_end(),
                  max_rings=6)
        self.world.after_ms(self._ms(4, 7), lambda: self._hang_up_line(QUEUE_LINE))

    def _voicemail_call(self) -> None:
        self.world.after_ms(self._ms(9, 12), self._voicemail_call)
        line = self.world.line(VOICEMAIL_LINE)
        if line.state is not LineState.IDLE:
            return
        far_end = FarEnd()
        line.ring(caller_id=CallerId(number="3105550199", name="BOB JONES"), far_end=far_end, max_rings=6)
        # Answered after the caller ID (about 2.5 s); # skips the greeting to the tone; a few words; hang up.
        self.world.after_ms(4_000, lambda: far_end.dial("#"))
        self.world.after_ms(5_000, lambda: far_end.say(self.speech))
        self.world.after_ms(self._ms(8, 9), lambda: self._hang_up_line(VOICEMAIL_LINE))

    def _internal_call(self) -> None:
        self.world.after_ms(self._ms(6, 10), self._internal_call)
        caller, callee = self.world.phone(CALLER), self.world.phone(CALLEE)
        if caller.is_offhook or callee.is_offhook:
            return
        callee.answer_on_ring(rings=1, delay_ms=self._ms(0.2, 1.0))
        caller.offhook()
        self.world.after_ms(400, lambda: caller.dial("203") if caller.is_offhook else None)
        self.world.after_ms(self._ms(4, 6), lambda: caller.hangup() if caller.is_offhook else None)
        self.world.after_ms(self._ms(6, 7), lambda: callee.hangup() if callee.is_offhook else None)

    def _toggle_dnd(self) -> None:
        self.world.after_ms(self._ms(5, 9), self._toggle_dnd)
        phone = self.world.phone(DND_PHONE)
        if phone.is_offhook:
            return
        self.dnd = not self.dnd
        phone.offhook()
        code = "*78" if self.dnd else "*79"
        self.world.after_ms(400, lambda: phone.dial(code) if phone.is_offhook else None)
        self.world.after_ms(2_500, lambda: phone.hangup() if phone.is_offhook else None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="durability_engine")
    parser.add_argument("--db", required=True, type=Path)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    configure_logging(sys.stdout, logging.INFO)
    store = open_store(str(args.db))
    try:
        if store.is_empty():
            store.save(bench_config(), source="bench")
    finally:
        store.close()
    app = open_virtual_appliance(args.db, paced=False, seed=args.seed, origin=ORIGIN)
    StoreTraffic(app.world, np.random.default_rng(args.seed)).start()
    stopping: list[str] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append("SIGTERM"))
    EventLogger("durability").info("started", db=str(args.db), seed=args.seed)
    try:
        while not stopping:
            app.loop.step()
    finally:
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
