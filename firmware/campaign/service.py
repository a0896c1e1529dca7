"""The dialler in the box: an attached service of call control that places a campaign's calls.

It drives the pure :class:`~firmware.campaign.dialler.Dialler` (pacing, agents, the 2 s
abandon rule) with the engine's time and events, and carries out its actions through the
call-control surface only (``CallControlApi``: ``place_call``, ``mark_answered``, ``deliver``,
``say``, ``end_service_call``):

1. **Dial**: a free line of the campaign's (``place_call``): the engine seizes it, waits for
   dial tone (blind after 3 s), dials, and leaves the line connected to the box, unanswered.
2. **Call progress**: the line's audio (a frame tap) goes to a call-progress detector of the
   zone's plan listening for ringback, busy, congestion and SIT (``dsp.progress``) and to a
   voice activity detector (``dsp.vad``): busy, congestion, SIT (number not in service) end
   the attempt with that outcome; no answer within ``no_answer_s``; the far end's polarity
   reversal (lines with ``answer_by_polarity_reversal``: the switch sets the answer) or,
   else, voice on the line is the answer (``mark_answered``).
3. **Answering-machine detection** (``amd: true``): the answered line's frames, one 20 ms
   frame at a time from the answer, to an AMD session (``dsp/amd.py``): machine → the lead is
   retried per its rule (``machine_message``: played after the beep, then the box hangs up);
   human or not sure → a person.
4. **A person**: to a free agent of the campaign's queue (``deliver`` to the queue: the ACD
   offers it to the agent); none free within 2 s: the abandon message, then the box hangs up.
5. **The end**: each attempt is written to the campaign store on a worker (never on the
   loop) with its outcome, and the lead's retry state with it.

6. **The disposition**: the agent's code (headset keys in wrap-up or the agent page, both
   through the desk, ``firmware/desk/tracker.py``) comes back to :meth:`CampaignService.disposed`
   by the call's uniqueid; it is written to the attempt and counted. A "do not call" code
   blocks the number in every campaign (:meth:`CampaignService.block_number`; the do-not-call
   list itself: ``firmware/campaign/attach.py``).

Agents' state comes from the ACD (:class:`AgentSource`) once a second; preview leads wait for
the agent's accept or skip (:meth:`CampaignService.preview_accept`, the console's command).

7. **Live changes** (:meth:`CampaignService.reconfigure`, from ``firmware/campaign/attach.py``
   on the loop's thread): a stored change to the campaign applies from the next tick (mode,
   lines, queue, calling hours, retries, pacing limit, recordings); ``enabled: false`` stops
   new calls and takes back the previews not yet accepted; a call in progress keeps the
   settings it was dialled with (its ``settings``: ring time, AMD, messages, queue).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

import numpy as np

from drivers.audio import TICK_MS
from drivers.logs import EventLogger
from dsp.progress import CallProgressDetector
from dsp.vad import VadEventKind, VoiceActivityDetector
from firmware import FirmwareError
from firmware.campaign.dialler import (
    Abandon,
    Action,
    AgentState,
    Connect,
    Dial,
    Dialler,
    HangUp,
    Lead,
    LeaveMessage,
    Mode,
    Outcome,
    Preview,
)
from firmware.campaign.leads import ABANDONED, CONTACT, LeadBook, LeadStatus
from firmware.campaign.store import AttemptRecord
from firmware.cdr import CallDisposition
from firmware.config.campaignmodel import Campaign
from firmware.config.model import Destination, DestinationKind
from firmware.engine.calls import Call, Leg
from firmware.engine.control import CallControlApi, Then
from firmware.engine.services import AttachedService
from firmware.numbers import try_e164

TICK_S = TICK_MS / 1000.0
AGENT_SYNC_TICKS = 50  # agents' states from the ACD once a second
PACE_TICKS = 10  # the pacing decides every 200 ms (and after every outcome)
VOICE_BACKLOG_FRAMES = 15  # the VAD says "speech" 100 ms or more after it began: AMD gets the last 300 ms too
BEEP_WAIT_S = 15.0  # leave the message after the beep, or after this long without one
PROGRESS_TONES = ("ringback", "busy", "congestion", "sit")
TONE_OUTCOMES = {"busy": Outcome.BUSY, "congestion": Outcome.CONGESTION, "sit": Outcome.DISCONNECTED}
CAUSE_OUTCOMES = {"busy_tone": Outcome.BUSY, "congestion_tone": Outcome.CONGESTION}
HANDED_MEMORY = 1024  # calls handed to agents remembered for their disposition (agents owe one each)


class AgentPresence(StrEnum):
    FREE = "free"  # logged in to the queue, available, phone idle
    BUSY = "busy"  # ringing, on a call, in wrap-up
    AWAY = "away"  # paused or logged out


class AgentSource(Protocol):
    def agent_states(self, queue: str) -> Mapping[str, AgentPresence]: ...


class AmdVerdict(Protocol):
    result: str  # "human", "machine" or "notsure"
    cause: str
    decided_ms: int


class AmdSession(Protocol):
    """One call's answering-machine detector (``dsp.amd.AmdDetector``): fed 20 ms frames from the answer."""

    def feed(self, frame: np.ndarray) -> AmdVerdict | None: ...


