"""Diagnosis: a pure function from probe results to ranked causes (SPEC §6).

Each cause has one small rule in :data:`RULES` that reads only the finding contract of
``docs/findings.md`` (codes, the role of each finding's target, the documented data keys)
and returns a :class:`Candidate` — a confidence and the findings it rests on — or nothing.
Then four steps, in this order:

1. folding (:data:`FOLDS`): a cause that explains another one's findings absorbs them;
   a cause left with no finding of its own disappears and its findings support the holder
   (offline explains every DNS and TLS failure, a login portal explains the broken TLS
   and DNS it causes, a wrong clock explains "expired" certificates);
2. what no cause explains: a failing plug-in probe's findings become
   ``unexplained_failure``;
3. the residual: when no network or app cause is left and every probe that judges them
   (:data:`JUDGES`) gave its verdict, the article's cause 1 (``kpj_not_linked``) and the
   administrative causes are what remains;
4. ranking: severity, then confidence, then :data:`PRIORITY`.

Plug-ins may bring causes of their own (SPEC §5): each names the finding codes that point
to it (see ``catalogue``), and is found by the same rule for all of them.

An OK verdict is a claim (SPEC §3): :class:`Scope` records which probes gave a verdict,
"all clear" holds only when every judge did, and a probe that ended in ``error`` makes an
otherwise clean run ``unknown``.

The words of each cause come from the catalogue (``data/causes.toml`` and the plug-ins').
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Final

from jmo_doctor import catalogue
from jmo_doctor.api import Finding, ProbeResult, Status
from jmo_doctor.config import Target
from jmo_doctor.exitcodes import ExitStatus

__all__ = [
    "BUILTIN_PROBES",
    "FOLDS",
    "JUDGES",
    "PRIORITY",
    "RULES",
    "Candidate",
    "Cause",
    "Diagnosis",
    "Facts",
    "Observation",
    "Scope",
    "diagnose",
]


@dataclass(frozen=True)
class Cause:
    id: str
    rank: int
    confidence: str  # "high" | "medium" | "low"
    article_section: int | str | None  # 1, 2, 3, "intro" or None (not in the article)
    title: str
    explanation: str
    fix: tuple[str, ...]
    evidence: tuple[str, ...]  # "code@target" or "code"
    severity: ExitStatus
    summary: str = ""  # one line for the verdict, in the same language as the title


#: Why a probe gave no verdict (the report's ``scope.not_checked``).
NOT_SELECTED: Final = "not_selected"  # left out by --only/--skip
QUICK: Final = "quick"  # skipped by --quick
SKIPPED: Final = "skipped"  # the probe had nothing it could measure
ERRORED: Final = "error"  # crashed, timed out or stopped
INCOMPLETE: Final = "incomplete"  # ran, but could not finish its check


@dataclass(frozen=True)
class Scope:
    """What the run checked: a verdict speaks only for the probes that gave one."""

    checked: tuple[str, ...]  # probes that ran and gave a verdict, in report order
    not_checked: Mapping[str, str]  # probe id → NOT_SELECTED | QUICK | SKIPPED | …
    #: Whether the installed JMO version was learned; None when the store probe did not run.
    installed_version_known: bool | None = None

    @property
    def complete(self) -> bool:
        """Every judge of the network and the app gave its verdict."""
        return all(judge in self.checked for judge in JUDGES)

    @property
    def errored(self) -> bool:
        """A probe crashed, timed out or was stopped before it finished."""
        return ERRORED in self.not_checked.values()


@dataclass(frozen=True)
class Diagnosis:
    causes: tuple[Cause, ...]
    status: ExitStatus
    #: Nothing is wrong with the device, network or app, and every judge looked (SPEC §3).
    all_clear: bool
    #: Warning-level findings no cause accounts for (an expiring certificate, broken IPv6,
    #: a slow resolver), as evidence strings: they make the status WARNING on their own.
    unexplained: tuple[str, ...] = ()
    scope: Scope = field(default_factory=lambda: Scope((), {}))


HIGH: Final = "high"
MEDIUM: Final = "medium"
LOW: Final = "low"
_CONFIDENCE_ORDER: Mapping[str, int] = MappingProxyType({HIGH: 0, MEDIUM: 1, LOW: 2})

BPJS: Final = "bpjs"
REFERENCE: Final = "reference"
SYSTEM_RESOLVER: Final = "system"

#: Tie-break order after severity and confidence: the more fundamental cause first, so the
#: user fixes what the other causes may merely be symptoms of. One source: the order of
#: the shipped catalogue (data/causes.toml). Plug-in causes come right before
#: ``unexplained_failure``: a cause that names the problem beats one that cannot.
PRIORITY: tuple[str, ...] = tuple(catalogue.builtin_entries())
UNEXPLAINED_FAILURE: Final = "unexplained_failure"

#: The probes that judge the network (system … http) and the app (store): "all clear" is a
#: claim about all of them, so it needs a verdict from each (SPEC §3).
JUDGES: tuple[str, ...] = ("system", "dns", "tcp", "tls", "http", "store")
#: The probes jmo-doctor ships. Their findings are what the rules read, and the rules
#: leave some alone on purpose (a dead reference host, a store that cannot be read); any
#: other probe is a plug-in, whose failures count even when no cause explains them.
BUILTIN_PROBES = frozenset({*JUDGES, "kpj", "clock", "bandwidth"})
#: Findings that say a probe ran but could not do its check: its silence proves nothing.
_CHECK_INCOMPLETE = frozenset({"store.unavailable", "bandwidth.unavailable"})

#: Causes that say nothing about the device, network or app: when only these are left
#: and every judge gave its verdict, the run is "all clear" and the residual is listed.
_ACCOUNT_CAUSES = frozenset({"kpj_invalid", "kpj_not_linked", "membership_data"})

#: Probes whose findings say whether a target answers at all.
_CONNECTIVITY_PROBES = frozenset({"tcp", "tls", "http"})
#: A probe with one of these statuses looked at the network; ``skip``/``error`` did not.
_CONCLUSIVE = frozenset({Status.PASS, Status.WARN, Status.FAIL})
#: The runner's own findings: they say a probe did not finish, not that anything is wrong.
_RUNNER_CODES = frozenset({"probe.timeout", "probe.crashed", "probe.skipped", "probe.interrupted"})
#: Why the runner skipped a probe, as the ``probe.skipped`` finding's ``reason`` says it.
_SKIP_REASONS: Mapping[str, str] = MappingProxyType({"--quick": QUICK})

_CONNECT_FAILURES = frozenset({"tcp.timeout", "tcp.refused", "http.timeout"})
_DNS_FAILURES = frozenset({"dns.timeout", "dns.servfail", "dns.nxdomain"})
_TLS_TIME = frozenset({"tls.expired", "tls.not_yet_valid"})
_TLS_DISTRUST = frozenset({"tls.untrusted", "tls.hostname_mismatch"})
_LATENCY = frozenset({"latency.loss", "latency.jitter", "latency.high"})
_TCP_DEAD = frozenset({"tcp.timeout", "tcp.refused"})
#: Round-trip loss (tcp's measure) at which the system resolver may lose every lookup to
#: the link alone. A lookup asks A and AAAA and needs both answers: at 40 % lost per round
#: trip a try fails 64 % of the time, two tries (glibc) 41 %, five names all lost 1 in
#: 90 — seen in the lab at 30 % loss each way (~50 % per round trip), 1 run in 43. At
#: 20 % a name is lost 1 time in 8 and five 1 in 30,000: a resolver that answers none is
#: broken.
LOOKUP_LOSING_PCT = 40.0
#: Requests that started on a working connection and then timed out or broke off.
_BROKEN_OFF = frozenset({"http.timeout", "http.error", "tls.handshake_failed"})
#: Everything that keeps a target from working; offline and a VPN explain any of them.
_ANY_FAILURE = (
    _CONNECT_FAILURES
    | _DNS_FAILURES
    | _TLS_TIME
    | _TLS_DISTRUST
    | {"dns.tampered", "tls.handshake_failed", "http.status"}
)
#: Findings that degrade the run (exit 1) even though no cause is built on them.
_WARNING_CODES = frozenset({"tls.expiring", "tcp.ipv6_broken", "dns.slow", "http.block_page"})

#: The data key worth showing next to an evidence item: a support agent recognises an
#: antivirus or a block page by it at a glance.
_EVIDENCE_DETAIL: Mapping[str, str] = MappingProxyType(
    {
        "tls.untrusted": "issuer",
        "tls.hostname_mismatch": "issuer",
        "dns.tampered": "fingerprint",
        "http.block_page": "fingerprint",
    }
)


@dataclass(frozen=True)
class Observation:
    """One finding as the rules see it: its place in the run and its target's role."""

    position: int  # order across the run: keeps evidence stable and identifies the finding
    code: str
    target: str | None
    role: str | None  # "bpjs" | "reference" | None (no target, or not a configured one)
    finding: Finding = field(compare=False)
    #: The probe that reported it, and whether that probe ended in ``fail``.
    probe: str = field(default="", compare=False)
    failed: bool = field(default=False, compare=False)

    @property
    def data(self) -> Mapping[str, Any]:
        return self.finding.data

    def evidence(self) -> str:
        label = f"{self.code}@{self.target}" if self.target else self.code
        key = _EVIDENCE_DETAIL.get(self.code)
        detail = self.data.get(key) if key else None
        return f"{label} ({key}: {detail})" if detail else label


