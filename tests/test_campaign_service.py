"""The campaign service on the real switch over a stub card and scripted line audio (no pty):
dial, call progress (busy, SIT, no answer), answer by voice or polarity reversal, AMD through
a fake of its interface, to the queue, the 2 s abandon rule and its message, retries stored."""

from __future__ import annotations

import dataclasses
import json
from collections import deque

import numpy as np
import pytest
from engine_fakes import ORIGIN, PORT_IS_FXS, Rig

from drivers.audio import TICK_SAMPLES
from drivers.audiofile import read_audio
from drivers.ports import PolarityReversal
from dsp.tonegen import render
from dsp.toneplans import sit_itu
from firmware import FirmwareError
from firmware.campaign.console import campaign_lines, preview_decision
from firmware.campaign.dialler import Dialler, Mode
from firmware.campaign.leads import LeadBook, LeadState, LeadStatus
from firmware.campaign.service import AgentPresence, CampaignService
from firmware.config.campaignmodel import CallingWindow, Campaign, CampaignRetries, RetryRule
from firmware.config.model import DestinationKind
from firmware.console.commands import find_command
from firmware.schedule import TimeRange

HELLO = "/usr/share/asterisk/sounds/en_US_f_Allison/hello.wav"
ALL_DAY = CallingWindow("UTC", ("mon", "tue", "wed", "thu", "fri", "sat", "sun"), TimeRange(8 * 60, 21 * 60))
RETRIES = CampaignRetries(busy=RetryRule(3, 10), no_answer=RetryRule(3, 60), disconnected=RetryRule(1, 0))


class ScriptedAudio:
    """Silence, except the samples queued for a line (what the far end sends)."""

    ports = len(PORT_IS_FXS)

    def __init__(self) -> None:
        self.queued = {port: deque() for port in range(self.ports)}

    def say(self, port: int, samples: np.ndarray) -> None:
        self.queued[port].extend(np.asarray(samples, dtype=np.int16).tolist())

    def read_frame(self) -> np.ndarray:
        frame = np.zeros((self.ports, TICK_SAMPLES), dtype=np.int16)
        for port, queue in self.queued.items():
            for i in range(min(TICK_SAMPLES, len(queue))):
                frame[port, i] = queue.popleft()
        return frame

    def write_frame(self, frame: np.ndarray) -> None:
        return None

    def close(self) -> None:
        return None


class Agents:
    def __init__(self, **states: AgentPresence) -> None:
        self.states = states

    def agent_states(self, queue: str):
        return dict(self.states)


class Queue:
    def __init__(self) -> None:
        self.taken: list[int] = []

    def take(self, call, line_port: int, name: str) -> bool:
        self.taken.append(line_port)
        return True


@dataclasses.dataclass
class Verdict:
    result: str
    cause: str = "test"
    decided_ms: int = 0


class FakeAmd:
    """The AMD interface: decides ``result`` after ``frames`` frames."""

    def __init__(self, result: str, frames: int = 25) -> None:
        self.result, self.left = result, frames

    def feed(self, frame: np.ndarray):
        assert frame.shape == (TICK_SAMPLES,) and frame.dtype == np.int16
        self.left -= 1
        return Verdict(self.result, decided_ms=500) if self.left <= 0 else None


def setup(mode=Mode.PROGRESSIVE, amd=None, agents=None, polarity=False, leads=2, **campaign):
    config = Rig().config
    if polarity:
        config = dataclasses.replace(config, lines=tuple(dataclasses.replace(line, answer_by_polarity_reversal=True)
                                                         for line in config.lines))
    rig = Rig(config)
    audio = ScriptedAudio()
    rig.loop.audio = audio
    queue = Queue()
    rig.switch.control.register_service(DestinationKind.QUEUE, queue)
    spec = Campaign("c", "support", mode=mode, enabled=True, calling_hours=(ALL_DAY,), retries=RETRIES,
                    no_answer_s=20, amd=amd is not None, abandon_message="sorry", **campaign)
    book = LeadBook([LeadState(i, f"555000{i}") for i in range(1, leads + 1)], spec.calling_hours, spec.retries)
    stored: list = []
    service = CampaignService(
        rig.switch.control, spec, Dialler(mode, book), book, agents or Agents(a=AgentPresence.FREE),
        write=lambda job: job(), store_attempt=stored.append, store_lead=stored.append,
        amd=(lambda: FakeAmd(amd)) if amd else None, recordings={"sorry": np.full(8000, 800, dtype=np.int16)})
    rig.switch.control.attach(service)
    rig.loop.taps.append(service.tap)
    return rig, audio, queue, service, stored


