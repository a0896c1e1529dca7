"""Tones of the extension features, derived from the zone's own tone plan.

- recall dial tone (after a hook flash: "you have a call on hold, dial"): three bursts of
  the zone's dial-tone frequency, 100 ms on / 100 ms off, then steady — the North
  American recall dial tone of Telcordia GR-506-CORE / ANSI T1.401 (350+440 Hz there);
  other zones get the same rhythm on their own dial-tone frequency;
- confirmation tone (a feature code was accepted): the same three 100/100 ms bursts, once
  (GR-506-CORE confirmation tone);
- message-waiting (stutter) dial tone (the extension's mailbox holds unheard messages): ten
  bursts of the zone's dial-tone frequency, 100 ms on / 100 ms off, then steady — the North
  American stutter dial tone of Telcordia GR-506-CORE. The zone plans hold no national
  "special dial tone" (ITU-T E.180 Suppl. 2 lists some, e.g. Germany's 425+400 Hz, not
  checked against the ITU text), so every zone gets the same rhythm on its own dial-tone
  frequency; zones whose dial tone is cadenced (Italy, Greece) hear it steady after the bursts;
- refusal: the zone's congestion (reorder) tone for about ``REFUSAL_MS`` (whole cadences), once;
- hold tone, when no music-on-hold file could be loaded: a 300 ms burst of the dial-tone
  frequency every 6 s. This is the box's own comfort tone, not a national signal;
- the call-waiting tone's first burst, rendered as samples (the subscriber alerting
  signal that leads the GR-30-CORE type II caller-ID sequence).

Levels are the zone's dial-tone level (the call-waiting burst keeps its own).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from dsp import SAMPLE_RATE
from dsp.tonegen import render
from dsp.toneplans import CONTINUOUS, Segment, TonePlan, ToneSpec

BURST_MS = 100.0  # GR-506-CORE recall dial / confirmation tone: 100 ms on, 100 ms off
BURSTS = 3
STUTTER_BURSTS = 10  # GR-506-CORE message-waiting (stutter) dial tone: 10 x 100/100 ms, then steady
REFUSAL_MS = 1500.0
HOLD_TONE_ON_MS = 300.0
HOLD_TONE_PERIOD_MS = 6000.0


def _dial_frequency(plan: TonePlan):
    return plan.dial.frequencies()[0]


def _bursts(plan: TonePlan, count: int = BURSTS) -> list[Segment]:
    frequency = _dial_frequency(plan)
    segments: list[Segment] = []
    for _ in range(count):
        segments += [Segment(BURST_MS, frequency), Segment(BURST_MS, None)]
    return segments


def recall_dial_tone(plan: TonePlan) -> ToneSpec:
    """Stutter dial tone: three bursts, then the dial-tone frequency steady."""
    segments = (*_bursts(plan), Segment(CONTINUOUS, _dial_frequency(plan)))
    return ToneSpec("recall_dial", segments, plan.dial.level_dbm0)


def message_waiting_dial_tone(plan: TonePlan) -> ToneSpec:
    """Stutter dial tone for a mailbox with unheard messages: ten bursts, then steady."""
    segments = (*_bursts(plan, STUTTER_BURSTS), Segment(CONTINUOUS, _dial_frequency(plan)))
    return ToneSpec("mwi_dial", segments, plan.dial.level_dbm0)


def confirmation_tone(plan: TonePlan) -> ToneSpec:
    """Three short bursts, once."""
    return ToneSpec("confirm", tuple(_bursts(plan)), plan.dial.level_dbm0, repeat=False)


def refusal_tone(plan: TonePlan) -> ToneSpec:
    """About REFUSAL_MS of the zone's congestion tone (at least one cadence), once."""
    congestion = plan.congestion
    cycles = max(1, round(REFUSAL_MS / congestion.cycle_ms))
    return replace(congestion, name="refused", segments=congestion.segments * cycles, repeat=False)


def hold_tone(plan: TonePlan) -> ToneSpec:
    segments = (Segment(HOLD_TONE_ON_MS, _dial_frequency(plan)),
                Segment(HOLD_TONE_PERIOD_MS - HOLD_TONE_ON_MS, None))
    return ToneSpec("hold", segments, plan.dial.level_dbm0)


def callwaiting_burst(plan: TonePlan) -> np.ndarray:
    """The first burst of the zone's call-waiting tone as samples (float64, 16-bit scale)."""
    first = plan.callwaiting.segments[0]
    return render(plan.callwaiting, int(round(first.duration_ms * SAMPLE_RATE / 1000.0)))
