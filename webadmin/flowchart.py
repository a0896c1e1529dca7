"""An IVR flow drawn as an inline SVG, built here from the flow's nodes (no script, no library).

Layout: layered. A node's layer is its distance from the start node along the flow's transitions
(breadth first, so a cycle — a menu whose "repeat" key goes back to it — is visited once and
drawn as an edge going up); nodes the start cannot reach are laid out the same way below. A ``goto``'s
destination (queue, extension, voicemail, another flow, hangup) is an exit box one layer below
it. Every edge carries its label: the key and the spoken words of a menu choice, ``next``,
``open``/``closed`` of a time condition, ``match``/``no match`` of a lookup, and the input
nodes' "no input / invalid" (after their timeout and retries).

Colours and sizes are SVG presentation attributes, not ``style`` (the pages' Content Security
Policy allows no inline style or script). Every text is escaped.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from firmware.config.ivrmodel import IVR_INPUT_NODES, IvrFlow, IvrNode, IvrNodeType

BOX_W, BOX_H = 180, 46
GAP_X, GAP_Y = 40, 80
MARGIN = 50  # room for the curves of edges going back up
MAX_LABEL = 28  # characters shown on an edge; the whole label is the edge's tooltip


@dataclass(frozen=True)
class Edge:
    source: str
    target: str  # a node id, or an exit box's key ("exit:queue support")
    label: str


def _words(choice_words) -> str:
    return ", ".join(word for _, words in choice_words for word in words)


def node_edges(node: IvrNode) -> list[Edge]:
    """The transitions leaving ``node``, each labelled (module docstring)."""
    edges: list[Edge] = []
    for choice in node.choices:
        said = _words(choice.words)
        label = " / ".join(part for part in (f"key {choice.key}" if choice.key else "",
                                              f"say {said}" if said else "") if part)
        edges.append(Edge(node.id, choice.next, label or "choice"))
    if node.next:
        label = {IvrNodeType.TIME_CONDITION: "open", IvrNodeType.LOOKUP: "match",
                 IvrNodeType.COLLECT: "entered"}.get(node.type, "next")
        edges.append(Edge(node.id, node.next, label))
    if node.type in IVR_INPUT_NODES and node.no_input:
        edges.append(Edge(node.id, node.no_input,
                          f"no input / invalid ({node.timeout_s} s, {node.retries} retries)"))
    if node.no_match:
        edges.append(Edge(node.id, node.no_match, "no match"))
    if node.closed:
        edges.append(Edge(node.id, node.closed, f"closed ({node.schedule})" if node.schedule else "closed"))
    if node.destination is not None:
        edges.append(Edge(node.id, f"exit:{node.destination}", "goto"))
    return edges


def layers(flow: IvrFlow) -> tuple[list[list[str]], list[Edge]]:
    """The boxes by layer (node ids and exit keys) and every edge; each node visited once."""
    edges = {node.id: node_edges(node) for node in flow.nodes}
    depth: dict[str, int] = {}
    roots = [flow.start] if flow.node(flow.start) is not None else []
    roots += [node.id for node in flow.nodes]  # then what the start cannot reach, below the rest
    for root in roots:
        if root in depth:
            continue
        depth[root] = max(depth.values(), default=-1) + 1
        queue: deque[str] = deque([root])
        while queue:
            current = queue.popleft()
            for edge in edges.get(current, ()):
                if edge.target not in depth:  # seen once: a cycle ends here
                    depth[edge.target] = depth[current] + 1
                    if edge.target in edges:
                        queue.append(edge.target)
    rows: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    order = [node.id for node in flow.nodes] + sorted(key for key in depth if key not in edges)
    for key in order:
        rows[depth[key]].append(key)
    return rows, [edge for node in flow.nodes for edge in edges[node.id]]


def _merged(edges: list[Edge]) -> list[Edge]:
    """One edge per pair of boxes, its labels joined (``key 0; no input …``): drawn lines never coincide."""
    labels: dict[tuple[str, str], list[str]] = {}
    for edge in edges:
        labels.setdefault((edge.source, edge.target), []).append(edge.label)
    return [Edge(source, target, "; ".join(texts)) for (source, target), texts in labels.items()]


def _short(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[:MAX_LABEL - 1] + "…"


def flow_svg(flow: IvrFlow, ident: str = "flow") -> str:
    """The SVG markup of ``flow``; ``ident`` keeps the arrow marker's id unique on the page."""
    rows, edges = layers(flow)
    nodes = {node.id: node for node in flow.nodes}
    width = max((len(row) for row in rows), default=1) * (BOX_W + GAP_X) - GAP_X + 2 * MARGIN
    height = len(rows) * (BOX_H + GAP_Y) - GAP_Y + 2 * MARGIN
    place: dict[str, tuple[float, float]] = {}
    for level, row in enumerate(rows):
        row_width = len(row) * (BOX_W + GAP_X) - GAP_X
        left = (width - row_width) / 2
        for column, key in enumerate(row):
            place[key] = (left + column * (BOX_W + GAP_X), MARGIN + level * (BOX_H + GAP_Y))
    marker = f"arrow-{ident}"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="flowchart" id={quoteattr("diagram-" + ident)} '
           f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
           f'aria-label={quoteattr("IVR flow " + flow.name)} font-family="sans-serif" font-size="12">',
           f'<defs><marker id={quoteattr(marker)} viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
           f'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>']
    fan: dict[str, int] = {}
    for edge in _merged(edges):
        fan[edge.source] = fan.get(edge.source, -1) + 1
        out.append(_edge_svg(edge, place, marker, 0.3 + 0.2 * (fan[edge.source] % 3)))
    for key, (x, y) in place.items():
        out.append(_box_svg(key, x, y, nodes.get(key), key == flow.start))
    out.append("</svg>")
    return "\n".join(out)


