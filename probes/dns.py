"""dns probe: the system resolver (what JMO uses) against trusted resolvers and DoH.

Per target name: the system resolver through ``getaddrinfo``; the same resolver asked
directly with dnspython (``getaddrinfo`` hides CNAME chains, and block pages show up as
CNAMEs); every trusted resolver and DoH URL. Answers are checked against known Indonesian
block pages, and a system answer that no trusted resolver gives is tested with TLS: a
block page cannot show a valid certificate for the name, a CDN edge can.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import socket
import statistics
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
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
    Resolver,
    Status,
    Target,
)
from probes._common import fingerprints
from probes._common.net import (
    Lookup,
    budget,
    family_of,
    is_ip,
    ms_since,
    problem_list,
    query_server,
    trusted_lookup,
    trusted_resolvers,
)
from probes._common.tls import verify_address

SYSTEM = "system"
#: glibc gives up on a silent resolver after 5 s per try and reports EAI_AGAIN, as it does
#: for SERVFAIL; a failure this slow is a timeout.
SLOW_FAILURE_MS = 4000.0
#: How long the system lookups run alone before the other queries start (seconds).
SYSTEM_ALONE_S = 0.3
_NO_NAME = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}
# How an OS "no route" error reads in a lookup's error text ("[Errno 101] Network is
# unreachable"): the device has no way to that resolver.
_NO_ROUTE = re.compile(
    rf"\[Errno ({errno.ENETUNREACH}|{errno.EHOSTUNREACH})\]"
    "|network is unreachable|no route to host",
    re.IGNORECASE,
)
_FAILING = {"dns.tampered", "dns.timeout", "dns.nxdomain", "dns.servfail"}


@dataclass(frozen=True)
class SystemAnswer:
    addresses: tuple[str, ...]
    outcome: str  # "ok" | "nxdomain" | "servfail" | "timeout"
    ms: float
    error: str = ""


def system_nameservers() -> list[str]:
    """The system resolver's servers from resolv.conf (Termux keeps it under $PREFIX)."""
    import dns.resolver

    paths = ["/etc/resolv.conf"]
    if prefix := os.environ.get("PREFIX"):
        paths.insert(0, os.path.join(prefix, "etc", "resolv.conf"))
    for path in paths:
        try:
            return [str(ns) for ns in dns.resolver.Resolver(filename=path).nameservers]
        except Exception:  # missing or unreadable file: try the next, else rely on addresses
            continue
    return []


def warm_up_lookups() -> None:
    """Load the C library's name service (nsswitch, hosts file, gai.conf) with a lookup that
    stays on the device, so that the timed lookups measure the resolver, not this set-up
    (a few ms, paid once per process: JMO, running for long, does not pay it)."""
    with contextlib.suppress(OSError, UnicodeError):
        socket.getaddrinfo("localhost", None, 0, socket.SOCK_STREAM)


def _who(ctx: ProbeContext, resolver: str) -> str:
    """The resolver as a person reads it: the phone's own DNS, or the trusted one named."""
    if resolver == SYSTEM:
        return ctx.text(id="DNS perangkat", en="The device's DNS resolver")
    return ctx.text(id=f"Resolver {resolver}", en=f"Resolver {resolver}")


#: Each finding's short name, for the summary line (the code is the evidence).
PROBLEM_NAMES: Messages = {
    "dns.timeout": {"id": "DNS tidak menjawab tepat waktu", "en": "DNS gave no answer in time"},
    "dns.nxdomain": {"id": "nama tidak ditemukan (NXDOMAIN)", "en": "name not found (NXDOMAIN)"},
    "dns.servfail": {
        "id": "server DNS menjawab gagal (SERVFAIL)",
        "en": "DNS server answered failure (SERVFAIL)",
    },
    "dns.tampered": {"id": "jawaban DNS dibelokkan", "en": "DNS answer diverted"},
    "dns.slow": {"id": "DNS lambat", "en": "slow DNS"},
}