def _is_server_error(status: object) -> bool:
    # ``http.status`` is emitted for 5xx and other unexpected statuses; a 404 on a landing
    # page says the server is alive. A finding without a usable status is taken at its word.
    return not isinstance(status, int) or isinstance(status, bool) or status >= 500


class Facts:
    """What the rules ask of a run, computed from the results once."""

    def __init__(self, results: Sequence[ProbeResult], targets: Sequence[Target]) -> None:
        roles = {target.name: target.role for target in targets}
        findings = [(result, finding) for result in results for finding in result.findings]
        self.observations: tuple[Observation, ...] = tuple(
            Observation(
                position,
                f.code,
                f.target,
                roles.get(f.target or ""),
                f,
                probe=result.id,
                failed=result.status is Status.FAIL,
            )
            for position, (result, f) in enumerate(findings)
        )
        self.target_names: tuple[str, ...] = tuple(roles)
        self.roles: Mapping[str, str] = MappingProxyType(roles)
        self.conclusive_probes = frozenset(r.id for r in results if r.status in _CONCLUSIVE)
        self._ipv6_broken = frozenset(o.target for o in self.having({"tcp.ipv6_broken"}))

    def having(
        self, codes: Iterable[str], roles: Iterable[str | None] | None = None
    ) -> tuple[Observation, ...]:
        """Observations with one of ``codes``, on targets of ``roles`` (any when None)."""
        wanted, role_set = frozenset(codes), None if roles is None else frozenset(roles)
        return tuple(
            o
            for o in self.observations
            if o.code in wanted and (role_set is None or o.role in role_set)
        )

    def on_target(self, target: str) -> tuple[Observation, ...]:
        return tuple(o for o in self.observations if o.target == target)

    def ran(self, probe_id: str) -> bool:
        return probe_id in self.conclusive_probes

    def targets_of(self, role: str) -> tuple[str, ...]:
        return tuple(name for name in self.target_names if self.roles[name] == role)

    # --- per-observation verdicts -------------------------------------------------------

    def is_connect_failure(self, o: Observation) -> bool:
        if o.code in ("tcp.timeout", "tcp.refused"):
            # IPv6 failing while IPv4 works is the warning tcp.ipv6_broken, not a dead host
            return not (o.data.get("family") == "ipv6" and o.target in self._ipv6_broken)
        return o.code == "http.timeout"

    def is_hard_failure(self, o: Observation) -> bool:
        """The target did not serve: no connection, no handshake, or a server error."""
        if o.code == "http.status":
            return _is_server_error(o.data.get("status"))
        return o.code == "tls.handshake_failed" or self.is_connect_failure(o)

    def is_system_dns_failure(self, o: Observation) -> bool:
        return o.code in _DNS_FAILURES and o.data.get("resolver") == SYSTEM_RESOLVER

    def is_trusted_dns_failure(self, o: Observation) -> bool:
        return o.code in _DNS_FAILURES and o.data.get("resolver") != SYSTEM_RESOLVER

    # --- per-target verdicts -------------------------------------------------------------

    def unreachable(self, target: str) -> bool:
        return any(self.is_connect_failure(o) for o in self.on_target(target))

    def cut_off(self, target: str) -> bool:
        """No path to the target at all: no connection, or no resolver answered for it.

        A name the device's resolver cannot resolve (timeout, SERVFAIL) while a trusted
        resolver out on the internet gives no answer either, and that no connectivity probe
        reached, has no way to be reached, even though no connection to it was ever tried.
        """
        if self.unreachable(target):
            return True
        if self.works(target) or not self.system_dns_failed_softly(target):
            return False
        return any(
            self.is_trusted_dns_failure(o) and o.code == "dns.timeout"
            for o in self.on_target(target)
        )

    def system_dns_failed_softly(self, target: str) -> bool:
        """The system resolver failed for the target without saying the name is unknown."""
        return any(
            self.is_system_dns_failure(o) and o.code != "dns.nxdomain"
            for o in self.on_target(target)
        )

    def works(self, target: str) -> bool:
        """A connectivity probe looked at the target and it served."""
        if not self.conclusive_probes & _CONNECTIVITY_PROBES:
            return False
        return not any(self.is_hard_failure(o) for o in self.on_target(target))

    def system_dns_failed(self, target: str) -> bool:
        return any(self.is_system_dns_failure(o) for o in self.on_target(target))

    def trusted_dns_answered(self, target: str) -> bool:
        # The dns probe reports only failures, so "answered" means it ran and no trusted
        # resolver failed for this target.
        return self.ran("dns") and not any(
            self.is_trusted_dns_failure(o) for o in self.on_target(target)
        )


