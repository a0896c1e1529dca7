"""Host-side port interface: command checks, per-zone qualification tables, link state to port events.

The link is replaced by a fake that records commands and hands out scripted card events, so
these tests exercise drivers/ports.py alone and fast.
"""

import pytest

from drivers import DriverError
from drivers.link import CardMessage, LinkConfig, LinkState, LinkStateChanged
from drivers.ports import (
    CardFault,
    CardOverTemperature,
    CardReset,
    HookFlash,
    LineCard,
    LineVoltage,
    LoopCurrentDrop,
    OffHook,
    OnHook,
    PolarityReversal,
    PortInService,
    PortOutOfService,
    PulseDigit,
    RingQualified,
    RingStart,
    RingStop,
    match_cadence,
)
from drivers.protocol import FIRST_RING, TIME_MODULUS, LineState, message
from drivers.timing import ZONES, zone_timing

PORTS = ("fxo", "fxo", "fxs", "fxs", "fxs", "fxs")
FXO, FXS = 0, 2


class FakeLink:
    def __init__(self):
        self.sent = []
        self.inbox = []
        self.setup = None
        self.clock = 0.0

    def send(self, name, **fields):
        self.sent.append(message(name, **fields))

    def poll_events(self):
        events, self.inbox = self.inbox, []
        return events

    def wait_acked(self, timeout_s):
        return True

    def set_session_setup(self, setup):
        self.setup = setup

    def now(self):
        return self.clock

    def close(self):
        pass

    def card(self, name, **fields):
        self.inbox.append(CardMessage(message(name, **fields)))

    def state(self, old, new, resumed=False, reason="test"):
        self.inbox.append(LinkStateChanged(old, new, reason, None, resumed))


def make_card(zone="us", hold_s=None):
    link = FakeLink()
    card = LineCard(link, PORTS, zone, hold_s=hold_s)
    link.state(LinkState.HANDSHAKE, LinkState.UP)
    assert card.poll() == [PortInService(p) for p in range(len(PORTS))]
    return card, link


def offhook(card, link, port=FXS, t=0):
    link.card("fxs_off_hook", port=port, t_ms=t)
    return card.poll()


# ----------------------------------------------------------------------------- zone data


def test_every_zone_of_the_product_is_in_the_table_and_valid():
    assert set(ZONES) == {"us", "ca", "uk", "de", "fr", "es", "it", "pt", "nl", "gr", "mx", "co", "ar", "cl", "br", "au"}
    for zone in ZONES:
        assert zone_timing(zone).zone == zone


def test_zone_errors_are_one_clear_line():
    with pytest.raises(DriverError, match="unknown zone 'xx'; known zones: ar, au"):
        zone_timing("xx")
    with pytest.raises(DriverError, match="pulse_break_max_ms < flash_min_ms"):
        zone_timing("us", flash_min_ms=70)
    with pytest.raises(DriverError, match=r"unknown timing settings \['flash_ms'\]"):
        zone_timing("us", flash_ms=70)
    with pytest.raises(DriverError, match="off period reaches ring_end_ms"):
        zone_timing("us", ring_end_ms=4000)
    with pytest.raises(DriverError, match="zone us has no ring cadence 'x'"):
        zone_timing("us").cadence("x")


# ----------------------------------------------------------------------------- FXS hook qualification


@pytest.mark.parametrize("zone", sorted(ZONES))
def test_flash_versus_hit_versus_hang_up_at_the_window_edges(zone):
    timing = zone_timing(zone)
    card, link = make_card(zone)
    assert offhook(card, link, t=10) == [OffHook(FXS, 10)]
    cases = [
        (timing.flash_min_ms - 1, []),
        (timing.flash_min_ms, [HookFlash(FXS, timing.flash_min_ms, 1000)]),
        (timing.flash_max_ms, [HookFlash(FXS, timing.flash_max_ms, 1000)]),
        (timing.flash_max_ms + 1, [OnHook(FXS, 1000), OffHook(FXS, 1000)]),
    ]
    for ms, expected in cases:
        link.card("fxs_flash", port=FXS, ms=ms, t_ms=1000)
        assert card.poll() == expected, ms


