"""Caller ID and message-waiting messages: encoding, decoding and checksum.

The messages are the same bytes whatever carries them (Bell 202 or V.23 FSK, see
``dsp.callerid_fsk``):

    message type | message length | payload (length bytes) | checksum

The checksum is the two's complement of the modulo-256 sum of every byte before it, so the
sum of a whole good message is 0 mod 256 (Telcordia GR-30-CORE, ETSI EN 300 659-3).

Message types:

- ``0x04`` SDMF caller ID (GR-30-CORE): payload = date and time ``MMDDHHMM`` (8 ASCII
  digits) followed by the number, or by a single ``O`` (unavailable) or ``P`` (private);
- ``0x06`` SDMF message waiting (GR-30-CORE): payload ``0x42 0x42 0x42`` = indicator on,
  ``0x6F 0x6F 0x6F`` = off;
- ``0x80`` MDMF caller ID (GR-30-CORE) = "call set-up" (ETSI EN 300 659-3, BT SIN 227,
  which uses the same message and parameter codes): the payload is a list of parameters
  ``type | length | value``:

  ``0x01`` date and time ``MMDDHHMM``, ``0x02`` calling number, ``0x04`` reason for absence
  of the number (``O`` unavailable, ``P`` private), ``0x07`` calling name, ``0x08`` reason
  for absence of the name (``O``/``P``);
- ``0x82`` MDMF message waiting (GR-30-CORE) = "message waiting indicator" (ETSI
  EN 300 659-3): parameter ``0x0B`` visual indicator, ``0xFF`` on and ``0x00`` off.

``decode_message`` never guesses: a message whose checksum fails or that is cut short comes
back with ``checksum_ok=False`` and no caller fields, so a damaged message can never be
shown as a wrong number.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from enum import Enum, IntEnum

from dsp import DspError


class MessageType(IntEnum):
    SDMF_CALLER_ID = 0x04
    SDMF_MESSAGE_WAITING = 0x06
    MDMF_CALLER_ID = 0x80  # ETSI "call set-up"
    MDMF_MESSAGE_WAITING = 0x82  # ETSI "message waiting indicator"


MESSAGE_FORMATS = {
    MessageType.SDMF_CALLER_ID: "sdmf",
    MessageType.SDMF_MESSAGE_WAITING: "sdmf_mwi",
    MessageType.MDMF_CALLER_ID: "mdmf",
    MessageType.MDMF_MESSAGE_WAITING: "mdmf_mwi",
}


class Parameter(IntEnum):
    DATETIME = 0x01
    NUMBER = 0x02
    NUMBER_ABSENCE = 0x04
    NAME = 0x07
    NAME_ABSENCE = 0x08
    VISUAL_INDICATOR = 0x0B


class Absence(Enum):
    """Reason a number or name is missing (GR-30-CORE, EN 300 659-3 parameters 0x04/0x08)."""

    UNAVAILABLE = "O"
    PRIVATE = "P"

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str | Absence) -> Absence:
        """From ``Absence``, its code (``O``/``P``) or its label (``unavailable``/``private``)."""
        if isinstance(value, Absence):
            return value
        for member in cls:
            if value in (member.value, member.label):
                return member
        raise DspError(f"unknown absence reason {value!r} (use unavailable/O or private/P)")


SDMF_MWI_ON = b"\x42\x42\x42"  # GR-30-CORE SDMF message waiting: indicator on
SDMF_MWI_OFF = b"\x6f\x6f\x6f"  # ... and off
VISUAL_INDICATOR_ON = 0xFF  # GR-30-CORE / EN 300 659-3 parameter 0x0B
VISUAL_INDICATOR_OFF = 0x00

MAX_NUMBER_DIGITS = 20  # EN 300 659-3 calling line identity: up to 20 characters
MAX_NAME_CHARS = 50  # EN 300 659-3 calling party name: up to 50 characters (GR-30 displays 15)
MAX_PAYLOAD = 255  # one length byte
NUMBER_PATTERN = re.compile(rf"[0-9*#+]{{1,{MAX_NUMBER_DIGITS}}}")
DATETIME_PATTERN = re.compile(r"(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])([01][0-9]|2[0-3])[0-5][0-9]")


def checksum(data: bytes) -> int:
    """Two's complement of the modulo-256 sum of ``data`` (GR-30-CORE, EN 300 659-3)."""
    return -sum(data) & 0xFF


def validate_datetime(value: str) -> str:
    if not isinstance(value, str) or not DATETIME_PATTERN.fullmatch(value):
        raise DspError(f"date and time must be MMDDHHMM (month 01-12, day 01-31, 24 h clock), got {value!r}")
    return value


def validate_number(value: str) -> str:
    if not isinstance(value, str) or not NUMBER_PATTERN.fullmatch(value):
        raise DspError(f"number must be 1 to {MAX_NUMBER_DIGITS} characters of 0-9 * # +, got {value!r}")
    return value


