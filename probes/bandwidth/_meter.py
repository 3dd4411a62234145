"""Throughput arithmetic shared by the bandwidth backends: bytes binned by time, the slow-start
ramp cut off, and the figure taken over what is left.

- **Bytes are binned by time** (50 ms bins from the start of the phase), and the
  throughput is every byte after the ramp over its time — what iperf3 counts. It used to
  be the median of 1 s windows sliding by 200 ms (a stalled second cannot move a median);
  once phases became adaptive (2.5-4 s, ended when the figure holds still) that median
  read an upload 8 % above a 10 Mbit/s link, where acknowledgements arrive in bursts,
  while the mean is bounded by what was delivered (±5 % of iperf3 at 1, 10 and
  50 Mbit/s, `tests/test_bandwidth_lab.py`). The 1 s windows are kept as evidence of how
  steady the link was.
- **The TCP slow-start ramp is excluded**: on 200 ms intervals, interval 0 (connects,
  first request) is always dropped, then every interval until the first one that
  reaches 80 % of the median of the intervals from there on; at most half the phase is
  dropped this way. The total (ramp included) is reported next to it.
- **An upload up to speed in interval 0 has no ramp** (``upload=True``): its bytes are
  counted by acknowledgements, and a busy machine (the lab server's or the phone's)
  acknowledges or reads them late: a stall, then a catch-up burst above the link's
  rate. Cutting up to the burst counted the stall's bytes in less time (10 Mbit/s
  uploads read 4-11 % above the link, and above what the server received). A download's
  dip after interval 0 is real — four streams' slow starts overflowing a small queue,
  then loss recovery — and is cut as before (ending the ramp at interval 0 there read a
  1 Mbit/s download 0.985 of iperf3 instead of 1.004, median of 6; `make bench`).
  For the same reason an upload's window loses the stall it ends on: the catch-up falls
  past the window's end.
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
#: Each window kept as evidence spans this long (see the module docstring).
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
    mbps: float  # every byte after the ramp over its time: the rate iperf3 would count
    total_mbps: float  # every byte over the whole phase, ramp included
    bytes: int
    seconds: float
    ramp_s: float  # excluded at the start
    intervals: tuple[float, ...] = ()  # Mbit/s of 1 s windows over the stable part
    interval_s: float = WINDOW_S
    #: seconds from the first byte to the end of the phase (None: the bytes were not timed)
    delivery_s: float | None = None
    #: how unevenly those seconds delivered the bytes (see ``unevenness``)
    unevenness: float = 0.0

    def as_detail(self) -> dict[str, Any]:
        return {
            "mbps": round(self.mbps, 3),
            "total_mbps": round(self.total_mbps, 3),
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "ramp_s": round(self.ramp_s, 3),
            "intervals_mbps": [round(r, 3) for r in self.intervals],
            "interval_s": round(self.interval_s, 3),
            "delivery_s": None if self.delivery_s is None else round(self.delivery_s, 3),
            "unevenness": round(self.unevenness, 3),
        }


def stable_start(rates: Sequence[float], *, upload: bool = False) -> int:
    """Index of the first interval after the ramp (see the module docstring)."""
    if len(rates) < 3:
        return 0
    limit = max(1, len(rates) // 2)
    for index in range(0 if upload else 1, limit + 1):
        if rates[index] >= STABLE_SHARE * statistics.median(rates[index:]):
            return max(1, index)
    return limit


def analyse(meter: Meter, end: float, *, upload: bool = False) -> Throughput:
    seconds = max(0.0, end - meter.start)
    bins = meter.bins[: int(seconds / BIN_S + 1e-9)]
    total = sum(bins)
    total_mbps = total * 8 / seconds / 1e6 if seconds > 0 else 0.0
    # the ramp is judged on short intervals, where it shows
    step = round(INTERVAL_S / BIN_S)
    starts = range(0, len(bins) - step + 1, step)
    intervals = [sum(bins[i : i + step]) * 8 / INTERVAL_S / 1e6 for i in starts]
    skip = stable_start(intervals, upload=upload) * step
    stable = bins[skip:]
    if upload:
        stable = without_trailing_stall(stable)
    delivering = _from_first_byte(bins)
    delivery_s, uneven = len(delivering) * BIN_S, unevenness(delivering)
    if not stable:
        return Throughput(
            total_mbps, total_mbps, int(total), seconds, 0.0, (), WINDOW_S, delivery_s, uneven
        )
    # The figure: the bytes after the ramp over their time. Short adaptive phases showed
    # that a median of 1 s windows is biased where acknowledgements arrive in bursts (an
    # upload read 8 % above the link); the mean is bounded by what was delivered. The
    # windows stay as evidence of how steady the link was.
    width = min(len(stable), round(WINDOW_S / BIN_S))
    windows = range(0, len(stable) - width + 1, step)
    rates = [sum(stable[i : i + width]) * 8 / (width * BIN_S) / 1e6 for i in windows]
    return Throughput(
        sum(stable) * 8 / (len(stable) * BIN_S) / 1e6,
        total_mbps,
        int(total),
        seconds,
        skip * BIN_S,
        tuple(rates),
        width * BIN_S,
        delivery_s,
        uneven,
    )


def without_trailing_stall(bins: list[float]) -> list[float]:
    """An upload's bins without the stall they end on (at most a quarter of them): the
    window ends at the first stream's last confirmation, and the other streams' bytes
    acknowledged late — the catch-up after such a stall — fall beyond it (a 50 Mbit/s
    upload read 44.5 Mbit/s where its server received 47)."""
    if len(bins) < 4:
        return bins
    level = STABLE_SHARE * statistics.median(bins)
    keep, floor = len(bins), len(bins) - len(bins) // 4
    while keep > floor and bins[keep - 1] < level:
        keep -= 1
    return bins[:keep]


def _from_first_byte(bins: Sequence[float]) -> Sequence[float]:
    first = next((i for i, count in enumerate(bins) if count > 0), len(bins))
    return bins[first:]


def unevenness(bins: Sequence[float]) -> float:
    """How far the bytes delivered fell behind, or ran ahead of, an even delivery over the
    same bins: the largest gap between the share of the bytes in and the share of the
    time gone (0: every bin alike; near 1: one burst after a long wait).

    A link losing packets at random delivers in bursts between stalls (TCP waiting out
    its retransmission timer); a slow link delivers steadily at its rate. Reads come in
    TLS records (16 KB): at 300 kbit/s one every 0.44 s, so a few seconds of a steady slow
    link already read 0.1-0.3 here, a lossy one 0.4-1 (lab, 30 % loss each way)."""
    total = sum(bins)
    if total <= 0:
        return 0.0
    count, delivered, worst = len(bins), 0.0, 0.0
    for index, size in enumerate(bins):
        # both edges of the bin: the bytes arrive at some instant inside it
        worst = max(worst, abs(delivered / total - index / count))
        delivered += size
        worst = max(worst, abs(delivered / total - (index + 1) / count))
    return worst


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
