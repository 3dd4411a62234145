"""The ``system`` probe: what this device itself says about its network.

Interfaces up and their addresses, the default route, VPN interfaces, proxy variables and,
in Termux with termux-api, the Wi-Fi and cellular link; and, for each trusted resolver and
target, which way the kernel would send to it (``_paths``). It reads local state and sends
nothing itself; the targets' addresses come from the run's shared DNS lookups.

Every source can be missing or refused: psutil is optional, Android denies netlink and
parts of ``/proc`` and ``/sys``, ``ip`` may not exist, termux-api commands hang when the
Termux:API app is not installed or answer with a refusal. So each source has a fallback,
each read is guarded, and what could not be read is listed in ``details["unavailable"]``
instead of being guessed: "unknown" never becomes "offline" — only the kernel refusing
every destination with "network unreachable" does, when the tables can't be read.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, TypeVar

from jmo_doctor.api import (
    BaseProbe,
    Finding,
    LocalText,
    Messages,
    ProbeContext,
    ProbeResult,
    Status,
    is_termux,
    platform_name,
)
from probes._common.errors import error_text
from probes._common.net import is_ip
from probes.system._parse import (
    Interface,
    InterfaceScan,
    RouteScan,
    classify_vpn,
    interface_kind,
    link_state,
    proxy_variables,
)
from probes.system._paths import (
    RESOLVER,
    Destination,
    SplitTunnel,
    Way,
    describe,
    nowhere_to_go,
    split_tunnel,
    trace,
)
from probes.system._scan import PSUTIL_MISSING, scan_interfaces, scan_routes
from probes.system._termux import Refusal, read_termux_api

T = TypeVar("T")

#: Local reads normally take milliseconds; past this the probe reports what it has.
LOCAL_READ_BUDGET_S = 3.5
#: How long the targets' addresses may take (the lookups are the run's shared ones).
PATH_LOOKUP_BUDGET_S = 2.0


def _names(items: Iterable[str]) -> str:
    return ", ".join(items)


class SystemProbe(BaseProbe):
    id: ClassVar[str] = "system"
    title: ClassVar[LocalText] = {
        "id": "Perangkat dan jaringan lokal",
        "en": "Device and local network",
    }
    order: ClassVar[int] = 10
    timeout: ClassVar[float | None] = 5.0
    messages: ClassVar[Messages] = {
        "system.offline": {
            "id": "Perangkat tidak punya koneksi jaringan yang bisa dipakai: {why}.",
            "en": "The device has no usable network connection: {why}.",
        },
        "system.vpn": {
            "id": "VPN aktif: {names}. Lalu lintas ke BPJS bisa lewat VPN ini.",
            "en": "A VPN is active: {names}. Traffic to BPJS may go through it.",
        },
        "system.proxy": {
            "id": "Proxy diatur lewat variabel lingkungan: {names} (nilainya tidak ditampilkan).",
            "en": "A proxy is set through environment variables: {names} (values not shown).",
        },
    }

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        environ = dict(os.environ)
        termux = is_termux(environ, sys.platform)
        unavailable: list[str] = []

        scan, routes, api, ways = await asyncio.gather(
            _bounded(
                ctx, scan_interfaces, InterfaceScan(None, False, []), "interfaces", unavailable
            ),
            _bounded(
                ctx, lambda: scan_routes(sys.platform, termux), RouteScan(), "routes", unavailable
            ),
            read_termux_api(),
            trace_ways(ctx, unavailable),
        )
        unavailable[:0] = [*scan.unavailable, *routes.unavailable]
        unavailable.extend(api.unavailable)

        interfaces = [i for i in (scan.interfaces or {}).values() if not i.loopback]
        states = {i.name: link_state(i, scan.addresses_known) for i in interfaces}
        connected = [i for i in interfaces if states[i.name] is True]
        p2p = {i.name for i in interfaces if i.point_to_point}
        vpn = classify_vpn([i.name for i in connected], p2p, android=termux)
        proxies = proxy_variables(environ)
        addresses = [a for i in interfaces for a in i.addresses]
        addresses += [a for a in api.addresses if a not in addresses]

        routed = any(w.source for w in ways)
        findings: list[Finding] = []
        offline = _offline_reason(scan, states, routes, ways)
        if offline is not None:
            why = {
                "no_interface": ctx.text(
                    id="tidak ada antarmuka jaringan yang aktif selain loopback",
                    en="no network interface is up besides loopback",
                ),
                "no_route": ctx.text(
                    id="tidak ada rute default, perangkat tidak tahu jalan ke internet",
                    en="there is no default route, so the device has no way to the internet",
                ),
                "no_path": ctx.text(
                    id=f"setiap sambungan ke {len(ways)} alamat ditolak dengan "
                    '"network unreachable" (jaringan tidak terjangkau)',
                    en=f"every connection to {len(ways)} addresses is refused with "
                    '"network unreachable"',
                ),
            }[offline]
            findings.append(ctx.finding("system.offline", reason=offline, why=why))
        tunnel = split_tunnel(ways) if offline is None else None
        if vpn:
            findings.append(ctx.finding("system.vpn", interfaces=vpn, names=_names(vpn)))
        elif tunnel is not None:
            findings.append(_split_tunnel_finding(ctx, tunnel))
        if proxies:
            findings.append(ctx.finding("system.proxy", variables=proxies, names=_names(proxies)))

        details: dict[str, Any] = {
            "platform": platform_name(environ, sys.platform),
            "termux": termux,
            "interfaces": [
                {
                    "name": i.name,
                    "up": i.up,
                    "connected": states[i.name],
                    "addresses": list(i.addresses),
                    "kind": interface_kind(i.name, termux),
                    "vpn": i.name in vpn,
                }
                for i in sorted(interfaces, key=lambda i: i.name)
            ],
            "interfaces_up": [i.name for i in connected],
            "addresses": addresses,
            "default_route": {
                "present": routes.present,
                "ipv4": routes.ipv4,
                "ipv6": routes.ipv6,
                "interfaces": list(routes.interfaces),
                "sources": list(routes.sources),
            },
            "vpn_interfaces": vpn,
            "proxy_variables": proxies,
            "paths": describe(ways),
            "unavailable": unavailable,
        }
        if api.refusals:
            details["termux_api_refused"] = [_refusal_note(ctx, r) for r in api.refusals]
        if api.wifi is not None:
            details["wifi"] = api.wifi
        if api.cellular is not None:
            details["cellular"] = api.cellular

        metrics: dict[str, float] = {
            "interfaces_up": float(len(connected)),
            "addresses": float(len(addresses)),
            "vpn_interfaces": float(len(vpn)),
            "proxy_variables": float(len(proxies)),
        }
        if routes.present is not None:
            metrics["default_route"] = 1.0 if routes.present else 0.0
        if ways:
            metrics["paths_routed"] = float(sum(1 for w in ways if w.source))
            metrics["paths_tried"] = float(len(ways))
        if api.wifi is not None and api.wifi.get("connected"):
            # A disconnected radio reports -127 dBm: a number, but not a measurement.
            for key in ("rssi_dbm", "link_speed_mbps", "frequency_mhz"):
                value = api.wifi.get(key)
                if isinstance(value, int | float):
                    metrics[f"wifi_{key}"] = float(value)

        if offline is not None:
            status = Status.FAIL
        elif findings:
            status = Status.WARN
        elif scan.interfaces is None and routes.present is None and not routed:
            # Nothing could be measured: "pass" would claim a healthy network.
            status = Status.SKIP
        else:
            status = Status.PASS
        unknown = scan.interfaces is None or (
            not connected and any(state is None for state in states.values())
        )
        summary = _summary(ctx, connected, unknown, routes, vpn, proxies, unavailable, ways)
        if api.refusals:
            # what the user can do about a refusal belongs where they read the result
            notes = "; ".join(details["termux_api_refused"])
            summary = f"{summary[:-1]}; {notes}."
        return ProbeResult(
            id=self.id,
            status=status,
            summary=summary,
            findings=tuple(findings),
            metrics=metrics,
            details=details,
        )


def _offline_reason(
    scan: InterfaceScan, states: dict[str, bool | None], routes: RouteScan, ways: list[Way]
) -> str | None:
    """Why the device has no network, or None. The kernel picking a source address for
    some destination beats any reading of interface and route tables (Android hides
    parts of them, and its netd keeps blackhole routes that look like a way out)."""
    if any(w.source for w in ways):
        return None
    if scan.interfaces is not None and not any(s is not False for s in states.values()):
        return "no_interface"
    if routes.present is False:
        return "no_route"
    if nowhere_to_go(ways):
        return "no_path"
    return None


async def destinations(ctx: ProbeContext) -> list[Destination]:
    """The trusted resolvers' and the targets' addresses (the run's shared lookups,
    bounded: a slow resolver must not hold the probe up)."""
    found = [Destination(r.name, RESOLVER, r.host, r.port) for r in ctx.config.dns.resolvers]

    async def addresses(host: str, port: int) -> list[str]:
        if is_ip(host):
            return [host]
        try:
            pairs = await asyncio.wait_for(ctx.resolve(host, port), PATH_LOOKUP_BUDGET_S)
        except (OSError, TimeoutError):
            return []
        return [address for _, address in pairs]

    targets = list(ctx.targets)
    answers = await asyncio.gather(*(addresses(t.host, t.port) for t in targets))
    for target, found_addresses in zip(targets, answers, strict=True):
        found += [Destination(target.name, target.role, a, target.port) for a in found_addresses]
    return found


async def trace_ways(ctx: ProbeContext, unavailable: list[str]) -> list[Way]:
    """Which way the kernel would send to each destination (sends nothing)."""
    found = await destinations(ctx)
    return await _bounded(ctx, lambda: trace(found), [], "paths", unavailable)


def _split_tunnel_finding(ctx: ProbeContext, tunnel: SplitTunnel) -> Finding:
    names = ctx.text(
        id="rute terpisah (split tunnel): lalu lintas ke BPJS keluar lewat jalur lain "
        "daripada situs lain",
        en="split tunnel: traffic to BPJS leaves by another way than to other sites",
    )
    return ctx.finding(
        "system.vpn",
        interfaces=[],
        names=names,
        reason="split_tunnel",
        family=tunnel.family,
        bpjs_targets=tunnel.bpjs_targets,
        reference_targets=tunnel.reference_targets,
    )


def _refusal_note(ctx: ProbeContext, refusal: Refusal) -> str:
    """What the user should do about a termux-api command Android refused."""
    if refusal.permissions:
        needs = ", ".join(refusal.permissions)
        return ctx.text(
            id=f"{refusal.command}: termux-api perlu izin {needs}; berikan di Setelan "
            "Android > Aplikasi > Termux:API > Izin",
            en=f"{refusal.command}: termux-api needs permission {needs}; grant it in "
            "Android Settings > Apps > Termux:API > Permissions",
        )
    return ctx.text(
        id=f"{refusal.command}: termux-api menolak ({refusal.message})",
        en=f"{refusal.command}: termux-api refused ({refusal.message})",
    )


async def _bounded(
    ctx: ProbeContext, func: Callable[[], T], fallback: T, what: str, unavailable: list[str]
) -> T:
    """``func`` in a thread, bounded so that the probe answers with what it has."""
    try:
        return await asyncio.wait_for(ctx.to_thread(func), LOCAL_READ_BUDGET_S)
    except TimeoutError:
        unavailable.append(f"{what} (timed out)")
    except Exception as error:  # the scans guard their reads; this is the last net
        unavailable.append(f"{what} ({error_text(error, private=True)})")
    return fallback


def _summary(
    ctx: ProbeContext,
    connected: list[Interface],
    unknown: bool,
    routes: RouteScan,
    vpn: list[str],
    proxies: list[str],
    unavailable: list[str],
    ways: list[Way],
) -> str:
    names = _names(i.name for i in connected)
    # (Indonesian, English) parts, joined in each language: the report keeps both
    if connected:
        many = "s" if len(connected) > 1 else ""
        parts = [
            (
                f"{len(connected)} antarmuka aktif ({names})",
                f"{len(connected)} interface{many} up ({names})",
            )
        ]
    elif unknown:
        parts = [("antarmuka tidak terbaca", "interfaces unreadable")]
    else:
        parts = [("tidak ada antarmuka aktif", "no interface up")]
    if routes.present is True:
        parts.append(("rute default ada", "default route present"))
    elif routes.present is False:
        parts.append(("tidak ada rute default", "no default route"))
    else:
        parts.append(("rute default tidak dapat diperiksa", "default route could not be checked"))
    if ways and not connected:
        # Without readable interfaces, the kernel's routes are what this run knows.
        routed, tried = sum(1 for w in ways if w.source), len(ways)
        parts.append(
            (f"ada jalur ke {routed}/{tried} alamat", f"route to {routed}/{tried} addresses")
        )
    if vpn:
        parts.append((f"VPN: {_names(vpn)}", f"VPN: {_names(vpn)}"))
    if proxies:
        parts.append((f"variabel proxy: {_names(proxies)}", f"proxy variables: {_names(proxies)}"))
    # psutil is left out on purpose wherever it would need a compiler (Linux, Termux):
    # missing, it is not news; only what the fallbacks could not read is.
    lacking = [u for u in unavailable if u != PSUTIL_MISSING]
    if lacking:
        what = _names(dict.fromkeys(u.partition(" (")[0] for u in lacking))
        parts.append((f"tidak terbaca: {what}", f"not readable: {what}"))

    def sentence(text: str) -> str:
        return text[:1].upper() + text[1:] + "."

    return ctx.text(
        id=sentence("; ".join(i for i, _ in parts)), en=sentence("; ".join(e for _, e in parts))
    )
