"""The host end of the line-card UART: serial I/O, handshake, acks and retransmission, keepalive,
wire log, fault dump and reconnection. Protocol in ``docs/protocol.md``.

One thread per link (the "link thread") owns the serial device: it opens the URL
(``serial.serial_for_url``: ``/dev/serial0``, ``/dev/ttyUSB0``, ``socket://host:port``,
``loop://``, or the pty path of the virtual board), reads and parses frames, acknowledges
the card's events after putting them on the event queue, retransmits unacknowledged
commands (``drivers/link_arq.py``), sends keepalives, and reconnects with exponential
back-off when the device disappears or the card stops answering. Callers send commands
from their own thread with :meth:`SerialLink.send` (never blocks; queued while the link is
not up) and take events with :meth:`SerialLink.poll_events`.

States and what moves between them are the table :data:`TRANSITIONS`; ``drivers/ports.py``
turns the :class:`LinkStateChanged` events into per-port events (holding short outages).

Timers run on the link's clock, an argument (``clock``): monotonic on hardware, the
virtual board's tick clock in unpaced runs (wall-clock timers against unpaced ticks made a
seeded storm's outcome depend on the machine's speed). Only a caller's waits and the
``idle_flush_s`` of a partial frame use the monotonic clock. :meth:`SerialLink.io_status`
tells the virtual board what is in flight, for its lock-step (``board/virtual/board.py``).
"""

from __future__ import annotations

import enum
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import serial

from drivers import DriverError
from drivers.link_arq import ReliableSender, SeqClass, SequenceReceiver, ack_frame
from drivers.logs import EventLogger
from drivers.protocol import (
    BY_ID,
    BY_NAME,
    PORT_KIND_CODES,
    PROTOCOL_VERSION,
    AckStatus,
    Frame,
    FrameParser,
    Message,
    ResetCause,
    decode_payload,
    encode_frame,
    encode_payload,
    message,
    seq_diff,
)


class LinkState(enum.Enum):
    CONNECTING = "connecting"  # opening the serial device for the first time
    HANDSHAKE = "handshake"  # device open, identify sent, waiting for the card's identity
    UP = "up"
    DEGRADED = "degraded"  # up, but frames are being lost or corrupted
    DOWN = "down"  # device gone or card silent: retrying with back-off
    REFUSED = "refused"  # the card is incompatible (protocol version, card model, port map): no retry
    CLOSED = "closed"


IN_SERVICE = frozenset({LinkState.UP, LinkState.DEGRADED})
RETRYING = frozenset({LinkState.CONNECTING, LinkState.HANDSHAKE, LinkState.DOWN})
FINAL = frozenset({LinkState.REFUSED, LinkState.CLOSED})


class Trigger(enum.Enum):
    OPENED = "opened"
    IDENTIFIED = "identified"
    INCOMPATIBLE = "incompatible"
    HANDSHAKE_TIMEOUT = "handshake_timeout"
    SERIAL_LOST = "serial_lost"
    NO_ANSWER = "no_answer"
    CARD_RESET = "card_reset"
    NO_SESSION = "no_session"
    ERRORS = "errors"
    CLEAN = "clean"
    CRASHED = "crashed"
    CLOSE = "close"


