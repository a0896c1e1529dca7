"""Puts the enabled campaigns into a running box: one :class:`CampaignService` each.

``attach_campaigns`` (called once at start by the composition root, linebox/appliance.py,
after the ACD has started) opens the campaign store, loads each enabled campaign's leads
(the first time: the contacts table's numbers or the CSV under ``<data>/campaigns/``,
cleaned by ``firmware.leads.check_leads`` against the do-not-call list), reads its
recordings (``<data>/campaigns/recordings/NAME.wav``, else the box's sound folders), and
attaches the service with the real answering-machine and beep detectors (``dsp.amd``) and
the ACD's agents. A campaign changed in the configuration takes effect at the next start.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
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
from firmware.config.model import Campaign, Config, LeadSourceKind
from firmware.contacts.csvfile import read_table
from firmware.engine.control import CallControlApi
from firmware.engine.worker import Worker
from firmware.leads import DncList, check_leads
from firmware.numbers import plan_for

_FREE = frozenset({AcdState.AVAILABLE})
_AWAY = frozenset({AcdState.PAUSED, AcdState.LOGGED_OUT})


class AcdAgents:
    """The agents of a queue as the ACD has them: free (available, phone idle), busy or away."""

    def __init__(self, core) -> None:
        self.core = core  # firmware.acd.core.AcdCore (members and agents are its public state)

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


def campaign_leads(campaign: Campaign, config: Config, data_dir: Path, dnc: Sequence[str]) -> list[tuple[str, str, str]]:
    """The campaign's callable leads ``(number, name, timezone)``, cleaned (check_leads)."""
    zone = campaign.country.lower() or str(config.zone)
    zone = {"gb": "uk"}.get(zone, zone)
    if campaign.lead_source is LeadSourceKind.CONTACTS:
        rows = [{"number": number, "name": contact.name} for contact in config.contacts for number in contact.numbers]
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
class Campaigns:
    """The running campaigns and what they own: the store and its writer thread."""

    services: dict[str, CampaignService] = field(default_factory=dict)
    store: CampaignStore | None = None
    worker: Worker | None = None

    def close(self) -> None:
        """Writes what is queued, then closes the store (the appliance's stop)."""
        if self.worker is not None:
            self.worker.close()
        if self.store is not None:
            self.store.close()


def attach_campaigns(control: CallControlApi, taps: list, acd_core, config: Config, db_path: str | Path,
                     sound_folders: Sequence[Path], read_audio: Callable[[Path], np.ndarray],
                     log: EventLogger | None = None) -> Campaigns:
    """One service per enabled campaign (module docstring); none when none is enabled."""
    log = log or EventLogger("campaign")
    enabled = [c for c in config.campaigns if c.enabled]
    if not enabled:
        return Campaigns()
    if acd_core is None:
        log.warning("campaign_not_started", reason="the box has no ACD queues", campaigns=len(enabled))
        return Campaigns()
    data_dir = Path(db_path).parent
    store = CampaignStore(db_path)
    with DncList(db_path) as dnc_list:
        dnc = sorted(dnc_list.numbers())
    worker = Worker("campaign-store", lambda job: job(), log)
    running = Campaigns(store=store, worker=worker)
    for campaign in enabled:
        if not store.leads(campaign.name):
            store.add_leads(campaign.name, [(dialled_digits(number, config), name, tz) for number, name, tz
                                            in campaign_leads(campaign, config, data_dir, dnc)])
        book = LeadBook(store.leads(campaign.name), campaign.calling_hours, campaign.retries)
        dialler = Dialler(Mode(str(campaign.mode)), book, max_abandon=campaign.max_abandon_rate,
                          leave_message=bool(campaign.machine_message))
        service = CampaignService(
            control, campaign, dialler, book, AcdAgents(acd_core), worker.submit,
            store_attempt=store.add_attempt, store_lead=lambda state, name=campaign.name: store.save_lead(name, state),
            amd=AmdDetector, beep=BeepDetector,
            recordings=read_recordings(campaign, [data_dir / "campaigns" / "recordings", *sound_folders],
                                       read_audio, log), log=log)
        control.attach(service)
        taps.append(service.tap)
        running.services[campaign.name] = service
        log.info("campaign_started", campaign=campaign.name, mode=campaign.mode, leads=len(book.states))
    return running
