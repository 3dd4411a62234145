"""The ``system`` probe: what this device itself says about its network.

Interfaces up and their addresses, the default route, VPN interfaces, proxy variables and,
in Termux with termux-api, the Wi-Fi and cellular link. It only reads local state and
sends nothing on the network.

Every source can be missing or refused: psutil is optional, Android denies parts of
``/proc`` and ``/sys``, ``ip`` may not exist, termux-api commands hang when the
Termux:API app is not installed. So each source has a fallback, each read is guarded,
and what could not be read is listed in ``details["unavailable"]`` instead of being
guessed: "unknown" never becomes "offline".
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
from probes.system._parse import (
    Interface,
    InterfaceScan,
    RouteScan,
    classify_vpn,
    link_state,
    proxy_variables,
)
from probes.system._scan import scan_interfaces, scan_routes
from probes.system._termux import read_termux_api

T = TypeVar("T")

#: Local reads normally take milliseconds; past this the probe reports what it has.
LOCAL_READ_BUDGET_S = 3.5


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

        scan, routes, api = await asyncio.gather(
            _bounded(
                ctx, scan_interfaces, InterfaceScan(None, False, []), "interfaces", unavailable
            ),
            _bounded(
                ctx, lambda: scan_routes(sys.platform, termux), RouteScan(), "routes", unavailable
            ),
            read_termux_api(),
        )
        unavailable[:0] = [*scan.unavailable, *routes.unavailable]
        unavailable.extend(api.unavailable)

        interfaces = [i for i in (scan.interfaces or {}).values() if not i.loopback]
        states = {i.name: link_state(i, scan.addresses_known) for i in interfaces}
        connected = [i for i in interfaces if states[i.name] is True]
        p2p = {i.name for i in interfaces if i.point_to_point}
        vpn = classify_vpn([i.name for i in connected], p2p)
        proxies = proxy_variables(environ)
        addresses = [a for i in interfaces for a in i.addresses]
        addresses += [a for a in api.addresses if a not in addresses]

        findings: list[Finding] = []
        offline: str | None = None
        if scan.interfaces is not None and not any(s is not False for s in states.values()):
            offline = "no_interface"
        elif routes.present is False:
            offline = "no_route"
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
            }[offline]
            findings.append(ctx.finding("system.offline", reason=offline, why=why))
        if vpn:
            findings.append(ctx.finding("system.vpn", interfaces=vpn, names=_names(vpn)))
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
            "unavailable": unavailable,
        }
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
        elif scan.interfaces is None and routes.present is None:
            # Nothing could be measured: "pass" would claim a healthy network.
            status = Status.SKIP
        else:
            status = Status.PASS
        unknown = scan.interfaces is None or (
            not connected and any(state is None for state in states.values())
        )
        summary = _summary(ctx, connected, unknown, routes, vpn, proxies, unavailable)
        return ProbeResult(
            id=self.id,
            status=status,
            summary=summary,
            findings=tuple(findings),
            metrics=metrics,
            details=details,
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
    if vpn:
        parts.append((f"VPN: {_names(vpn)}", f"VPN: {_names(vpn)}"))
    if proxies:
        parts.append((f"variabel proxy: {_names(proxies)}", f"proxy variables: {_names(proxies)}"))
    if unavailable:
        what = _names(dict.fromkeys(u.partition(" (")[0] for u in unavailable))
        parts.append((f"tidak terbaca: {what}", f"not readable: {what}"))

    def sentence(text: str) -> str:
        return text[:1].upper() + text[1:] + "."

    return ctx.text(
        id=sentence("; ".join(i for i, _ in parts)), en=sentence("; ".join(e for _, e in parts))
    )
