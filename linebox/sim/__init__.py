"""Scenarios: scripted calls against the whole appliance on the virtual board.

A scenario file (YAML, docs/scenarios.md) names a configuration, the simulated wall time
of tick 0, a seed and a list of steps: actions (a phone goes off-hook and dials, a line
rings with caller ID, the far end speaks, presses keys or hangs up, a fault is injected,
time passes, the clock jumps to another day) and expectations (a port reaches a state, a
phone hears a tone, digits, caller ID, a message-waiting message or the other party's
speech, two ports are bridged, a call record, a log event or a queue_log line is written),
each with a timeout, or negatives that must hold for a whole interval.

- :mod:`linebox.sim.scenario` reads and checks the file (one-line errors naming the field);
- :mod:`linebox.sim.observer` watches the running box: port states, bridges, every
  component's log, the queue_log, and what every phone and line heard, analysed with the
  dsp receivers;
- :mod:`linebox.sim.expect` decides each expectation from the observations, with
  :mod:`linebox.sim.audiocheck` (a recording, a tone's frequencies, the stutter tone);
- :mod:`linebox.sim.traffic` generates seeded random call traffic (the soak step);
- :mod:`linebox.sim.runner` runs the steps, unpaced, and builds the JSON report.

Errors in a scenario file are :class:`ScenarioError` (the CLI prints one line, or one
line per problem of its configuration; status 2).
"""

from __future__ import annotations


class ScenarioError(ValueError):
    """A scenario file that cannot be run: one line naming the field (one line per problem of its
    configuration, each naming its field)."""
