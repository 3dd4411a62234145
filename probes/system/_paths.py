"""Which way the kernel would send traffic, asked without sending any.

What an unprivileged Android app still has when netlink, ``getifaddrs()``, /proc/net and
/sys/class/net are all denied: ``connect()`` on a UDP socket makes the kernel pick the
route and the local (source) address for a destination, or fail with "network
unreachable", and no packet leaves. So, per destination (the trusted resolvers' and the
targets' addresses):

- every destination failing with ENETUNREACH/EHOSTUNREACH means there is no usable
  network at all (Android's last routing rule is ``32000: from all unreachable``);
- BPJS hosts leaving by another local address than the reference hosts (same address
  family) means a split tunnel: a VPN that takes BPJS traffic and nothing else.

Nothing here puts a local address in a result: the report names the ways out "1", "2"…
(an address would identify the device, and redaction cannot know the device's own
addresses when Android hides them).
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

#: The errors that say "no route": what every connect gives on a phone without a network.
NO_ROUTE_ERRNOS = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH})
#: Roles whose paths are compared: BPJS's hosts against the reference hosts.
BPJS, REFERENCE, RESOLVER = "bpjs", "reference", "resolver"


@dataclass(frozen=True)
class Destination:
    label: str  # a target's name, or a resolver's as the config writes it
    role: str  # BPJS | REFERENCE | RESOLVER
    address: str
    port: int

    @property
    def family(self) -> str:
        return "ipv6" if ":" in self.address else "ipv4"


@dataclass(frozen=True)
class Way:
    destination: Destination
    source: str | None  # the local address the kernel picked; None: no path
    error: int | None = None  # errno when there is no path


#: ``(address, port) -> (source, errno)``; swapped in tests that must not touch sockets.
SourceFinder = Callable[[str, int], tuple[str | None, int | None]]


def kernel_source(address: str, port: int) -> tuple[str | None, int | None]:
    """The local address the kernel would send from to ``address``, or why it can't.

    A UDP ``connect()`` only chooses the route: it sends nothing.
    """
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect((address, port))
            return str(sock.getsockname()[0]), None
    except OSError as error:
        return None, error.errno if error.errno is not None else errno.EIO


def trace(destinations: Iterable[Destination], finder: SourceFinder | None = None) -> list[Way]:
    """One :class:`Way` per destination (blocking but instant: no packet is sent)."""
    find = finder or kernel_source
    paths: list[Way] = []
    for destination in destinations:
        source, error = find(destination.address, destination.port)
        paths.append(Way(destination, source, error))
    return paths


def nowhere_to_go(paths: Sequence[Way]) -> bool:
    """Every destination tried, and every one refused with "network unreachable"."""
    return bool(paths) and all(p.source is None and p.error in NO_ROUTE_ERRNOS for p in paths)


def _way_out(source: str) -> str:
    """What identifies the way out: the IPv4 address; for IPv6 its /64, since privacy
    addresses may differ per destination on one and the same link."""
    ip = ipaddress.ip_address(source.partition("%")[0])
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


@dataclass(frozen=True)
class SplitTunnel:
    bpjs_targets: list[str]  # BPJS targets leaving by a way the reference hosts don't use
    reference_targets: list[str]
    family: str


def split_tunnel(paths: Sequence[Way]) -> SplitTunnel | None:
    """BPJS hosts leaving by a different way out than every reference host (same family).

    Needs at least one reference host with a path in that family to compare with.
    """
    for family in ("ipv4", "ipv6"):
        routed = [p for p in paths if p.source and p.destination.family == family]
        reference = {
            _way_out(p.source) for p in routed if p.source and p.destination.role == REFERENCE
        }
        if not reference:
            continue
        apart = [
            p.destination.label
            for p in routed
            if p.source and p.destination.role == BPJS and _way_out(p.source) not in reference
        ]
        if apart:
            names = sorted({p.destination.label for p in routed if p.destination.role == REFERENCE})
            return SplitTunnel(sorted(set(apart)), names, family)
    return None


def describe(paths: Sequence[Way]) -> list[dict[str, object]]:
    """The paths for the report: each way out numbered, no local address shown."""
    numbers: dict[str, int] = {}
    out: list[dict[str, object]] = []
    for p in paths:
        entry: dict[str, object] = {
            "to": p.destination.label,
            "role": p.destination.role,
            "family": p.destination.family,
        }
        if p.source is not None:
            way = _way_out(p.source)
            entry["way_out"] = numbers.setdefault(way, len(numbers) + 1)
        else:
            entry["error"] = errno.errorcode.get(p.error or 0, str(p.error))
        out.append(entry)
    return out
