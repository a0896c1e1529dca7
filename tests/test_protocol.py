"""The line-card frame format and message table against docs/protocol.md, and the parser under fuzzing."""

import binascii
import pathlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers import DriverError
from drivers.protocol import (
    BY_NAME,
    CRC_CHECK,
    MAX_FRAME_BYTES,
    MESSAGES,
    SYNC,
    TIME_MODULUS,
    Frame,
    FrameParser,
    crc16,
    decode_frame,
    decode_message,
    decode_payload,
    encode_frame,
    frame_bytes,
    message,
    seq_diff,
    unwrap_ms,
)

DOC = pathlib.Path(__file__).resolve().parent.parent / "docs" / "protocol.md"


def doc_block(kind: str) -> list[tuple[str, bytes, str]]:
    """(label, frame bytes, second line) of each example in the ```kind block of the doc."""
    text = DOC.read_text()
    block = re.search(rf"```{kind}\n(.*?)```", text, re.S)
    assert block, f"no ```{kind} block in {DOC.name}"
    lines = block.group(1).rstrip("\n").split("\n")
    assert len(lines) % 2 == 0
    examples = []
    for first, second in zip(lines[0::2], lines[1::2], strict=True):
        label, hex_text = first.split(None, 1)
        examples.append((label, bytes.fromhex(hex_text), second.strip()))
    return examples


def parse_fields(text: str) -> dict:
    fields = {}
    for item in text.split():
        key, value = item.split("=", 1)
        if "," in value:
            fields[key] = tuple(int(v) for v in value.split(","))
        else:
            try:
                fields[key] = int(value)
            except ValueError:
                fields[key] = value
    return fields


EXAMPLES = doc_block("frames")
REJECTS = doc_block("rejects")


def test_crc_is_ccitt_false_with_its_check_value():
    assert crc16(b"123456789") == CRC_CHECK == 0x29B1


@given(st.binary(max_size=80))
def test_crc_matches_an_independent_implementation(data):
    assert crc16(data) == binascii.crc_hqx(data, 0xFFFF)


def test_every_message_has_a_documented_example():
    assert {label for label, _, _ in EXAMPLES} == set(BY_NAME)


@pytest.mark.parametrize(("label", "wire", "fields"), EXAMPLES, ids=[f"{e[0]}-{i}" for i, e in enumerate(EXAMPLES)])
def test_documented_example_parses_and_serialises_back(label, wire, fields):
    expected = parse_fields(fields)
    seq, msg = decode_message(wire)
    assert msg.name == label
    assert {"seq": seq, **msg.fields} == expected
    assert frame_bytes(expected.pop("seq"), label, **expected) == wire


@pytest.mark.parametrize(("label", "wire", "fields"), EXAMPLES, ids=[f"{e[0]}_invalid-{i}" for i, e in enumerate(EXAMPLES)])
def test_documented_example_invalid_variant(label, wire, fields):
    corrupted = bytearray(wire)
    corrupted[4 if len(wire) > 6 else 2] ^= 0x01  # a payload byte (the SEQ byte of an empty message)
    with pytest.raises(DriverError, match="CRC mismatch"):
        decode_frame(bytes(corrupted))


@pytest.mark.parametrize(("label", "wire", "fields"), EXAMPLES, ids=[f"{e[0]}_truncated-{i}" for i, e in enumerate(EXAMPLES)])
def test_documented_example_truncated_variant(label, wire, fields):
    with pytest.raises(DriverError, match=f"frame truncated: need {len(wire)} bytes, have {len(wire) - 1}"):
        decode_frame(wire[:-1])


@pytest.mark.parametrize(("label", "wire", "error"), REJECTS, ids=[r[0] for r in REJECTS])
def test_documented_rejects(label, wire, error):
    with pytest.raises(DriverError, match=re.escape(error)):
        decode_message(wire)


