"""Upload half of the http bandwidth backend: only bytes the server confirmed count.

- **Streaming (Linux and Android)**: each stream sends long chunked POSTs (a quarter of
  the phase, at most 3 s or ``UPLOAD_MAX_BYTES`` each, the last one ending with the
  phase), so the pipe seldom empties between requests. When a request's bytes arrived
  is read from the kernel every bin: TCP_INFO's ``tcpi_bytes_acked`` counts what the
  server's TCP acknowledged — never what was merely written to the socket. Those bytes
  only count once the server has answered the request with a 2xx (and no more than the
  count it reports, if it reports one): an acknowledgement from a middlebox alone proves
  nothing. TCP_NOTSENT_LOWAT keeps about one bin's worth unsent in the socket and writes
  are as small, so a request ends soon after its time is up even on a slow link
  (measured: four streams at 1 Mbit/s read within 2–5 % of iperf3, where the requests
  below read 6 % low).
- **By requests (elsewhere)**: without TCP_INFO, a request's confirmed bytes are spread
  over the time it took. Request sizes adapt (doubling, like slow start, then ~250 ms
  worth of data each) so the unconfirmed tail is short. Its known limit: each request
  bursts its body into the bottleneck queue, and on a slow link with a small queue the
  tail segments can be dropped with no data behind them to trigger a fast retransmit;
  the request then waits for a retransmission timeout (a single stream reads ~35 % low
  at 1 Mbit/s, four streams ~6 %). Streaming has no such tail.

Either way the analysed window ends where the *first* stream's confirmed data ends, so
no stream's unconfirmed tail is counted as idle time.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import struct
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from probes._common.errors import error_text
from probes.bandwidth._budget import DataBudget, PhaseEnd, is_steady
from probes.bandwidth._measurement import Report
from probes.bandwidth._meter import (
    BIN_S,
    STAGGER_S,
    Meter,
    Throughput,
    analyse,
    run_streams,
)

UPLOAD_MIN_BYTES = 16 * 1024
#: Also the largest streaming request: Cloudflare refuses bodies over 100 MB.
UPLOAD_MAX_BYTES = 64 * 1024 * 1024
UPLOAD_REQUEST_S = 0.25
#: A streaming request lasts a quarter of the phase (within these bounds): what a stream
#: carried is confirmed in parts, so a last answer that comes too late — a stream in
#: retransmission backoff on a slow link — costs only the last part (the window ends
#: before it) instead of that stream's whole share.
UPLOAD_STREAM_REQUEST_S = (0.5, 3.0)
#: How long after the phase the last streaming requests may take to be confirmed.
UPLOAD_DRAIN_S = 1.5
CHUNK = 64 * 1024
_ZEROS = bytes(CHUNK)
_SERVER_COUNT = re.compile(rb'"?(?:bytes|size|received)"?\s*[:=]\s*(\d+)')
_HEADERS = {"Content-Type": "application/octet-stream"}

#: struct tcp_info (linux/tcp.h): tcpi_bytes_acked is the u64 at this offset (Linux 4.1+).
_BYTES_ACKED_AT = 120
_TCP_INFO = getattr(socket, "TCP_INFO", 11 if sys.platform.startswith("linux") else None)
_TCP_NOTSENT_LOWAT = getattr(socket, "TCP_NOTSENT_LOWAT", 25)
#: Bounds of a streaming write and of the unsent bytes the kernel holds (see ``_Acks``).
_MIN_WRITE = 4 * 1024
_MAX_LOWAT = 4 * 1024 * 1024


class SocketOptions(Protocol):
    """What is needed of a socket here; asyncio hands out a ``TransportSocket`` wrapper."""

    def getsockopt(self, level: int, option: int, size: int, /) -> bytes: ...

    def setsockopt(self, level: int, option: int, value: int, /) -> None: ...


def bytes_acked(sock: SocketOptions) -> int | None:
    """Bytes the peer's TCP has acknowledged on ``sock``; None where the kernel can't say."""
    if _TCP_INFO is None or sys.platform == "darwin":
        return None
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, 256)
    except OSError:
        return None
    if len(raw) < _BYTES_ACKED_AT + 8:
        return None
    return int(struct.unpack_from("=Q", raw, _BYTES_ACKED_AT)[0])


def acks_readable() -> bool:
    """Whether this platform can say when uploaded bytes arrived (see the docstring)."""
    with socket.socket() as probe:
        return bytes_acked(probe) is not None


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


async def _sized_body(size: int) -> AsyncIterator[bytes]:
    left = size
    while left > 0:
        yield _ZEROS if left >= CHUNK else _ZEROS[:left]
        left -= CHUNK


@dataclass
class Confirmations:
    """Confirmed bytes over time, and where each stream's confirmed data ends."""

    meter: Meter
    ends: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def window_end(self, end: float) -> float:
        return min([end, *self.ends]) if self.ends else self.meter.start


