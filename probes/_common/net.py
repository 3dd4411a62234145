"""Shared network helpers: time budgets, direct DNS queries, and address lookup with fallback.

The dns and tcp probes both need the trusted resolvers' answers; they share them through
``ctx.once`` (keys ``dns:query:<resolver>:<host>``) so a run asks each resolver once.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import dns.asyncquery
import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype

from jmo_doctor.api import Finding, Messages, ProbeContext, Resolver

#: Findings must be ready before the runner cancels probes (0.25 s before the deadline).
MARGIN_S = 0.6
#: The smallest wait worth starting; below it an operation is reported as timed out.
MIN_WAIT_S = 0.05
#: A query unanswered this long is sent again within its wait (glibc's ``timeout:1``).
RESEND_S = 1.0


def budget(ctx: ProbeContext, cap: float) -> float:
    """Seconds an operation may take: at most ``cap``, and never past the run's deadline."""
    return max(MIN_WAIT_S, min(cap, ctx.remaining() - MARGIN_S))


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def family_name(family: int) -> str:
    return "ipv6" if family == socket.AF_INET6 else "ipv4"


def family_of(address: str) -> int:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def first_per_family(addresses: Iterable[str]) -> dict[int, str]:
    """The first address of each family, families in the order they first appear (the
    system resolver's preference)."""
    firsts: dict[int, str] = {}
    for address in addresses:
        firsts.setdefault(family_of(address), address)
    return firsts


def problem_list(findings: Iterable[Finding], names: Messages) -> dict[str, str]:
    """``{"id": "DNS lambat ×3, …", "en": "slow DNS ×3, …"}``: the problems found, in words
    (``names``: finding code → its short name), one line however many targets. The codes
    themselves are evidence, shown with each finding, not in a summary a person reads."""
    counts = sorted(Counter(f.code for f in findings).items())

    def listed(lang: str) -> str:
        said = ((names.get(code, {}).get(lang, code), n) for code, n in counts)
        return ", ".join(f"{name} ×{n}" if n > 1 else name for name, n in said)

    return {"id": listed("id"), "en": listed("en")}


def ms_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 2)


@dataclass(frozen=True)
class Lookup:
    """One resolver's answer for one name (A and AAAA together)."""

    resolver: str
    rcode: str  # "NOERROR", "NXDOMAIN", "SERVFAIL", … or "TIMEOUT" / "ERROR"
    addresses: tuple[str, ...] = ()
    cnames: tuple[str, ...] = ()
    ms: float = 0.0
    error: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def answered(self) -> bool:
        return self.rcode not in ("TIMEOUT", "ERROR")

    def as_detail(self) -> dict[str, object]:
        detail: dict[str, object] = {
            "resolver": self.resolver,
            "rcode": self.rcode,
            "answers": list(self.addresses),
            "cnames": list(self.cnames),
            "ms": self.ms,
        }
        if self.error:
            detail["error"] = self.error
        return detail


def _parse_response(response: dns.message.Message) -> tuple[list[str], list[str]]:
    addresses: list[str] = []
    cnames: list[str] = []
    for rrset in response.answer:
        for rdata in rrset:
            if rrset.rdtype == dns.rdatatype.CNAME:
                cnames.append(str(rdata.target).rstrip(".").lower())
            elif rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                addresses.append(str(rdata.address))
    return addresses, cnames


def combine(resolver: str, parts: list[Lookup | BaseException], ms: float) -> Lookup:
    """Merge the A and AAAA answers: any NOERROR wins, then NXDOMAIN, then the first rcode."""
    done = [p for p in parts if isinstance(p, Lookup)]
    errors = [p for p in parts if not isinstance(p, Lookup)]
    addresses = tuple(dict.fromkeys(a for p in done for a in p.addresses))
    cnames = tuple(dict.fromkeys(c for p in done for c in p.cnames))
    rcodes = [p.rcode for p in done]
    if not done:
        error = errors[0] if errors else None
        timed_out = isinstance(error, TimeoutError | dns.exception.Timeout)
        text = f"{type(error).__name__}: {error}".rstrip(": ") if error else ""
        return Lookup(resolver, "TIMEOUT" if timed_out else "ERROR", ms=ms, error=text)
    for wanted in ("NOERROR", "NXDOMAIN"):
        if wanted in rcodes:
            return Lookup(resolver, wanted, addresses, cnames, ms)
    return Lookup(resolver, rcodes[0], addresses, cnames, ms)


async def _udp_query(host: str, rdtype: str, address: str, port: int, wait_s: float) -> Lookup:
    query = dns.message.make_query(host, rdtype)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            # truncated UDP answers are retried over TCP, as a stub resolver would
            response, _ = await dns.asyncquery.udp_with_fallback(
                query, address, timeout=min(RESEND_S, wait_s), port=port
            )
            break
        except dns.exception.Timeout:
            # asked again, as a stub resolver does: one lost packet on a lossy link is
            # not a silent resolver (one try each for A and AAAA lost 16 % of lookups at 40 % loss)
            wait_s = deadline - time.monotonic()
            if wait_s < MIN_WAIT_S:
                raise
    addresses, cnames = _parse_response(response)
    return Lookup("", dns.rcode.to_text(response.rcode()), tuple(addresses), tuple(cnames))


async def query_server(resolver: Resolver, host: str, wait_s: float) -> Lookup:
    """Ask a classic DNS server for A and AAAA."""
    start = time.perf_counter()

    async def one(rdtype: str) -> Lookup:
        query = _udp_query(host, rdtype, resolver.host, resolver.port, wait_s)
        return await asyncio.wait_for(query, wait_s)

    parts = await asyncio.gather(one("A"), one("AAAA"), return_exceptions=True)
    return combine(resolver.name, _no_cancel(parts), ms_since(start))


