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
shown as a wrong number. A message with a good checksum is the exchange's word, and its
text is made safe here, where it enters the box (``dsp.callerid_text``: control characters
removed, a number that is not one shown as unavailable, an over-long one cut, a Latin-1
name kept as sent), so every ``CallerId`` the decoder returns passes the same checks as one
the box builds itself, and can always be encoded again for a phone; ``notes`` says what
was changed. A reason for absence other than ``O``/``P`` is read as unavailable, a
parameter sent twice counts once (the first), a number given with a reason for its
absence wins over the reason; only a payload whose structure is broken (a parameter
longer than the message) is malformed.

Encoding is total for any valid ``CallerId``: the name goes out in the characters the
phone's standard has (``name_charset``, ASCII by default: ``dsp.callerid_text.name_octets``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum, IntEnum

from dsp import DspError
from dsp.callerid_text import (
    MAX_NAME_CHARS,
    MAX_NUMBER_DIGITS,
    clean_name,
    clean_number,
    is_valid_name,
    name_octets,
    received_text,
)

__all__ = ["MAX_NAME_CHARS", "MAX_NUMBER_DIGITS"]  # the one definition, in dsp.callerid_text


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
    """1 to ``MAX_NAME_CHARS`` printable characters of any script (sent transliterated)."""
    if not is_valid_name(value):
        raise DspError(f"name must be 1 to {MAX_NAME_CHARS} printable characters, got {value!r}")
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


def displayed_caller_id(
    number: str | None,
    name: str | None,
    absence: str | Absence | None = None,
    datetime: str | None = None,
) -> CallerId:
    """What a phone is shown for these fields, whatever they hold; never raises.

    The same rules as for received text (``dsp.callerid_text``): a number that is not one
    becomes ``absence`` (unavailable if that is not a reason either), a name is cleaned, an
    invalid date and time is left out.
    """
    shown_number = clean_number(number) if isinstance(number, str) else None
    shown_name = clean_name(name) if isinstance(name, str) else None
    reason = None
    if shown_number is None:
        reason = _absence_or_unavailable(absence)
    when = datetime if isinstance(datetime, str) and DATETIME_PATTERN.fullmatch(datetime) else None
    return CallerId(number=shown_number, name=shown_name, datetime=when, number_absence=reason)


def _absence_or_unavailable(value: object) -> Absence:
    if isinstance(value, (str, Absence)):
        try:
            return Absence.parse(value)
        except DspError:
            pass
    return Absence.UNAVAILABLE


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


def encode_mdmf(caller: CallerId, name_charset: str = "ascii") -> bytes:
    """MDMF caller ID / ETSI call set-up (0x80) with the parameters that are present; the
    name in ``name_charset`` (``ascii``: transliterated, see ``dsp.callerid_text``)."""
    payload = b""
    if caller.datetime is not None:
        payload += _parameter(Parameter.DATETIME, caller.datetime.encode("ascii"))
    if caller.number is not None:
        payload += _parameter(Parameter.NUMBER, caller.number.encode("ascii"))
    if caller.number_absence is not None:
        payload += _parameter(Parameter.NUMBER_ABSENCE, caller.number_absence.value.encode("ascii"))
    if caller.name is not None:
        try:
            octets = name_octets(caller.name, name_charset)
        except ValueError as exc:
            raise DspError(str(exc)) from None
        payload += _parameter(Parameter.NAME, octets)
    if caller.name_absence is not None:
        payload += _parameter(Parameter.NAME_ABSENCE, caller.name_absence.value.encode("ascii"))
    if not payload:
        raise DspError("an MDMF caller ID message needs at least one field")
    return frame(MessageType.MDMF_CALLER_ID, payload)


