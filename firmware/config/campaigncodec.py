"""The ``campaigns:`` section as plain data (the YAML form) and back, and its cross-checks.

The same rules as :mod:`firmware.config.codec` (which calls these from ``from_dict`` and
``to_dict``): unknown keys, wrong types and out-of-range values are refused with a
:class:`FirmwareError` whose message starts with the field's path
(``campaigns[0].max_abandon_rate: expected a number 0-0.03, got 0.05``).

Legal limits checked here (docs/campaigns.md):

* calling hours lie within 08:00-21:00 at the called person's place: the US Telemarketing
  Sales Rule, 16 CFR 310.4(c) (no calls before 8 a.m. or after 9 p.m. local time);
* the abandon rate is at most 3 % of answered calls per campaign: 16 CFR 310.4(b)(4)(i)
  (the UK's Ofcom persistent-misuse policy sets the same 3 %).

:func:`campaign_problems` checks the references (the queue exists, the lines are FXO
lines of the box, names unique, a predictive campaign has an abandon message).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from firmware import FirmwareError
from firmware.config import codec
from firmware.config.campaignmodel import (
    CallingWindow,
    Campaign,
    CampaignMode,
    CampaignRetries,
    LeadSourceKind,
    RetryRule,
)
from firmware.config.model import Config
from firmware.schedule import WEEKDAYS, TimeRange, zone_info

MAX_CAMPAIGNS = 16
MAX_WINDOWS = 8
LEGAL_EARLIEST_MIN = 8 * 60  # 16 CFR 310.4(c): not before 8 a.m. local time
LEGAL_LATEST_MIN = 21 * 60  # ... nor after 9 p.m.
LEGAL_MAX_ABANDON = 0.03  # 16 CFR 310.4(b)(4)(i): at most 3 % of answered calls abandoned
MAX_ATTEMPTS = 20
MIN_RING_S = 15  # 16 CFR 310.4(b)(4)(ii): an unanswered call rings at least 15 s (four rings) before the box gives up
MAX_DELAY_MIN = 7 * 24 * 60
COUNTRY_RE = re.compile(r"[A-Z]{2}")
FILE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\.csv")
OUTCOMES = tuple(CampaignRetries.__dataclass_fields__)


def _rule(raw: Any, path: str) -> RetryRule:
    r = codec.Reader(raw, path, RetryRule)
    r.value("max_attempts", required=True)
    r.value("delay_min", required=True)
    return RetryRule(max_attempts=r.integer("max_attempts", 0, MAX_ATTEMPTS),
                     delay_min=r.integer("delay_min", 0, MAX_DELAY_MIN))


def _retries(raw: Any, path: str) -> CampaignRetries:
    r = codec.Reader(raw, path, CampaignRetries)
    return CampaignRetries(**{name: _rule(r.raw[name], r.at(name)) if name in r.raw else r.defaults[name]
                              for name in OUTCOMES})


def _window(raw: Any, path: str) -> CallingWindow:
    r = codec.Reader(raw, path, CallingWindow)
    timezone = r.text("timezone", max_chars=64)
    try:
        zone_info(timezone)
    except FirmwareError as exc:
        raise FirmwareError(f"{r.at('timezone')}: {exc}") from exc
    days = r.value("days")
    if isinstance(days, str) or not isinstance(days, (list, tuple)) or not days:
        raise FirmwareError(f"{r.at('days')}: expected a list of weekdays (mon-sun), got {codec.describe(days)}")
    for index, day in enumerate(days):
        if day not in WEEKDAYS:
            raise FirmwareError(f"{codec.join(r.at('days'), index)}: unknown weekday (use {', '.join(WEEKDAYS)})")
    if len(set(days)) != len(days):
        raise FirmwareError(f"{r.at('days')}: a weekday is listed twice")
    hours = r.value("hours")
    if isinstance(hours, str):
        try:
            hours = TimeRange.parse(hours)
        except FirmwareError as exc:
            raise FirmwareError(f"{r.at('hours')}: {exc}") from exc
    if not isinstance(hours, TimeRange):
        raise FirmwareError(f"{r.at('hours')}: expected a time range like '09:00-20:00', got {codec.describe(hours)}")
    if hours.crosses_midnight or hours.start_min < LEGAL_EARLIEST_MIN or hours.end_min > LEGAL_LATEST_MIN:
        raise FirmwareError(f"{r.at('hours')}: {hours} is outside the legal calling hours 08:00-21:00 "
                            "(16 CFR 310.4(c))")
    return CallingWindow(timezone=timezone, days=tuple(d for d in WEEKDAYS if d in days), hours=hours)


def _rate(raw: Any, path: str, high: float) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw) or not 0 <= raw <= high:
        raise FirmwareError(f"{path}: expected a number 0-{high}, got {codec.describe(raw)}")
    return float(raw)


def _ports(raw: Any, path: str) -> tuple[int, ...]:
    if isinstance(raw, str) or not isinstance(raw, (list, tuple)) or len(raw) > 64:
        raise FirmwareError(f"{path}: expected a list of line ports, got {codec.describe(raw)}")
    for index, port in enumerate(raw):
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 63:
            raise FirmwareError(f"{codec.join(path, index)}: expected a port 0-63, got {codec.describe(port)}")
    if len(set(raw)) != len(raw):
        raise FirmwareError(f"{path}: a port is listed twice")
    return tuple(raw)


def campaign_from_dict(raw: Any, path: str) -> Campaign:
    r = codec.Reader(raw, path, Campaign)
    r.value("name", required=True)
    r.value("queue", required=True)
    windows = r.value("calling_hours")
    return Campaign(
        name=r.text("name", codec.NAME_RE, "a name (letters, digits, _ . -; up to 32)"),
        queue=r.text("queue", codec.NAME_RE, "a queue name"),
        mode=r.choice("mode", CampaignMode),
        enabled=r.boolean("enabled"),
        lead_source=r.choice("lead_source", LeadSourceKind),
        lead_file=r.text("lead_file", FILE_RE, "a CSV file name (letters, digits, _ . -; ending .csv) or ''",
                         empty=True),
        country=r.text("country", COUNTRY_RE, "a country code of two capital letters (US, DE...) or ''", empty=True),
        lines=_ports(r.value("lines"), r.at("lines")),
        calling_hours=tuple(_window(item, item_path) for item_path, item in r.items("calling_hours", MAX_WINDOWS))
        if windows != () else (),
        retries=_retries(r.raw["retries"], r.at("retries")) if "retries" in r.raw else CampaignRetries(),
        max_abandon_rate=_rate(r.value("max_abandon_rate"), r.at("max_abandon_rate"), LEGAL_MAX_ABANDON),
        no_answer_s=r.integer("no_answer_s", MIN_RING_S, 120),
        amd=r.boolean("amd"),
        machine_message=r.text("machine_message", codec.NAME_RE, "a recording name or ''", empty=True),
        abandon_message=r.text("abandon_message", codec.NAME_RE, "a recording name or ''", empty=True),
    )


def campaign_dict(campaign: Campaign) -> dict[str, Any]:
    plain = codec.plain_value
    retries = campaign.retries
    return {
        "name": campaign.name,
        "queue": campaign.queue,
        "mode": plain(campaign.mode),
        "enabled": campaign.enabled,
        "lead_source": plain(campaign.lead_source),
        "lead_file": campaign.lead_file,
        "country": campaign.country,
        "lines": list(campaign.lines),
        "calling_hours": [{"timezone": w.timezone, "days": list(w.days), "hours": str(w.hours)}
                          if isinstance(w, CallingWindow) else w for w in campaign.calling_hours],
        "retries": {name: {"max_attempts": rule.max_attempts, "delay_min": rule.delay_min}
                    if isinstance(rule, RetryRule) else rule
                    for name, rule in ((n, getattr(retries, n)) for n in OUTCOMES)}
        if isinstance(retries, CampaignRetries) else retries,
        "max_abandon_rate": campaign.max_abandon_rate,
        "no_answer_s": campaign.no_answer_s,
        "amd": campaign.amd,
        "machine_message": campaign.machine_message,
        "abandon_message": campaign.abandon_message,
    }


def campaign_problems(config: Config) -> Iterator[str]:
    """Cross-references of the ``campaigns:`` section, one line per problem."""
    names: dict[str, int] = {}
    fxo = {line.port for line in config.lines}
    queues: Mapping[str, object] = {queue.name: queue for queue in config.queues}
    for index, campaign in enumerate(config.campaigns):
        path = f"campaigns[{index}]"
        if campaign.name in names:
            yield f"{path}.name: campaign {campaign.name} is already defined at campaigns[{names[campaign.name]}]"
        names.setdefault(campaign.name, index)
        if campaign.queue not in queues:
            yield f"{path}.queue: no queue named {campaign.queue}"
        for position, port in enumerate(campaign.lines):
            if port not in fxo:
                yield f"{path}.lines[{position}]: port {port} is not an exchange line of this box"
        if campaign.lead_source is LeadSourceKind.CSV and not campaign.lead_file:
            yield f"{path}.lead_file: a CSV lead list needs its file name"
        if campaign.lead_source is LeadSourceKind.CONTACTS and campaign.lead_file:
            yield f"{path}.lead_file: only for lead_source csv"
        if campaign.mode is CampaignMode.PREDICTIVE and not campaign.abandon_message:
            yield (f"{path}.abandon_message: a predictive campaign needs the recording an abandoned call "
                   "hears (16 CFR 310.4(b)(4)(iii))")
        if not campaign.calling_hours:
            yield f"{path}.calling_hours: at least one calling window (a time zone, days and hours)"
        zones = [window.timezone for window in campaign.calling_hours]
        if len(set(zones)) != len(zones):
            yield f"{path}.calling_hours: a time zone is listed twice"