class BeepSession(Protocol):
    def feed(self, frame: np.ndarray) -> object | None: ...


class Phase(StrEnum):
    DIALLING = "dialling"  # seized, dial tone, digits going out
    PROGRESS = "progress"  # dialled: ringing, busy, SIT ... or an answer
    AMD = "amd"  # answered: listening whether a person or a machine
    WAITING = "waiting"  # a person, waiting (at most 2 s) for an agent
    AGENT = "agent"  # handed to the queue
    MESSAGE = "message"  # the abandon message or the machine's message playing
    BEEP = "beep"  # a machine: waiting for its beep


@dataclass
class LineCall:
    attempt_id: int
    lead: Lead
    call: Call
    line: int
    started: float
    settings: Campaign  # the campaign as it was when dialled: a live change leaves the call alone
    dialled_tick: int | None = None
    phase: Phase = Phase.DIALLING
    progress: CallProgressDetector | None = None
    vad: VoiceActivityDetector | None = None
    amd: AmdSession | None = None
    beep: BeepSession | None = None
    outcome: Outcome | None = None
    answered: float | None = None
    connected: float | None = None
    agent: str = ""  # the ACD agent id
    uniqueid: str = ""  # the call's, once handed to the queue (the desk's dispositions name it)
    abandoned: bool = False
    end_tick: int | None = None  # the message ends: hang up then
    frames: list[np.ndarray] = field(default_factory=list)
    recent: deque[np.ndarray] = field(default_factory=lambda: deque(maxlen=VOICE_BACKLOG_FRAMES))


