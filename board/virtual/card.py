"""The line-card emulator: the card side of the UART protocol over a real pseudo-terminal.

:class:`CardEmulator` plays the line card's microcontroller. It opens a pty
(``os.openpty()``), keeps a stable symlink to the slave side (``path``) and the host opens
that path with pyserial exactly as it opens ``/dev/ttyUSB0``. A reader thread (the card's
"firmware") parses host frames, applies commands to the port hardware state
(``board/virtual/card_ports.py``) and only then acknowledges them. The virtual board's clock
calls :meth:`CardEmulator.drives` (the analog drive of the next tick) and
:meth:`CardEmulator.step` (what the world presented: detection, events to the host), then
:meth:`CardEmulator.wait_events_acked` so the run is deterministic (``docs/protocol.md``,
"Virtual board timing").

Named faults (:meth:`CardEmulator.inject`): ``bad_crc``, ``drop_ack``, ``lose_frame``,
``duplicate``, ``garbage``, ``card_reset``, ``serial_unplug`` (the pty disappears and comes
back at the same path after ``seconds``), ``stop_answering``, ``fault``, ``overtemp``.

The card's own clock (event timestamps, detection timers) is the board's tick count: 20 ms
per tick. Its link timers (retransmission, host silence, ``stop_answering`` and
``serial_unplug`` durations) run on ``clock``: the monotonic clock by default; given the
unpaced board's tick clock, the card is "ticked": those timers run only when the board calls
:meth:`CardEmulator.run_timers` at the start of a tick, the serial thread only answers what
the host sends, and :meth:`CardEmulator.quiescent` tells the board when nothing is in flight
on the wire (byte counts of both ends, timers due), so a seeded run with faults is repeatable.
"""

from __future__ import annotations

import os
import select
import shutil
import threading
import time
import tty
from collections.abc import Callable, Sequence

import numpy as np

from board import BoardError
from board.virtual.analog import MS_PER_TICK, FxoDrive, FxsDrive, WorldTick
from board.virtual.card_ports import FxoPort, FxsPort
from board.virtual.tempdirs import make_card_dir, sweep_orphans
from drivers import DriverError
from drivers.link import LinkIo
from drivers.link_arq import ReliableSender, SeqClass, SequenceReceiver, ack_frame
from drivers.logs import EventLogger
from drivers.protocol import (
    BY_ID,
    NO_PORT,
    PROTOCOL_VERSION,
    TIME_MODULUS,
    AckStatus,
    Frame,
    FrameParser,
    Message,
    ResetCause,
    decode_payload,
    message,
)

FAULTS = ("bad_crc", "drop_ack", "lose_frame", "duplicate", "garbage", "card_reset", "serial_unplug",
          "stop_answering", "fault", "overtemp")
_COUNTED = ("bad_crc", "drop_ack", "lose_frame", "duplicate")