def test_hang_up_and_pulse_digits():
    card, link = make_card()
    offhook(card, link)
    for pulses, digit in [(1, "1"), (9, "9"), (10, "0")]:
        link.card("fxs_digit", port=FXS, pulses=pulses, t_ms=5)
        assert card.poll() == [PulseDigit(FXS, digit, 5)]
    link.card("fxs_digit", port=FXS, pulses=11, t_ms=6)  # no such digit
    link.card("fxs_on_hook", port=FXS, t_ms=7)
    link.card("fxs_on_hook", port=FXS, t_ms=8)  # repeated: already on hook
    link.card("fxs_digit", port=FXS, pulses=3, t_ms=9)  # on hook: stale
    link.card("fxs_flash", port=FXS, ms=300, t_ms=9)
    assert card.poll() == [OnHook(FXS, 7)]


# ----------------------------------------------------------------------------- FXO ring qualification


def ring_train(link, port, pattern, periods=2, start=1000, end_ms=6000):
    """Card reports of a ring train following ``pattern`` for ``periods`` periods."""
    t, first, prev_off = start, True, 0
    for _ in range(periods):
        for on_ms, off_ms in zip(pattern[0::2], pattern[1::2], strict=True):
            link.card("fxo_ring_on", port=port, off_ms=FIRST_RING if first else prev_off, t_ms=t)
            link.card("fxo_ring_off", port=port, on_ms=on_ms, t_ms=t + on_ms)
            t += on_ms + off_ms
            prev_off, first = off_ms, False
    link.card("fxo_ring_on", port=port, off_ms=prev_off, t_ms=t)
    link.card("fxo_ring_off", port=port, on_ms=pattern[0], t_ms=t + pattern[0])
    link.card("fxo_ring_end", port=port, t_ms=t + pattern[0] + end_ms)


ALL_FAMILIES = [(zone, name, pattern) for zone, timing in sorted(ZONES.items()) for name, pattern in timing.cadences]


@pytest.mark.parametrize(("zone", "family", "pattern"), ALL_FAMILIES, ids=[f"{z}-{f}" for z, f, _ in ALL_FAMILIES])
def test_each_zone_cadence_family_qualifies_after_one_period(zone, family, pattern):
    card, link = make_card(zone)
    ring_train(link, FXO, pattern)
    events = card.poll()
    kinds = [type(e) for e in events]
    assert kinds == [RingStart, RingQualified, RingStop]
    assert events[0] == RingStart(FXO, 1000 + pattern[0])  # at the end of the first real burst
    assert events[1] == RingQualified(FXO, family, 1000 + sum(pattern))  # when the second period starts
    assert events[2].port == FXO


@pytest.mark.parametrize(("zone", "family", "pattern"), ALL_FAMILIES, ids=[f"{z}-{f}" for z, f, _ in ALL_FAMILIES])
def test_cadence_tolerance_edges(zone, family, pattern):
    timing = zone_timing(zone)
    pct = timing.cadence_tolerance_pct
    for scale in (1 - pct / 100, 1 + pct / 100):
        assert match_cadence(timing, [round(v * scale) for v in pattern]) == family
    others = {name for name, _ in timing.cadences} - {family}
    for scale in (1 - (pct + 2) / 100, 1 + (pct + 2) / 100):
        assert match_cadence(timing, [round(v * scale) for v in pattern]) in others | {None}
        assert match_cadence(timing, [round(v * scale) for v in pattern]) != family