async def upload(
    new_client: Callable[[], httpx.AsyncClient],
    url: str,
    streams: int,
    phase: PhaseEnd,
    budget: DataBudget,
    report: Report,
) -> tuple[Throughput, list[str], int]:
    """Upload streams until the phase ends; returns the throughput, the errors and every
    byte written."""
    start = phase.start
    duration = phase.at - start
    done = Confirmations(Meter(start))
    live = Meter(start)  # acknowledged bytes, confirmed or not: only for the live display
    streaming = acks_readable()
    request_s = min(UPLOAD_STREAM_REQUEST_S[1], max(UPLOAD_STREAM_REQUEST_S[0], duration / 4))
    before = budget.reserved

    def sender() -> _Sender:
        if streaming:
            return _StreamingSender(url, phase, budget, done.meter, live, request_s)
        return _RequestSender(url, phase, budget, done.meter)

    def tick(now: float) -> None:
        shown = live if streaming else done.meter
        # acknowledged bytes tell a steady rate as they come; confirmations come late
        if is_steady(shown, now):
            phase.cut(now, "steady")
        report("upload", min(1.0, (now - start) / (phase.at - start)), shown.recent_mbps(now))

    drain = UPLOAD_DRAIN_S if streaming else 0.0
    await run_streams(
        [_stream(i, new_client, phase, budget, done, sender()) for i in range(streams)],
        lambda: phase.at + drain,
        tick,
    )
    if budget.left() == 0:
        phase.spent(live if streaming else done.meter, done.window_end(phase.at))
    tick(phase.at)  # the phase is over, however it ended: the display says so
    return upload_figure(done, phase.at), done.errors, budget.reserved - before


def upload_figure(done: Confirmations, end: float) -> Throughput:
    """The phase's figure: whole bins up to the first stream's last confirmation (no
    stream's unconfirmed tail counted as idle time); or, for an upload the budget ended
    within its first bin (gigabit fibre sends the 10 MB left in some 80 ms), where that
    window holds no byte, every confirmed byte over the time to the last confirmation —
    streams done early then count as idle: a lower bound, as such a phase is said to be."""
    figure = analyse(done.meter, done.window_end(end), upload=True)
    total = sum(done.meter.bins)
    if figure.bytes > 0 or not done.ends or total <= 0:
        return figure
    seconds = max(done.ends) - done.meter.start
    mbps = total * 8 / seconds / 1e6 if seconds > 0 else 0.0
    return Throughput(mbps, mbps, int(total), seconds, 0.0, (mbps,), seconds)


