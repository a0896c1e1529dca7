"""The agent desk's scenario (tests/scenarios/desk_disposition_dtmf.yaml) against the whole
appliance: a disposition keyed on the headset during wrap-up, a wrong code refused first,
stored in the queue_log and with the call record."""

from __future__ import annotations

import pytest
from scenario_helpers import assert_passed, run


@pytest.mark.slow  # about 10 s simulated: about 11 s of CPU
def test_disposition_by_dtmf_during_wrapup():
    report = run("desk_disposition_dtmf")
    assert_passed(report)
