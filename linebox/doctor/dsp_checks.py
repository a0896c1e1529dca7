"""The doctor's DSP self-checks: the box's own generators through the G.711 codec into the
box's own receivers, so a broken numpy, a damaged install or a wrong table shows here.

- ``dsp_dtmf``: every DTMF digit (0-9 * # A-D), 50 ms on / 50 ms off at -10 dBm0 per tone
  (inside ITU-T Q.24's 40 ms and -25..0 dBm0 acceptance), through the zone's G.711 law, must
  be decoded by the engine's DTMF receiver (``dsp.dtmf.DtmfDetector``) as exactly those digits;
- ``dsp_caller_id``: a caller ID message in the zone's standard (Bell 202 FSK per Telcordia
  GR-30-CORE, V.23 FSK per ETSI EN 300 659-1, BT SIN 227, or DTMF per the EN 300 659-1 annex),
  as the exchange sends it (``dsp.callerid_sequence``), through the codec, into the receiver the
  engine uses for that standard; every field sent must come back equal (and the FSK checksum
  must be good).

G.711 law per zone: µ-law in North America, A-law elsewhere (ITU-T G.711).
"""

from __future__ import annotations

import numpy as np

from dsp import DspError
from dsp.callerid import CallerId, encode_caller_id
from dsp.callerid_dtmf import DtmfCallerIdReceiver, dtmf_callerid_digits
from dsp.callerid_fsk import CallerIdReceiver
from dsp.callerid_sequence import callerid_sequence, sequence_audio
from dsp.dtmf import DtmfDetector, DtmfDigit
from dsp.dtmfgen import generate_dtmf
from dsp.g711 import alaw_roundtrip, ulaw_roundtrip
from firmware.storage.doctor_report import Check

DIGITS = "0123456789*#ABCD"
DTMF_LEVEL_DBM0 = -10.0
ULAW_ZONES = frozenset({"us", "ca"})
# (sequence standard, variant, receiver standard) per configured caller-ID standard
CALLER_ID_PATHS = {
    "bell202": ("bell202", "type1", "bell202"),
    "v23": ("v23", "dtas", "v23"),
    "v23_bt": ("v23", "sin227", "v23"),
    "dtmf": ("dtmf", "before_ring", "dtmf"),
}
TEST_CALLER = CallerId(number="5551234567", name="LINEBOX TEST", datetime="12312359")
PADDING_SAMPLES = 4000  # 500 ms of silence after the message: the receivers' latency


def codec(zone: str):
    """The zone's G.711 round trip (encode then decode) and its name."""
    return (ulaw_roundtrip, "µ-law") if zone in ULAW_ZONES else (alaw_roundtrip, "A-law")


def check_dtmf(zone: str) -> Check:
    roundtrip, law = codec(zone)
    samples = roundtrip(np.concatenate([generate_dtmf(DIGITS, level_dbm0=DTMF_LEVEL_DBM0),
                                        np.zeros(PADDING_SAMPLES)]))
    detector = DtmfDetector(1)
    heard = "".join(event.digit for event in detector.process(samples.reshape(1, -1))
                    if isinstance(event, DtmfDigit))
    ok = heard == DIGITS
    return Check("dsp_dtmf", ok, f"sent {DIGITS} through {law}, decoded {heard or 'nothing'}")


def _fields(caller: CallerId | None, names: tuple[str, ...]) -> dict[str, object]:
    return {name: getattr(caller, name, None) for name in names}


def check_caller_id(zone: str, standard: str) -> Check:
    if standard not in CALLER_ID_PATHS:
        return Check("dsp_caller_id", False, f"unknown caller ID standard {standard!r}")
    sequence_standard, variant, receiver_standard = CALLER_ID_PATHS[standard]
    roundtrip, law = codec(zone)
    if standard == "dtmf":
        message: bytes | str = dtmf_callerid_digits(TEST_CALLER)
        names: tuple[str, ...] = ("number",)
    else:
        message = encode_caller_id(TEST_CALLER, "mdmf")
        names = ("number", "name", "datetime")
    try:
        audio = sequence_audio(callerid_sequence(sequence_standard, message, variant, ring=False))
    except DspError as exc:
        return Check("dsp_caller_id", False, f"{standard}: the message could not be made: {exc}")
    samples = roundtrip(np.concatenate([np.zeros(PADDING_SAMPLES), audio, np.zeros(PADDING_SAMPLES)]))
    block = samples.reshape(1, -1)
    sent = _fields(TEST_CALLER, names)
    if receiver_standard == "dtmf":
        receiver = DtmfCallerIdReceiver(1)
        heard = receiver.process(block) + receiver.flush()
        callers = [item.parsed.caller if item.parsed else None for item in heard]
        checksum_ok = True
    else:
        fsk = CallerIdReceiver(1, receiver_standard)
        received = fsk.process(block) + fsk.flush()
        callers = [item.message.caller for item in received]
        checksum_ok = all(item.message.checksum_ok for item in received)
    got = _fields(callers[0], names) if callers else {}
    ok = len(callers) == 1 and checksum_ok and got == sent
    what = f"{standard} ({sequence_standard}/{variant}) through {law}"
    if ok:
        return Check("dsp_caller_id", True, f"{what}: {', '.join(f'{k}={v}' for k, v in sent.items())} decoded equal")
    if not callers:
        return Check("dsp_caller_id", False, f"{what}: no message decoded")
    return Check("dsp_caller_id", False, f"{what}: sent {sent}, decoded {got}"
                 + ("" if checksum_ok else " (bad checksum)") + (f", {len(callers)} messages" if len(callers) > 1 else ""))


def dsp_checks(zone: str, standard: str) -> list[Check]:
    return [check_dtmf(zone), check_caller_id(zone, standard)]
