"""Outbound calls take a line of the caller's trunk group, first free or round robin,
end to end on the virtual board (the selection itself: tests/test_line_selection.py)."""

from dataclasses import replace

import pytest
from features_helpers import dial, hang_up, office, run, state, switch_events

from firmware.config.demo import demo_config
from firmware.config.model import LineSelection


def outside_call(app, extension: str) -> None:
    dial(app, extension, "92125550123", seconds=9.0)  # 9 + a local number: seize, dial tone, dial


@pytest.mark.parametrize("selection,expected", [(LineSelection.FIRST_FREE, [0, 0, 0]),
                                                (LineSelection.ROUND_ROBIN, [0, 1, 0])])
def test_successive_outside_calls_use_lines_by_the_selection(tmp_path, selection, expected):
    base = demo_config()
    config = replace(base, dialplan=replace(base.dialplan, line_selection=selection))
    used = []
    with office(tmp_path, config=config) as app, switch_events() as events:
        for _ in expected:
            outside_call(app, "204")
            seizes = events.named("seize")
            used.append(int(seizes[-1]["line"]))
            hang_up(app, "204")
            run(app, 1.0)
        assert [state(app, port) for port in (0, 1)] == ["idle", "idle"]
    assert used == expected


def test_second_line_is_taken_while_the_first_is_busy(tmp_path):
    with office(tmp_path) as app, switch_events() as events:
        outside_call(app, "204")
        outside_call(app, "202")
        assert [int(seize["line"]) for seize in events.named("seize")] == [0, 1]
        outside_call(app, "201")  # both lines busy: congestion, nothing seized
        assert len(events.named("seize")) == 2
        assert state(app, 2) == "failed"
        assert events.named("call_end")[-1]["cause"] == "no_circuit_available"