class _Refused(Exception):
    """The server answered an upload with something else than 2xx."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")


class _Sender(Protocol):
    async def send(self, client: httpx.AsyncClient) -> float:
        """Send one request; add what the server confirmed to the meter and return the
        time its confirmed data reaches. Raises ``_Refused`` or ``httpx.HTTPError``."""
        ...


async def _stream(
    index: int,
    new_client: Callable[[], httpx.AsyncClient],
    phase: PhaseEnd,
    budget: DataBudget,
    done: Confirmations,
    sender: _Sender,
) -> None:
    """One upload stream: requests until the phase ends or the budget is spent, on a
    connection of its own."""
    await asyncio.sleep(index * STAGGER_S)
    latest: float | None = None
    try:
        async with new_client() as client:
            while not phase.over() and budget.left() > 0:
                latest = await sender.send(client)
    except (_Refused, httpx.HTTPError) as error:
        done.errors.append(
            str(error) if isinstance(error, _Refused) else error_text(error, typed=True)
        )
    finally:  # also when cancelled at the end of the phase
        if latest is not None:
            done.ends.append(latest)


def _check(response: httpx.Response) -> None:
    if not 200 <= response.status_code < 300:
        raise _Refused(response.status_code)


class _RequestSender:
    """Requests of a known size; their confirmed bytes spread over the time each took."""

    def __init__(self, url: str, phase: PhaseEnd, budget: DataBudget, meter: Meter) -> None:
        self.url, self.phase, self.budget, self.meter = url, phase, budget, meter
        self.size = UPLOAD_MIN_BYTES

    async def send(self, client: httpx.AsyncClient) -> float:
        began = time.monotonic()
        size = self.budget.reserve(self.size)
        headers = {**_HEADERS, "Content-Length": str(size)}
        response = await client.post(self.url, content=_sized_body(size), headers=headers)
        answered = time.monotonic()
        _check(response)
        self.meter.add_span(began, answered, confirmed_bytes(response.content, size))
        self.size = next_upload_size(size, answered - began, self.phase.at - answered)
        return answered


class _Acks:
    """Acknowledged bytes on the stream's connection, found through httpcore's trace hook,
    and the stream's recent rate, which sizes its writes."""

    def __init__(self) -> None:
        self.sock: SocketOptions | None = None
        self.seen = 0
        self.rate = 0.0  # bytes per second, smoothed
        self._sampled_at = time.monotonic()

    async def trace(self, event: str, info: dict[str, Any]) -> None:
        if event != "connection.connect_tcp.complete":
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is not None:
            self.sock = sock
            self.seen = bytes_acked(sock) or 0
            self._sampled_at = time.monotonic()
            self._pace()

    def take(self) -> tuple[int, float, float]:
        """Bytes acknowledged since the last reading, and the span they arrived in: from
        that reading to now. A reading can come late (the event loop busy starting the
        other streams): what was acknowledged meanwhile belongs to the whole span, not
        to the moment it was read — piled into one bin, it made a burst that the ramp
        cut (which starts at the first interval up to speed) took as the link's rate, and
        the upload read 2-6 % above a 10 Mbit/s link."""
        now = time.monotonic()
        acked = bytes_acked(self.sock) if self.sock is not None else None
        since, self._sampled_at = self._sampled_at, now
        if acked is None:
            return 0, since, now
        new, self.seen = max(0, acked - self.seen), acked
        if now > since:
            self.rate += 0.3 * (new / (now - since) - self.rate)
            self._pace()
        return new, since, now

    def bin_bytes(self, cap: int) -> int:
        """About one bin's worth at the recent rate, at least ``_MIN_WRITE``."""
        return int(min(cap, max(_MIN_WRITE, self.rate * BIN_S)))

    def _pace(self) -> None:
        """Keep about one bin's worth unsent in the kernel: a full pipe on a fast link,
        a short drain on a slow one (the default lets megabytes wait)."""
        if self.sock is not None:
            with contextlib.suppress(OSError):
                lowat = self.bin_bytes(_MAX_LOWAT)
                self.sock.setsockopt(socket.IPPROTO_TCP, _TCP_NOTSENT_LOWAT, lowat)


class _Request:
    """One streaming POST: its acknowledged bytes, held until the server confirms them."""

    def __init__(self, start: float) -> None:
        self.acked = Meter(start)
        self.total = 0
        self.last_ack: float | None = None
        self.sent = 0

    def sample(self, acks: _Acks, live: Meter) -> None:
        new, since, now = acks.take()
        if new:
            self.acked.add_span(since, now, new)
            live.add_span(since, now, new)
            self.total += new
            self.last_ack = now

    async def body(
        self, end: Callable[[], float], acks: _Acks, budget: DataBudget
    ) -> AsyncIterator[bytes]:
        # writes of about one bin: a write must not outlast the request by much; each is
        # reserved first, so the budget is never passed
        while time.monotonic() < end() and self.sent < UPLOAD_MAX_BYTES:
            size = budget.reserve(acks.bin_bytes(CHUNK))
            if size == 0:
                return
            yield _ZEROS[:size]
            self.sent += size


class _StreamingSender:
    """Long chunked requests timed by the connection's acknowledgements."""

    def __init__(
        self,
        url: str,
        phase: PhaseEnd,
        budget: DataBudget,
        meter: Meter,
        live: Meter,
        request_s: float,
    ) -> None:
        self.url, self.phase, self.budget = url, phase, budget
        self.meter, self.live = meter, live
        self.request_s = request_s
        self.acks = _Acks()

    async def send(self, client: httpx.AsyncClient) -> float:
        began = time.monotonic()
        request = _Request(self.meter.start)
        sampler = asyncio.ensure_future(_sample_every_bin(request, self.acks, self.live))
        try:
            response = await client.post(
                self.url,
                content=request.body(
                    lambda: min(self.phase.at, began + self.request_s), self.acks, self.budget
                ),
                headers=_HEADERS,
                extensions={"trace": self.acks.trace},
            )
        finally:
            sampler.cancel()
        request.sample(self.acks, self.live)  # up to the answer
        _check(response)
        confirmed = confirmed_bytes(response.content, request.sent)
        if request.total and request.last_ack is not None:
            # acks include headers and TLS: scaled to what the server confirmed
            self.meter.absorb(request.acked, min(1.0, confirmed / request.total))
            return request.last_ack
        answered = time.monotonic()  # the kernel said nothing after all: spread it
        self.meter.add_span(began, answered, confirmed)
        return answered


async def _sample_every_bin(request: _Request, acks: _Acks, live: Meter) -> None:
    while True:
        await asyncio.sleep(BIN_S)
        request.sample(acks, live)
