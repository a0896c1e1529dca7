"""Scenario tests of the IVR (tests/scenarios/ivr_*.yaml through linebox.sim): the demo office's
menu in front of its queue (keys, barge-in, priority), invalid input and no input, the time
condition, a language switch with keys only (no Spanish recognizer), a lookup read back to the
caller and queue skills reaching the one skilled agent, and spoken choices with the speech
service on (real recordings, barge-in by speech)."""

from __future__ import annotations

import pytest
from scenario_helpers import assert_passed, run


@pytest.mark.parametrize("name", [
    "ivr_dtmf_queue",
    "ivr_time_condition",
    "ivr_language",
    "ivr_record_prompt",  # *77: refused for 202, recorded by 201, heard by the next caller
    pytest.param("ivr_no_input", marks=pytest.mark.slow),  # 30 s simulated: three prompts and timeouts
    pytest.param("ivr_skills_lookup", marks=pytest.mark.slow),  # two agent logins first
    # the speech service on: PocketSphinx's child process, two callers speaking (25-35 s here)
    pytest.param("ivr_speech_choice", marks=pytest.mark.slow),
])
def test_ivr_scenario_passes_its_own_expectations(name):
    assert_passed(run(name))