class DnsProbe(BaseProbe):
    id = "dns"
    title: ClassVar[LocalText] = {"id": "Resolusi nama (DNS)", "en": "Name resolution (DNS)"}
    order = 30
    messages: ClassVar[Messages] = {
        "dns.timeout": {
            "id": "{who} tidak menjawab tepat waktu untuk {target}.",
            "en": "{who} gave no answer in time for {target}.",
        },
        "dns.nxdomain": {
            "id": "{who} menyatakan nama {host} ({target}) tidak ada.",
            "en": "{who} says the name {host} ({target}) does not exist.",
        },
        "dns.servfail": {
            "id": "{who} gagal menjawab untuk {host} ({target}).",
            "en": "{who} failed to answer for {host} ({target}).",
        },
        "dns.tampered": {
            "id": "Jawaban DNS untuk {host} ({target}) dialihkan ({fingerprint}): "
            "kemungkinan diblokir atau dibelokkan oleh jaringan.",
            "en": "The DNS answer for {host} ({target}) is redirected ({fingerprint}): "
            "the network likely blocks or diverts it.",
            # intercepted / truthful: the trusted resolvers that gave the block page too,
            # and those (usually only DNS over HTTPS/TLS) that told the truth
        },
        "dns.slow": {
            "id": "{who} lambat untuk {target}: {ms:.0f} ms.",
            "en": "{who} is slow for {target}: {ms:.0f} ms.",
        },
    }

    def __init__(self, system_servers: Sequence[str] | None = None) -> None:
        # None: read resolv.conf at run time; tests pass their own loopback server
        self._system_servers = None if system_servers is None else list(system_servers)

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        targets = [t for t in ctx.targets if not is_ip(t.host)]
        if not targets:
            return ProbeResult(
                self.id,
                Status.SKIP,
                ctx.text(id="Semua target berupa alamat IP.", en="All targets are IP addresses."),
            )
        warming = asyncio.ensure_future(ctx.to_thread(warm_up_lookups))
        servers = self._system_servers
        if servers is None:
            servers = await ctx.to_thread(system_nameservers)
        await warming
        done = 0
        # The system lookups go first, on their own: the direct and trusted queries keep
        # the event loop busy, and the time of the lookup JMO relies on must not include
        # that wait. A resolver that is slow to answer holds the others up only so long.
        system = {t.name: asyncio.ensure_future(_system_lookup(ctx, t)) for t in targets}
        try:
            await asyncio.wait(system.values(), timeout=budget(ctx, SYSTEM_ALONE_S))
        except asyncio.CancelledError:
            for task in system.values():
                task.cancel()
            raise

        async def check(target: Target) -> tuple[list[Finding], dict[str, Any]]:
            nonlocal done
            work = _check_target(ctx, target, servers[:1], system[target.name])
            try:  # on a link known unstable a lookup still going waits on its losses
                result = await ctx.unless(work, Fact.unstable_link())
            except Decided as decided:
                result = [], _not_waited(target, str(decided.fact))
            done += 1
            ctx.progress(done / len(targets), target.name)
            return result

        outcomes = await asyncio.gather(*(check(t) for t in targets))
        findings = [f for found, _ in outcomes for f in found]
        details = {t.name: detail for t, (_, detail) in zip(targets, outcomes, strict=True)}
        checked = sum(1 for detail in details.values() if "not_waited" not in detail)
        if not checked:
            return ProbeResult(
                self.id,
                Status.SKIP,
                ctx.text(
                    id="Tidak ditunggu: koneksi tidak stabil (lihat TCP).",
                    en="Not waited for: the connection is unstable (see TCP).",
                ),
                details={"system_servers": servers, "targets": details},
            )
        metrics = {
            f"{name}.system_ms": float(detail["system"]["ms"])
            for name, detail in details.items()
            if detail["system"]["outcome"] == "ok"
        }
        return ProbeResult(
            self.id,
            _status(findings),
            _summary(ctx, findings, metrics, checked),
            tuple(findings),
            metrics,
            {"system_servers": servers, "targets": details},
        )


async def _system_lookup(ctx: ProbeContext, target: Target) -> SystemAnswer:
    start = time.perf_counter()
    try:
        # asyncio.timeout, not wait_for: no extra task, so no extra loop turns in the time
        async with asyncio.timeout(budget(ctx, 10.0)):
            pairs = await ctx.resolve(target.host, target.port)
    except socket.gaierror as error:
        ms = ms_since(start)
        if error.errno in _NO_NAME:
            return SystemAnswer((), "nxdomain", ms, str(error))
        if error.errno == socket.EAI_AGAIN and ms >= SLOW_FAILURE_MS:
            return SystemAnswer((), "timeout", ms, str(error))
        return SystemAnswer((), "servfail", ms, str(error))
    except TimeoutError:
        return SystemAnswer((), "timeout", ms_since(start), "timeout")
    except OSError as error:
        return SystemAnswer((), "servfail", ms_since(start), str(error))
    addresses = tuple(address for _, address in pairs)
    # the resolver's own time when the context measured it; else what we saw from here
    ms = ctx.lookup_time_ms(target.host, target.port) or ms_since(start)
    return SystemAnswer(addresses, "ok" if addresses else "nxdomain", ms)


