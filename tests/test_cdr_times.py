"""Call-record times come from the wall clock anchored to the audio tick, end to end: the
appliance on the virtual board loses 3 s of frames in a capture overrun during a call; the
record's end is still the wall time of the tick the hang-up was handled at (the old
``origin + tick × 20 ms`` was 3 s early)."""

import pytest
from features_helpers import ORIGIN, PORT, hang_up, internal_call, records, run

from linebox.appliance import open_virtual_appliance

TICK_S = 0.02
LOST_FRAMES = 150  # 3 s of audio the loop never sees


@pytest.fixture
def anchored_office(tmp_path):
    holder = {}
    t0 = ORIGIN.timestamp()
    # The wall clock of this world: the board's own audio clock (ticks it really ran, lost ones
    # included), read when the loop has the frame, i.e. at the end of the tick just run.
    app = open_virtual_appliance(tmp_path / "db.sqlite", paced=False, seed=1, origin=ORIGIN,
                                 read_wall=lambda: t0 + holder["board"].tick * TICK_S)
    holder["board"] = app.board
    try:
        run(app, 0.2)
        yield app
    finally:
        app.close()


def test_a_records_times_are_the_wall_times_of_its_ticks_across_lost_frames(anchored_office):
    app = anchored_office
    t0 = ORIGIN.timestamp()
    internal_call(app, "201", "202")
    call = app.switch.legs[PORT["201"]].call
    answer_tick = call.answer_tick
    run(app, 1.0)
    lost_from = app.loop.tick
    app.board.inject("audio_xrun", count=LOST_FRAMES)
    run(app, 2.0)
    hang_up(app, "202")
    [record] = records(app)
    assert call.end_tick > lost_from > answer_tick
    # The loop's tick t is the board's tick t (t + 150 after the overrun); its frame is read at the tick's end.
    assert record.start == pytest.approx(t0 + (call.start_tick + 1) * TICK_S, abs=1e-6)
    assert record.answer == pytest.approx(t0 + (answer_tick + 1) * TICK_S, abs=1e-6)
    assert record.end == pytest.approx(t0 + (call.end_tick + 1 + LOST_FRAMES) * TICK_S, abs=1e-6)
    arithmetic_end = (ORIGIN.timestamp() + call.end_tick * TICK_S)
    assert record.end - arithmetic_end == pytest.approx(3.02, abs=1e-6)  # what the issue saw drift
    assert app.switch.clock.anchors_taken == 2  # the first read, the overrun
