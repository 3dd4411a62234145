"""http backend of the bandwidth probe: parallel download and upload streams over HTTP.

How the figures are made, and why:

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
- **Download** data is read in chunks as it arrives and thrown away, so memory stays flat
  whatever the size; one large request per stream, renewed if it ends early.
- **Upload** counts only bytes the server confirmed: a request's bytes count when its 2xx
  answer has arrived (or the byte count the server reports in it, if smaller), spread over
  the time the request took. Bytes still in socket buffers when the phase ends are never
  counted, and the analysed window ends when the *first* stream saw its last
  confirmation, so that no stream's unconfirmed tail is counted as idle time either.
  Request sizes adapt (doubling, like slow start, then ~250 ms worth of data each) so the
  tail is short on any link.
- **Known limit**: each request bursts its body into the bottleneck queue; on a slow link
  with a small queue its tail segments are dropped with no data behind them to trigger a
  fast retransmit, so the request waits for an RTO. Parallel streams hide most of it (a
  single stream reads ~40 % low at 1 Mbit/s, four streams ~6 %). A long streaming POST
  counted by TCP_INFO's bytes_acked would avoid it.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from jmo_doctor.api import ProbeContext
from probes._net import addresses_for
from probes._responsiveness import RttLog, idle_rtts, sample_while_running

BIN_S = 0.05
INTERVAL_S = 0.2
#: Each rate the median is taken over spans this long (see the module docstring).
WINDOW_S = 1.0
#: An interval at this share of the later median counts as "rate stabilised".
STABLE_SHARE = 0.8
DOWNLOAD_REQUEST_BYTES = 100_000_000  # the largest size speed.cloudflare.com serves
UPLOAD_MIN_BYTES = 16 * 1024
UPLOAD_MAX_BYTES = 64 * 1024 * 1024
UPLOAD_REQUEST_S = 0.25
#: Streams start this far apart: simultaneous slow starts overflow small buffers at once.
STAGGER_S = 0.05
CHUNK = 64 * 1024
_ZEROS = bytes(CHUNK)
#: Idle time between the two phases, for the download's queues to drain.
SETTLE_S = 0.2
_SERVER_COUNT = re.compile(rb'"?(?:bytes|size|received)"?\s*[:=]\s*(\d+)')

#: (direction, fraction of that phase done, live Mbit/s)
Report = Callable[[str, float, float], None]


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


@dataclass(frozen=True)
class Phase:
    """One direction: its throughput and the RTTs sampled while it ran."""

    throughput: Throughput
    rtts: tuple[float, ...] = ()
    lost: int = 0
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Measurement:
    """What a backend hands the probe. ``unavailable``: (reason, detail) when nothing
    could be measured."""

    backend: str
    server: str
    idle_rtts: tuple[float, ...] = ()
    download: Phase | None = None
    upload: Phase | None = None
    unavailable: tuple[str, str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def describe(error: BaseException) -> str:
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


async def run_streams(
    streams: Sequence[Coroutine[Any, Any, None]], end: float, tick: Callable[[float], None]
) -> None:
    """Run the streams until ``end``, calling ``tick(now)`` for the live display; whatever
    is still running then is cancelled (a stalled read must not stretch the phase)."""
    tasks = [asyncio.ensure_future(s) for s in streams]
    try:
        while (left := end - time.monotonic()) > 0 and not all(t.done() for t in tasks):
            await asyncio.wait(tasks, timeout=min(0.25, left))
            tick(time.monotonic())
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def download(
    client: httpx.AsyncClient, url: str, streams: int, duration: float, report: Report
) -> tuple[Throughput, list[str]]:
    start = time.monotonic()
    end = start + duration
    meter = Meter(start)
    errors: list[str] = []

    async def stream(index: int) -> None:
        await asyncio.sleep(index * STAGGER_S)
        try:
            while time.monotonic() < end:
                async with client.stream("GET", url) as response:
                    if response.status_code != 200:
                        errors.append(f"HTTP {response.status_code}")
                        return
                    async for chunk in response.aiter_raw():
                        now = time.monotonic()
                        meter.add(now, len(chunk))
                        if now >= end:
                            return
        except httpx.HTTPError as error:
            errors.append(describe(error))

    def tick(now: float) -> None:
        report("download", (now - start) / duration, meter.recent_mbps(now))

    await run_streams([stream(i) for i in range(streams)], end, tick)
    return analyse(meter, min(end, time.monotonic())), errors


async def _body(size: int) -> AsyncIterator[bytes]:
    left = size
    while left > 0:
        yield _ZEROS if left >= CHUNK else _ZEROS[:left]
        left -= CHUNK


def confirmed_bytes(answer: bytes, sent: int) -> int:
    """The server's own count when its answer carries one (``{"bytes": N}``, ``size=N``)."""
    match = _SERVER_COUNT.search(answer[:512])
    return min(sent, int(match.group(1))) if match else sent