def test_documented_message_table_is_the_code_table():
    rows = re.findall(r"^\| (0x[0-9a-f]{2}) \| `(\w+)` \| ([^|]+) \| (yes|no) \| ([^|]+) \|", DOC.read_text(), re.M)
    documented = {
        name: (int(msg_id, 16), direction.strip(), sequenced == "yes", fields.strip().strip("`"))
        for msg_id, name, direction, sequenced, fields in rows
    }
    arrows = {"host": "host → card", "card": "card → host", "both": "both"}
    code = {
        spec.name: (spec.msg_id, arrows[spec.direction], spec.sequenced,
                    " ".join(f"{n}:{t}" for n, t in spec.fields) or "—")
        for spec in MESSAGES
    }
    assert documented == code


def test_frame_errors_are_precise():
    wire = frame_bytes(7, "fxs_off_hook", port=3, t_ms=5)
    with pytest.raises(DriverError, match=r"^frame truncated: need 11 bytes, have 7$"):
        decode_frame(wire[:7])
    with pytest.raises(DriverError, match="bad sync byte 0x00"):
        decode_frame(b"\x00" + wire[1:])
    with pytest.raises(DriverError, match="1 bytes after the end"):
        decode_frame(wire + b"\x00")
    with pytest.raises(DriverError, match=r"^unknown message id 0x7e$"):
        decode_payload(Frame(1, 0x7E, b""))


@pytest.mark.parametrize(
    ("name", "fields", "error"),
    [
        ("fxs_ring", {"port": 256, "cadence_ms": [1, 1]}, r"fxs_ring.port=256 out of range for u8"),
        ("fxs_ring", {"port": 2, "cadence_ms": [1] * 9}, "at most 8 values"),
        ("fxs_ring", {"port": 2, "cadence_ms": [70000, 1]}, "out of range for u16"),
        ("fxs_polarity", {"port": 2, "polarity": 128}, "out of range for i8"),
        ("fxs_off_hook", {"port": 2, "t_ms": -1}, "out of range for u32"),
        ("fxs_off_hook", {"port": 2}, r"missing fields \['t_ms'\]"),
        ("fxo_seize", {"port": 0, "extra": 1}, r"unexpected fields \['extra'\]"),
        ("no_such", {}, "unknown message 'no_such'"),
        ("identity", {"proto_major": 1, "proto_minor": 0, "fw_major": 1, "fw_minor": 0, "fw_patch": 0, "session": 1,
                      "resumed": 0, "next_rx_seq": 0, "reset_cause": 0, "t_ms": 0, "model": "x" * 17,
                      "port_map": "S"}, "at most 16 bytes"),
        ("identity", {"proto_major": 1, "proto_minor": 0, "fw_major": 1, "fw_minor": 0, "fw_patch": 0, "session": 1,
                      "resumed": 0, "next_rx_seq": 0, "reset_cause": 0, "t_ms": 0, "model": "carte é",
                      "port_map": "S"}, "ASCII"),
    ],
)
def test_encoding_refuses_bad_fields(name, fields, error):
    with pytest.raises(DriverError, match=error):
        frame_bytes(1, name, **fields)


def test_field_ranges_at_their_edges_round_trip():
    for port, t_ms in ((0, 0), (255, TIME_MODULUS - 1)):
        wire = frame_bytes(255, "fxs_flash", port=port, ms=65535, t_ms=t_ms)
        assert decode_message(wire) == (255, message("fxs_flash", port=port, ms=65535, t_ms=t_ms))
    for polarity in (-128, 127):
        assert decode_message(frame_bytes(0, "fxs_polarity", port=1, polarity=polarity))[1]["polarity"] == polarity
    longest = frame_bytes(0, "fxs_ring", port=1, cadence_ms=[65535] * 8)
    assert len(longest) <= MAX_FRAME_BYTES


# ----------------------------------------------------------------------------- stream parser


