"""The IVR service against fakes of call control, prompts and speech: every node type, input
handling (timeouts, retries, invalid input, barge-in), the path in log, console and call
record, flows changed while a call is in them, and the DTMF fallback without a recognizer."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from pathlib import Path

import numpy as np
import pytest

from drivers import DriverError
from drivers.audiofile import read_audio
from drivers.logs import EventLogger
from firmware import FirmwareError
from firmware.config.demo import demo_config
from firmware.config.ivrmodel import DigitCheck, IvrFlow, IvrNode, IvrNodeType, LookupBy, MenuChoice, SayKind
from firmware.config.model import Contact, Destination, DestinationKind
from firmware.engine.calls import Call, Direction, Leg
from firmware.ivr import IvrPrompts, IvrService, logic, say_functions
from firmware.numbers import try_e164
from firmware.speech.api import Recognition, SpeechError

WORD_TICKS = 5  # every fake word lasts 100 ms
SPOKEN = Path("/usr/share/asterisk/sounds/en_US_f_Allison/hello.wav")
T = IvrNodeType
EN = (("en",),)
NY = dt.timezone(dt.timedelta(hours=-5))


def p(*words, es=None):
    """A prompt in English (and Spanish)."""
    return (("en", tuple(words)),) + ((("es", tuple(es)),) if es else ())


class FakePrompts:
    def __init__(self):
        self.played: list[tuple[str, tuple[str, ...]]] = []

    def sentence(self, language, names):
        self.played.append((language, tuple(names)))
        missing = [name for name in names if name == "nosuchword"]
        return np.ones(len(names) * WORD_TICKS * 160), missing

    def has(self, language, name):
        return language == "en"  # as on Debian: "if-correct-press" is not recorded in Spanish


class FakeControl:
    """What the IVR uses of CallControlApi, with a clock the test moves."""

    def __init__(self, config, now=dt.datetime(2026, 12, 2, 10, 0, tzinfo=NY)):
        self.tick = 0
        self.config = config
        self.now_value = now
        self.states: dict[int, Leg] = {0: Leg.RINGBACK, 1: Leg.RINGBACK}
        self.audio_until: dict[int, int] = {}
        self.stopped: list[int] = []
        self.delivered: list[tuple[int, Destination]] = []
        self.ended: list[tuple[int, str]] = []
        self.answered: list[int] = []
        self.service = None

    def now(self):
        return self.now_value

    def state(self, port):
        return self.states[port]

    def answer_line(self, call, port):
        self.answered.append(port)
        self.states[port] = Leg.CONNECTED
        call.answer_tick = self.tick

    def say(self, port, samples, then):
        self.said = samples
        self.audio_until[port] = self.tick + len(samples) // 160

    def playing(self, port):
        return self.audio_until.get(port, 0) > self.tick

    def stop_audio(self, port):
        self.stopped.append(port)
        self.audio_until[port] = self.tick

    def deliver(self, call, line_port, destination):
        self.delivered.append((call.call_id, destination))
        if destination.kind is DestinationKind.IVR:
            assert self.service.take(call, line_port, destination.name)

    def end_service_call(self, call, cause):
        self.ended.append((call.call_id, cause))
        self.service.before_end(call)


class FakeSession:
    def __init__(self, speech, language, grammar):
        self.speech, self.language, self.grammar = speech, language, tuple(grammar)
        self.frames = 0
        self.ended = self.cancelled = False

    def feed(self, frame):
        assert frame.dtype == np.int16 and frame.shape == (160,)
        self.frames += 1

    def end_of_utterance(self):
        self.ended = True

    def cancel(self):
        self.cancelled = True

    def result(self):
        if self.cancelled or not self.speech.script:
            return None
        return self.speech.script.pop(0)


class FakeSpeech:
    """Scripted recognitions: the next result() of any session returns script[0]."""

    def __init__(self, languages=("en",), fail=False):
        self.languages = languages
        self.fail = fail
        self.script: list[Recognition] = []
        self.sessions: list[FakeSession] = []

    def available(self, language):
        return "fake" if language in self.languages else None

    def start(self, language, grammar):
        if self.fail:
            raise SpeechError("speech: model failed")
        session = FakeSession(self, language, grammar)
        self.sessions.append(session)
        return session


class Events(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def named(self, event):
        return [dict(r.fields) for r in self.records if r.getMessage() == event]


MENU = IvrNode("menu", T.MENU, prompt=p("hello", "vm-press", es=["vm-press"]),
               invalid_prompt=p("invalid", es=["invalid"]),
               choices=(MenuChoice("sales", "1", (("en", ("sales",)), ("es", ("ventas",)))),
                        MenuChoice("spanish", "2", (("en", ("spanish",)),)),
                        MenuChoice("bye", "9")),
               timeout_s=3, retries=2, no_input="operator")
BASE = (
    MENU,
    IvrNode("sales", T.SET, queue_priority=5, queue_skills=(("english", 3),), next="to_queue"),
    IvrNode("spanish", T.SET, language="es", next="menu"),
    IvrNode("to_queue", T.GOTO, destination=Destination(DestinationKind.QUEUE, "support")),
    IvrNode("operator", T.GOTO, destination=Destination(DestinationKind.EXTENSION, "201")),
    IvrNode("bye", T.GOTO, destination=Destination(DestinationKind.HANGUP)),
)


def flow(*nodes, start="menu", name="main", languages=("en", "es")):
    return IvrFlow(name=name, start=start, languages=languages, nodes=tuple(nodes) or BASE)


@pytest.fixture
def events():
    handler = Events()
    logger = logging.getLogger("linebox.ivr-test")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)


class FakeContacts:
    """The contact store's lookups (firmware/contacts/store.py) over a few contacts."""

    def __init__(self, contacts) -> None:
        self.contacts = tuple(contacts)

    def by_number(self, number, zone):
        wanted = try_e164(number, zone)
        return next((c for c in self.contacts if wanted and any(try_e164(n, zone) == wanted for n in c.numbers)), None)

    def by_account(self, account):
        return next((c for c in self.contacts if account and c.account == account), None)


