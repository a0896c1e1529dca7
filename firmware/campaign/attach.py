"""Puts the enabled campaigns into a running box: one :class:`CampaignService` each.

``attach_campaigns`` (called once at start by the composition root, linebox/appliance.py,
after the ACD has started) opens the campaign store, loads each enabled campaign's leads
(the first time: the contacts table's numbers or the CSV under ``<data>/campaigns/``,
cleaned by ``firmware.leads.check_leads`` against the do-not-call list), reads its
recordings (``<data>/campaigns/recordings/NAME.wav``, else the box's sound folders), and
attaches the service with the real answering-machine and beep detectors (``dsp.amd``) and
the ACD's agents. A campaign changed in the configuration takes effect at the next start.

Dispositions: the desk tells :class:`DispositionLink` every disposition an agent enters
(``on_disposition``: the desk tracker's listeners). The campaign whose call it was writes it
to the attempt; a code marked ``do_not_call`` puts the number (the lead's, else the caller's,
in E.164 read in the box's zone) on the do-not-call list (``firmware.leads.DncList``, on the
writer thread) and blocks it in every running campaign, so no campaign calls it again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from drivers.logs import EventLogger
from dsp.amd import AmdDetector, BeepDetector
from firmware import FirmwareError
from firmware.acd.agent_state import AgentState as AcdState
from firmware.campaign.dialler import Dialler, Mode
from firmware.campaign.leads import LeadBook
from firmware.campaign.service import AgentPresence, CampaignService
from firmware.campaign.store import CampaignStore
from firmware.cdr import CallDisposition
from firmware.config.model import Campaign, Config, Contact, LeadSourceKind
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
class Campaigns:
    """The running campaigns and what they own: the store, the do-not-call list and the writer thread."""

    services: dict[str, CampaignService] = field(default_factory=dict)
    store: CampaignStore | None = None
    worker: Worker | None = None
    dnc: DncList | None = None
    link: DispositionLink | None = None

    def close(self) -> None:
        """Writes what is queued, then closes the stores (the appliance's stop)."""
        if self.worker is not None:
            self.worker.close()
        if self.store is not None:
            self.store.close()
        if self.dnc is not None:
            self.dnc.close()


def attach_campaigns(control: CallControlApi, taps: list, acd_core, config: Config, db_path: str | Path,
                     sound_folders: Sequence[Path], read_audio: Callable[[Path], np.ndarray],
                     log: EventLogger | None = None, agent_ports: Mapping[str, int] | None = None,
                     on_disposition: Callable[[Callable[[CallDisposition], None]], None] | None = None) -> Campaigns:
    """One service per enabled campaign (module docstring); none when none is enabled.
    ``agent_ports``: the ACD's logged-in agents' ports (attempts record the agent's id);
    ``on_disposition``: registers a listener of the desk's dispositions (the tracker's listeners)."""
    log = log or EventLogger("campaign")
    enabled = [c for c in config.campaigns if c.enabled]
    if not enabled:
        return Campaigns()
    if acd_core is None:
        log.warning("campaign_not_started", reason="the box has no ACD queues", campaigns=len(enabled))
        return Campaigns()
    data_dir = Path(db_path).parent
    store = CampaignStore(db_path)
    dnc_list = DncList(db_path)
    dnc = sorted(dnc_list.numbers())
    worker = Worker("campaign-store", lambda job: job(), log)
    running = Campaigns(store=store, worker=worker, dnc=dnc_list)
    agents = AcdAgents(acd_core, agent_ports)
    for campaign in enabled:
        if not store.leads(campaign.name):
            with ContactStore(db_path) as contacts:  # read once, streamed, when the leads are made
                leads = campaign_leads(campaign, config, data_dir, dnc, contacts.each())
            store.add_leads(campaign.name, [(dialled_digits(number, config), name, tz) for number, name, tz in leads])
        book = LeadBook(store.leads(campaign.name), campaign.calling_hours, campaign.retries)
        dialler = Dialler(Mode(str(campaign.mode)), book, max_abandon=campaign.max_abandon_rate,
                          leave_message=bool(campaign.machine_message))
        service = CampaignService(
            control, campaign, dialler, book, agents, worker.submit,
            store_attempt=store.add_attempt, store_lead=lambda state, name=campaign.name: store.save_lead(name, state),
            amd=AmdDetector, beep=BeepDetector,
            recordings=read_recordings(campaign, [data_dir / "campaigns" / "recordings", *sound_folders],
                                       read_audio, log), log=log,
            agent_at=agents.agent_at if agent_ports is not None else None, store_disposition=store.set_disposition)
        control.attach(service)
        taps.append(service.tap)
        running.services[campaign.name] = service
        log.info("campaign_started", campaign=campaign.name, mode=campaign.mode, leads=len(book.states))
    running.link = DispositionLink(list(running.services.values()), str(config.zone), worker.submit, dnc_list.add,
                                   log)
    if on_disposition is not None:
        on_disposition(running.link)
    return running
