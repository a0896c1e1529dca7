"""AMD accuracy over real and synthesised answered calls (tests/amd_corpus.py), per source.

Each source's people and machines are played at 3 talker levels, 2 pick-up pauses and on 2
lines (quiet, noisy), through G.711 µ-law, into ``dsp.amd`` with Asterisk's default
parameters. The minimum accuracies asserted are the ones measured when the detector was
written (docs/dsp.md, "Answering-machine detection"), as counts out of the table's cases:
a change that makes any source worse fails. Run with ``-s`` to see the table.

Where people are called machines, it is Asterisk's method doing what it says: a quiet
talker's word that dips under the silence threshold counts as two or three words
(asterisk-es "adiós" at -28 dBm0), and "Hello, who is it?" / "Yes, who is it?" (flite, whose
words are well separated, and Piper) are more than ``maximum_number_of_words`` = 2 words.
The Piper table is marked slow (its synthesis takes about a minute).
"""

from __future__ import annotations

import functools

import pytest
from amd_corpus import SLOW_SOURCES, SOURCES, AmdCase, cases

from dsp.amd import VOICE_DETECTORS, AmdSettings, analyse

ALL_SOURCES = [*SOURCES, *(pytest.param(source, marks=pytest.mark.slow) for source in SLOW_SOURCES)]
BEEP_END_TOLERANCE_MS = 40.0  # two frames: the beep's end is known to the frame, plus G.711/noise
# Measured: (people recognised as people, machines recognised as machines), out of the cases,
# for each voice detector (Asterisk's energy threshold, the WebRTC VAD).
MINIMUM_CORRECT = {
    "energy": {
        "asterisk-en": ((96, 96), (72, 72)),
        "asterisk-es": ((80, 84), (72, 72)),
        "asterisk-fr": ((96, 96), (72, 72)),
        "espeak-ng": ((72, 72), (48, 48)),
        "espeak-ng-es": ((48, 48), (24, 24)),
        "espeak-ng-fr": ((48, 48), (24, 24)),
        "flite": ((56, 72), (48, 48)),
        "piper": ((64, 72), (48, 48)),
    },
    "webrtc": {
        "asterisk-en": ((96, 96), (69, 72)),
        "asterisk-es": ((84, 84), (72, 72)),
        "asterisk-fr": ((96, 96), (72, 72)),
        "espeak-ng": ((72, 72), (48, 48)),
        "espeak-ng-es": ((48, 48), (24, 24)),
        "espeak-ng-fr": ((48, 48), (24, 24)),
        "flite": ((72, 72), (48, 48)),
        "piper": ((72, 72), (48, 48)),
    },
}


@functools.cache
def _cases(source: str) -> list[AmdCase]:
    return cases(source)


@functools.cache
def _outcomes(source: str, detector: str = "energy") -> list[tuple[AmdCase, str, str, int, float | None]]:
    """(case, result, cause, decided_ms, beep end ms) for every case of the source."""
    rows = []
    settings = AmdSettings(voice_detector=detector)
    for case in _cases(source):
        result, beep = analyse(case.signal, settings)
        rows.append(
            (case, result.result, result.cause, result.decided_ms, None if beep is None else beep.end_ms)
        )
    return rows


@pytest.mark.parametrize("detector", VOICE_DETECTORS)
@pytest.mark.parametrize("source", ALL_SOURCES)
def test_accuracy_per_source_is_at_least_as_measured(source, detector):
    rows = _outcomes(source, detector)
    people = [row for row in rows if row[0].expected == "human"]
    machines = [row for row in rows if row[0].expected == "machine"]
    people_ok = sum(row[1] == "human" for row in people)
    machines_ok = sum(row[1] == "machine" for row in machines)
    print(
        f"\n{detector} {source}: people {people_ok}/{len(people)} = {people_ok / len(people):.1%}, "
        f"machines {machines_ok}/{len(machines)} = {machines_ok / len(machines):.1%}"
    )
    for case, result, cause, decided_ms, _ in rows:
        if result != case.expected:
            print(f"  {case.name}: {result} ({cause} at {decided_ms} ms)")
    (people_min, people_total), (machines_min, machines_total) = MINIMUM_CORRECT[detector][source]
    assert (len(people), len(machines)) == (people_total, machines_total)
    assert people_ok >= people_min
    assert machines_ok >= machines_min


@pytest.mark.parametrize("source", ALL_SOURCES)
def test_machines_beep_is_heard_where_it_ends_and_people_give_no_beep(source):
    for case, _, _, _, beep_end_ms in _outcomes(source):
        if case.beep_end_ms is None:
            assert beep_end_ms is None, case.name
        else:
            assert beep_end_ms is not None, case.name
            assert abs(beep_end_ms - case.beep_end_ms) <= BEEP_END_TOLERANCE_MS, case.name


@pytest.mark.parametrize("source", ALL_SOURCES)
def test_decisions_come_in_time(source):
    """People: 800 ms of silence after their answer (plus a frame); machines: by the greeting
    limit, 1500 ms of voice after the pick-up pause, within the 5000 ms analysis time."""
    for case, result, cause, decided_ms, _ in _outcomes(source):
        assert decided_ms <= 5000, case.name
        if result == "human":
            assert cause == "silence_after_greeting", case.name
            assert decided_ms <= case.signal.size / 8 - 3000 + 800 + 20, case.name
        if case.expected == "machine":
            assert cause in ("long_greeting", "max_words"), case.name