def make(flows=None, contacts=(), speech=None, config=None):
    config = config or dataclasses.replace(demo_config(), ivr_flows=tuple(flows or (flow(),)))
    cc = FakeControl(config)
    prompts = FakePrompts()
    service = IvrService(cc, prompts, say_functions(), speech, EventLogger("ivr-test"), FakeContacts(contacts))
    cc.service = service
    return service, cc, prompts


def call_in(service, name="main", number="2125552001", port=0):
    call = Call(7, port, Direction.INBOUND, 0, caller_number=number)
    assert service.take(call, port, name)
    return call


def run(service, cc, seconds):
    for _ in range(round(seconds * 50)):
        cc.tick += 1
        service.on_tick(cc.tick)


def digits(service, cc, keys, port=0):
    for key in keys:
        assert service.on_digit(port, key) is True
        run(service, cc, 0.1)


# -- menus ----------------------------------------------------------------------------------------

def test_a_key_chooses_sets_queue_priority_and_skills_and_delivers_to_the_queue(events):
    service, cc, prompts = make()
    call = call_in(service)
    assert cc.answered == [0] and call.destination == "main"
    assert prompts.played == [("en", ("hello", "vm-press"))]
    run(service, cc, 1.0)  # the prompt (2 words, 200 ms) is over: waiting
    digits(service, cc, "1")
    assert cc.delivered == [(7, Destination(DestinationKind.QUEUE, "support"))]
    assert (call.queue_priority, call.queue_skills) == (5, (("english", 3),))
    assert call.userfield == "ivr main: menu[dtmf 1]>sales>to_queue"
    (taken,) = events.named("ivr_input")
    assert taken == {"call": 7, "flow": "main", "node": "menu", "rule": "key 1 -> sales", "input": "dtmf 1"}
    assert [e["node"] for e in events.named("ivr_node")] == ["menu", "sales", "to_queue"]
    # each node's rule says why the call came there: the choice, then what the set node did
    assert [e["rule"] for e in events.named("ivr_node")] == [
        "start", "chosen in menu", "set queue_priority=5 queue_skills=english:3"]
    assert service.calls == {} and events.named("ivr_end")[0]["why"] == "goto queue support"


def test_a_key_during_the_prompt_barges_in_at_once(events):
    service, cc, prompts = make()
    call_in(service)
    assert cc.playing(0)
    assert service.on_digit(0, "9")
    assert cc.stopped[0] == 0 and not cc.playing(0)
    assert events.named("ivr_barge_in") == [{"call": 7, "node": "menu", "by": "key"}]
    assert cc.ended == [(7, "ivr_hangup")]