def test_ring_bursts_shorter_than_the_minimum_never_start_or_qualify_a_ring():
    timing = zone_timing("us")
    card, link = make_card()
    short = timing.min_ring_ms - 1
    link.card("fxo_ring_on", port=FXO, off_ms=FIRST_RING, t_ms=0)
    link.card("fxo_ring_off", port=FXO, on_ms=short, t_ms=short)
    link.card("fxo_ring_end", port=FXO, t_ms=7000)
    assert card.poll() == []
    link.card("fxo_ring_on", port=FXO, off_ms=FIRST_RING, t_ms=8000)
    link.card("fxo_ring_off", port=FXO, on_ms=timing.min_ring_ms, t_ms=8000 + timing.min_ring_ms)
    assert card.poll() == [RingStart(FXO, 8000 + timing.min_ring_ms)]


def test_a_splash_between_bursts_restarts_the_cadence_measurement():
    card, link = make_card()
    link.card("fxo_ring_on", port=FXO, off_ms=FIRST_RING, t_ms=0)
    link.card("fxo_ring_off", port=FXO, on_ms=2000, t_ms=2000)
    link.card("fxo_ring_on", port=FXO, off_ms=1000, t_ms=3000)  # a 50 ms splash in the silence
    link.card("fxo_ring_off", port=FXO, on_ms=50, t_ms=3050)
    link.card("fxo_ring_on", port=FXO, off_ms=2950, t_ms=6000)
    link.card("fxo_ring_off", port=FXO, on_ms=2000, t_ms=8000)
    link.card("fxo_ring_on", port=FXO, off_ms=4000, t_ms=12000)
    assert card.poll() == [RingStart(FXO, 2000), RingQualified(FXO, "standard", 12000)]


# ----------------------------------------------------------------------------- FXO line events


def test_loop_drop_polarity_and_line_voltage():
    timing = zone_timing("us")
    card, link = make_card()
    link.card("fxo_loop_drop", port=FXO, ms=timing.cpc_min_ms - 1, t_ms=1)
    link.card("fxo_loop_drop", port=FXO, ms=timing.cpc_min_ms, t_ms=2)
    link.card("fxo_polarity", port=FXO, polarity=-1, t_ms=3)
    link.card("fxo_polarity", port=FXO, polarity=-1, t_ms=4)
    link.card("fxo_polarity", port=FXO, polarity=1, t_ms=5)
    link.card("fxo_line", port=1, state=LineState.IN_USE, volts_dv=82, t_ms=6)
    link.card("fxo_line", port=1, state=LineState.IN_USE, volts_dv=80, t_ms=7)
    link.card("fxo_line", port=1, state=LineState.ABSENT, volts_dv=0, t_ms=8)
    link.card("fxo_line", port=1, state=9, volts_dv=0, t_ms=9)
    assert card.poll() == [
        LoopCurrentDrop(FXO, timing.cpc_min_ms, 2), PolarityReversal(FXO, -1, 3), PolarityReversal(FXO, 1, 5),
        LineVoltage(1, LineState.IN_USE, 8.2, 6), LineVoltage(1, LineState.ABSENT, 0.0, 8),
    ]


def test_card_events_and_timestamps_across_the_wrap():
    card, link = make_card()
    link.card("card_fault", code=1, port=4, t_ms=TIME_MODULUS - 10)
    link.card("card_overtemp", port=255, temp_c=95, t_ms=5)
    link.card("card_reset", cause=1, t_ms=0)
    link.card("fxs_off_hook", port=9, t_ms=0)  # no such port: logged, dropped
    link.card("fxo_seize", port=0)  # a host command coming back: dropped
    assert card.poll() == [
        CardFault(4, "slic", TIME_MODULUS - 10), CardOverTemperature(None, 95, TIME_MODULUS + 5),
        CardReset("watchdog", TIME_MODULUS + 0),
    ]


# ----------------------------------------------------------------------------- commands