class CardEmulator:
    """One emulated line card on a pty. Thread-safe; ``start()`` before the host opens ``path``."""

    def __init__(
        self,
        port_types: Sequence[str],
        path: str | None = None,
        *,
        model: str = "LB-VIRT",
        firmware: tuple[int, int, int] = (1, 0, 0),
        protocol: tuple[int, int] = PROTOCOL_VERSION,
        reported_port_map: str | None = None,
        ack_timeout_s: float = 0.1,
        max_retries: int = 4,
        window: int = 8,
        poll_s: float = 0.01,
        idle_flush_s: float = 0.05,
        clock_origin_ms: int = 0,
        rng: np.random.Generator | None = None,
        logger: EventLogger | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        kinds = tuple(port_types)
        if any(kind not in ("fxs", "fxo") for kind in kinds):
            raise BoardError(f"card port types must be fxs or fxo, got {kinds}")
        if len(kinds) > 32:
            raise BoardError(f"a line card has at most 32 ports, got {len(kinds)}")
        self.port_types = kinds
        self.fxs_ports = tuple(p for p, kind in enumerate(kinds) if kind == "fxs")
        self.fxo_ports = tuple(p for p, kind in enumerate(kinds) if kind == "fxo")
        self._ports: list[FxsPort | FxoPort] = [FxsPort(p) if kind == "fxs" else FxoPort(p) for p, kind in enumerate(kinds)]
        self.model = model
        self.firmware = firmware
        self.protocol = protocol
        self.port_map = reported_port_map if reported_port_map is not None else \
            "".join("S" if kind == "fxs" else "O" for kind in kinds)
        self._own_dir = None
        if path is None:
            sweep_orphans()  # folders left by emulators killed with SIGKILL
            self._own_dir = make_card_dir()
            path = os.path.join(self._own_dir, "ttyLC0")
        self.path = path
        self._poll_s = poll_s
        self._ticked = clock is not None  # link timers run from run_timers(), on the board's clock
        self._clock: Callable[[], float] = clock if clock is not None else time.monotonic
        self._device: int | None = None  # the pty's id, as the host sees it (st_rdev)
        self._rx_bytes = 0  # read and processed from the current pty
        self._tx_bytes = 0  # written to the current pty
        self._idle_flush_s = idle_flush_s
        self._clock_origin = clock_origin_ms
        self._rng = rng if rng is not None else np.random.default_rng(0)
        self._log = (logger or EventLogger("card")).bind(card=model)
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._thread_main, name=f"card {model}", daemon=True)
        self._master: int | None = None
        self._slave: int | None = None
        self._unplug_request: float | None = None
        self._unplugged = threading.Event()
        self._replug_at: float | None = None
        self._parser = FrameParser()
        self._last_rx_at = 0.0
        self._sender = ReliableSender(window, ack_timeout_s, max_retries)
        self._receiver = SequenceReceiver()
        self._session: int | None = None
        self._identify_seq: int | None = None
        self._in_session = False
        # Resuming: the first host SEQ not applied in the last session the host confirmed (it acked
        # our identity, or sent a command in it); None after a reset: no port state to resume.
        self._resume_point: int | None = None
        self._confirmed = False  # the host accepted the current session's identity
        self._reset_cause = ResetCause.POWER_ON
        self._watchdog_ms = 0
        self._last_host_ms = 0
        self._boot_ms = 0
        self._now_ms = 0  # start of the latest tick, board ms
        self._counts: dict[str, int] = {}
        self._silent_until: float | None = None  # stop_answering
        self._last_fxo: list[FxoDrive] | None = None
        self._last_fxs: list[FxsDrive] | None = None
        self.counters = {"frames_rx": 0, "frames_tx": 0, "tx_dropped": 0, "gaps": 0, "duplicates": 0,
                         "resets": 0, "events": 0, "events_dropped": 0, "refused": 0}

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        with self._lock:
            self._open_pty()
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)
        with self._lock:
            self._close_pty()
        if self._own_dir is not None:
            shutil.rmtree(self._own_dir, ignore_errors=True)

    def __enter__(self) -> CardEmulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open_pty(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no line editing before the host's pyserial sets its own mode
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        temporary = f"{self.path}.new"
        if os.path.lexists(temporary):
            os.unlink(temporary)
        os.symlink(os.ttyname(slave), temporary)
        os.replace(temporary, self.path)
        self._parser = FrameParser()
        self._device, self._rx_bytes, self._tx_bytes = os.fstat(slave).st_rdev, 0, 0
        self._log.info("pty_ready", path=self.path, pty=os.ttyname(slave))

    def _close_pty(self) -> None:
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None
        if os.path.lexists(self.path):
            os.unlink(self.path)

    # ------------------------------------------------------------------ fault injection

    def inject(self, name: str, **params: object) -> None:
        """Named fault; see the module docstring. Counted faults take ``count`` (default 1)."""
        if name not in FAULTS:
            raise BoardError(f"unknown fault {name!r}; known faults: {', '.join(FAULTS)}")
        if name == "serial_unplug":
            self._unplugged.clear()
            with self._lock:
                self._unplug_request = float(params.get("seconds", 0.2))  # type: ignore[arg-type]
                if self._ticked:  # at once, at the board's current time
                    self._plug_housekeeping()
            if not self._unplugged.wait(timeout=2.0):
                raise BoardError("serial_unplug: the card thread did not close the pty")
            return
        try:
            self._inject(name, params)
        except (ValueError, TypeError, DriverError) as exc:
            raise BoardError(f"fault {name}: bad parameters {params}: {exc}") from exc

    def _inject(self, name: str, params: dict) -> None:
        with self._lock:
            self._log.warning("fault_injected", fault=name, **{k: str(v) for k, v in params.items()})
            if name in _COUNTED:
                self._counts[name] = self._counts.get(name, 0) + int(params.get("count", 1))  # type: ignore[arg-type]
            elif name == "garbage":
                size = int(params.get("size", 16))  # type: ignore[arg-type]
                for _ in range(int(params.get("count", 1))):  # type: ignore[arg-type]
                    self._write(self._rng.integers(0, 256, size, dtype=np.uint8).tobytes())
            elif name == "card_reset":
                self._reset(ResetCause(int(params.get("cause", ResetCause.WATCHDOG))))  # type: ignore[arg-type]
            elif name == "stop_answering":
                seconds = params.get("seconds")
                self._silent_until = float("inf") if seconds is None else self._clock() + float(seconds)  # type: ignore[arg-type]
                self._changed.notify_all()
            elif name == "fault":
                self._event(message("card_fault", code=int(params.get("code", 1)),  # type: ignore[arg-type]
                                    port=int(params.get("port", NO_PORT)), t_ms=self._stamp(self._now_ms)))  # type: ignore[arg-type]
            elif name == "overtemp":
                self._event(message("card_overtemp", port=int(params.get("port", NO_PORT)),  # type: ignore[arg-type]
                                    temp_c=int(params.get("temp_c", 95)), t_ms=self._stamp(self._now_ms)))  # type: ignore[arg-type]

    def clear(self, name: str) -> None:
        with self._lock:
            self._counts.pop(name, None)
            if name == "stop_answering":
                self._silent_until = None

    def _take(self, name: str) -> bool:
        left = self._counts.get(name, 0)
        if left <= 0:
            return False
        self._counts[name] = left - 1
        return True

    def _answering(self) -> bool:
        if self._silent_until is None:
            return True
        if self._clock() >= self._silent_until:
            self._silent_until = None
            return True
        return False

    # ------------------------------------------------------------------ the board clock's side

    def drives(self, tick: int) -> tuple[list[FxsDrive], list[FxoDrive]]:
        """The analog drive of ``tick``: one FxsDrive per FXS port, one FxoDrive per FXO port."""
        t0 = tick * MS_PER_TICK
        with self._lock:
            self._now_ms = t0
            fxs = [self._ports[p].drive(t0) for p in self.fxs_ports]  # type: ignore[misc]
            fxo = [self._ports[p].drive(t0) for p in self.fxo_ports]  # type: ignore[misc]
            self._last_fxo = fxo
            self._last_fxs = fxs
        return fxs, fxo

    def step(self, tick: int, world: WorldTick) -> None:
        """Detection on what the world presented during ``tick``; events go to the host."""
        t0 = tick * MS_PER_TICK
        n_fxs, n_fxo = len(self.fxs_ports), len(self.fxo_ports)
        hooks = np.asarray(world.fxs_offhook_ms, dtype=bool)
        rings = np.asarray(world.fxo_ring_ms, dtype=bool)
        if hooks.shape != (n_fxs, MS_PER_TICK) or rings.shape != (n_fxo, MS_PER_TICK):
            raise BoardError(f"world tick shapes {hooks.shape}, {rings.shape} do not match "
                             f"{n_fxs} FXS and {n_fxo} FXO ports")
        with self._lock:
            self._now_ms = t0
            found: list[tuple[int, str, dict]] = []
            if n_fxs:
                raw = np.array([self._ports[p].hook.raw for p in self.fxs_ports], dtype=bool)
                unchanged = (hooks == raw[:, None]).all(axis=1)
                fxs_drives = self._last_fxs
                for i, port in enumerate(self.fxs_ports):
                    model: FxsPort = self._ports[port]  # type: ignore[assignment]
                    loop_open = bool(fxs_drives[i].loop_open) if fxs_drives else False
                    if not model.quiet(t0, bool(unchanged[i]) or loop_open):
                        found += [(port, name, fields) for name, fields in model.detect(t0, hooks[i], loop_open)]
            fxo_drives = self._last_fxo
            for i, port in enumerate(self.fxo_ports):
                model_o: FxoPort = self._ports[port]  # type: ignore[assignment]
                offhook = fxo_drives[i].offhook_ms if fxo_drives else np.full(MS_PER_TICK, model_o.seized)
                found += [(port, name, fields) for name, fields in model_o.detect(
                    t0, rings[i], offhook, int(world.fxo_polarity[i]), float(world.fxo_line_volts[i]),
                    float(world.fxo_loop_ma[i]))]
            for port, name, fields in found:
                t = fields.pop("t")
                self._event(message(name, port=port, t_ms=self._stamp(t), **fields))
            if self._in_session and self._watchdog_ms and t0 - self._last_host_ms > self._watchdog_ms:
                self._log.error("host_watchdog", silent_ms=t0 - self._last_host_ms)
                self._reset(ResetCause.HOST_WATCHDOG)

    def wait_events_acked(self, timeout_s: float) -> bool:
        """Lock-step: True once the host acknowledged every event sent (at once if there is no host)."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while not self._sender.idle and self._in_session and self._master is not None \
                    and self._silent_until is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    # ------------------------------------------------------------------ state for tests and the board

    def port(self, port: int) -> FxsPort | FxoPort:
        if not 0 <= port < len(self._ports):
            raise BoardError(f"port {port} does not exist (ports 0-{len(self._ports) - 1})")
        return self._ports[port]

    @property
    def ticked(self) -> bool:
        """The link timers run on the board's clock, from :meth:`run_timers`."""
        return self._ticked

    @property
    def in_session(self) -> bool:
        return self._in_session

    def _stamp(self, board_ms: int) -> int:
        return (board_ms - self._boot_ms + self._clock_origin) % TIME_MODULUS

    def _event(self, msg: Message) -> None:
        if not self._in_session or not self._answering():
            self.counters["events_dropped"] += 1
            return
        self.counters["events"] += 1
        self._sender.queue(msg)
        self._transmit(self._clock())

    def _reset(self, cause: ResetCause) -> None:
        was_in_session = self._in_session
        self.counters["resets"] += 1
        for model in self._ports:
            model.reset()
        self._sender.take_all()
        self._sender.restart(0)
        self._receiver.expected = None
        self._in_session = False
        self._resume_point, self._confirmed = None, False
        self._session = self._identify_seq = None
        self._reset_cause = cause
        self._watchdog_ms = 0
        self._boot_ms = self._now_ms
        self._log.warning("card_reset", cause=cause.name.lower())
        if was_in_session:  # tell the host at once; it answers with a new handshake
            self._sender.queue(message("card_reset", cause=int(cause), t_ms=self._stamp(self._now_ms)))
            self._transmit(self._clock())
        self._changed.notify_all()

    # ------------------------------------------------------------------ the card's serial thread

    def _thread_main(self) -> None:
        try:
            self._serve()
        except Exception:  # the thread entry: log it, the emulator stops answering like a crashed card
            self._log.exception("card_thread_error")
            with self._lock:
                self._in_session = False
                self._changed.notify_all()

    def _serve(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                if not self._ticked:
                    self._plug_housekeeping()
                fd = self._master
            if fd is None:
                self._stop.wait(self._poll_s)
                continue
            try:
                readable, _, _ = select.select([fd], [], [], self._poll_s)
            except (OSError, ValueError):  # the pty was closed under us (unplugged by another thread)
                continue
            data = b""
            if readable:
                try:
                    data = os.read(fd, 4096)
                except (BlockingIOError, InterruptedError):
                    data = b""
                except OSError as exc:  # the pty went away under us
                    self._log.debug("pty_read_error", error=str(exc))
                    data = b""
            wall = time.monotonic()
            with self._lock:
                if fd != self._master:
                    continue
                now = self._clock()
                if data:
                    self._rx_bytes += len(data)
                    self._last_rx_at = wall
                    frames = self._parser.feed(data)
                elif self._parser.pending and wall - self._last_rx_at >= self._idle_flush_s:
                    frames = self._parser.flush()
                else:
                    frames = []
                for problem in self._parser.take_errors():
                    self._log.info("host_frame_error", error=problem)
                if self._answering():
                    for frame in frames:
                        self._on_frame(frame)
                    if frames or not self._ticked:  # ticked: timers only from run_timers()
                        self._transmit(now)
                        self._check_host_silent()

    def _check_host_silent(self) -> None:
        if self._sender.failed:
            self._log.warning("host_not_answering", unacked=len(self._sender.unacked))
            self._sender.take_all()
            self._in_session = False  # port state kept: the next identify resumes it
            self._changed.notify_all()

    # ------------------------------------------------------------------ lock-step with the board's clock

    def run_timers(self) -> None:
        """A ticked card's link timers at the board's current time (the board calls it each tick)."""
        with self._lock:
            self._plug_housekeeping()
            if self._master is not None and self._answering():
                self._transmit(self._clock())
                self._check_host_silent()

    def quiescent(self, host: LinkIo | None) -> bool:
        """Nothing in flight on the wire and no host timer due before the clock moves on.

        Every byte the card wrote was read and handled by the host and the other way round
        (the byte counts of both ends match on the same pty), neither parser holds part of a
        frame, and the host has done what its timers asked for at its current time.
        """
        return self.busy_with(host) is None

    def busy_with(self, host: LinkIo | None) -> str | None:
        """Why the wire is not quiet yet (for the board's lock-step log line), or None."""
        with self._lock:
            if self._master is not None and self._parser.pending:
                return "card parser holds a partial frame"
            if host is None:
                idle = self._sender.idle or not self._in_session or self._master is None
                return None if idle else "events not acknowledged"
            if host.partial_frame:
                return "host parser holds a partial frame"
            if host.next_due is not None and host.next_due <= host.now:
                return "host timer due"
            if self._master is None:  # unplugged: until the host noticed it lost its device
                return None if host.device is None else "host still holds the unplugged device"
            if host.device is None:
                return None  # nobody is connected: nothing the card writes is read
            if host.device != self._device:
                return "host holds the pty of before a replug"
            if host.rx_bytes != self._tx_bytes:
                return f"host read {host.rx_bytes} of {self._tx_bytes} bytes"
            if self._rx_bytes != host.tx_bytes:
                return f"card read {self._rx_bytes} of {host.tx_bytes} bytes"
            return None

    def wait_change(self, timeout_s: float) -> None:
        with self._changed:
            self._changed.wait(timeout_s)

    def _plug_housekeeping(self) -> None:
        if self._unplug_request is not None:
            self._replug_at = self._clock() + self._unplug_request
            self._unplug_request = None
            self._close_pty()
            # Nothing the card sends can arrive any more: its session ends as if the host had
            # fallen silent (port state and resume point kept), so it writes nothing into the
            # new pty before the host has opened it and sent identify (pyserial's open flushes
            # what is waiting, which would break the lock-step's byte count).
            self._sender.take_all()
            self._in_session = False
            self._log.warning("serial_unplugged", path=self.path)
            self._unplugged.set()
            self._changed.notify_all()
        if self._master is None and self._replug_at is not None and self._clock() >= self._replug_at:
            self._replug_at = None
            self._open_pty()
            self._log.info("serial_replugged", path=self.path)

    def _on_frame(self, frame: Frame) -> None:
        self.counters["frames_rx"] += 1
        self._last_host_ms = self._now_ms
        spec = BY_ID.get(frame.msg_id)
        if spec is not None and spec.name == "ack":
            done = self._sender.on_ack(frame.seq)
            if done:
                self._confirmed |= any(item.message.name == "identity" for item in done)
                self._changed.notify_all()
            return
        if spec is not None and spec.name == "identify":
            self._on_identify(frame)
            return
        if not self._in_session:
            self._ack(frame.seq, AckStatus.NO_SESSION)
            return
        verdict = self._receiver.classify(frame.seq)
        if verdict == SeqClass.DUPLICATE:
            self.counters["duplicates"] += 1
            self._ack(frame.seq, self._receiver.status_of(frame.seq))
            return
        if verdict == SeqClass.GAP:
            self.counters["gaps"] += 1
            return
        self._confirmed = True  # the host sends commands only once it accepted our identity
        try:
            status = self._apply(decode_payload(frame))
        except DriverError as exc:
            self._log.warning("bad_command", error=str(exc))
            status = AckStatus.UNKNOWN_MESSAGE if spec is None else AckStatus.BAD_LENGTH
        if status != AckStatus.OK:
            self.counters["refused"] += 1
        self._receiver.accept(frame.seq, status)
        self._ack(frame.seq, status)

    def _apply(self, msg: Message) -> AckStatus:
        spec = msg.spec
        if msg.name == "ping":
            return AckStatus.OK
        if spec.direction != "host" or "port" not in msg.fields:
            return AckStatus.UNKNOWN_MESSAGE
        port = msg["port"]
        if not 0 <= port < len(self._ports):
            return AckStatus.BAD_PORT
        kind = self.port_types[port]
        if not msg.name.startswith(kind + "_"):
            return AckStatus.WRONG_PORT_TYPE
        return self._ports[port].apply(msg)

    def _on_identify(self, frame: Frame) -> None:
        try:
            msg = decode_payload(frame)
        except DriverError:
            self._ack(frame.seq, AckStatus.BAD_LENGTH)
            return
        if self._in_session and msg["session"] == self._session and frame.seq == self._identify_seq:
            self._ack(frame.seq, AckStatus.OK)  # a retransmitted identify: our identity is on its way
            return
        if self._confirmed and self._receiver.expected is not None:
            self._resume_point = self._receiver.expected  # else: the host never had the last session
        resumed = self._resume_point is not None
        next_rx = self._resume_point if self._resume_point is not None else 0
        self._receiver.restart(frame.seq)
        self._receiver.accept(frame.seq, AckStatus.OK)
        self._ack(frame.seq, AckStatus.OK)
        self._sender.take_all()
        self._sender.restart(0)
        self._session, self._identify_seq = msg["session"], frame.seq
        self._in_session, self._confirmed = True, False
        self._watchdog_ms = msg["watchdog_ms"]
        now = self._stamp(self._now_ms)
        self._log.info("session_started", session=msg["session"], resumed=int(resumed), next_rx_seq=next_rx)
        self._sender.queue(message(
            "identity", proto_major=self.protocol[0], proto_minor=self.protocol[1], fw_major=self.firmware[0],
            fw_minor=self.firmware[1], fw_patch=self.firmware[2], session=msg["session"], resumed=int(resumed),
            next_rx_seq=next_rx, reset_cause=int(self._reset_cause), t_ms=now, model=self.model,
            port_map=self.port_map))
        for model in self._ports:
            self._sender.queue(model.snapshot(now))
        self._changed.notify_all()

    # ------------------------------------------------------------------ writing

    def _ack(self, seq: int, status: AckStatus = AckStatus.OK) -> None:
        if self._take("drop_ack"):
            return
        self._write(ack_frame(seq, status))

    def _transmit(self, now: float) -> None:
        if not self._answering():
            return
        for wire in self._sender.due(now):
            if self._take("lose_frame"):
                continue
            self._write(wire)
            if self._take("duplicate"):
                self._write(wire)

    def _write(self, data: bytes) -> None:
        if self._master is None or not self._answering():
            self.counters["tx_dropped"] += 1
            return
        if self._take("bad_crc"):
            data = data[:-1] + bytes([data[-1] ^ 0x5A])
        try:
            self._tx_bytes += os.write(self._master, data)
            self.counters["frames_tx"] += 1
        except OSError:  # nobody reads the pty (buffer full) or it is gone: bytes lost, as on a UART
            self.counters["tx_dropped"] += 1
