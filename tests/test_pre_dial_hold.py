"""``lines[].pre_dial_hold_ms``: a line's own pre-dial hold, from the configuration (migration 9,
YAML, validation) to the line card (at start and live). Fast: no pty."""

from __future__ import annotations

from dataclasses import replace

import pytest
from config_helpers import open_store
from test_ports import PORTS, FakeLink

from drivers import DriverError
from drivers.ports import LineCard
from firmware.config.demo import demo_config
from firmware.config.yamlio import from_yaml, to_yaml
from linebox.bench.engine import ORIGIN, QuietCard, SceneAudio
from linebox.engine_builder import build_engine, pre_dial_holds


def with_holds(config, **holds):
    """``config`` with line ``port`` given ``holds[f"p{port}"]`` ms (None: the zone's)."""
    return replace(config, lines=tuple(replace(line, pre_dial_hold_ms=holds.get(f"p{line.port}"))
                                       for line in config.lines))


def test_the_hold_survives_yaml_and_the_store_and_none_means_the_zones(tmp_path):
    config = with_holds(demo_config(), p0=1200)
    assert from_yaml(to_yaml(config)).lines[0].pre_dial_hold_ms == 1200
    assert from_yaml(to_yaml(config)).lines[1].pre_dial_hold_ms is None
    with open_store(tmp_path / "linebox.db") as store:
        store.save(config)
        assert [line.pre_dial_hold_ms for line in store.load().lines] == [1200, None]
    assert pre_dial_holds(config) == {0: 1200}


@pytest.mark.parametrize("bad", ["-1", "10001", "1.5", "true", "'500'"])
def test_a_hold_out_of_limits_is_one_line_naming_the_field(bad):
    text = to_yaml(demo_config()).replace("pre_dial_hold_ms: null", f"pre_dial_hold_ms: {bad}", 1)
    with pytest.raises(Exception) as caught:
        from_yaml(text)
    message = str(caught.value)
    assert message.startswith("lines[0].pre_dial_hold_ms: expected an integer 0-10000") and "\n" not in message


def test_the_line_card_takes_a_hold_live_and_keeps_it_for_the_next_session():
    link = FakeLink()
    card = LineCard(link, PORTS, "us", predial_ms={1: 1500})
    card.set_pre_dial_hold(0, 2000)
    assert [(m.name, m["port"], m["predial_ms"]) for m in link.sent] == [("fxo_line_timing", 0, 2000)]
    card.set_pre_dial_hold(1, None)  # back to the zone's
    assert link.sent[-1]["port"] == 1 and link.sent[-1]["predial_ms"] == 500
    assert [(m["port"], m["predial_ms"]) for m in link.setup(False) if m.name == "fxo_line_timing"] == [
        (0, 2000), (1, 500)]
    for port, ms, error in ((2, 800, "port 2 is fxs"), (0, 10001, "10001 ms out of range 0..10000")):
        with pytest.raises(DriverError, match=error):
            card.set_pre_dial_hold(port, ms)
    assert card.pre_dial_hold(0) == 2000 and len(link.sent) == 2  # a refused value changed nothing


class HoldCard(QuietCard):
    def __init__(self) -> None:
        self.holds: list[tuple[int, int | None]] = []

    def set_pre_dial_hold(self, port: int, ms: int | None) -> None:
        self.holds.append((port, ms))


def test_a_hold_changed_live_reaches_the_card_on_the_loops_next_tick():
    card = HoldCard()
    config = with_holds(demo_config(), p1=900)
    engine = build_engine(config, [False, False, True, True, True, True], SceneAudio(6, 1), card, ORIGIN)
    engine.config_stored(with_holds(config, p0=1500))
    assert card.holds == []  # applied on the loop's thread
    engine.loop.run_ticks(1)
    assert card.holds == [(0, 1500), (1, None)]
    engine.config_stored(replace(with_holds(config, p0=1500), language="de"))
    engine.loop.run_ticks(1)
    assert card.holds == [(0, 1500), (1, None)]  # nothing changed: nothing sent
