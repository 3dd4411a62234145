"""tcp probe: repeated TCP handshakes per target and address family — RTT, jitter, loss.

Attempts are started on a fixed schedule (like ``ping``), not one after the other, so a
dead host costs one timeout rather than ``samples`` timeouts. The RTT is the kernel's own
measurement of the SYN → SYN-ACK exchange (``TCP_INFO.tcpi_rtt``) where there is one, so
that event-loop scheduling does not inflate it; elsewhere the wall time around
``sock_connect``.

Loss is counted as ``ping`` counts it: a handshake is lost when its first SYN or the
SYN-ACK to it was lost, whether or not a retransmission completed it later; so with
``u`` and ``d`` percent lost each way it is ``1 - (1-u)(1-d)``. Only attempts that had
their full chance count: an attempt whose wait the run's deadline cut shorter than a
first-try answer could take says nothing about loss (it used to be counted lost, which
read 70-90 % for 40 % injected when a slow name lookup left the probe a few
milliseconds per attempt). Each target is measured as soon as its own addresses are
known, and a system lookup slow enough to leave no time for the handshakes gives way to
the trusted resolvers' answers.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import socket
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from jmo_doctor.api import (
    BaseProbe,
    Fact,
    Finding,
    LocalText,
    Messages,
    ProbeContext,
    ProbeResult,
    Status,
    Target,
)
from probes._common.net import (
    addresses_for,
    budget,
    family_name,
    first_per_family,
    problem_list,
)
from probes._common.tcp import RETRANSMIT_GAP_MS, Sample, attempt

#: An attempt's full window: the kernel resends an unanswered SYN after 1 s (its initial
#: RTO), so 2 s tells "answered at the second try" from "never answered", and leaves
#: room for the round trip of a slow mobile link.
ATTEMPT_TIMEOUT_S = 2.0
SPACING_S = 0.15
MIN_SPACING_S = 0.005
#: An attempt this close to the deadline is not started: it could not tell anything.
MIN_ATTEMPT_S = 0.01
#: Outcomes the kernel gives at once, whatever the wait: they count without a full window.
_IMMEDIATE = {"refused", "no_route"}


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
    def counted(self) -> list[Sample]:
        """The attempts that had their full chance, on which loss is judged.

        A first-try answer comes within the path's RTT; anything later than the fastest
        handshake plus :data:`RETRANSMIT_GAP_MS` counts as retransmitted (lost) anyway.
        So an attempt proves something only if it could wait that long (or had the whole
        :data:`ATTEMPT_TIMEOUT_S`, on a path slower than that); one the deadline cut
        shorter would read "lost" for a handshake that was merely not yet answered.
        """
        rtts = self.rtts
        fastest_ms = min(rtts) if rtts else 0.0
        enough_ms = min(fastest_ms + RETRANSMIT_GAP_MS, ATTEMPT_TIMEOUT_S * 1000.0)
        return [s for s in self.samples if s.waited_ms >= enough_ms or s.error in _IMMEDIATE]

    @property
    def loss_pct(self) -> float | None:
        """Percent of the counted attempts lost; None when none had its full chance."""
        counted = self.counted
        if not counted:
            return None
        lost = sum(1 for s in counted if s.rtt_ms is None)
        return round(100.0 * lost / len(counted), 1)

    def failed_with(self, error: str) -> bool:
        return not self.rtts and all(s.error == error for s in self.samples)


def mark_retransmitted(samples: Sequence[Sample]) -> tuple[Sample, ...]:
    """Count handshakes completed only by a retransmission as lost, as ping would.

    A lost SYN shows in :func:`attempt` (the kernel resent it). A lost SYN-ACK mostly
    does too (the client's RTO fires first and resends the SYN), but where the server's
    resent SYN-ACK arrives first the kernel measures the whole wait as the RTT. Such a
    sample stands out from the series' fastest handshake by about that RTO, which no real
    change of path delay does between handshakes a fraction of a second apart.
    """
    rtts = [s.rtt_ms for s in samples if s.rtt_ms is not None]
    if not rtts:
        return tuple(samples)
    limit = min(rtts) + RETRANSMIT_GAP_MS
    return tuple(
        Sample(None, "retransmitted", s.waited_ms)
        if s.rtt_ms is not None and s.rtt_ms > limit
        else s
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
    loss = series.loss_pct
    measured = {} if loss is None else {"loss_pct": loss}
    rtts = series.rtts
    if not rtts:
        return measured
    return {
        "rtt_min_ms": round(min(rtts), 3),
        "rtt_median_ms": round(statistics.median(rtts), 3),
        "rtt_p95_ms": round(percentile(rtts, 95), 3),
        "rtt_max_ms": round(max(rtts), 3),
        "jitter_ms": round(jitter(rtts), 3),
        **measured,
    }


#: Each finding's short name, for the summary line (the code is the evidence).
PROBLEM_NAMES: Messages = {
    "tcp.refused": {"id": "koneksi ditolak", "en": "connection refused"},
    "tcp.timeout": {"id": "koneksi TCP waktu habis", "en": "TCP connection timed out"},
    "tcp.ipv6_broken": {"id": "IPv6 gagal, IPv4 berfungsi", "en": "IPv6 fails, IPv4 works"},
    "latency.high": {"id": "latensi tinggi", "en": "high latency"},
    "latency.jitter": {"id": "latensi tidak stabil", "en": "unstable latency"},
    "latency.loss": {"id": "percobaan koneksi hilang", "en": "connection attempts lost"},
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
        ctx.progress(0.0, ctx.text(id="mengukur latensi", en="measuring latency"))
        measured = await asyncio.gather(*(self._target(ctx, t) for t in targets))
        sources = {t.name: source for t, (_, source) in zip(targets, measured, strict=True)}
        all_series = [s for series, _ in measured for s in series]
        if not all_series:
            return ProbeResult(
                self.id,
                Status.SKIP,
                ctx.text(
                    id="Tidak ada target yang alamatnya diketahui (lihat DNS).",
                    en="No target address could be found (see DNS).",
                ),
                details={"targets": {n: {"source": s} for n, s in sources.items()}},
            )
        findings, metrics, details = _judge(ctx, targets, all_series, sources)
        failing = {"tcp.timeout", "tcp.refused"}
        working = {s.target.name for s in all_series if s.rtts}
        dead = any(f.code in failing and f.target not in working for f in findings)
        status = Status.FAIL if dead else Status.WARN if findings else Status.PASS
        return ProbeResult(
            self.id, status, _summary(ctx, all_series, findings), tuple(findings), metrics, details
        )

    async def _target(self, ctx: ProbeContext, target: Target) -> tuple[list[Series], str]:
        """Look the target up and measure it at once: a slow lookup for one target no
        longer eats the time the others' handshakes need."""
        samples = ctx.config.latency.samples
        # The handshakes need their full windows after the lookup; a system resolver
        # slower than that gives way to the trusted resolvers (the dns probe reports it).
        left = budget(ctx, 10.0)
        needed = ATTEMPT_TIMEOUT_S + (samples - 1) * SPACING_S
        lookup_s = max(left / 2, left - needed)
        addresses, source = await addresses_for(ctx, target.host, target.port, wait_s=lookup_s)
        firsts = first_per_family(addresses)
        series = await asyncio.gather(
            *(_series(ctx, target, family, address) for family, address in firsts.items())
        )
        if series and not any(s.rtts for s in series):  # tls and http need not wait for it
            ctx.publish(Fact.unreachable(target.name))
        return list(series), source


async def _series(ctx: ProbeContext, target: Target, family: int, address: str) -> Series:
    """``samples`` handshakes on a fixed schedule, each with its full window if the run's
    deadline allows: the attempts are brought closer together first, and only when even
    that does not fit are the last windows cut (those attempts then do not count as loss).
    """
    samples = ctx.config.latency.samples
    total = budget(ctx, 60.0)
    window = min(ATTEMPT_TIMEOUT_S, total)
    spacing = min(SPACING_S, max(MIN_SPACING_S, (total - window) / max(1, samples - 1)))
    start = time.monotonic()
    end = start + total

    began: dict[int, float] = {}
    stops = [asyncio.Event() for _ in range(samples)]

    async def scheduled(index: int) -> Sample:
        await asyncio.sleep(max(0.0, start + index * spacing - time.monotonic()))
        left = end - time.monotonic()
        if left < MIN_ATTEMPT_S:
            return Sample(None, "not_tried", 0.0)
        began[index] = time.monotonic()
        return await attempt(address, target.port, min(window, left), stops[index])

    tasks = [asyncio.ensure_future(scheduled(i)) for i in range(samples)]
    try:
        await _stop_the_late(tasks, began, stops)
    finally:
        for task in tasks:
            task.cancel()  # a no-op once done; ends the attempts if the probe is cancelled
    return Series(target, family, address, mark_retransmitted([t.result() for t in tasks]))


async def _stop_the_late(
    tasks: Sequence[asyncio.Task[Sample]], began: dict[int, float], stops: Sequence[asyncio.Event]
) -> None:
    """Wait for the attempts, telling each still unanswered :data:`RETRANSMIT_GAP_MS`
    past the series' fastest answer to stop waiting: its SYN or the SYN-ACK was lost, and
    an answer now would be a retransmission's, counted lost all the same
    (``mark_retransmitted``). Waiting out the full window only told lost from never
    answered, which matters only while nothing has answered at all (a dead host)."""
    while pending := [t for t in tasks if not t.done()]:
        answered = [r.rtt_ms for t in tasks if t.done() and (r := t.result()).rtt_ms is not None]
        wake: float | None = None
        if answered:
            bound_s = (min(answered) + RETRANSMIT_GAP_MS) / 1000.0
            now = time.monotonic()
            for index, task in enumerate(tasks):
                if task.done() or index not in began:
                    continue
                if now - began[index] >= bound_s:
                    stops[index].set()
                else:
                    wake = min(wake or math.inf, began[index] + bound_s - now)
            if len(began) < len(tasks):  # attempts still to start: look again by then
                wake = min(wake or math.inf, SPACING_S)
        await asyncio.wait(pending, timeout=wake, return_when=asyncio.FIRST_COMPLETED)


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
                    # attempts whose wait could prove a loss (see Series.counted)
                    "counted": len(s.counted),
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
        loss = numbers.get("loss_pct")  # None: no attempt had time enough to tell
        if loss is not None and latency.loss_pct < loss < 100.0:
            findings.append(ctx.finding("latency.loss", target.name, loss_pct=loss))
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
    said = {
        "id": f"{len(reached)}/{total} target terjangkau",
        "en": f"{len(reached)}/{total} targets reachable",
    }
    if medians:  # with nothing reached there is no round trip to speak of
        worst = max(medians)
        said["id"] += f", median RTT terburuk {worst:.0f} ms"
        said["en"] += f", worst median RTT {worst:.0f} ms"
    if findings:
        listed = problem_list(findings, PROBLEM_NAMES)
        said = {lang: f"{text}; {listed[lang]}" for lang, text in said.items()}
    return ctx.text(id=said["id"] + ".", en=said["en"] + ".")