def _transitions() -> Mapping[tuple[LinkState, Trigger], LinkState]:
    s, t = LinkState, Trigger
    table = {
        (s.CONNECTING, t.OPENED): s.HANDSHAKE,
        (s.HANDSHAKE, t.IDENTIFIED): s.UP,
        (s.HANDSHAKE, t.INCOMPATIBLE): s.REFUSED,
        (s.HANDSHAKE, t.HANDSHAKE_TIMEOUT): s.DOWN,
        (s.HANDSHAKE, t.SERIAL_LOST): s.DOWN,
        (s.HANDSHAKE, t.CARD_RESET): s.HANDSHAKE,
        (s.HANDSHAKE, t.NO_SESSION): s.HANDSHAKE,
        (s.UP, t.ERRORS): s.DEGRADED,
        (s.DEGRADED, t.CLEAN): s.UP,
        (s.DOWN, t.OPENED): s.HANDSHAKE,
        (s.DOWN, t.IDENTIFIED): s.UP,
        (s.DOWN, t.INCOMPATIBLE): s.REFUSED,
        (s.DOWN, t.HANDSHAKE_TIMEOUT): s.DOWN,
        (s.DOWN, t.SERIAL_LOST): s.DOWN,
        (s.DOWN, t.CARD_RESET): s.DOWN,
        (s.DOWN, t.NO_SESSION): s.DOWN,
    }
    for up in IN_SERVICE:
        table[(up, t.SERIAL_LOST)] = s.DOWN
        table[(up, t.NO_ANSWER)] = s.DOWN
        table[(up, t.CARD_RESET)] = s.HANDSHAKE
        table[(up, t.NO_SESSION)] = s.HANDSHAKE
    for state in LinkState:
        if state not in FINAL:
            table[(state, t.CRASHED)] = s.DOWN
        table.setdefault((state, t.CLOSE), s.CLOSED)
    return MappingProxyType(table)


TRANSITIONS = _transitions()


@dataclass(frozen=True)
class LinkConfig:
    """Link timing; the defaults, and what they add up to, are in docs/protocol.md (section 3)."""

    baudrate: int = 115200
    read_timeout_s: float = 0.02  # longest the link thread blocks in read (timer granularity)
    write_timeout_s: float = 1.0
    ack_timeout_s: float = 0.1
    max_retries: int = 4  # retransmissions of one frame before the card is declared silent
    window: int = 8
    keepalive_s: float = 0.5  # a ping when nothing was sent for this long
    reconnect_min_s: float = 0.05
    reconnect_max_s: float = 5.0
    idle_flush_s: float = 0.05  # a partial frame older than this is abandoned
    dump_frames: int = 16  # frames kept for the fault dump (one log line each)
    watchdog_ms: int = 0  # card releases everything after this much host silence (0: off)
    degrade_after_errors: int = 3
    recover_after_frames: int = 50
    max_pending: int = 256
    # An outage shorter than this keeps the ports in service and their calls up: the card keeps
    # its lines' analog state; when the link is back the host resynchronises from the card's
    # snapshot (drivers/ports.py). Longer: the ports go out of service.
    hold_s: float = 3.0

    def __post_init__(self) -> None:
        if self.ack_timeout_s <= 0 or self.max_retries < 0 or self.hold_s < 0 or self.keepalive_s <= 0:
            raise DriverError("link config: ack_timeout_s and keepalive_s must be > 0, max_retries and hold_s >= 0")

    @property
    def silence_limit_s(self) -> float:
        """How long a card may stay silent before the link goes down: the retry budget."""
        return self.ack_timeout_s * (self.max_retries + 1)


@dataclass(frozen=True)
class LinkIo:
    """What is in flight on the host side of the wire, for a lock-step board (``SerialLink.io_status``)."""

    now: float  # the link's clock
    device: int | None  # the open device's id (st_rdev), None when closed or not a device
    rx_bytes: int  # read and processed since the device was opened
    tx_bytes: int  # written since the device was opened
    partial_frame: bool  # bytes of an unfinished frame wait in the parser
    next_due: float | None  # when a timer next has something to do (None: nothing)


@dataclass(frozen=True)
class CardIdentity:
    model: str
    firmware: tuple[int, int, int]
    protocol: tuple[int, int]
    port_types: tuple[str, ...]
    reset_cause: str
    resumed: bool  # the card kept the port state of its previous session


@dataclass(frozen=True)
class LinkStateChanged:
    old: LinkState
    new: LinkState
    reason: str
    identity: CardIdentity | None = None
    resumed: bool = False  # on the way up: the card kept the state of our previous session


@dataclass(frozen=True)
class CardMessage:
    message: Message