def test_no_input_asks_again_then_goes_to_the_no_input_destination(events):
    service, cc, prompts = make()
    call_in(service)
    run(service, cc, 0.2 + 3.0 - 0.04)  # prompt 200 ms + timeout 3 s, one tick short
    assert len(prompts.played) == 1
    run(service, cc, 0.04)
    assert prompts.played[-1] == ("en", ("hello", "vm-press"))  # no invalid prompt after silence
    run(service, cc, 2 * 3.2 + 0.1)
    assert len(prompts.played) == 3  # the prompt and two retries
    assert cc.delivered == [(7, Destination(DestinationKind.EXTENSION, "201"))]
    rules = [e["rule"] for e in events.named("ivr_input")]
    assert rules == ["no input in 3 s; try 2 of 3", "no input in 3 s; try 3 of 3",
                     "no input in 3 s; retries used up -> operator"]


def test_an_invalid_key_plays_the_invalid_prompt_before_the_menu_again(events):
    service, cc, prompts = make()
    call_in(service)
    run(service, cc, 0.5)
    digits(service, cc, "5")
    assert prompts.played[-1] == ("en", ("invalid", "hello", "vm-press"))
    digits(service, cc, "*")
    digits(service, cc, "#")
    assert cc.delivered == [(7, Destination(DestinationKind.EXTENSION, "201"))]
    assert [e["input"] for e in events.named("ivr_input")] == ["dtmf 5", "dtmf *", "dtmf #"]


def test_keys_on_play_nodes_are_swallowed_and_other_ports_are_not_ours():
    service, cc, prompts = make([flow(IvrNode("hi", T.PLAY, prompt=p("hello", es=["hello"]), next="bye"),
                                      *BASE, start="hi")])
    call_in(service)
    assert service.on_digit(0, "1") is True and cc.stopped == []
    assert service.on_digit(1, "1") is False
    run(service, cc, 0.2)
    assert cc.ended == [(7, "ivr_hangup")]


@pytest.mark.parametrize("line_language,route_language,route,expected", [
    (None, None, "voice menu", "en"),  # the box's (the zone's)
    ("es", None, "voice menu", "es"),  # the line's
    ("es", "en", "voice menu", "en"),  # the route's wins over the line's
    (None, "es", "voice menu", "es"),
    (None, "es", "", "en"),  # no route matched (an internal call): the line's, else the box's
    ("fr", None, "voice menu", "en"),  # a language the flow does not offer: the flow's first
])
def test_the_callers_language_comes_from_the_route_then_the_line_then_the_box(
        line_language, route_language, route, expected, events):
    base = dataclasses.replace(demo_config(), ivr_flows=(flow(),))
    config = dataclasses.replace(
        base, lines=tuple(dataclasses.replace(line, language=line_language) for line in base.lines),
        routes=tuple(dataclasses.replace(r, language=route_language if r.name == "voice menu" else None)
                     for r in base.routes))
    service, cc, prompts = make(config=config)
    call = Call(7, 0, Direction.INBOUND, 0, caller_number="2125552001")
    call.route = route
    assert service.take(call, 0, "main")
    assert events.named("ivr_start")[0]["language"] == expected
    assert prompts.played[-1][0] == expected  # the prompts (and say-number, recognizer) in that language


def test_language_switch_changes_the_prompts_and_what_is_heard(events):
    service, cc, prompts = make()
    call_in(service)
    digits(service, cc, "2")
    assert prompts.played[-1] == ("es", ("vm-press",))
    assert events.named("ivr_node")[-1] == {"call": 7, "flow": "main", "node": "menu", "rule": "set language=es",
                                            "language": "es"}


# -- collect digits -------------------------------------------------------------------------------

def collect_flow(**changes):
    node = IvrNode("card", T.COLLECT, prompt=p("vm-enter-num-to-call"), next="bye", no_input="operator",
                   variable="card", min_digits=4, max_digits=16, timeout_s=2, retries=1)
    return flow(dataclasses.replace(node, **changes), *BASE, start="card", languages=("en",))


def test_collect_ends_on_the_terminator_and_keeps_the_digits(events):
    service, cc, _ = make([collect_flow()])
    call_in(service)
    digits(service, cc, "1234#")
    assert [e["rule"] for e in events.named("ivr_input")] == ["accepted (terminator #) -> bye"]
    assert events.named("ivr_input")[0]["input"] == "digits 1234"
    assert cc.ended == [(7, "ivr_hangup")]


