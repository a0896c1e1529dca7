"""Puts the enabled campaigns into a running box: one :class:`CampaignService` each.

``attach_campaigns`` (called once at start by the composition root, linebox/appliance.py,
after the ACD has started) opens the campaign store, loads each enabled campaign's leads
(the first time: the contacts table's numbers or the CSV under ``<data>/campaigns/``,
cleaned by ``firmware.leads.check_leads`` against the do-not-call list), reads its
recordings (``<data>/campaigns/recordings/NAME.wav``, else the box's sound folders), and
attaches the service with the real answering-machine and beep detectors (``dsp.amd``) and
the ACD's agents. A stored configuration change applies live (:meth:`Campaigns.config_stored`,
subscribed to the configuration store like the ACD's follower): leads and recordings are
read on the writer thread, then, on the media loop between two ticks, a new campaign starts,
a changed one is reconfigured (:meth:`CampaignService.reconfigure`) and a disabled or removed
one stops dialling; calls in progress keep the settings they were dialled with.

Dispositions: the desk tells :class:`DispositionLink` every disposition an agent enters
(``on_disposition``: the desk tracker's listeners), whenever the box has an ACD, with or
without campaigns. The campaign whose call it was writes it
to the attempt; a code marked ``do_not_call`` puts the number (the lead's, else the caller's,
in E.164 read in the box's zone) on the do-not-call list (``firmware.leads.DncList``, on the
writer thread) and blocks it in every running campaign, so no campaign calls it again.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from drivers.logs import EventLogger
from dsp.amd import AmdDetector, BeepDetector
from firmware import FirmwareError
from firmware.acd.agent_state import AgentState as AcdState
from firmware.campaign.changes import plan_changes
from firmware.campaign.dialler import Dialler, Mode
from firmware.campaign.leads import LeadBook
from firmware.campaign.service import AgentPresence, CampaignService
from firmware.campaign.store import CampaignStore
from firmware.cdr import CallDisposition
from firmware.config.campaignmodel import Campaign, LeadSourceKind
from firmware.config.model import Config, Contact
from firmware.contacts.csvfile import read_table
from firmware.contacts.store import ContactStore
from firmware.engine.control import CallControlApi
from firmware.engine.worker import Worker
from firmware.leads import DncList, check_leads
from firmware.numbers import plan_for, try_e164

_FREE = frozenset({AcdState.AVAILABLE})
_AWAY = frozenset({AcdState.PAUSED, AcdState.LOGGED_OUT})


class AcdAgents:
    """The agents of a queue as the ACD has them: free (available, phone idle), busy or away."""

    def __init__(self, core, ports: Mapping[str, int] | None = None) -> None:
        self.core = core  # firmware.acd.core.AcdCore (members and agents are its public state)
        self.ports = ports if ports is not None else {}  # logged-in agent -> port (QueueService.agent_ports)

    def agent_at(self, port: int) -> str | None:
        """The ACD agent logged in at ``port`` (what a campaign attempt records), None if none."""
        return next((agent for agent, at in self.ports.items() if at == port), None)

    def agent_states(self, queue: str) -> dict[str, AgentPresence]:
        states: dict[str, AgentPresence] = {}
        for agent in self.core.members.get(queue, ()):
            if queue not in agent.logged_queues or agent.state in _AWAY:
                states[agent.agent_id] = AgentPresence.AWAY
            elif agent.state in _FREE and not agent.phone_busy:
                states[agent.agent_id] = AgentPresence.FREE
            else:
                states[agent.agent_id] = AgentPresence.BUSY
        return states


def campaign_leads(campaign: Campaign, config: Config, data_dir: Path, dnc: Sequence[str],
                   contacts: Iterable[Contact] = ()) -> list[tuple[str, str, str]]:
    """The campaign's callable leads ``(number, name, timezone)``, cleaned (check_leads);
    ``contacts``: the contact store's contacts (lead source ``contacts``)."""
    zone = campaign.country.lower() or str(config.zone)
    zone = {"gb": "uk"}.get(zone, zone)
    if campaign.lead_source is LeadSourceKind.CONTACTS:
        rows = [{"number": number, "name": contact.name} for contact in contacts for number in contact.numbers]
    else:
        path = data_dir / "campaigns" / campaign.lead_file
        try:
            rows = list(read_table(path.read_bytes()).rows)
        except OSError as exc:
            raise FirmwareError(f"campaign {campaign.name}: lead list {path}: {exc.strerror or exc}") from exc
    report = check_leads(rows, zone, dnc)
    # dialled as the exchange wants it: the national number for a number of the box's country
    return [(lead.number, lead.row.get("name", ""), lead.row.get("timezone", "")) for lead in report.leads]