def next_upload_size(size: int, took_s: float, left_s: float) -> int:
    """Grow like slow start until a request takes ``UPLOAD_REQUEST_S``, then hold that
    duration; never plan a request longer than the time left."""
    rate = size / max(took_s, 1e-3)
    wanted = rate * min(UPLOAD_REQUEST_S, max(left_s, 0.0))
    return int(min(UPLOAD_MAX_BYTES, max(UPLOAD_MIN_BYTES, min(wanted, size * 4))))


async def upload(
    client: httpx.AsyncClient, url: str, streams: int, duration: float, report: Report
) -> tuple[Throughput, list[str]]:
    start = time.monotonic()
    end = start + duration
    meter = Meter(start)
    errors: list[str] = []
    last_confirmed: list[float] = []

    async def stream(index: int) -> None:
        await asyncio.sleep(index * STAGGER_S)
        size = UPLOAD_MIN_BYTES
        latest: float | None = None
        headers = {"Content-Type": "application/octet-stream"}
        try:
            while (began := time.monotonic()) < end:
                headers["Content-Length"] = str(size)
                response = await client.post(url, content=_body(size), headers=headers)
                done = time.monotonic()
                if not 200 <= response.status_code < 300:
                    errors.append(f"HTTP {response.status_code}")
                    return
                meter.add_span(began, done, confirmed_bytes(response.content, size))
                latest = done
                size = next_upload_size(size, done - began, end - done)
        except httpx.HTTPError as error:
            errors.append(describe(error))
        finally:
            if latest is not None:
                last_confirmed.append(latest)

    def tick(now: float) -> None:
        report("upload", (now - start) / duration, meter.recent_mbps(now))

    await run_streams([stream(i) for i in range(streams)], end, tick)
    # finally-blocks of cancelled streams have run: every stream's last answer is known
    window_end = min(last_confirmed) if last_confirmed else start
    return analyse(meter, min(window_end, end)), errors


async def measure(ctx: ProbeContext, duration: float, report: Report) -> Measurement:
    settings = ctx.config.bandwidth
    down_url = settings.download_url.replace("{bytes}", str(DOWNLOAD_REQUEST_BYTES))
    host, port = host_port(down_url)
    addresses, _ = await addresses_for(ctx, host, port)
    if not addresses:
        return Measurement("http", host, unavailable=("dns", f"{host} has no address"))
    address, idle = await idle_rtts(addresses, port)
    streams = settings.streams
    limits = httpx.Limits(max_connections=streams, max_keepalive_connections=streams)
    phases: dict[str, Phase] = {}
    for direction, run, url in (
        ("download", download, down_url),
        ("upload", upload, settings.upload_url),
    ):
        log = RttLog()
        rtt_host, rtt_port = host_port(url)
        if rtt_host != host:  # the upload may go elsewhere: probe the host under load
            found, _ = await addresses_for(ctx, rtt_host, rtt_port)
            address = found[0] if found else address  # no idle series: first will do
        # a client per phase: each phase opens (and ramps up) its own streams
        async with ctx.http_client(limits=limits) as client:
            client.headers["Accept-Encoding"] = "identity"  # compressible zeros would lie
            began = time.monotonic()
            async with sample_while_running(address, rtt_port, log):
                throughput, errors = await run(client, url, streams, duration, report)
            ended = time.monotonic()
        # loaded latency counts once the rate has stabilised, as networkQuality does
        stable = began + throughput.ramp_s
        rtts = tuple(log.between(stable, ended))
        errors.extend(f"rtt probe: {e}" for e in log.errors)
        phases[direction] = Phase(throughput, rtts, log.lost_between(stable, ended), tuple(errors))
        await asyncio.sleep(SETTLE_S)
    return _checked(Measurement("http", host, tuple(idle), phases["download"], phases["upload"]))


def _checked(measurement: Measurement) -> Measurement:
    """A phase that moved no byte at all is no measurement: say why."""
    down = measurement.download
    if down is not None and down.throughput.bytes == 0:
        detail = down.errors[0] if down.errors else "no data received"
        return Measurement(
            measurement.backend, measurement.server, unavailable=("download", detail)
        )
    return measurement