@dataclass(frozen=True)
class Candidate:
    """A cause whose rule holds, before folding and ranking."""

    cause_id: str
    confidence: str
    #: The findings the cause rests on; folding may move them to a cause that explains them.
    evidence: tuple[Observation, ...]
    #: Findings that support the cause but never make it on their own (a VPN that is up).
    context: tuple[Observation, ...] = ()
    #: Findings of other causes that this cause accounts for (see FOLDS).
    explains: frozenset[Observation] = frozenset()
    explains_everything: bool = False
    #: The exit status this finding of the cause implies, when milder than the catalogue's
    #: (a BPJS side that is slow but answers is a warning, one that fails is critical).
    severity: ExitStatus | None = None

    def accounts_for(self, o: Observation) -> bool:
        return self.explains_everything or o in self.explains

    def all_evidence(self) -> tuple[Observation, ...]:
        return self.context + self.evidence


Rule = Callable[[Facts], Candidate | None]


# --- the rules: one per cause --------------------------------------------------------------


def _offline(facts: Facts) -> Candidate | None:
    failures = tuple(o for o in facts.having(_ANY_FAILURE) if o.target)
    if system_offline := facts.having({"system.offline"}):
        return Candidate("offline", HIGH, system_offline + failures, explains_everything=True)
    names = facts.target_names
    if not names or not all(facts.cut_off(name) for name in names):
        return None
    # Every host is unreachable, but the system resolver failing while trusted resolvers
    # answer is the DNS rule's business: the link itself is up.
    if all(facts.system_dns_failed(n) and facts.trusted_dns_answered(n) for n in names):
        return None
    # DNS still answering while nothing else does is what an exhausted data plan or a
    # DNS-only firewall looks like: offline for JMO, but less certainly so.
    confidence = MEDIUM if any(facts.trusted_dns_answered(n) for n in names) else HIGH
    return Candidate("offline", confidence, failures, explains_everything=True)