def dialled_digits(e164: str, config: Config) -> str:
    """What the box dials for an E.164 number: the national form in its own country, else international."""
    plan = plan_for(str(config.zone))
    digits = e164.lstrip("+")
    if digits.startswith(plan.country_code):
        national = digits[len(plan.country_code):]
        return national if plan.trunk_optional else plan.trunk + national
    prefix = re.match(r"[0-9]*", plan.international)  # the plan's international prefix, e.g. 011, 00
    return (prefix.group() if prefix else "00") + digits


def read_recordings(campaign: Campaign, folders: Sequence[Path],
                    read_audio: Callable[[Path], np.ndarray], log: EventLogger) -> dict[str, np.ndarray]:
    found: dict[str, np.ndarray] = {}
    for name in filter(None, (campaign.abandon_message, campaign.machine_message)):
        for folder in folders:
            path = folder / f"{name}.wav"
            if path.is_file():
                found[name] = read_audio(path)
                break
        else:
            log.warning("campaign_recording_missing", campaign=campaign.name, recording=name)
    return found


@dataclass
class DispositionLink:
    """An agent's disposition (from the desk, on the loop's thread) to the campaigns and the
    do-not-call list (module docstring)."""

    services: Sequence[CampaignService]
    zone: str  # the box's: leads are stored as dialled there, caller IDs read there
    write: Callable[[Callable[[], None]], None]  # to the writer thread
    dnc_add: Callable[[str, str, str, float], object]  # DncList.add(number, zone, source, when)
    log: EventLogger

    def __call__(self, entry: CallDisposition) -> None:
        numbers = [number for number in (service.disposed(entry) for service in self.services) if number]
        if not entry.do_not_call:
            return
        number = numbers[0] if numbers else entry.caller_number
        e164 = try_e164(number, self.zone) if number else None
        if e164 is None:
            self.log.warning("dnc_not_added", call=entry.uniqueid, code=entry.code, number=number,
                             reason="no valid number to block")
            return
        for service in self.services:
            service.block_number(e164, self.zone)
        source, when, add, zone = f"disposition {entry.code} call {entry.uniqueid}", entry.entered, self.dnc_add, self.zone
        self.write(lambda: add(e164, zone, source, when))
        self.log.info("dnc_added", number=e164, call=entry.uniqueid, agent=entry.agent, code=entry.code,
                      campaign_call=bool(numbers))


@dataclass
class Prepared:
    """What a snapshot's campaigns need read off the media loop: leads and recordings."""

    leads: dict[str, list] = field(default_factory=dict)  # campaign -> its stored LeadStates (new services)
    recordings: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # campaign -> name -> samples