def validate_name(value: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_NAME_CHARS:
        raise DspError(f"name must be 1 to {MAX_NAME_CHARS} characters, got {value!r}")
    if not all(" " <= ch <= "~" for ch in value):
        raise DspError(f"name must be printable ASCII, got {value!r}")
    return value


@dataclass(frozen=True)
class CallerId:
    """What a caller ID message says; every field may be absent (``None``)."""

    number: str | None = None
    name: str | None = None
    datetime: str | None = None  # MMDDHHMM
    number_absence: Absence | None = None
    name_absence: Absence | None = None

    def __post_init__(self) -> None:
        if self.number is not None:
            validate_number(self.number)
        if self.name is not None:
            validate_name(self.name)
        if self.datetime is not None:
            validate_datetime(self.datetime)
        if self.number_absence is not None:
            object.__setattr__(self, "number_absence", Absence.parse(self.number_absence))
        if self.name_absence is not None:
            object.__setattr__(self, "name_absence", Absence.parse(self.name_absence))
        if self.number is not None and self.number_absence is not None:
            raise DspError("give either a number or a reason for its absence, not both")
        if self.name is not None and self.name_absence is not None:
            raise DspError("give either a name or a reason for its absence, not both")

    @classmethod
    def received(cls, **fields: object) -> CallerId:
        """As a network sent it: text fields are not checked against what we would send."""
        caller = object.__new__(cls)
        for field in dataclasses.fields(cls):
            object.__setattr__(caller, field.name, fields.get(field.name))
        return caller


def frame(message_type: int, payload: bytes) -> bytes:
    """``type | length | payload | checksum``."""
    if not 0 <= message_type <= 0xFF:
        raise DspError(f"message type must be a byte, got {message_type!r}")
    if len(payload) > MAX_PAYLOAD:
        raise DspError(f"message payload is {len(payload)} bytes, at most {MAX_PAYLOAD} fit")
    body = bytes([message_type, len(payload)]) + bytes(payload)
    return body + bytes([checksum(body)])


def _parameter(kind: int, value: bytes) -> bytes:
    return bytes([kind, len(value)]) + value


def encode_sdmf(caller: CallerId) -> bytes:
    """SDMF caller ID (0x04): date and time, then the number or ``O``/``P``."""
    if caller.datetime is None:
        raise DspError("SDMF always carries the date and time (MMDDHHMM)")
    if caller.name is not None or caller.name_absence is not None:
        raise DspError("SDMF carries no name: use MDMF")
    if caller.number is not None:
        tail = caller.number
    elif caller.number_absence is not None:
        tail = caller.number_absence.value
    else:
        raise DspError("SDMF needs a number or a reason for its absence")
    return frame(MessageType.SDMF_CALLER_ID, (caller.datetime + tail).encode("ascii"))


def encode_mdmf(caller: CallerId) -> bytes:
    """MDMF caller ID / ETSI call set-up (0x80) with the parameters that are present."""
    payload = b""
    if caller.datetime is not None:
        payload += _parameter(Parameter.DATETIME, caller.datetime.encode("ascii"))
    if caller.number is not None:
        payload += _parameter(Parameter.NUMBER, caller.number.encode("ascii"))
    if caller.number_absence is not None:
        payload += _parameter(Parameter.NUMBER_ABSENCE, caller.number_absence.value.encode("ascii"))
    if caller.name is not None:
        payload += _parameter(Parameter.NAME, caller.name.encode("ascii"))
    if caller.name_absence is not None:
        payload += _parameter(Parameter.NAME_ABSENCE, caller.name_absence.value.encode("ascii"))
    if not payload:
        raise DspError("an MDMF caller ID message needs at least one field")
    return frame(MessageType.MDMF_CALLER_ID, payload)


def encode_caller_id(caller: CallerId, message_format: str = "mdmf") -> bytes:
    if message_format == "mdmf":
        return encode_mdmf(caller)
    if message_format == "sdmf":
        return encode_sdmf(caller)
    raise DspError(f"unknown caller ID format {message_format!r} (mdmf or sdmf)")


def encode_mwi(on: bool, message_format: str = "mdmf") -> bytes:
    """Message waiting indicator on/off: MDMF 0x82 with parameter 0x0B, or SDMF 0x06."""
    if message_format == "mdmf":
        value = VISUAL_INDICATOR_ON if on else VISUAL_INDICATOR_OFF
        return frame(MessageType.MDMF_MESSAGE_WAITING, _parameter(Parameter.VISUAL_INDICATOR, bytes([value])))
    if message_format == "sdmf":
        return frame(MessageType.SDMF_MESSAGE_WAITING, SDMF_MWI_ON if on else SDMF_MWI_OFF)
    raise DspError(f"unknown message waiting format {message_format!r} (mdmf or sdmf)")


@dataclass(frozen=True)
class DecodedMessage:
    """A received message. ``caller``/``mwi`` are set only when ``checksum_ok`` and well formed.

    ``error`` says what is wrong, if anything: "truncated", "bad checksum", or a
    description of a malformed payload; ``parameters`` lists every MDMF parameter as
    ``(type, value)``, unknown ones included.
    """

    message_type: int
    format: str
    checksum_ok: bool
    raw: bytes
    caller: CallerId | None = None
    mwi: bool | None = None
    parameters: tuple[tuple[int, bytes], ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.checksum_ok and self.error is None


def message_length(header: bytes) -> int | None:
    """Total bytes of the message whose first two bytes are ``header`` (None if unknown yet)."""
    return header[1] + 3 if len(header) >= 2 else None


def decode_message(data: bytes) -> DecodedMessage:
    """Decodes one message (``type | length | payload | checksum``); extra bytes are ignored."""
    data = bytes(data)
    if not data:
        raise DspError("empty message")
    message_type = data[0]
    fmt = MESSAGE_FORMATS.get(message_type, "unknown")  # type: ignore[call-overload]
    total = message_length(data)
    if total is None or len(data) < total:
        return DecodedMessage(message_type, fmt, False, data, error="truncated")
    data = data[:total]
    if sum(data) & 0xFF:
        return DecodedMessage(message_type, fmt, False, data, error="bad checksum")
    payload = data[2:-1]
    try:
        if message_type == MessageType.SDMF_CALLER_ID:
            return DecodedMessage(message_type, fmt, True, data, caller=_sdmf_caller(payload))
        if message_type == MessageType.SDMF_MESSAGE_WAITING:
            return DecodedMessage(message_type, fmt, True, data, mwi=_sdmf_mwi(payload))
        parameters = _parameters(payload) if message_type in (0x80, 0x82) else ()
        if message_type == MessageType.MDMF_CALLER_ID:
            caller = _mdmf_caller(parameters)
            return DecodedMessage(message_type, fmt, True, data, caller=caller, parameters=parameters)
        if message_type == MessageType.MDMF_MESSAGE_WAITING:
            mwi = _mdmf_mwi(parameters)
            return DecodedMessage(message_type, fmt, True, data, mwi=mwi, parameters=parameters)
    except DspError as exc:
        return DecodedMessage(message_type, fmt, True, data, error=f"malformed: {exc}")
    return DecodedMessage(message_type, fmt, True, data, error=f"unknown message type 0x{message_type:02x}")


def _text(value: bytes) -> str:
    return value.decode("latin-1")


def _sdmf_caller(payload: bytes) -> CallerId:
    if len(payload) < 9:
        raise DspError(f"SDMF payload of {len(payload)} bytes is shorter than date, time and number")
    datetime, tail = _text(payload[:8]), _text(payload[8:])
    if tail in ("O", "P"):
        return CallerId.received(datetime=datetime, number_absence=Absence(tail))
    return CallerId.received(datetime=datetime, number=tail)


def _sdmf_mwi(payload: bytes) -> bool:
    if payload == SDMF_MWI_ON:
        return True
    if payload == SDMF_MWI_OFF:
        return False
    raise DspError(f"SDMF message waiting payload {payload.hex()} is neither 424242 nor 6f6f6f")


def _parameters(payload: bytes) -> tuple[tuple[int, bytes], ...]:
    out = []
    offset = 0
    while offset < len(payload):
        if offset + 2 > len(payload):
            raise DspError(f"parameter header cut at byte {offset}")
        kind, length = payload[offset], payload[offset + 1]
        value = payload[offset + 2 : offset + 2 + length]
        if len(value) != length:
            raise DspError(f"parameter 0x{kind:02x} says {length} bytes, {len(value)} left")
        out.append((kind, value))
        offset += 2 + length
    return tuple(out)


def _mdmf_caller(parameters: tuple[tuple[int, bytes], ...]) -> CallerId:
    fields: dict[str, object] = {}
    names = {
        Parameter.DATETIME: "datetime",
        Parameter.NUMBER: "number",
        Parameter.NAME: "name",
        Parameter.NUMBER_ABSENCE: "number_absence",
        Parameter.NAME_ABSENCE: "name_absence",
    }
    for kind, value in parameters:
        field = names.get(kind)  # type: ignore[call-overload]
        if field is None:
            continue
        if field in fields:
            raise DspError(f"parameter 0x{kind:02x} appears twice")
        text = _text(value)
        fields[field] = Absence.parse(text) if field.endswith("_absence") else text
    return CallerId.received(**fields)


def _mdmf_mwi(parameters: tuple[tuple[int, bytes], ...]) -> bool:
    for kind, value in parameters:
        if kind == Parameter.VISUAL_INDICATOR:
            if value == bytes([VISUAL_INDICATOR_ON]):
                return True
            if value == bytes([VISUAL_INDICATOR_OFF]):
                return False
            raise DspError(f"visual indicator value {value.hex()} is neither ff nor 00")
    raise DspError("message waiting message without a visual indicator (0x0b)")
