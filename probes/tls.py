"""tls probe: a verified handshake with SNI per target, and why it fails when it does.

When verification fails, a second handshake without verification fetches the certificate
that was presented: its issuer is what tells a support agent that an antivirus, an office
proxy or a hotspot portal sits in the middle. TCP-level failures (refused, timeout) are
the tcp probe's to report; here they are only noted in the details.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import urlsplit

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
    Target,
)
from probes._common.errors import in_words
from probes._common.net import addresses_for, budget, first_per_family, problem_list
from probes._common.tls import CertInfo, Handshake, handshake

EXPIRING_DAYS = 14.0
HANDSHAKE_TIMEOUT_S = 6.0


#: Each finding's short name, for the summary line (the code is the evidence).
PROBLEM_NAMES: Messages = {
    "tls.expired": {"id": "sertifikat kedaluwarsa", "en": "certificate expired"},
    "tls.not_yet_valid": {"id": "sertifikat belum berlaku", "en": "certificate not yet valid"},
    "tls.hostname_mismatch": {
        "id": "sertifikat untuk nama lain",
        "en": "certificate for another name",
    },
    "tls.untrusted": {
        "id": "penerbit sertifikat tidak dipercaya",
        "en": "untrusted certificate issuer",
    },
    "tls.handshake_failed": {"id": "jabat tangan TLS gagal", "en": "TLS handshake failed"},
    "tls.expiring": {"id": "sertifikat segera kedaluwarsa", "en": "certificate expiring soon"},
}


class TlsProbe(BaseProbe):
    id = "tls"
    title: ClassVar[LocalText] = {
        "id": "Sertifikat dan jabat tangan TLS",
        "en": "TLS handshake and certificates",
    }
    order = 50
    messages: ClassVar[Messages] = {
        "tls.expired": {
            "id": "Sertifikat {target} sudah kedaluwarsa ({not_after}); penerbit: {issuer}.",
            "en": "The certificate of {target} has expired ({not_after}); issuer: {issuer}.",
        },
        "tls.not_yet_valid": {
            "id": "Sertifikat {target} belum berlaku (mulai {not_before}); periksa jam perangkat.",
            "en": "The certificate of {target} is not valid yet (from {not_before}); "
            "check the device clock.",
        },
        "tls.hostname_mismatch": {
            "id": "Sertifikat yang diterima untuk {target} bukan untuk nama ini "
            "(subjek: {subject}; penerbit: {issuer}).",
            "en": "The certificate received for {target} is not for this name "
            "(subject: {subject}; issuer: {issuer}).",
        },
        "tls.untrusted": {
            "id": "Sertifikat {target} diterbitkan oleh pihak yang tidak dipercaya: {issuer}. "
            "Mungkin ada antivirus, proxy kantor, atau portal Wi-Fi di tengah.",
            "en": "The certificate of {target} comes from an untrusted issuer: {issuer}. "
            "An antivirus, office proxy or Wi-Fi portal may be in the middle.",
        },
        "tls.handshake_failed": {
            "id": "Jabat tangan TLS dengan {target} gagal: {error_words}.",
            "en": "The TLS handshake with {target} failed: {error_words}.",
        },
        "tls.expiring": {
            "id": "Sertifikat {target} akan kedaluwarsa dalam {days_left:.0f} hari.",
            "en": "The certificate of {target} expires in {days_left:.0f} days.",
        },
    }

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        targets = [t for t in ctx.targets if urlsplit(t.url).scheme == "https"]
        outcomes = await asyncio.gather(*(_check(ctx, t) for t in targets))
        findings = [f for found, _ in outcomes for f in found]
        details = {t.name: d for t, (_, d) in zip(targets, outcomes, strict=True)}
        metrics: dict[str, float] = {}
        for name, detail in details.items():
            if "ms" in detail:
                metrics[f"{name}.handshake_ms"] = float(detail["ms"])
            if (days := detail.get("certificate", {}).get("days_left")) is not None:
                metrics[f"{name}.days_left"] = float(days)
        checked = [d for d in details.values() if "skipped" not in d]
        if not checked:
            return ProbeResult(
                self.id,
                Status.SKIP,
                ctx.text(
                    id="Tidak ada target HTTPS yang bisa dihubungi (lihat DNS/TCP).",
                    en="No HTTPS target could be connected to (see DNS/TCP).",
                ),
                details={"targets": details},
            )
        status = (
            Status.FAIL
            if any(f.code != "tls.expiring" for f in findings)
            else Status.WARN
            if findings
            else Status.PASS
        )
        return ProbeResult(
            self.id,
            status,
            _summary(ctx, len(checked), findings),
            tuple(findings),
            metrics,
            {"targets": details},
        )


async def _first_handshake(ctx: ProbeContext, target: Target) -> tuple[Handshake | None, str]:
    """Handshake with the first address that accepts TCP (one per family, system order)."""
    addresses, source = await addresses_for(ctx, target.host, target.port)
    if not addresses:
        return None, "unresolved"
    last: Handshake | None = None
    for address in first_per_family(addresses).values():
        result = await handshake(
            ctx, target.host, address, target.port, budget(ctx, HANDSHAKE_TIMEOUT_S)
        )
        if result.stage != "connect":
            return result, source
        last = result
    return None, f"connect {last.error}" if last else "unresolved"


async def _check(ctx: ProbeContext, target: Target) -> tuple[list[Finding], dict[str, Any]]:
    try:  # the tcp probe may find first that no handshake can succeed, or that the link
        # is unstable beyond doubt: a handshake still going then waits on its losses
        result, note = await ctx.unless(
            _first_handshake(ctx, target), Fact.unreachable(target.name), Fact.unstable_link()
        )
    except Decided as decided:
        result, note = None, str(decided)
    if result is None:
        return [], {"skipped": note}
    detail = result.as_detail()
    name = target.name
    if result.verified:
        cert = result.cert
        if cert is not None and cert.days_left < EXPIRING_DAYS:
            return [ctx.finding("tls.expiring", name, days_left=cert.days_left)], detail
        return [], detail
    if result.stage == "handshake":
        said = in_words(result.error)
        return [
            ctx.finding("tls.handshake_failed", name, error=result.error, error_words=said)
        ], detail
    # verification failed: look at what was presented, without verifying it
    seen = await handshake(
        ctx,
        target.host,
        result.address,
        target.port,
        budget(ctx, HANDSHAKE_TIMEOUT_S),
        verify=False,
    )
    cert = seen.cert or CertInfo("", "", (), "", "", 0.0)
    if seen.cert is not None:
        detail["certificate"] = seen.cert.as_detail()
    facts = {
        "issuer": cert.issuer or "?",
        "subject": cert.subject or "?",
        "not_before": cert.not_before,
        "not_after": cert.not_after,
        "san": list(cert.san),
        "verify_code": result.verify_code,
        "verify_message": result.error,
    }
    if result.verdict == "handshake_failed":
        finding = ctx.finding(
            "tls.handshake_failed",
            name,
            error=result.error,
            error_words=in_words(result.error),
            **facts,
        )
        return [finding], detail
    return [ctx.finding(f"tls.{result.verdict}", name, **facts)], detail


def _summary(ctx: ProbeContext, checked: int, findings: Sequence[Finding]) -> str:
    if not findings:
        return ctx.text(
            id=f"Sertifikat {checked} target valid dan terpercaya.",
            en=f"Certificates of {checked} targets are valid and trusted.",
        )
    listed = problem_list(findings, PROBLEM_NAMES)
    return ctx.text(id=f"Masalah TLS: {listed['id']}.", en=f"TLS problems: {listed['en']}.")
