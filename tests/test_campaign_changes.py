"""The plan of a live campaign change (firmware/campaign/changes.py), from tables."""

from __future__ import annotations

from dataclasses import replace

import pytest

from firmware.campaign.changes import CampaignPlan, describe_changes, plan_changes
from firmware.config.campaignmodel import Campaign, CampaignMode

A = Campaign("a", "support", enabled=True)
B = Campaign("b", "support", enabled=True, mode=CampaignMode.PREVIEW)


@pytest.mark.parametrize(("running", "wanted", "plan"), [
    ({}, [], CampaignPlan()),
    ({"a": (A, True)}, [A], CampaignPlan()),  # the same snapshot: nothing
    ({}, [A, replace(B, enabled=False)], CampaignPlan(start=("a",))),  # a disabled new one is not started
    ({"a": (A, True)}, [], CampaignPlan(stop=(("a", "removed"),))),
    ({"a": (A, False)}, [], CampaignPlan()),  # stopped already
    ({"a": (A, True)}, [replace(A, enabled=False)],
     CampaignPlan(stop=(("a", "disabled"),), reconfigure=(("a", ("enabled True -> False",)),))),
    ({"a": (replace(A, enabled=False), False)}, [A],
     CampaignPlan(reconfigure=(("a", ("enabled False -> True",)),), resume=("a",))),
    ({"a": (A, False)}, [A], CampaignPlan(resume=("a",))),  # removed, then stored again the same
    ({"a": (A, True), "b": (B, True)}, [replace(A, mode=CampaignMode.PREDICTIVE, no_answer_s=20), B],
     CampaignPlan(reconfigure=(("a", ("mode progressive -> predictive", "no_answer_s 30 -> 20")),))),
])
def test_plan(running, wanted, plan):
    assert plan_changes(running, wanted) == plan
    assert plan.empty == (plan == CampaignPlan())


def test_changes_read_as_an_installer_writes_them():
    new = replace(A, lines=(0, 1), machine_message="vm", max_abandon_rate=0.02)
    assert describe_changes(A, new) == ("lines [] -> [0, 1]", "max_abandon_rate 0.03 -> 0.02",
                                        "machine_message '' -> 'vm'")