def _captive_portal(facts: Facts) -> Candidate | None:
    portal = facts.having({"http.captive_portal"})
    if not portal:
        return None
    # Until the user logs in, every failure on this network is the portal's doing.
    return Candidate("captive_portal", HIGH, portal, explains_everything=True)


def _clock_skew(facts: Facts) -> Candidate | None:
    certificate_dates = facts.having(_TLS_TIME, roles={BPJS, REFERENCE})
    if skew := facts.having({"clock.skew"}):
        return Candidate(
            "clock_skew", HIGH, skew + certificate_dates, explains=frozenset(certificate_dates)
        )
    # Without a clock measurement, certificates of unrelated operators all "expiring" at
    # once, a reference host among them, points at this device's clock rather than at them.
    affected = {o.target for o in certificate_dates}
    if len(affected) >= 2 and any(o.role == REFERENCE for o in certificate_dates):
        return Candidate(
            "clock_skew", MEDIUM, certificate_dates, explains=frozenset(certificate_dates)
        )
    return None


def _dns_tampered(facts: Facts) -> Candidate | None:
    tampered = facts.having({"dns.tampered"}, roles={BPJS, REFERENCE})
    if not tampered:
        return None
    # A wrong address makes every later check of that host fail (a block page has the
    # wrong certificate), so those failures are symptoms of the tampering.
    hosts = {o.target for o in tampered if o.target}
    symptoms = frozenset(o for name in hosts for o in facts.on_target(name))
    confidence = HIGH if any(o.role == BPJS for o in tampered) else MEDIUM
    return Candidate("dns_tampered", confidence, tampered, explains=symptoms)


def _dns_failure(facts: Facts) -> Candidate | None:
    failing = tuple(o for o in facts.observations if facts.is_system_dns_failure(o) and o.role)
    # Only a failure the rest of the network contradicts is the device's resolver at fault;
    # a name every resolver fails on is a name that does not resolve anywhere.
    hosts = {
        o.target
        for o in failing
        if o.target and (facts.trusted_dns_answered(o.target) or facts.works(o.target))
    }
    if not hosts:
        return None
    evidence = tuple(o for o in failing if o.target in hosts)
    symptoms = frozenset(o for name in hosts for o in facts.on_target(name))
    confidence = HIGH if any(o.role == BPJS for o in evidence) else MEDIUM
    return Candidate("dns_failure", confidence, evidence, explains=symptoms)