async def _direct_lookup(ctx: ProbeContext, host: str, servers: list[str]) -> Lookup | None:
    """The system resolver asked directly, once per name and run (targets may share one)."""
    if not servers:
        return None

    async def ask() -> Lookup:
        try:
            return await query_server(Resolver.parse(servers[0]), host, budget(ctx, 5.0))
        except Exception as error:  # a bad resolv.conf entry must not stop the probe
            return Lookup(servers[0], "ERROR", error=f"{type(error).__name__}: {error}")

    return await ctx.once(f"dns:direct:{servers[0]}:{host.lower()}", ask)


def _refine(system: SystemAnswer, direct: Lookup | None) -> SystemAnswer:
    """getaddrinfo reports SERVFAIL and silence alike (EAI_AGAIN); the direct query tells.

    A direct query that the same server answers with the name's addresses shows that it
    does not fail for the name: getaddrinfo's failure was answers lost on the way.
    """
    answered = direct is not None and direct.rcode == "NOERROR" and bool(direct.addresses)
    if (
        system.outcome == "servfail"
        and direct is not None
        and (direct.rcode == "TIMEOUT" or answered)
    ):
        return SystemAnswer(system.addresses, "timeout", system.ms, system.error)
    if system.outcome == "timeout" and direct is not None and direct.rcode == "SERVFAIL":
        return SystemAnswer(system.addresses, "servfail", system.ms, system.error)
    return system


def _not_waited(target: Target, fact: str) -> dict[str, Any]:
    """The detail of a target whose lookups were no longer waited for."""
    system = {"answers": [], "outcome": "not_waited", "ms": 0.0}
    return {"host": target.host, "system": system, "not_waited": fact}


async def _check_target(
    ctx: ProbeContext,
    target: Target,
    servers: list[str],
    system_lookup: Awaitable[SystemAnswer] | None = None,
) -> tuple[list[Finding], dict[str, Any]]:
    host = target.host
    system, direct, lookups = await asyncio.gather(
        system_lookup if system_lookup is not None else _system_lookup(ctx, target),
        _direct_lookup(ctx, host, servers),
        asyncio.gather(*(trusted_lookup(ctx, r, host) for r in trusted_resolvers(ctx))),
    )
    system = _refine(system, direct)
    findings: list[Finding] = []
    name = target.name
    if system.outcome != "ok":
        findings.append(
            ctx.finding(
                f"dns.{system.outcome}",
                name,
                resolver=SYSTEM,
                who=_who(ctx, SYSTEM),
                host=host,
                error=system.error,
            )
        )
    elif system.ms > ctx.config.dns.slow_ms:
        findings.append(
            ctx.finding(
                "dns.slow", name, resolver=SYSTEM, who=_who(ctx, SYSTEM), ms=system.ms, host=host
            )
        )
    for lookup in lookups:
        code = {"TIMEOUT": "dns.timeout", "NXDOMAIN": "dns.nxdomain", "SERVFAIL": "dns.servfail"}
        # A resolver the device has no route to never answered: that is no answer (as
        # a timeout), not an answer that vouches for the link (an offline phone).
        unreachable = lookup.rcode == "ERROR" and _NO_ROUTE.search(lookup.error) is not None
        rcode = "TIMEOUT" if unreachable else lookup.rcode
        if rcode in code:
            findings.append(
                ctx.finding(
                    code[rcode],
                    name,
                    resolver=lookup.resolver,
                    who=_who(ctx, lookup.resolver),
                    host=host,
                    **({"unreachable": True} if unreachable else {}),
                )
            )
    tamper, tamper_detail = await _tampering(ctx, target, system, direct, list(lookups))
    if tamper is not None:
        findings.append(tamper)
    detail: dict[str, Any] = {
        "host": host,
        "system": {
            "answers": list(system.addresses),
            "outcome": system.outcome,
            "ms": system.ms,
            **({"error": system.error} if system.error else {}),
        },
        "system_direct": direct.as_detail() if direct is not None else None,
        "resolvers": [lookup.as_detail() for lookup in lookups],
        **tamper_detail,
    }
    return findings, detail