@dataclass
class Campaigns:
    """The running campaigns and what they own: the store, the do-not-call list, the writer
    thread and the link from the desk's dispositions. Built by :func:`attach_campaigns`; every
    stored configuration comes back through :meth:`config_stored` (live changes)."""

    services: dict[str, CampaignService] = field(default_factory=dict)
    store: CampaignStore | None = None
    worker: Worker | None = None
    dnc: DncList | None = None
    link: DispositionLink | None = None
    control: CallControlApi | None = None
    taps: list = field(default_factory=list)
    agents: AcdAgents | None = None
    config: Config | None = None  # the snapshot the services run
    db_path: Path = Path("linebox.db")  # the box's database; lead files and recordings live beside it
    sound_folders: Sequence[Path] = ()
    read_audio: Callable[[Path], np.ndarray] | None = None
    submit: Callable[[Callable[[], None]], None] | None = None  # to the media loop (MediaLoop.submit)
    log: EventLogger = field(default_factory=lambda: EventLogger("campaign"))
    lock: threading.Lock = field(default_factory=threading.Lock)  # the snapshot and the start of the ACD

    @property
    def data_dir(self) -> Path:
        return self.db_path.parent

    def close(self) -> None:
        """Writes what is queued, then closes the stores (the appliance's stop)."""
        if self.worker is not None:
            self.worker.close()
        if self.store is not None:
            self.store.close()
        if self.dnc is not None:
            self.dnc.close()

    # ------------------------------------------------------------------ reading (off the loop)
    def prepare(self, config: Config) -> Prepared:
        """Leads of campaigns not running yet (stored the first time) and every enabled
        campaign's recordings: file and database work, on the writer thread or at start."""
        prepared = Prepared()
        if self.store is None or self.dnc is None or self.read_audio is None:
            return prepared
        dnc: list[str] | None = None
        for campaign in config.campaigns:
            if not campaign.enabled:
                continue
            if campaign.name not in self.services:
                if not self.store.leads(campaign.name):
                    dnc = sorted(self.dnc.numbers()) if dnc is None else dnc
                    try:
                        with ContactStore(self.db_path) as contacts:  # read once, streamed, when the leads are made
                            leads = campaign_leads(campaign, config, self.data_dir, dnc, contacts.each())
                    except FirmwareError as exc:
                        self.log.error("campaign_not_started", campaign=campaign.name, reason=str(exc))
                        continue
                    self.store.add_leads(campaign.name, [(dialled_digits(number, config), name, tz)
                                                         for number, name, tz in leads])
                prepared.leads[campaign.name] = self.store.leads(campaign.name)
            prepared.recordings[campaign.name] = read_recordings(
                campaign, [self.data_dir / "campaigns" / "recordings", *self.sound_folders], self.read_audio, self.log)
        return prepared

    # ------------------------------------------------------------------ applying (on the loop)
    def apply(self, config: Config, prepared: Prepared) -> None:
        """The campaigns of ``config``, between two ticks: new ones attached, changed ones
        reconfigured, disabled or removed ones stopped (their calls in progress go on)."""
        self.config = config
        if self.control is None or self.agents is None or self.store is None or self.worker is None:
            return
        wanted = {campaign.name: campaign for campaign in config.campaigns}
        plan = plan_changes({name: (service.campaign, service.running) for name, service in self.services.items()},
                            config.campaigns)
        for name, reason in plan.stop:
            service = self.services[name]
            service.stop()
            self.log.info("campaign_stopped", campaign=name, reason=reason, calls=len(service.calls))
        for name, changes in plan.reconfigure:
            service = self.services[name]
            service.reconfigure(wanted[name], prepared.recordings.get(name, {}))
            self.log.info("campaign_reconfigured", campaign=name, running=service.running, calls=len(service.calls),
                          change="; ".join(changes))
        for name in plan.resume:
            self.services[name].reconfigure(wanted[name], prepared.recordings.get(name, {}))
            self.log.info("campaign_resumed", campaign=name)
        for name in plan.start:
            if name in prepared.leads:  # else its leads could not be read (logged)
                self._start(wanted[name], config, prepared)

    def _start(self, campaign: Campaign, config: Config, prepared: Prepared) -> None:
        store, agents, name = self.store, self.agents, campaign.name
        book = LeadBook(prepared.leads[name], campaign.calling_hours, campaign.retries)
        dialler = Dialler(Mode(str(campaign.mode)), book, max_abandon=campaign.max_abandon_rate,
                          leave_message=bool(campaign.machine_message))
        service = CampaignService(
            self.control, campaign, dialler, book, agents, self.worker.submit,
            store_attempt=store.add_attempt, store_lead=lambda state: store.save_lead(name, state),
            amd=AmdDetector, beep=BeepDetector, recordings=prepared.recordings.get(name, {}), log=self.log,
            agent_at=agents.agent_at, store_disposition=store.set_disposition)
        self.control.attach(service)
        self.taps.append(service.tap)
        self.services[name] = service
        if self.link is not None:
            self.link.services.append(service)  # the same list: dispositions reach it from now on
        self.log.info("campaign_started", campaign=name, mode=campaign.mode, leads=len(book.states))

    # ------------------------------------------------------------------ live changes
    def config_stored(self, config: Config) -> None:
        """A committed snapshot (the store's subscriber, any thread but the loop's): the reading
        goes to the writer thread (where the store is written), the change to the loop."""
        with self.lock:
            worker, submit = self.worker, self.submit
            if worker is None or submit is None:  # no ACD yet: acd_started takes the snapshot
                self.config = config
                return
        worker.submit(lambda: self._prepared(config, submit))

    def _prepared(self, config: Config, submit: Callable[[Callable[[], None]], None]) -> None:
        prepared = self.prepare(config)
        submit(lambda: self.apply(config, prepared))

    def acd_started(self, acd_core, agent_ports: Mapping[str, int],
                    on_disposition: Callable[[Callable[[CallDisposition], None]], None] | None) -> None:
        """The ACD started after the box (the first queue stored), on the loop's thread: the
        campaigns and the do-not-call link start with it; the leads are read on the writer thread."""
        with self.lock:
            if self.worker is not None or self.config is None:
                return
            self.open(acd_core, agent_ports, on_disposition)
            config = self.config
        self.config_stored(config)

    def open(self, acd_core, agent_ports: Mapping[str, int] | None,
             on_disposition: Callable[[Callable[[CallDisposition], None]], None] | None) -> None:
        """Opens the stores and the writer thread; the desk's dispositions are linked from now on."""
        if self.config is None:
            raise FirmwareError("campaigns: no configuration to run")
        self.store = CampaignStore(self.db_path)
        self.dnc = DncList(self.db_path)
        self.worker = Worker("campaign-store", lambda job: job(), self.log)
        self.agents = AcdAgents(acd_core, agent_ports)
        self.link = DispositionLink([], str(self.config.zone), self.worker.submit, self.dnc.add, self.log)
        if on_disposition is not None:
            on_disposition(self.link)


