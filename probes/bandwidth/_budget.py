"""When a bandwidth phase may stop: the data budget, the steady rate, the duration.

- **The data budget** (``[bandwidth] max_mb``, both directions together) is spent by
  *reservation*: a download request asks the server for exactly the bytes reserved for
  it (``{bytes}`` in ``download_url``), an upload write is reserved before it is made.
  So the run never asks for, or sends, more than the budget, whatever the link's speed.
  The download may reserve ``DOWNLOAD_SHARE`` of it; the upload gets what is left.
- **The steady rate** (the networkQuality / fast.com way: a moving figure that has
  stopped moving): the phase's figure — ``_meter.analyse``'s rate after
  the ramp — taken as if the phase had ended at each of the last ``STEADY_COUNT`` steps
  ``STEADY_STEP_S`` apart, lies within ``STEADY_SPREAD`` of its mean. Once it does, more
  seconds would not change the answer: the phase ends. Judging the figure rather than
  raw 1 s rates matters: four streams sharing a small queue make 1 s rates wobble by
  ±5-10 % (loss recovery) while the phase's figure holds still.
- **The duration** is the most a phase may take.

A phase the budget ended before its rate was steady gives a lower bound: the link may be
faster than measured, and the report says so.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from probes.bandwidth._meter import BIN_S, Meter, analyse

#: Of the budget, the download may reserve this share; the upload gets the rest (uplinks
#: are seldom faster than downlinks, so they need less data for as many seconds).
DOWNLOAD_SHARE = 0.6
STEADY_STEP_S = 0.2
STEADY_COUNT = 6
STEADY_SPREAD = 0.02
#: No phase is ended as steady sooner: a ramp that has just levelled off can still rise,
#: and at 1 Mbit/s four streams' loss recovery makes shorter figures vary by ±10 %.
MIN_STEADY_PHASE_S = 2.5
#: When the budget has ended a phase, its figure counts as steady (no lower bound) if it
#: held still over at least this long: the link was measured, the budget only saved time.
MIN_STEADY_AT_BUDGET_S = 1.2
#: The least a phase runs before "answered", or a stream out of budget, may end it: a
#: figure needs whole bins (on loopback a whole budget moves in a few milliseconds).
MIN_FIGURE_S = 1.0
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
    #: Ends the phase once its figure reaches this rate (``reason`` "answered"): on an
    #: unstable link the test only has to tell slow from not slow (see ``answered``).
    enough_mbps: float | None = None

    @classmethod
    def after(cls, duration: float) -> PhaseEnd:
        now = time.monotonic()
        return cls(now, now + duration)

    def over(self, now: float | None = None) -> bool:
        return (time.monotonic() if now is None else now) >= self.at

    def cut(self, now: float, reason: str) -> None:
        if now < self.at:
            self.at, self.reason = now, reason

    def answered(self, meter: Meter, now: float) -> None:
        """End the phase once the figure is past ``enough_mbps``: more seconds could only
        raise it, and "not slow" is all that was asked."""
        if self.enough_mbps is None or now - self.start < MIN_FIGURE_S:
            return
        if analyse(meter, now).mbps >= self.enough_mbps:
            self.cut(now, "answered")

    def spent(self, meter: Meter, now: float) -> None:
        """The budget ended the phase at ``now``: a lower bound unless the figure had
        already held still."""
        steady = is_steady(meter, now, MIN_STEADY_AT_BUDGET_S)
        self.cut(now, "steady" if steady else "budget")

    def out_of_budget(self, meter: Meter, since: float, now: float) -> None:
        """A stream found the budget spent at ``since``: the phase ends there (or at
        ``MIN_FIGURE_S``, whichever is later). Until then every stream was delivering;
        after it the others' last bytes would be timed alone, and a stream in loss
        recovery trickled on for 3 s at 1.7 Mbit/s: a 50 Mbit/s link read 0.42 of
        iperf3 (2 lab runs in 30)."""
        if now - self.start >= MIN_FIGURE_S:
            self.spent(meter, max(since, self.start + MIN_FIGURE_S))


def recent_figures(meter: Meter, now: float) -> list[float]:
    """The phase's figure (``analyse``'s) had it ended at each of the last
    ``STEADY_COUNT`` steps, newest first; whole bins only."""
    whole = meter.start + int((now - meter.start) / BIN_S) * BIN_S
    ends = [whole - k * STEADY_STEP_S for k in range(STEADY_COUNT)]
    return [analyse(meter, end).mbps for end in ends if end > meter.start]


def is_steady(meter: Meter, now: float, min_phase_s: float = MIN_STEADY_PHASE_S) -> bool:
    """Whether the figure has stopped moving: more seconds would not change it."""
    if now - meter.start < min_phase_s:
        return False
    figures = recent_figures(meter, now)
    if len(figures) < STEADY_COUNT:
        return False
    mean = statistics.fmean(figures)
    return mean > 0 and max(figures) - min(figures) <= allowed_spread(now - meter.start) * mean


def allowed_spread(elapsed: float) -> float:
    """``STEADY_SPREAD`` at ``MIN_STEADY_PHASE_S``, growing with the square of the time:
    the longer the phase, the more windows its median rests on, and a figure still
    moving by a few % after 4 s is the link's own noise, not a trend."""
    return STEADY_SPREAD * max(1.0, elapsed / MIN_STEADY_PHASE_S) ** 2


def budget_bytes(max_mb: float) -> int:
    return int(max_mb * BYTES_PER_MB)
