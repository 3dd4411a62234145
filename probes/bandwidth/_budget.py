"""When a bandwidth phase may stop: the data budget, the steady rate, the duration.

- **The data budget** (``[bandwidth] max_mb``, both directions together) is spent by
  *reservation*: a download request asks the server for exactly the bytes reserved for
  it (``{bytes}`` in ``download_url``), an upload write is reserved before it is made.
  So the run never asks for, or sends, more than the budget, whatever the link's speed.
  The download may reserve ``DOWNLOAD_SHARE`` of it; the upload gets what is left.
- **The steady rate** (the networkQuality / fast.com way): the rates of the last
  ``STEADY_COUNT`` windows of ``STEADY_WINDOW_S`` seconds, ``STEADY_STEP_S`` apart, lie
  within ``STEADY_SPREAD`` of their mean. Once they do, more seconds would not change
  the figure: the phase ends. The figure itself is still ``_meter.analyse``'s median.
- **The duration** is the most a phase may take.

A phase the budget ended before its rate was steady gives a lower bound: the link may be
faster than measured, and the report says so.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from probes.bandwidth._meter import BIN_S, Meter

#: Of the budget, the download may reserve this share; the upload gets the rest (uplinks
#: are seldom faster than downlinks, so they need less data for as many seconds).
DOWNLOAD_SHARE = 0.6
STEADY_WINDOW_S = 1.0
STEADY_STEP_S = 0.2
STEADY_COUNT = 5
STEADY_SPREAD = 0.05
#: No phase is called steady sooner: a ramp that has just levelled off can still rise.
MIN_STEADY_PHASE_S = 2.0
#: A download request smaller than this is not worth its round trip.
MIN_REQUEST_BYTES = 64 * 1024

BYTES_PER_MB = 1_000_000


class DataBudget:
    """Bytes the whole bandwidth test may still move, both directions together."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit = max(0, limit_bytes)
        self.reserved = 0

    def left(self) -> int:
        return self.limit - self.reserved

    def reserve(self, wanted: int, ceiling: int | None = None) -> int:
        """Reserve up to ``wanted`` bytes (never past ``ceiling`` reserved in all);
        returns what was granted, 0 when spent."""
        limit = self.limit if ceiling is None else min(self.limit, ceiling)
        granted = max(0, min(wanted, limit - self.reserved))
        self.reserved += granted
        return granted


@dataclass
class PhaseEnd:
    """When one direction ends: at ``start + duration`` at the latest, earlier once its
    rate is steady or its share of the budget is spent (``reason`` says which)."""

    start: float
    at: float
    reason: str = "duration"

    @classmethod
    def after(cls, duration: float) -> PhaseEnd:
        now = time.monotonic()
        return cls(now, now + duration)

    def over(self, now: float | None = None) -> bool:
        return (time.monotonic() if now is None else now) >= self.at

    def cut(self, now: float, reason: str) -> None:
        if now < self.at:
            self.at, self.reason = now, reason


def window_rates(meter: Meter, now: float) -> list[float]:
    """Mbit/s of the last ``STEADY_COUNT`` windows, newest first, over whole bins only."""
    last_bin = int((now - meter.start) / BIN_S)  # the bin ``now`` is in is not full yet
    width = round(STEADY_WINDOW_S / BIN_S)
    step = round(STEADY_STEP_S / BIN_S)
    rates = []
    for k in range(STEADY_COUNT):
        high = last_bin - k * step
        low = high - width
        if low < 0:
            break
        rates.append(sum(meter.bins[low:high]) * 8 / STEADY_WINDOW_S / 1e6)
    return rates


def is_steady(meter: Meter, now: float) -> bool:
    if now - meter.start < MIN_STEADY_PHASE_S:
        return False
    rates = window_rates(meter, now)
    if len(rates) < STEADY_COUNT:
        return False
    mean = statistics.fmean(rates)
    return mean > 0 and max(rates) - min(rates) <= STEADY_SPREAD * mean


def budget_bytes(max_mb: float) -> int:
    return int(max_mb * BYTES_PER_MB)