def _tls_intercepted(facts: Facts) -> Candidate | None:
    distrusted = facts.having(_TLS_DISTRUST, roles={BPJS, REFERENCE})
    if not distrusted:
        return None
    # A middlebox re-signs everything, reference hosts included; a BPJS host alone failing
    # verification may just serve an incomplete certificate chain.
    confidence = HIGH if any(o.role == REFERENCE for o in distrusted) else MEDIUM
    return Candidate("tls_intercepted", confidence, distrusted)


def _vpn_or_proxy(facts: Facts) -> Candidate | None:
    tunnels = facts.having({"system.vpn", "system.proxy"})
    bpjs_failures = tuple(
        o
        for o in facts.having(_ANY_FAILURE, roles={BPJS})
        if not (o.code in _DNS_FAILURES and not facts.is_system_dns_failure(o))
    )
    # Requests sent through the configured proxy that never got past it: the proxy itself
    # does not work, whatever the direct connections of the other probes say.
    if broken_proxy := facts.having({"http.proxy_failed"}):
        return Candidate("vpn_or_proxy", HIGH, broken_proxy + bpjs_failures, context=tunnels)
    if not tunnels or not bpjs_failures:
        return None  # a VPN under which BPJS works is the user's business, not a cause
    # Reference hosts working through the same tunnel singles out the BPJS side refusing
    # the tunnel's exit address.
    working_reference = any(facts.works(name) for name in facts.targets_of(REFERENCE))
    confidence = HIGH if working_reference else MEDIUM
    return Candidate("vpn_or_proxy", confidence, bpjs_failures, context=tunnels)


def _bpjs_unreachable(facts: Facts) -> Candidate | None:
    failures = tuple(
        o
        for o in facts.having(_ANY_FAILURE | {"http.block_page"}, roles={BPJS})
        if facts.is_hard_failure(o) or o.code in _TLS_TIME or o.code == "http.block_page"
    )
    slow = facts.having({"http.slow"}, roles={BPJS})
    if not failures:
        # Answering, only far later than the reference hosts (month-end, JHT payout
        # peaks): JMO may still load, so a warning. The probe compares with the reference
        # hosts itself, so a slow link is never taken for it.
        return (
            Candidate("bpjs_unreachable", HIGH, slow, severity=ExitStatus.WARNING) if slow else None
        )
    failures += slow
    if not any(facts.works(name) for name in facts.targets_of(REFERENCE)):
        # Without a working control host the network may be at fault; when it is plainly
        # down, offline absorbs this. Otherwise failing BPJS hosts must never read as
        # "all clear", so the cause stays, with little certainty about where the fault is.
        return Candidate("bpjs_unreachable", LOW, failures)
    failed_hosts = {o.target for o in failures}
    every_bpjs_host = set(facts.targets_of(BPJS)) <= failed_hosts
    return Candidate("bpjs_unreachable", HIGH if every_bpjs_host else MEDIUM, failures)


def _mtu_blackhole(facts: Facts) -> Candidate | None:
    confirmed = facts.having({"path.mtu_blackhole"})
    if not confirmed:
        return None
    if facts.having({"latency.loss"}):
        # Handshakes are small packets: a broken path MTU never loses them. Lost handshakes
        # mean the link drops packets of any size, and a stalled request that then went
        # through with small segments was luck on a lossy link, not a size limit.
        return None
    # The request stalled and went through with small segments: every stall, broken
    # handshake or timeout on those hosts is the path dropping full-size packets.
    hosts = {o.target for o in confirmed}
    symptoms = frozenset(
        o for o in facts.having(_BROKEN_OFF | _CONNECT_FAILURES) if o.target in hosts
    )
    return Candidate("mtu_blackhole", HIGH, confirmed, explains=symptoms)


def _ipv6_broken(facts: Facts) -> Candidate | None:
    broken = facts.having({"tcp.ipv6_broken"})
    if not broken:
        return None
    # The same on a reference host too is the network's IPv6, not one server's.
    hosts = {o.target for o in broken}
    widespread = len(hosts) >= 2 and any(o.role == REFERENCE for o in broken)
    timeouts = frozenset(
        o for o in facts.having(_TCP_DEAD) if o.target in hosts and o.data.get("family") == "ipv6"
    )
    return Candidate("ipv6_broken", HIGH if widespread else MEDIUM, broken, explains=timeouts)


def _unstable_connection(facts: Facts) -> Candidate | None:
    jitter = facts.having(_LATENCY)
    if not jitter:
        return None
    # The same trouble on several paths, a neutral one among them, is the user's link.
    hosts = {o.target for o in jitter}
    widespread = len(hosts) >= 2 and any(o.role == REFERENCE for o in jitter)
    if not widespread:
        return Candidate("unstable_connection", MEDIUM, jitter)
    return Candidate("unstable_connection", HIGH, jitter, explains=_intermittent(facts))