async def query_doh(ctx: ProbeContext, url: str, host: str, wait_s: float) -> Lookup:
    """RFC 8484 POST through the run's httpx client (same TLS settings as everything else)."""
    start = time.perf_counter()
    async with ctx.http_client(timeout=wait_s) as client:

        async def one(rdtype: str) -> Lookup:
            wire = dns.message.make_query(host, rdtype).to_wire()
            headers = {
                "content-type": "application/dns-message",
                "accept": "application/dns-message",
            }
            response = await asyncio.wait_for(
                client.post(url, content=wire, headers=headers), wait_s
            )
            if response.status_code != 200:
                raise ValueError(f"HTTP {response.status_code}")
            message = dns.message.from_wire(response.content[:65535])
            addresses, cnames = _parse_response(message)
            rcode = dns.rcode.to_text(message.rcode())
            return Lookup("", rcode, tuple(addresses), tuple(cnames))

        parts = await asyncio.gather(one("A"), one("AAAA"), return_exceptions=True)
    return combine(url, _no_cancel(parts), ms_since(start))


def _no_cancel(parts: Sequence[Lookup | BaseException]) -> list[Lookup | BaseException]:
    # gather(return_exceptions=True) hands back CancelledError too; it must propagate
    for part in parts:
        if isinstance(part, asyncio.CancelledError):
            raise part
    return list(parts)


async def trusted_lookup(ctx: ProbeContext, resolver: Resolver | str, host: str) -> Lookup:
    """A trusted resolver's (or DoH URL's) answer for ``host``, asked once per run."""
    name = resolver if isinstance(resolver, str) else resolver.name

    async def ask() -> Lookup:
        timeout = budget(ctx, 3.0)
        try:
            if isinstance(resolver, str):
                return await query_doh(ctx, resolver, host, timeout)
            return await query_server(resolver, host, timeout)
        except Exception as error:  # any library surprise is an answer of its own
            return Lookup(name, "ERROR", error=f"{type(error).__name__}: {error}")

    return await ctx.once(f"dns:query:{name}:{host}", ask)


def trusted_resolvers(ctx: ProbeContext) -> list[Resolver | str]:
    """The trusted resolvers, then the DoH URLs."""
    return [*ctx.config.dns.resolvers, *ctx.config.dns.doh]


#: The system resolver's head start before the trusted resolvers are asked as well: one
#: that answers at all mostly answers by then (a run's dns probe asks them anyway).
TRUSTED_HEAD_START_S = 0.5
#: How long the system resolver may stay silent once the trusted resolvers answered: one
#: resend interval (:data:`RESEND_S`). Later it has lost its query, and its own retry
#: (glibc and Android wait 5 s by default) would only keep the measurements waiting.
SYSTEM_GRACE_S = 1.0


async def addresses_for(
    ctx: ProbeContext, host: str, port: int, *, wait_s: float | None = None
) -> tuple[list[str], str]:
    """Addresses to connect to and where they came from (``literal``/``system``/``trusted``).

    The system resolver is what the app uses; when it fails, or is still silent
    :data:`SYSTEM_GRACE_S` after the trusted resolvers answered, their answers are used
    instead, so that "DNS broken but hosts reachable" shows up as such, and soon. ``wait_s``
    bounds the wait for the system resolver (default: up to 10 s of the run's budget), for
    a caller that needs time left after the lookup; the lookup itself goes on for others
    (the dns probe judges the system resolver, however long it takes).
    """
    if is_ip(host):
        return [host], "literal"
    limit = budget(ctx, 10.0) if wait_s is None else max(MIN_WAIT_S, wait_s)
    give_up = time.monotonic() + limit
    system = asyncio.ensure_future(_system_addresses(ctx, host, port))
    trusted: asyncio.Future[list[str]] | None = None
    try:
        await asyncio.wait({system}, timeout=min(limit, TRUSTED_HEAD_START_S))
        if not system.done() and trusted_resolvers(ctx):
            trusted = asyncio.ensure_future(_trusted_addresses(ctx, host))
            await asyncio.wait(
                {system, trusted}, timeout=_left(give_up), return_when=asyncio.FIRST_COMPLETED
            )
            if not system.done() and trusted.done() and trusted.result():
                await asyncio.wait({system}, timeout=min(SYSTEM_GRACE_S, _left(give_up)))
            elif not system.done():  # the trusted resolvers know nothing (yet): wait on
                await asyncio.wait({system}, timeout=_left(give_up))
        elif not system.done():
            await asyncio.wait({system}, timeout=_left(give_up))
        if system.done() and (found := system.result()):
            return found, "system"
        if trusted is None:
            if not trusted_resolvers(ctx):
                return [], "none"
            trusted = asyncio.ensure_future(_trusted_addresses(ctx, host))
        found = await trusted
        return found, "trusted" if found else "none"
    finally:
        # the shared lookups go on (ctx.once): only these waits end here
        system.cancel()
        if trusted is not None:
            trusted.cancel()


def _left(until: float) -> float:
    return max(0.0, until - time.monotonic())


async def _system_addresses(ctx: ProbeContext, host: str, port: int) -> list[str]:
    """The system resolver's addresses; none when it fails."""
    try:
        return [address for _, address in await ctx.resolve(host, port)]
    except (OSError, TimeoutError):
        return []


async def _trusted_addresses(ctx: ProbeContext, host: str) -> list[str]:
    lookups = await asyncio.gather(*(trusted_lookup(ctx, r, host) for r in trusted_resolvers(ctx)))
    return list(dict.fromkeys(a for lookup in lookups for a in lookup.addresses))
