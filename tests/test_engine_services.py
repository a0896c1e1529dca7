"""Inbound routes to call services (IVR, queue, voicemail) go through one interface;
a route to `hangup` releases the line; a missing service is congestion, never a stuck line."""

from dataclasses import replace

from features_helpers import inbound_call, office, records, run, state, switch_events

from firmware.config.demo import demo_config
from firmware.config.model import Destination, DestinationKind, InboundRoute


def routed_to(kind: DestinationKind, name: str = "support"):
    return replace(demo_config(), routes=(InboundRoute("all", Destination(kind, name)),))


class FakeQueue:
    def __init__(self, accept: bool) -> None:
        self.accept = accept
        self.taken = []

    def take(self, call, line_port, name):
        self.taken.append((call.caller_number, line_port, name))
        return self.accept


def test_a_registered_service_takes_the_answered_call(tmp_path):
    with office(tmp_path, config=routed_to(DestinationKind.QUEUE)) as app:
        queue = FakeQueue(accept=True)
        app.switch.services = {DestinationKind.QUEUE: queue}
        inbound_call(app, 0, number="2125557788")
        assert queue.taken == [("2125557788", 0, "support")]
        assert state(app, 0) == "ringback"  # answered and held for the service


def test_a_missing_or_refusing_service_releases_the_line_with_the_reason(tmp_path):
    # IVR: the box has one (firmware/ivr); unregistered here, it is a kind with no service
    with office(tmp_path, config=routed_to(DestinationKind.IVR, "main")) as app, switch_events() as events:
        app.switch.services = {}
        inbound_call(app, 0)
        run(app, 1.0)
        assert state(app, 0) == "idle"
        (unavailable,) = events.named("destination_unavailable")
        assert unavailable["reason"] == "no such service on this box"
        app.switch.services = {DestinationKind.IVR: FakeQueue(accept=False)}
        inbound_call(app, 1)
        run(app, 1.0)
        assert state(app, 1) == "idle"
        assert events.named("destination_unavailable")[-1]["reason"] == "service refused the call"
        assert [r.hangup_cause for r in records(app)] == ["destination_unavailable"] * 2


def test_a_route_to_an_ivr_flow_is_answered_by_the_ivr(tmp_path):
    with office(tmp_path, config=routed_to(DestinationKind.IVR, "main")) as app:
        inbound_call(app, 0, number="2125557788")
        run(app, 0.5)
        assert state(app, 0) == "connected"  # answered by the box, in the menu
        assert app.ivr.show()[0].startswith("call 1 line 0 flow main node welcome (prompt) language en")


def test_a_stored_flow_has_its_prompts_read_before_the_engine_sees_it(tmp_path):
    with office(tmp_path) as app:
        assert not app.ivr.prompts.has("en", "vm-goodbye")
        flow = demo_config().ivr_flows[0]
        bye = replace(flow.node("welcome"), prompt=(("en", ("vm-goodbye",)), ("es", ("vm-goodbye",))))
        night = replace(flow, name="night", nodes=tuple(bye if node.id == "welcome" else node for node in flow.nodes))
        app.store.save(replace(demo_config(), ivr_flows=(flow, night)))
        assert app.ivr.prompts.has("en", "vm-goodbye") and app.ivr.prompts.has("es", "vm-goodbye")


def test_route_to_hangup_releases_the_line(tmp_path):
    with office(tmp_path, config=routed_to(DestinationKind.HANGUP, "")) as app:
        inbound_call(app, 0)
        run(app, 1.0)
        assert state(app, 0) == "idle"
        (record,) = records(app)
        assert record.hangup_cause == "route_hangup" and record.src_port == 0
