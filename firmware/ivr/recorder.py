"""Recording an IVR prompt by phone: the ``record_prompt`` feature code (``*77`` by default).

Only extensions listed in ``security.prompt_recorders`` may use it (none by default: the box's
prompts are what every caller hears, so recording one is an installer's right, given by name).
Any other extension hears "that feature is not available on this line" (``prompt_record
refused=…`` in the log). An allowed extension, off hook, dials the code and then:

1. "number, followed by the pound key": the prompt's number, ended by ``#`` (1-8 digits). The
   number is the prompt's name: a flow plays it as ``prompt: {en: ['42']}``, or a named prompt
   (``ivr_prompts``) names it as its recording;
2. the tone (``beep``), then the phone's audio is recorded (a media-loop tap, one 160-sample
   copy a tick) until ``#`` (the key's own tone cut off) or :data:`MAX_RECORDING_S`;
3. the recording is prepared on a worker thread exactly as an uploaded prompt is
   (:func:`firmware.speech.prompt.prepare_prompt`: silence trimmed, levelled to −18 dBm0 active
   speech) and played back, then "if this is correct, press 1; press 2 to re-record it";
   a recording too short or silent says "too short" and records again;
4. ``1``: stored on the worker (:func:`firmware.ivr.uploads.store_recorded_prompt`: the same
   checks, written atomically to ``<data>/sounds/<language>/<number>.wav``), then the IVR's
   prompts are read again (``saved``), so the next call that plays it hears the new recording;
   "saved", "goodbye". ``2``: the tone and a new recording. No key for
   :data:`CHOICE_TIMEOUT_S`, :data:`MAX_CHOICE_PROMPTS` times: nothing is stored, "goodbye".

The language folder is the box's language (``language``, else the zone's). The recorder's own
words are English (Debian's ``asterisk-core-sounds-en-wav``): an installer's tool. Nothing here
reads the wall clock or the disk on the media loop: time is the audio tick, files are the worker's.
Log component ``ivr``: ``prompt_record`` (``refused``, ``recording``, ``saved``, ``discarded``,
``failed``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np

from drivers import DriverError
from drivers.audio import TICK_MS, TICK_SAMPLES
from drivers.logs import EventLogger
from firmware import FirmwareError
from firmware.config.model import Extension
from firmware.dialplan import DialResult
from firmware.engine.calls import Leg
from firmware.engine.control import CallControlApi, Then
from firmware.engine.services import AttachedService
from firmware.engine.worker import SessionJobs, Worker, failed
from firmware.media.words import PROMPT_DIR, join_words, trim_silence
from firmware.speech.prompt import prepare_prompt

TICK_S = TICK_MS / 1000.0
MAX_NAME_DIGITS = 8
MAX_RECORDING_S = 120.0  # a prompt, not a message (uploads may be longer: 600 s)
MIN_RECORDING_S = 0.5
NAME_TIMEOUT_S = 10.0  # after the question, for the number and its '#'
CHOICE_TIMEOUT_S = 6.0
MAX_CHOICE_PROMPTS = 3
DIGIT_TRIM_S = 0.1  # the '#' tone before the digit was reported (firmware/voicemail/deposit.py)
KEEP_KEY, RERECORD_KEY, END_KEY = "1", "2", "#"

ASK_NAME = ("number", "astcc-followed-by-the-pound-key")
CHOICES = ("if-correct-press", "digits/1", "vm-press", "digits/2", "to-rerecord-it")
WORDS = (*ASK_NAME, *CHOICES, "beep", "vm-saved", "vm-goodbye", "vm-sorry", "vm-tooshort",
         "feature-not-avail-line", "beeperr")

StorePrompt = Callable[[str, str, np.ndarray], Path]
"""(language, name, 8 kHz samples) -> the stored file: ``store_recorded_prompt`` bound to the data folder."""


class Step(StrEnum):
    NAME = "name"  # the question plays or waits; digits until '#'
    BEEP = "beep"
    RECORDING = "recording"
    PREPARING = "preparing"  # the worker prepares the recording for listening
    REVIEW = "review"  # the prepared recording, then the choices, play; then the wait for a key
    SAVING = "saving"  # the worker stores it


@dataclass
class Session:
    port: int
    extension: str
    language: str
    token: int
    step: Step = Step.NAME
    name: str = ""
    chunks: list[np.ndarray] = field(default_factory=list, repr=False)
    recorded: np.ndarray | None = field(default=None, repr=False)  # the raw recording under review
    deadline: int = 0  # 0: starts when what plays ends
    prompts_played: int = 0  # choice prompts said for this recording


class RecorderWords:
    """The recorder's recorded words, read once (at start, off the loop)."""

    def __init__(self, read: Callable[[Path], np.ndarray], directory: Path = PROMPT_DIR) -> None:
        self._words: dict[str, np.ndarray] = {}
        for name in WORDS:
            try:
                self._words[name] = trim_silence(read(directory / f"{name}.wav"))
            except DriverError as exc:
                raise FirmwareError(f"prompt recorder: {directory / name}.wav unreadable: {exc}") from exc

    def sentence(self, names: Sequence[str]) -> np.ndarray:
        return join_words(self._words, names)