class CampaignService(AttachedService):
    """One running campaign (module docstring)."""

    def __init__(self, control: CallControlApi, campaign: Campaign, dialler: Dialler, book: LeadBook,
                 agents: AgentSource, write: Callable[[Callable[[], None]], None],
                 store_attempt: Callable[[AttemptRecord], None], store_lead: Callable[[object], None],
                 amd: Callable[[], AmdSession] | None = None, beep: Callable[[], BeepSession] | None = None,
                 recordings: Mapping[str, np.ndarray] | None = None, log: EventLogger | None = None,
                 agent_at: Callable[[int], str | None] | None = None,
                 store_disposition: Callable[[str, str], object] | None = None) -> None:
        self.cc = control
        self.campaign = campaign
        self.dialler = dialler
        self.book = book
        self.agents = agents
        self.write = write
        self.store_attempt = store_attempt
        self.store_lead = store_lead
        self.amd_factory = amd
        self.beep_factory = beep
        self.recordings = dict(recordings or {})
        self.log = log or EventLogger("campaign")
        self.calls: dict[int, LineCall] = {}  # attempt id -> its call
        self.by_call: dict[int, LineCall] = {}  # engine call id -> its call
        self.previews: dict[str, Lead] = {}
        self.running = campaign.enabled
        self.agent_at = agent_at  # the ACD agent logged in at a port
        self.store_disposition = store_disposition  # (uniqueid, code) on the writer thread
        self.handed: OrderedDict[str, tuple[int, str, str]] = OrderedDict()  # uniqueid -> (lead, number, code)
        self.dispositions: dict[str, int] = {}  # code -> count, since the box started

    # ------------------------------------------------------------------ time and lines
    def now(self) -> float:
        """Wall time of the present tick (epoch seconds): retries and calling hours follow it."""
        return self.cc.epoch(self.cc.tick)

    def _lines(self) -> list[int]:
        ports = [line.port for line in self.cc.config.lines]
        return [p for p in ports if p in self.campaign.lines] if self.campaign.lines else ports

    def _free_lines(self) -> list[int]:
        return [port for port in self._lines() if self.cc.state(port) is Leg.IDLE]

    # ------------------------------------------------------------------ the tap and the tick
    def tap(self, frame: np.ndarray) -> None:
        """The media loop's frame of this tick (echo-cancelled): keep the rows of lines we listen to."""
        for each in self.calls.values():
            if each.phase in (Phase.PROGRESS, Phase.AMD, Phase.BEEP):
                each.frames.append(np.array(frame[each.line], dtype=np.int16))

    def on_tick(self, tick: int) -> None:
        now = self.now()
        if tick % AGENT_SYNC_TICKS == 0:
            self._sync_agents(now)
        for each in list(self.calls.values()):
            self._listen(each, tick, now)
        dial = self.running and tick % PACE_TICKS == 0
        self._carry_out(self.dialler.step(now, len(self._free_lines()) if dial else 0, dial=dial), now)

    def _sync_agents(self, now: float) -> None:
        states = self.agents.agent_states(self.campaign.queue)
        for agent_id, presence in states.items():
            known = self.dialler.agents.get(agent_id)
            state = known.state if known is not None else AgentState.AWAY
            # an agent we handed a call that the ACD has not offered yet (a queue with callers
            # ahead) still reads free there: not free again until that call has ended
            handing = known is not None and known.attempt_id in self.dialler.talking
            if (presence is AgentPresence.FREE and not handing
                    and state in (AgentState.AWAY, AgentState.TALKING, AgentState.WRAPUP)):
                self.dialler.agent_ready(agent_id, now)
            elif presence is AgentPresence.BUSY and state in (AgentState.FREE, AgentState.AWAY):
                self.dialler.agent_busy(agent_id, now)
            elif presence is AgentPresence.AWAY and state is not AgentState.AWAY:
                self.dialler.agent_away(agent_id, now)
                self.previews.pop(agent_id, None)
        for agent_id in set(self.dialler.agents) - set(states):
            self.dialler.agent_away(agent_id, now)

    # ------------------------------------------------------------------ one line's call
    def _listen(self, each: LineCall, tick: int, now: float) -> None:
        frames, each.frames = each.frames, []
        call = each.call
        if each.phase is Phase.DIALLING and self.cc.state(each.line) is Leg.CONNECTED:
            each.phase = Phase.PROGRESS
            each.dialled_tick = tick
            each.progress = CallProgressDetector(1, self.cc.plan, only=PROGRESS_TONES)
            each.vad = VoiceActivityDetector(1)
            return
        if each.phase is Phase.PROGRESS:
            self._progress(each, frames, tick, now)
        elif each.phase is Phase.AMD:
            for frame in frames:
                verdict = each.amd.feed(frame) if each.amd is not None else None
                if verdict is not None:
                    self.log.info("amd", call=call.call_id, line=each.line, result=verdict.result,
                                  cause=verdict.cause, decided_ms=verdict.decided_ms)
                    self._outcome(each, Outcome.MACHINE if verdict.result == "machine" else Outcome.HUMAN, now)
                    break
        elif each.phase is Phase.BEEP:
            heard = any(each.beep.feed(frame) is not None for frame in frames) if each.beep is not None else False
            if heard or now - (each.answered or now) >= BEEP_WAIT_S:
                self._play_then_hang_up(each, each.settings.machine_message, tick)
        elif each.phase is Phase.MESSAGE and each.end_tick is not None and tick >= each.end_tick:
            self.cc.end_service_call(call, "campaign_abandoned" if each.abandoned else "campaign_message_left")

    def _progress(self, each: LineCall, frames: list[np.ndarray], tick: int, now: float) -> None:
        call = each.call
        if call.answer_tick is not None:  # polarity reversal: the switch set the answer
            self._answered(each, now)
            return
        if frames:
            each.recent.extend(frames)
            block = np.concatenate(frames)[None, :]
            for event in each.progress.process(block):
                if event.ongoing and event.tone in TONE_OUTCOMES:
                    self.log.info("progress", call=call.call_id, line=each.line, tone=event.tone)
                    self._outcome(each, TONE_OUTCOMES[event.tone], now)
                    self.cc.end_service_call(call, f"campaign_{event.tone}")
                    return
            line = self.cc.config.line(each.line)
            by_voice = line is None or not line.answer_by_polarity_reversal
            if by_voice and any(e.kind is VadEventKind.START for e in each.vad.process(block)):
                self.cc.mark_answered(call)  # no answer supervision: the far end's voice is the answer
                self.log.info("far_end_answered", call=call.call_id, line=each.line, by="voice")
                self._answered(each, now)
                if each.phase is Phase.AMD:  # the greeting's start, heard before the VAD was sure
                    each.frames = list(each.recent)
                    self._listen(each, tick, now)
                return
        if each.dialled_tick is not None and (tick - each.dialled_tick) * TICK_S >= each.settings.no_answer_s:
            self._outcome(each, Outcome.NO_ANSWER, now)
            self.cc.end_service_call(call, "campaign_no_answer")

    def _answered(self, each: LineCall, now: float) -> None:
        each.answered = now
        if each.settings.amd and self.amd_factory is not None:
            each.phase = Phase.AMD
            each.amd = self.amd_factory()
        else:
            self._outcome(each, Outcome.HUMAN, now)

    def _outcome(self, each: LineCall, outcome: Outcome, now: float) -> None:
        each.outcome = outcome
        if outcome is Outcome.HUMAN:
            each.phase = Phase.WAITING
        self._carry_out(self.dialler.outcome(each.attempt_id, outcome, now), now)

    def _play_then_hang_up(self, each: LineCall, recording: str, tick: int) -> None:
        samples = self.recordings.get(recording)
        if samples is None or len(samples) == 0:
            self.log.warning("campaign_recording_missing", call=each.call.call_id, recording=recording or "none")
            self.cc.end_service_call(each.call, "campaign_abandoned" if each.abandoned else "campaign_machine")
            return
        each.phase = Phase.MESSAGE
        self.cc.say(each.line, samples, Then.CONTINUE)
        each.end_tick = tick + int(np.ceil(len(samples) / 160)) + 1

    # ------------------------------------------------------------------ the dialler's actions
    def _carry_out(self, actions: list[Action], now: float) -> None:
        for action in actions:
            if isinstance(action, Dial):
                self._dial(action, now)
            elif isinstance(action, Preview):
                self.previews[action.agent_id] = action.lead
                self.log.info("preview", campaign=self.campaign.name, agent=action.agent_id, lead=action.lead.lead_id)
            elif isinstance(action, Connect):
                each = self.calls[action.attempt_id]
                each.phase = Phase.AGENT
                each.connected = now
                each.agent = action.agent_id  # the ACD may give it to another: answered() says
                each.uniqueid = self.cc.uniqueid(each.call)
                self.handed[each.uniqueid] = (each.lead.lead_id, each.lead.number, "")
                while len(self.handed) > HANDED_MEMORY:
                    self.handed.popitem(last=False)
                self.log.info("to_agent", call=each.call.call_id, line=each.line, queue=each.settings.queue)
                self.cc.deliver(each.call, each.line, Destination(DestinationKind.QUEUE, each.settings.queue))
            elif isinstance(action, Abandon):
                each = self.calls[action.attempt_id]
                each.abandoned = True
                self.log.info("abandoned", call=each.call.call_id, line=each.line)
                self._play_then_hang_up(each, each.settings.abandon_message, self.cc.tick)
            elif isinstance(action, HangUp):
                self.cc.end_service_call(self.calls[action.attempt_id].call, "campaign_machine")
            elif isinstance(action, LeaveMessage):
                each = self.calls[action.attempt_id]
                each.phase = Phase.BEEP
                each.beep = self.beep_factory() if self.beep_factory is not None else None

    def _dial(self, action: Dial, now: float) -> None:
        free = self._free_lines()
        call = self.cc.place_call(free[0], action.lead.number) if free else None
        if call is None:
            self.book.put_back(action.lead)
            self.dialler.outcome(action.attempt_id, Outcome.FAILED, now)
            return
        each = LineCall(action.attempt_id, action.lead, call, free[0], now, self.campaign)
        self.calls[action.attempt_id] = each
        self.by_call[call.call_id] = each
        call.userfield = f"campaign {self.campaign.name} lead {action.lead.lead_id}"
        # the pacing's present: more calls up than free agents is predictive dialling at work
        present = self.dialler.pacing_input(0)
        in_progress = present.in_flight + present.waiting
        self.log.info("dial", campaign=self.campaign.name, call=call.call_id, line=each.line,
                      lead=action.lead.lead_id, free_agents=present.free_agents, in_progress=in_progress,
                      over_dialled=in_progress > present.free_agents)

    # ------------------------------------------------------------------ live changes
    def reconfigure(self, campaign: Campaign, recordings: Mapping[str, np.ndarray]) -> None:
        """The campaign as stored now (same name), on the loop's thread between two ticks: applies
        from the next decision (``enabled`` too: paused or resumed); calls in progress keep their
        ``settings`` (firmware/campaign/changes.py plans which campaigns this is called for)."""
        if campaign.name != self.campaign.name:
            raise FirmwareError(f"campaign {self.campaign.name}: cannot become {campaign.name}")
        old, now = self.campaign, self.now()
        self.campaign = campaign
        self.recordings.update(recordings)  # a call in progress may still play an old one
        self.dialler.mode = Mode(str(campaign.mode))
        self.dialler.max_abandon = campaign.max_abandon_rate
        self.dialler.leave_message = bool(campaign.machine_message)
        self.book.windows = campaign.calling_hours
        self.book.retries = campaign.retries
        self.running = campaign.enabled
        if not self.running or self.dialler.mode is not Mode.PREVIEW:
            self.withdraw_previews(now)
        if old.queue != campaign.queue:
            self._sync_agents(now)  # the old queue's agents leave the campaign now

    def stop(self) -> None:
        """No new call (the campaign was removed or disabled); calls in progress go on."""
        self.running = False
        self.withdraw_previews(self.now())

    def withdraw_previews(self, now: float) -> None:
        """Leads shown to agents and not yet accepted go back to the list; the agents are free."""
        for agent_id in list(self.previews):
            del self.previews[agent_id]
            self.dialler.preview_skip(agent_id, now)

    @property
    def busy(self) -> bool:
        """Calls of this campaign are on the lines."""
        return bool(self.calls)

    # ------------------------------------------------------------------ preview (the console)
    def preview_accept(self, agent_id: str) -> Lead:
        lead = self.previews.pop(agent_id, None)
        if lead is None:
            raise FirmwareError(f"agent {agent_id} has no lead to accept in campaign {self.campaign.name}")
        self._carry_out([self.dialler.preview_accept(agent_id, self.now())], self.now())
        return lead

    def preview_skip(self, agent_id: str) -> None:
        lead = self.previews.pop(agent_id, None)
        if lead is None:
            raise FirmwareError(f"agent {agent_id} has no lead to skip in campaign {self.campaign.name}")
        self.dialler.preview_skip(agent_id, self.now())
        self.book.to_back(lead.lead_id)  # the next agent free is shown the next lead, not this one again
        self.log.info("preview_skipped", campaign=self.campaign.name, agent=agent_id, lead=lead.lead_id)

    # ------------------------------------------------------------------ attached-service hooks
    def answered(self, call: Call, port: int) -> None:
        each = self.by_call.get(call.call_id)
        if each is not None and each.phase is Phase.AGENT and port != each.line:
            agent = self.agent_at(port) if self.agent_at is not None else None
            each.agent = agent or each.agent

    def before_end(self, call: Call) -> None:
        each = self.by_call.pop(call.call_id, None)
        if each is None:
            return
        self.calls.pop(each.attempt_id, None)
        now = self.now()
        if each.outcome is None:  # ended before we knew: the switch's supervision, the far end
            each.outcome = CAUSE_OUTCOMES.get(call.hangup_cause, Outcome.NO_ANSWER if each.answered is None
                                              else Outcome.HUMAN)
        self.dialler.gone(each.attempt_id, each.outcome, now)  # a person who hung up while waiting too
        self.dialler.call_finished(each.attempt_id, now)
        retry = (CONTACT if each.connected is not None else ABANDONED if each.abandoned
                 else str(each.outcome or Outcome.FAILED))
        state = self.book.attempted(each.lead.lead_id, retry, now)
        record = AttemptRecord(self.campaign.name, each.lead.lead_id, each.lead.number, each.started,
                               str(each.outcome or Outcome.FAILED), each.answered, each.connected, each.agent,
                               each.abandoned, now, uniqueid=each.uniqueid)
        self.write(lambda: (self.store_attempt(record), self.store_lead(state)))
        self.log.info("attempt", campaign=self.campaign.name, call=call.call_id, lead=each.lead.lead_id,
                      outcome=record.outcome, abandoned=each.abandoned, retry=state.status)

    # ------------------------------------------------------------------ dispositions (the desk's)
    def disposed(self, entry: CallDisposition) -> str | None:
        """An agent's disposition: if of this campaign's call, written to its attempt, counted, and
        the lead's number (as dialled) returned; None for another call."""
        handed = self.handed.get(entry.uniqueid)
        if handed is None:
            return None
        lead_id, number, before = handed
        if before:  # the agent corrected it (the page takes a new code until the next call)
            self.dispositions[before] -= 1
            if not self.dispositions[before]:
                del self.dispositions[before]
        self.dispositions[entry.code] = self.dispositions.get(entry.code, 0) + 1
        self.handed[entry.uniqueid] = (lead_id, number, entry.code)
        if self.store_disposition is not None:
            store, uniqueid, code = self.store_disposition, entry.uniqueid, entry.code
            self.write(lambda: self._stored(store(uniqueid, code), uniqueid, code))
        self.log.info("disposition", campaign=self.campaign.name, call=entry.uniqueid, lead=lead_id,
                      agent=entry.agent, code=entry.code, dnc=entry.do_not_call)
        return number

    def _stored(self, found: object, uniqueid: str, code: str) -> None:
        if not found:  # the writer thread: the attempt was not stored (logged where that failed)
            self.log.warning("disposition_without_attempt", campaign=self.campaign.name, call=uniqueid, code=code)

    def block_number(self, e164: str, zone: str) -> list[int]:
        """No lead of this campaign with number ``e164`` (leads as dialled, read in ``zone``) is
        called again: their status becomes ``dnc`` and is stored. Returns their lead ids."""
        blocked = []
        for state in list(self.book.states.values()):
            if state.status is not LeadStatus.DNC and try_e164(state.number, zone) == e164:
                new = self.book.block(state.lead_id)
                self.write(lambda new=new: self.store_lead(new))
                blocked.append(state.lead_id)
        for agent_id, lead in list(self.previews.items()):  # shown to an agent, not yet accepted
            if lead.lead_id in blocked:
                del self.previews[agent_id]
                self.dialler.preview_skip(agent_id, self.now())
        if blocked:
            self.log.info("leads_blocked", campaign=self.campaign.name, number=e164, leads=blocked)
        return blocked

    # ------------------------------------------------------------------ figures
    def snapshot(self) -> dict[str, object]:
        """Live figures for the console (``show campaign``): the dialler's counters and the calls."""
        counters = self.dialler.counters
        logged, handle = self.dialler.agent_seconds(self.now())
        return {
            "name": self.campaign.name, "mode": str(self.dialler.mode), "running": self.running,
            "attempts": counters.attempts, "answered": counters.answered, "contacts": counters.connected,
            "abandoned": counters.abandoned, "abandon_rate": self.dialler.abandon_rate(),
            "machines": counters.machines, "outcomes": dict(counters.outcomes),
            "dispositions": dict(self.dispositions),
            "contacts_per_agent_hour": round(counters.connected / (logged / 3600.0), 2) if logged > 0 else None,
            "agent_productivity": round(handle / logged, 4) if logged > 0 else None,
            "calls": [{"line": each.line, "lead": each.lead.lead_id, "phase": str(each.phase)}
                      for each in self.calls.values()],
            "leads": self.book.counts(), "penetration": self.book.penetration(), "previews": {agent: lead.lead_id for agent, lead in self.previews.items()},
            # the lead each agent is shown (the agent page's preview: number and name)
            "preview_leads": {agent: {"lead": lead.lead_id, "number": lead.number, "name": lead.name}
                              for agent, lead in self.previews.items()},
        }