def dialled(rig, service, line=0, limit_s=8.0):
    """Runs until the service's call on ``line`` is dialled (blind dial after 3 s: no dial tone here)."""
    for _ in range(int(limit_s * 50)):
        rig.loop.step()
        if any(each.line == line and each.phase == "progress" for each in service.calls.values()):
            return
    raise AssertionError(f"line {line} not dialled: {rig.state(line)}")


def test_progressive_busy_is_retried_later():
    rig, audio, queue, service, stored = setup()
    rig.loop.step()
    dialled(rig, service)
    assert [c for c, *_ in rig.card.commands if c == "seize"] and rig.state(1) == "idle"  # one agent: one call
    audio.say(0, render(rig.switch.control.plan.busy, 8000 * 4))
    rig.run(4.0)
    attempt, lead = stored[0], stored[1]
    assert attempt.outcome == "busy" and attempt.answered is None
    assert lead.status is LeadStatus.OPEN and lead.attempts == 1
    assert lead.next_due == pytest.approx(attempt.ended + 600) and attempt.started >= ORIGIN.timestamp()
    assert rig.records[-1].hangup_cause == "campaign_busy"


def test_sit_closes_the_lead():
    rig, audio, queue, service, stored = setup()
    rig.loop.step()
    dialled(rig, service)
    audio.say(0, render(sit_itu(), 8000 * 3))
    rig.run(3.0)
    assert stored[0].outcome == "disconnected" and stored[1].status is LeadStatus.CLOSED


def test_no_answer_after_its_time():
    rig, audio, queue, service, stored = setup()
    rig.loop.step()
    dialled(rig, service)
    rig.run(19.5)
    assert not stored
    rig.run(1.0)
    assert stored[0].outcome == "no_answer"


def test_answer_by_voice_amd_human_goes_to_the_queue():
    rig, audio, queue, service, stored = setup(amd="human")
    rig.loop.step()
    dialled(rig, service)
    audio.say(0, read_audio(HELLO))
    rig.run(2.0)
    assert queue.taken == [0]
    call = rig.switch.control.call_at(0)
    assert call.answer_tick is not None and service.dialler.counters.connected == 1
    rig.run(1.5)  # the ACD (here a fake) still says the agent is free: not free for the dialler
    assert service.dialler.agents["a"].state == "talking" and service.dialler.counters.attempts == 1


def test_machine_is_hung_up_and_retried():
    rig, audio, queue, service, stored = setup(amd="machine")
    rig.loop.step()
    dialled(rig, service)
    audio.say(0, read_audio(HELLO))
    rig.run(2.0)
    assert not queue.taken and stored[0].outcome == "machine" and stored[0].answered is not None
    assert rig.records[-1].hangup_cause == "campaign_machine" and stored[1].status is LeadStatus.OPEN


def test_polarity_reversal_is_the_answer():
    rig, audio, queue, service, stored = setup(polarity=True)
    rig.loop.step()
    dialled(rig, service)
    rig.event(PolarityReversal(0))
    rig.run(0.2)
    assert queue.taken == [0]


def test_no_agent_within_two_seconds_hears_the_abandon_message():
    agents = Agents(a=AgentPresence.FREE)
    rig, audio, queue, service, stored = setup(agents=agents)
    rig.loop.step()
    dialled(rig, service)
    agents.states["a"] = AgentPresence.BUSY  # the agent takes another call meanwhile
    rig.run(1.0)
    audio.say(0, read_audio(HELLO))
    rig.run(1.0)  # answered by voice, nobody free
    assert not queue.taken and service.dialler.counters.answered == 1
    rig.run(2.0)
    assert service.dialler.counters.abandoned == 1
    assert rig.switch.control.playing(0)  # the message
    rig.run(1.2)
    assert stored[0].abandoned and rig.records[-1].hangup_cause == "campaign_abandoned"
    assert stored[1].status is LeadStatus.OPEN and stored[1].last_outcome == "abandoned"


