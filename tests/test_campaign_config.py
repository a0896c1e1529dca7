"""The ``campaigns:`` section (config migration 14): bounds, legal limits, references, YAML and the store."""

from __future__ import annotations

import pytest
from config_helpers import demo_data, lookup, open_store, outcome, setting

from firmware import FirmwareError
from firmware.config import from_dict, to_dict, validate
from firmware.config.campaignmodel import CallingWindow, Campaign, CampaignMode, LeadSourceKind, RetryRule
from firmware.config.yamlio import from_yaml, to_yaml
from firmware.schedule import TimeRange

CAMPAIGN = {
    "name": "renewals", "queue": "support", "mode": "predictive", "enabled": True,
    "lead_source": "csv", "lead_file": "renewals.csv", "country": "US", "lines": [0, 1],
    "calling_hours": [{"timezone": "America/New_York", "days": ["mon", "tue", "wed"], "hours": "09:00-20:00"},
                      {"timezone": "America/Chicago", "days": ["sat"], "hours": "10:00-14:00"}],
    "retries": {"busy": {"max_attempts": 4, "delay_min": 15}, "machine": {"max_attempts": 2, "delay_min": 300}},
    "max_abandon_rate": 0.025, "no_answer_s": 25, "amd": True, "machine_message": "renewal-vm",
    "abandon_message": "sorry-busy",
}


def with_campaign(**changes):
    data = demo_data()
    data["campaigns"] = [{**CAMPAIGN, **changes}]
    return data


def test_campaign_is_read_into_the_model():
    config = validate(from_dict(with_campaign()), lookup)
    (campaign,) = config.campaigns
    assert campaign.mode is CampaignMode.PREDICTIVE and campaign.lead_source is LeadSourceKind.CSV
    assert campaign.lines == (0, 1) and campaign.max_abandon_rate == 0.025
    assert campaign.calling_hours[1] == CallingWindow("America/Chicago", ("sat",), TimeRange(600, 840))
    assert campaign.retries.busy == RetryRule(4, 15) and campaign.retries.no_answer == RetryRule(3, 120)


def test_defaults_are_documented_values():
    data = demo_data()
    data["campaigns"] = [{"name": "c", "queue": "support",
                          "calling_hours": [{"timezone": "UTC"}]}]
    (campaign,) = validate(from_dict(data), lookup).campaigns
    assert campaign == Campaign("c", "support", calling_hours=(CallingWindow("UTC"),))
    assert campaign.max_abandon_rate == 0.03 and campaign.mode is CampaignMode.PROGRESSIVE
    assert campaign.calling_hours[0].hours == TimeRange(9 * 60, 20 * 60)


def test_yaml_and_store_round_trip(tmp_path):
    config = validate(from_dict(with_campaign()), lookup)
    text = to_yaml(config)
    assert "campaigns:\n" in text and to_yaml(from_yaml(text)) == text
    with open_store(tmp_path / "linebox.db") as store:
        assert store.save(config) == config
    with open_store(tmp_path / "linebox.db") as again:
        assert again.load() == config
        assert to_dict(again.load())["campaigns"][0]["calling_hours"][0]["hours"] == "09:00-20:00"


@pytest.mark.parametrize("path, value, fragment", [
    ("max_abandon_rate", 0.031, "campaigns[0].max_abandon_rate: expected a number 0-0.03"),
    ("max_abandon_rate", True, "expected a number"),
    ("no_answer_s", 14, "campaigns[0].no_answer_s: expected an integer 15-120, got 14"),
    ("no_answer_s", 121, "expected an integer 15-120"),
    ("calling_hours", [{"timezone": "UTC", "hours": "07:59-12:00"}], "outside the legal calling hours 08:00-21:00"),
    ("calling_hours", [{"timezone": "UTC", "hours": "12:00-21:01"}], "outside the legal calling hours"),
    ("calling_hours", [{"timezone": "UTC", "hours": "20:00-08:30"}], "outside the legal calling hours"),
    ("calling_hours", [{"timezone": "Mars/Olympus"}], "calling_hours[0].timezone: unknown time zone"),
    ("calling_hours", [{"timezone": "UTC", "days": ["mon", "mon"]}], "a weekday is listed twice"),
    ("calling_hours", [{"timezone": "UTC", "days": ["funday"]}], "calling_hours[0].days[0]: unknown weekday"),
    ("calling_hours", [{"timezone": "UTC"}, {"timezone": "UTC"}], "a time zone is listed twice"),
    ("calling_hours", [], "at least one calling window"),
    ("mode", "aggressive", "campaigns[0].mode"),
    ("queue", "nosuch", "campaigns[0].queue: no queue named nosuch"),
    ("lines", [2], "campaigns[0].lines[0]: port 2 is not an exchange line"),
    ("lines", [0, 0], "a port is listed twice"),
    ("lead_file", "", "campaigns[0].lead_file: a CSV lead list needs its file name"),
    ("lead_file", "../etc/passwd.csv", "campaigns[0].lead_file"),
    ("abandon_message", "", "campaigns[0].abandon_message: a predictive campaign needs the recording"),
    ("country", "usa", "campaigns[0].country"),
    ("retries", {"busy": {"max_attempts": 21, "delay_min": 1}}, "campaigns[0].retries.busy.max_attempts"),
    ("retries", {"fax": {"max_attempts": 1, "delay_min": 1}}, "campaigns[0].retries.fax: unknown key"),
    ("colour", "red", "campaigns[0].colour: unknown key"),
])
def test_bad_campaign_refused_naming_the_field(path, value, fragment):
    data = with_campaign()
    setting(f"campaigns[0].{path}", value)(data)
    assert fragment in outcome(data)


@pytest.mark.parametrize("changes", [
    {"max_abandon_rate": 0.03}, {"max_abandon_rate": 0}, {"no_answer_s": 15},
    {"calling_hours": [{"timezone": "UTC", "hours": "08:00-21:00"}]},
    {"mode": "preview", "abandon_message": ""}, {"lead_source": "contacts", "lead_file": ""}])
def test_edges_accepted(changes):
    assert outcome(with_campaign(**changes)) == ""


def test_duplicate_name_refused_and_nothing_stored(tmp_path):
    data = with_campaign()
    data["campaigns"].append(dict(CAMPAIGN))
    assert "campaigns[1].name: campaign renewals is already defined at campaigns[0]" in outcome(data)
    with open_store(tmp_path / "linebox.db") as store:
        store.save(from_dict(demo_data()))
        with pytest.raises(FirmwareError):
            store.save(from_dict(data))
        assert store.load().campaigns == ()