LinkEvent = LinkStateChanged | CardMessage
SessionSetup = Callable[[bool], Iterable[Message]]


def default_opener(url: str, config: LinkConfig) -> serial.SerialBase:
    return serial.serial_for_url(
        url, baudrate=config.baudrate, timeout=config.read_timeout_s, write_timeout=config.write_timeout_s
    )


@dataclass
class _Handshake:
    session: int
    seq: int
    wire: bytes
    tries: int
    deadline: float


class SerialLink:
    """The host side of one line card's UART. Thread-safe; ``start()`` then ``send``/``poll_events``."""

    def __init__(
        self,
        url: str,
        port_types: Sequence[str],
        config: LinkConfig | None = None,
        logger: EventLogger | None = None,
        opener: Callable[[str, LinkConfig], serial.SerialBase] = default_opener,
        session_setup: SessionSetup | None = None,
        first_session: int = 1,
        expected_model: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._clock = clock
        self.port_types = tuple(port_types)
        for kind in self.port_types:
            if kind not in ("fxs", "fxo"):
                raise DriverError(f"port type {kind!r} is not fxs or fxo")
        if expected_model is not None and (not isinstance(expected_model, str) or not expected_model.strip()):
            raise DriverError(f"expected card model {expected_model!r} is not a model name (None accepts any card)")
        self.expected_model = expected_model  # from the board definition (card.model); None: any model
        self.config = config or LinkConfig()
        self._log = (logger or EventLogger("link")).bind(url=url)
        self._opener = opener
        self._session_setup = session_setup
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._closing = threading.Event()
        self._events: queue.Queue[LinkEvent] = queue.Queue()
        self._state = LinkState.CONNECTING
        self._serial: serial.SerialBase | None = None
        self._write_failed: str | None = None
        self._read_error = "device read failed"
        self._parser = FrameParser()
        cfg = self.config
        self._sender = ReliableSender(cfg.window, cfg.ack_timeout_s, cfg.max_retries)
        self._receiver = SequenceReceiver()
        self._handshake: _Handshake | None = None
        self._session = (first_session - 1) % 256
        self._had_session = False
        self._next_attempt_at = 0.0
        self._backoff_s = cfg.reconnect_min_s
        self._last_rx_at = 0.0  # monotonic: the partial-frame flush is about the wire, not the link's clock
        self._device: int | None = None
        self._rx_bytes = 0
        self._tx_bytes = 0
        self._settle_probe: Callable[[], bool] | None = None
        self._history: deque[str] = deque(maxlen=cfg.dump_frames)
        self._wire_sink: Callable[[str], None] | None = None
        self._error_score = 0
        self._clean_frames = 0
        self._open_failures = 0
        self.identity: CardIdentity | None = None
        self.refusal: str | None = None
        self.counters = {
            "frames_rx": 0, "frames_tx": 0, "retransmissions": 0, "duplicates": 0, "gaps": 0,
            "bad_messages": 0, "refused_commands": 0, "reconnects": 0, "card_resets": 0,
            "crc_errors": 0, "resyncs": 0,
        }
        self._parser_counted = (0, 0)  # the current parser's (crc_errors, resyncs) already in counters
        self._thread = threading.Thread(target=self._thread_main, name=f"link {url}", daemon=True)

    # ----------------------------------------------------------------- public API

    @property
    def state(self) -> LinkState:
        return self._state

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._closing.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5.0)
        with self._lock:
            self._drop_serial()
            self._change(Trigger.CLOSE, "closed by the host")

    def send(self, name: str, **fields: object) -> None:
        """Queues one command for the card; DriverError at once on a malformed command."""
        msg = message(name, **fields)  # type: ignore[arg-type]
        spec = BY_NAME[name]
        if spec.direction != "host" or name == "identify":
            raise DriverError(f"{name} is not a command the host sends")
        encode_payload(msg)
        with self._lock:
            if self._state in FINAL:
                raise DriverError(f"line card link {self._state.value}: {self.refusal or 'closed'}")
            if len(self._sender.pending) >= self.config.max_pending:
                raise DriverError(f"command queue full: {len(self._sender.pending)} commands wait for the line card")
            self._sender.queue(msg)
            if self._state in IN_SERVICE:
                self._transmit(self._clock())

    def poll_events(self) -> list[LinkEvent]:
        """Everything received since the last call, oldest first; never blocks."""
        events = []
        while True:
            try:
                events.append(self._events.get_nowait())
            except queue.Empty:
                return events

    def next_event(self, timeout_s: float) -> LinkEvent | None:
        try:
            return self._events.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def wait_acked(self, timeout_s: float) -> bool:
        """Waits until every command sent so far is acknowledged; False at once if not in service.

        With a settle probe (the virtual board's lock-step), also False as soon as nothing can
        happen before the link's clock moves on (an ack was lost: the retransmission is due later).
        """
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while not self._sender.idle:
                remaining = deadline - time.monotonic()
                if self._state not in IN_SERVICE or remaining <= 0:
                    return False
                if self._settle_probe is not None:
                    if self._settle_probe():
                        return False
                    remaining = min(remaining, 0.001)
                self._changed.wait(remaining)
            return True

    def now(self) -> float:
        """The link's clock (seconds): monotonic, or the virtual board's ticks."""
        return self._clock()

    def set_settle_probe(self, probe: Callable[[], bool] | None) -> None:
        """``probe()`` is True when nothing is in flight until the clock moves (see ``wait_acked``)."""
        with self._lock:
            self._settle_probe = probe

    def io_status(self) -> LinkIo:
        with self._lock:
            is_open = self._serial is not None
            return LinkIo(self._clock(), self._device if is_open else None, self._rx_bytes, self._tx_bytes,
                          is_open and bool(self._parser.pending), self._next_due())

    def _next_due(self) -> float | None:
        if self._state in FINAL:
            return None
        if self._serial is None:
            return self._next_attempt_at
        if self._state in IN_SERVICE:
            sender = self._sender
            if sender.failed or (sender.pending and len(sender.unacked) < sender.window):
                return self._clock()
            if sender.unacked:
                return sender.next_deadline()
            return (sender.last_sent_at or 0.0) + self.config.keepalive_s
        hs = self._handshake
        return hs.deadline if hs is not None else self._next_attempt_at

    def wait_state(self, states: Iterable[LinkState], timeout_s: float) -> bool:
        wanted = frozenset(states)
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while self._state not in wanted:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    def set_wire_log(self, enabled: bool, sink: Callable[[str], None] | None = None) -> None:
        """One line per frame (direction, hex) to ``sink``, or the ``wire`` log; switchable at runtime."""
        with self._lock:
            if not enabled:
                self._wire_sink = None
            elif sink is not None:
                self._wire_sink = sink
            else:
                wire_log = EventLogger("wire").bind(url=self.url)
                self._wire_sink = lambda line: wire_log.info("frame", line=line)

    def set_session_setup(self, setup: SessionSetup | None) -> None:
        """``setup(resumed)`` gives the commands sent first in every new session (configuration)."""
        with self._lock:
            self._session_setup = setup

    def recent_frames(self) -> list[str]:
        with self._lock:
            return list(self._history)

    # ----------------------------------------------------------------- link thread

    def _thread_main(self) -> None:
        while not self._closing.is_set():
            try:
                self._run()
            except Exception:  # the thread entry: a bug must not kill the link silently
                self._log.exception("link_thread_error")
                with self._lock:
                    self._drop_serial()
                    if self._state not in FINAL:
                        self._change(Trigger.CRASHED, "link thread error (traceback logged)")
                self._closing.wait(self.config.reconnect_max_s)
            else:
                return

    def _run(self) -> None:
        while not self._closing.is_set():
            if self._state in FINAL:
                return
            if self._serial is None:
                self._try_open()
                continue
            data = self._read()
            wall = time.monotonic()
            with self._lock:
                now = self._clock()
                if data is None or self._write_failed:
                    self._serial_lost(self._write_failed or self._read_error)
                    continue
                if data:
                    self._rx_bytes += len(data)
                    self._last_rx_at = wall
                    frames = self._parser.feed(data)
                elif self._parser.pending and wall - self._last_rx_at >= self.config.idle_flush_s:
                    frames = self._parser.flush()
                else:
                    frames = []
                self._count_parser_errors()
                for problem in self._parser.take_errors():
                    self._log.warning("frame_error", error=problem)
                    self._link_error()
                for frame in frames:
                    self._on_frame(frame, now)
                self._timers(now)

    def _try_open(self) -> None:
        now = self._clock()
        if now < self._next_attempt_at:
            # (a tick clock may not advance while we wait: look again soon)
            self._closing.wait(min(self._next_attempt_at - now, self.config.read_timeout_s))
            return
        try:
            port = self._opener(self.url, self.config)
            stale = port.in_waiting  # bytes from before we opened: read and thrown away, but counted
            discarded = len(port.read(stale)) if stale else 0
            device = self._device_id(port)
        except (serial.SerialException, OSError, ValueError) as exc:
            self._open_failures += 1
            if self._open_failures == 1 or self._backoff_s >= self.config.reconnect_max_s:
                self._log.warning("serial_open_failed", error=str(exc), retry_s=round(self._backoff_s, 3))
            self._schedule_retry(self._clock())
            return
        with self._lock:
            self._serial = port
            self._device, self._rx_bytes, self._tx_bytes = device, discarded, 0
            self._write_failed = None
            self._parser = FrameParser()
            self._parser_counted = (0, 0)
            self._open_failures = 0
            self._log.info("serial_opened")
            if self._had_session:
                self.counters["reconnects"] += 1
            self._change(Trigger.OPENED, "serial device opened")
            self._next_attempt_at = 0.0

    @staticmethod
    def _device_id(port: serial.SerialBase) -> int | None:
        try:
            return os.fstat(port.fileno()).st_rdev
        except (AttributeError, OSError, ValueError, serial.SerialException):
            return None  # socket://, loop://: no device number

    def _read(self) -> bytes | None:
        port = self._serial
        try:
            waiting = port.in_waiting
            data = port.read(waiting or 1)
            more = port.in_waiting
            if data and more:
                data += port.read(more)
            return data
        except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
            self._read_error = f"device read failed: {exc}"
            return None

    def _schedule_retry(self, now: float) -> None:
        self._next_attempt_at = now + self._backoff_s
        self._backoff_s = min(self._backoff_s * 2, self.config.reconnect_max_s)

    def _drop_serial(self) -> None:
        port, self._serial = self._serial, None
        self._handshake = None
        self._receiver.expected = None
        if port is not None:
            try:
                port.close()
            except (serial.SerialException, OSError) as exc:
                self._log.debug("serial_close_error", error=str(exc))

    def _serial_lost(self, reason: str) -> None:
        self._log.error("serial_lost", error=reason)
        self._drop_serial()
        self._change(Trigger.SERIAL_LOST, reason)
        self._schedule_retry(self._clock())

    def _write(self, data: bytes, note: str) -> None:
        self._record("tx", data, note)
        port = self._serial
        if port is None or self._write_failed:
            return
        try:
            port.write(data)
            self._tx_bytes += len(data)
            self.counters["frames_tx"] += 1
        except (serial.SerialException, OSError) as exc:
            self._write_failed = f"device write failed: {exc}"

    def _record(self, direction: str, data: bytes, note: str) -> None:
        line = f"{direction} {note} {data.hex(' ')}"
        self._history.append(line)
        if self._wire_sink is not None:
            self._wire_sink(line)

    # ----------------------------------------------------------------- handshake and timers

    def _timers(self, now: float) -> None:
        if self._state in IN_SERVICE:
            self._transmit(now)
            if self._sender.failed:
                self._log.error("card_not_answering", retries=self.config.max_retries,
                                ack_timeout_s=self.config.ack_timeout_s)
                self._dump("card not answering")
                self._receiver.expected = None
                self._change(Trigger.NO_ANSWER, "card not answering (no ack after retries)")
                self._sender.failed = False
                self._schedule_retry(now)
                return
            last = self._sender.last_sent_at or 0.0
            if self._sender.idle and now >= last + self.config.keepalive_s:  # the sum _next_due() uses
                self._sender.queue(message("ping"))
                self._transmit(now)
            return
        if self._state not in RETRYING or self._serial is None:
            return
        hs = self._handshake
        if hs is None:
            if now >= self._next_attempt_at:
                self._start_handshake(now)
            return
        if now < hs.deadline:
            return
        if hs.tries > self.config.max_retries:
            self._log.warning("handshake_timeout", session=hs.session, tries=hs.tries)
            self._handshake = None
            self._change(Trigger.HANDSHAKE_TIMEOUT, "no identity from the card")
            self._schedule_retry(now)
            return
        hs.tries += 1
        hs.deadline = now + self.config.ack_timeout_s
        self._write(hs.wire, "identify (again)")

    def _start_handshake(self, now: float) -> None:
        self._session = (self._session + 1) % 256
        seq = self._sender.next_seq
        msg = message("identify", proto_major=PROTOCOL_VERSION[0], proto_minor=PROTOCOL_VERSION[1],
                      session=self._session, watchdog_ms=self.config.watchdog_ms)
        wire = encode_frame(Frame(seq, BY_NAME["identify"].msg_id, encode_payload(msg)))
        self._handshake = _Handshake(self._session, seq, wire, 1, now + self.config.ack_timeout_s)
        self._receiver.expected = None
        self._write(wire, "identify")

    def _on_identity(self, frame: Frame, msg: Message, hs: _Handshake, now: float) -> None:
        self._receiver.restart(frame.seq)
        self._receiver.accept(frame.seq, AckStatus.OK)
        self._write(ack_frame(frame.seq), "ack")
        kinds = tuple(PORT_KIND_CODES.get(letter, f"unknown {letter!r}") for letter in msg["port_map"])
        cause = msg["reset_cause"]
        identity = CardIdentity(
            model=msg["model"], firmware=(msg["fw_major"], msg["fw_minor"], msg["fw_patch"]),
            protocol=(msg["proto_major"], msg["proto_minor"]), port_types=kinds,
            reset_cause=ResetCause(cause).name.lower() if cause in ResetCause._value2member_map_ else str(cause),
            resumed=bool(msg["resumed"]),
        )
        self.identity = identity
        self._handshake = None
        problem = self._incompatibility(identity)
        if problem:
            self.refusal = problem
            self._log.error("link_refused", reason=problem)
            self._dump("refused")
            self._drop_serial()
            self._change(Trigger.INCOMPATIBLE, problem)
            return
        resumed = identity.resumed and self._had_session
        unacked, pending = self._sender.take_all()
        replay: list[Message] = []
        if resumed:
            first_missing = msg["next_rx_seq"]
            replay = [item.message for item in unacked if seq_diff(item.seq, first_missing) >= 0]
            replay = [m for m in replay if m.name != "ping"]
        elif self._had_session and (unacked or pending):
            self._log.warning("commands_dropped", count=len(unacked) + len(pending),
                              reason="card lost its port state; ports are re-applied")
            pending = []
        self._sender.restart(hs.seq + 1)
        self._sender.last_sent_at = now  # the keepalive counts from here
        setup = list(self._session_setup(resumed)) if self._session_setup else []
        for item in [*setup, *replay, *pending]:
            self._sender.queue(item)
        self._had_session = True
        self._backoff_s = self.config.reconnect_min_s
        self._error_score = 0
        self._log.info("card_identified", model=identity.model, firmware=".".join(map(str, identity.firmware)),
                       protocol=f"{identity.protocol[0]}.{identity.protocol[1]}", ports=",".join(kinds),
                       reset_cause=identity.reset_cause, resumed=int(resumed), replayed=len(replay))
        self._change(Trigger.IDENTIFIED, "handshake complete", identity=identity, resumed=resumed)
        self._transmit(now)

    def _incompatibility(self, identity: CardIdentity) -> str | None:
        card = f"card {identity.model} firmware {'.'.join(map(str, identity.firmware))}"
        if identity.protocol[0] != PROTOCOL_VERSION[0]:
            return (f"protocol version mismatch: host speaks {PROTOCOL_VERSION[0]}.{PROTOCOL_VERSION[1]}, "
                    f"{card} speaks {identity.protocol[0]}.{identity.protocol[1]}")
        if self.expected_model is not None and identity.model != self.expected_model:
            return f"card model mismatch: board definition expects {self.expected_model}, found {card}"
        if identity.port_types != self.port_types:
            return (f"port map mismatch: board definition has {','.join(self.port_types) or 'no ports'}, "
                    f"{card} reports {','.join(identity.port_types) or 'no ports'}")
        return None

    # ----------------------------------------------------------------- frames

    def _count_parser_errors(self) -> None:
        """Adds what the parser counted since last time (it is replaced on every reconnect)."""
        crc, resyncs = self._parser.crc_errors, self._parser.resyncs
        self.counters["crc_errors"] += crc - self._parser_counted[0]
        self.counters["resyncs"] += resyncs - self._parser_counted[1]
        self._parser_counted = (crc, resyncs)

    def _on_frame(self, frame: Frame, now: float) -> None:
        self.counters["frames_rx"] += 1
        spec = BY_ID.get(frame.msg_id)
        name = spec.name if spec else f"0x{frame.msg_id:02x}"
        self._record("rx", encode_frame(frame), f"{name} seq={frame.seq}")
        if spec is not None and spec.name == "ack":
            self._on_ack(frame)
            return
        if spec is not None and spec.name == "card_reset":
            self._on_card_reset(frame)
            return
        hs = self._handshake
        if hs is not None:
            if spec is not None and spec.name == "identity":
                msg = self._decode(frame)
                if msg is not None and msg["session"] == hs.session:
                    self._on_identity(frame, msg, hs, now)
                    return
            self._log.debug("frame_ignored", msg=name, seq=frame.seq, reason="waiting for identity")
            return
        if self._state not in IN_SERVICE:
            return
        verdict = self._receiver.classify(frame.seq)
        if verdict == SeqClass.DUPLICATE:
            self.counters["duplicates"] += 1
            self._log.info("duplicate_frame", msg=name, seq=frame.seq)
            self._write(ack_frame(frame.seq, self._receiver.status_of(frame.seq)), "ack (duplicate)")
            self._link_error()
            return
        if verdict == SeqClass.GAP:
            self.counters["gaps"] += 1
            self._log.warning("sequence_gap", expected=self._receiver.expected, got=frame.seq, msg=name)
            self._link_error()
            return
        msg = self._decode(frame)
        status = AckStatus.OK
        if msg is None:
            status = AckStatus.UNKNOWN_MESSAGE if spec is None else AckStatus.BAD_LENGTH
        elif msg.spec.direction == "host":
            self.counters["bad_messages"] += 1
            self._log.warning("bad_message", error=f"{msg.name} is a host command, not a card event")
            status = AckStatus.UNKNOWN_MESSAGE
        else:
            self._events.put(CardMessage(msg))  # queued before the ack: the virtual board's lock-step relies on it
        self._receiver.accept(frame.seq, status)
        self._write(ack_frame(frame.seq, status), "ack")
        self._clean_frame()

    def _decode(self, frame: Frame) -> Message | None:
        try:
            return decode_payload(frame)
        except DriverError as exc:
            self.counters["bad_messages"] += 1
            self._log.warning("bad_message", error=str(exc), seq=frame.seq)
            return None

    def _on_ack(self, frame: Frame) -> None:
        if len(frame.payload) != 1:
            self._log.warning("bad_message", error=f"ack payload of {len(frame.payload)} bytes")
            return
        status = frame.payload[0]
        if status == AckStatus.NO_SESSION:
            if self._state in IN_SERVICE:
                self._log.warning("card_has_no_session", seq=frame.seq)
                self._dump("card lost its session")
                self._receiver.expected = None
                self._change(Trigger.NO_SESSION, "card has no session (it was reset)")
                self._next_attempt_at = 0.0
            return
        done = self._sender.on_ack(frame.seq)
        for item in done:
            if item.retries == 0:
                self._clean_frame()
        if done and status != AckStatus.OK:
            self.counters["refused_commands"] += 1
            name = AckStatus(status).name if status in AckStatus._value2member_map_ else str(status)
            self._log.warning("command_refused", msg=done[-1].message.name, status=name,
                              fields=",".join(f"{k}={v}" for k, v in done[-1].message.fields.items()))
        if done:
            self._changed.notify_all()

    def _on_card_reset(self, frame: Frame) -> None:
        msg = self._decode(frame)
        self._write(ack_frame(frame.seq), "ack")
        if msg is None:
            return
        cause = msg["cause"]
        cause_name = ResetCause(cause).name.lower() if cause in ResetCause._value2member_map_ else str(cause)
        self.counters["card_resets"] += 1
        self._log.error("card_reset", cause=cause_name)
        self._events.put(CardMessage(msg))
        if self._handshake is not None and self._state not in IN_SERVICE:
            return  # the handshake in progress will establish the new session
        self._dump("card reset")
        self._receiver.expected = None
        self._change(Trigger.CARD_RESET, f"card reset ({cause_name})")
        self._next_attempt_at = 0.0

    def _transmit(self, now: float) -> None:
        before = self._sender.retransmissions
        for wire in self._sender.due(now):
            spec = BY_ID.get(wire[3])
            self._write(wire, f"{spec.name if spec else '?'} seq={wire[2]}")
        again = self._sender.retransmissions - before
        if again:
            self.counters["retransmissions"] += again
            self._log.warning("retransmit", frames=again, oldest_seq=self._sender.unacked[0].seq)
            self._link_error()

    # ----------------------------------------------------------------- state

    def _link_error(self) -> None:
        self._error_score += 1
        self._clean_frames = 0
        if self._state == LinkState.UP and self._error_score >= self.config.degrade_after_errors:
            self._dump("link degraded")
            self._change(Trigger.ERRORS, f"{self._error_score} link errors")

    def _clean_frame(self) -> None:
        self._clean_frames += 1
        if self._clean_frames >= self.config.recover_after_frames:
            self._error_score = 0
            self._clean_frames = 0
            if self._state == LinkState.DEGRADED:
                self._change(Trigger.CLEAN, f"{self.config.recover_after_frames} frames without error")

    def _change(self, trigger: Trigger, reason: str, identity: CardIdentity | None = None,
                resumed: bool = False) -> None:
        old = self._state
        new = TRANSITIONS.get((old, trigger))
        if new is None:
            self._log.warning("link_trigger_ignored", state=old.value, trigger=trigger.value)
            return
        if new == old:
            return
        self._state = new
        level = self._log.info if new in IN_SERVICE or new == LinkState.CLOSED else self._log.warning
        level("link_state", old=old.value, new=new.value, reason=reason)
        self._events.put(LinkStateChanged(old, new, reason, identity, resumed))
        self._changed.notify_all()

    def _dump(self, why: str) -> None:
        frames = list(self._history)
        self._log.warning("frame_dump", why=why, frames=len(frames))
        for number, line in enumerate(frames, 1):
            self._log.warning("frame_dump_line", n=f"{number}/{len(frames)}", frame=line)