def test_preview_dials_only_when_accepted():
    rig, audio, queue, service, stored = setup(mode=Mode.PREVIEW)
    rig.run(1.2)
    assert service.previews == {"a": service.book.states[1].lead()} and rig.state(0) == "idle"
    service.preview_accept("a")
    dialled(rig, service)
    audio.say(0, read_audio(HELLO))
    rig.run(1.0)
    assert queue.taken == [0]


def test_outside_calling_hours_nothing_is_dialled():
    rig, audio, queue, service, stored = setup()
    service.book.windows = (CallingWindow("UTC", ("mon",), TimeRange(9 * 60, 10 * 60)),)  # ORIGIN is a Wednesday 15:00
    rig.run(2.0)
    assert rig.state(0) == rig.state(1) == "idle" and service.dialler.counters.attempts == 0


def test_console_shows_figures_and_takes_the_preview_decision():
    rig, audio, queue, service, stored = setup(mode=Mode.PREVIEW)
    rig.run(1.2)
    attached = rig.switch.control.attached
    (line,) = campaign_lines(attached)
    figures = json.loads(line)
    assert figures["name"] == "c" and figures["previews"] == {"a": 1} and figures["attempts"] == 0
    lead = service.book.states[1]
    assert figures["preview_leads"] == {"a": {"lead": 1, "number": lead.number, "name": lead.name}}
    with pytest.raises(FirmwareError, match="expected an agent id"):
        preview_decision(attached, "a;rm", True)
    with pytest.raises(FirmwareError, match="agent b has no lead in preview"):
        preview_decision(attached, "b", True)
    with pytest.raises(FirmwareError, match="no campaign other running"):
        preview_decision(attached, "a", True, "other")
    assert preview_decision(attached, "a", False) == "campaign c: agent a skipped the lead"
    rig.run(1.2)  # a skipped lead goes to the end of the list: the agent is shown the next one
    assert json.loads(campaign_lines(attached)[0])["previews"] == {"a": 2}
    assert preview_decision(attached, "a", True) == "campaign c: dialling lead 2 for agent a"
    dialled(rig, service)
    assert json.loads(campaign_lines(attached)[0])["calls"] == [{"line": 0, "lead": 2, "phase": "progress"}]


def test_console_command_words():
    spec, args = find_command(["campaign", "accept", "1001", "campaign=renewals"])
    assert spec.method == "campaign_accept" and args == ["1001", "campaign=renewals"]
    assert find_command(["show", "campaigns"])[0].method == "show_campaigns"


def test_predictive_places_more_calls_than_free_agents_once_measured():
    agents = Agents(a=AgentPresence.FREE, b=AgentPresence.BUSY, c=AgentPresence.BUSY)
    rig, audio, queue, service, stored = setup(mode=Mode.PREDICTIVE, leads=5, agents=agents)
    measured = service.dialler.measured
    for i in range(40):  # one in ten answered, 12 s after dialling; handle time 30 s
        measured.outcome(i % 10 == 0, 12.0 if i % 10 == 0 else 30.0)
    for _ in range(5):
        measured.handled(30.0)
    rig.run(0.5)
    assert rig.state(0) != "idle" and rig.state(1) != "idle"  # one free agent, both lines dialling
    assert service.dialler.counters.attempts == 2


@pytest.mark.parametrize(("mode", "logged"), [
    (Mode.PREDICTIVE, [(1, 2, True), (1, 2, True)]),  # two calls up for the one free agent
    (Mode.PROGRESSIVE, [(1, 1, False)]),  # the same present: one call per free agent, never more
])
def test_dial_events_say_the_pacings_present(caplog, mode, logged):
    agents = Agents(a=AgentPresence.FREE, b=AgentPresence.BUSY, c=AgentPresence.BUSY)
    rig, audio, queue, service, stored = setup(mode=mode, leads=5, agents=agents)
    for i in range(40):  # as above: measured, so predictive paces ahead
        service.dialler.measured.outcome(i % 10 == 0, 12.0 if i % 10 == 0 else 30.0)
    for _ in range(5):
        service.dialler.measured.handled(30.0)
    with caplog.at_level("INFO"):
        rig.run(0.5)
    dials = [r.fields for r in caplog.records if r.getMessage() == "dial"]
    assert [(d["free_agents"], d["in_progress"], d["over_dialled"]) for d in dials] == logged
