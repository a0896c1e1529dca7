"""Go-Back-N delivery without I/O: window, cumulative acks, retransmission, give-up, duplicates, gaps."""

import pytest

from drivers import DriverError
from drivers.link_arq import ReliableSender, SeqClass, SequenceReceiver
from drivers.protocol import AckStatus, decode_frame, message


def digits(count):
    return [message("fxo_dial", port=0, pulses=i % 10 + 1) for i in range(count)]


def seqs(wires):
    return [decode_frame(w).seq for w in wires]


def test_window_limits_frames_in_flight_and_acks_are_cumulative():
    sender = ReliableSender(window=3, ack_timeout_s=1.0, max_retries=2)
    for msg in digits(5):
        sender.queue(msg)
    assert seqs(sender.due(0.0)) == [0, 1, 2]
    assert sender.due(0.1) == []  # window full, nothing timed out
    done = sender.on_ack(1)  # the ack of 0 was lost; the ack of 1 confirms both
    assert [item.seq for item in done] == [0, 1]
    assert seqs(sender.due(0.2)) == [3, 4]
    assert sender.on_ack(1) == []  # a late duplicate ack changes nothing
    sender.on_ack(4)
    assert sender.idle


def test_go_back_n_retransmits_everything_outstanding_then_gives_up():
    sender = ReliableSender(window=8, ack_timeout_s=0.25, max_retries=2)
    for msg in digits(3):
        sender.queue(msg)
    first = sender.due(0.0)
    assert sender.due(0.24) == []
    again = sender.due(0.25)
    assert again == first  # same bytes, same order
    assert sender.due(0.5) == first
    assert not sender.failed
    assert sender.due(0.75) == []  # a third timeout after two retransmissions
    assert sender.failed
    assert sender.retransmissions == 6


def test_sequence_numbers_wrap_after_255():
    sender = ReliableSender(window=4, ack_timeout_s=1.0, next_seq=254)
    for msg in digits(4):
        sender.queue(msg)
    assert seqs(sender.due(0.0)) == [254, 255, 0, 1]
    assert [item.seq for item in sender.on_ack(0)] == [254, 255, 0]


def test_restart_keeps_queued_messages_and_refuses_outstanding_ones():
    sender = ReliableSender()
    sender.queue(digits(1)[0])
    sender.due(0.0)
    with pytest.raises(DriverError, match="take_all"):
        sender.restart(10)
    unacked, pending = sender.take_all()
    assert len(unacked) == 1 and pending == []
    sender.restart(10)
    sender.queue(digits(1)[0])
    assert seqs(sender.due(0.0)) == [10]


def test_only_sequenced_and_valid_messages_are_queued():
    sender = ReliableSender()
    with pytest.raises(DriverError, match="not a sequenced message"):
        sender.queue(message("ack", status=0))
    with pytest.raises(DriverError, match="out of range"):
        sender.queue(message("fxo_dial", port=0, pulses=300))
    assert sender.idle


@pytest.mark.parametrize(
    ("expected", "seq", "verdict"),
    [(10, 10, SeqClass.NEW), (10, 9, SeqClass.DUPLICATE), (10, 138, SeqClass.DUPLICATE),
     (10, 11, SeqClass.GAP), (10, 137, SeqClass.GAP), (0, 255, SeqClass.DUPLICATE), (255, 0, SeqClass.GAP)],
)
def test_receiver_classifies_new_duplicate_and_gap(expected, seq, verdict):
    receiver = SequenceReceiver()
    receiver.restart(expected)
    assert receiver.classify(seq) == verdict


def test_receiver_repeats_the_first_status_for_duplicates():
    receiver = SequenceReceiver(history=2)
    receiver.restart(255)
    receiver.accept(255, AckStatus.BAD_STATE)
    receiver.accept(0, AckStatus.OK)
    assert receiver.expected == 1
    assert receiver.status_of(255) == AckStatus.BAD_STATE
    receiver.accept(1, AckStatus.OK)
    assert receiver.status_of(255) == AckStatus.OK  # forgotten: older than the history


def test_receiver_without_session_accepts_nothing():
    assert SequenceReceiver().classify(0) == SeqClass.GAP
