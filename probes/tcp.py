"""tcp probe: repeated TCP handshakes per target and address family — RTT, jitter, loss.

Attempts are started on a fixed schedule (like ``ping``), not one after the other, so a
dead host costs one timeout rather than ``samples`` timeouts. The RTT is the kernel's own
measurement of the SYN → SYN-ACK exchange (``TCP_INFO.tcpi_rtt``) where there is one, so
that event-loop scheduling does not inflate it; elsewhere the wall time around
``sock_connect``.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import math
import socket
import statistics
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from jmo_doctor.api import (
    BaseProbe,
    Finding,
    LocalText,
    Messages,
    ProbeContext,
    ProbeResult,
    Status,
)
from jmo_doctor.config import Target
from probes._net import addresses_for, budget, code_counts, family_name, family_of

ATTEMPT_TIMEOUT_S = 2.0
SPACING_S = 0.15
#: A SYN answered this much later than the kernel's RTT was retransmitted: its first try
#: was lost, which ping would count as loss too (initial RTO is 1 s).
RETRANSMIT_GAP_MS = 800.0
#: These errors mean "no route for this family" (e.g. no IPv6 here): not a broken path.
_NO_ROUTE = {errno.ENETUNREACH, errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT}
_TCPI_RTT_OFFSET = 68  # struct tcp_info: 8 bytes of u8 fields, then u32s; rtt is the 16th


@dataclass(frozen=True)
class Sample:
    rtt_ms: float | None  # None: lost
    error: str = ""  # "timeout" | "refused" | "no_route" | "retransmitted" | other


@dataclass(frozen=True)
class Series:
    target: Target
    family: int
    address: str
    samples: tuple[Sample, ...]

    @property
    def rtts(self) -> list[float]:
        return [s.rtt_ms for s in self.samples if s.rtt_ms is not None]

    @property
    def loss_pct(self) -> float:
        lost = sum(1 for s in self.samples if s.rtt_ms is None)
        return round(100.0 * lost / len(self.samples), 1) if self.samples else 100.0

    def failed_with(self, error: str) -> bool:
        return not self.rtts and all(s.error == error for s in self.samples)


def _kernel_rtt_ms(sock: socket.socket) -> float | None:
    option = getattr(socket, "TCP_INFO", None)
    if option is None:
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, option, 104)
        (rtt_us,) = struct.unpack_from("I", info, _TCPI_RTT_OFFSET)
    except (OSError, struct.error):
        return None
    return rtt_us / 1000.0 if rtt_us > 0 else None


async def attempt(address: str, port: int, wait_s: float) -> Sample:
    """One handshake, closed at once (no TLS, no data): what ping would measure, over TCP."""
    loop = asyncio.get_running_loop()
    try:
        sock = socket.socket(family_of(address), socket.SOCK_STREAM)
    except OSError:  # e.g. IPv6 disabled in this kernel
        return Sample(None, "no_route")
    sock.setblocking(False)
    try:
        start = time.perf_counter()
        await asyncio.wait_for(loop.sock_connect(sock, (address, port)), wait_s)
        wall_ms = (time.perf_counter() - start) * 1000.0
        kernel_ms = _kernel_rtt_ms(sock)
        if kernel_ms is not None and wall_ms - kernel_ms > RETRANSMIT_GAP_MS:
            return Sample(None, "retransmitted")
        return Sample(round(kernel_ms if kernel_ms is not None else wall_ms, 3))
    except TimeoutError:
        return Sample(None, "timeout")
    except ConnectionRefusedError:
        return Sample(None, "refused")
    except ConnectionResetError:
        # A SYN refused gives ECONNREFUSED; a reset seen on connect means the handshake
        # completed and the server (or a middlebox) reset the connection right after,
        # before the event loop got to the socket: the host answered.
        wall_ms = (time.perf_counter() - start) * 1000.0
        kernel_ms = _kernel_rtt_ms(sock)
        return Sample(round(kernel_ms if kernel_ms is not None else wall_ms, 3))
    except OSError as error:
        return Sample(None, "no_route" if error.errno in _NO_ROUTE else (str(error) or "error"))
    finally:
        sock.close()


def mark_retransmitted(samples: Sequence[Sample]) -> tuple[Sample, ...]:
    """Count handshakes completed only by a retransmission as lost, as ping would.

    A lost SYN shows in :func:`attempt` (the kernel's RTT is that of the retried SYN). A
    lost SYN-ACK does not: the server resends it after its own initial RTO (1 s) and the
    kernel measures the whole wait as the RTT. Such a sample stands out from the series'
    fastest handshake by about that RTO, which no real change of path delay does between
    handshakes a fraction of a second apart.
    """
    rtts = [s.rtt_ms for s in samples if s.rtt_ms is not None]
    if not rtts:
        return tuple(samples)
    limit = min(rtts) + RETRANSMIT_GAP_MS
    return tuple(
        Sample(None, "retransmitted") if s.rtt_ms is not None and s.rtt_ms > limit else s
        for s in samples
    )


def percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
    return ordered[rank - 1]


def jitter(values: Sequence[float]) -> float:
    """RFC 3550 style: the mean absolute difference of consecutive RTTs."""
    if len(values) < 2:
        return 0.0
    return statistics.fmean(abs(b - a) for a, b in itertools.pairwise(values))


def stats(series: Series) -> dict[str, float]:
    rtts = series.rtts
    if not rtts:
        return {"loss_pct": 100.0}
    return {
        "rtt_min_ms": round(min(rtts), 3),
        "rtt_median_ms": round(statistics.median(rtts), 3),
        "rtt_p95_ms": round(percentile(rtts, 95), 3),
        "rtt_max_ms": round(max(rtts), 3),
        "jitter_ms": round(jitter(rtts), 3),
        "loss_pct": series.loss_pct,
    }


class TcpProbe(BaseProbe):
    id = "tcp"
    title: ClassVar[LocalText] = {
        "id": "Koneksi TCP dan latensi",
        "en": "TCP reachability and latency",
    }
    order = 40
    messages: ClassVar[Messages] = {
        "tcp.refused": {
            "id": "{target} menolak koneksi ({family}, {address}).",
            "en": "{target} refuses connections ({family}, {address}).",
        },
        "tcp.timeout": {
            "id": "{target} tidak terjangkau lewat {family} ({address}): waktu habis.",
            "en": "{target} is unreachable over {family} ({address}): timed out.",
        },
        "tcp.ipv6_broken": {
            "id": "IPv6 ke {target} ({address}) gagal, IPv4 berfungsi.",
            "en": "IPv6 to {target} ({address}) fails while IPv4 works.",
        },
        "latency.high": {
            "id": "Latensi ke {target} tinggi: median {median_ms:.0f} ms.",
            "en": "Latency to {target} is high: median {median_ms:.0f} ms.",
        },
        "latency.jitter": {
            "id": "Latensi ke {target} tidak stabil: jitter {jitter_ms:.0f} ms.",
            "en": "Latency to {target} is unstable: jitter {jitter_ms:.0f} ms.",
        },
        "latency.loss": {
            "id": "{loss_pct:.0f}% percobaan koneksi ke {target} hilang.",
            "en": "{loss_pct:.0f}% of connection attempts to {target} were lost.",
        },
    }

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        targets = list(ctx.targets)
        resolved = await asyncio.gather(*(addresses_for(ctx, t.host, t.port) for t in targets))
        plans: list[tuple[Target, int, str]] = []
        sources: dict[str, str] = {}
        for target, (addresses, source) in zip(targets, resolved, strict=True):
            sources[target.name] = source
            firsts: dict[int, str] = {}
            for address in addresses:
                firsts.setdefault(family_of(address), address)
            plans.extend((target, family, address) for family, address in firsts.items())
        if not plans:
            return ProbeResult(
                self.id,
                Status.SKIP,
                ctx.text(
                    id="Tidak ada target yang alamatnya diketahui (lihat DNS).",
                    en="No target address could be found (see DNS).",
                ),
                details={"targets": {n: {"source": s} for n, s in sources.items()}},
            )
        all_series = await self._measure(ctx, plans)
        findings, metrics, details = _judge(ctx, targets, all_series, sources)
        failing = {"tcp.timeout", "tcp.refused"}
        working = {s.target.name for s in all_series if s.rtts}
        dead = any(f.code in failing and f.target not in working for f in findings)
        status = Status.FAIL if dead else Status.WARN if findings else Status.PASS
        return ProbeResult(
            self.id, status, _summary(ctx, all_series, findings), tuple(findings), metrics, details
        )

    async def _measure(
        self, ctx: ProbeContext, plans: list[tuple[Target, int, str]]
    ) -> list[Series]:
        samples = ctx.config.latency.samples
        total = budget(ctx, 60.0)
        timeout = min(ATTEMPT_TIMEOUT_S, max(0.05, total * 0.5))
        # spread the attempts so the last one can still time out before the deadline
        spacing = min(SPACING_S, max(0.005, (total - timeout) / max(1, samples - 1)))
        start = time.monotonic()
        end = start + total

        async def scheduled(index: int, address: str, port: int) -> Sample:
            await asyncio.sleep(max(0.0, start + index * spacing - time.monotonic()))
            left = end - time.monotonic()
            if left < 0.01:
                return Sample(None, "timeout")
            return await attempt(address, port, min(timeout, left))

        async def series(target: Target, family: int, address: str) -> Series:
            got = await asyncio.gather(
                *(scheduled(i, address, target.port) for i in range(samples))
            )
            return Series(target, family, address, mark_retransmitted(got))

        ctx.progress(0.0, ctx.text(id="mengukur latensi", en="measuring latency"))
        return list(await asyncio.gather(*(series(*plan) for plan in plans)))


def _judge(
    ctx: ProbeContext,
    targets: Sequence[Target],
    all_series: Sequence[Series],
    sources: dict[str, str],
) -> tuple[list[Finding], dict[str, float], dict[str, Any]]:
    latency = ctx.config.latency
    findings: list[Finding] = []
    metrics: dict[str, float] = {}
    details: dict[str, Any] = {}
    for target in targets:
        mine = [s for s in all_series if s.target.name == target.name]
        details[target.name] = {
            "source": sources[target.name],
            "families": {
                family_name(s.family): {
                    "address": s.address,
                    "rtts_ms": [x.rtt_ms for x in s.samples],
                    "errors": sorted({x.error for x in s.samples if x.error}),
                    **stats(s),
                }
                for s in mine
            },
        }
        v4_works = any(s.rtts for s in mine if s.family == socket.AF_INET)
        any_works = any(s.rtts for s in mine)
        for s in mine:
            if s.rtts or (any_works and s.failed_with("no_route")):
                continue  # no route for one family (e.g. no IPv6 here) is not a broken path
            family = family_name(s.family)
            if s.family == socket.AF_INET6 and v4_works:
                findings.append(ctx.finding("tcp.ipv6_broken", target.name, address=s.address))
            elif s.failed_with("refused"):
                findings.append(
                    ctx.finding("tcp.refused", target.name, family=family, address=s.address)
                )
            else:
                findings.append(
                    ctx.finding("tcp.timeout", target.name, family=family, address=s.address)
                )
        # latency is judged on the family the system would use first, if it works
        primary = next((s for s in mine if s.rtts), None)
        if primary is None:
            continue
        numbers = stats(primary)
        metrics.update({f"{target.name}.{key}": value for key, value in numbers.items()})
        metrics[f"{target.name}.samples"] = float(len(primary.samples))
        details[target.name]["primary"] = family_name(primary.family)
        if latency.loss_pct < numbers["loss_pct"] < 100.0:
            findings.append(ctx.finding("latency.loss", target.name, loss_pct=numbers["loss_pct"]))
        if numbers["rtt_median_ms"] > latency.high_ms:
            findings.append(
                ctx.finding("latency.high", target.name, median_ms=numbers["rtt_median_ms"])
            )
        if numbers["jitter_ms"] > latency.jitter_ms:
            findings.append(
                ctx.finding("latency.jitter", target.name, jitter_ms=numbers["jitter_ms"])
            )
    return findings, metrics, details


def _summary(ctx: ProbeContext, all_series: Sequence[Series], findings: Sequence[Finding]) -> str:
    reached = sorted({s.target.name for s in all_series if s.rtts})
    total = len({s.target.name for s in all_series})
    medians = [statistics.median(s.rtts) for s in all_series if s.rtts]
    worst = max(medians, default=0.0)
    base = ctx.text(
        id=f"{len(reached)}/{total} target terjangkau, median RTT terburuk {worst:.0f} ms",
        en=f"{len(reached)}/{total} targets reachable, worst median RTT {worst:.0f} ms",
    )
    if not findings:
        return base + "."
    return f"{base}; {code_counts(findings)}."
