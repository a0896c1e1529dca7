"""The media loop: one pass per 20 ms tick of the audio clock.

1. read every port's frame (the audio device is the clock: ALSA or the virtual board), note
   the wall time of the tick (``Switch.clock``, ``wallclock.py``), then run the requests of
   other threads (``submit``);
2. cancel the lines' echo in it (``DetectorBank.cancel_echo``: the far end is what the box
   sent on the previous tick); from here on the engine uses only this cleaned frame, first
   by handing it to the frame taps (``taps``: e.g. voicemail recording a caller's port);
3. the line card's events since the last tick, then the switch's timers (and its services'
   ticks). An event reported now happened during the last 20 ms, before the timers due at
   this tick's boundary, so it goes first: a phone answered in the last tick of its ring
   time is answered (its event cancels the no-answer timer), and a caller who hung up in
   the tick their digit timeout falls due makes no call;
4. every detector, batched over the ports (``DetectorBank``), and their events;
5. what the box plays (``PlayerBank``) and who hears whom (``Mixer``): one matrix product
   over the cleaned frame, so the other party of a call hears the line without its echo;
6. write every port's frame back.

Nothing here blocks except reading the frame: call records, logs and configuration
changes leave and arrive through queues. With ``sync_commands`` (the virtual board) the
loop waits until the card has applied the commands of this tick, so a run is deterministic.
The processing time of each tick is measured with the clock passed in (``perf_counter``).

Fault isolation: an exception raised while handling one port's event, digit, tone, caller
ID, timer or one service's tick is caught at that boundary by the switch
(``Switch.contain_fault``): logged once with the call and port, counted (``faults``, the
console's ``show stats``), and that call ends cleanly with its record (cause
``internal_error``); the loop and every other call go on. A failing tap or request is
logged and counted the same way. Only the loop's own machinery -- reading or writing the
audio device, polling the line card, the detectors, players and mixer -- stops the engine,
and then with one ``engine_stopped`` line naming the part before the exception goes up.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from drivers.audio import TICK_SAMPLES, AudioDevice
from drivers.logs import EventLogger
from firmware.engine.detectors import CallerIdHeard, DetectorBank, DigitHeard, ToneHeard
from firmware.engine.switch import Switch
from firmware.media.mixer import Mixer
from firmware.media.players import PlayerBank
from firmware.media.tickstats import TickStats

COMMAND_ACK_TIMEOUT_S = 1.0
STATS_EVERY_TICKS = 50 * 60  # one stats line a minute
T = TypeVar("T")


class MediaLoop:
    def __init__(
        self,
        audio: AudioDevice,
        card,
        switch: Switch,
        detectors: DetectorBank,
        players: PlayerBank,
        mixer: Mixer,
        measure: Callable[[], float],
        sync_commands: bool = False,
        log: EventLogger | None = None,
    ) -> None:
        self.audio = audio
        self.card = card
        self.switch = switch
        self.detectors = detectors
        self.players = players
        self.mixer = mixer
        self.measure = measure
        self.sync_commands = sync_commands
        self.log = log or EventLogger("engine")
        self.stats = TickStats()
        self.tick = 0
        self.requests: queue.Queue[Callable[[], None]] = queue.Queue()
        self._sent = np.zeros((audio.ports, TICK_SAMPLES), dtype=np.int16)
        self.last_frame = self._sent.copy()
        # Called once per tick with the frame just read (ports x 160, int16), before the switch's
        # tick. The frame is not copied: a tap that keeps samples copies the rows it needs.
        self.taps: list[Callable[[np.ndarray], None]] = []

    def submit(self, request: Callable[[], None]) -> None:
        """Runs ``request`` on the loop's thread at the start of the next tick."""
        self.requests.put(request)

    def _machinery(self, part: str, run: Callable[[], T]) -> T:
        """The loop's own machinery: a failure here stops the engine, with one clear line."""
        try:
            return run()
        except Exception as exc:
            self.log.error("engine_stopped", part=part, tick=self.tick, error=f"{type(exc).__name__}: {exc}")
            raise

    def _isolated(self, where: str, run: Callable[[], object]) -> None:
        """A request or tap: its failure is logged and counted, and the loop goes on."""
        try:
            run()
        except Exception as exc:  # noqa: BLE001 -- the fault boundary (STYLE.md 8)
            self.switch.faults += 1
            self.log.exception("internal_error", where=where, tick=self.tick, error=f"{type(exc).__name__}: {exc}",
                               count=self.switch.faults)

    def step(self) -> None:
        raw = self._machinery("audio_read", self.audio.read_frame)
        self.switch.clock.mark(self.tick)  # the wall time of this tick, read at its edge (wallclock.py)
        started = self.measure()
        while not self.requests.empty():
            self._isolated("request", self.requests.get_nowait())
        # The canceller runs after the requests: a live change of the echo lines applies from this tick.
        frame = self._machinery("echo_canceller", lambda: self.detectors.cancel_echo(raw, self._sent))
        self.last_frame = frame
        for tap in self.taps:
            self._isolated("tap", lambda tap=tap: tap(frame))
        switch = self.switch
        switch.advance(self.tick)
        for event in self._machinery("card_poll", self.card.poll):
            switch.on_port_event(event)
        switch.on_tick(self.tick)
        events, levels = self._machinery("detectors", lambda: self.detectors.process(frame))
        for event in events:
            if isinstance(event, DigitHeard):
                switch.on_digit(event.port, event.digit)
            elif isinstance(event, ToneHeard):
                switch.on_tone(event.port, event.tone, event.ongoing)
            elif isinstance(event, CallerIdHeard):
                switch.on_caller_id(event.port, event.caller)
        for port, heard in levels.heard.items():
            switch.on_line_audio(port, heard)
        switch.check_silence()
        out = self._machinery("mixer", lambda: self.mixer.mix(frame, self.players.render(TICK_SAMPLES)))
        self._machinery("audio_write", lambda: self.audio.write_frame(out))
        self._sent = out
        self.stats.record((self.measure() - started) * 1000.0)
        if self.sync_commands:
            self._machinery("card_ack", lambda: self.card.wait_acked(COMMAND_ACK_TIMEOUT_S))
        self.tick += 1
        if self.tick % STATS_EVERY_TICKS == 0:
            summary = self.stats.summary()
            self.log.info("stats", tick=self.tick, calls=len(switch.calls), p50_ms=round(summary.tick_p50_ms, 3),
                          p99_ms=round(summary.tick_p99_ms, 3), max_ms=round(summary.tick_max_ms, 3),
                          misses=summary.deadline_misses, faults=switch.faults)

    def run_ticks(self, count: int) -> None:
        for _ in range(count):
            self.step()
