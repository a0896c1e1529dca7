"""Reliable delivery for the line-card protocol, without I/O: sequence numbers, acks, retransmission.

Used by both ends of the UART (the host link in ``drivers/link.py`` and the card emulator in
``board/virtual/card.py``). Go-Back-N automatic repeat request, as written down in
``docs/protocol.md``:

- :class:`ReliableSender` numbers sequenced frames 0..255 (wrapping), keeps at most
  ``window`` of them unacknowledged, and when the oldest has waited ``ack_timeout_s``
  retransmits all unacknowledged frames in order; after ``max_retries`` retransmissions
  of the same frame it reports failure (the peer stopped answering).
- :class:`SequenceReceiver` accepts only the next expected number; an older one is a
  duplicate (the peer missed our ack: re-ack, do not apply again), a newer one means a frame
  was lost in between (drop it, the peer will go back and resend).

Time is an argument (``now`` in seconds, from any monotonic source): this module reads no
clock, so tests drive it directly.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass

from drivers import DriverError
from drivers.protocol import (
    BY_NAME,
    AckStatus,
    Frame,
    Message,
    encode_frame,
    encode_payload,
    seq_add,
    seq_diff,
)


@dataclass
class Outstanding:
    """A sequenced frame sent and not yet acknowledged."""

    seq: int
    message: Message
    wire: bytes
    sent_at: float
    retries: int = 0


class ReliableSender:
    """Sliding-window sender with Go-Back-N retransmission; not thread-safe (the owner locks)."""

    def __init__(self, window: int = 8, ack_timeout_s: float = 0.1, max_retries: int = 4, next_seq: int = 0) -> None:
        if not 1 <= window <= 64:
            raise DriverError(f"window {window} out of range 1..64")
        if ack_timeout_s <= 0 or max_retries < 0:
            raise DriverError("ack_timeout_s must be > 0 and max_retries >= 0")
        self.window = window
        self.ack_timeout_s = ack_timeout_s
        self.max_retries = max_retries
        self.next_seq = next_seq % 256
        self.pending: deque[Message] = deque()
        self.unacked: deque[Outstanding] = deque()
        self.failed = False
        self.retransmissions = 0
        self.last_sent_at: float | None = None

    def queue(self, message: Message, front: bool = False) -> None:
        spec = BY_NAME[message.name]
        if not spec.sequenced:
            raise DriverError(f"{message.name} is not a sequenced message")
        encode_payload(message)  # bad fields fail here, in the caller's thread
        if front:
            self.pending.appendleft(message)
        else:
            self.pending.append(message)

    @property
    def idle(self) -> bool:
        """Everything queued has been sent and acknowledged."""
        return not self.pending and not self.unacked

    def due(self, now: float) -> list[bytes]:
        """Frames to write now: retransmissions that timed out, then new frames the window allows."""
        out: list[bytes] = []
        if self.failed:
            return out
        # the same sum as next_deadline(), so that "due" and "next deadline" never disagree by a rounding
        if self.unacked and now >= self.unacked[0].sent_at + self.ack_timeout_s:
            oldest = self.unacked[0]
            if oldest.retries >= self.max_retries:
                self.failed = True
                return out
            oldest.retries += 1
            for item in self.unacked:  # go back N: the receiver dropped everything after the gap
                item.sent_at = now
                out.append(item.wire)
                self.retransmissions += 1
        while self.pending and len(self.unacked) < self.window:
            message = self.pending.popleft()
            seq = self.next_seq
            self.next_seq = seq_add(seq, 1)
            wire = encode_frame(Frame(seq, BY_NAME[message.name].msg_id, encode_payload(message)))
            self.unacked.append(Outstanding(seq, message, wire, now))
            out.append(wire)
        if out:
            self.last_sent_at = now
        return out

    def next_deadline(self) -> float | None:
        """When ``due()`` next has a retransmission to make (None: nothing outstanding)."""
        return self.unacked[0].sent_at + self.ack_timeout_s if self.unacked else None

    def on_ack(self, seq: int) -> list[Outstanding]:
        """Acknowledges ``seq`` and everything before it; returns the frames so completed.

        The receiver acknowledges in order, so an ack for a frame implies the earlier ones
        arrived too (their own acks may have been lost). An ack for a frame not outstanding
        (a late duplicate ack) changes nothing.
        """
        if not self.unacked:
            return []
        position = seq_diff(seq, self.unacked[0].seq)
        if not 0 <= position < len(self.unacked):
            return []
        done = [self.unacked.popleft() for _ in range(position + 1)]
        return done

    def take_all(self) -> tuple[list[Outstanding], list[Message]]:
        """Empties the sender (new session): the unacknowledged frames and the never-sent messages."""
        unacked, pending = list(self.unacked), list(self.pending)
        self.unacked.clear()
        self.pending.clear()
        self.failed = False
        return unacked, pending

    def restart(self, next_seq: int) -> None:
        """A new session: numbering restarts at ``next_seq``; queued messages are kept."""
        if self.unacked:
            raise DriverError("restart with frames outstanding: take_all() first")
        self.next_seq = next_seq % 256
        self.failed = False


class SeqClass:
    NEW = "new"
    DUPLICATE = "duplicate"
    GAP = "gap"


class SequenceReceiver:
    """In-order acceptance of sequenced frames, remembering recent acks to repeat them."""

    def __init__(self, history: int = 32) -> None:
        self.expected: int | None = None
        self._statuses: OrderedDict[int, AckStatus] = OrderedDict()
        self._history = history
        self.duplicates = 0
        self.gaps = 0

    def restart(self, expected: int) -> None:
        self.expected = expected % 256
        self._statuses.clear()

    def classify(self, seq: int) -> str:
        if self.expected is None:
            return SeqClass.GAP
        delta = seq_diff(seq, self.expected)
        if delta == 0:
            return SeqClass.NEW
        if delta < 0:
            self.duplicates += 1
            return SeqClass.DUPLICATE
        self.gaps += 1
        return SeqClass.GAP

    def accept(self, seq: int, status: AckStatus) -> None:
        """Records that frame ``seq`` (the expected one) was handled with ``status``."""
        self._statuses[seq] = status
        self._statuses.move_to_end(seq)
        while len(self._statuses) > self._history:
            self._statuses.popitem(last=False)
        self.expected = seq_add(seq, 1)

    def status_of(self, seq: int) -> AckStatus:
        """The status first sent for a duplicate (OK if it is older than the history)."""
        return self._statuses.get(seq, AckStatus.OK)


def ack_frame(seq: int, status: AckStatus = AckStatus.OK) -> bytes:
    return encode_frame(Frame(seq, BY_NAME["ack"].msg_id, bytes([int(status)])))
