"""Listening to voicemail: the ``*97`` menu (``FeatureCodes.voicemail``), as users of
Asterisk's VoiceMailMain() on an analog phone know it, with its recordings.

An extension with ``voicemail: true`` dials ``*97`` and reaches its own mailbox (an
extension without one hears ``vm-nobox``; the reason is logged). The mailbox is read on a
worker thread — never on the media loop — while the phone hears silence. Then:

1. the summary: "you have" N "new" message(s) ["and" M "old" message(s)], or "you have no
   messages" then "goodbye" (Asterisk's English intro: ``vm-youhave``, ``vm-INBOX``,
   ``vm-and``, ``vm-Old``, ``vm-message``/``vm-messages``, ``vm-no``, ``vm-goodbye``);
2. each message, new ones first, then old, oldest first within each: "first message" (or
   "message" N), then the recording. ``AFTER_MESSAGE_S`` after a message the next one
   starts by itself;
3. after the last one: ``vm-nomore``, ``vm-goodbye``; then silence until on-hook.

Keys, during or after a message (a key cuts what is playing short):

=====  ================================================================================
``7``  delete the message (``vm-deleted``), then the next one
``9``  next message (``#`` too); the message is kept as an old one
``5``  repeat the message
``4``  previous message
``*``  leave: ``vm-goodbye``
=====  ================================================================================

A new message becomes old when it has been played to its end or skipped with ``9``/``#``.
Marking heard and deleting go to the worker as they happen, so hanging up at any point
keeps what was done. Message audio is loaded on the worker too: the next message while one
plays; a message not loaded yet is waited for in silence. Results come back through a
thread-safe queue drained in :meth:`MailboxMenu.on_tick`. Store errors end the session
with the error beep and a log line.

Log component ``voicemail``: ``vm_session`` (start: mailbox, new and old counts; refusals
with ``refused`` and the reason), ``vm_played`` (a message played to its end),
``vm_deleted``, ``vm_error``.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

import numpy as np

from drivers.audio import TICK_MS
from drivers.logs import EventLogger
from firmware import FirmwareError
from firmware.config.model import Extension
from firmware.dialplan import DialResult
from firmware.engine.calls import Leg
from firmware.engine.control import CallControlApi, Then
from firmware.engine.services import AttachedService
from firmware.engine.worker import Worker
from firmware.media.words import number_words

TICK_S = TICK_MS / 1000.0
AFTER_MESSAGE_S = 3.0  # silence after a message for a key; then the next message starts


class Sentences(Protocol):
    """What the menu needs of the prompts (``prompts.VoicemailPrompts``, whose ``MENU_WORDS`` are
    the recordings this menu speaks): recorded words joined into one buffer."""

    def sentence(self, names: Sequence[str]) -> np.ndarray: ...


class Step(StrEnum):
    LOADING = "loading"  # the mailbox is being read
    INTRO = "intro"  # the summary plays
    HEADER = "header"  # "message N"
    BODY = "body"  # the recording
    WAIT_AUDIO = "wait_audio"  # the recording is still being loaded
    AFTER = "after"  # the recording ended: waiting for a key
    DELETED = "deleted"  # "deleted" plays
    CLOSING = "closing"  # "no more messages, goodbye" plays


@dataclass
class Session:
    port: int
    mailbox: str
    token: int  # results of an older session on this port are dropped
    step: Step = Step.LOADING
    messages: list = field(default_factory=list)  # store Messages, in playing order
    index: int = 0
    audio: dict[int, np.ndarray] = field(default_factory=dict)  # message id -> samples
    loading: set[int] = field(default_factory=set)  # message ids asked for
    heard: set[int] = field(default_factory=set)  # ids marked heard (or already old)
    deleted: set[int] = field(default_factory=set)
    deadline_tick: int = 0


def intro_words(new: int, old: int) -> list[str]:
    """Asterisk's English summary: "you have 2 new messages and 1 old message"."""
    def count(n: int, folder: str) -> list[str]:
        return [*number_words(n), folder, "vm-message" if n == 1 else "vm-messages"]

    words = ["vm-youhave"]
    if new:
        words += count(new, "vm-INBOX")
    if new and old:
        words.append("vm-and")
    if old:
        words += count(old, "vm-Old")
    if not new and not old:
        words += ["vm-no", "vm-messages"]
    return words