def test_collect_ends_at_max_digits_and_on_timeout_with_enough_digits():
    service, cc, _ = make([collect_flow(max_digits=4)])
    call = call_in(service)
    digits(service, cc, "4321")
    assert cc.ended and "card[digits 4321]" in call.userfield
    service, cc, _ = make([collect_flow()])
    call_in(service)
    digits(service, cc, "98765")
    run(service, cc, 2.0)
    assert cc.ended


def test_collect_too_few_digits_is_invalid_then_no_input(events):
    service, cc, prompts = make([collect_flow()])
    call_in(service)
    digits(service, cc, "12#")
    assert prompts.played[-1] == ("en", ("vm-enter-num-to-call",))
    digits(service, cc, "#")
    assert cc.delivered == [(7, Destination(DestinationKind.EXTENSION, "201"))]
    assert events.named("ivr_input")[0]["rule"] == "2 digits, at least 4 needed (terminator #); try 2 of 2"


@pytest.mark.parametrize("number,ok", [
    ("4111111111111111", True), ("4111111111111112", False), ("79927398713", True), ("79927398710", False)])
def test_collect_luhn_check(number, ok):
    service, cc, _ = make([collect_flow(check=DigitCheck.LUHN, max_digits=19)])
    call_in(service)
    digits(service, cc, number + "#")
    assert bool(cc.ended) is ok


def test_collect_account_lookup_fills_the_contact_variables_for_a_say_node():
    contacts = (Contact("Ann", ("2125550000",), "1234", (("balance", "12.50"),)),)
    nodes = (IvrNode("acct", T.COLLECT, prompt=p("x"), next="balance", no_input="bye", variable="acct",
                     check=DigitCheck.LOOKUP, min_digits=1, max_digits=8),
             IvrNode("balance", T.SAY, say=SayKind.MONEY, variable="balance", next="bye"), *BASE)
    service, cc, prompts = make([flow(*nodes, start="acct", languages=("en",))], contacts)
    call_in(service)
    digits(service, cc, "9999#")
    assert prompts.played[-1] == ("en", ("x",)) and not cc.ended  # not an account: asked again
    digits(service, cc, "1234#")
    assert prompts.played[-1] == ("en", ("digits/12", "digits/dollars", "vm-and", "digits/50"))
    run(service, cc, 1.0)
    assert cc.ended == [(7, "ivr_hangup")]


# -- say, lookup, set, time condition, goto --------------------------------------------------------

@pytest.mark.parametrize("kind,value,language,words", [
    (SayKind.NUMBER, "21", "en", ("digits/20", "digits/1")),
    (SayKind.DIGITS, "305", "en", ("digits/3", "digits/0", "digits/5")),
    (SayKind.MONEY, "1.05", "en", ("digits/1", "letters/dollar", "vm-and", "digits/5")),
    (SayKind.NUMBER, "abc", "en", ()),  # not a number: nothing said, logged
])
def test_say_node_speaks_in_the_callers_language(kind, value, language, words, events):
    nodes = (IvrNode("say", T.SAY, say=kind, value=value, next="bye"), *BASE)
    service, cc, prompts = make([flow(*nodes, start="say", languages=("en",))])
    call_in(service)
    assert prompts.played == [(language, words)]
    assert bool(events.named("ivr_say_failed")) is (words == ())


def test_say_node_in_spanish_uses_spanish_grammar():
    nodes = (IvrNode("say", T.SAY, say=SayKind.NUMBER, value="100", next="bye"), *BASE)
    service, cc, prompts = make([flow(*nodes, start="say", languages=("es",))])
    call_in(service)
    assert prompts.played == [("es", ("digits/hundred",))]  # "cien" alone (firmware.speech.say)


