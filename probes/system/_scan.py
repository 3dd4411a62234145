"""Reading local state for the ``system`` probe (blocking; run in a thread).

Interfaces come from psutil, else ``socket.if_nameindex`` and /sys/class/net, else
``ip -o link``/``ip -o addr``; the default route from /proc/net, ``ip route``, macOS's
``route get`` or Windows's ``route print``. Each read is guarded and what could not be
read is listed in ``unavailable``.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from probes._common.command import CommandFailed, checked, run_command_sync
from probes._common.errors import error_text
from probes.system._parse import (
    Interface,
    InterfaceScan,
    RouteScan,
    is_loopback_name,
    parse_ip_addr,
    parse_ip_link,
    parse_ip_route,
    parse_proc_ipv6_route,
    parse_proc_route,
    parse_route_get,
    parse_windows_route,
    routable,
)

# Where the kernel state is read; module-level so tests can point them elsewhere.
PROC_NET = Path("/proc/net")
SYS_CLASS_NET = Path("/sys/class/net")

_IFF_UP = 0x1
_IFF_LOOPBACK = 0x8
_IFF_POINTOPOINT = 0x10
_DOWN_OPERSTATES = frozenset({"down", "lowerlayerdown", "notpresent", "dormant"})
COMMAND_TIMEOUT_S = 1.0


class PsutilLike(Protocol):
    """The part of psutil used here, so tests can hand in a stand-in."""

    def net_if_stats(self) -> Mapping[str, Any]: ...

    def net_if_addrs(self) -> Mapping[str, Sequence[Any]]: ...


def _output(argv: list[str]) -> str:
    """stdout of ``argv``; raises OSError, TimeoutError or CommandFailed."""
    return checked(run_command_sync(argv, COMMAND_TIMEOUT_S))


def _load_psutil() -> PsutilLike:
    """psutil, imported only when needed: it is optional and may be missing on Termux."""
    import psutil

    return psutil


def _find_ip() -> str | None:
    # Termux's PATH has only $PREFIX/bin; Android's own ``ip`` lives in /system/bin.
    found = shutil.which("ip")
    if found:
        return found
    for candidate in ("/system/bin/ip", "/sbin/ip", "/usr/sbin/ip", "/bin/ip"):
        if Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _sys_flags(name: str) -> int | None:
    try:
        return int((SYS_CLASS_NET / name / "flags").read_text().strip(), 16)
    except (OSError, ValueError):
        return None


def _sys_operstate(name: str) -> str | None:
    try:
        return (SYS_CLASS_NET / name / "operstate").read_text().strip()
    except OSError:
        return None


def _interface_names(unavailable: list[str]) -> list[str] | None:
    try:
        return [name for _, name in socket.if_nameindex()]
    except Exception as error:
        unavailable.append(f"socket.if_nameindex ({error_text(error, private=True)})")
    try:
        return sorted(p.name for p in SYS_CLASS_NET.iterdir())
    except OSError as error:
        unavailable.append(f"{SYS_CLASS_NET} ({error_text(error, private=True)})")
    return None


def _states_from_sysfs(interfaces: dict[str, Interface]) -> bool:
    """Fill ``up``/flags from /sys/class/net; False when nothing there was readable."""
    any_read = False
    for iface in interfaces.values():
        flags, operstate = _sys_flags(iface.name), _sys_operstate(iface.name)
        if flags is not None:
            any_read = True
            iface.up = bool(flags & _IFF_UP) and operstate not in _DOWN_OPERSTATES
            iface.point_to_point = bool(flags & _IFF_POINTOPOINT)
            iface.loopback = iface.loopback or bool(flags & _IFF_LOOPBACK)
        elif operstate is not None:
            any_read = True
            iface.up = operstate not in _DOWN_OPERSTATES
    return any_read


#: What the details say when psutil is not installed (by design on Linux and Termux).
PSUTIL_MISSING = "psutil (not installed)"


def _psutil_scan(
    unavailable: list[str],
) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]:
    try:
        psutil = _load_psutil()
    except ImportError:
        unavailable.append(PSUTIL_MISSING)
        return None, None
    except Exception as error:
        unavailable.append(f"psutil ({error_text(error, private=True)})")
        return None, None
    stats: Mapping[str, Any] | None = None
    addrs: Mapping[str, Any] | None = None
    try:
        stats = dict(psutil.net_if_stats())
    except Exception as error:  # Android: PermissionError on /proc/net/dev and friends
        unavailable.append(f"psutil.net_if_stats ({error_text(error, private=True)})")
    try:
        addrs = dict(psutil.net_if_addrs())
    except Exception as error:
        unavailable.append(f"psutil.net_if_addrs ({error_text(error, private=True)})")
    return stats, addrs


def _family_name(family: Any) -> str:
    if family == socket.AF_INET:
        return "inet"
    if family == socket.AF_INET6:
        return "inet6"
    return ""


def scan_interfaces() -> InterfaceScan:
    """Interfaces, their state and addresses: psutil first, then sysfs and ``ip``."""
    unavailable: list[str] = []
    stats, addrs = _psutil_scan(unavailable)
    interfaces: dict[str, Interface] = {}

    if stats is not None:
        for name, stat in stats.items():
            flags = str(getattr(stat, "flags", "") or "")
            interfaces[name] = Interface(
                name=str(name),
                up=bool(getattr(stat, "isup", False)),
                point_to_point="pointopoint" in flags.split(","),
                loopback="loopback" in flags.split(","),
            )
    names_known = stats is not None
    if stats is None:
        names = _interface_names(unavailable)
        names_known = names is not None
        for name in names or []:
            interfaces[name] = Interface(name=name)
        if not interfaces or not _states_from_sysfs(interfaces):
            names_known = _states_from_ip_link(interfaces, unavailable) or names_known

    addresses_known = False
    if addrs is not None:
        addresses_known = True
        for name, entries in addrs.items():
            iface = interfaces.setdefault(str(name), Interface(name=str(name)))
            for entry in entries:
                if _family_name(getattr(entry, "family", None)):
                    _add_address(iface, str(getattr(entry, "address", "")))
    else:
        by_name = _addresses_from_ip(unavailable)
        if by_name is not None:
            addresses_known = True
            for name, found in by_name.items():
                iface = interfaces.setdefault(name, Interface(name=name))
                for address in found:
                    _add_address(iface, address)

    if not names_known and not addresses_known:
        return InterfaceScan(None, False, unavailable)
    for iface in interfaces.values():
        iface.loopback = iface.loopback or is_loopback_name(iface.name)
        if iface.up is None and addresses_known and any(map(routable, iface.addresses)):
            # State unreadable, but a routable address means the kernel has it configured.
            iface.up = True
    return InterfaceScan(interfaces, addresses_known, unavailable)


def _add_address(iface: Interface, address: str) -> None:
    # psutil writes link-local IPv6 as "fe80::1%wlan0"; the scope is not part of it.
    plain = address.partition("%")[0]
    if plain and plain not in iface.addresses:
        iface.addresses.append(plain)


def _states_from_ip_link(interfaces: dict[str, Interface], unavailable: list[str]) -> bool:
    """Fill names and states from ``ip -o link``; False when it could not be run."""
    ip = _find_ip()
    if ip is None:
        unavailable.append("interface state (no /sys/class/net, no ip command)")
        return False
    try:
        states = parse_ip_link(_output([ip, "-o", "link"]))
    except Exception as error:
        unavailable.append(f"interface state (ip -o link: {error_text(error, private=True)})")
        return False
    for name, (up, p2p) in states.items():
        iface = interfaces.setdefault(name, Interface(name=name))
        iface.up, iface.point_to_point = up, p2p
    return True


def _addresses_from_ip(unavailable: list[str]) -> dict[str, list[str]] | None:
    ip = _find_ip()
    if ip is None:
        unavailable.append("addresses (no psutil, no ip command)")
        return None
    try:
        return parse_ip_addr(_output([ip, "-o", "addr"]))
    except Exception as error:
        unavailable.append(f"addresses (ip -o addr: {error_text(error, private=True)})")
        return None


def scan_routes(sys_platform: str, termux: bool) -> RouteScan:
    """Whether a default route exists, from the cheapest source that answers."""
    routes = RouteScan()
    if sys_platform == "darwin":
        _routes_from_route_get(routes)
    elif sys_platform in ("win32", "cygwin"):
        # IPv6 stays unknown here, so Windows never concludes "no route" on its own: the
        # other probes still see an offline device.
        _routes_from_windows(routes)
    else:
        _routes_from_proc(routes, termux)
        if not routes.present:
            _routes_from_ip(routes)
    return routes


def _routes_from_proc(routes: RouteScan, termux: bool) -> None:
    for filename, family, parse in (
        ("route", "ipv4", parse_proc_route),
        ("ipv6_route", "ipv6", parse_proc_ipv6_route),
    ):
        path = PROC_NET / filename
        try:
            found = parse(path.read_text())
        except Exception as error:
            routes.unavailable.append(f"{path} ({error_text(error, private=True)})")
            continue
        if family == "ipv4" and not found and termux:
            # Android keeps its default routes in per-network policy tables, and
            # /proc/net/route shows only the main table: empty there proves nothing.
            continue
        routes.note(family, found, str(path))


def _routes_from_ip(routes: RouteScan) -> None:
    ip = _find_ip()
    if ip is None:
        if routes.present is None:
            routes.unavailable.append("default route (no ip command)")
        return
    # "table all": Android and WireGuard put default routes outside the main table.
    for family, argv in (
        ("ipv4", [ip, "-4", "route", "show", "table", "all"]),
        ("ipv6", [ip, "-6", "route", "show", "table", "all"]),
    ):
        try:
            found = parse_ip_route(_output(argv))
        except Exception as error:
            routes.unavailable.append(
                f"ip {' '.join(argv[1:])} ({error_text(error, private=True)})"
            )
            continue
        routes.note(family, found, "ip route")


def _routes_from_route_get(routes: RouteScan) -> None:
    for family, argv in (
        ("ipv4", ["route", "-n", "get", "default"]),
        ("ipv6", ["route", "-n", "get", "-inet6", "default"]),
    ):
        try:
            found = parse_route_get(_output(argv))
        except CommandFailed as error:
            if "not in table" not in str(error):
                routes.unavailable.append(f"{' '.join(argv)} ({error_text(error, private=True)})")
                continue
            # "route: writing to routing socket: not in table": there is no such route.
            found = []
        except Exception as error:
            routes.unavailable.append(f"{' '.join(argv)} ({error_text(error, private=True)})")
            continue
        routes.note(family, found, "route get")


def _routes_from_windows(routes: RouteScan) -> None:
    try:
        present = parse_windows_route(_output(["route", "print", "0.0.0.0"]))
    except Exception as error:
        routes.unavailable.append(f"route print ({error_text(error, private=True)})")
        return
    routes.ipv4 = present
    routes.sources.append("route print")