def _intermittent(facts: Facts) -> frozenset[Observation]:
    """Failures that a link losing packets explains: lookups lost on the way while the
    same resolver answered for other names, requests that timed out or broke off on
    hosts that accepted connections, and a host's handshakes all lost over one address
    family while over the other they were merely lossy."""
    system_failures = [o for o in facts.observations if facts.is_system_dns_failure(o)]
    resolver_answers = facts.ran("dns") and any(
        not facts.system_dns_failed(name) for name in facts.target_names
    )
    lost_lookups = {o for o in system_failures if resolver_answers and o.code != "dns.nxdomain"}
    # at such loss a resolver's silence on every name is the loss's as well
    lost_lookups |= {
        o for o in system_failures if o.code == "dns.timeout" and _loses_lookups(facts)
    }
    connected = {
        name
        for name in facts.target_names
        if facts.ran("tcp") and not any(o.code in _TCP_DEAD for o in facts.on_target(name))
    }
    broken_off = {o for o in facts.having(_BROKEN_OFF) if o.target in connected}
    # every handshake of one address family lost while the other family's went through
    # that lossy too: at 50 % lost per handshake, a series of five all lost is one in 32
    lossy = {o.target for o in facts.having(_LATENCY)}
    lost_series = {o for o in facts.having({"tcp.timeout"}) if o.target in lossy}
    return frozenset(lost_lookups | broken_off | lost_series)


def _loses_lookups(facts: Facts) -> bool:
    """Whether the link loses round trips often enough to lose every lookup: the median
    target's measured loss at least :data:`LOOKUP_LOSING_PCT`."""
    losses = sorted(
        float(o.data["loss_pct"])
        for o in facts.having({"latency.loss"})
        if isinstance(o.data.get("loss_pct"), int | float)
    )
    return bool(losses) and losses[len(losses) // 2] >= LOOKUP_LOSING_PCT


def _slow_connection(facts: Facts) -> Candidate | None:
    low = facts.having({"bandwidth.low"})
    bloat = facts.having({"bandwidth.bufferbloat"})
    if not (low or bloat):
        return None
    # Bufferbloat hurts only while the line is busy; low throughput hurts every time.
    # A link measured that slow queues every packet behind the others and drops what its
    # queue cannot hold: the high, jittery and lost handshakes seen alongside are its
    # symptoms, not a second problem (and the article's steps for both are the same).
    queueing = frozenset(facts.having(_LATENCY)) if low else frozenset()
    return Candidate("slow_connection", HIGH if low else MEDIUM, low + bloat, explains=queueing)


def _device_unsupported(facts: Facts) -> Candidate | None:
    too_old = facts.having(frozenset({"store.os_unsupported"}))
    if not too_old:
        return None
    # the phone cannot take the update the store offers: that finding is this cause's too
    outdated = frozenset(facts.having(frozenset({"store.outdated"})))
    return Candidate("device_unsupported", HIGH, too_old, explains=outdated)


def _found_by(codes: Iterable[str], cause_id: str) -> Rule:
    wanted = frozenset(codes)

    def rule(facts: Facts) -> Candidate | None:
        found = facts.having(wanted)
        return Candidate(cause_id, HIGH, found) if found else None

    rule.__name__ = f"_{cause_id}"
    return rule


#: cause id → rule. kpj_not_linked and membership_data have none: they are the residual.
RULES: Mapping[str, Rule] = MappingProxyType(
    {
        "offline": _offline,
        "captive_portal": _captive_portal,
        "clock_skew": _clock_skew,
        "dns_tampered": _dns_tampered,
        "dns_failure": _dns_failure,
        "tls_intercepted": _tls_intercepted,
        "vpn_or_proxy": _vpn_or_proxy,
        "bpjs_unreachable": _bpjs_unreachable,
        "mtu_blackhole": _mtu_blackhole,
        "ipv6_broken": _ipv6_broken,
        "unstable_connection": _unstable_connection,
        "slow_connection": _slow_connection,
        "app_outdated": _found_by({"store.outdated"}, "app_outdated"),
        "device_unsupported": _device_unsupported,
        "kpj_invalid": _found_by({"kpj.invalid"}, "kpj_invalid"),
    }
)

#: holder → the causes it may absorb, applied in this order so that what a holder absorbed
#: moves along when it is absorbed in turn (offline into a login portal).
#: offline also takes slow_connection: a throughput figure from a dead link is a symptom.
#: The portal takes offline: a network that answers with a login page is not absent, and
#: logging in is the fix. A VPN is not absorbed by DNS causes: turning it off is the fix.
#: A link that loses packets everywhere takes the lookups and requests lost on the way
#: (see ``_intermittent``): a resolver that answers some names is not broken.
FOLDS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "offline": frozenset(
            {
                "dns_failure",
                "dns_tampered",
                "bpjs_unreachable",
                "tls_intercepted",
                "unstable_connection",
                "slow_connection",
                "vpn_or_proxy",
            }
        ),
        "captive_portal": frozenset(
            {"offline", "tls_intercepted", "dns_tampered", "dns_failure", "bpjs_unreachable"}
        ),
        "clock_skew": frozenset({"bpjs_unreachable"}),
        "dns_tampered": frozenset({"tls_intercepted", "bpjs_unreachable"}),
        "dns_failure": frozenset({"tls_intercepted", "bpjs_unreachable"}),
        "unstable_connection": frozenset({"dns_failure", "bpjs_unreachable"}),
        "slow_connection": frozenset({"unstable_connection"}),
        # a phone too old for the current JMO cannot take the update: "update JMO" is
        # not a step it can follow, the system update or another phone is
        "device_unsupported": frozenset({"app_outdated"}),
        # Pages that start and never finish are not "no internet": small packets pass.
        "mtu_blackhole": frozenset(
            {"offline", "bpjs_unreachable", "unstable_connection", "tls_intercepted"}
        ),
    }
)


