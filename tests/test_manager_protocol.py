"""AMI framing (firmware.manager.protocol): recorded bytes parsed and written back, the limits at
their edges, hostile input refused with one line."""

import pytest

from firmware.manager.protocol import (
    GREETING,
    MAX_HEADERS,
    MAX_LINE_BYTES,
    BadBlock,
    Block,
    BlockReader,
    error,
    frame,
    response,
)

# A login as pyst2 sends it, and a Ping as panoramisk sends it (sorted keys, CRLF).
PYST2_LOGIN = b"Action: Login\r\nUsername: crm\r\nSecret: s3cret-long-one\r\nActionID: host-00000000\r\n\r\n"
PANORAMISK_PING = b"Action: Ping\r\nActionID: action/abc/1/2\r\n\r\n"


def test_greeting_is_asterisks():
    assert GREETING == b"Asterisk Call Manager/5.0.0\r\n"


def test_recorded_blocks_parse():
    (login,) = BlockReader().feed(PYST2_LOGIN)
    assert login == Block((("Action", "Login"), ("Username", "crm"), ("Secret", "s3cret-long-one"),
                           ("ActionID", "host-00000000")))
    assert login.get("action") == "Login" and login.get("ACTIONID") == "host-00000000"
    assert login.get("Missing", "x") == "x" and not login.has("Events")


def test_block_round_trip_to_the_same_bytes():
    (block,) = BlockReader().feed(PANORAMISK_PING)
    assert frame(block.headers) == PANORAMISK_PING


@pytest.mark.parametrize("split", [1, 2, 3, 7, 50])
def test_any_split_gives_the_same_blocks(split):
    data = PYST2_LOGIN + PANORAMISK_PING
    reader = BlockReader()
    blocks = []
    for start in range(0, len(data), split):
        blocks += reader.feed(data[start:start + split])
    assert [b.get("Action") for b in blocks] == ["Login", "Ping"]


def test_bare_lf_and_spaces_and_repeated_keys():
    (block,) = BlockReader().feed(b"Action:Originate\nVariable: a=1\nVariable:   b=2  \n\n")
    assert block.get("Action") == "Originate" and block.all("variable") == ["a=1", "b=2"]


def test_empty_lines_between_blocks_are_nothing():
    assert BlockReader().feed(b"\r\n\r\n\r\n") == []


def test_line_at_the_limit_is_kept_one_more_is_refused():
    value = "x" * (MAX_LINE_BYTES - len("Data: "))
    (ok,) = BlockReader().feed(f"Action: Ping\r\nData: {value}\r\n\r\n".encode())
    assert ok.get("Data") == value
    (bad,) = BlockReader().feed(f"Action: Ping\r\nActionID: 7\r\nData: {value}x\r\n\r\n".encode())
    assert bad == BadBlock(f"Line too long (at most {MAX_LINE_BYTES} bytes)", "7")


def test_a_long_line_never_grows_the_buffer():
    reader = BlockReader()
    for _ in range(1000):
        assert reader.feed(b"y" * 10_000) == []
    (bad,) = reader.feed(b"\r\n\r\n")
    assert isinstance(bad, BadBlock)
    assert reader.feed(PANORAMISK_PING)[0].get("Action") == "Ping"  # the next block is fine


def test_headers_at_the_limit_and_over():
    lines = "".join(f"H{i}: v\r\n" for i in range(MAX_HEADERS))
    (ok,) = BlockReader().feed(f"{lines}\r\n".encode())
    assert isinstance(ok, Block) and len(ok.headers) == MAX_HEADERS
    (bad,) = BlockReader().feed(f"{lines}H: v\r\n\r\n".encode())
    assert bad == BadBlock(f"Too many headers (at most {MAX_HEADERS})")


@pytest.mark.parametrize("line, reason", [
    (b"no colon here", "Malformed header (expected 'Key: Value')"),
    (b": value", "Malformed header (expected 'Key: Value')"),
    (b"Bad Key: v", "Malformed header name"),
    (b"Key: \x1b[2J", "Header value has control characters"),
    (b"Key: \xff\xfe", "Header is not UTF-8 text"),
])
def test_malformed_lines_refuse_the_block(line, reason):
    (bad,) = BlockReader().feed(b"Action: Ping\r\n" + line + b"\r\nActionID: 9\r\n\r\n")
    assert bad == BadBlock(reason, "9")


def test_written_values_cannot_forge_lines():
    assert frame([("CallerIDName", "Evil\r\nEvent: Fake")]) == b"CallerIDName: Evil  Event: Fake\r\n\r\n"


def test_responses_in_asterisks_order():
    assert response("Success", "42", "Authentication accepted") == (
        b"Response: Success\r\nActionID: 42\r\nMessage: Authentication accepted\r\n\r\n")
    assert error("Permission denied") == b"Response: Error\r\nMessage: Permission denied\r\n\r\n"
    assert response("Success", "", fields=[("Ping", "Pong")]) == b"Response: Success\r\nPing: Pong\r\n\r\n"
