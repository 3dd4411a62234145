"""Latency under load: TCP handshake RTTs to the bandwidth host, idle and while loaded.

Modelled on Apple's networkQuality and the IETF responsiveness draft
(draft-ietf-ippm-responsiveness): probes on *fresh* connections ("foreign" probes) are
started on a fixed schedule while the load runs, so a queue that fills up in front of the
bottleneck shows up as handshakes that take longer. A handshake is one round trip that
carries no data, the purest view of queueing delay we get without raw sockets.

Responsiveness is reported in round trips per minute (RPM = 60 000 / latency in ms), with
the latency a 95 %-trimmed mean as the draft asks (the slowest 5 % are dropped: a single
retransmitted SYN must not decide the figure).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import statistics
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from probes._common.tcp import attempt

#: Spacing of the probes while loaded: 5 per second, 35-40 samples in a default phase.
#: Each costs a few hundred bytes on the wire: at 10 per second they took 2.5 % of a
#: 1 Mbit/s link from the transfer (measured), at 5 about 1 %.
LOADED_SPACING_S = 0.2
IDLE_SAMPLES = 6
IDLE_SPACING_S = 0.05
IDLE_GRACE_S = 0.3
#: A handshake slower than this under load is still a sample (bufferbloat can reach
#: seconds); only one that never completes is counted as lost.
PROBE_TIMEOUT_S = 3.0


@dataclass
class RttLog:
    """RTT samples with the time (monotonic) each probe was started."""

    samples: list[tuple[float, float | None]] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)  # why probes were lost

    def between(self, start: float, end: float) -> list[float]:
        return [rtt for t, rtt in self.samples if start <= t <= end and rtt is not None]

    def lost_between(self, start: float, end: float) -> int:
        return sum(1 for t, rtt in self.samples if start <= t <= end and rtt is None)


async def idle_rtts(addresses: Sequence[str], port: int) -> tuple[str, list[float]]:
    """A few handshakes before any load: the baseline the loaded RTTs are compared with,
    and the address they go to — the first that answers (an IPv6 address may be listed
    first and be refused, while the transfer itself falls back to IPv4)."""
    for address in addresses:
        log = RttLog()
        async with sample_while_running(address, port, log, IDLE_SPACING_S):
            # probes unanswered by then are dropped: an idle path answers in far less
            await asyncio.sleep(IDLE_SPACING_S * (IDLE_SAMPLES - 0.5) + IDLE_GRACE_S)
        rtts = [rtt for _, rtt in log.samples if rtt is not None]
        if rtts:
            return address, rtts
    return (addresses[0] if addresses else ""), []


@contextlib.asynccontextmanager
async def sample_while_running(
    address: str, port: int, log: RttLog, spacing: float = LOADED_SPACING_S
) -> AsyncIterator[None]:
    """Start a handshake every ``spacing`` seconds until the block ends.

    Probes are not chained: under heavy bufferbloat one handshake may take a second, and
    sampling must not slow down because of it. Probes still running when the block ends
    are dropped, neither lost nor kept: they could not finish, through no fault of the path.
    """
    pending: set[asyncio.Task[None]] = set()

    async def one(started: float) -> None:
        sample = await attempt(address, port, PROBE_TIMEOUT_S)
        log.samples.append((started, sample.rtt_ms))
        if sample.rtt_ms is None:
            log.errors[sample.error] += 1

    async def schedule() -> None:
        while True:
            task = asyncio.ensure_future(one(time.monotonic()))
            pending.add(task)
            task.add_done_callback(pending.discard)
            await asyncio.sleep(spacing)

    ticker = asyncio.ensure_future(schedule())
    try:
        yield
    finally:
        ticker.cancel()
        for task in [*pending]:
            task.cancel()
        await asyncio.gather(ticker, *pending, return_exceptions=True)


def trimmed_mean(values: Sequence[float], keep: float = 0.95) -> float:
    """The mean of the fastest ``keep`` share (at least one value)."""
    ordered = sorted(values)
    count = max(1, math.floor(len(ordered) * keep))
    return statistics.fmean(ordered[:count])


def rpm(latency_ms: float) -> float:
    return round(60_000.0 / latency_ms, 1) if latency_ms > 0 else 0.0


@dataclass(frozen=True)
class Responsiveness:
    """Idle vs loaded latency for the report and the bufferbloat verdict."""

    idle_ms: float | None
    loaded_ms: float | None  # trimmed mean under load (both directions)
    added_ms: float | None  # worst direction: its median loaded RTT minus the idle median
    rpm: float | None
    idle_rpm: float | None
    samples: int
    lost: int

    def metrics(self) -> dict[str, float]:
        named = {
            "idle_rtt_ms": self.idle_ms,
            "loaded_rtt_ms": self.loaded_ms,
            "bufferbloat_ms": self.added_ms,
            "responsiveness_rpm": self.rpm,
            "idle_rpm": self.idle_rpm,
        }
        return {k: round(v, 2) for k, v in named.items() if v is not None}


def summarize(
    idle: Sequence[float], loaded: Sequence[Sequence[float]], lost: int = 0
) -> Responsiveness:
    """``loaded``: one list of RTTs per loaded phase (download, upload)."""
    idle_median = statistics.median(idle) if idle else None
    everything = [rtt for phase in loaded for rtt in phase]
    loaded_ms = trimmed_mean(everything) if everything else None
    added: float | None = None
    if idle_median is not None:
        # medians per direction: a few unlucky probes must not read as bufferbloat
        deltas = [statistics.median(p) - idle_median for p in loaded if p]
        added = max(0.0, max(deltas)) if deltas else None
    return Responsiveness(
        idle_ms=idle_median,
        loaded_ms=loaded_ms,
        added_ms=added,
        rpm=rpm(loaded_ms) if loaded_ms is not None else None,
        idle_rpm=rpm(trimmed_mean(idle)) if idle else None,
        samples=len(everything),
        lost=lost,
    )
