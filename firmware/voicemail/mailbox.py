"""Listening to voicemail: the ``*97`` menu (``FeatureCodes.voicemail``), as users of
Asterisk's VoiceMailMain() on an analog phone know it, with its recordings.

An extension with ``voicemail: true`` dials ``*97`` and reaches its own mailbox (an
extension without one hears ``vm-nobox``; the reason is logged). A caller on an outside line
reaches it by pressing ``*`` during the mailbox's greeting (:meth:`MailboxMenu.enter_remote`).

PIN (:mod:`firmware.voicemail.pins`): when the mailbox has one, "password" (``vm-password``)
is asked first, digits ended by ``#`` (or :data:`PIN_TIMEOUT_S` after the last key); a wrong
one says "login incorrect" and asks again, :data:`MAX_ATTEMPTS` times per call (Asterisk's
``maxlogins``); wrong PINs in a row lock the mailbox (the accounts' rule: 5, then 5 minutes,
on the engine's audio clock). A mailbox with no PIN is entered from its own phone without one
and refused from an outside line (no default PIN). PINs are checked on the worker (scrypt).

The mailbox is read on a worker thread — never on the media loop — while the phone hears
silence. Then:

1. the summary: "you have" N "new" message(s) ["and" M "old" message(s)], or "you have no
   messages" then "goodbye" (Asterisk's English intro: ``vm-youhave``, ``vm-INBOX``,
   ``vm-and``, ``vm-Old``, ``vm-message``/``vm-messages``, ``vm-no``, ``vm-goodbye``);
2. each message, new ones first, then old, oldest first within each: "first message" (or
   "message" N), the envelope ("received <date> <time> from phone number <digits>":
   :mod:`firmware.voicemail.envelope`), then the recording. ``AFTER_MESSAGE_S`` after a
   message the next one starts by itself;
3. after the last one: ``vm-nomore``, ``vm-goodbye``; then silence until on-hook.

Keys, during or after a message (a key cuts what is playing short):

=====  ================================================================================
``7``  delete the message (``vm-deleted``), then the next one
``9``  next message (``#`` too); the message is kept as an old one
``5``  repeat the message
``4``  previous message
``*``  leave: ``vm-goodbye``
``0``  mailbox options (also during the summary)
=====  ================================================================================

Options (Asterisk's ``vm-options``): ``1`` record the unavailable greeting, ``2`` the busy
greeting, ``3`` the name ("record your … message after the tone", the tone, then up to the
greeting's limit, ended by ``#``: :mod:`firmware.voicemail.greetings`), ``5`` change the PIN
("new password" then "please re-enter", ``#`` after each; "password changed", or "the
passwords do not match"), ``*`` back to the messages.

A new message becomes old when it has been played to its end or skipped with ``9``/``#``.
Marking heard and deleting go to the worker as they happen, so hanging up at any point
keeps what was done. Message audio is loaded on the worker too: the next message while one
plays; a message not loaded yet is waited for in silence. Results come back through a
thread-safe queue drained in :meth:`MailboxMenu.on_tick`. Store errors end the session
with the error beep and a log line.

Log component ``voicemail``: ``vm_session`` (start: mailbox, new and old counts; refusals
with ``refused`` and the reason), ``vm_login`` (PIN result: ok, wrong, locked, no_pin),
``vm_played`` (a message played to its end), ``vm_deleted``, ``vm_pin_changed``,
``vm_greeting_recorded``, ``vm_error``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

import numpy as np

from drivers.audio import TICK_MS, TICK_SAMPLES
from drivers.logs import EventLogger
from firmware import FirmwareError
from firmware.config.model import Extension
from firmware.dialplan import DialResult
from firmware.engine.calls import Call, Leg
from firmware.engine.control import CallControlApi, Then
from firmware.engine.services import AttachedService
from firmware.engine.worker import ERROR_SUFFIX, SessionJobs, Worker
from firmware.voicemail.greetings import MIN_GREETING_S, GreetingKind, greeting_limit_s
from firmware.voicemail.languages import owner_language
from firmware.voicemail.pins import MAX_PIN_DIGITS, PinCheck, check_pin
from firmware.voicemail.prompts import header_words, intro_words

__all__ = ["MailboxMenu", "Sentences", "header_words", "intro_words"]

TICK_S = TICK_MS / 1000.0
AFTER_MESSAGE_S = 3.0  # silence after a message for a key; then the next message starts
PIN_TIMEOUT_S = 5.0  # a PIN entry without '#' ends this long after the last key (Asterisk's default)
MAX_ATTEMPTS = 3  # PIN tries per call (Asterisk voicemail.conf ``maxlogins``)
ENVELOPE_GAP_S = 0.5
RECORD_KEYS = {"1": GreetingKind.UNAVAILABLE, "2": GreetingKind.BUSY, "3": GreetingKind.NAME}
RECORD_PROMPTS = {GreetingKind.UNAVAILABLE: "vm-rec-unv", GreetingKind.BUSY: "vm-rec-busy",
                  GreetingKind.NAME: "vm-rec-name"}


class Sentences(Protocol):
    """What the menu needs of the prompts (``prompts.VoicemailPrompts``, whose ``MENU_WORDS`` are
    the recordings this menu speaks): recorded words joined into one buffer."""

    def sentence(self, names: Sequence[str], language: str | None = None) -> np.ndarray: ...

    def speaks(self, language: str | None) -> str: ...


class Step(StrEnum):
    PIN = "pin"  # "password": digits until '#'
    CHECKING = "checking"  # the PIN is being checked on the worker
    LOADING = "loading"  # the mailbox is being read
    INTRO = "intro"  # the summary plays
    HEADER = "header"  # "message N"
    BODY = "body"  # the recording
    WAIT_AUDIO = "wait_audio"  # the recording is still being loaded
    AFTER = "after"  # the recording ended: waiting for a key
    DELETED = "deleted"  # "deleted" plays
    CLOSING = "closing"  # "no more messages, goodbye" plays
    OPTIONS = "options"  # the options menu prompt plays, or waits for a key
    NEW_PIN = "new_pin"  # "new password": digits until '#'
    REPEAT_PIN = "repeat_pin"  # "please re-enter": digits until '#'
    RECORD_PROMPT = "record_prompt"  # "record your … after the tone", the tone
    RECORDING = "recording"  # a greeting being recorded
    OPTION_DONE = "option_done"  # "message saved" / "password changed" / …: then the options again


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
    call: Call | None = None  # a caller on an outside line (None: the mailbox's own phone)
    entry: str = ""  # digits typed so far (PIN steps)
    attempts: int = 0
    new_pin: str = ""
    recording: GreetingKind | None = None
    chunks: list[np.ndarray] = field(default_factory=list, repr=False)
    releasing: bool = False  # a line session: the line is released when what plays ends
    language: str = "en"  # what the session speaks (the mailbox's, else the caller's; MailboxMenu._open)


class MailboxMenu(AttachedService):
    """The mailbox sessions, one per port (phones dialling ``*97``, callers on lines after ``*``);
    an attached service (``Switch.attached``) with a frame tap for recording greetings."""

    def __init__(self, control: CallControlApi, store, prompts: Sentences, log: EventLogger | None = None,
                 worker: Worker | None = None, pins=None, greetings=None, envelope=None, contacts=None) -> None:
        """``pins``: a :class:`~firmware.voicemail.pins.PinBook` (None: no PINs, phones enter at once);
        ``greetings``: :class:`~firmware.voicemail.greetings.Greetings` (None: no recording option);
        ``envelope``: :class:`~firmware.voicemail.envelope.EnvelopeSpeaker` (None: no envelope);
        ``contacts``: the contact store (firmware.desk.lookup.ContactLookup; None: no caller's language)."""
        self.cc = control
        self.store = store
        self.prompts = prompts
        self.pins = pins
        self.greetings = greetings
        self.envelope = envelope
        self.contacts = contacts
        self.log = log or EventLogger("voicemail")
        self._own_worker = worker is None
        self.worker = worker or Worker("voicemail-mailbox", lambda job: job(), self.log)
        self._jobs = SessionJobs(self.worker)
        self.sessions: dict[int, Session] = {}
        self._recording: dict[int, Session] = {}  # port -> session recording a greeting

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
        self._jobs.run(session.port, session.token, kind, job)

    def _write(self, session: Session, what: str, job: Callable[[], None]) -> None:
        """A store change: kept even if the caller hangs up; a failure is logged."""
        port, mailbox = session.port, session.mailbox

        def run() -> None:
            try:
                job()
            except FirmwareError as exc:
                self.log.error("vm_error", port=port, mailbox=mailbox, action=what, error=str(exc))

        self.worker.submit(run)

    # ------------------------------------------------------------------ entering
    def _start(self, port: int, extension: Extension, result: DialResult) -> None:
        if not extension.voicemail:
            self.log.info("vm_session", port=port, extension=extension.number, refused=True,
                          reason="this extension has no mailbox (voicemail is off)")
            self._finish(port, ["vm-nobox"], self.prompts.speaks(self.cc.config.effective_language()))
            return
        self.cc.set_state(port, Leg.DIALING, call=None)  # digits come here (attached) until the session ends
        self.cc.stop_audio(port)  # silence while the mailbox is read
        self.cc.hear_player(port)
        self._open(port, extension.number, None)

    def enter_remote(self, call: Call, line_port: int, mailbox: str) -> None:
        """A caller on ``line_port`` pressed ``*`` in ``mailbox``'s greeting: the PIN, then the menu."""
        self.cc.stop_audio(line_port)
        self.cc.hear_nothing(line_port)
        self._open(line_port, mailbox, call)

    def _open(self, port: int, mailbox: str, call: Call | None) -> None:
        language = self.prompts.speaks(owner_language(self.cc.config, mailbox, call, port, self.contacts))
        session = Session(port, mailbox, self._jobs.new_token(), call=call, language=language)
        self.sessions[port] = session
        if self.pins is None:
            if call is not None:  # no PINs on this box: never from outside
                self._refuse(session, "no_pin")
                return
            self._load_messages(session)
            return
        session.step = Step.CHECKING
        pins = self.pins
        self._off_loop(session, "pin_status", lambda: pins.status(mailbox).has_pin)

    def _load_messages(self, session: Session) -> None:
        session.step = Step.LOADING
        mailbox = session.mailbox
        self._off_loop(session, "messages", lambda: self.store.messages(mailbox))

    def _ask_pin(self, session: Session, words: list[str]) -> None:
        session.entry = ""
        self._say(session, Step.PIN, words)

    def _refuse(self, session: Session, reason: str) -> None:
        self.log.info("vm_login", port=session.port, mailbox=session.mailbox, result=reason,
                      line=session.call is not None)
        self._finish(session.port, ["vm-incorrect", "vm-goodbye"] if reason != "no_pin" else ["vm-sorry",
                                                                                             "vm-goodbye"])

    def _submit_pin(self, session: Session) -> None:
        entry, session.entry = session.entry, ""
        session.attempts += 1
        if not entry:
            self._after_wrong(session)
            return
        session.step = Step.CHECKING
        mailbox, pins = session.mailbox, self.pins
        now = self.cc.epoch(self.cc.tick)  # the audio clock's time: lockouts never read the wall clock
        self._off_loop(session, "pin", lambda: pins.check(mailbox, entry, now))

    def _after_wrong(self, session: Session) -> None:
        if session.attempts >= MAX_ATTEMPTS:
            self._refuse(session, "too_many_attempts")
        else:
            self._ask_pin(session, ["vm-incorrect", "vm-password"])

    # ------------------------------------------------------------------ playing
    def _play(self, port: int, samples: np.ndarray) -> None:
        self.cc.play(port, samples)

    def _say(self, session: Session, step: Step, names: list[str]) -> None:
        session.step = step
        session.deadline_tick = 0  # a step waiting for keys starts its wait when the prompt ends
        self._play(session.port, self.prompts.sentence(names, session.language))

    def _finish(self, port: int, names: list[str], language: str | None = None) -> None:
        """Says ``names``, then silence until on-hook (a line: then the box releases it)."""
        session = self.sessions.get(port)
        language = session.language if session is not None else language
        self._recording.pop(port, None)
        if session is not None and session.call is not None:
            session.releasing = True
            session.step = Step.CLOSING
            self._play(port, self.prompts.sentence(names, language) if names else np.zeros(TICK_SAMPLES))
            return
        self.sessions.pop(port, None)
        said = self.prompts.sentence(names, language) if names else np.zeros(TICK_SAMPLES)  # [] : silence at once
        self.cc.say(port, said, Then.WAIT_ON_HOOK)

    def _current(self, session: Session):
        return session.messages[session.index]

    def _load(self, session: Session, index: int) -> None:
        """Asks the worker for message ``index``'s audio, its envelope first (once)."""
        if not 0 <= index < len(session.messages):
            return
        message = session.messages[index]
        if message.id in session.audio or message.id in session.loading or message.id in session.deleted:
            return
        session.loading.add(message.id)
        config = self.cc.config
        envelope = self.envelope if config.voicemail.mailbox(session.mailbox).envelope else None
        language, timezone = session.language, config.voicemail.timezone

        def job() -> tuple[int, np.ndarray]:
            body = self.store.load_audio(message)
            if envelope is None:
                return message.id, body
            try:
                said = envelope.audio(message.received, message.caller_number, language, timezone)
            except FirmwareError as exc:  # the message still plays, without its envelope
                self.log.warning("vm_envelope_failed", mailbox=message.mailbox, id=message.id, error=str(exc))
                return message.id, body
            gap = np.zeros(round(ENVELOPE_GAP_S * 8000))
            return message.id, np.concatenate([said, gap, body])

        self._off_loop(session, "audio", job)

    def _goto(self, session: Session, index: int, backwards: bool = False) -> None:
        """Plays the first message not deleted from ``index`` on (going back: at or before it)."""
        step = -1 if backwards else 1
        while 0 <= index < len(session.messages) and session.messages[index].id in session.deleted:
            index += step
        if backwards and index < 0:
            self._goto(session, 0)
            return
        if index >= len(session.messages):
            self._finish(session.port, ["vm-nomore", "vm-goodbye"])
            return
        session.index = index
        self._load(session, index)
        self._say(session, Step.HEADER, header_words(index, session.language))

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

    # ------------------------------------------------------------------ options
    def _options(self, session: Session) -> None:
        self._recording.pop(session.port, None)
        self._say(session, Step.OPTIONS, ["vm-options"])

    def _option_key(self, session: Session, digit: str) -> None:
        if digit in RECORD_KEYS and self.greetings is not None:
            kind = RECORD_KEYS[digit]
            session.recording = kind
            self._say(session, Step.RECORD_PROMPT, [RECORD_PROMPTS[kind], "beep"])
        elif digit == "5" and self.pins is not None:
            session.entry = ""
            self._say(session, Step.NEW_PIN, ["vm-newpassword"])
        elif digit == "*":
            self._load_messages(session)

    def _start_greeting(self, session: Session) -> None:
        self.cc.stop_audio(session.port)
        session.step = Step.RECORDING
        session.chunks = []
        session.deadline_tick = self.cc.tick + round(greeting_limit_s(session.recording) / TICK_S)
        self._recording[session.port] = session

    def _end_greeting(self, session: Session, by_key: bool) -> None:
        self._recording.pop(session.port, None)
        kind = session.recording
        chunks, session.chunks = session.chunks, []
        if by_key:  # the '#' tone: about 100 ms before the digit was reported (deposit.DIGIT_TRIM_S)
            chunks = chunks[: max(0, len(chunks) - round(0.1 / TICK_S))]
        if kind is None or len(chunks) * TICK_SAMPLES < MIN_GREETING_S * 8000:
            self._say(session, Step.OPTION_DONE, ["vm-tooshort"])
            return
        samples = np.concatenate(chunks).astype(np.float64)
        mailbox, greetings, port = session.mailbox, self.greetings, session.port

        def save() -> None:
            seconds = greetings.save(mailbox, kind, samples)
            self.log.info("vm_greeting_recorded", port=port, mailbox=mailbox, kind=str(kind), seconds=seconds)

        self._write(session, "greeting", save)
        self._say(session, Step.OPTION_DONE, ["vm-msgsaved"])

    def _pin_entered(self, session: Session) -> None:
        entry, session.entry = session.entry, ""
        if session.step is Step.NEW_PIN:
            try:
                check_pin(session.mailbox, entry)
            except FirmwareError:
                self._say(session, Step.NEW_PIN, ["vm-sorry", "vm-newpassword"])  # 4-10 digits, not trivial
                return
            session.new_pin = entry
            self._say(session, Step.REPEAT_PIN, ["vm-reenterpassword"])
            return
        if entry != session.new_pin:
            session.new_pin = ""
            self._say(session, Step.OPTION_DONE, ["vm-mismatch"])
            return
        pin, session.new_pin = session.new_pin, ""
        mailbox, pins, port = session.mailbox, self.pins, session.port
        now = self.cc.epoch(self.cc.tick)

        def change() -> None:
            pins.set_pin(mailbox, pin, now)
            self.log.info("vm_pin_changed", port=port, mailbox=mailbox, by="phone")

        self._write(session, "pin", change)
        self._say(session, Step.OPTION_DONE, ["vm-passchanged"])

    # ------------------------------------------------------------------ results from the worker
    def _result(self, session: Session, kind: str, value: object) -> None:
        if kind.endswith(ERROR_SUFFIX):  # a store read failed: the caller hears the error tone
            self.log.error("vm_error", port=session.port, mailbox=session.mailbox,
                           error=f"{kind.removesuffix(ERROR_SUFFIX)}: {value}")
            self._finish(session.port, ["beeperr"])
        elif kind == "pin_status":
            if value:
                self._ask_pin(session, ["vm-password"])
            elif session.call is not None:
                self._refuse(session, "no_pin")  # no default PIN: not from outside
            else:
                self.log.info("vm_login", port=session.port, mailbox=session.mailbox, result="own_phone_no_pin",
                              line=False)
                self._load_messages(session)
        elif kind == "pin":
            result = PinCheck(value)
            self.log.info("vm_login", port=session.port, mailbox=session.mailbox, result=str(result),
                          line=session.call is not None, attempt=session.attempts)
            if result is PinCheck.OK:
                self._load_messages(session)
            elif result is PinCheck.LOCKED:
                self._refuse(session, "locked")
            elif result is PinCheck.NO_PIN and session.call is None:
                self._load_messages(session)
            elif result is PinCheck.NO_PIN:
                self._refuse(session, "no_pin")
            else:
                self._after_wrong(session)
        elif kind == "messages":
            session.messages = list(value)
            session.index = 0
            session.audio.clear()
            session.deleted.clear()
            session.heard = {message.id for message in session.messages if message.heard}
            new = sum(1 for message in session.messages if not message.heard)
            old = len(session.messages) - new
            self.log.info("vm_session", port=session.port, mailbox=session.mailbox, new=new, old=old)
            if not session.messages:  # "… no messages, goodbye"; 0 during it opens the options
                self._say(session, Step.INTRO, [*intro_words(0, 0, session.language), "vm-goodbye"])
                return
            self._load(session, 0)
            self._say(session, Step.INTRO, intro_words(new, old, session.language))
        elif kind == "audio":
            message_id, samples = value
            session.loading.discard(message_id)
            if message_id not in session.deleted:
                session.audio[message_id] = samples
            if session.step is Step.WAIT_AUDIO and self._current(session).id == message_id:
                self._body(session)

    # ------------------------------------------------------------------ the frame tap
    def tap(self, frame: np.ndarray) -> None:
        """MediaLoop tap: appends each greeting-recording port's row of the frame (a copy)."""
        for port, session in self._recording.items():
            session.chunks.append(frame[port].copy())

    # ------------------------------------------------------------------ AttachedService
    def on_tick(self, tick: int) -> None:
        self._jobs.deliver(self.sessions, self._result)
        for port, session in list(self.sessions.items()):
            if session.call is None and self.cc.state(port) is not Leg.DIALING:
                del self.sessions[port]  # hung up (or out of service): what was done is kept
                self._recording.pop(port, None)
                continue
            self._tick_session(session, tick)

    def _tick_session(self, session: Session, tick: int) -> None:
        port = session.port
        if session.step is Step.AFTER:
            if tick >= session.deadline_tick:
                self._goto(session, session.index + 1)
            return
        if session.step is Step.RECORDING:
            if tick >= session.deadline_tick:
                self._end_greeting(session, by_key=False)
            return
        if self.cc.playing(port):
            return
        if session.step in (Step.PIN, Step.NEW_PIN, Step.REPEAT_PIN, Step.OPTIONS):
            if session.deadline_tick == 0:  # the prompt ended: the wait for keys starts
                session.deadline_tick = tick + round(PIN_TIMEOUT_S / TICK_S) * (2 if session.step is Step.OPTIONS
                                                                                else 1)
            elif tick >= session.deadline_tick:
                self._key_timeout(session)
        elif session.step is Step.CLOSING:
            if session.releasing:
                del self.sessions[port]
                self.cc.end_service_call(session.call, "voicemail")
        elif session.step is Step.INTRO:
            if session.messages:
                self._goto(session, 0)
            else:
                self._finish(port, [])
        elif session.step is Step.HEADER:
            self._body(session)
        elif session.step is Step.BODY:
            self._played_to_end(session)
        elif session.step is Step.DELETED:
            self._goto(session, session.index + 1)
        elif session.step is Step.RECORD_PROMPT:
            self._start_greeting(session)
        elif session.step is Step.OPTION_DONE:
            self._options(session)

    def _key_timeout(self, session: Session) -> None:
        if session.step is Step.PIN:
            self._submit_pin(session)
        elif session.step in (Step.NEW_PIN, Step.REPEAT_PIN):
            self._pin_entered(session)
        else:  # options: nobody chose
            self._finish(session.port, ["vm-goodbye"])

    def on_digit(self, port: int, digit: str) -> bool:
        session = self.sessions.get(port)
        if session is None:
            return False
        step = session.step
        if step in (Step.PIN, Step.NEW_PIN, Step.REPEAT_PIN):
            self.cc.stop_audio(port)
            if digit == "#" and step is Step.PIN:
                self._submit_pin(session)
            elif digit == "#":
                self._pin_entered(session)
            elif digit == "*" and step is Step.PIN:
                self._finish(port, ["vm-goodbye"])
            elif digit.isdigit() and len(session.entry) < MAX_PIN_DIGITS + 1:
                session.entry += digit
                session.deadline_tick = self.cc.tick + round(PIN_TIMEOUT_S / TICK_S)
        elif step in (Step.CHECKING, Step.LOADING, Step.CLOSING):
            pass
        elif step is Step.RECORDING:
            if digit == "#":
                self._end_greeting(session, by_key=True)
        elif step in (Step.OPTIONS, Step.OPTION_DONE, Step.RECORD_PROMPT):
            if step is not Step.RECORD_PROMPT:
                self.cc.stop_audio(port)
                self._option_key(session, digit)
        elif digit == "*":
            self._finish(port, ["vm-goodbye"])
        elif digit == "0" and step in (Step.INTRO, Step.AFTER):
            self._options(session)
        elif step is Step.INTRO and digit in "9#":
            if session.messages:
                self._goto(session, 0)
        elif step in (Step.HEADER, Step.BODY, Step.WAIT_AUDIO, Step.AFTER):
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

    def before_end(self, call: Call) -> None:
        for port, session in list(self.sessions.items()):
            if session.call is call:
                del self.sessions[port]
                self._recording.pop(port, None)
