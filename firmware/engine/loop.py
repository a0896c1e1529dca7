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
4. the detectors the ports' states need now, batched over the ports (``DetectorBank``;
   which ones: ``detector_needs.py``, recomputed only when call control reports a change of
   a port's state or of the configuration), and their events;
5. what the box plays (``PlayerBank``) and who hears whom (``Mixer``): one matrix product
   over the cleaned frame, so the other party of a call hears the line without its echo;
6. write every port's frame back.

Nothing here blocks except reading the frame: call records, logs and configuration
changes leave and arrive through queues. With ``sync_commands`` (the virtual board) the
loop waits until the card has applied the commands of this tick, so a run is deterministic.
The processing time of each tick is measured with the clock passed in (``perf_counter``).
A tick allocates no closures: ``step`` is one function with the failing part named by a
variable, so the fixed per-tick cost of the loop itself stays in microseconds.

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

import numpy as np

from drivers.audio import TICK_SAMPLES, AudioDevice
from drivers.logs import EventLogger
from firmware.engine.detector_needs import detector_needs
from firmware.engine.detectors import CallerIdHeard, DetectorBank, DigitHeard, ToneHeard
from firmware.engine.switch import Switch
from firmware.media.mixer import Mixer
from firmware.media.players import PlayerBank
from firmware.media.tickstats import TickStats

COMMAND_ACK_TIMEOUT_S = 1.0
STATS_EVERY_TICKS = 50 * 60  # one stats line a minute


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
        self._needs_at = -1  # call control's change count the detectors' needs were computed at

    def _follow_states(self) -> None:
        """The detectors the ports need, recomputed when a state or the configuration changed."""
        control = self.switch.control
        if control.changes != self._needs_at:
            self._needs_at = control.changes
            self.detectors.set_needs(detector_needs(control.legs, control.config, self.switch.ports_awaiting_digits()))

    def submit(self, request: Callable[[], None]) -> None:
        """Runs ``request`` on the loop's thread at the start of the next tick."""
        self.requests.put(request)

    def _isolated(self, where: str, run: Callable[[], object]) -> None:
        """A request or tap: its failure is logged and counted, and the loop goes on."""
        try:
            run()
        except Exception as exc:  # noqa: BLE001 -- the fault boundary (STYLE.md 8)
            self.switch.faults += 1
            self.log.exception("internal_error", where=where, tick=self.tick, error=f"{type(exc).__name__}: {exc}",
                               count=self.switch.faults)

    def step(self) -> None:
        part = "audio_read"
        try:
            raw = self.audio.read_frame()
            switch = self.switch
            switch.clock.mark(self.tick)  # the wall time of this tick, read at its edge (wallclock.py)
            started = self.measure()
            requests = self.requests
            while not requests.empty():
                self._isolated("request", requests.get_nowait())
            # The canceller runs after the requests: a live change of the echo lines applies from this tick.
            part = "echo_canceller"
            frame = self.detectors.cancel_echo(raw, self._sent)
            self.last_frame = frame
            for tap in self.taps:
                try:
                    tap(frame)
                except Exception as exc:  # noqa: BLE001 -- a tap's failure is counted, the loop goes on
                    self._tap_failed(exc)
            switch.advance(self.tick)
            part = "card_poll"
            for event in self.card.poll():
                switch.on_port_event(event)
            part = "switch"
            switch.on_tick(self.tick)
            part = "detectors"
            self._follow_states()  # what this tick's events changed is listened for from now on
            events, levels = self.detectors.process(frame)
            part = "switch"
            for event in events:
                if isinstance(event, DigitHeard):
                    switch.on_digit(event.port, event.digit)
                elif isinstance(event, ToneHeard):
                    switch.on_tone(event.port, event.tone, event.ongoing)
                elif isinstance(event, CallerIdHeard):
                    switch.on_caller_id(event.port, event.caller)
            if levels.heard:
                for port, heard in levels.heard.items():
                    switch.on_line_audio(port, heard)
                switch.check_silence(levels.heard)
            part = "mixer"
            out = self.mixer.mix(frame, self.players.render(TICK_SAMPLES))
            part = "audio_write"
            self.audio.write_frame(out)
            self._sent = out
            self.stats.record((self.measure() - started) * 1000.0)
            if self.sync_commands:
                part = "card_ack"
                self.card.wait_acked(COMMAND_ACK_TIMEOUT_S)
        except Exception as exc:
            self.log.error("engine_stopped", part=part, tick=self.tick, error=f"{type(exc).__name__}: {exc}")
            raise
        self.tick += 1
        if self.tick % STATS_EVERY_TICKS == 0:
            summary = self.stats.summary()
            self.log.info("stats", tick=self.tick, calls=len(switch.calls), p50_ms=round(summary.tick_p50_ms, 3),
                          p99_ms=round(summary.tick_p99_ms, 3), max_ms=round(summary.tick_max_ms, 3),
                          misses=summary.deadline_misses, faults=switch.faults)

    def _tap_failed(self, exc: Exception) -> None:
        self.switch.faults += 1
        self.log.exception("internal_error", where="tap", tick=self.tick, error=f"{type(exc).__name__}: {exc}",
                           count=self.switch.faults)

    def run_ticks(self, count: int) -> None:
        for _ in range(count):
            self.step()
