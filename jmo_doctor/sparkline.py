"""Sparklines: a trend in one line of text, readable in a terminal and in a ticket."""

from __future__ import annotations

import math
from collections.abc import Sequence

BARS = "▁▂▃▄▅▆▇█"
GAP = " "  # a run without the measurement: a gap, not a fake zero


def downsample(values: Sequence[float | None], width: int) -> list[float | None]:
    """At most ``width`` points, each the mean of its bucket (a bucket of gaps stays a gap)."""
    if width < 1:
        raise ValueError("width must be at least 1")
    if len(values) <= width:
        return list(values)
    points: list[float | None] = []
    for index in range(width):
        start = index * len(values) // width
        end = (index + 1) * len(values) // width
        bucket = [v for v in values[start:end] if v is not None]
        points.append(sum(bucket) / len(bucket) if bucket else None)
    return points


def sparkline(values: Sequence[float | None], width: int = 40) -> str:
    points = downsample([_finite(v) for v in values], width)
    present = [p for p in points if p is not None]
    if not present:
        return GAP * len(points)
    low, high = min(present), max(present)
    span = high - low
    top = len(BARS) - 1
    line = []
    for point in points:
        if point is None:
            line.append(GAP)
        elif span == 0:
            line.append(BARS[top // 2])  # flat: mid-height, so it does not read as "zero"
        else:
            line.append(BARS[round((point - low) / span * top)])
    return "".join(line)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None
