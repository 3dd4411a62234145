"""Throughput arithmetic shared by the bandwidth backends: bytes binned by time, the slow-start
ramp cut off, and the figure taken as a median.

- **Bytes are binned by time** (50 ms bins from the start of the phase), and the
  throughput is the *median* of the rates of 1 s windows sliding by 200 ms over the
  phase after its ramp: a stalled second cannot move it, unlike a mean. Why not the
  median of plain 200 ms intervals: at low rates such an interval holds a handful of
  packets (±6 % per packet at 1 Mbit/s), and after a loss TCP hands the application
  the data held behind the hole in one burst, so short-interval rates are skewed and
  their median sits well below the true rate (measured: −6 % at 10 Mbit/s, 4 streams).
- **The TCP slow-start ramp is excluded**: on 200 ms intervals, interval 0 (connects,
  first request) is always dropped, then every interval until the first one that
  reaches 80 % of the median of the intervals from there on; at most half the phase is
  dropped this way. The total (ramp included) is reported next to it.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

BIN_S = 0.05
INTERVAL_S = 0.2
#: Each rate the median is taken over spans this long (see the module docstring).
WINDOW_S = 1.0
#: An interval at this share of the later median counts as "rate stabilised".
STABLE_SHARE = 0.8
#: Streams start this far apart: simultaneous slow starts overflow small buffers at once.
STAGGER_S = 0.05


class Meter:
    """Bytes per time bin since ``start`` (monotonic seconds)."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.bins: list[float] = []

    def _grow(self, index: int) -> None:
        if index >= len(self.bins):
            self.bins.extend([0.0] * (index + 1 - len(self.bins)))

    def add(self, when: float, count: float) -> None:
        index = max(0, int((when - self.start) / BIN_S))
        self._grow(index)
        self.bins[index] += count

    def add_span(self, begin: float, end: float, count: float) -> None:
        """``count`` bytes delivered evenly between ``begin`` and ``end``."""
        if end - begin <= 0:
            self.add(end, count)
            return
        rate = count / (end - begin)
        # walk bin indices, not float edges: an edge that rounds onto ``t`` never advances
        first = max(0, int((begin - self.start) / BIN_S))
        last = max(first, int((end - self.start) / BIN_S))
        self._grow(last)
        for index in range(first, last + 1):
            low = max(begin, self.start + index * BIN_S)
            high = min(end, self.start + (index + 1) * BIN_S)
            if high > low:
                self.bins[index] += rate * (high - low)

    def absorb(self, other: Meter, share: float = 1.0) -> None:
        """Add ``share`` of every bin of ``other`` (same ``start``)."""
        self._grow(len(other.bins) - 1)
        for index, count in enumerate(other.bins):
            self.bins[index] += count * share

    def recent_mbps(self, now: float, window: float = 1.0) -> float:
        first = max(0, int((now - window - self.start) / BIN_S))
        last = int((now - self.start) / BIN_S)
        seconds = min(window, max(BIN_S, now - self.start))
        return sum(self.bins[first:last]) * 8 / seconds / 1e6


@dataclass(frozen=True)
class Throughput:
    mbps: float  # median of the stable intervals
    total_mbps: float  # every byte over the whole phase, ramp included
    bytes: int
    seconds: float
    ramp_s: float  # excluded at the start
    intervals: tuple[float, ...] = ()  # Mbit/s of the windows the median is taken over
    interval_s: float = WINDOW_S

    def as_detail(self) -> dict[str, Any]:
        return {
            "mbps": round(self.mbps, 3),
            "total_mbps": round(self.total_mbps, 3),
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "ramp_s": round(self.ramp_s, 3),
            "intervals_mbps": [round(r, 3) for r in self.intervals],
            "interval_s": round(self.interval_s, 3),
        }


def stable_start(rates: Sequence[float]) -> int:
    """Index of the first interval after the ramp (see the module docstring)."""
    if len(rates) < 3:
        return 0
    limit = max(1, len(rates) // 2)
    for index in range(1, limit + 1):
        if rates[index] >= STABLE_SHARE * statistics.median(rates[index:]):
            return index
    return limit


def analyse(meter: Meter, end: float) -> Throughput:
    seconds = max(0.0, end - meter.start)
    bins = meter.bins[: int(seconds / BIN_S + 1e-9)]
    total = sum(bins)
    total_mbps = total * 8 / seconds / 1e6 if seconds > 0 else 0.0
    # the ramp is judged on short intervals, where it shows
    step = round(INTERVAL_S / BIN_S)
    starts = range(0, len(bins) - step + 1, step)
    skip = stable_start([sum(bins[i : i + step]) * 8 / INTERVAL_S / 1e6 for i in starts]) * step
    stable = bins[skip:]
    if not stable:
        return Throughput(total_mbps, total_mbps, int(total), seconds, 0.0)
    # the figure: the median of 1 s windows sliding by 200 ms over the stable part
    width = min(len(stable), round(WINDOW_S / BIN_S))
    windows = range(0, len(stable) - width + 1, step)
    rates = [sum(stable[i : i + width]) * 8 / (width * BIN_S) / 1e6 for i in windows]
    return Throughput(
        statistics.median(rates),
        total_mbps,
        int(total),
        seconds,
        skip * BIN_S,
        tuple(rates),
        width * BIN_S,
    )


#: How often a phase looks at its streams (live display, steady rate, budget).
TICK_S = 0.1


async def run_streams(
    streams: Sequence[Coroutine[Any, Any, None]],
    end: Callable[[], float],
    tick: Callable[[float], None],
) -> None:
    """Run the streams until ``end()`` (which ``tick`` may move earlier), calling
    ``tick(now)`` for the live display and the stop rules; whatever is still running then
    is cancelled (a stalled read must not stretch the phase)."""
    tasks = [asyncio.ensure_future(s) for s in streams]
    try:
        while (left := end() - time.monotonic()) > 0 and not all(t.done() for t in tasks):
            await asyncio.wait(tasks, timeout=min(TICK_S, left))
            tick(time.monotonic())
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
