"""Scenarios: scripted calls against the whole appliance on the virtual board.

A scenario file (YAML, docs/scenarios.md) names a configuration, the simulated wall time
of tick 0, a seed and a list of steps: actions (a phone goes off-hook and dials, a line
rings with caller ID, the far end hangs up, a fault is injected, time passes) and
expectations (a port reaches a state, a phone hears a tone, digits, caller ID or the other
party's speech, two ports are bridged, a call record is written), each with a timeout.

- :mod:`linebox.sim.scenario` reads and checks the file (one-line errors naming the field);
- :mod:`linebox.sim.observer` watches the running box: port states, bridges, the switch's
  log, and what every phone and line heard, analysed with the dsp receivers;
- :mod:`linebox.sim.expect` decides each expectation from the observations;
- :mod:`linebox.sim.traffic` generates seeded random call traffic (the soak step);
- :mod:`linebox.sim.runner` runs the steps, unpaced, and builds the JSON report.

Errors in a scenario file are :class:`ScenarioError` (the CLI prints one line, status 2).
"""

from __future__ import annotations


class ScenarioError(ValueError):
    """A scenario file that cannot be run: one line naming the field."""