async def _tampering(
    ctx: ProbeContext,
    target: Target,
    system: SystemAnswer,
    direct: Lookup | None,
    lookups: list[Lookup],
) -> tuple[Finding | None, dict[str, Any]]:
    cnames = list(direct.cnames) if direct else []
    addresses = list(system.addresses) + (list(direct.addresses) if direct else [])
    answers = list(dict.fromkeys(cnames + addresses))
    matched = fingerprints.load().match(cnames, addresses)
    if matched is not None:
        intercepted, truthful = _who_blocked(lookups)
        finding = ctx.finding(
            "dns.tampered",
            target.name,
            answers=answers,
            fingerprint=matched.value,
            operator=matched.operator,
            source=matched.source,
            resolver=SYSTEM,
            host=target.host,
            intercepted=intercepted,
            truthful=truthful,
            # every plain resolver (port 53) gave the block page and only encrypted DNS
            # told the truth: changing the DNS server is no fix, Private DNS is
            transparent=bool(truthful)
            and all(_encrypted(name) for name in truthful)
            and any(not _encrypted(name) for name in intercepted),
        )
        return finding, {"tampering": {"fingerprint": matched.value, "source": matched.source}}
    trusted = list(
        dict.fromkeys(a for lk in lookups if lk.rcode == "NOERROR" for a in lk.addresses)
    )
    suspects = [a for a in system.addresses if a not in trusted]
    if not suspects or not trusted or urlsplit(target.url).scheme != "https":
        return None, {}
    # different answers are normal for CDNs: only a certificate that fails for the
    # system's address while the trusted address's passes shows a diversion
    suspect = suspects[0]
    same_family = [a for a in trusted if family_of(a) == family_of(suspect)]
    reference = (same_family or trusted)[0]
    timeout = budget(ctx, 3.0)
    suspect_ok, reference_ok = await asyncio.gather(
        verify_address(ctx, target.host, suspect, target.port, timeout),
        verify_address(ctx, target.host, reference, target.port, timeout),
    )
    check = {
        "suspect": suspect,
        "suspect_verified": suspect_ok,
        "trusted": reference,
        "trusted_verified": reference_ok,
    }
    if suspect_ok is False and reference_ok is True:
        finding = ctx.finding(
            "dns.tampered",
            target.name,
            answers=list(system.addresses),
            fingerprint="unverified-answer",
            resolver=SYSTEM,
            host=target.host,
        )
        return finding, {"tampering": check}
    return None, {"tampering_check": check}


def _encrypted(resolver: str) -> bool:
    return resolver.startswith("https://") or resolver.startswith("tls://")


def _who_blocked(lookups: Sequence[Lookup]) -> tuple[list[str], list[str]]:
    """The trusted resolvers (and DoH) that answered a block page, and those that
    answered something else: which were intercepted and which told the truth."""
    prints = fingerprints.load()
    intercepted: list[str] = []
    truthful: list[str] = []
    for lookup in lookups:
        if lookup.rcode != "NOERROR" or not lookup.addresses:
            continue
        blocked = prints.match(lookup.cnames, lookup.addresses) is not None
        (intercepted if blocked else truthful).append(lookup.resolver)
    return intercepted, truthful


def _status(findings: Sequence[Finding]) -> Status:
    if any(f.code in _FAILING and f.data.get("resolver", SYSTEM) == SYSTEM for f in findings):
        return Status.FAIL
    return Status.WARN if findings else Status.PASS


def _summary(
    ctx: ProbeContext, findings: Sequence[Finding], metrics: dict[str, float], count: int
) -> str:
    if not findings:
        median = statistics.median(metrics.values()) if metrics else 0.0
        return ctx.text(
            id=f"{count} nama terjawab konsisten; resolver sistem median {median:.0f} ms.",
            en=f"{count} names resolve consistently; system resolver median {median:.0f} ms.",
        )
    listed = problem_list(findings, PROBLEM_NAMES)
    return ctx.text(id=f"Masalah DNS: {listed['id']}.", en=f"DNS problems: {listed['en']}.")