def encode_caller_id(caller: CallerId, message_format: str = "mdmf", name_charset: str = "ascii") -> bytes:
    if message_format == "mdmf":
        return encode_mdmf(caller, name_charset)
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
    notes: tuple[str, ...] = ()  # what the decoder changed to make the text safe (values in hex)

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
    notes: list[str] = []
    try:
        if message_type == MessageType.SDMF_CALLER_ID:
            caller = _sdmf_caller(payload, notes)
            return DecodedMessage(message_type, fmt, True, data, caller=caller, notes=tuple(notes))
        if message_type == MessageType.SDMF_MESSAGE_WAITING:
            return DecodedMessage(message_type, fmt, True, data, mwi=_sdmf_mwi(payload))
        parameters = _parameters(payload) if message_type in (0x80, 0x82) else ()
        if message_type == MessageType.MDMF_CALLER_ID:
            caller = _mdmf_caller(parameters, notes)
            return DecodedMessage(message_type, fmt, True, data, caller=caller, parameters=parameters,
                                  notes=tuple(notes))
        if message_type == MessageType.MDMF_MESSAGE_WAITING:
            mwi = _mdmf_mwi(parameters)
            return DecodedMessage(message_type, fmt, True, data, mwi=mwi, parameters=parameters)
    except DspError as exc:
        return DecodedMessage(message_type, fmt, True, data, error=f"malformed: {exc}")
    return DecodedMessage(message_type, fmt, True, data, error=f"unknown message type 0x{message_type:02x}")


def _sdmf_caller(payload: bytes, notes: list[str]) -> CallerId:
    if len(payload) < 9:
        raise DspError(f"SDMF payload of {len(payload)} bytes is shorter than date, time and number")
    datetime, tail = payload[:8], payload[8:]
    if tail in (b"O", b"P"):
        return _received_caller({"datetime": datetime, "number_absence": tail}, notes)
    return _received_caller({"datetime": datetime, "number": tail}, notes)


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


_MDMF_FIELDS = {
    Parameter.DATETIME: "datetime",
    Parameter.NUMBER: "number",
    Parameter.NAME: "name",
    Parameter.NUMBER_ABSENCE: "number_absence",
    Parameter.NAME_ABSENCE: "name_absence",
}


def _mdmf_caller(parameters: tuple[tuple[int, bytes], ...], notes: list[str]) -> CallerId:
    fields: dict[str, bytes] = {}
    for kind, value in parameters:
        field = _MDMF_FIELDS.get(kind)  # type: ignore[call-overload]
        if field is None:
            continue
        if field in fields:
            notes.append(f"parameter 0x{kind:02x} sent twice: the first one counts")
            continue
        fields[field] = value
    return _received_caller(fields, notes)


def _received_caller(fields: dict[str, bytes], notes: list[str]) -> CallerId:
    """The caller of received fields, made safe (dsp.callerid_text); ``notes`` gets what changed."""
    number = name = datetime = number_absence = name_absence = None
    if "datetime" in fields:
        datetime = received_text(fields["datetime"])
        if not DATETIME_PATTERN.fullmatch(datetime):
            notes.append(f"date and time {fields['datetime'].hex()} is not MMDDHHMM: left out")
            datetime = None
    for key in ("number_absence", "name_absence"):
        if key in fields:
            reason = _absence_or_unavailable(received_text(fields[key]))
            if fields[key] not in (b"O", b"P"):
                notes.append(f"{key.replace('_', ' ')} {fields[key].hex()} is neither O nor P: unavailable")
            if key == "number_absence":
                number_absence = reason
            else:
                name_absence = reason
    if "number" in fields:
        sent = received_text(fields["number"])
        number = clean_number(sent)
        if number is None:
            notes.append(f"number {_hex(fields['number'])} is not a number: unavailable")
            number_absence = number_absence or Absence.UNAVAILABLE
        else:
            number_absence = None
            if number != sent:
                notes.append(f"number {fields['number'].hex()} shown as {number}")
    if "name" in fields:
        sent = received_text(fields["name"])
        name = clean_name(sent)
        if name is not None:
            name_absence = None
        if name != sent:
            notes.append(f"name {_hex(fields['name'])} cleaned")
    return CallerId(number=number, name=name, datetime=datetime,
                    number_absence=number_absence, name_absence=name_absence)


def _mdmf_mwi(parameters: tuple[tuple[int, bytes], ...]) -> bool:
    for kind, value in parameters:
        if kind == Parameter.VISUAL_INDICATOR:
            if value == bytes([VISUAL_INDICATOR_ON]):
                return True
            if value == bytes([VISUAL_INDICATOR_OFF]):
                return False
            raise DspError(f"visual indicator value {value.hex()} is neither ff nor 00")
    raise DspError("message waiting message without a visual indicator (0x0b)")


def _hex(value: bytes) -> str:
    return value.hex() if value else "(empty)"