def test_commands_become_protocol_messages():
    card, link = make_card("uk")
    card.ring(2)
    card.ring(3, [1000, 0])
    card.stop_ring(2)
    card.set_polarity(3, -1)
    card.open_loop(4, 800)
    card.oht_window(5, 3000)
    card.seize(0)
    card.flash(0)
    card.flash(0, 600)
    card.pulse_dial(0, "109")
    card.release(0)
    assert link.sent == [
        message("fxs_ring", port=2, cadence_ms=(400, 200, 400, 2000)),
        message("fxs_ring", port=3, cadence_ms=(1000, 0)),
        message("fxs_stop_ring", port=2),
        message("fxs_polarity", port=3, polarity=-1),
        message("fxs_open_loop", port=4, ms=800),
        message("fxs_oht", port=5, ms=3000),
        message("fxo_seize", port=0),
        message("fxo_flash", port=0, ms=100),
        message("fxo_flash", port=0, ms=600),
        message("fxo_dial", port=0, pulses=1), message("fxo_dial", port=0, pulses=10),
        message("fxo_dial", port=0, pulses=9),
        message("fxo_release", port=0),
    ]


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda c: c.seize(2), "seize: port 2 is fxs, needs an fxo port"),
        (lambda c: c.ring(0), "ring: port 0 is fxo, needs an fxs port"),
        (lambda c: c.ring(6), r"ring: port 6 does not exist \(ports 0-5\)"),
        (lambda c: c.ring(-1), "does not exist"),
        (lambda c: c.ring(2, [1000]), "1 to 4 on/off pairs"),
        (lambda c: c.ring(2, [0, 1000]), r"ring: 0 ms out of range 1\.\.65535"),
        (lambda c: c.ring(2, [1000, 70000]), "out of range"),
        (lambda c: c.set_polarity(2, 0), "not \\+1 or -1"),
        (lambda c: c.oht_window(2, 0), "out of range"),
        (lambda c: c.open_loop(2, -5), "out of range"),
        (lambda c: c.flash(0, 0), "out of range"),
        (lambda c: c.pulse_dial(0, "12a"), "not a string of digits"),
        (lambda c: c.pulse_dial(0, ""), "not a string of digits"),
        (lambda c: c.pulse_dial(0, "١٢"), "not a string of digits"),
    ],
)
def test_bad_commands_raise_one_line_and_send_nothing(call, error):
    card, link = make_card()
    with pytest.raises(DriverError, match=error):
        call(card)
    assert link.sent == []


def test_session_setup_sends_timing_and_the_idle_state_unless_resumed():
    timing = zone_timing("de")
    card, link = make_card("de")
    fresh = link.setup(False)
    assert message("fxs_timing", port=2, debounce_ms=timing.hook_debounce_ms,
                   pulse_break_max_ms=timing.pulse_break_max_ms, pulse_make_max_ms=timing.pulse_make_max_ms,
                   flash_max_ms=timing.flash_max_ms) in fresh
    assert [m for m in fresh if m.name == "fxo_release"] == [message("fxo_release", port=p) for p in (0, 1)]
    assert {m["port"] for m in fresh if m.name == "fxs_stop_ring"} == {2, 3, 4, 5}
    assert {m["port"] for m in fresh if m.name == "fxs_polarity"} == {2, 3, 4, 5}
    country = [m for m in fresh if m.name == "fxo_country"]
    assert [m["port"] for m in country] == [0, 1] and country[0]["impedance"] == int(timing.impedance)
    assert [m for m in fresh if m.name == "fxo_line_timing"] == [
        message("fxo_line_timing", port=p, ring_qualify_ms=timing.min_ring_ms, predial_ms=500) for p in (0, 1)]
    resumed = link.setup(True)
    assert {m.name for m in resumed} == {"fxs_timing", "fxo_country", "fxo_line_timing"}