def _fold(found: Mapping[str, Candidate]) -> dict[str, Candidate]:
    kept = dict(found)
    for holder_id, foldable in FOLDS.items():
        for folded_id in (cause for cause in PRIORITY if cause in foldable):
            holder, folded = kept.get(holder_id), kept.get(folded_id)
            if holder is None or folded is None:
                continue
            explained = tuple(o for o in folded.evidence if holder.accounts_for(o))
            if not explained:
                continue
            remaining = tuple(o for o in folded.evidence if o not in explained)
            if remaining:
                kept[folded_id] = replace(folded, evidence=remaining)
                moved = explained
            else:
                del kept[folded_id]
                moved = folded.all_evidence()
            kept[holder_id] = replace(holder, evidence=holder.evidence + moved)
    return kept


def _plugin_rules() -> dict[str, Rule]:
    """One rule per plug-in cause: the finding codes it names point to it (SPEC §5)."""
    return {
        item.id: _found_by(item.codes, item.id)
        for item in catalogue.entries().values()
        if item.codes and item.id not in RULES
    }


def _explained(o: Observation, found: Iterable[Candidate]) -> bool:
    return any(o in c.all_evidence() or c.accounts_for(o) for c in found)


def _unexplained_failure(facts: Facts, found: Mapping[str, Candidate]) -> Candidate | None:
    """A failing plug-in probe's findings that no cause explains: the run must not read
    as fine because jmo-doctor does not know what the plug-in found (SPEC §5)."""
    left = tuple(
        o
        for o in facts.observations
        if o.failed
        and o.probe not in BUILTIN_PROBES
        and o.code not in _RUNNER_CODES
        and not _explained(o, found.values())
    )
    return Candidate(UNEXPLAINED_FAILURE, MEDIUM, left) if left else None


def _with_residual(found: dict[str, Candidate]) -> bool:
    """Add the residual causes when nothing on the device, network or app is wrong.

    Only for a run whose judges all gave their verdict (the caller checks): the residual
    causes say that nothing else explains the missing balance, which a run that did not
    look cannot say.

    An invalid KPJ does not stop the residual: the number was typed for this check, so the
    article's cause 1 — link a correct 11-digit KPJ in JMO — is still the next thing to do
    and is listed right after it (kpj_invalid is a warning, the residual causes are ok).
    """
    if any(cause_id not in _ACCOUNT_CAUSES for cause_id in found):
        return False
    found["kpj_not_linked"] = Candidate("kpj_not_linked", MEDIUM, ())
    found["membership_data"] = Candidate("membership_data", LOW, ())
    return True


def _evidence_strings(observations: Iterable[Observation]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(o.evidence() for o in observations))


def _degrades_the_device(o: Observation) -> bool:
    # A slow trusted resolver is not one the device or JMO uses.
    return o.code != "dns.slow" or o.data.get("resolver", SYSTEM_RESOLVER) == SYSTEM_RESOLVER


def _unexplained_warnings(facts: Facts, listed: Iterable[Candidate]) -> tuple[Observation, ...]:
    used = {o for candidate in listed for o in candidate.all_evidence()}
    return tuple(
        o for o in facts.having(_WARNING_CODES) if o not in used and _degrades_the_device(o)
    )


def _tie_break(cause_id: str) -> tuple[int, int]:
    if cause_id in PRIORITY:
        return (PRIORITY.index(cause_id), 1)
    return (PRIORITY.index(UNEXPLAINED_FAILURE), 0)  # a plug-in's cause (see PRIORITY)