def test_lookup_by_caller_id_found_and_not_found(events):
    contacts = (Contact("Ann", ("2125552001",), "77", (("order_status", "5"),)),)
    nodes = (IvrNode("who", T.LOOKUP, by=LookupBy.CALLER_ID, next="say", no_match="operator"),
             IvrNode("say", T.SAY, say=SayKind.NUMBER, variable="order_status", next="bye"), *BASE)
    service, cc, prompts = make([flow(*nodes, start="who", languages=("en",))], contacts)
    call_in(service)
    assert prompts.played == [("en", ("digits/5",))]
    assert events.named("ivr_node")[1]["rule"] == "found Ann by caller_id"
    service, cc, prompts = make([flow(*nodes, start="who", languages=("en",))], contacts)
    call_in(service, number="5550000")
    assert cc.delivered == [(7, Destination(DestinationKind.EXTENSION, "201"))]


def test_lookup_by_variable_and_set_variable():
    contacts = (Contact("Bob", (), "42"),)
    nodes = (IvrNode("set", T.SET, variable="acct", value="42", next="who"),
             IvrNode("who", T.LOOKUP, by=LookupBy.VARIABLE, variable="acct", next="bye", no_match="operator"),
             *BASE)
    service, cc, _ = make([flow(*nodes, start="set", languages=("en",))], contacts)
    call = call_in(service)
    assert cc.ended == [(7, "ivr_hangup")] and "who" in call.userfield


@pytest.mark.parametrize("when,expected", [
    (dt.datetime(2026, 12, 2, 10, 0, tzinfo=NY), "menu"),  # Wednesday 10:00: open
    (dt.datetime(2026, 12, 2, 17, 0, tzinfo=NY), "operator"),  # 17:00: closed (09:00-17:00)
    (dt.datetime(2026, 12, 5, 10, 0, tzinfo=NY), "operator"),  # Saturday
])
def test_time_condition_follows_the_schedule(when, expected, events):
    nodes = (IvrNode("hours", T.TIME_CONDITION, schedule="office", next="menu", closed="operator"), *BASE)
    service, cc, _ = make([flow(*nodes, start="hours")])
    cc.now_value = when
    call_in(service)
    assert events.named("ivr_node")[1]["node"] == expected
    assert events.named("ivr_node")[1]["rule"].startswith("open:" if expected == "menu" else "closed:")


def test_goto_another_flow_keeps_language_and_variables(events):
    other = flow(IvrNode("say", T.SAY, say=SayKind.DIGITS, variable="v", next="bye"), *BASE[5:],
                 start="say", name="other", languages=("en", "es"))
    nodes = (IvrNode("lang", T.SET, language="es", next="v"), IvrNode("v", T.SET, variable="v", value="12",
                                                                        next="go"),
             IvrNode("go", T.GOTO, destination=Destination(DestinationKind.IVR, "other")), *BASE)
    service, cc, prompts = make([flow(*nodes, start="lang"), other])
    call = call_in(service)
    assert cc.delivered == [(7, Destination(DestinationKind.IVR, "other"))]
    assert prompts.played == [("es", ("digits/1", "digits/2"))]
    run(service, cc, 1.0)
    assert call.userfield == "ivr main: lang>v>go; ivr other: say>bye"


def test_goto_outside_number_goes_through_the_switchs_delivery_with_its_toll_rules():
    nodes = (IvrNode("out", T.GOTO, destination=Destination(DestinationKind.OUTSIDE, "92125550199")), *BASE)
    service, cc, _ = make([flow(*nodes, start="out")])
    call_in(service)
    assert cc.delivered == [(7, Destination(DestinationKind.OUTSIDE, "92125550199"))]
    assert cc.stopped == [0]


# -- speech ---------------------------------------------------------------------------------------

def test_a_spoken_keyword_chooses_with_its_confidence_in_the_path(events):
    speech = FakeSpeech()
    service, cc, _ = make(speech=speech)
    call_in(service)
    (session,) = speech.sessions
    assert (session.language, session.grammar) == ("en", ("sales", "spanish"))
    speech.script.append(Recognition("sales", 0.91, ("sales",), "fake"))
    run(service, cc, 0.04)
    assert cc.delivered == [(7, Destination(DestinationKind.QUEUE, "support"))]
    (taken,) = events.named("ivr_input")
    assert (taken["input"], taken["confidence"], taken["rule"]) == ("speech 'sales'", "0.91",
                                                                    "heard 'sales' -> sales")