def header_words(position: int) -> list[str]:
    """"first message", else "message" N (``position`` counts from 0)."""
    return ["vm-first", "vm-message"] if position == 0 else ["vm-message", *number_words(position + 1)]


class MailboxMenu(AttachedService):
    """The ``*97`` sessions, one per FXS port; an attached service (``Switch.attached``)."""

    def __init__(self, control: CallControlApi, store, prompts: Sentences, log: EventLogger | None = None,
                 worker: Worker | None = None) -> None:
        self.cc = control
        self.store = store
        self.prompts = prompts
        self.log = log or EventLogger("voicemail")
        self._own_worker = worker is None
        self.worker = worker or Worker("voicemail-mailbox", lambda job: job(), self.log)
        self._results: queue.SimpleQueue[tuple[int, int, str, object]] = queue.SimpleQueue()
        self.sessions: dict[int, Session] = {}
        self._next_token = 1

    def codes(self) -> dict[str, Callable[[int, Extension, DialResult], None]]:
        """Handlers for ``ExtensionFeatures.service_codes``."""
        return {"voicemail": self._start}

    def close(self) -> None:
        """Finishes the store writes already asked for; stops the worker if it is ours."""
        if self._own_worker:
            self.worker.close()

    # ------------------------------------------------------------------ worker jobs
    def _off_loop(self, session: Session, kind: str, job: Callable[[], object]) -> None:
        """Runs ``job`` on the worker; its result (or error) comes back to :meth:`on_tick`."""
        port, token = session.port, session.token

        def run() -> None:
            try:
                self._results.put((port, token, kind, job()))
            except FirmwareError as exc:
                self._results.put((port, token, "error", f"{kind}: {exc}"))

        self.worker.submit(run)

    def _write(self, session: Session, what: str, job: Callable[[], None]) -> None:
        """A store change: kept even if the caller hangs up; a failure is logged."""
        port, mailbox = session.port, session.mailbox

        def run() -> None:
            try:
                job()
            except FirmwareError as exc:
                self.log.error("vm_error", port=port, mailbox=mailbox, action=what, error=str(exc))

        self.worker.submit(run)

    # ------------------------------------------------------------------ the feature code
    def _start(self, port: int, extension: Extension, result: DialResult) -> None:
        if not extension.voicemail:
            self.log.info("vm_session", port=port, extension=extension.number, refused=True,
                          reason="this extension has no mailbox (voicemail is off)")
            self._finish(port, ["vm-nobox"])
            return
        self.cc.set_state(port, Leg.DIALING, call=None)  # digits come here (attached) until the session ends
        self.cc.stop_audio(port)  # silence while the mailbox is read
        self.cc.hear_player(port)
        session = Session(port, extension.number, self._next_token)
        self._next_token += 1
        self.sessions[port] = session
        mailbox = extension.number
        self._off_loop(session, "messages", lambda: self.store.messages(mailbox))

    # ------------------------------------------------------------------ playing
    def _play(self, port: int, samples: np.ndarray) -> None:
        self.cc.play(port, samples)

    def _say(self, session: Session, step: Step, names: list[str]) -> None:
        session.step = step
        self._play(session.port, self.prompts.sentence(names))

    def _finish(self, port: int, names: list[str]) -> None:
        """Says ``names``, then silence until on-hook (the session, if any, is over)."""
        self.sessions.pop(port, None)
        self.cc.say(port, self.prompts.sentence(names), Then.WAIT_ON_HOOK)

    def _current(self, session: Session):
        return session.messages[session.index]

    def _load(self, session: Session, index: int) -> None:
        """Asks the worker for message ``index``'s audio (once)."""
        if not 0 <= index < len(session.messages):
            return
        message = session.messages[index]
        if message.id in session.audio or message.id in session.loading or message.id in session.deleted:
            return
        session.loading.add(message.id)
        self._off_loop(session, "audio", lambda: (message.id, self.store.load_audio(message)))

    def _goto(self, session: Session, index: int, backwards: bool = False) -> None:
        """Plays the first message not deleted from ``index`` on (going back: at or before it)."""
        step = -1 if backwards else 1
        while 0 <= index < len(session.messages) and session.messages[index].id in session.deleted:
            index += step
        if backwards and index < 0:
            self._goto(session, 0)
            return
        if index >= len(session.messages):
            session.step = Step.CLOSING
            self._finish(session.port, ["vm-nomore", "vm-goodbye"])
            return
        session.index = index
        self._load(session, index)
        self._say(session, Step.HEADER, header_words(index))

    def _body(self, session: Session) -> None:
        message = self._current(session)
        audio = session.audio.get(message.id)
        if audio is None:
            session.step = Step.WAIT_AUDIO
            self.cc.stop_audio(session.port)
            self._load(session, session.index)
            return
        session.step = Step.BODY
        self._play(session.port, audio)
        self._load(session, session.index + 1)  # the next one while this plays

    def _mark_heard(self, session: Session) -> None:
        message = self._current(session)
        if message.id in session.heard:
            return
        session.heard.add(message.id)
        message_id = message.id
        self._write(session, "mark_heard", lambda: self.store.mark_heard(message_id))

    def _played_to_end(self, session: Session) -> None:
        message = self._current(session)
        self.log.info("vm_played", port=session.port, mailbox=session.mailbox, id=message.id,
                      new=message.id not in session.heard)
        self._mark_heard(session)
        session.step = Step.AFTER
        session.deadline_tick = self.cc.tick + round(AFTER_MESSAGE_S / TICK_S)

    def _delete(self, session: Session) -> None:
        message = self._current(session)
        session.deleted.add(message.id)
        session.audio.pop(message.id, None)
        message_id = message.id
        self._write(session, "delete", lambda: self.store.delete(message_id))
        self.log.info("vm_deleted", port=session.port, mailbox=session.mailbox, id=message_id)
        self._say(session, Step.DELETED, ["vm-deleted"])

    # ------------------------------------------------------------------ results from the worker
    def _result(self, session: Session, kind: str, value: object) -> None:
        if kind == "error":
            self.log.error("vm_error", port=session.port, mailbox=session.mailbox, error=str(value))
            self._finish(session.port, ["beeperr"])
        elif kind == "messages":
            session.messages = list(value)
            session.heard = {message.id for message in session.messages if message.heard}
            new = sum(1 for message in session.messages if not message.heard)
            old = len(session.messages) - new
            self.log.info("vm_session", port=session.port, mailbox=session.mailbox, new=new, old=old)
            if not session.messages:
                self._finish(session.port, [*intro_words(0, 0), "vm-goodbye"])
                return
            self._load(session, 0)
            self._say(session, Step.INTRO, intro_words(new, old))
        elif kind == "audio":
            message_id, samples = value
            session.loading.discard(message_id)
            if message_id not in session.deleted:
                session.audio[message_id] = samples
            if session.step is Step.WAIT_AUDIO and self._current(session).id == message_id:
                self._body(session)

    # ------------------------------------------------------------------ AttachedService
    def on_tick(self, tick: int) -> None:
        while True:
            try:
                port, token, kind, value = self._results.get_nowait()
            except queue.Empty:
                break
            session = self.sessions.get(port)
            if session is not None and session.token == token:
                self._result(session, kind, value)
        for port, session in list(self.sessions.items()):
            if self.cc.state(port) is not Leg.DIALING:
                del self.sessions[port]  # hung up (or out of service): what was done is kept
                continue
            if session.step is Step.AFTER:
                if tick >= session.deadline_tick:
                    self._goto(session, session.index + 1)
                continue
            if self.cc.playing(port):
                continue
            if session.step is Step.INTRO:
                self._goto(session, 0)
            elif session.step is Step.HEADER:
                self._body(session)
            elif session.step is Step.BODY:
                self._played_to_end(session)
            elif session.step is Step.DELETED:
                self._goto(session, session.index + 1)

    def on_digit(self, port: int, digit: str) -> bool:
        session = self.sessions.get(port)
        if session is None:
            return False
        if digit == "*":
            self._finish(port, ["vm-goodbye"])
        elif session.step is Step.INTRO and digit in "9#":
            self._goto(session, 0)
        elif session.step in (Step.HEADER, Step.BODY, Step.WAIT_AUDIO, Step.AFTER):
            if digit == "7":
                self._delete(session)
            elif digit in "9#":
                self._mark_heard(session)
                self._goto(session, session.index + 1)
            elif digit == "5":
                self._goto(session, session.index)
            elif digit == "4":
                self._goto(session, session.index - 1, backwards=True)
        return True  # every key belongs to the session while it lasts
