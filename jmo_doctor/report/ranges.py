"""Monitoring-plugin threshold ranges (the Nagios plugin guidelines' ``[@]start:end``).

=========  =================================================
``10``     alert when the value is below 0 or above 10
``10:``    alert when below 10
``~:10``   alert when above 10 (``~`` is minus infinity)
``10:20``  alert when outside 10 to 20 (ends included)
``@10:20`` alert when inside 10 to 20 (ends included)
=========  =================================================

``-w``/``-c`` name the metric, its range and optionally the unit:
``-w rtt=300ms,loss=5% -c rtt=1s,loss=20%``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_RANGE = re.compile(rf"^(@)?(?:(~|{_NUMBER})?:)?({_NUMBER})?$")


class RangeError(ValueError):
    """A range or threshold list that does not follow the syntax."""


@dataclass(frozen=True)
class Range:
    start: float  # -inf for "~"
    end: float  # inf when open
    inside: bool  # "@": alert inside instead of outside

    def alerts(self, value: float) -> bool:
        within = self.start <= value <= self.end
        return within if self.inside else not within

    def scaled(self, factor: float) -> Range:
        return Range(self.start * factor, self.end * factor, self.inside)

    def __str__(self) -> str:
        """The range in canonical syntax, as perfdata's warn/crit fields carry it."""
        start = "~" if self.start == -math.inf else _number(self.start)
        end = "" if self.end == math.inf else _number(self.end)
        if start == "0" and end and not self.inside:
            return end
        return ("@" if self.inside else "") + f"{start}:{end}"


def _number(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def parse_range(text: str) -> Range:
    match = _RANGE.match(text.strip())
    if not match or text.strip() in ("", "@", ":", "@:"):
        raise RangeError(f"{text!r} is not a threshold range (e.g. 10, 10:, ~:10, 10:20, @10:20)")
    inside, start_text, end_text = match.groups()
    # "10" and ":10" start at 0
    start = 0.0 if start_text is None else -math.inf if start_text == "~" else float(start_text)
    end = math.inf if end_text is None else float(end_text)
    if start > end:
        raise RangeError(f"{text!r}: the start of a range must not be above its end")
    return Range(start, end, bool(inside))


@dataclass(frozen=True)
class Measure:
    """A metric ``-w``/``-c`` may name: its units (factor to the perfdata unit)."""

    name: str
    units: dict[str, float]  # suffix → factor; "" is the unit assumed without suffix


def parse_thresholds(text: str, measures: dict[str, Measure]) -> dict[str, Range]:
    """``rtt=300ms,loss=5%`` → {"rtt": Range in ms, "loss": Range in %}."""
    found: dict[str, Range] = {}
    for part in (piece.strip() for piece in text.split(",")):
        key, equals, spec = part.partition("=")
        key = key.strip().lower()
        if not equals or key not in measures:
            known = ", ".join(f"{name}=RANGE" for name in measures)
            raise RangeError(f"{part!r}: expected {known}")
        measure = measures[key]
        spec = spec.strip()
        # longest unit first: "ms" must win over "s"
        unit = next(
            (u for u in sorted(measure.units, key=len, reverse=True) if u and spec.endswith(u)),
            "",
        )
        if unit == "" and "" not in measure.units:
            raise RangeError(f"{part!r}: give the unit ({', '.join(measure.units)})")
        number = spec[: len(spec) - len(unit)] if unit else spec
        found[key] = parse_range(number).scaled(measure.units[unit])
    return found
