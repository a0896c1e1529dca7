"""The voicemail example scenarios (tests/scenarios/voicemail_*.yaml) run on the virtual board."""

from __future__ import annotations

import pytest
from scenario_helpers import SCENARIOS, assert_passed

from linebox.sim.runner import run_scenario
from linebox.sim.scenario import load_scenario


@pytest.mark.parametrize("name", ["voicemail_operator", "voicemail_full", "voicemail_spanish"])
def test_voicemail_scenario(name):
    assert_passed(run_scenario(load_scenario(SCENARIOS / f"{name}.yaml")))