def test_low_confidence_or_no_match_asks_again(events):
    speech = FakeSpeech()
    service, cc, prompts = make(speech=speech)
    call_in(service)
    speech.script.append(Recognition("sales", 0.2, ("sales",), "fake"))
    run(service, cc, 0.04)
    assert not cc.delivered and prompts.played[-1] == ("en", ("invalid", "hello", "vm-press"))
    assert "below confidence 0.5" in events.named("ivr_input")[0]["rule"]
    speech.script.append(Recognition("pizza", 0.9, ("pizza",), "fake"))
    run(service, cc, 0.04)
    assert events.named("ivr_input")[1]["rule"] == "'pizza' is no choice; try 3 of 3"
    assert len(speech.sessions) == 3  # a new utterance for every try


@pytest.mark.skipif(not SPOKEN.exists(), reason="asterisk-core-sounds-en-wav not installed")
@pytest.mark.parametrize("engine,confidence,rule", [
    # PocketSphinx's confidence is now an N-best posterior, on Vosk's scale (was 0.15 / 0.05)
    ("pocketsphinx", 0.5, "heard 'sales' -> sales"),  # the edge is taken
    ("pocketsphinx", 0.499, "heard 'sales'; confirm below confidence 0.5"),
    ("pocketsphinx", 0.25, "heard 'sales'; confirm below confidence 0.5"),
    ("pocketsphinx", 0.249, "heard 'sales' below confidence 0.5; try 2 of 3"),
    ("vosk", 0.16, "heard 'sales' below confidence 0.5; try 2 of 3"),
    ("vosk", 0.5, "heard 'sales' -> sales"),
    ("vosk", 0.25, "heard 'sales'; confirm below confidence 0.5"),
])
def test_each_engine_is_judged_on_its_own_confidence_scale(engine, confidence, rule, events):
    speech = FakeSpeech()
    service, cc, _ = make(speech=speech)
    call_in(service)
    speak(service)
    speech.script.append(Recognition("sales", confidence, ("sales",), engine))
    run(service, cc, 0.04)
    assert events.named("ivr_input")[0]["rule"] == rule


def speak(service):
    """The caller says "hello" (Allison's recording) into the line: the VAD hears speech, so the
    tap hands the recognizer (and keeps for a confirmation) the word from 300 ms before its start."""
    voice, frames = read_audio(SPOKEN), np.zeros((2, 160), dtype=np.int16)
    for index in range(0, len(voice) - 160, 160):
        frames[0] = voice[index:index + 160]
        service.tap(frames)


@pytest.mark.skipif(not SPOKEN.exists(), reason="asterisk-core-sounds-en-wav not installed")
@pytest.mark.parametrize("key,outcome", [("1", "confirmed with key 1"), ("3", "not confirmed (key 3)"),
                                         (None, "not confirmed (no key)")])
def test_a_doubtful_spoken_choice_is_asked_back_with_the_callers_own_words(key, outcome, events):
    speech = FakeSpeech()
    service, cc, prompts = make(speech=speech)
    call_in(service)
    speak(service)
    speech.script.append(Recognition("sales", 0.3, ("sales",), "fake"))
    run(service, cc, 0.04)
    assert events.named("ivr_input")[0]["rule"] == "heard 'sales'; confirm below confidence 0.5"
    assert prompts.played[-1] == ("en", ("if-correct-press", "digits/1"))
    said = cc.said
    assert said.size >= 0.3 * 8000 + 2 * WORD_TICKS * 160  # the caller's words, then the question
    assert np.abs(said[:800]).max() > 1000  # it starts with what the caller said
    if key is None:
        run(service, cc, said.size / 8000 + 3.1)
    else:
        service.on_digit(0, key)
    assert events.named("ivr_input")[1]["rule"].startswith(outcome)
    assert bool(cc.delivered) is (key == "1")


@pytest.mark.skipif(not SPOKEN.exists(), reason="asterisk-core-sounds-en-wav not installed")
def test_an_empty_result_over_silence_is_no_try_but_after_speech_it_is(events):
    speech = FakeSpeech()
    service, cc, _ = make(speech=speech)
    call_in(service)
    speech.script.append(Recognition("", 0.0, (), "fake"))  # the session's own length limit, nobody spoke
    run(service, cc, 0.04)
    assert events.named("ivr_input") == [] and len(speech.sessions) == 2  # listening again
    voice, frames = read_audio(SPOKEN), np.zeros((2, 160), dtype=np.int16)
    for index in range(0, len(voice) - 160, 160):
        frames[0] = voice[index:index + 160]
        service.tap(frames)
    speech.script.append(Recognition("", 0.0, (), "fake"))
    run(service, cc, 0.04)
    assert events.named("ivr_input")[0]["rule"] == "nothing heard; try 2 of 3"