def test_the_pre_dial_hold_comes_from_the_zone_and_can_be_set_per_line():
    assert {timing.predial_ms for timing in ZONES.values()} == {500}
    assert zone_timing("uk", predial_ms=1200).predial_ms == 1200
    with pytest.raises(DriverError, match="predial_ms must be 0..10000"):
        zone_timing("us", predial_ms=10001)
    link = FakeLink()
    LineCard(link, PORTS, zone_timing("us", predial_ms=700), predial_ms={1: 1500})
    assert [(m["port"], m["predial_ms"]) for m in link.setup(False) if m.name == "fxo_line_timing"] == [
        (0, 700), (1, 1500)]
    for bad, error in (({2: 800}, "port 2 is fxs"), ({9: 800}, "port 9 does not exist"),
                       ({0: 10001}, "10001 ms out of range 0..10000")):
        with pytest.raises(DriverError, match=error):
            LineCard(FakeLink(), PORTS, "us", predial_ms=bad)


def test_ring_start_comes_as_soon_as_the_first_burst_has_lasted_the_minimum():
    """Issue 10: RingStart came at the end of the first burst (2 s into a US ring), so the line
    looked free meanwhile. With the card's fxo_ring_held it comes min_ring_ms into the burst."""
    card, link = make_card()
    link.card("fxo_ring_on", port=FXO, off_ms=FIRST_RING, t_ms=1000)
    assert card.poll() == []  # 30 ms of ring voltage: not yet a ring
    link.card("fxo_ring_held", port=FXO, t_ms=1200)
    assert card.poll() == [RingStart(FXO, 1200)]
    link.card("fxo_ring_off", port=FXO, on_ms=2000, t_ms=3000)
    link.card("fxo_ring_on", port=FXO, off_ms=4000, t_ms=7000)
    link.card("fxo_ring_held", port=FXO, t_ms=7200)  # every burst is held; one RingStart per train
    assert card.poll() == [RingQualified(FXO, "standard", 7000)]
    link.card("fxo_ring_end", port=FXO, t_ms=20000)
    assert card.poll() == [RingStop(FXO, 20000)]


# ----------------------------------------------------------------------------- link state


def test_ports_leave_and_return_to_service_with_the_link():
    card, link = make_card(hold_s=0)  # no hold: every outage takes the ports out at once
    offhook(card, link)
    link.state(LinkState.UP, LinkState.DEGRADED)
    assert card.poll() == []
    link.state(LinkState.DEGRADED, LinkState.DOWN, reason="card not answering")
    assert card.poll() == [PortOutOfService(p, "card not answering") for p in range(6)]
    link.state(LinkState.DOWN, LinkState.HANDSHAKE)
    assert card.poll() == []
    assert not card.in_service(3)
    link.state(LinkState.HANDSHAKE, LinkState.UP, resumed=True)
    link.card("port_status", port=FXS, hook=1, ringing=0, polarity=1, line=3, volts_dv=0, t_ms=50)
    # Even resumed: the firmware ended the port's calls when it left service, so the phone that
    # is still off hook is reported again after PortInService (a port in service starts idle).
    assert card.poll() == [*[PortInService(p) for p in range(6)], OffHook(FXS, 50)]
    link.card("port_status", port=FXS, hook=1, ringing=0, polarity=1, line=3, volts_dv=0, t_ms=60)
    assert card.poll() == []  # once per service period


def test_every_port_comes_into_service_once_the_handshake_completes_and_only_then():
    link = FakeLink()
    card = LineCard(link, PORTS, "us")
    for old, new in ((LinkState.CONNECTING, LinkState.HANDSHAKE), (LinkState.HANDSHAKE, LinkState.DOWN),
                     (LinkState.DOWN, LinkState.HANDSHAKE)):
        link.state(old, new)
        assert card.poll() == []  # ports start out of service: nothing to announce
        assert not any(card.in_service(p) for p in range(len(PORTS)))
    link.state(LinkState.HANDSHAKE, LinkState.UP)
    link.card("port_status", port=FXS + 1, hook=1, ringing=0, polarity=1, line=3, volts_dv=0, t_ms=7)
    assert card.poll() == [*[PortInService(p) for p in range(len(PORTS))], OffHook(FXS + 1, 7)]
    assert all(card.in_service(p) for p in range(len(PORTS)))
    refused = LineCard(FakeLink(), PORTS, "us")
    refused.link.state(LinkState.HANDSHAKE, LinkState.REFUSED, reason="port map mismatch")
    assert refused.poll() == [] and not refused.in_service(0)


