"""The host link against a card the test plays byte by byte on a real pty: sequence errors, bad frames,
handshake corner cases, retransmission, window, keepalive, wire log, degradation, reconnection."""

import dataclasses
import os
import re
import select
import tty
from pathlib import Path

import pytest

from drivers import DriverError
from drivers.link import (
    IN_SERVICE,
    TRANSITIONS,
    CardMessage,
    LinkConfig,
    LinkState,
    LinkStateChanged,
    SerialLink,
)
from drivers.link_arq import ack_frame
from drivers.protocol import (
    BY_ID,
    AckStatus,
    Frame,
    FrameParser,
    decode_payload,
    encode_frame,
    frame_bytes,
    message,
)
from tests.card_helpers import LogCapture, wait_for

PORTS = ("fxo", "fxs")
CONFIG = LinkConfig(ack_timeout_s=0.1, max_retries=3, keepalive_s=60.0, reconnect_min_s=0.02, reconnect_max_s=0.1,
                    idle_flush_s=0.02, read_timeout_s=0.01)


class RawCard:
    """A pty whose card side the test writes and reads frame by frame."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.parser = FrameParser()
        self.seen: list[Frame] = []

    def close(self) -> None:
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def frames(self, timeout_s: float = 1.0, until=None) -> list[Frame]:
        """Frames from the host until ``until(frame)`` is true for one of them (or the timeout)."""
        got: list[Frame] = []
        deadline = os.times().elapsed + timeout_s
        while os.times().elapsed < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.01)
            if ready:
                for frame in self.parser.feed(os.read(self.master, 4096)):
                    got.append(frame)
                    self.seen.append(frame)
                    if until is not None and until(frame):
                        return got
        return got

    def expect(self, name: str, timeout_s: float = 2.0) -> Frame:
        for frame in self.frames(timeout_s, until=lambda f: BY_ID[f.msg_id].name == name):
            if BY_ID[frame.msg_id].name == name:
                return frame
        raise AssertionError(f"no {name} from the host")

    def handshake(self, port_map: str = "OS", resumed: int = 0, next_rx_seq: int = 0) -> Frame:
        identify = self.expect("identify")
        session = decode_payload(identify)["session"]
        self.write(ack_frame(identify.seq))
        self.write(identity(session, port_map, resumed, next_rx_seq))
        return identify


def identity(session: int, port_map: str = "OS", resumed: int = 0, next_rx_seq: int = 0, major: int = 1) -> bytes:
    return frame_bytes(0, "identity", proto_major=major, proto_minor=3, fw_major=2, fw_minor=1, fw_patch=0,
                       session=session, resumed=resumed, next_rx_seq=next_rx_seq, reset_cause=0, t_ms=0,
                       model="RAW", port_map=port_map)


def event(seq: int, port: int = 1, t_ms: int = 0) -> bytes:
    return frame_bytes(seq, "fxs_off_hook", port=port, t_ms=t_ms)


def acks(frames: list[Frame]) -> list[tuple[int, int]]:
    return [(f.seq, f.payload[0]) for f in frames if BY_ID[f.msg_id].name == "ack"]


def messages(link: SerialLink) -> list:
    return [e.message for e in link.poll_events() if isinstance(e, CardMessage)]


@pytest.fixture
def card():
    raw = RawCard()
    yield raw
    raw.close()


@pytest.fixture
def logs():
    with LogCapture() as capture:
        yield capture


@pytest.fixture
def up(card):
    link = SerialLink(card.path, PORTS, CONFIG)
    link.start()
    card.handshake()
    assert link.wait_state({LinkState.UP}, 2.0)
    card.expect("ack")  # the host acks identity (SEQ 0)
    yield link
    link.close()


def test_transition_table_has_no_way_out_of_refused_but_close():
    assert {new for (old, _), new in TRANSITIONS.items() if old == LinkState.REFUSED} == {LinkState.CLOSED}
    assert all(new == LinkState.CLOSED for (old, _), new in TRANSITIONS.items() if old == LinkState.CLOSED)


def test_handshake_then_events_in_order_are_queued_before_they_are_acked(card, up):
    card.write(event(1) + event(2, t_ms=5))
    got = card.frames(until=lambda f: f.seq == 2)
    assert acks(got) == [(1, 0), (2, 0)]
    assert [m["t_ms"] for m in messages(up)] == [0, 5]  # already on the queue when the acks left
    assert up.identity.model == "RAW" and up.identity.firmware == (2, 1, 0)


def test_out_of_order_frame_is_dropped_until_the_gap_is_filled(card, up, logs):
    card.write(event(2, t_ms=2))
    assert acks(card.frames(0.2)) == []
    assert messages(up) == []
    assert logs.events("sequence_gap") == [{"url": card.path, "expected": 1, "got": 2, "msg": "fxs_off_hook"}]
    card.write(event(1, t_ms=1) + event(2, t_ms=2))
    assert acks(card.frames(until=lambda f: f.seq == 2)) == [(1, 0), (2, 0)]
    assert [m["t_ms"] for m in messages(up)] == [1, 2]


def test_duplicate_frame_is_acked_again_but_delivered_once(card, up):
    card.write(event(1) + event(1) + event(0))  # 0 is the identity's SEQ: an old duplicate too
    assert acks(card.frames(0.3)) == [(1, 0), (1, 0), (0, 0)]
    assert len(messages(up)) == 1
    assert up.counters["duplicates"] == 2


def test_unknown_message_and_host_command_from_the_card_are_refused_but_consumed(card, up, logs):
    card.write(encode_frame(Frame(1, 0x7E, b"\x01")))
    card.write(frame_bytes(2, "fxo_seize", port=0))
    card.write(frame_bytes(3, "fxs_digit", port=1, pulses=4, t_ms=9)[:-3] + b"\x00" * 3)  # corrupted
    card.write(encode_frame(Frame(3, BY_ID[0x23].msg_id, b"\x01\x04")))  # fxs_digit, payload cut short
    card.write(event(4))
    got = acks(card.frames(until=lambda f: f.seq == 4))
    assert got == [(1, AckStatus.UNKNOWN_MESSAGE), (2, AckStatus.UNKNOWN_MESSAGE), (3, AckStatus.BAD_LENGTH), (4, 0)]
    assert [m.name for m in messages(up)] == ["fxs_off_hook"]
    errors = [f["error"] for f in logs.events("bad_message")]
    assert errors[0] == "unknown message id 0x7e"
    assert "fxo_seize is a host command" in errors[1]
    assert errors[2] == "fxs_digit payload truncated at t_ms: need 6 bytes, have 2"
    assert any("CRC mismatch" in f["error"] for f in logs.events("frame_error"))


def test_a_frame_cut_short_is_abandoned_when_the_line_goes_idle(card, up, logs):
    card.write(event(1)[:7])  # the adapter lost the rest
    assert wait_for(lambda: logs.events("frame_error"))
    assert logs.events("frame_error")[0]["error"] == "frame truncated: need 11 bytes, have 7"
    card.write(event(1, t_ms=3))
    assert acks(card.frames(until=lambda f: f.seq == 1)) == [(1, 0)]
    assert [m["t_ms"] for m in messages(up)] == [3]


def test_commands_are_retransmitted_until_acked_and_refusals_are_logged(card, up, logs):
    up.send("fxo_seize", port=0)
    first = card.expect("fxo_seize")
    again = card.expect("fxo_seize")
    assert encode_frame(again) == encode_frame(first)  # same SEQ, same bytes
    assert not up.wait_acked(0.01)
    card.write(ack_frame(first.seq, AckStatus.BAD_STATE))
    assert up.wait_acked(1.0)
    assert logs.events("command_refused")[0]["status"] == "BAD_STATE"
    assert up.counters["retransmissions"] >= 1


def test_the_window_bounds_commands_in_flight(card, up):
    for digit in range(12):
        up.send("fxo_dial", port=0, pulses=digit % 10 + 1)
    first = card.frames(0.05)
    assert [f.seq for f in first] == list(range(1, 9))  # 8 in flight, 4 waiting
    card.write(ack_frame(8))  # cumulative
    rest = card.frames(until=lambda f: f.seq == 12)
    assert [f.seq for f in rest][:4] == [9, 10, 11, 12]
    card.write(ack_frame(12))
    assert up.wait_acked(1.0)


def test_keepalive_and_a_silent_card(card, logs):
    link = SerialLink(card.path, PORTS, dataclasses.replace(CONFIG, keepalive_s=0.05, ack_timeout_s=0.05))
    link.start()
    try:
        card.handshake()
        assert link.wait_state({LinkState.UP}, 2.0)
        ping = card.expect("ping")
        card.write(ack_frame(ping.seq))
        card.expect("ping")  # never acked: the card looks dead
        assert link.wait_state({LinkState.DOWN}, 2.0)
        assert logs.events("card_not_answering")
        states = [e for e in link.poll_events() if isinstance(e, LinkStateChanged)]
        assert states[-1].old in IN_SERVICE and states[-1].new == LinkState.DOWN  # maybe DEGRADED first
        identify = card.expect("identify", 2.0)  # retrying the handshake
        card.write(ack_frame(identify.seq))
        card.write(identity(decode_payload(identify)["session"], resumed=1, next_rx_seq=identify.seq))
        assert link.wait_state({LinkState.UP}, 2.0)
    finally:
        link.close()


def test_card_reset_announcement_whatever_its_seq_starts_a_new_handshake(card, up, logs):
    card.write(event(1))
    card.frames(0.1)
    card.write(frame_bytes(0, "card_reset", cause=2, t_ms=0))
    assert acks(card.frames(until=lambda f: BY_ID[f.msg_id].name == "ack")) == [(0, 0)]
    identify = card.expect("identify")
    session = decode_payload(identify)["session"]
    card.write(identity((session + 1) % 256))  # a stale answer of another session: ignored
    assert not up.wait_state({LinkState.UP}, 0.1)
    card.write(identity(session))
    assert up.wait_state({LinkState.UP}, 2.0)
    assert logs.events("card_reset")[0]["cause"] == "brown_out"


def test_no_session_answer_starts_a_new_handshake(card, up):
    up.send("fxs_stop_ring", port=1)
    command = card.expect("fxs_stop_ring")
    card.write(ack_frame(command.seq, AckStatus.NO_SESSION))
    identify = card.expect("identify")
    assert up.state == LinkState.HANDSHAKE
    card.write(identity(decode_payload(identify)["session"], resumed=0))
    assert up.wait_state({LinkState.UP}, 2.0)
    # the card lost its state: the unacknowledged command is dropped, not replayed
    assert [BY_ID[f.msg_id].name for f in card.frames(0.2)] == ["ack"]


def test_handshake_without_answer_times_out_and_retries_with_a_new_session(card, logs):
    link = SerialLink(card.path, PORTS, CONFIG)
    link.start()
    try:
        tries = [f for f in card.frames(1.0) if BY_ID[f.msg_id].name == "identify"]
        sessions = [decode_payload(f)["session"] for f in tries]
        assert sessions[:4] == [1, 1, 1, 1] and 2 in sessions  # same session retried, then a new attempt
        assert link.state in (LinkState.DOWN, LinkState.HANDSHAKE)
        assert logs.events("handshake_timeout")
    finally:
        link.close()


def test_wire_log_can_be_switched_at_runtime(card, up):
    lines = []
    up.set_wire_log(True, lines.append)
    card.write(event(1))
    card.frames(0.1)
    up.set_wire_log(False)
    card.write(event(2))
    card.frames(0.1)
    assert lines == [f"rx fxs_off_hook seq=1 {event(1).hex(' ')}", "tx ack a5 07 01 01 00 d1 ec"]
    assert up.recent_frames()[-1] == "tx ack a5 07 02 01 00 88 bc"


def test_bad_frames_degrade_the_link_and_clean_ones_restore_it(card):
    link = SerialLink(card.path, PORTS, dataclasses.replace(CONFIG, degrade_after_errors=3, recover_after_frames=4))
    link.start()
    try:
        card.handshake()
        assert link.wait_state({LinkState.UP}, 2.0)
        for seq in range(3):
            card.write(event(seq + 1)[:-1] + b"\x00")
        assert link.wait_state({LinkState.DEGRADED}, 2.0)
        card.write(b"".join(event(seq) for seq in range(1, 5)))
        assert link.wait_state({LinkState.UP}, 2.0)
    finally:
        link.close()


def test_refused_link_refuses_commands_and_bad_commands_fail_at_once(card, logs):
    link = SerialLink(card.path, PORTS, CONFIG)
    with pytest.raises(DriverError, match="unknown message 'ring'"):
        link.send("ring", port=1)
    with pytest.raises(DriverError, match="ack is not a command the host sends"):
        link.send("ack", status=0)
    with pytest.raises(DriverError, match="out of range for u8"):
        link.send("fxo_seize", port=256)
    link.start()
    try:
        identify = card.expect("identify")
        card.write(identity(decode_payload(identify)["session"], major=2))
        assert link.wait_state({LinkState.REFUSED}, 2.0)
        assert link.refusal == "protocol version mismatch: host speaks 1.1, card RAW firmware 2.1.0 speaks 2.3"
        with pytest.raises(DriverError, match="line card link refused: protocol version mismatch"):
            link.send("fxo_seize", port=0)
    finally:
        link.close()
    assert link.state == LinkState.CLOSED


def test_commands_wait_while_the_device_is_missing_and_the_queue_is_bounded(tmp_path, logs):
    path = tmp_path / "ttyLC9"
    link = SerialLink(str(path), PORTS, dataclasses.replace(CONFIG, max_pending=2))
    link.start()
    card = RawCard()
    try:
        assert wait_for(lambda: logs.events("serial_open_failed"))
        assert link.state == LinkState.CONNECTING
        link.send("fxo_seize", port=0)
        link.send("fxs_stop_ring", port=1)
        with pytest.raises(DriverError, match="command queue full: 2 commands wait"):
            link.send("fxo_release", port=0)
        os.symlink(card.path, path)  # the adapter is plugged in
        card.handshake()
        assert link.wait_state({LinkState.UP}, 2.0)
        sent = {f.seq: BY_ID[f.msg_id].name for f in card.frames(0.3) if BY_ID[f.msg_id].name != "ack"}
        assert list(sent.values()) == ["fxo_seize", "fxs_stop_ring"]  # (retransmitted: never acked here)
    finally:
        link.close()
        card.close()


def test_a_bug_in_the_link_thread_is_logged_and_the_link_recovers(card, logs):
    calls = []

    def setup(resumed):
        calls.append(resumed)
        if len(calls) == 1:
            raise RuntimeError("setup exploded")
        return [message("fxs_stop_ring", port=1)]

    link = SerialLink(card.path, PORTS, dataclasses.replace(CONFIG, reconnect_max_s=0.05), session_setup=setup)
    link.start()
    try:
        card.handshake()
        assert wait_for(lambda: logs.events("link_thread_error"))
        assert wait_for(lambda: link.state == LinkState.DOWN)
        identify = card.expect("identify", 3.0)
        card.write(ack_frame(identify.seq))
        card.write(identity(decode_payload(identify)["session"]))
        assert link.wait_state(IN_SERVICE, 2.0)
        assert card.expect("fxs_stop_ring")
    finally:
        link.close()


def test_loop_url_opens_and_a_host_talking_to_itself_never_comes_up(logs):
    link = SerialLink("loop://", PORTS, dataclasses.replace(CONFIG, ack_timeout_s=0.02, max_retries=1))
    link.start()
    try:
        assert wait_for(lambda: logs.events("handshake_timeout"))
        assert link.state in (LinkState.DOWN, LinkState.HANDSHAKE)
        assert logs.events("serial_opened")
    finally:
        link.close()


def test_the_retry_budget_and_hold_time_defaults_are_the_documented_ones():
    """docs/protocol.md section 4 lists them; the table and LinkConfig must agree."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "protocol.md").read_text()
    rows = dict(re.findall(r"^\| `?([a-z_ ]+?)`? \| ([0-9.]+) s? ?\|", text, flags=re.M))
    config = LinkConfig()
    assert float(rows["ack_timeout_s"]) == config.ack_timeout_s == 0.1
    assert int(rows["max_retries"]) == config.max_retries == 4
    assert float(rows["retry budget"]) == config.silence_limit_s == pytest.approx(0.5)
    assert float(rows["keepalive_s"]) == config.keepalive_s == 0.5
    assert float(rows["hold_s"]) == config.hold_s == 3.0
    for bad in ({"hold_s": -1}, {"ack_timeout_s": 0}, {"max_retries": -1}, {"keepalive_s": 0}):
        with pytest.raises(DriverError, match="link config"):
            LinkConfig(**bad)
