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
from collections.abc import Sequence
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
from probes._common.http import Fetch, fetch, shared_fetch
from probes._common.net import problem_list

PORTAL_TARGET = "captive_portal"
PORTAL_BODY_CAP = 65_536


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
        "http.captive_portal": {
            "id": "Jaringan ini meminta login (portal Wi-Fi): pemeriksaan menjawab {status} "
            "alih-alih 204. {location}",
            "en": "This network asks for a login (captive portal): the check answered "
            "{status} instead of 204. {location}",
        },
    }

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        fetches, portal = await asyncio.gather(shared_fetch(ctx), self._portal(ctx))
        findings: list[Finding] = []
        metrics: dict[str, float] = {}
        for item in fetches:
            findings.extend(_judge(ctx, item))
            for key, value in item.phases_ms.items():
                metrics[f"{item.target}.{key}"] = float(value)
            if item.status is not None:
                metrics[f"{item.target}.status"] = float(item.status)
        portal_finding, portal_detail = portal
        if portal_finding is not None:
            findings.append(portal_finding)
        nothing_answered = all(f.status is None for f in fetches) and "status" not in portal[1]
        if findings:
            status = Status.FAIL
        elif nothing_answered:  # offline or all refused: dns/tcp explain it, no verdict here
            status = Status.SKIP
        else:
            status = Status.PASS
        details = {
            "targets": {f.target: f.as_detail() for f in fetches},
            PORTAL_TARGET: portal_detail,
        }
        return ProbeResult(
            self.id,
            status,
            _summary(ctx, fetches, findings),
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
        finding = ctx.finding(
            "http.captive_portal",
            PORTAL_TARGET,
            status=result.status,
            location=result.location,
            url=url,
        )
        return finding, detail


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


def _summary(ctx: ProbeContext, fetches: Sequence[Fetch], findings: Sequence[Finding]) -> str:
    answered = sum(1 for f in fetches if f.status is not None and not f.error)
    if findings:
        listed = problem_list(findings, PROBLEM_NAMES)
        return ctx.text(id=f"Masalah HTTP: {listed['id']}.", en=f"HTTP problems: {listed['en']}.")
    if not answered:
        return ctx.text(
            id="Tidak ada URL yang menjawab (lihat DNS/TCP).",
            en="No URL answered (see DNS/TCP).",
        )
    return ctx.text(
        id=f"{answered}/{len(fetches)} URL menjawab; tidak ada portal Wi-Fi.",
        en=f"{answered}/{len(fetches)} URLs answered; no captive portal.",
    )
