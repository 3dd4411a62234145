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

An unstable link is not decisive, but it can be *certain* (:func:`unstable_link`): then
the bandwidth test is left only the question whether the link is slow besides — the one
answer that would change the first cause (``slow_connection`` folds
``unstable_connection``) — and a short phase tells that as the adaptive stop does.

The runner asks as each first-wave probe finishes, so the fact comes as soon as tcp has
measured the loss, and the probes still waiting on the link stop (``ctx.unless``): on a
link losing a third of its packets the answers still out are the ones the loss holds up.
What they could add is either the loss again (lookups and requests lost on the way fold
into the unstable link) or a fault that is only worth chasing on a link that works —
the fix comes first, and a run on a stable link checks the rest. The report lists what
was "not waited for".
"""

from __future__ import annotations

from collections.abc import Sequence

from jmo_doctor.api import Finding, ProbeResult
from jmo_doctor.config import LatencyConfig, Target
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


#: "Far past" the thresholds: loss or jitter at least this many times the configured limit
#: (a 300 kbit/s link jitters under the first wave's own traffic, but the speed test then
#: ends on its steady rate well within the bound: tests/test_bandwidth_lab.py).
FAR_PAST = 1.5
#: Targets that must show it (high confidence already asks for a reference one among them).
FAR_TARGETS = 2
_FAR_MEASURES = {"latency.loss": "loss_pct", "latency.jitter": "jitter_ms"}


def _far_past(finding: Finding, limits: LatencyConfig) -> bool:
    key = _FAR_MEASURES.get(finding.code)
    value = finding.data.get(key) if key else None
    limit = {"loss_pct": limits.loss_pct, "jitter_ms": limits.jitter_ms}.get(key or "")
    return isinstance(value, int | float) and limit is not None and value >= FAR_PAST * limit


def unstable_link(
    results: Sequence[ProbeResult], targets: Sequence[Target], limits: LatencyConfig
) -> bool:
    """Whether ``results`` make an unstable link certain: the verdict's first cause is
    ``unstable_connection`` of high confidence and the tcp probe saw loss or jitter far
    past the thresholds on :data:`FAR_TARGETS` targets or more."""
    verdict = diagnose(results, targets, "en")
    if not verdict.causes:
        return False
    first = verdict.causes[0]
    if first.id != "unstable_connection" or first.confidence != HIGH:
        return False
    far = {
        f.target
        for r in results
        if r.id == "tcp"
        for f in r.findings
        if f.target is not None and _far_past(f, limits)
    }
    return len(far) >= FAR_TARGETS
