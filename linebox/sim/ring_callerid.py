"""The caller ID of a scenario's ``ring`` step: anything an exchange might send.

A scenario checks the box from outside, so its exchange must be able to send what real
exchanges send, the malformed and the hostile included (docs/scenarios.md, "The ring
step's caller ID"). The ``caller_id`` mapping is read into a :class:`RingCallerId`, whose
:meth:`~RingCallerId.message` builds the message for the line's standard when the line
rings:

- fields: ``number`` and ``name`` as text of any characters (Latin-1 where every character
  is one, else UTF-8), or as ``number_bytes`` / ``name_bytes`` in hex; ``withheld``;
  ``datetime`` (any text, normally ``MMDDHHMM``); ``format`` ``mdmf`` (default) or ``sdmf``;
- ``raw``: a whole FSK message in hex, type, length and payload, exactly as given;
- ``dtmf``: a whole DTMF caller-ID string (``A5551234C``);
- ``checksum``: the FSK message's checksum byte (default: the right one, computed);
- ``standard``: send in this standard rather than the line's.

Nothing here is checked against what the box would send: that is the point. Only what
cannot be put on a line at all is refused, with one line naming the field: an FSK message
whose payload would pass 255 bytes, a number that has no DTMF symbols for a DTMF line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from board import BoardError
from board.virtual.signals import CALLERID_STANDARDS
from dsp.callerid import MAX_PAYLOAD, Parameter, checksum
from linebox.sim import ScenarioError

MAX_TEXT = 250  # one parameter's value must fit a length byte beside its neighbours
MAX_DTMF = 128
HEX = re.compile(r"(?:[0-9a-fA-F]{2}\s*)+")
DTMF_SYMBOLS = frozenset("0123456789*#ABCD")
KEYS = ("number", "number_bytes", "name", "name_bytes", "withheld", "datetime", "format", "raw", "dtmf",
        "checksum", "standard")
FIELD_KEYS = ("number", "number_bytes", "name", "name_bytes", "withheld", "datetime", "format")
WITHHELD = b"P"  # GR-30-CORE / EN 300 659-3 reason for absence: private
UNAVAILABLE = b"O"
SDMF = 0x04
MDMF = 0x80


@dataclass(frozen=True)
class RingCallerId:
    """A checked ``caller_id`` of a ``ring`` step (every field as the exchange sends it)."""

    number: bytes | None = None
    name: bytes | None = None
    withheld: bool = False
    datetime: bytes | None = None
    format: str = "mdmf"
    raw: bytes | None = None
    dtmf: str | None = None
    checksum: int | None = None
    standard: str | None = None

    @property
    def shown_number(self) -> str:
        """The number as text for the line's log ("" if none)."""
        return self.number.decode("latin-1") if self.number is not None else ""

    def message(self, standard: str, now_mmddhhmm: str) -> bytes | str:
        """What the exchange sends in ``standard`` (``now_mmddhhmm``: SDMF's default time)."""
        if CALLERID_STANDARDS[standard][0] == "dtmf":
            return self._dtmf()
        if self.dtmf is not None:
            raise BoardError(f"caller_id.dtmf is a DTMF string; this line sends {standard} FSK (use raw)")
        body = self.raw if self.raw is not None else self._fsk_body(now_mmddhhmm)
        return body + bytes([checksum(body) if self.checksum is None else self.checksum])

    def payload_bytes(self) -> int:
        """How long the FSK message built from the fields is (its payload, in bytes)."""
        return len(self._fsk_payload("01010000"))

    def _fsk_body(self, now_mmddhhmm: str) -> bytes:
        payload = self._fsk_payload(now_mmddhhmm)
        return bytes([SDMF if self.format == "sdmf" else MDMF, len(payload)]) + payload

    def _fsk_payload(self, now_mmddhhmm: str) -> bytes:
        if self.format == "sdmf":
            tail = WITHHELD if self.withheld else self.number if self.number is not None else UNAVAILABLE
            return (self.datetime if self.datetime is not None else now_mmddhhmm.encode("ascii")) + tail
        return self._mdmf_payload()

    def _mdmf_payload(self) -> bytes:
        parameters = [
            (Parameter.DATETIME, self.datetime),
            (Parameter.NUMBER, self.number),
            (Parameter.NUMBER_ABSENCE, WITHHELD if self.withheld else None),
            (Parameter.NAME, self.name),
            (Parameter.NAME_ABSENCE, WITHHELD if self.withheld else None),
        ]
        return b"".join(bytes([kind, len(value)]) + value for kind, value in parameters if value is not None)

    def _dtmf(self) -> str:
        if self.raw is not None:
            raise BoardError("caller_id.raw is an FSK message; this line sends DTMF caller ID (use dtmf)")
        if self.dtmf is not None:
            return self.dtmf
        if self.withheld:
            return "B10C"  # EN 300 659-1 DTMF: presentation restricted
        if self.number is None:
            return "B00C"  # not available (DTMF carries no name)
        text = self.number.decode("latin-1")
        if not text or any(ch not in DTMF_SYMBOLS for ch in text):
            raise BoardError(f"caller_id.number {text!r} has no DTMF symbols for a DTMF line (0-9 * # A-D)")
        return "A" + text + "C"


