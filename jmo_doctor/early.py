"""When the slow probes are not needed: the first wave's evidence already makes a cause
certain, and what the slow probes measure (throughput, latency under load) could not
change the verdict — it would only keep the person waiting, and spend their data.

"Certain" is narrow on purpose: the verdict's first cause is critical, of high
confidence, and one of :data:`DECISIVE_CAUSES` — faults of the path itself, where a
bandwidth figure is meaningless (offline, a portal, a resolver that fails or lies, a
VPN swallowing the traffic, an interceptor) or beside the point (BPJS's side is down).
A warning-level first cause (an unstable link) is never enough: the bandwidth test may
still find a slow connection beside it. Nothing decisive is cut.
"""

from __future__ import annotations

from collections.abc import Sequence

from jmo_doctor.api import ProbeResult
from jmo_doctor.config import Target
from jmo_doctor.diagnosis import HIGH, diagnose
from jmo_doctor.exitcodes import ExitStatus

DECISIVE_CAUSES = frozenset(
    {
        "offline",
        "captive_portal",
        "dns_failure",
        "dns_tampered",
        "vpn_or_proxy",
        "tls_intercepted",
        "bpjs_unreachable",
    }
)


def certain_cause(
    results: Sequence[ProbeResult], targets: Sequence[Target], lang: str
) -> tuple[str, str] | None:
    """``(cause id, its title in lang)`` when ``results`` already settle the verdict."""
    verdict = diagnose(results, targets, lang)
    if not verdict.causes:
        return None
    first = verdict.causes[0]
    decisive = first.id in DECISIVE_CAUSES and first.confidence == HIGH
    if decisive and first.severity is ExitStatus.CRITICAL:
        return first.id, first.title
    return None
