"""Line charts as SVG drawn on the server: the box serves every byte of its pages (no chart library
from the internet, no script). Presentation attributes only, so the Content-Security-Policy
(no inline styles) holds."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 180
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 28  # margins for the axis labels


def line_chart(points: Sequence[tuple[float, float | None]], y_max: float, title: str, unit: str,
               x_labels: tuple[str, str] = ("", "")) -> Markup:
    """``points``: (x, y) in x order; y None = no figure for that interval (a gap in the line).
    The y axis runs 0..``y_max``; values above it are drawn at the top."""
    if y_max <= 0:
        raise ValueError("y_max must be positive")
    xs = [x for x, _ in points]
    x_low, x_high = (min(xs), max(xs)) if xs else (0.0, 1.0)
    span = (x_high - x_low) or 1.0
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def at(x: float, y: float) -> str:
        px = LEFT + (x - x_low) / span * inner_w
        py = TOP + inner_h * (1 - min(max(y, 0.0), y_max) / y_max)
        return f"{px:.1f},{py:.1f}"

    runs: list[list[str]] = [[]]
    for x, y in points:
        if y is None:
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append(at(x, y))
    shapes = []
    for run in runs:
        if len(run) == 1:
            cx, cy = run[0].split(",")
            shapes.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="#1f5fa8"/>')
        elif run:
            shapes.append(f'<polyline points="{" ".join(run)}" fill="none" stroke="#1f5fa8" stroke-width="2"/>')
    top = f"{y_max:g} {unit}".strip()
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + inner_h}" stroke="#5b6672"/>',
        f'<line x1="{LEFT}" y1="{TOP + inner_h}" x2="{WIDTH - RIGHT}" y2="{TOP + inner_h}" stroke="#5b6672"/>',
        f'<text x="{LEFT - 4}" y="{TOP + 10}" text-anchor="end" font-size="11">{escape(top)}</text>',
        f'<text x="{LEFT - 4}" y="{TOP + inner_h}" text-anchor="end" font-size="11">0</text>',
        f'<text x="{LEFT}" y="{HEIGHT - 8}" font-size="11">{escape(x_labels[0])}</text>',
        f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 8}" text-anchor="end" font-size="11">{escape(x_labels[1])}</text>',
        *shapes,
        "</svg>",
    ]
    if not any(run for run in runs):
        parts.insert(-1, f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" font-size="13">no figures</text>')
    return Markup("".join(parts))
