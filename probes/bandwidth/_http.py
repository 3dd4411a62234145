"""http backend of the bandwidth probe: parallel download and upload streams over HTTP.

How the figures are made is told in ``_meter`` (bins, ramp, median) and
``_upload`` (only confirmed bytes count). Download data is read in chunks as it
arrives and thrown away, so memory stays flat whatever the size; one large request per
stream, of the bytes its share of the data budget allows, renewed if it ends early while
budget is left (see ``_budget``: when a phase stops, and how the budget is spent).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import httpx

from jmo_doctor.api import ProbeContext
from probes._common.errors import error_text
from probes._common.net import addresses_for
from probes._common.pinned import pinned_transport, proxied
from probes.bandwidth._budget import (
    DOWNLOAD_SHARE,
    MIN_REQUEST_BYTES,
    DataBudget,
    PhaseEnd,
    budget_bytes,
    is_steady,
)
from probes.bandwidth._measurement import Measurement, Phase, Report, host_port
from probes.bandwidth._meter import (
    STAGGER_S,
    Meter,
    Throughput,
    analyse,
    run_streams,
)
from probes.bandwidth._responsiveness import (
    LOADED_SPACING_S,
    RttLog,
    idle_rtts,
    sample_while_running,
)
from probes.bandwidth._upload import upload

DOWNLOAD_REQUEST_BYTES = 100_000_000  # the largest size speed.cloudflare.com serves
#: Idle time between the two phases, for the download's queues to drain.
SETTLE_S = 0.2
#: Below this download rate the link is slow, and the upload is sent gently: uplinks are
#: rarely faster than their downlinks. One TCP flow fills a few Mbit/s; more streams would
#: only fight over the link's small queue, and their resends (1-2 % of a 1 Mbit/s link,
#: measured in the lab against iperf3) would read as a slower link. The latency probes
#: under load are spaced wider too: at 5 per second they took 1.3 % of a 1 Mbit/s uplink.
SLOW_LINK_MBPS = 5.0
SLOW_LINK_RTT_SPACING_S = 0.5


async def download(
    new_client: Callable[[], httpx.AsyncClient],
    url: str,
    streams: int,
    phase: PhaseEnd,
    budget: DataBudget,
    report: Report,
) -> tuple[Throughput, list[str], int]:
    """Download streams until the phase ends; returns the throughput, the errors and
    every byte read."""
    meter = Meter(phase.start)
    errors: list[str] = []
    ceiling = int(budget.limit * DOWNLOAD_SHARE)
    request_bytes = min(DOWNLOAD_REQUEST_BYTES, max(MIN_REQUEST_BYTES, ceiling // streams))
    out_of_budget: float | None = None  # when a stream first found the budget spent

    async def stream(index: int) -> None:
        nonlocal out_of_budget
        await asyncio.sleep(index * STAGGER_S)
        try:
            while not phase.over():
                # the server is asked for exactly the bytes reserved: never past the budget
                size = budget.reserve(request_bytes, ceiling)
                if size == 0:
                    out_of_budget = out_of_budget or time.monotonic()
                    return
                sized = url.replace("{bytes}", str(size))
                async with client.stream("GET", sized) as response:
                    if response.status_code != 200:
                        errors.append(f"HTTP {response.status_code}")
                        return
                    async for chunk in response.aiter_raw():
                        now = time.monotonic()
                        meter.add(now, len(chunk))
                        if phase.over(now):
                            return
        except httpx.HTTPError as error:
            errors.append(error_text(error, typed=True))

    def tick(now: float) -> None:
        if is_steady(meter, now):
            phase.cut(now, "steady")
        phase.answered(meter, now)
        if out_of_budget is not None:
            phase.out_of_budget(meter, out_of_budget, now)
        report("download", (now - phase.start) / (phase.at - phase.start), meter.recent_mbps(now))

    async with new_client() as client:
        await run_streams([stream(i) for i in range(streams)], lambda: phase.at, tick)
    if out_of_budget is not None:  # the budget, not the link, ended the phase
        phase.spent(meter, time.monotonic())
    tick(phase.at)  # the phase is over, however it ended: the display says so
    return analyse(meter, min(phase.at, time.monotonic())), errors, int(sum(meter.bins))


async def measure(
    ctx: ProbeContext,
    duration: float,
    max_mb: float,
    report: Report,
    enough_mbps: float | None = None,
    with_upload: bool = True,
) -> Measurement:
    """Both phases. On a link already known unstable the probe passes ``enough_mbps``
    (the download ends once its rate reaches it, see ``PhaseEnd.answered``) and no
    upload (``with_upload``): neither could change the first cause any more; nor could
    the latency under load (bufferbloat), which is then not sampled."""
    settings = ctx.config.bandwidth
    host, port = host_port(settings.download_url)
    addresses, _ = await addresses_for(ctx, host, port)
    if not addresses:
        return Measurement("http", host, unavailable=("dns", f"{host} has no address"))
    with_latency = enough_mbps is None
    address, idle = await idle_rtts(addresses, port) if with_latency else (addresses[0], [])
    streams = settings.streams
    # the transfers go where the lookup went (probes._common.pinned): none to wait for again
    pins: dict[str, list[str]] = {} if proxied() else {host: _first(address, addresses)}

    def clients(connections: int) -> Callable[[], httpx.AsyncClient]:
        def new_client() -> httpx.AsyncClient:
            limits = httpx.Limits(
                max_connections=connections, max_keepalive_connections=connections
            )
            options: dict[str, Any] = {"limits": limits}
            if pins:
                options["transport"] = pinned_transport(ctx.ssl_context(), pins, limits)
            client = ctx.http_client(**options)
            client.headers["Accept-Encoding"] = "identity"  # compressible zeros would lie
            return client

        return new_client

    phases: dict[str, Phase] = {}
    budget = DataBudget(budget_bytes(max_mb))
    # each phase opens (and ramps up) its own connections: one client for the download's
    # streams, one per upload stream (each watches its own socket)
    directions = (
        ("download", download, settings.download_url, streams),
        ("upload", upload, settings.upload_url, 1),
    )
    for direction, run, url, connections in directions[: 2 if with_upload else 1]:
        spacing = LOADED_SPACING_S
        if direction == "upload" and _slow(phases["download"]):
            streams, spacing = 1, SLOW_LINK_RTT_SPACING_S
        log = RttLog()
        rtt_host, rtt_port = host_port(url)
        if rtt_host != host:  # the upload may go elsewhere: probe the host under load
            found, _ = await addresses_for(ctx, rtt_host, rtt_port)
            address = found[0] if found else address  # no idle series: first will do
            if pins and found:
                pins[rtt_host] = found
        phase = PhaseEnd.after(duration)
        if direction == "download":
            phase.enough_mbps = enough_mbps
        sampling = sample_while_running(address, rtt_port, log, spacing)
        async with sampling if with_latency else contextlib.nullcontext():
            throughput, errors, moved = await run(
                clients(connections), url, streams, phase, budget, report
            )
        ended = time.monotonic()
        # loaded latency counts once the rate has stabilised, as networkQuality does
        stable = phase.start + throughput.ramp_s
        rtts = tuple(log.between(stable, ended))
        errors.extend(f"rtt probe: {e}" for e in log.errors)
        phases[direction] = Phase(
            throughput,
            rtts,
            log.lost_between(stable, ended),
            tuple(errors),
            end_reason=phase.reason,
            moved_bytes=moved,
        )
        await asyncio.sleep(SETTLE_S)
    extra = {"max_mb": max_mb, "reserved_bytes": budget.reserved}
    return _checked(
        Measurement(
            "http", host, tuple(idle), phases["download"], phases.get("upload"), extra=extra
        )
    )


def _first(address: str, addresses: list[str]) -> list[str]:
    """``addresses`` with the one that answered the idle handshakes first."""
    return [address, *(a for a in addresses if a != address)] if address else addresses


def _slow(download: Phase) -> bool:
    return 0 < download.throughput.mbps < SLOW_LINK_MBPS


def _checked(measurement: Measurement) -> Measurement:
    """A phase that moved no byte at all is no measurement: say why."""
    down = measurement.download
    if down is not None and down.throughput.bytes == 0:
        detail = down.errors[0] if down.errors else "no data received"
        return Measurement(
            measurement.backend, measurement.server, unavailable=("download", detail)
        )
    return measurement
