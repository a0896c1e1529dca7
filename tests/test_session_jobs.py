"""firmware/engine/worker.py SessionJobs: the one result drain of the voicemail mailbox and the prompt
recorder. A worker that runs each job at once (no thread) makes these tests millisecond-fast."""

from __future__ import annotations

from dataclasses import dataclass

from firmware import FirmwareError
from firmware.engine.worker import SessionJobs, failed


class InlineWorker:
    """The Worker's surface (submit), running each item at once on the caller's thread."""

    def submit(self, item) -> None:
        item()


@dataclass
class Session:
    port: int
    token: int


def _collect():
    got = []
    return got, lambda session, kind, value: got.append((session.port, session.token, kind, value))


def test_results_reach_the_session_that_asked_in_the_order_the_jobs_ended():
    jobs = SessionJobs(InlineWorker())
    sessions = {3: Session(3, jobs.new_token()), 5: Session(5, jobs.new_token())}
    assert [s.token for s in sessions.values()] == [1, 2]
    jobs.run(5, 2, "messages", lambda: ["m1"])
    jobs.run(3, 1, "pin", lambda: True)
    got, handle = _collect()
    assert jobs.deliver(sessions, handle) == 2
    assert got == [(5, 2, "messages", ["m1"]), (3, 1, "pin", True)]
    assert jobs.deliver(sessions, handle) == 0 and len(got) == 2  # each result once


def test_a_firmware_error_comes_back_as_its_kind_error_with_one_line():
    jobs = SessionJobs(InlineWorker())
    sessions = {1: Session(1, jobs.new_token())}

    def broken():
        raise FirmwareError("voicemail store: disk I/O error")

    jobs.run(1, 1, "audio", broken)
    got, handle = _collect()
    jobs.deliver(sessions, handle)
    assert got == [(1, 1, failed("audio"), "voicemail store: disk I/O error")] and failed("audio") == "audio_error"


def test_results_of_a_hung_up_or_earlier_session_are_dropped():
    jobs = SessionJobs(InlineWorker())
    first = Session(2, jobs.new_token())
    jobs.run(2, first.token, "messages", lambda: "for the first caller")
    jobs.run(4, jobs.new_token(), "pin", lambda: "for a caller who hung up")
    second = Session(2, jobs.new_token())  # the first caller hung up, a second one came on port 2
    jobs.run(2, second.token, "messages", lambda: "for the second caller")
    got, handle = _collect()
    assert jobs.deliver({2: second}, handle) == 1
    assert got == [(2, second.token, "messages", "for the second caller")]


def test_a_handler_that_ends_its_session_drops_the_rest_of_that_session():
    jobs = SessionJobs(InlineWorker())
    sessions = {7: Session(7, jobs.new_token())}
    jobs.run(7, 1, "stored", lambda: "path")
    jobs.run(7, 1, "late", lambda: "after the end")
    got = []

    def handle(session, kind, value):
        got.append(kind)
        del sessions[session.port]  # the session ended on its first result

    assert jobs.deliver(sessions, handle) == 1 and got == ["stored"]