@pytest.mark.skipif(not SPOKEN.exists(), reason="asterisk-core-sounds-en-wav not installed")
def test_no_confirmation_where_the_question_is_not_recorded(events):
    speech = FakeSpeech(languages=("en", "es"))
    service, cc, prompts = make(speech=speech)
    call_in(service)
    digits(service, cc, "2")  # Spanish: no "if-correct-press" recording
    speak(service)
    speech.script.append(Recognition("ventas", 0.3, ("ventas",), "fake"))
    run(service, cc, 0.04)
    assert events.named("ivr_input")[-1]["rule"] == "heard 'ventas' below confidence 0.5; try 2 of 3"


def test_no_recognizer_for_the_language_means_keys_only(events):
    speech = FakeSpeech(languages=("fr",))
    service, cc, _ = make(speech=speech)
    call_in(service)
    assert speech.sessions == []
    assert events.named("ivr_start")[0]["recognizer"] == "none"
    digits(service, cc, "1")
    assert cc.delivered


def test_a_failing_recognizer_leaves_the_menu_on_keys(events):
    service, cc, _ = make(speech=FakeSpeech(fail=True))
    call_in(service)
    assert events.named("ivr_speech_unavailable")[0]["error"] == "speech: model failed"
    digits(service, cc, "1")
    assert cc.delivered


@pytest.mark.skipif(not SPOKEN.exists(), reason="asterisk-core-sounds-en-wav not installed")
def test_the_callers_speech_stops_the_prompt_and_ends_the_utterance(events):
    speech = FakeSpeech()
    service, cc, _ = make(speech=speech)
    call_in(service)
    voice = read_audio(SPOKEN)
    frames = np.zeros((2, 160), dtype=np.int16)
    heard_at = None
    for index in range(0, len(voice) - 160, 160):
        frames[0] = voice[index:index + 160]
        service.tap(frames)
        if heard_at is None and cc.stopped:
            heard_at = index / 8000
    for _ in range(25):  # 500 ms of silence after the word: a pause inside a phrase, not its end
        frames[0] = 0
        service.tap(frames)
    assert not speech.sessions[0].ended
    for _ in range(15):  # 800 ms in all: past the 600 ms end of utterance (and the VAD's own lag)
        frames[0] = 0
        service.tap(frames)
    assert heard_at is not None and heard_at < 0.5  # the VAD's 100 ms minimum after the word starts
    assert events.named("ivr_barge_in") == [{"call": 7, "node": "menu", "by": "speech"}]
    assert speech.sessions[0].ended and speech.sessions[0].frames > 30


@pytest.mark.skipif(not SPOKEN.exists(), reason="asterisk-core-sounds-en-wav not installed")
def test_the_recognizer_hears_the_caller_from_300_ms_before_speech_not_the_prompt_time():
    speech = FakeSpeech()
    service, cc, _ = make(speech=speech)
    call_in(service)
    frames = np.zeros((2, 160), dtype=np.int16)
    for _ in range(100):  # 2 s of the prompt's time with the caller silent
        service.tap(frames)
    assert speech.sessions[0].frames == 0
    voice = read_audio(SPOKEN)
    fed_at_start = None
    for index in range(0, len(voice) - 160, 160):
        frames[0] = voice[index:index + 160]
        service.tap(frames)
        if fed_at_start is None and speech.sessions[0].frames:
            fed_at_start = speech.sessions[0].frames
    assert fed_at_start == 15  # the pre-roll (300 ms) at the VAD's start, then frame by frame


# -- versions, path, console, edges ------------------------------------------------------------------

def test_a_call_finishes_on_the_flow_version_it_started_with():
    service, cc, prompts = make()
    call_in(service)
    changed = dataclasses.replace(BASE[3], destination=Destination(DestinationKind.EXTENSION, "202"))
    cc.config = dataclasses.replace(cc.config, ivr_flows=(flow(*BASE[:3], changed, *BASE[4:]),))
    digits(service, cc, "1")
    assert cc.delivered == [(7, Destination(DestinationKind.QUEUE, "support"))]
    second = Call(8, 1, Direction.INBOUND, 0, caller_number="1")
    service.take(second, 1, "main")
    service.on_digit(1, "1")
    assert cc.delivered[-1] == (8, Destination(DestinationKind.EXTENSION, "202"))