def _text_bytes(value: Any, where: str) -> bytes:
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        hint = " (quote digit strings: '201')" if isinstance(value, int) and not isinstance(value, bool) else ""
        raise ScenarioError(f"{where}: expected text of at most {MAX_TEXT} characters, got {_describe(value)}{hint}")
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


def _hex(value: Any, where: str, max_bytes: int = MAX_TEXT) -> bytes:
    if isinstance(value, str) and value.strip() == "":
        return b""
    if not isinstance(value, str) or not HEX.fullmatch(value.strip()):
        raise ScenarioError(f"{where}: expected bytes in hex like '4d dc 4c', got {_describe(value)}")
    data = bytes.fromhex(value)
    if len(data) > max_bytes:
        raise ScenarioError(f"{where}: at most {max_bytes} bytes, got {len(data)}")
    return data


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def ring_caller_id(value: Any, where: str, ctx: Any = None) -> RingCallerId:
    """A checked :class:`RingCallerId` from a scenario's ``caller_id`` mapping."""
    if not isinstance(value, Mapping):
        raise ScenarioError(f"{where}: expected a mapping of {', '.join(KEYS)}, got {_describe(value)}")
    for key in value:
        if key not in KEYS:
            raise ScenarioError(f"{where}.{key}: unknown key (known: {', '.join(KEYS)})")
    given = {key: item for key, item in value.items() if item is not None}
    for one, other in (("number", "number_bytes"), ("name", "name_bytes"), ("raw", "dtmf")):
        if one in given and other in given:
            raise ScenarioError(f"{where}: give {one} or {other}, not both")
    whole = [key for key in ("raw", "dtmf") if key in given]
    fields = [key for key in FIELD_KEYS if key in given]
    if whole and fields:
        raise ScenarioError(f"{where}: {whole[0]} is a whole message: it takes no {fields[0]}")
    if not whole and not {"number", "number_bytes", "name", "name_bytes", "withheld"} & set(given):
        raise ScenarioError(f"{where}: give a number, a name, withheld: true, raw or dtmf (or leave caller_id out)")
    withheld = given.get("withheld", False)
    if not isinstance(withheld, bool):
        raise ScenarioError(f"{where}.withheld: expected true or false, got {_describe(withheld)}")
    number = _text_bytes(given["number"], f"{where}.number") if "number" in given else None
    number = _hex(given["number_bytes"], f"{where}.number_bytes") if "number_bytes" in given else number
    name = _text_bytes(given["name"], f"{where}.name") if "name" in given else None
    name = _hex(given["name_bytes"], f"{where}.name_bytes") if "name_bytes" in given else name
    if withheld and (number is not None or name is not None):
        raise ScenarioError(f"{where}: a withheld caller ID has no number or name")
    datetime = _text_bytes(given["datetime"], f"{where}.datetime") if "datetime" in given else None
    message_format = given.get("format", "mdmf")
    if message_format not in ("mdmf", "sdmf"):
        raise ScenarioError(f"{where}.format: expected one of mdmf, sdmf, got {_describe(message_format)}")
    if message_format == "sdmf" and name is not None:
        raise ScenarioError(f"{where}.format: SDMF carries no name (use mdmf)")
    raw = _hex(given["raw"], f"{where}.raw", MAX_PAYLOAD + 2) if "raw" in given else None
    if raw is not None and not raw:
        raise ScenarioError(f"{where}.raw: expected at least the message type byte")
    dtmf = given.get("dtmf")
    if dtmf is not None and (not isinstance(dtmf, str) or not 1 <= len(dtmf) <= MAX_DTMF
                             or any(ch not in DTMF_SYMBOLS for ch in dtmf)):
        raise ScenarioError(f"{where}.dtmf: expected 1-{MAX_DTMF} DTMF symbols 0-9 * # A-D, got {_describe(dtmf)}")
    check = given.get("checksum")
    if check is not None and (isinstance(check, bool) or not isinstance(check, int) or not 0 <= check <= 255):
        raise ScenarioError(f"{where}.checksum: expected a byte 0-255 (e.g. 0x5a), got {_describe(check)}")
    standard = given.get("standard")
    if standard is not None and standard not in CALLERID_STANDARDS:
        raise ScenarioError(f"{where}.standard: expected one of {', '.join(CALLERID_STANDARDS)}, "
                            f"got {_describe(standard)}")
    spec = RingCallerId(number=number, name=name, withheld=withheld, datetime=datetime, format=message_format,
                        raw=raw, dtmf=dtmf, checksum=check, standard=standard)
    if raw is None and dtmf is None:
        size = spec.payload_bytes()
        if size > MAX_PAYLOAD:
            raise ScenarioError(f"{where}: the message's payload would be {size} bytes, at most {MAX_PAYLOAD} fit")
    return spec
