"""Ring groups ring for their own time, then send an inbound caller to their no-answer
destination; a caller without a number is shown to the phone with the reason."""

from dataclasses import replace

from features_helpers import PORT, office, run, state, switch_events

from board.virtual.pstn import FarEnd
from dsp.callerid import CallerId
from dsp.callerid_decode import decode_recording
from firmware.config.demo import demo_config
from firmware.config.model import Destination, DestinationKind, InboundRoute, RingGroup


def sales_group_config(ring_s: int):
    base = demo_config()
    group = RingGroup(name="sales", number="610", members=("202", "203"), ring_s=ring_s,
                      no_answer=Destination(DestinationKind.EXTENSION, "201"))
    return replace(base, ring_groups=(*base.ring_groups, group),
                   routes=(InboundRoute("all", Destination(DestinationKind.RING_GROUP, "sales")),))


def test_unanswered_group_sends_the_inbound_caller_to_its_no_answer_destination(tmp_path):
    with office(tmp_path, config=sales_group_config(ring_s=8)) as app, switch_events() as events:
        app.world.line(0).ring(caller_id=CallerId(number="2125557788"), far_end=FarEnd())
        run(app, 7.0)
        assert [state(app, PORT[n]) for n in ("201", "202", "203")] == ["idle", "ringing", "ringing"]
        run(app, 8.5)  # past the group's 8 s
        assert [state(app, PORT[n]) for n in ("201", "202", "203")] == ["ringing", "idle", "idle"]
        (moved,) = events.named("ring_group_no_answer")
        assert moved["group"] == "sales" and moved["destination"] == "extension 201"
        app.world.phone(PORT["201"]).offhook()
        run(app, 1.0)
        assert state(app, PORT["201"]) == "connected" and state(app, 0) == "connected"


def test_internal_caller_to_an_unanswered_group_hears_busy(tmp_path):
    with office(tmp_path, config=sales_group_config(ring_s=5)) as app:
        phone = app.world.phone(PORT["204"])
        phone.offhook()
        run(app, 0.5)
        phone.dial("610")
        run(app, 7.0)
        assert state(app, PORT["204"]) == "failed"
        assert state(app, PORT["202"]) == state(app, PORT["201"]) == "idle"


def test_withheld_caller_is_shown_as_private(tmp_path):
    with office(tmp_path, config=sales_group_config(ring_s=30)) as app:
        app.world.line(0).ring(caller_id=CallerId(number_absence="P"), far_end=FarEnd())
        run(app, 12.0)
        (message,) = decode_recording(app.world.heard(PORT["202"], last_ms=8000).astype(float), "bell202")
        assert message.checksum_ok
        assert message.caller.number is None and message.caller.number_absence.label == "private"
