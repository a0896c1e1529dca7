"""Leaving a message: the call service for ``DestinationKind.VOICEMAIL``.

An answered inbound call reaches a mailbox (an extension with ``voicemail: true``) by an
inbound route, a ring group's no-answer destination, or a queue's overflow or exit key.
The caller hears what Asterisk's ``VoiceMail()`` plays, from the same recordings:

The caller hears it in their language (:mod:`firmware.voicemail.languages`: the IVR's choice,
the contact's, the route's, the line's or the box's), Spanish and French from Debian's sets.

1. greeting: the mailbox's own (:mod:`firmware.voicemail.greetings`: the busy one while its
   phone is in a call, else the unavailable one) or the standard "the person at extension
   2 0 1 (or the recorded name) is unavailable", then "please leave your message after the
   tone; when done, hang up or press the pound key" (``#`` skips to the tone; ``0`` goes to
   the mailbox's operator destination when one is configured, as Asterisk's ``o`` extension;
   ``*`` enters the mailbox itself, PIN first: :meth:`MailboxMenu.enter_remote`);
   a full mailbox (``max_messages``) says "the mailbox is full", "goodbye" instead and
   releases the line;
2. the tone (``beep``); recording starts when it ends;
3. recording: the caller's line row of every frame (a :class:`~firmware.engine.loop.MediaLoop`
   tap; one 160-sample copy a tick) until the caller hangs up, presses ``#``, stays silent for
   :data:`SILENCE_END_S` or reaches the mailbox's ``max_message_s``;
4. after ``#`` or silence: "message saved" + "goodbye" (only "goodbye" when the message was
   too short to keep, or after the length limit), then the box releases the line.

Trailing silence is trimmed, and after ``#`` the digit's own tone too. A message shorter
than the mailbox's ``min_message_s`` after trimming is discarded. Kept messages go to a
:class:`~firmware.engine.worker.Worker` that joins the chunks and calls
:meth:`VoicemailStore.save`, then the ``on_saved`` listeners (e-mail notification): the loop
never touches the disk, and a failed save is logged (``vm_save_failed``), never raised into
the loop. The mailbox's limits are its ``voicemail.mailboxes`` entry (configuration), read
when the call arrives.

The call record: answered by the box when the greeting starts, ``dst`` the mailbox, cause
``voicemail`` when the box releases the line (``normal_clearing`` etc. when the caller hangs up).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from drivers.audio import TICK_MS, TICK_SAMPLES
from drivers.logs import EventLogger
from firmware import FirmwareError
from firmware.config.model import MailboxSettings
from firmware.desk.lookup import ContactLookup
from firmware.engine.calls import AVAILABLE, Call
from firmware.engine.control import CallControlApi, Then
from firmware.engine.services import AttachedService
from firmware.engine.worker import Worker
from firmware.voicemail.greetings import GreetingKind, Greetings
from firmware.voicemail.languages import caller_language
from firmware.voicemail.prompts import VoicemailPrompts
from firmware.voicemail.store import MAX_TEXT, Message, VoicemailStore

TICK_S = TICK_MS / 1000.0
SILENCE_END_S = 10.0  # Asterisk ``maxsilence`` default: this much silence ends the recording
# Silence is a 20 ms frame whose mean absolute amplitude is below Asterisk's default
# ``silencethreshold`` of 128 (16-bit linear, about -41 dBm0 for a sine). A level threshold,
# not dsp/vad.py: the VAD's tone guard would call a caller's steady tone or hum "silence", and
# a mean per frame costs nothing on the loop.
SILENCE_MEAN_ABS = 128
KEEP_AFTER_SOUND_S = 0.2  # kept after the last frame with sound, so the last word is not clipped
# The DTMF detector reports a digit about 40 ms into its tone (dsp/dtmf.py); 100 ms before the
# report covers the tone and the tick it was detected in.
DIGIT_TRIM_S = 0.1
END_KEY = "#"
OPERATOR_KEY = "0"
MAILBOX_KEY = "*"  # Asterisk: '*' in the greeting goes to the mailbox's login


def _ticks(seconds: float) -> int:
    return max(1, round(seconds / TICK_S))


class Phase(StrEnum):
    GREETING = "greeting"  # "the person at extension … is unavailable", "please leave your message…"
    BEEP = "beep"
    RECORDING = "recording"
    CLOSING = "closing"  # "message saved", "goodbye" (or "mailbox full"); then the box releases the line


@dataclass
class Deposit:
    """One caller leaving a message."""

    call: Call
    line_port: int
    mailbox: str
    settings: MailboxSettings = field(default_factory=MailboxSettings)
    phase: Phase = Phase.GREETING
    received: float = 0.0  # epoch seconds (the switch's clock) when recording started
    chunks: list[np.ndarray] = field(default_factory=list, repr=False)  # one 160-sample row per tick
    sound: list[bool] = field(default_factory=list, repr=False)  # per chunk: above the silence threshold
    silent_run: int = 0  # chunks of silence at the end of the recording so far
    language: str = "en"  # what the caller hears (firmware/voicemail/languages.py)


@dataclass(frozen=True)
class PendingMessage:
    """A kept recording on its way to the store (joined and saved on the worker)."""

    call_id: int
    mailbox: str
    caller_number: str
    caller_name: str
    received: float
    chunks: list[np.ndarray] = field(repr=False)
    keep_samples: int = 0


def _store_text(text: str) -> str:
    """Caller ID as the store accepts it: printable characters, at most MAX_TEXT."""
    return "".join(ch for ch in text if ch.isprintable())[:MAX_TEXT]


def kept_chunks(sound: list[bool], by_digit: bool) -> int:
    """How many chunks of a recording to keep: the digit's tone cut after ``#``, then the trailing
    silence (a short margin after the last chunk with sound kept)."""
    end = len(sound) - (_ticks(DIGIT_TRIM_S) if by_digit else 0)
    last = end - 1
    while last >= 0 and not sound[last]:
        last -= 1
    if last < 0:
        return 0
    return min(end, last + 1 + _ticks(KEEP_AFTER_SOUND_S))


class VoicemailDeposit(AttachedService):
    """The call service for voicemail and an attached service of the switch (see module docstring)."""

    def __init__(self, control: CallControlApi, store: VoicemailStore, prompts: VoicemailPrompts,
                 log: EventLogger | None = None, greetings: Greetings | None = None,
                 contacts: ContactLookup | None = None) -> None:
        self.cc = control
        self.store = store
        self.prompts = prompts
        self.greetings = greetings
        self.contacts = contacts  # the contact store: a known caller hears their language
        self.log = log or EventLogger("voicemail")
        self.on_saved: list[Callable[[Message], None]] = []  # called on the worker after each save
        # ``*`` during the greeting: the mailbox menu's remote entry (PIN first); None: ignored
        self.enter_mailbox: Callable[[Call, int, str], None] | None = None
        self.deposits: dict[int, Deposit] = {}  # switch call id -> deposit
        self._recording: dict[int, Deposit] = {}  # line port -> deposit being recorded
        self._worker = Worker("voicemail-save", self._save, self.log)

    # ------------------------------------------------------------------ call service
    def take(self, call: Call, line_port: int, mailbox: str) -> bool:
        extension = self.cc.config.extension(mailbox)
        if extension is None or not extension.voicemail:
            self.log.warning("vm_no_mailbox", call=call.call_id, mailbox=mailbox,
                             reason="no such extension" if extension is None else "voicemail is off")
            return False
        config = self.cc.config
        language = self.prompts.speaks(caller_language(config, call, line_port, self.contacts))
        deposit = Deposit(call, line_port, mailbox, config.voicemail.mailbox(mailbox), language=language)
        self.deposits[call.call_id] = deposit
        call.destination = mailbox
        # The box answers (the record says answered); connected to the box, busy-tone and silence
        # supervision of the line apply (switch.py).
        self.cc.answer_line(call, line_port)
        held = self.store.count(mailbox)
        if held >= deposit.settings.max_messages:
            self.log.info("vm_mailbox_full", call=call.call_id, mailbox=mailbox, messages=held,
                          max_messages=deposit.settings.max_messages)
            deposit.phase = Phase.CLOSING
            self._play(deposit, self.prompts.sentence(["vm-mailboxfull", "vm-goodbye"], language))
            return True
        greeting, which = self._greeting(mailbox, extension.port, language)
        self._play(deposit, greeting)
        self.log.info("vm_greeting", call=call.call_id, mailbox=mailbox, line=line_port, greeting=which,
                      language=language)
        return True

    def _greeting(self, mailbox: str, port: int, language: str) -> tuple[np.ndarray, str]:
        """The greeting to play and its name (module docstring); memory look-ups only."""
        own = self.greetings
        intro = self.prompts.sentence(["vm-intro"], language)
        if own is not None:
            busy = own.get(mailbox, GreetingKind.BUSY)
            if busy is not None and self.cc.state(port) not in AVAILABLE:
                return np.concatenate([busy.astype(np.float64), intro]), "busy"
            unavailable = own.get(mailbox, GreetingKind.UNAVAILABLE)
            if unavailable is not None:
                return np.concatenate([unavailable.astype(np.float64), intro]), \
                    "unavailable"
            name = own.get(mailbox, GreetingKind.NAME)
            if name is not None:
                return np.concatenate([self.prompts.sentence(["vm-theperson"], language), name.astype(np.float64),
                                       self.prompts.sentence(["vm-isunavail", "vm-intro"], language)]), "name"
        return self.prompts.greeting(mailbox, language), "standard"

    def _play(self, deposit: Deposit, samples: np.ndarray) -> None:
        self.cc.say(deposit.line_port, samples, Then.CONTINUE)

    # ------------------------------------------------------------------ the frame tap
    def tap(self, frame: np.ndarray) -> None:
        """MediaLoop tap: appends each recording caller's row of the frame (a copy of 160 samples)."""
        for port, deposit in self._recording.items():
            row = frame[port].copy()
            loud = int(np.abs(row.astype(np.int32)).sum()) >= SILENCE_MEAN_ABS * row.size
            deposit.chunks.append(row)
            deposit.sound.append(loud)
            deposit.silent_run = 0 if loud else deposit.silent_run + 1

    # ------------------------------------------------------------------ attached service
    def on_tick(self, tick: int) -> None:
        for deposit in list(self.deposits.values()):
            busy = self.cc.playing(deposit.line_port)
            if deposit.phase is Phase.GREETING and not busy:
                self._beep(deposit)
            elif deposit.phase is Phase.BEEP and not busy:
                self._start_recording(deposit)
            elif deposit.phase is Phase.RECORDING:
                if len(deposit.chunks) >= _ticks(deposit.settings.max_message_s):
                    self._finish(deposit, "max_length", by_digit=False)
                elif deposit.silent_run >= _ticks(SILENCE_END_S):
                    self._finish(deposit, "silence", by_digit=False)
            elif deposit.phase is Phase.CLOSING and not busy:
                del self.deposits[deposit.call.call_id]
                self.cc.end_service_call(deposit.call, "voicemail")

    def on_digit(self, port: int, digit: str) -> bool:
        deposit = next((d for d in self.deposits.values() if d.line_port == port), None)
        if deposit is None:
            return False
        if digit == END_KEY and deposit.phase is Phase.GREETING:
            self._beep(deposit)
        elif digit == OPERATOR_KEY and deposit.phase in (Phase.GREETING, Phase.BEEP) \
                and deposit.settings.operator is not None:
            self._to_operator(deposit)
        elif digit == MAILBOX_KEY and deposit.phase in (Phase.GREETING, Phase.BEEP) \
                and self.enter_mailbox is not None:
            del self.deposits[deposit.call.call_id]
            self.log.info("vm_remote_entry", call=deposit.call.call_id, mailbox=deposit.mailbox)
            self.enter_mailbox(deposit.call, deposit.line_port, deposit.mailbox)
        elif digit == END_KEY and deposit.phase is Phase.RECORDING:
            self._finish(deposit, "key", by_digit=True)
        return True  # every other key is ignored while leaving a message

    def _to_operator(self, deposit: Deposit) -> None:
        """``0`` during the greeting: the caller leaves voicemail for the operator destination."""
        operator = deposit.settings.operator
        assert operator is not None  # checked by the caller
        del self.deposits[deposit.call.call_id]
        self.cc.stop_audio(deposit.line_port)
        self.cc.hear_nothing(deposit.line_port)
        self.log.info("vm_operator", call=deposit.call.call_id, mailbox=deposit.mailbox, destination=str(operator))
        self.cc.deliver(deposit.call, deposit.line_port, operator)

    def before_end(self, call: Call) -> None:
        deposit = self.deposits.pop(call.call_id, None)
        if deposit is None:
            return
        if deposit.phase is Phase.RECORDING:
            self._finish(deposit, "hangup", by_digit=False)
        elif deposit.phase in (Phase.GREETING, Phase.BEEP):
            self.log.info("vm_discarded", call=call.call_id, mailbox=deposit.mailbox, reason="hung_up_before_tone",
                          seconds=0.0)

    # ------------------------------------------------------------------ phases
    def _beep(self, deposit: Deposit) -> None:
        deposit.phase = Phase.BEEP
        self._play(deposit, self.prompts.sentence(["beep"], deposit.language))

    def _start_recording(self, deposit: Deposit) -> None:
        self.cc.stop_audio(deposit.line_port)
        self.cc.hear_nothing(deposit.line_port)
        deposit.phase = Phase.RECORDING
        deposit.received = self.cc.now().timestamp()
        self._recording[deposit.line_port] = deposit
        self.log.info("vm_recording", call=deposit.call.call_id, mailbox=deposit.mailbox)

    def _finish(self, deposit: Deposit, reason: str, by_digit: bool) -> None:
        """Recording over: hand a long enough message to the worker; tell a caller still there."""
        self._recording.pop(deposit.line_port, None)
        keep = kept_chunks(deposit.sound, by_digit) * TICK_SAMPLES
        seconds = round(keep / 8000.0, 2)
        kept = keep >= max(1, deposit.settings.min_message_s * 8000)
        call = deposit.call
        if kept:
            self._worker.submit(PendingMessage(call.call_id, deposit.mailbox, _store_text(call.caller_number),
                                               _store_text(call.caller_name), deposit.received, deposit.chunks,
                                               keep))
        else:
            self.log.info("vm_discarded", call=call.call_id, mailbox=deposit.mailbox, reason="too_short",
                          seconds=seconds, ended_by=reason)
        if reason == "hangup":
            return
        self.log.info("vm_recording_ended", call=call.call_id, mailbox=deposit.mailbox, reason=reason,
                      seconds=seconds)
        deposit.phase = Phase.CLOSING
        deposit.chunks, deposit.sound = [], []
        words = ["vm-msgsaved", "vm-goodbye"] if kept and reason != "max_length" else ["vm-goodbye"]
        self._play(deposit, self.prompts.sentence(words, deposit.language))

    # ------------------------------------------------------------------ the worker
    def _save(self, pending: PendingMessage) -> None:
        """On the worker thread: join the chunks and store the message."""
        samples = np.concatenate(pending.chunks)[: pending.keep_samples]
        try:
            message = self.store.save(pending.mailbox, pending.caller_number, pending.caller_name,
                                      pending.received, samples)
        except FirmwareError as exc:
            self.log.error("vm_save_failed", call=pending.call_id, mailbox=pending.mailbox, error=str(exc))
            return
        self.log.info("vm_saved", call=pending.call_id, mailbox=pending.mailbox, seconds=message.duration_s,
                      id=message.id, caller=pending.caller_number or "withheld")
        for listener in self.on_saved:
            listener(message)  # a listener's fault is the worker's to log (firmware/engine/worker.py)

    def drain(self) -> None:
        """Waits until every message handed over so far is stored (tests, shutdown)."""
        self._worker.drain()

    def close(self) -> None:
        """Stores what is queued and stops the worker."""
        self._worker.close()
