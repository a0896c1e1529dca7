"""The IVR: the call service for ``DestinationKind.IVR`` and an attached service of call control.

A call sent to ``{kind: ivr, name: N}`` (a route, a queue's overflow or exit key, a ring
group's no-answer destination, another flow) is answered by the box and walks flow ``N`` of
the configuration snapshot current when it arrived: a flow changed while the call is in it
does not change under it (the call keeps its snapshot; a goto to another flow reads that
same snapshot). Everything goes through call control's public surface
(:class:`~firmware.engine.control.CallControlApi`): ``answer_line``, ``say``, ``stop_audio``,
``playing``, ``deliver``, ``end_service_call``; digits come through ``on_digit``, time through
``on_tick``, the caller's audio through the media loop's frame tap (:meth:`IvrService.tap`).

Nodes (docs/ivr.md, "Nodes"): ``play`` and ``say`` speak, then go on when the audio ends;
``set``, ``lookup`` and ``time_condition`` decide at once; ``goto`` leaves the flow; ``menu``
and ``collect`` wait for input: the prompt plays, keys (and on a menu with words in the
caller's language, speech) are taken at once -- barge-in: a key, or the VAD's start of
speech, stops the prompt -- then ``timeout_s`` of waiting. No input or invalid input plays
the invalid prompt (invalid only) and the prompt again, ``retries`` times; then the call
goes to ``no_input``.

Speech: a :class:`~firmware.speech.api.SpeechService` given to the service; a menu with words
in the caller's language starts a recognition session when the language has an engine
(``available``), feeds it the caller's frames from the tap, ends the utterance when the VAD
hears the caller stop, and polls the result each tick. No service, no engine for the
language, or a session that fails: the menu takes keys only (``recognizer=none`` in the
log), never a failed call.

The path: every node entered and every input taken is a :class:`~firmware.ivr.logic.Step`,
logged at once (``ivr_node``, ``ivr_input``: scenarios ``expect_log`` them), kept for the
console (``show ivr``: calls in a flow and the last finished ones) and written into the
call record's ``userfield`` when the call leaves the flow or ends
(``ivr main: hours>welcome[dtmf 1]>support>queue``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from drivers.audio import TICK_MS
from drivers.logs import EventLogger
from dsp.vad import VadEventKind, VoiceActivityDetector
from firmware import FirmwareError
from firmware.config.ivrmodel import (
    IVR_INPUT_NODES,
    DigitCheck,
    IvrFlow,
    IvrNode,
    IvrNodeType,
    LookupBy,
    MenuChoice,
)
from firmware.config.model import Config, Contact, Destination, DestinationKind
from firmware.desk.lookup import ContactLookup, contact_language
from firmware.engine.calls import Call, Leg
from firmware.engine.control import CallControlApi, Then
from firmware.engine.services import AttachedService
from firmware.ivr import logic
from firmware.ivr.logic import Step
from firmware.ivr.prompts import IvrPrompts
from firmware.ivr.watch import IvrWatcher
from firmware.media.words import GAP_MS, trim_silence
from firmware.schedule import check_open
from firmware.speech.api import RecognitionSession, SpeechError, SpeechService

GAP_SAMPLES = GAP_MS * 8
MAX_STEPS_AT_ONCE = 64  # nodes passed without waiting in one go (validation forbids loops)
KEPT_PATHS = 20  # finished calls' paths kept for ``show ivr``
MAX_VARIABLES = 64
MAX_UTTERANCE_TICKS = 500  # the caller's speech kept for a confirmation: 10 s (the recognizer's own limit)
# The recognizer hears the caller from this long before the VAD's start of speech (which comes
# 100 ms into it, dsp/vad.py): the word's onset, not the prompt's echo before it. Fed the whole
# prompt time, the recognizer heard the echo of "press one" and answered 'one' (the speech scenario).
PREROLL_TICKS = 15  # 300 ms
# End of utterance: this long without speech. The VAD's 200 ms default cut "extension" at the
# stop between its syllables (the recognizer heard "ex" and answered 'one'); callers pause
# 300-500 ms inside a phrase, so the end waits 600 ms (heard as a short delay before the answer).
END_OF_UTTERANCE_MS = 600.0
CONFIRM_WORDS = ("if-correct-press", f"digits/{logic.CONFIRM_KEY}")


def _ticks(seconds: float) -> int:
    return max(1, round(seconds * 1000 / TICK_MS))


class Phase(StrEnum):
    SPEAKING = "speaking"  # play/say: the audio plays, then ``after``
    PROMPT = "prompt"  # an input node's prompt plays; input is taken (barge-in)
    WAITING = "waiting"  # the prompt ended: the timeout runs


@dataclass
class IvrCall:
    """One call in a flow."""

    call: Call
    line_port: int
    config: Config  # the snapshot the call arrived with
    flow: IvrFlow
    language: str
    node: IvrNode | None = None
    phase: Phase = Phase.SPEAKING
    after: str = ""  # SPEAKING: the node next
    tries: int = 0  # failed attempts at the current input node
    digits: str = ""
    deadline: int | None = None
    variables: dict[str, str] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    session: RecognitionSession | None = None
    vad: VoiceActivityDetector | None = None
    heard_speech: bool = False  # the VAD started a segment in the current session
    utterance: list[np.ndarray] = field(default_factory=list, repr=False)  # the session's frames
    preroll: deque = field(default_factory=lambda: deque(maxlen=PREROLL_TICKS), repr=False)  # before speech
    confirming: MenuChoice | None = None  # a spoken choice heard with low confidence, asked back
    confirm_heard: tuple[str, float] = ("", 0.0)


class IvrService(AttachedService):
    """The IVR call service (see module docstring)."""

    def __init__(self, control: CallControlApi, prompts: IvrPrompts, say: logic.SayFunctions,
                 speech: SpeechService | None = None, log: EventLogger | None = None,
                 contacts: ContactLookup | None = None) -> None:
        self.cc = control
        self.contacts = contacts  # the contact store (lookup nodes); None: no contacts, every lookup misses
        self.prompts = prompts
        self.say_functions = say
        self.speech = speech
        self.log = log or EventLogger("ivr")
        self.calls: dict[int, IvrCall] = {}  # switch call id -> the call in a flow
        self.finished: deque[tuple[int, str, list[Step]]] = deque(maxlen=KEPT_PATHS)
        self._carry: dict[int, IvrCall] = {}  # a goto to another flow keeps language and variables
        self.watchers: list[IvrWatcher] = []  # told of nodes entered and variables set (watch.py)

    def watch(self, watcher: IvrWatcher) -> None:
        """``watcher`` hears every node entered and every variable set from now on (firmware/ivr/watch.py)."""
        self.watchers.append(watcher)

    def _told_variable(self, ivr: IvrCall, name: str) -> None:
        for watcher in self.watchers:
            watcher.ivr_variable(ivr.call, ivr.line_port, name, ivr.variables[name])

    # ------------------------------------------------------------------ call service
    def take(self, call: Call, line_port: int, name: str) -> bool:
        previous = self._carry.pop(call.call_id, None)
        config = previous.config if previous is not None else self.cc.config
        flow = config.ivr_flow(name)
        if flow is None:
            self.log.warning("ivr_unknown", call=call.call_id, flow=name)
            return False
        language = self._language(config, flow, previous, call, line_port)
        ivr = IvrCall(call, line_port, config, flow, language)
        if previous is not None:
            ivr.variables = previous.variables
        if self.cc.state(line_port) is not Leg.CONNECTED:
            self.cc.answer_line(call, line_port)  # answered by the box: the record says so
        call.destination = name
        self.calls[call.call_id] = ivr
        self.log.info("ivr_start", call=call.call_id, flow=flow.name, line=line_port, language=language,
                      recognizer=self._engine(language) or "none")
        self._enter(ivr, flow.start, "start")
        return True

    def _language(self, config: Config, flow: IvrFlow, previous: IvrCall | None, call: Call, line_port: int) -> str:
        """The language kept from a previous flow (or chosen in a flow the call was in before),
        else the caller's contact's, the route's, the line's or the box's (docs/ivr.md,
        "Languages"); a language the flow does not offer gives the flow's first."""
        if previous is not None:
            wanted = previous.language
        else:
            wanted = call.language or config.caller_language(
                call.route, line_port, contact_language(self.contacts, str(config.zone), call.caller_number))
        return wanted if wanted in flow.languages else flow.languages[0]

    def _engine(self, language: str) -> str | None:
        return self.speech.available(language) if self.speech is not None else None

    # ------------------------------------------------------------------ walking the flow
    def _enter(self, ivr: IvrCall, node_id: str, rule: str) -> None:
        """Enters ``node_id`` and every node after it that needs no waiting."""
        for _ in range(MAX_STEPS_AT_ONCE):
            node = ivr.flow.node(node_id)
            if node is None:  # validation prevents it; a hand-built snapshot might not
                self._fail(ivr, f"node {node_id!r} does not exist")
                return
            self._close_session(ivr)
            ivr.node, ivr.tries, ivr.digits, ivr.deadline, ivr.confirming = node, 0, "", None, None
            self._step(ivr, Step(node.id, rule))
            for watcher in self.watchers:
                watcher.ivr_node(ivr.call, ivr.line_port, ivr.flow.name, node)
            following = self._run(ivr, node)
            if following is None:
                return
            node_id, rule = following
        self._fail(ivr, f"more than {MAX_STEPS_AT_ONCE} nodes without input")

    def _run(self, ivr: IvrCall, node: IvrNode) -> tuple[str, str] | None:
        """Does what ``node`` does; the next node and why when it follows at once, else None."""
        kind = node.type
        if kind is IvrNodeType.PLAY:
            self._speak(ivr, self._prompt_words(ivr, node.prompt), node.next)
        elif kind is IvrNodeType.SAY:
            self._speak(ivr, self._prompt_words(ivr, node.prompt) + self._say(ivr, node), node.next)
        elif kind in IVR_INPUT_NODES:
            self._ask(ivr, invalid=False)
        elif kind is IvrNodeType.SET:
            return node.next, self._set(ivr, node)
        elif kind is IvrNodeType.LOOKUP:
            return self._lookup(ivr, node)
        elif kind is IvrNodeType.TIME_CONDITION:
            schedule = ivr.config.schedule(node.schedule)
            if schedule is None:
                self._fail(ivr, f"schedule {node.schedule} does not exist")
                return None
            state = check_open(schedule, self.cc.now())
            return (node.next if state.is_open else node.closed), state.reason
        elif kind is IvrNodeType.GOTO and node.destination is not None:
            self._leave(ivr, node.destination)
        return None

    def _set(self, ivr: IvrCall, node: IvrNode) -> str:
        done = []
        if node.variable and (node.variable in ivr.variables or len(ivr.variables) < MAX_VARIABLES):
            ivr.variables[node.variable] = node.value
            done.append(f"{node.variable}={node.value}")
            self._told_variable(ivr, node.variable)
        if node.language:
            ivr.language = node.language
            ivr.call.language = node.language  # the flow's choice: voicemail and later flows speak it
            done.append(f"language={node.language}")
        if node.queue_priority is not None:
            ivr.call.queue_priority = node.queue_priority
            done.append(f"queue_priority={node.queue_priority}")
        if node.queue_skills is not None:
            ivr.call.queue_skills = node.queue_skills
            done.append("queue_skills=" + (",".join(f"{s}:{level}" for s, level in node.queue_skills) or "queue's"))
        return "set " + " ".join(done)

    def _find(self, ivr: IvrCall, ask: Callable[[ContactLookup], Contact | None]) -> Contact | None:
        """One indexed read of the contact store, on the loop (tens of microseconds: linebox bench
        contacts); a store that cannot be read is logged and finds nobody."""
        if self.contacts is None:
            return None
        try:
            return ask(self.contacts)
        except FirmwareError as exc:
            self.log.error("contacts_unreadable", call=ivr.call.call_id, error=str(exc))
            return None

    def _lookup(self, ivr: IvrCall, node: IvrNode) -> tuple[str, str]:
        if node.by is LookupBy.CALLER_ID:
            key = ivr.call.caller_number
            contact = self._find(ivr, lambda store: store.by_number(key, str(ivr.config.zone)))
        else:
            key = ivr.variables.get(node.variable, "")
            contact = self._find(ivr, lambda store: store.by_account(key))
        if contact is None:
            return node.no_match, f"no contact with {node.by} {key or 'none'}"
        self._learn_contact(ivr, contact)
        return node.next, f"found {contact.name} by {node.by}"

    def _learn_contact(self, ivr: IvrCall, contact) -> None:
        learnt = {"name": contact.name, "account": contact.account, **dict(contact.fields)}
        ivr.variables.update(learnt)
        for name in learnt:
            self._told_variable(ivr, name)

    def _say(self, ivr: IvrCall, node: IvrNode) -> list[str]:
        value = ivr.variables.get(node.variable, "") if node.variable else node.value
        try:
            return logic.say_words(node.say, value, ivr.language, self.say_functions)
        except FirmwareError as exc:  # a variable that is no number/date...: said as nothing, logged
            self.log.warning("ivr_say_failed", call=ivr.call.call_id, node=node.id, error=str(exc))
            return []

    def _prompt_words(self, ivr: IvrCall, prompt) -> list[str]:
        return list(dict(prompt).get(ivr.language, ()))

    def _play(self, ivr: IvrCall, words: list[str]) -> None:
        samples, missing = self.prompts.sentence(ivr.language, words)
        if missing:
            self.log.warning("ivr_prompt_missing", call=ivr.call.call_id, language=ivr.language,
                             words=",".join(missing[:5]))
        self.cc.say(ivr.line_port, samples, Then.CONTINUE)

    def _speak(self, ivr: IvrCall, words: list[str], after: str) -> None:
        ivr.phase, ivr.after = Phase.SPEAKING, after
        self._play(ivr, words)

    def _ask(self, ivr: IvrCall, invalid: bool) -> None:
        """An input node's prompt (after the invalid prompt when ``invalid``); input is taken from now."""
        node = ivr.node
        words = (self._prompt_words(ivr, node.invalid_prompt) if invalid else []) + \
            self._prompt_words(ivr, node.prompt)
        ivr.phase, ivr.digits, ivr.deadline, ivr.confirming = Phase.PROMPT, "", None, None
        self._play(ivr, words)
        if node.type is IvrNodeType.MENU:
            self._listen(ivr)

    def _listen(self, ivr: IvrCall) -> None:
        """Starts recognition of the menu's words in the caller's language, if it can."""
        phrases = logic.grammar(ivr.node, ivr.language)
        if not phrases or self._engine(ivr.language) is None:
            return
        try:
            ivr.session = self.speech.start(ivr.language, phrases)
        except SpeechError as exc:
            self.log.warning("ivr_speech_unavailable", call=ivr.call.call_id, language=ivr.language, error=str(exc))
            return
        ivr.vad = VoiceActivityDetector(1, hangover_ms=END_OF_UTTERANCE_MS)
        ivr.heard_speech = False
        ivr.utterance = []
        ivr.preroll.clear()

    def _close_session(self, ivr: IvrCall) -> None:
        if ivr.session is not None:
            ivr.session.cancel()
        ivr.session, ivr.vad = None, None
        ivr.utterance = []
        ivr.preroll.clear()

    # ------------------------------------------------------------------ input
    def on_digit(self, port: int, digit: str) -> bool:
        ivr = self._at(port)
        if ivr is None:
            return False
        if digit not in logic.DTMF_SYMBOLS or ivr.node is None or ivr.node.type not in IVR_INPUT_NODES \
                or ivr.phase is Phase.SPEAKING:
            return True  # keys during play/say nodes are ignored, never passed on
        self._barge_in(ivr, "key")
        self._close_session(ivr)
        node = ivr.node
        if ivr.confirming is not None:
            choice, (heard, confidence) = ivr.confirming, ivr.confirm_heard
            ivr.confirming = None
            if digit == logic.CONFIRM_KEY:
                self._chosen(ivr, choice, heard, f"confirmed with key {digit}", confidence)
            else:
                self._invalid(ivr, heard, f"not confirmed (key {digit})", confidence)
            return True
        if node.type is IvrNodeType.MENU:
            choice = logic.choice_by_key(node, digit)
            if choice is None:
                self._invalid(ivr, f"dtmf {digit}", f"key {digit} is no choice")
            else:
                self._chosen(ivr, choice, f"dtmf {digit}", f"key {digit}", None)
            return True
        if digit == node.terminator and node.terminator:
            self._collected(ivr, f"terminator {digit}")
        elif digit in "0123456789":
            ivr.digits += digit
            if len(ivr.digits) >= node.max_digits:
                self._collected(ivr, f"{node.max_digits} digits")
            else:
                ivr.phase, ivr.deadline = Phase.WAITING, self.cc.tick + _ticks(node.timeout_s)
        return True

    def _barge_in(self, ivr: IvrCall, by: str) -> None:
        if ivr.phase is Phase.PROMPT and self.cc.playing(ivr.line_port):
            self.cc.stop_audio(ivr.line_port)
            self.log.info("ivr_barge_in", call=ivr.call.call_id, node=ivr.node.id, by=by)
        ivr.phase = Phase.WAITING
        ivr.deadline = self.cc.tick + _ticks(ivr.node.timeout_s)

    def _chosen(self, ivr: IvrCall, choice: MenuChoice, heard: str, rule: str, confidence: float | None) -> None:
        self._step(ivr, Step(ivr.node.id, f"{rule} -> {choice.next}", heard, confidence), event="ivr_input")
        self._enter(ivr, choice.next, f"chosen in {ivr.node.id}")

    def _collected(self, ivr: IvrCall, why: str) -> None:
        node, digits = ivr.node, ivr.digits
        heard = f"digits {digits}" if digits else "no digits"
        if len(digits) < node.min_digits:
            self._invalid(ivr, heard, f"{len(digits)} digits, at least {node.min_digits} needed ({why})")
            return
        if node.check is DigitCheck.LUHN and not logic.luhn_ok(digits):
            self._invalid(ivr, heard, "Luhn check failed")
            return
        if node.check is DigitCheck.LOOKUP:
            contact = self._find(ivr, lambda store: store.by_account(digits))
            if contact is None:
                self._invalid(ivr, heard, "no contact has this account")
                return
            self._learn_contact(ivr, contact)
        ivr.variables[node.variable] = digits
        self._told_variable(ivr, node.variable)
        self._step(ivr, Step(node.id, f"accepted ({why}) -> {node.next}", heard), event="ivr_input")
        self._enter(ivr, node.next, f"after {node.id}")

    def _invalid(self, ivr: IvrCall, heard: str, why: str, confidence: float | None = None) -> None:
        """No input or invalid input: ask again, or after ``retries`` go to ``no_input``."""
        node = ivr.node
        ivr.tries += 1
        if ivr.tries > node.retries:
            self._step(ivr, Step(node.id, f"{why}; retries used up -> {node.no_input}", heard, confidence),
                       event="ivr_input")
            self._enter(ivr, node.no_input, f"no input in {node.id}")
            return
        self._step(ivr, Step(node.id, f"{why}; try {ivr.tries + 1} of {node.retries + 1}", heard, confidence),
                   event="ivr_input")
        self._close_session(ivr)
        self._ask(ivr, invalid=heard != "timeout")

    def _recognized(self, ivr: IvrCall, text: str, confidence: float, engine: str = "") -> None:
        heard = f"speech {text[:logic.MAX_HEARD_CHARS]!r}"
        confidence = logic.clean_confidence(confidence)
        take, confirm = logic.confidence_band(engine)
        choice, why = logic.choice_by_words(ivr.node, ivr.language, text[:logic.MAX_HEARD_CHARS])
        if choice is not None and confidence >= take:
            self._close_session(ivr)
            self._chosen(ivr, choice, heard, why, confidence)
        elif choice is not None and confidence >= confirm and ivr.utterance \
                and all(self.prompts.has(ivr.language, word) for word in CONFIRM_WORDS):
            self._confirm(ivr, choice, heard, f"{why}; confirm below confidence {take:g}", confidence)
        elif choice is not None:
            self._invalid(ivr, heard, f"{why} below confidence {take:g}", confidence)
        else:
            self._invalid(ivr, heard, why, confidence)

    def _confirm(self, ivr: IvrCall, choice: MenuChoice, heard: str, why: str, confidence: float) -> None:
        """"<the caller's own words>, if this is correct, press 1": the recording of what was
        said stands in for the keyword (no recording of every keyword exists)."""
        said = np.concatenate(ivr.utterance).astype(np.float64)
        self._step(ivr, Step(ivr.node.id, why, heard, confidence), event="ivr_input")
        self._close_session(ivr)
        question, _missing = self.prompts.sentence(ivr.language, list(CONFIRM_WORDS))
        gap = np.zeros(GAP_SAMPLES)
        ivr.phase, ivr.deadline = Phase.PROMPT, None
        ivr.confirming, ivr.confirm_heard = choice, (heard, confidence)
        self.cc.say(ivr.line_port, np.concatenate([trim_silence(said), gap, question]), Then.CONTINUE)

    # ------------------------------------------------------------------ the frame tap and time
    def tap(self, frame: np.ndarray) -> None:
        """MediaLoop tap: the caller's frame to the recognizer and the VAD of a listening menu."""
        for ivr in list(self.calls.values()):
            if ivr.session is None or ivr.vad is None:
                continue
            row = frame[ivr.line_port]
            samples = np.asarray(row, dtype=np.int16).copy()
            if ivr.heard_speech:
                self._hear(ivr, samples)
            else:
                ivr.preroll.append(samples)
            for event in ivr.vad.process(row.reshape(1, -1)):
                if event.kind is VadEventKind.START and not ivr.heard_speech:
                    ivr.heard_speech = True
                    self._barge_in(ivr, "speech")
                    for kept in ivr.preroll:  # the word's onset, then the frames as they come
                        self._hear(ivr, kept)
                    ivr.preroll.clear()
                elif event.kind is VadEventKind.END and ivr.heard_speech and ivr.session is not None:
                    ivr.session.end_of_utterance()

    def _hear(self, ivr: IvrCall, samples: np.ndarray) -> None:
        """One frame of the caller's speech to the recognizer, kept for a confirmation."""
        ivr.session.feed(samples)
        if len(ivr.utterance) < MAX_UTTERANCE_TICKS:
            ivr.utterance.append(samples)

    def on_tick(self, tick: int) -> None:
        for ivr in list(self.calls.values()):
            if ivr.call.call_id not in self.calls:
                continue
            if ivr.phase is Phase.SPEAKING and not self.cc.playing(ivr.line_port):
                self._enter(ivr, ivr.after, f"after {ivr.node.id}")
            elif ivr.phase is Phase.PROMPT and not self.cc.playing(ivr.line_port):
                ivr.phase, ivr.deadline = Phase.WAITING, tick + _ticks(ivr.node.timeout_s)
            elif ivr.session is not None and (result := ivr.session.result()) is not None:
                ivr.session = None
                if not result.text.strip() and not ivr.heard_speech:
                    self._listen(ivr)  # the session ended by itself over silence (its length limit): listen on
                else:
                    self._recognized(ivr, result.text, result.confidence, result.engine)
            elif ivr.phase is Phase.WAITING and ivr.deadline is not None and tick >= ivr.deadline:
                if ivr.vad is not None and ivr.heard_speech:
                    continue  # the caller is speaking or the recognizer is still deciding
                if ivr.confirming is not None:
                    heard, confidence = ivr.confirm_heard
                    ivr.confirming = None
                    self._invalid(ivr, heard, "not confirmed (no key)", confidence)
                elif ivr.node.type is IvrNodeType.COLLECT and ivr.digits:
                    self._collected(ivr, "timeout")
                else:
                    self._invalid(ivr, "timeout", f"no input in {ivr.node.timeout_s} s")

    def before_end(self, call: Call) -> None:
        ivr = self.calls.get(call.call_id)
        if ivr is not None:
            self._finish(ivr, f"call ended in {ivr.node.id if ivr.node else ivr.flow.start}")

    # ------------------------------------------------------------------ leaving
    def _leave(self, ivr: IvrCall, destination: Destination) -> None:
        self._finish(ivr, f"goto {destination}")
        call = ivr.call
        self.cc.stop_audio(ivr.line_port)
        if destination.kind is DestinationKind.HANGUP:
            self.cc.end_service_call(call, "ivr_hangup")
            return
        if destination.kind is DestinationKind.IVR:
            self._carry[call.call_id] = ivr
        call.variables = dict(ivr.variables)  # what the caller entered goes with the call (the agent's screen pop)
        self.cc.deliver(call, ivr.line_port, destination)
        self._carry.pop(call.call_id, None)

    def _fail(self, ivr: IvrCall, why: str) -> None:
        self.log.error("ivr_failed", call=ivr.call.call_id, flow=ivr.flow.name, error=why)
        self._finish(ivr, f"failed: {why}")
        self.cc.end_service_call(ivr.call, "ivr_failed")

    def _finish(self, ivr: IvrCall, why: str) -> None:
        """The call leaves the flow: its path goes to the call record and the console."""
        if self.calls.pop(ivr.call.call_id, None) is None:
            return
        self._close_session(ivr)
        path = logic.compact_path(ivr.flow.name, ivr.steps)
        call = ivr.call
        joined = f"{call.userfield}; {path}" if call.userfield else path
        call.userfield = joined if len(joined) <= logic.USERFIELD_CHARS else joined[: logic.USERFIELD_CHARS - 1] + "…"
        self.finished.append((call.call_id, ivr.flow.name, ivr.steps))
        self.log.info("ivr_end", call=call.call_id, flow=ivr.flow.name, why=why, path=path)

    # ------------------------------------------------------------------ helpers
    def _at(self, port: int) -> IvrCall | None:
        return next((ivr for ivr in self.calls.values() if ivr.line_port == port), None)

    def _step(self, ivr: IvrCall, step: Step, event: str = "ivr_node") -> None:
        ivr.steps.append(step)
        fields = {"call": ivr.call.call_id, "flow": ivr.flow.name, "node": step.node, "rule": step.rule}
        if event == "ivr_input":
            fields["input"] = step.input
            if step.confidence is not None:
                fields["confidence"] = f"{step.confidence:.2f}"
        else:
            fields["language"] = ivr.language
        self.log.info(event, **fields)

    def show(self) -> list[str]:
        """``show ivr``: calls in a flow now, then the last finished paths."""
        lines = [f"call {ivr.call.call_id} line {ivr.line_port} flow {ivr.flow.name} node "
                 f"{ivr.node.id if ivr.node else '-'} ({ivr.phase}) language {ivr.language} "
                 f"recognizer {self._engine(ivr.language) or 'none'}" for ivr in self.calls.values()]
        if not lines:
            lines.append("no call in a flow")
        for call_id, flow, steps in reversed(self.finished):
            lines.append(f"call {call_id} flow {flow}:")
            lines.extend(f"  {step.text()}" for step in steps)
        return lines