def test_parser_byte_by_byte_and_noise():
    frames = [frame_bytes(i, "fxs_digit", port=2, pulses=i % 10 + 1, t_ms=i) for i in range(5)]
    stream = b"\x00\xff" + frames[0] + b"\xa5\x01noise" + b"".join(frames[1:])
    parser = FrameParser()
    out = []
    for byte in stream:
        out += parser.feed(bytes([byte]))
    assert [encode_frame(f) for f in out] == frames
    assert parser.garbage_bytes > 0
    errors = parser.take_errors()
    assert any("bad frame length 1" in e for e in errors) and any("noise" in e for e in errors)


def test_parser_recovers_a_frame_that_starts_inside_a_corrupted_one():
    good = frame_bytes(3, "fxo_seize", port=1)
    cut = frame_bytes(2, "fxs_off_hook", port=3, t_ms=99)[:5]  # a frame cut short, then a whole one
    parser = FrameParser()
    assert [encode_frame(f) for f in parser.feed(cut + good + b"\x00" * MAX_FRAME_BYTES)] == [good]
    assert parser.crc_errors >= 1


def test_parser_flush_gives_up_on_a_partial_frame_when_the_line_is_idle():
    good = frame_bytes(4, "ping")
    false_start = bytes([SYNC, 60, 1, 2])  # claims 60 bytes; only the good frame follows
    parser = FrameParser()
    assert parser.feed(false_start + good) == []
    assert [encode_frame(f) for f in parser.flush()] == [good]
    assert parser.pending == 0
    assert parser.truncated == 1


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(1, 40), max_size=20))
def test_fuzz_random_bytes_never_crash_and_never_yield_a_bad_frame(noise, chunks):
    parser = FrameParser()
    frames, pos = [], 0
    for size in chunks:
        frames += parser.feed(noise[pos : pos + size])
        pos += size
    frames += parser.feed(noise[pos:])
    frames += parser.flush()
    for frame in frames:
        wire = encode_frame(frame)
        assert wire in noise  # every frame yielded is really on the line, CRC included
        assert decode_frame(wire) == frame


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=120),
    st.binary(max_size=120),
    st.integers(0, 255),
    st.sampled_from(["fxs_digit", "fxo_ring_off", "identity"]),
    st.lists(st.integers(1, 30), max_size=12),
)
def test_fuzz_a_valid_frame_inside_garbage_is_recovered(before, after, seq, name, chunks):
    fields = {
        "fxs_digit": {"port": 2, "pulses": 5, "t_ms": 1234},
        "fxo_ring_off": {"port": 1, "on_ms": 2000, "t_ms": 99},
        "identity": {"proto_major": 1, "proto_minor": 0, "fw_major": 1, "fw_minor": 0, "fw_patch": 0,
                     "session": 1, "resumed": 0, "next_rx_seq": 0, "reset_cause": 0, "t_ms": 0,
                     "model": "LB-VIRT", "port_map": "OOSSSS"},
    }[name]
    good = frame_bytes(seq, name, **fields)
    stream = before + good + after
    parser = FrameParser()
    frames, pos = [], 0
    for size in chunks:
        frames += parser.feed(stream[pos : pos + size])
        pos += size
    frames += parser.feed(stream[pos:])
    frames += parser.flush()
    assert decode_frame(good) in frames


# ----------------------------------------------------------------------------- sequence and time arithmetic


@pytest.mark.parametrize(("later", "earlier", "diff"), [(0, 255, 1), (255, 0, -1), (5, 5, 0), (127, 0, 127), (128, 0, -128)])
def test_seq_diff_wraps(later, earlier, diff):
    assert seq_diff(later, earlier) == diff


def test_card_time_unwraps_across_the_u32_wrap():
    t = unwrap_ms(None, TIME_MODULUS - 20)
    t = unwrap_ms(t, TIME_MODULUS - 1)
    assert t == TIME_MODULUS - 1
    t = unwrap_ms(t, 5)  # wrapped: 6 ms later
    assert t == TIME_MODULUS + 5
    assert unwrap_ms(t, 3) == TIME_MODULUS + 3  # a slightly older stamp stays older
