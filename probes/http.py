"""http probe: GET each target URL (status, phase timings, ``Date``) and the portal check.

The captive-portal check follows Android's rule: only 204, or 200 with an empty body,
means open internet. Its redirects are not followed: the ``Location`` of a redirect is the
portal's login page, and reporting it is the most useful thing this probe can do.

Requests go through the proxy the environment sets, if any. A request that never got past
that proxy is ``http.proxy_failed``: the tcp and dns probes connect directly, so they cannot
see that the proxy everything else on the device uses does not work.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Sequence
from typing import Any, ClassVar

from jmo_doctor.api import (
    BaseProbe,
    Decided,
    Fact,
    Finding,
    LocalText,
    Messages,
    ProbeContext,
    ProbeResult,
    Status,
)
from probes._common import fingerprints
from probes._common.http import Fetch, fetch, shared_fetch
from probes._common.net import budget, problem_list
from probes._common.small_segments import small_segments_fetch

PORTAL_TARGET = "captive_portal"
PORTAL_BODY_CAP = 65_536
#: ``http.slow``: a BPJS host whose first byte takes at least this long *and* this many
#: times the reference hosts' median. 5 s is where a person watching JMO's spinner gives
#: up (and twice what a healthy 3G page load takes to start); the ratio keeps a slow or
#: distant link, which delays the reference hosts just as much, from being blamed on BPJS.
#: Healthy runs measure the two within 2-3x of each other, far from 10x.
SLOW_FIRST_BYTE_MS = 5000.0
SLOW_FACTOR = 10.0
#: The MSS of the confirming request for a stalled one: IPv4's default (RFC 879, the
#: segment every host must accept). It fits through any tunnel or PPPoE link, so a path
#: that drops full-size packets carries it, over IPv6 too (whose minimum MTU is 1280).
SMALL_MSS = 536
#: How long the confirming request may take: it fetches the same page, in smaller pieces.
MTU_CONFIRM_S = 6.0
#: Phases a request can stall in after its TCP handshake: where full-size packets flow.
_STALL_PHASES = frozenset({"tls", "first_byte", "body"})


#: Each finding's short name, for the summary line (the code is the evidence).
PROBLEM_NAMES: Messages = {
    "http.status": {"id": "galat HTTP dari server", "en": "HTTP error from the server"},
    "http.timeout": {
        "id": "jawaban HTTP tidak lengkap tepat waktu",
        "en": "no complete HTTP answer in time",
    },
    "http.error": {"id": "koneksi HTTP terputus", "en": "HTTP connection broken"},
    "http.proxy_failed": {"id": "proxy perangkat gagal", "en": "the device's proxy failed"},
    "http.captive_portal": {
        "id": "portal Wi-Fi meminta login",
        "en": "Wi-Fi portal asks for a login",
    },
    "http.slow": {"id": "server BPJS lambat menjawab", "en": "BPJS server slow to answer"},
    "http.block_page": {"id": "halaman blokir", "en": "block page"},
    "path.mtu_blackhole": {
        "id": "paket besar hilang di jalan (MTU)",
        "en": "full-size packets lost on the way (MTU)",
    },
}


class HttpProbe(BaseProbe):
    id = "http"
    title: ClassVar[LocalText] = {
        "id": "Permintaan HTTP dan portal Wi-Fi",
        "en": "HTTP requests and captive portal",
    }
    order = 60
    messages: ClassVar[Messages] = {
        "http.status": {
            "id": "{target} menjawab dengan galat HTTP {status}.",
            "en": "{target} answered with HTTP error {status}.",
        },
        "http.timeout": {
            "id": "{target} tidak menjawab lengkap tepat waktu (tahap: {phase}).",
            "en": "{target} gave no complete answer in time (phase: {phase}).",
        },
        "http.error": {
            "id": "Koneksi ke {target} terputus saat permintaan HTTP ({phase}): {error}.",
            "en": "The connection to {target} broke during the HTTP request ({phase}): {error}.",
        },
        "http.proxy_failed": {
            "id": "Permintaan ke {target} lewat proxy yang diatur di perangkat ini gagal "
            "sebelum sampai ke server (tahap: {phase}): {error}.",
            "en": "The request to {target} through the proxy set on this device failed "
            "before reaching the server (phase: {phase}): {error}.",
        },
        "http.slow": {
            "id": "{target} menjawab, tetapi sangat lambat: bita pertama setelah "
            "{first_byte_ms:.0f} ms, sedangkan server pembanding {reference_ms:.0f} ms.",
            "en": "{target} answers, but very slowly: first byte after {first_byte_ms:.0f} ms, "
            "against {reference_ms:.0f} ms for the reference hosts.",
        },
        "path.mtu_blackhole": {
            "id": "Permintaan ke {target} macet (tahap: {phase}), tetapi berhasil dengan paket "
            "kecil (MSS {mss}): paket berukuran penuh hilang di jalan.",
            "en": "The request to {target} stalled (phase: {phase}) but worked with small "
            "packets (MSS {mss}): full-size packets vanish on the way.",
        },
        "http.block_page": {
            "id": "{target} menjawab dengan halaman blokir ({operator}; dikenali dari {via}).",
            "en": "{target} answered with a block page ({operator}; recognised by its {via}).",
        },
        "http.captive_portal": {
            "id": "Jaringan ini meminta login (portal Wi-Fi): pemeriksaan menjawab {status} "
            "alih-alih 204. {location}",
            "en": "This network asks for a login (captive portal): the check answered "
            "{status} instead of 204. {location}",
        },
    }

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        fetches, portal = await asyncio.gather(shared_fetch(ctx), self._portal(ctx))
        confirmed, mtu_check = await _confirm_stalls(ctx, fetches)
        findings: list[Finding] = []
        metrics: dict[str, float] = {}
        reference_ms = _reference_first_byte_ms(ctx, fetches)
        for item in fetches:
            if (small := confirmed.get(item.target)) is not None:
                findings.append(_mtu_blackhole(ctx, item, small))
                continue
            found = _judge(ctx, item) or _block_page(ctx, item) or _slow(ctx, item, reference_ms)
            findings.extend(found)
            for key, value in item.phases_ms.items():
                metrics[f"{item.target}.{key}"] = float(value)
            if item.status is not None:
                metrics[f"{item.target}.status"] = float(item.status)
        portal_finding, portal_detail = portal
        if portal_finding is not None:
            findings.append(portal_finding)
        nothing_answered = all(f.status is None for f in fetches) and "status" not in portal[1]
        if any(f.code != "http.slow" for f in findings):
            status = Status.FAIL
        elif findings:  # slow, but it answered
            status = Status.WARN
        elif nothing_answered:  # offline or all refused: dns/tcp explain it, no verdict here
            status = Status.SKIP
        else:
            status = Status.PASS
        details: dict[str, Any] = {
            "targets": {f.target: f.as_detail() for f in fetches},
            PORTAL_TARGET: portal_detail,
        }
        if mtu_check:
            details["mtu_check"] = mtu_check
        return ProbeResult(
            self.id,
            status,
            _summary(ctx, fetches, findings, "status" in portal_detail),
            tuple(findings),
            metrics,
            details,
        )

    async def _portal(self, ctx: ProbeContext) -> tuple[Finding | None, dict[str, Any]]:
        url = ctx.config.captive_portal.url
        result = await fetch(
            ctx, PORTAL_TARGET, url, follow_redirects=False, body_cap=PORTAL_BODY_CAP
        )
        detail = result.as_detail()
        if result.proxy_failed:
            return _proxy_failed(ctx, result), detail
        if result.status is None:
            return None, detail  # no answer at all is offline, not a portal: others say so
        if result.status == 204 or (result.status == 200 and result.body_bytes == 0):
            return None, detail
        if blocked := _block_page(ctx, result):  # a block page is never a Wi-Fi login
            return blocked[0], detail
        finding = ctx.finding(
            "http.captive_portal",
            PORTAL_TARGET,
            status=result.status,
            location=result.location,
            url=url,
        )
        return finding, detail


def _block_page(ctx: ProbeContext, item: Fetch) -> list[Finding]:
    """``http.block_page`` when the answer is a known Indonesian block page: by the
    redirect it gives or led to, or by its body."""
    if item.status is None:
        return []
    redirect = item.location or (item.final_url if item.final_url != item.url else "")
    prints = fingerprints.load()
    if print_ := prints.match_http(location=redirect):
        via = "redirect"
    elif print_ := prints.match_http(body=item.body_head.decode("utf-8", "replace")):
        via = "body"
    else:
        return []
    return [
        ctx.finding(
            "http.block_page",
            item.target,
            via=via,
            fingerprint=print_.name,
            operator=print_.operator,
            source=print_.source,
            status=item.status,
            url=item.url,
        )
    ]


def _stalled(item: Fetch) -> bool:
    """Connected, then waited for data that never came (where a full-size packet would)."""
    return item.timed_out and item.connected and not item.via_proxy and item.phase in _STALL_PHASES


async def _confirm_stalls(
    ctx: ProbeContext, fetches: Sequence[Fetch]
) -> tuple[dict[str, int], str]:
    """:func:`_small_segments_work`'s answer, and why there is none if it was not asked.

    On a link the tcp probe found losing packets (or jittering) far past the thresholds
    the question has no answer: any request may stall there, and a retry that gets
    through proves nothing about the size of packets. It is not asked (or no longer
    waited for), and the stalled requests stay timeouts: evidence of the unstable link.
    """
    if not any(_stalled(item) for item in fetches):
        return {}, ""
    try:
        return await ctx.unless(_small_segments_work(ctx, fetches), Fact.unstable_link()), ""
    except Decided:
        return {}, "not_asked: unstable_link"


async def _small_segments_work(ctx: ProbeContext, fetches: Sequence[Fetch]) -> dict[str, int]:
    """Stalled requests tried again with a small MSS: target → bytes of the answer.

    A path that drops full-size packets without an ICMP "fragmentation needed" (a broken
    path MTU) lets handshakes and small answers through and stalls everything bigger; with
    small segments the same request completes. A server that is merely slow or hung
    stalls again, so it is never taken for this.
    """
    stalled = [item for item in fetches if _stalled(item)]
    wait_s = budget(ctx, MTU_CONFIRM_S)
    got = await asyncio.gather(
        *(
            small_segments_fetch(ctx, item.url, SMALL_MSS, wait_s, beyond=item.body_bytes)
            for item in stalled
        )
    )
    return {
        item.target: size
        for item, size in zip(stalled, got, strict=True)
        if size is not None and size > item.body_bytes
    }


def _mtu_blackhole(ctx: ProbeContext, item: Fetch, small_bytes: int) -> Finding:
    return ctx.finding(
        "path.mtu_blackhole",
        item.target,
        phase=item.phase,
        mss=SMALL_MSS,
        stalled_after_bytes=item.body_bytes,
        small_segments_bytes=small_bytes,
        url=item.url,
    )


def _proxy_failed(ctx: ProbeContext, item: Fetch) -> Finding:
    return ctx.finding(
        "http.proxy_failed", item.target, phase=item.phase, error=item.error, url=item.url
    )


def _judge(ctx: ProbeContext, item: Fetch) -> list[Finding]:
    if item.proxy_failed:  # before the rest: the request never reached the server
        return [_proxy_failed(ctx, item)]
    if item.timed_out:
        return [ctx.finding("http.timeout", item.target, phase=item.phase, url=item.url)]
    if item.error:
        if not item.connected:
            return []  # refused / unresolved: the tcp and dns probes report that
        return [
            ctx.finding("http.error", item.target, phase=item.phase, error=item.error, url=item.url)
        ]
    if item.status is not None and item.status >= 500:
        return [ctx.finding("http.status", item.target, status=item.status, url=item.url)]
    return []


def _first_byte_ms(item: Fetch) -> float | None:
    if item.status is None or item.error:
        return None
    return item.phases_ms.get("first_byte_ms")


def _reference_first_byte_ms(ctx: ProbeContext, fetches: Sequence[Fetch]) -> float | None:
    """The median first byte of the reference hosts that answered, or None if none did."""
    references = {t.name for t in ctx.targets if t.role == "reference"}
    times = [
        ms
        for item in fetches
        if item.target in references and (ms := _first_byte_ms(item)) is not None
    ]
    return statistics.median(times) if times else None


def _slow(ctx: ProbeContext, item: Fetch, reference_ms: float | None) -> list[Finding]:
    """``http.slow`` for a BPJS host that answered far later than the reference hosts."""
    first_byte_ms = _first_byte_ms(item)
    if reference_ms is None or first_byte_ms is None:
        return []  # without a host to compare with, slowness may be the link's
    role = next((t.role for t in ctx.targets if t.name == item.target), None)
    if role != "bpjs" or first_byte_ms < max(SLOW_FIRST_BYTE_MS, SLOW_FACTOR * reference_ms):
        return []
    return [
        ctx.finding(
            "http.slow",
            item.target,
            first_byte_ms=first_byte_ms,
            reference_ms=reference_ms,
            url=item.url,
        )
    ]


def _summary(
    ctx: ProbeContext, fetches: Sequence[Fetch], findings: Sequence[Finding], portal_checked: bool
) -> str:
    answered = sum(1 for f in fetches if f.status is not None and not f.error)
    if findings:
        listed = problem_list(findings, PROBLEM_NAMES)
        return ctx.text(id=f"Masalah HTTP: {listed['id']}.", en=f"HTTP problems: {listed['en']}.")
    if not answered:
        return ctx.text(
            id="Tidak ada URL yang menjawab (lihat DNS/TCP).",
            en="No URL answered (see DNS/TCP).",
        )
    # built per language and said once: a Said joined with + is a plain str again
    said = {
        "id": f"{answered}/{len(fetches)} URL menjawab",
        "en": f"{answered}/{len(fetches)} URLs answered",
    }
    if cut := sum(1 for f in fetches if f.not_waited):
        said["id"] += f", {cut} tidak ditunggu (koneksi tidak stabil)"
        said["en"] += f", {cut} not waited for (unstable connection)"
    if portal_checked:
        said["id"] += "; tidak ada portal Wi-Fi."
        said["en"] += "; no captive portal."
    else:  # no answer is no evidence either way
        said["id"] += "; portal Wi-Fi tidak terperiksa."
        said["en"] += "; captive portal not checked."
    return ctx.text(id=said["id"], en=said["en"])