def _ranked(found: Mapping[str, Candidate]) -> list[Candidate]:
    def key(candidate: Candidate) -> tuple[int, int, tuple[int, int]]:
        severity = _severity(candidate)
        return (
            -int(severity),
            _CONFIDENCE_ORDER[candidate.confidence],
            _tie_break(candidate.cause_id),
        )

    return sorted(found.values(), key=key)


# --- what the run checked --------------------------------------------------------------------


def _why_not_checked(result: ProbeResult) -> str | None:
    """None when the probe gave a verdict, else why not (see :class:`Scope`)."""
    if result.status is Status.ERROR:
        return ERRORED
    if result.status is Status.SKIP:
        reasons = [str(f.data.get("reason")) for f in result.findings if f.code == "probe.skipped"]
        return next((_SKIP_REASONS[r] for r in reasons if r in _SKIP_REASONS), SKIPPED)
    if any(f.code in _CHECK_INCOMPLETE for f in result.findings):
        return INCOMPLETE
    return None


def _scope(results: Sequence[ProbeResult]) -> Scope:
    not_checked = {r.id: why for r in results if (why := _why_not_checked(r)) is not None}
    ran = {r.id for r in results}
    not_checked.update({judge: NOT_SELECTED for judge in JUDGES if judge not in ran})
    store = next((r for r in results if r.id == "store" and r.status in _CONCLUSIVE), None)
    known = None
    if store is not None:
        known = not any(f.code == "store.installed_unknown" for f in store.findings)
    return Scope(
        checked=tuple(r.id for r in results if r.id not in not_checked),
        not_checked=MappingProxyType(not_checked),
        installed_version_known=known,
    )


def _severity(candidate: Candidate) -> ExitStatus:
    if candidate.severity is not None:
        return candidate.severity
    return catalogue.entry(candidate.cause_id).severity


def _cause(candidate: Candidate, rank: int, lang: str) -> Cause:
    entry = catalogue.entry(candidate.cause_id)
    words = entry.text(lang)
    return Cause(
        id=candidate.cause_id,
        rank=rank,
        confidence=candidate.confidence,
        article_section=entry.article_section,
        title=words.title,
        explanation=words.explanation,
        fix=words.fix,
        evidence=_evidence_strings(candidate.all_evidence()),
        severity=_severity(candidate),
        summary=words.summary,
    )


def _status(causes: Sequence[Cause], unexplained: bool, scope: Scope) -> ExitStatus:
    status = max((c.severity for c in causes), default=ExitStatus.OK)
    if unexplained:
        status = max(status, ExitStatus.WARNING)
    # A check that did not finish may have been about to find the fault, and a run in
    # which no probe could give a verdict (``--only store`` with both stores unreachable)
    # checked nothing: "ok" would be a claim the run cannot back. A warning or worse that
    # was found stands on its own.
    unfinished = scope.errored or not scope.checked
    if unfinished and status < ExitStatus.WARNING:
        return ExitStatus.UNKNOWN
    return status


def diagnose(results: Sequence[ProbeResult], targets: Sequence[Target], lang: str) -> Diagnosis:
    """Rank the causes that explain ``results``; ``targets`` gives each target's role.

    ``results`` holds one result per probe the run chose: a judge missing from them was
    left out by ``--only``/``--skip``, and the verdict then speaks only of the others.
    """
    facts = Facts(results, targets)
    scope = _scope(results)
    looked = bool(facts.conclusive_probes) or any(
        o.code not in _RUNNER_CODES for o in facts.observations
    )
    if not looked:
        # Every probe errored, timed out or was skipped: saying "all clear" would be a lie.
        return Diagnosis(causes=(), status=ExitStatus.UNKNOWN, all_clear=False, scope=scope)

    rules = {**RULES, **_plugin_rules()}
    found = {
        cause_id: candidate
        for cause_id, rule in rules.items()
        if (candidate := rule(facts)) is not None
    }
    found = _fold(found)
    if unaccounted := _unexplained_failure(facts, found):
        found[UNEXPLAINED_FAILURE] = unaccounted
    residual = scope.complete and not scope.errored and _with_residual(found)
    ranked = _ranked(found)
    causes = tuple(_cause(c, rank, lang) for rank, c in enumerate(ranked, start=1))

    unexplained = _unexplained_warnings(facts, ranked)
    return Diagnosis(
        causes=causes,
        status=_status(causes, bool(unexplained), scope),
        all_clear=residual and not unexplained,
        unexplained=_evidence_strings(unexplained),
        scope=scope,
    )