def test_an_unknown_flow_is_refused_so_the_switch_plays_congestion(events):
    service, cc, _ = make()
    assert service.take(Call(3, 0, Direction.INBOUND, 0), 0, "nope") is False
    assert events.named("ivr_unknown") == [{"call": 3, "flow": "nope"}]
    assert cc.answered == []


def test_hanging_up_in_a_menu_ends_the_path_and_show_ivr_lists_it():
    service, cc, _ = make(speech=FakeSpeech())
    call = call_in(service)
    assert service.show()[0] == "call 7 line 0 flow main node menu (prompt) language en recognizer fake"
    service.before_end(call)
    assert call.userfield == "ivr main: menu"
    assert service.show() == ["no call in a flow", "call 7 flow main:", "  menu: start"]


def test_odd_keys_from_the_line_are_ignored_and_digits_are_bounded():
    service, cc, _ = make([collect_flow(max_digits=32, min_digits=1)])
    call = call_in(service)
    for key in ["A", "x", "\x00", "12"]:
        assert service.on_digit(0, key) is True
    assert not cc.ended
    digits(service, cc, "1" * 32)
    assert cc.ended and "digits " + "1" * 32 in call.userfield
    assert service.on_digit(0, "1") is False  # the call left the flow: the key is not the IVR's


def test_a_long_path_is_cut_for_the_call_record():
    nodes = [IvrNode(f"node-number-{i}", T.SET, variable="v", value=str(i), next=f"node-number-{i + 1}")
             for i in range(60)]
    nodes.append(IvrNode("node-number-60", T.GOTO, destination=Destination(DestinationKind.HANGUP)))
    service, cc, _ = make([flow(*nodes, start="node-number-0", languages=("en",))])
    call = call_in(service)
    assert len(call.userfield) == 255 and call.userfield.endswith("…")


# -- pure parts -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text,cents", [("12.50", 1250), ("12", 1200), ("0.5", 50), ("-3.05", -305),
                                        ("999999999.99", 99999999999)])
def test_amounts_parse_to_cents(text, cents):
    assert logic.parse_cents(text) == cents


@pytest.mark.parametrize("text", ["", "12.505", "1,50", "abc", "1e3", "1234567890.00", "--1"])
def test_bad_amounts_are_refused(text):
    with pytest.raises(FirmwareError, match="is not an amount"):
        logic.parse_cents(text)


@pytest.mark.parametrize("heard,chosen", [
    ("sales", "sales"), ("  SALES ", "sales"), ("i want sales please", "sales"), ("spanish", "spanish"),
    ("sales and spanish", None), ("salesman", None), ("", None)])
def test_spoken_words_match_whole_phrases_only(heard, chosen):
    choice, _why = logic.choice_by_words(MENU, "en", heard)
    assert (choice.next if choice else None) == chosen


def test_confidence_from_the_recognizer_is_bounded():
    assert [logic.clean_confidence(v) for v in (-1, 0.5, 7, float("nan"))] == [0.0, 0.5, 1.0, 0.0]


def test_prompts_are_read_once_off_the_loop_and_missing_words_reported(tmp_path):
    (tmp_path / "digits").mkdir()
    reads = []

    def read(path):
        reads.append(path.name)
        if path.stem == "gone":
            raise DriverError(f"{path}: cannot read")
        return np.full(800, 8000.0)

    (tmp_path / "digits" / "1.wav").write_bytes(b"")
    prompts = IvrPrompts(lambda language: tmp_path, read)
    config = dataclasses.replace(demo_config(), ivr_flows=(flow(IvrNode(
        "menu", T.PLAY, prompt=p("hello", "gone", es=["hello"]), next="menu"), languages=("en", "es")),))
    problems = prompts.learn(config)
    assert problems == [f"en/gone: {tmp_path}/gone.wav: cannot read"]
    assert prompts.learn(config) == [f"en/gone: {tmp_path}/gone.wav: cannot read"]
    assert sorted(reads).count("hello.wav") == 2  # once per language, never again
    samples, missing = prompts.sentence("en", ["hello", "gone", "digits/1"])
    assert missing == ["gone"] and len(samples) == 2 * 800 + 150 * 8
