"""The IVR flows drawn as inline SVG (webadmin/flowchart.py): every node and every transition of
the demo flow with its label, a layered layout from the start node, cycles drawn once, well-formed
markup with no script or inline style (the pages' CSP), shown on the IVR pages."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from firmware.config.demo import demo_ivr
from firmware.config.ivrmodel import IvrFlow, IvrNode, IvrNodeType, MenuChoice
from firmware.config.model import Destination, DestinationKind
from tests.web_helpers import admin_client
from webadmin.flowchart import BOX_H, flow_svg, layers

SVG = "{http://www.w3.org/2000/svg}"

# the demo flow (firmware/config/demo.py), written out by hand: (from, to, label)
DEMO_EDGES = [
    ("hours", "welcome", "open"),
    ("hours", "closed", "closed (office)"),
    ("welcome", "support", "key 1 / say support, soporte"),
    ("welcome", "spanish", "key 2 / say spanish, español"),
    ("welcome", "operator", "key 0 / say operator, operadora; no input / invalid (5 s, 2 retries)"),
    ("spanish", "welcome", "next"),
    ("support", "queue", "next"),
    ("queue", "queue support", "goto"),
    ("operator", "ring_group office", "goto"),
    ("closed", "voicemail 201", "goto"),
]


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # well-formed XML, or this raises


def _boxes(root: ET.Element) -> dict[str, tuple[float, float]]:
    found = {}
    for group in root.iter(f"{SVG}g"):
        if group.get("class") == "node":
            rect = group.find(f"{SVG}rect")
            assert group.get("data-node") not in found, "a box drawn twice"
            found[group.get("data-node")] = (float(rect.get("x")), float(rect.get("y")))
    return found


def _edges(root: ET.Element) -> list[tuple[str, list[str], str]]:
    """(tooltip, visible label lines, path) of every drawn edge."""
    return [(group.find(f"{SVG}title").text, [span.text for span in group.iter(f"{SVG}tspan")],
             group.find(f"{SVG}path").get("d"))
            for group in root.iter(f"{SVG}g") if group.get("class") == "edge"]


def test_every_node_and_every_labelled_transition_of_the_demo_flow_is_drawn():
    flow = demo_ivr()
    root = _parse(flow_svg(flow))
    boxes = _boxes(root)
    assert set(boxes) == {node.id for node in flow.nodes} | {
        "exit:queue support", "exit:ring_group office", "exit:voicemail 201"}
    tooltips = {tooltip: lines for tooltip, lines, _ in _edges(root)}
    assert len(tooltips) == len(DEMO_EDGES)
    for source, target, label in DEMO_EDGES:
        lines = tooltips[f"{source} → {target}: {label}"]
        for part, shown in zip(label.split("; "), lines, strict=True):  # each merged label on its own line
            assert shown == part or (shown.endswith("…") and part.startswith(shown[:-1])), (part, shown)
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    for kind in ("time_condition · start", "menu", "set", "goto", "exit"):
        assert kind in texts


def test_the_layers_are_the_distance_from_the_start_and_a_cycle_goes_back_up():
    flow = demo_ivr()
    rows, _ = layers(flow)
    assert rows[0] == ["hours"]
    assert rows[1] == ["welcome", "closed"]
    assert set(rows[2]) == {"spanish", "support", "operator", "exit:voicemail 201"}
    root = _parse(flow_svg(flow))
    boxes = _boxes(root)
    assert boxes["hours"][1] < boxes["welcome"][1] < boxes["spanish"][1]
    back = next(path for tooltip, _, path in _edges(root) if tooltip.startswith("spanish → welcome"))
    assert " C" in back  # the edge back to the menu is a curve, not a line through the boxes
    down = next(path for tooltip, _, path in _edges(root) if tooltip.startswith("support → queue"))
    y1, y2 = (float(v) for v in re.findall(r",(\d+)", down))
    assert y1 == boxes["support"][1] + BOX_H and y2 == boxes["queue"][1]  # bottom of one box to the top of the next


def _node(node_id: str, kind: IvrNodeType, **fields) -> IvrNode:
    return IvrNode(id=node_id, type=kind, **fields)


def test_cycles_and_unreachable_nodes_end_and_each_node_is_drawn_once():
    flow = IvrFlow(name="loop", start="a", languages=("en",), nodes=(
        _node("a", IvrNodeType.MENU, choices=(MenuChoice("a", "9"), MenuChoice("b", "1")), no_input="c"),
        _node("b", IvrNodeType.PLAY, next="c"),
        _node("c", IvrNodeType.LOOKUP, next="a", no_match="b"),
        _node("orphan", IvrNodeType.COLLECT, next="orphan", no_input="gone"),
        _node("gone", IvrNodeType.GOTO, destination=Destination(DestinationKind.HANGUP)),
    ))
    rows, edges = layers(flow)
    assert [key for row in rows for key in row].count("a") == 1
    assert rows == [["a"], ["b", "c"], ["orphan"], ["gone"], ["exit:hangup"]]  # the unreachable below
    root = _parse(flow_svg(flow))
    assert set(_boxes(root)) == {"a", "b", "c", "orphan", "gone", "exit:hangup"}
    tooltips = {tooltip for tooltip, _, _ in _edges(root)}
    assert {"a → a: key 9", "a → b: key 1", "a → c: no input / invalid (5 s, 2 retries)", "b → c: next",
            "c → a: match", "c → b: no match", "orphan → orphan: entered",
            "orphan → gone: no input / invalid (5 s, 2 retries)", "gone → hangup: goto"} == tooltips


def test_names_are_escaped_and_there_is_no_script_or_inline_style():
    flow = IvrFlow(name="x", start="s", languages=("en",), nodes=(
        _node("s", IvrNodeType.MENU, choices=(MenuChoice("t", "", (("en", ("<script>alert(1)</script>",)),)),)),
        _node("t", IvrNodeType.GOTO, destination=Destination(DestinationKind.EXTENSION, "201")),
    ))
    svg = flow_svg(flow, "p")
    _parse(svg)
    assert "<script" not in svg and "style=" not in svg and "&lt;script&gt;" in svg
    assert 'id="arrow-p"' in svg and "url(#arrow-p)" in svg


@pytest.fixture
def admin(tmp_path):
    with admin_client(tmp_path) as (client, _):
        yield client


def test_the_ivr_pages_show_the_diagram_inline(admin):
    for path, ident in (("/ivr", "diagram-0"), ("/ivr/flow/main", "diagram-edit")):
        page = admin.get(path).get_data(as_text=True)
        svg = re.search(r"<svg .*?</svg>", page, re.S).group(0)
        assert f'id="{ident}"' in svg
        _parse(svg)
        assert "<script" not in page and "http://" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
