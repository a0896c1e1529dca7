"""The line-card UART protocol: frames, the message table, encoding and a resynchronising parser.

Specified in ``docs/protocol.md``; this module is its executable form, in the spirit of
Klipper's msgproto: one table lists every message with its id, direction and typed fields,
and generic code encodes and decodes them.

Frame (all multi-byte integers big-endian)::

    A5 | LEN | SEQ | ID | payload (0..58 bytes) | CRC-16 hi | CRC-16 lo

``LEN`` is the whole frame length, 6..64 bytes. The CRC is CRC-16/CCITT-FALSE (poly 0x1021,
init 0xFFFF, no reflection, no final XOR; check value 0x29B1 over ``b"123456789"``) over
``LEN, SEQ, ID, payload``. There is no byte stuffing: the receiver hunts for the sync byte,
checks the length range and the CRC, and on any failure drops that one sync byte and hunts
again, so a valid frame following garbage is always found (see :class:`FrameParser`).
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from drivers import DriverError

PROTOCOL_VERSION = (1, 1)  # (major, minor): a major mismatch is refused at the handshake
#   1.1 added fxo_line_timing and fxo_ring_held; a 1.0 card answers UNKNOWN_MESSAGE to the first
#   and the host falls back (RingStart at the end of the first burst, the card's fixed pre-dial hold).

SYNC = 0xA5
HEADER_BYTES = 4  # sync, length, sequence, message id
CRC_BYTES = 2
MIN_FRAME_BYTES = HEADER_BYTES + CRC_BYTES
MAX_FRAME_BYTES = 64
MAX_PAYLOAD_BYTES = MAX_FRAME_BYTES - MIN_FRAME_BYTES
SEQ_MODULUS = 256
TIME_MODULUS = 1 << 32  # card timestamps: ms since card reset, u32, wrap after 49.7 days

CRC_POLY = 0x1021  # CRC-16/CCITT-FALSE
CRC_INIT = 0xFFFF
CRC_CHECK = 0x29B1  # crc16(b"123456789")


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ CRC_POLY) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc16(data: bytes | bytearray | memoryview, crc: int = CRC_INIT) -> int:
    """CRC-16/CCITT-FALSE of ``data``."""
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC_TABLE[(crc >> 8) ^ byte]
    return crc


class AckStatus(enum.IntEnum):
    """Result carried by an ``ack``: the command was applied (OK) or refused (and nothing changed)."""

    OK = 0
    BAD_PORT = 1  # no such port
    WRONG_PORT_TYPE = 2  # an FXS command to an FXO port or the reverse
    BAD_ARGUMENT = 3  # a field out of its documented range
    BAD_STATE = 4  # e.g. pulse dialling on a line that is not seized
    UNKNOWN_MESSAGE = 5  # message id not in the table (the frame is consumed, not retried)
    NO_SESSION = 6  # the card has no session (reset): the host must send ``identify``
    BAD_LENGTH = 7  # payload does not match the message's fields


class ResetCause(enum.IntEnum):
    POWER_ON = 0
    WATCHDOG = 1  # the card's own watchdog
    BROWN_OUT = 2
    SOFTWARE = 3
    HOST_WATCHDOG = 4  # no frame from the host for watchdog_ms: lines released, session dropped


class FaultCode(enum.IntEnum):
    SLIC = 1  # FXS line driver fault (e.g. tip/ring shorted to ground)
    DAA = 2  # FXO line interface fault
    RING_OVERLOAD = 3  # ring generator over current (too many ringers)
    POWER = 4  # battery supply out of range
    RX_OVERRUN = 5  # the card's UART receive buffer overflowed


class LineState(enum.IntEnum):
    """FXO line voltage class (card thresholds: < 3 V absent, < 15 V in use, else idle)."""

    ABSENT = 0
    IDLE = 1
    IN_USE = 2  # a parallel phone on the same line is off hook
    UNKNOWN = 3  # port_status only: not measured yet (after reset), or the line is seized


class Impedance(enum.IntEnum):
    """FXO AC termination impedance (country setting)."""

    R600 = 0  # 600 ohm (North America, much of Latin America)
    R900 = 1  # 900 ohm (Brazil)
    CTR21 = 2  # 270 ohm + 750 ohm || 150 nF (ETSI TBR 21 / CTR 21, EU)
    BT3 = 3  # 370 ohm + 620 ohm || 310 nF (UK)
    AU = 4  # 220 ohm + 820 ohm || 120 nF (Australia)


PORT_KIND_CODES = MappingProxyType({"O": "fxo", "S": "fxs"})  # letters of identity.port_map
NO_PORT = 0xFF  # card_fault / card_overtemp about the whole card
FIRST_RING = 0xFFFF  # fxo_ring_on.off_ms of the first burst of a ring train
FXO_PREDIAL_MS = 500  # card default (and 1.0 cards): an FXO line is held off hook this long after seizure before its first break
#   (flash or dial pulse), so the exchange has seen the seizure and attached a register. Vendor
#   defaults for the same wait: Cisco/Linksys SPA400 "Dial out wait" 400 ms, SPA3102 "PSTN
#   Dialing Delay" 1 s. A host that needs more (a slow exchange) waits for dial tone first.
MAX_CADENCE_VALUES = 8  # fxs_ring: up to four on/off pairs
MAX_TEXT_BYTES = 16

_SCALARS = MappingProxyType({"u8": ">B", "i8": ">b", "u16": ">H", "i16": ">h", "u32": ">I"})
_RANGES = MappingProxyType(
    {"u8": (0, 0xFF), "i8": (-0x80, 0x7F), "u16": (0, 0xFFFF), "i16": (-0x8000, 0x7FFF), "u32": (0, 0xFFFFFFFF)}
)
FIELD_TYPES = frozenset({*_SCALARS, "str", "u16[]"})


@dataclass(frozen=True)
class MessageSpec:
    msg_id: int
    name: str
    direction: str  # "host" (host to card), "card" (card to host) or "both"
    sequenced: bool  # acknowledged and retransmitted; ``ack`` is the only unsequenced message
    fields: tuple[tuple[str, str], ...]
    doc: str


def _spec(msg_id: int, name: str, direction: str, fields: str, doc: str, sequenced: bool = True) -> MessageSpec:
    parsed = tuple(tuple(item.split("=")) for item in fields.split())
    for _, kind in parsed:
        assert kind in FIELD_TYPES, kind
    return MessageSpec(msg_id, name, direction, sequenced, parsed, doc)  # type: ignore[arg-type]


MESSAGES: tuple[MessageSpec, ...] = (
    # link layer
    _spec(0x01, "ack", "both", "status=u8", "acknowledges the frame whose SEQ it carries", sequenced=False),
    _spec(0x02, "identify", "host", "proto_major=u8 proto_minor=u8 session=u8 watchdog_ms=u16",
          "starts a session; watchdog_ms 0 = host watchdog off"),
    _spec(0x03, "identity", "card",
          "proto_major=u8 proto_minor=u8 fw_major=u8 fw_minor=u8 fw_patch=u8 session=u8 resumed=u8 "
          "next_rx_seq=u8 reset_cause=u8 t_ms=u32 model=str port_map=str",
          "answer to identify; resumed=1: port state kept, next_rx_seq = first host SEQ not applied"),
    _spec(0x04, "ping", "host", "", "keepalive; the ack is the answer"),
    _spec(0x05, "port_status", "card", "port=u8 hook=u8 ringing=u8 polarity=i8 line=u8 volts_dv=u16 t_ms=u32",
          "snapshot of one port after identity"),
    # FXS commands
    _spec(0x10, "fxs_ring", "host", "port=u8 cadence_ms=u16[]", "ring: on/off ms pairs, repeated until stopped"),
    _spec(0x11, "fxs_stop_ring", "host", "port=u8", "stop ringing"),
    _spec(0x12, "fxs_polarity", "host", "port=u8 polarity=i8", "battery on, +1 normal, -1 reversed"),
    _spec(0x13, "fxs_open_loop", "host", "port=u8 ms=u16", "remove battery for ms (0: until fxs_polarity)"),
    _spec(0x14, "fxs_oht", "host", "port=u8 ms=u16", "on-hook transmission window: no ring, battery on"),
    _spec(0x15, "fxs_timing", "host",
          "port=u8 debounce_ms=u8 pulse_break_max_ms=u8 pulse_make_max_ms=u16 flash_max_ms=u16",
          "hook detection timing of one FXS port"),
    # FXS events
    _spec(0x20, "fxs_off_hook", "card", "port=u8 t_ms=u32", "phone went off hook"),
    _spec(0x21, "fxs_on_hook", "card", "port=u8 t_ms=u32", "hang-up: on hook longer than flash_max_ms (t = break start)"),
    _spec(0x22, "fxs_flash", "card", "port=u8 ms=u16 t_ms=u32", "hook flash of the measured break length"),
    _spec(0x23, "fxs_digit", "card", "port=u8 pulses=u8 t_ms=u32", "pulse-dialled digit (number of breaks)"),
    # FXO commands
    _spec(0x30, "fxo_seize", "host", "port=u8", "go off hook"),
    _spec(0x31, "fxo_release", "host", "port=u8", "go on hook (cancels queued flash and dialling)"),
    _spec(0x32, "fxo_flash", "host", "port=u8 ms=u16", "on-hook break of ms on a seized line"),
    _spec(0x33, "fxo_dial", "host", "port=u8 pulses=u8", "pulse-dial one digit (1..10 breaks), queued"),
    _spec(0x34, "fxo_country", "host",
          "port=u8 impedance=u8 ring_threshold_v=u8 ring_debounce_ms=u16 ring_end_ms=u16 dial_break_ms=u8 "
          "dial_make_ms=u8 dial_interdigit_ms=u16 loop_drop_min_ms=u16 line_debounce_ms=u16",
          "country settings of one FXO port"),
    _spec(0x35, "fxo_line_timing", "host", "port=u8 ring_qualify_ms=u16 predial_ms=u16",
          "report fxo_ring_held once a burst lasted ring_qualify_ms (0: off); pre-dial hold of the port (1.1)"),
    # FXO events
    _spec(0x40, "fxo_ring_on", "card", "port=u8 off_ms=u16 t_ms=u32", "ring burst started; off_ms: silence before"),
    _spec(0x41, "fxo_ring_off", "card", "port=u8 on_ms=u16 t_ms=u32", "ring burst ended; on_ms: its length"),
    _spec(0x42, "fxo_ring_end", "card", "port=u8 t_ms=u32", "ring train over (ring_end_ms silence, or seized)"),
    _spec(0x43, "fxo_polarity", "card", "port=u8 polarity=i8 t_ms=u32", "tip/ring polarity changed"),
    _spec(0x44, "fxo_loop_drop", "card", "port=u8 ms=u16 t_ms=u32", "loop current absent for loop_drop_min_ms"),
    _spec(0x45, "fxo_line", "card", "port=u8 state=u8 volts_dv=u16 t_ms=u32", "line voltage class changed"),
    _spec(0x46, "fxo_ring_held", "card", "port=u8 t_ms=u32", "the ring burst has lasted ring_qualify_ms (1.1)"),
    # card events
    _spec(0x50, "card_fault", "card", "code=u8 port=u8 t_ms=u32", "hardware fault (port 255: whole card)"),
    _spec(0x51, "card_overtemp", "card", "port=u8 temp_c=i8 t_ms=u32", "over temperature (port 255: card)"),
    _spec(0x52, "card_reset", "card", "cause=u8 t_ms=u32", "sent after a reset; accepted whatever its SEQ"),
)

BY_ID: Mapping[int, MessageSpec] = MappingProxyType({spec.msg_id: spec for spec in MESSAGES})
BY_NAME: Mapping[str, MessageSpec] = MappingProxyType({spec.name: spec for spec in MESSAGES})


@dataclass(frozen=True)
class Frame:
    """One frame on the wire, before the payload is interpreted."""

    seq: int
    msg_id: int
    payload: bytes = b""

    @property
    def spec(self) -> MessageSpec | None:
        return BY_ID.get(self.msg_id)


@dataclass(frozen=True)
class Message:
    """A decoded message: its name and field values (ints, ``str``, or a tuple of ints for ``u16[]``)."""

    name: str
    fields: dict = field(default_factory=dict)

    def __getitem__(self, key: str):
        return self.fields[key]

    @property
    def spec(self) -> MessageSpec:
        return BY_NAME[self.name]


def message(name: str, **fields: int | str | Iterable[int]) -> Message:
    """``message("fxs_ring", port=2, cadence_ms=[2000, 4000])``, checked against the table."""
    spec = BY_NAME.get(name)
    if spec is None:
        raise DriverError(f"unknown message {name!r}")
    names = [fname for fname, _ in spec.fields]
    missing = [fname for fname in names if fname not in fields]
    extra = sorted(set(fields) - set(names))
    if missing or extra:
        raise DriverError(f"{name}: missing fields {missing}, unexpected fields {extra}")
    values = {}
    for fname, kind in spec.fields:
        value = fields[fname]
        if kind == "u16[]":
            value = tuple(int(v) for v in value)  # type: ignore[union-attr]
        elif kind != "str":
            value = int(value)  # type: ignore[arg-type]
        values[fname] = value
    return Message(name, values)


def encode_payload(msg: Message) -> bytes:
    spec = BY_NAME.get(msg.name)
    if spec is None:
        raise DriverError(f"unknown message {msg.name!r}")
    out = bytearray()
    for fname, kind in spec.fields:
        value = msg.fields.get(fname)
        if value is None:
            raise DriverError(f"{msg.name}: missing field {fname}")
        if kind == "str":
            raw = str(value).encode("ascii", errors="strict") if str(value).isascii() else None
            if raw is None or len(raw) > MAX_TEXT_BYTES:
                raise DriverError(f"{msg.name}.{fname}: need ASCII text of at most {MAX_TEXT_BYTES} bytes")
            out += bytes([len(raw)]) + raw
        elif kind == "u16[]":
            items = tuple(value)
            if len(items) > MAX_CADENCE_VALUES:
                raise DriverError(f"{msg.name}.{fname}: at most {MAX_CADENCE_VALUES} values, got {len(items)}")
            out.append(len(items))
            for item in items:
                _check_range(msg.name, fname, "u16", item)
                out += struct.pack(">H", item)
        else:
            _check_range(msg.name, fname, kind, value)
            out += struct.pack(_SCALARS[kind], value)
    if len(out) > MAX_PAYLOAD_BYTES:
        raise DriverError(f"{msg.name}: payload of {len(out)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    return bytes(out)


def _check_range(name: str, fname: str, kind: str, value: object) -> None:
    low, high = _RANGES[kind]
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise DriverError(f"{name}.{fname}={value!r} out of range for {kind} ({low}..{high})")


def decode_payload(frame: Frame) -> Message:
    """The message in ``frame``; DriverError on an unknown id or a payload that does not fit."""
    spec = BY_ID.get(frame.msg_id)
    if spec is None:
        raise DriverError(f"unknown message id 0x{frame.msg_id:02x}")
    data = frame.payload
    pos = 0
    values: dict = {}

    def need(count: int, what: str) -> None:
        if pos + count > len(data):
            raise DriverError(f"{spec.name} payload truncated at {what}: need {pos + count} bytes, have {len(data)}")

    for fname, kind in spec.fields:
        if kind in _SCALARS:
            size = struct.calcsize(_SCALARS[kind])
            need(size, fname)
            values[fname] = struct.unpack_from(_SCALARS[kind], data, pos)[0]
            pos += size
            continue
        need(1, fname)
        count = data[pos]
        pos += 1
        if kind == "str":
            need(count, fname)
            raw = bytes(data[pos : pos + count])
            if not raw.isascii():
                raise DriverError(f"{spec.name}.{fname}: text is not ASCII")
            values[fname] = raw.decode("ascii")
            pos += count
        else:
            need(2 * count, fname)
            values[fname] = struct.unpack_from(f">{count}H", data, pos)
            pos += 2 * count
    if pos != len(data):
        raise DriverError(f"{spec.name} payload has {len(data) - pos} extra bytes")
    return Message(spec.name, values)


def encode_frame(frame: Frame) -> bytes:
    if not 0 <= frame.seq < SEQ_MODULUS or not 0 <= frame.msg_id <= 0xFF:
        raise DriverError(f"frame seq {frame.seq} or id {frame.msg_id} out of range")
    if len(frame.payload) > MAX_PAYLOAD_BYTES:
        raise DriverError(f"payload of {len(frame.payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    body = bytes([len(frame.payload) + MIN_FRAME_BYTES, frame.seq, frame.msg_id]) + bytes(frame.payload)
    crc = crc16(body)
    return bytes([SYNC]) + body + bytes([crc >> 8, crc & 0xFF])


def decode_frame(data: bytes) -> Frame:
    """Exactly one frame; DriverError with the reason otherwise (no resynchronisation here)."""
    if len(data) < 2:
        raise DriverError(f"frame truncated: need {MIN_FRAME_BYTES} bytes, have {len(data)}")
    if data[0] != SYNC:
        raise DriverError(f"bad sync byte 0x{data[0]:02x}, expected 0x{SYNC:02x}")
    length = data[1]
    if not MIN_FRAME_BYTES <= length <= MAX_FRAME_BYTES:
        raise DriverError(f"bad frame length {length}, expected {MIN_FRAME_BYTES}..{MAX_FRAME_BYTES}")
    if len(data) < length:
        raise DriverError(f"frame truncated: need {length} bytes, have {len(data)}")
    if len(data) > length:
        raise DriverError(f"{len(data) - length} bytes after the end of the frame")
    received = (data[length - 2] << 8) | data[length - 1]
    computed = crc16(data[1 : length - 2])
    if received != computed:
        raise DriverError(f"CRC mismatch: frame says 0x{received:04x}, computed 0x{computed:04x}")
    return Frame(seq=data[2], msg_id=data[3], payload=bytes(data[HEADER_BYTES : length - 2]))


def encode_message(seq: int, msg: Message) -> bytes:
    payload = encode_payload(msg)  # raises on an unknown name
    return encode_frame(Frame(seq, BY_NAME[msg.name].msg_id, payload))


def frame_bytes(seq: int, name: str, **fields: int | str | Iterable[int]) -> bytes:
    """``frame_bytes(7, "fxo_seize", port=0)``: the wire bytes of one message."""
    return encode_message(seq, message(name, **fields))


def decode_message(data: bytes) -> tuple[int, Message]:
    """(seq, message) of one complete frame."""
    frame = decode_frame(data)
    return frame.seq, decode_payload(frame)


class FrameParser:
    """Turns a byte stream into frames, resynchronising after noise, cut or corrupted frames.

    ``feed()`` returns the complete valid frames found so far and keeps an incomplete tail.
    A candidate frame (sync byte, plausible length) that fails its CRC costs one byte: the
    hunt restarts after its sync byte, so a real frame inside a false candidate is found.
    When the line goes idle the owner calls ``flush()``: a partial candidate will not be
    completed, so its sync byte is dropped and the rest searched again. Problems are
    counted and their one-line descriptions kept for ``take_errors()``.
    """

    def __init__(self, max_errors: int = 64) -> None:
        self._buffer = bytearray()
        self._errors: list[str] = []
        self._max_errors = max_errors
        self.frames_ok = 0
        self.crc_errors = 0
        self.length_errors = 0
        self.garbage_bytes = 0
        self.truncated = 0
        self.resyncs = 0  # times the hunt for a sync byte restarted (noise, bad length, CRC, cut frame)

    def _error(self, text: str) -> None:
        if len(self._errors) < self._max_errors:
            self._errors.append(text)

    def take_errors(self) -> list[str]:
        errors, self._errors = self._errors, []
        return errors

    @property
    def pending(self) -> int:
        """Bytes held waiting for the rest of a frame."""
        return len(self._buffer)

    def feed(self, data: bytes | bytearray) -> list[Frame]:
        self._buffer += data
        return self._scan(final=False)

    def flush(self) -> list[Frame]:
        """The line is idle: give up on any partial frame, keep the frames after it."""
        return self._scan(final=True)

    def _scan(self, final: bool) -> list[Frame]:
        frames: list[Frame] = []
        buf = self._buffer
        while buf:
            start = buf.find(SYNC)
            if start < 0:
                self._skip(len(buf))
                break
            if start:
                self._skip(start)
            if len(buf) < 2:
                if final:
                    self._drop_partial()
                    continue
                break
            length = buf[1]
            if not MIN_FRAME_BYTES <= length <= MAX_FRAME_BYTES:
                self.length_errors += 1
                self.resyncs += 1
                self._error(f"bad frame length {length}, resynchronising")
                del buf[:1]
                continue
            if len(buf) < length:
                if final:
                    self._drop_partial()
                    continue
                break
            received = (buf[length - 2] << 8) | buf[length - 1]
            computed = crc16(memoryview(buf)[1 : length - 2])
            if received != computed:
                self.crc_errors += 1
                self.resyncs += 1
                self._error(f"CRC mismatch: frame says 0x{received:04x}, computed 0x{computed:04x}")
                del buf[:1]
                continue
            frames.append(Frame(seq=buf[2], msg_id=buf[3], payload=bytes(buf[HEADER_BYTES : length - 2])))
            self.frames_ok += 1
            del buf[:length]
        return frames

    def _skip(self, count: int) -> None:
        self.garbage_bytes += count
        self.resyncs += 1
        self._error(f"skipped {count} bytes of noise before a sync byte")
        del self._buffer[:count]

    def _drop_partial(self) -> None:
        self.truncated += 1
        self.resyncs += 1
        self._error(f"frame truncated: need {self._wanted()} bytes, have {len(self._buffer)}")
        del self._buffer[:1]

    def _wanted(self) -> int:
        return self._buffer[1] if len(self._buffer) > 1 else MIN_FRAME_BYTES


def seq_add(seq: int, delta: int) -> int:
    return (seq + delta) % SEQ_MODULUS


def seq_diff(later: int, earlier: int) -> int:
    """How far ``later`` is after ``earlier`` in sequence space, in -128..127."""
    return ((later - earlier + 128) % SEQ_MODULUS) - 128


def unwrap_ms(previous: int | None, raw: int) -> int:
    """Extends a wrapping u32 card timestamp to a monotonic count, given the previous result.

    The card's clock is ms since its reset modulo 2**32; consecutive events are far less
    than 2**31 ms (24.8 days) apart, so the forward modular difference is the elapsed time.
    """
    if previous is None:
        return raw
    delta = (raw - previous) % TIME_MODULUS
    if delta >= TIME_MODULUS // 2:  # a slightly older stamp (events reordered by retransmission)
        delta -= TIME_MODULUS
    return previous + delta