def attach_campaigns(control: CallControlApi, taps: list, acd_core, config: Config, db_path: str | Path,
                     sound_folders: Sequence[Path], read_audio: Callable[[Path], np.ndarray],
                     log: EventLogger | None = None, agent_ports: Mapping[str, int] | None = None,
                     on_disposition: Callable[[Callable[[CallDisposition], None]], None] | None = None,
                     submit: Callable[[Callable[[], None]], None] | None = None) -> Campaigns:
    """The campaigns of the box (module docstring). With an ACD: the stores and the disposition
    link open (a "do not call" code reaches the do-not-call list even with no campaign), and one
    service per enabled campaign starts now. Without an ACD nothing is opened until one starts
    (:meth:`Campaigns.acd_started`). ``agent_ports``: the ACD's logged-in agents' ports
    (attempts record the agent's id); ``on_disposition``: registers a listener of the desk's
    dispositions (the tracker's listeners); ``submit``: the media loop's, for live changes
    (:meth:`Campaigns.config_stored`; None: changes apply at the next start)."""
    log = log or EventLogger("campaign")
    running = Campaigns(control=control, taps=taps, config=config, db_path=Path(db_path),
                        sound_folders=sound_folders, read_audio=read_audio, submit=submit, log=log)
    enabled = [c for c in config.campaigns if c.enabled]
    if acd_core is None:
        if enabled:
            log.warning("campaign_not_started", reason="the box has no ACD queues", campaigns=len(enabled))
        return running
    running.open(acd_core, agent_ports, on_disposition)
    running.apply(config, running.prepare(config))
    return running