def test_the_snapshot_after_any_handshake_reports_a_ring_in_progress_and_the_line_state():
    card, link = make_card(hold_s=0)
    link.card("port_status", port=FXO, hook=0, ringing=1, polarity=1, line=1, volts_dv=480, t_ms=3000)
    assert card.poll() == [LineVoltage(FXO, LineState.IDLE, 48.0, 3000), RingStart(FXO, 3000)]
    link.card("fxo_ring_on", port=FXO, off_ms=4000, t_ms=6000)
    link.card("fxo_ring_off", port=FXO, on_ms=2000, t_ms=8000)
    link.card("fxo_ring_on", port=FXO, off_ms=4000, t_ms=12000)
    assert card.poll() == [RingQualified(FXO, "standard", 12000)]  # counted once, then qualified
    link.state(LinkState.UP, LinkState.DOWN, reason="device lost")
    link.state(LinkState.DOWN, LinkState.UP, resumed=True)
    link.card("port_status", port=FXO, hook=0, ringing=1, polarity=1, line=1, volts_dv=480, t_ms=13000)
    assert card.poll() == [
        *[PortOutOfService(p, "device lost") for p in range(6)],
        *[PortInService(p) for p in range(6)],
        LineVoltage(FXO, LineState.IDLE, 48.0, 13000), RingStart(FXO, 13000),
    ]
    link.card("fxo_ring_end", port=FXO, t_ms=20000)
    assert card.poll() == [RingStop(FXO, 20000)]


def test_after_a_card_reset_the_snapshot_reports_what_changed_and_no_line_stays_seized():
    card, link = make_card()
    offhook(card, link, port=3)
    card.seize(0)
    link.card("card_reset", cause=1, t_ms=0)  # the link hands it on before its state change
    link.state(LinkState.UP, LinkState.HANDSHAKE, reason="card reset (watchdog)")
    link.state(LinkState.HANDSHAKE, LinkState.UP, resumed=False)
    for port in (0, 1):
        link.card("port_status", port=port, hook=int(port == 1), ringing=0, polarity=1, line=1, volts_dv=480,
                  t_ms=0)
    for port in (2, 3, 4, 5):
        link.card("port_status", port=port, hook=int(port in (3, 4)), ringing=0, polarity=1, line=3, volts_dv=0,
                  t_ms=0)
    link.sent.clear()
    events = card.poll()
    assert events == [
        CardReset("watchdog", 0),  # no hold: the card lost its lines' state
        *[PortOutOfService(p, "card reset (watchdog)") for p in range(6)],
        *[PortInService(p) for p in range(6)],
        LineVoltage(0, LineState.IDLE, 48.0, 0),
        OffHook(3, 0), OffHook(4, 0),  # state reset by the reset: both phones reported off hook
    ]
    assert link.sent == [message("fxo_release", port=1)]  # port 1 held seized against the host's wish


# ----------------------------------------------------------------------------- outages held (issue 11)


def snapshot(link, port, hook=0, ringing=0, polarity=1, line=3, volts_dv=0, t_ms=0):
    link.card("port_status", port=port, hook=hook, ringing=ringing, polarity=polarity, line=line,
              volts_dv=volts_dv, t_ms=t_ms)


