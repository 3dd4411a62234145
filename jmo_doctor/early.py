"""When the slow probes are not needed: the first wave's evidence already makes a cause
certain, and what the slow probes measure (throughput, latency under load) could not
change the verdict — it would only keep the person waiting, and spend their data.

"Certain" is narrow on purpose: the verdict's first cause is of high confidence and one
of :data:`DECISIVE_CAUSES` — faults of the path itself, where a bandwidth figure is
meaningless (offline, a portal, a resolver that fails or lies, a VPN swallowing the
traffic, an interceptor) or beside the point (BPJS's side is down). Nothing decisive is
cut: an unstable connection is *not* decisive — on a 300 kbit/s link the first wave's
own traffic makes the latency jitter and lose packets, and only the bandwidth test tells
that the link is slow (tests/test_bandwidth_lab.py); causes of the device or the app
(the clock, the app version) leave the test its say too: the link may be slow besides.
"""

from __future__ import annotations

from collections.abc import Sequence

from jmo_doctor.api import ProbeResult
from jmo_doctor.config import Target
from jmo_doctor.diagnosis import HIGH, diagnose

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
    if first.id in DECISIVE_CAUSES and first.confidence == HIGH:
        return first.id, first.title
    return None
