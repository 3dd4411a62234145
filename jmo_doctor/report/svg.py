"""Charts as inline SVG, drawn here in Python: no script, no library, no request.

The HTML report is opened from an email attachment, on a phone, maybe offline: a chart
must be part of the page itself. Each function returns one ``<svg>`` element with a
``viewBox`` and no fixed width, so it scales to the screen. Every text from the report
passes through :func:`esc` (printable, then HTML-escaped), so a target named
``<script>`` is drawn as those characters.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

from jmo_doctor.safetext import one_line

#: Drawing width in SVG units; the page scales it to the screen.
WIDTH = 320
#: One colour per series (min, median, p95 / download, upload): distinguishable when
#: printed in grey too (light → dark).
SERIES_COLOURS = ("#90caf9", "#1e88e5", "#0d47a1")
STATUS_COLOURS = {
    "ok": "#2e7d32",
    "warning": "#f9a825",
    "critical": "#c62828",
    "unknown": "#6a1b9a",
}
_LABEL_ROW = 14  # a group's label above its bars
_BAR = 11  # one bar's height
_GAP = 8  # between groups
_LEFT = 4
_VALUE_ROOM = 58  # right of the longest bar, for its value


def esc(value: object) -> str:
    """``value`` as HTML text: no control character, no markup, quotes escaped."""
    return html.escape(one_line(str(value)), quote=True)


def number(value: float) -> str:
    """A value as a person reads it on a chart: 3 significant figures, no float noise."""
    if value == 0 or not math.isfinite(value):
        return "0"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def _svg(height: float, title: str, body: list[str]) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height:.0f}" role="img" '
        f'preserveAspectRatio="xMinYMin meet">'
        f"<title>{esc(title)}</title>{''.join(body)}</svg>"
    )


def _legend(series: Sequence[str], y: float) -> list[str]:
    parts = []
    x = _LEFT
    for index, name in enumerate(series):
        colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
        parts.append(f'<rect x="{x}" y="{y - 8}" width="9" height="9" fill="{colour}"/>')
        parts.append(f'<text x="{x + 12}" y="{y}">{esc(name)}</text>')
        x += 18 + 6 * len(name)
    return parts


def bars(
    groups: Sequence[tuple[str, Sequence[float | None]]],
    series: Sequence[str],
    unit: str,
    title: str,
    missing: str,
) -> str:
    """Horizontal bars: per group (a target) one bar per series (min, median, p95).

    All bars share one scale, so targets compare at a glance; a value the run did not
    measure is written as ``missing`` instead of being drawn as zero.
    """
    top = max(
        (v for _, values in groups for v in values if v is not None and math.isfinite(v)),
        default=0.0,
    )
    scale = (WIDTH - _LEFT - _VALUE_ROOM) / top if top > 0 else 0.0
    # one series needs no legend: the title and the unit say what it is
    body = _legend(series, 12) if len(series) > 1 else []
    colours = SERIES_COLOURS if len(series) > 1 else SERIES_COLOURS[1:2]
    y = 22.0 if len(series) > 1 else 0.0
    for name, values in groups:
        y += _LABEL_ROW
        body.append(f'<text x="{_LEFT}" y="{y - 3:.0f}" class="group">{esc(name)}</text>')
        for index, value in enumerate(values):
            colour = colours[index % len(colours)]
            if value is None or not math.isfinite(value):
                body.append(f'<text x="{_LEFT}" y="{y + _BAR - 2:.0f}">{esc(missing)}</text>')
            else:
                length = max(1.0, value * scale)
                body.append(
                    f'<rect x="{_LEFT}" y="{y:.0f}" width="{length:.1f}" height="{_BAR - 1}" '
                    f'fill="{colour}"/>'
                    f'<text x="{_LEFT + length + 3:.1f}" y="{y + _BAR - 2:.0f}">'
                    f"{esc(number(value))} {esc(unit)}</text>"
                )
            y += _BAR
        y += _GAP
    return _svg(y, title, body)


def line(
    values: Sequence[float | None],
    title: str,
    unit: str,
    first: str,
    last: str,
    missing: str,
) -> str:
    """A trend over runs, oldest left: a gap where a run did not measure it.

    The y axis starts at zero (a latency going from 40 to 44 ms must not look like a
    cliff), its top is the largest value; the first and last run times are written under.
    """
    height, bottom, left = 110.0, 88.0, 34.0
    present = [v for v in values if v is not None and math.isfinite(v)]
    top = max(present, default=0.0)
    body = [
        f'<line x1="{left}" y1="{bottom}" x2="{WIDTH - 4}" y2="{bottom}" class="axis"/>',
        f'<text x="{left - 3}" y="12" text-anchor="end">{esc(number(top))}</text>',
        f'<text x="{left - 3}" y="{bottom}" text-anchor="end">0</text>',
        f'<text x="{left}" y="{height - 4}">{esc(first)}</text>',
        f'<text x="{WIDTH - 4}" y="{height - 4}" text-anchor="end">{esc(last)}</text>',
        f'<text x="{WIDTH - 4}" y="12" text-anchor="end">{esc(unit)}</text>',
    ]
    if not present:
        body.append(f'<text x="{left + 8}" y="{bottom / 2:.0f}">{esc(missing)}</text>')
        return _svg(height, title, body)
    step = (WIDTH - 8 - left) / max(1, len(values) - 1)
    segment: list[str] = []
    segments: list[list[str]] = []
    for index, value in enumerate(values):
        if value is None or not math.isfinite(value):
            segments.append(segment)
            segment = []
            continue
        x = left + index * step
        y = bottom - (value / top * (bottom - 16) if top > 0 else 0.0)
        segment.append(f"{x:.1f},{y:.1f}")
    segments.append(segment)
    for points in segments:
        if len(points) == 1:  # one run between gaps: a dot, or it would not show
            cx, cy = points[0].split(",")
            body.append(f'<circle cx="{cx}" cy="{cy}" r="2" fill="{SERIES_COLOURS[1]}"/>')
        elif points:
            body.append(
                f'<polyline points="{" ".join(points)}" fill="none" '
                f'stroke="{SERIES_COLOURS[1]}" stroke-width="1.5"/>'
            )
    return _svg(height, title, body)


def status_strip(statuses: Sequence[str], title: str, names: dict[str, str]) -> str:
    """One coloured cell per run, oldest left, with the statuses' legend under it."""
    count = max(1, len(statuses))
    cell = (WIDTH - 2 * _LEFT) / count
    body = [
        f'<rect x="{_LEFT + i * cell:.2f}" y="4" width="{max(cell - 0.5, 0.5):.2f}" height="18" '
        f'fill="{STATUS_COLOURS.get(status, STATUS_COLOURS["unknown"])}"/>'
        for i, status in enumerate(statuses)
    ]
    x = _LEFT
    for status, colour in STATUS_COLOURS.items():
        name = names.get(status, status)
        body.append(f'<rect x="{x}" y="30" width="9" height="9" fill="{colour}"/>')
        body.append(f'<text x="{x + 12}" y="38">{esc(name)}</text>')
        x += 22 + 7 * len(name)  # capitals are wider than _legend's lower case
    return _svg(46, title, body)