def _edge_svg(edge: Edge, place: dict[str, tuple[float, float]], marker: str, along: float) -> str:
    """``along``: where on the line the label sits (0 source, 1 target), staggered along a fan's edges."""
    sx, sy = place[edge.source]
    tx, ty = place[edge.target]
    x1, y1 = sx + BOX_W / 2, sy + BOX_H
    if ty > sy:  # downwards: bottom of the source to the top of the target
        x2, y2 = tx + BOX_W / 2, ty
        path = f"M{x1:.0f},{y1:.0f} L{x2:.0f},{y2:.0f}"
        lx, ly, anchor = x1 + (x2 - x1) * along, y1 + (y2 - y1) * along, "middle"
    elif sx < tx:  # back up (a cycle) from the left: a curve out on the left of both boxes
        x1, y1 = sx, sy + BOX_H / 2
        x2, y2 = tx, ty + BOX_H / 2
        bend = max(2.0, min(x1, x2) - GAP_X * 0.9)
        path = f"M{x1:.0f},{y1:.0f} C{bend:.0f},{y1:.0f} {bend:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"
        lx, ly, anchor = bend + 4, (y1 + y2) / 2, "start"
    else:  # same layer or back up from the right (or to itself): a curve out on the right
        x1, y1 = sx + BOX_W, sy + BOX_H / 2
        x2, y2 = tx + BOX_W, ty + BOX_H / 2
        bend = max(x1, x2) + GAP_X * 0.9
        path = f"M{x1:.0f},{y1:.0f} C{bend:.0f},{y1:.0f} {bend:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"
        lx, ly, anchor = bend - 4, (y1 + y2) / 2, "end"
    lines = "".join(f'<tspan x="{lx:.0f}" dy="{0 if n == 0 else 13}">{escape(_short(text))}</tspan>'
                    for n, text in enumerate(edge.label.split("; ")))  # merged labels: one line each
    return (f'<g class="edge"><title>{escape(edge.source)} → {escape(edge.target.removeprefix("exit:"))}: '
            f'{escape(edge.label)}</title><path d="{path}" fill="none" stroke="#555" stroke-width="1.2" '
            f'marker-end="url(#{escape(marker)})"/><text x="{lx:.0f}" y="{ly:.0f}" text-anchor="{anchor}" '
            f'fill="#063" paint-order="stroke" stroke="#fff" stroke-width="3">{lines}</text></g>')


def _box_svg(key: str, x: float, y: float, node: IvrNode | None, start: bool) -> str:
    if node is None:
        title, kind = key.removeprefix("exit:"), "exit" if key.startswith("exit:") else "missing"
        fill = "#eef" if kind == "exit" else "#fdd"
    else:
        title, kind = node.id, str(node.type)
        fill = "#ffd" if node.type in IVR_INPUT_NODES else "#fff"
    border = 'stroke-width="2.5"' if start else 'stroke-width="1"'
    return (f'<g class="node" data-node={quoteattr(key)}><title>{escape(title)} ({escape(kind)})</title>'
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="{fill}" stroke="#333" '
            f'{border}/><text x="{x + BOX_W / 2:.0f}" y="{y + 19:.0f}" text-anchor="middle" font-weight="bold">'
            f'{escape(_short(title))}</text><text x="{x + BOX_W / 2:.0f}" y="{y + 36:.0f}" text-anchor="middle" '
            f'fill="#555">{escape(kind)}{" · start" if start else ""}</text></g>')