def test_a_short_outage_keeps_the_ports_in_service_and_the_snapshot_reports_only_what_changed():
    card, link = make_card()
    assert card.hold_s == LinkConfig().hold_s == 3.0
    offhook(card, link, port=2)
    offhook(card, link, port=3)
    link.card("fxo_ring_on", port=0, off_ms=FIRST_RING, t_ms=100)
    link.card("fxo_ring_off", port=0, on_ms=2000, t_ms=2100)
    link.card("fxo_line", port=0, state=1, volts_dv=480, t_ms=0)
    assert card.poll() == [RingStart(0, 2100), LineVoltage(0, LineState.IDLE, 48.0, 0)]
    card.seize(1)
    link.clock = 10.0
    link.state(LinkState.UP, LinkState.DOWN, reason="card not answering (no ack after retries)")
    assert card.poll() == [] and card.holding
    link.clock = 12.99
    link.state(LinkState.DOWN, LinkState.HANDSHAKE)
    assert card.poll() == [] and all(card.in_service(p) for p in range(6))
    link.state(LinkState.HANDSHAKE, LinkState.UP, resumed=True)
    snapshot(link, 0, ringing=0, line=1, volts_dv=480, t_ms=3000)  # the ring train ended meanwhile
    snapshot(link, 1, hook=1, polarity=-1, t_ms=3000)  # still seized; the far end reversed the line
    snapshot(link, 2, hook=0, t_ms=3000)  # this phone hung up during the outage
    snapshot(link, 3, hook=1, t_ms=3000)  # this one is still in its call
    snapshot(link, 4, t_ms=3000)
    snapshot(link, 5, t_ms=3000)
    link.sent.clear()
    assert card.poll() == [RingStop(0, 3000), PolarityReversal(1, -1, 3000), OnHook(2, 3000)]
    assert not card.holding and all(card.in_service(p) for p in range(6))
    assert link.sent == []  # the line we seized stays seized
    link.clock = 100.0
    assert card.poll() == []  # the hold is over: no late expiry


@pytest.mark.parametrize(("elapsed_s", "out"), [(2.999, False), (3.0, True)])
def test_an_outage_reaching_the_hold_time_takes_every_port_out_of_service(elapsed_s, out):
    card, link = make_card()
    offhook(card, link, port=2)
    link.clock = 50.0
    link.state(LinkState.UP, LinkState.DOWN, reason="device lost")
    assert card.poll() == []
    link.clock = 50.0 + elapsed_s
    events = card.poll()
    if not out:
        assert events == [] and card.in_service(2)
        return
    assert [e.port for e in events] == list(range(6))
    assert all(isinstance(e, PortOutOfService) and e.reason.startswith("device lost;") and "3 s hold" in e.reason
               for e in events)
    link.state(LinkState.DOWN, LinkState.UP, resumed=True)
    snapshot(link, 2, hook=1, t_ms=9)
    assert card.poll() == [*[PortInService(p) for p in range(6)], OffHook(2, 9)]  # from idle again


def test_a_card_reset_ends_a_held_outage_at_once():
    card, link = make_card()
    link.state(LinkState.UP, LinkState.DOWN, reason="card not answering")
    assert card.poll() == []
    link.card("card_reset", cause=2, t_ms=0)
    assert card.poll() == [CardReset("brown_out", 0), *[PortOutOfService(p, "card reset (brown_out)")
                                                         for p in range(6)]]
    assert not card.holding


def test_a_card_that_comes_back_without_its_state_ends_the_calls_it_carried():
    card, link = make_card()
    offhook(card, link, port=4)
    link.state(LinkState.UP, LinkState.DOWN, reason="device lost")
    link.state(LinkState.DOWN, LinkState.UP, resumed=False)
    snapshot(link, 4, hook=1, t_ms=0)
    assert card.poll() == [
        *[PortOutOfService(p, "card lost its port state during a link outage") for p in range(6)],
        *[PortInService(p) for p in range(6)], OffHook(4, 0),
    ]


def test_a_refused_or_closed_link_is_not_held():
    card, link = make_card()
    link.state(LinkState.UP, LinkState.CLOSED, reason="closed by the host")
    assert card.poll() == [PortOutOfService(p, "closed by the host") for p in range(6)]
    with pytest.raises(DriverError, match="hold time"):
        LineCard(FakeLink(), PORTS, "us", hold_s=-1)