class PromptRecorder(AttachedService):
    """The ``record_prompt`` sessions, one per phone (see module docstring)."""

    def __init__(self, control: CallControlApi, words: RecorderWords, store: StorePrompt,
                 saved: Callable[[], None] | None = None, log: EventLogger | None = None,
                 worker: Worker | None = None) -> None:
        """``saved``: called on the worker after a prompt is stored (the IVR reads its prompts again)."""
        self.cc = control
        self.words = words
        self.store = store
        self.saved = saved
        self.log = log or EventLogger("ivr")
        self._own_worker = worker is None
        self.worker = worker or Worker("prompt-recorder", lambda job: job(), self.log)
        self._jobs = SessionJobs(self.worker)
        self.sessions: dict[int, Session] = {}

    def codes(self) -> dict[str, Callable[[int, Extension, DialResult], None]]:
        """Handlers for ``ExtensionFeatures.service_codes``."""
        return {"record_prompt": self._start}

    def close(self) -> None:
        if self._own_worker:
            self.worker.close()

    def drain(self) -> None:
        """Waits for the worker's jobs so far (tests)."""
        self.worker.drain()

    # ------------------------------------------------------------------ entering
    def _start(self, port: int, extension: Extension, result: DialResult) -> None:
        config = self.cc.config
        if extension.number not in config.security.prompt_recorders:
            self.log.info("prompt_record", port=port, extension=extension.number, refused=True,
                          reason="not in security.prompt_recorders")
            self.cc.say(port, self.words.sentence(["feature-not-avail-line"]), Then.WAIT_ON_HOOK)
            return
        self.cc.set_state(port, Leg.DIALING, call=None)  # digits come here (attached) until the session ends
        self.cc.hear_player(port)
        session = Session(port, extension.number, config.effective_language(), self._jobs.new_token())
        self.sessions[port] = session
        self._say(session, Step.NAME, ASK_NAME)

    # ------------------------------------------------------------------ steps
    def _say(self, session: Session, step: Step, names: Sequence[str], before: np.ndarray | None = None) -> None:
        session.step, session.deadline = step, 0
        said = self.words.sentence(names)
        if before is not None:
            said = np.concatenate([before, np.zeros(round(0.5 * 8000)), said])
        self.cc.stop_audio(session.port)
        self.cc.play(session.port, said)

    def _end(self, session: Session, names: Sequence[str]) -> None:
        del self.sessions[session.port]
        self.cc.say(session.port, self.words.sentence(names), Then.WAIT_ON_HOOK)

    def _name_entered(self, session: Session) -> None:
        if not session.name:
            self._say(session, Step.NAME, ["vm-sorry", *ASK_NAME])
            return
        self._record_again(session)

    def _record_again(self, session: Session) -> None:
        session.chunks, session.recorded, session.prompts_played = [], None, 0
        self._say(session, Step.BEEP, ["beep"])

    def _start_recording(self, session: Session) -> None:
        self.cc.stop_audio(session.port)
        self.cc.hear_nothing(session.port)
        session.step = Step.RECORDING
        session.deadline = self.cc.tick + round(MAX_RECORDING_S / TICK_S)
        self.log.info("prompt_record", port=session.port, extension=session.extension, name=session.name,
                      language=session.language, state="recording")

    def _stop_recording(self, session: Session, by_key: bool) -> None:
        chunks, session.chunks = session.chunks, []
        if by_key:
            chunks = chunks[: max(0, len(chunks) - round(DIGIT_TRIM_S / TICK_S))]
        if len(chunks) * TICK_SAMPLES < MIN_RECORDING_S * 8000:
            self._say(session, Step.BEEP, ["vm-tooshort", "beep"])
            return
        raw = np.concatenate(chunks).astype(np.float64)
        session.recorded, session.step = raw, Step.PREPARING
        self.cc.hear_player(session.port)
        self._off_loop(session, "prepared", lambda: prepare_prompt(raw))

    def _review(self, session: Session, prepared: np.ndarray | None) -> None:
        session.prompts_played += 1
        self._say(session, Step.REVIEW, CHOICES, before=prepared)

    def _keep(self, session: Session) -> None:
        raw, language, name = session.recorded, session.language, session.name
        session.step = Step.SAVING
        self.cc.stop_audio(session.port)

        def job() -> str:
            path = self.store(language, name, raw)
            if self.saved is not None:
                self.saved()
            return str(path)

        self._off_loop(session, "stored", job)

    # ------------------------------------------------------------------ the worker
    def _off_loop(self, session: Session, kind: str, job: Callable[[], object]) -> None:
        self._jobs.run(session.port, session.token, kind, job)

    def _result(self, session: Session, kind: str, value: object) -> None:
        if kind == "prepared":
            self._review(session, np.asarray(value))
        elif kind == failed("prepared"):  # silent, or nothing left after trimming: record again
            self.log.info("prompt_record", port=session.port, extension=session.extension, name=session.name,
                          state="discarded", reason=str(value))
            self._say(session, Step.BEEP, ["vm-tooshort", "beep"])
        elif kind == "stored":
            self.log.info("prompt_record", port=session.port, extension=session.extension, name=session.name,
                          language=session.language, state="saved", path=str(value))
            self._end(session, ["vm-saved", "vm-goodbye"])
        else:
            self.log.error("prompt_record", port=session.port, extension=session.extension, name=session.name,
                           state="failed", error=str(value))
            self._end(session, ["beeperr", "vm-goodbye"])

    # ------------------------------------------------------------------ AttachedService
    def tap(self, frame: np.ndarray) -> None:
        """MediaLoop tap: the recording phone's row of each frame (a copy)."""
        for session in self.sessions.values():
            if session.step is Step.RECORDING:
                session.chunks.append(frame[session.port].copy())

    def on_tick(self, tick: int) -> None:
        self._jobs.deliver(self.sessions, self._result)
        for port, session in list(self.sessions.items()):
            if self.cc.state(port) is not Leg.DIALING:
                del self.sessions[port]  # hung up: nothing stored unless 1 was pressed
                self.log.info("prompt_record", port=port, extension=session.extension, name=session.name,
                              state="hung_up", step=str(session.step))
                continue
            self._tick_session(session, tick)

    def _tick_session(self, session: Session, tick: int) -> None:
        if session.step is Step.RECORDING:
            if tick >= session.deadline:
                self._stop_recording(session, by_key=False)
            return
        if session.step in (Step.PREPARING, Step.SAVING) or self.cc.playing(session.port):
            return
        if session.step is Step.BEEP:
            self._start_recording(session)
        elif session.deadline == 0:  # the question ended: the wait for keys starts
            session.deadline = tick + round((NAME_TIMEOUT_S if session.step is Step.NAME else CHOICE_TIMEOUT_S)
                                            / TICK_S)
        elif tick >= session.deadline:
            if session.step is Step.REVIEW and session.prompts_played < MAX_CHOICE_PROMPTS:
                self._review(session, None)
                return
            self.log.info("prompt_record", port=session.port, extension=session.extension, name=session.name,
                          state="discarded", reason="no key")
            self._end(session, ["vm-goodbye"])

    def on_digit(self, port: int, digit: str) -> bool:
        session = self.sessions.get(port)
        if session is None:
            return False
        if session.step is Step.NAME:
            self.cc.stop_audio(port)
            if digit == END_KEY:
                self._name_entered(session)
            elif digit.isdigit() and len(session.name) < MAX_NAME_DIGITS:
                session.name += digit
                session.deadline = self.cc.tick + round(NAME_TIMEOUT_S / TICK_S)
        elif session.step is Step.RECORDING and digit == END_KEY:
            self._stop_recording(session, by_key=True)
        elif session.step is Step.REVIEW and digit == KEEP_KEY:
            self._keep(session)
        elif session.step is Step.REVIEW and digit == RERECORD_KEY:
            self._record_again(session)
        return True  # every key belongs to the session while it lasts
