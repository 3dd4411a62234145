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
import contextlib
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

from jmo_doctor.api import (
    BaseProbe,
    Finding,
    LocalText,
    Messages,
    ProbeContext,
    ProbeResult,
    Status,
)

T = TypeVar("T")

#: Name prefixes of VPN/tunnel interfaces: the kernel's own (tun, tap, wg, ppp, ipsec),
#: macOS (utun) and VPN clients that name theirs (Tailscale, NordVPN, ZeroTier,
#: GlobalProtect, Cisco AnyConnect).
VPN_PREFIXES: tuple[str, ...] = ("tun", "tap", "wg", "ppp", "ipsec", "utun")
VPN_PREFIXES += ("tailscale", "nordlynx", "zt", "gpd", "cscotun")
#: Point-to-point interfaces that are not VPNs: Android cellular data (rmnet, ccmni, …)
#: and the 464xlat CLAT tunnel ``v4-*`` that Android adds on IPv6-only mobile networks.
NOT_VPN_PREFIXES = ("rmnet", "rev_rmnet", "ccmni", "pdp", "wwan", "seth", "v4-", "clat")
PROXY_VARIABLES = frozenset({"http_proxy", "https_proxy", "all_proxy"})

TERMUX_WIFI = "termux-wifi-connectioninfo"
TERMUX_TELEPHONY = "termux-telephony-deviceinfo"
TERMUX_TIMEOUT_S = 2.0
COMMAND_TIMEOUT_S = 1.0
#: Local reads normally take milliseconds; past this the probe reports what it has.
LOCAL_READ_BUDGET_S = 3.5

# Where the kernel state is read; module-level so tests can point them elsewhere.
PROC_NET = Path("/proc/net")
SYS_CLASS_NET = Path("/sys/class/net")

_RTF_UP = 0x0001
_RTF_REJECT = 0x0200
_IFF_UP = 0x1
_IFF_LOOPBACK = 0x8
_IFF_POINTOPOINT = 0x10
_DOWN_OPERSTATES = frozenset({"down", "lowerlayerdown", "notpresent", "dormant"})


# --- pure functions --------------------------------------------------------------------


def parse_proc_route(text: str) -> list[str]:
    """Interfaces with a usable IPv4 default route in ``/proc/net/route`` text."""
    found: list[str] = []
    for line in text.splitlines()[1:]:
        cols = line.split()
        if len(cols) < 8:
            continue
        iface, destination, flags_hex, mask = cols[0], cols[1], cols[3], cols[7]
        try:
            flags = int(flags_hex, 16)
        except ValueError:
            continue
        usable = flags & _RTF_UP and not flags & _RTF_REJECT and iface != "lo"
        if usable and destination == "00000000" and mask == "00000000" and iface not in found:
            found.append(iface)
    return found


def parse_proc_ipv6_route(text: str) -> list[str]:
    """Interfaces with a usable IPv6 default route (``::/0``) in ``/proc/net/ipv6_route``.

    Unlike ``/proc/net/route`` this file lists every routing table, so it also shows the
    per-network tables Android uses.
    """
    found: list[str] = []
    for line in text.splitlines():
        cols = line.split()
        if len(cols) < 10:
            continue
        destination, prefix_len, flags_hex, iface = cols[0], cols[1], cols[8], cols[9]
        try:
            flags = int(flags_hex, 16)
        except ValueError:
            continue
        usable = flags & _RTF_UP and not flags & _RTF_REJECT and iface != "lo"
        if usable and prefix_len == "00" and set(destination) == {"0"} and iface not in found:
            found.append(iface)
    return found


def parse_ip_route(text: str) -> list[str]:
    """Interfaces with a default route in ``ip [-6] route show [table all]`` output.

    Other route types (``unreachable default``, ``local``, …) start with their type and
    are skipped, as are routes flagged ``linkdown``/``dead``; a multipath default takes
    the devices of its ``nexthop`` lines.
    """
    found: list[str] = []
    in_multipath = False
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        if line[0].isspace():
            if in_multipath and words[0] == "nexthop":
                _add_dev(words, found)
            continue
        in_multipath = False
        if words[0] != "default" or "linkdown" in words or "dead" in words:
            continue
        if "dev" in words:
            _add_dev(words, found)
        else:
            in_multipath = True
    return found


def _add_dev(words: list[str], found: list[str]) -> None:
    index = words.index("dev") if "dev" in words else -1
    if 0 <= index < len(words) - 1:
        dev = words[index + 1]
        if dev != "lo" and dev not in found:
            found.append(dev)


def parse_route_get(text: str) -> list[str]:
    """The interface of macOS/BSD ``route -n get default`` output (empty: no route)."""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "interface" and value.strip():
            return [value.strip()]
    return []


def parse_windows_route(text: str) -> bool:
    """Whether ``route print 0.0.0.0`` on Windows lists an active 0.0.0.0/0 route."""
    return any(line.split()[:2] == ["0.0.0.0", "0.0.0.0"] for line in text.splitlines())


def parse_ip_addr(text: str) -> dict[str, list[str]]:
    """Interface → addresses from ``ip -o addr`` output (prefix lengths dropped)."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) < 4 or words[2] not in ("inet", "inet6"):
            continue
        name = _ifname(words[1])
        address = words[3].partition("/")[0]
        found.setdefault(name, [])
        if address not in found[name]:
            found[name].append(address)
    return found


def parse_ip_link(text: str) -> dict[str, tuple[bool, bool]]:
    """Interface → (up, point_to_point) from ``ip -o link`` output."""
    found: dict[str, tuple[bool, bool]] = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) < 3 or not words[2].startswith("<"):
            continue
        flags = set(words[2].strip("<>").split(","))
        up = "UP" in flags and "LOWER_UP" in flags
        found[_ifname(words[1])] = (up, "POINTOPOINT" in flags)
    return found


def _ifname(word: str) -> str:
    # ``ip`` writes "eth0:" in link lines and "veth0@if5" for paired devices.
    return word.rstrip(":").partition("@")[0]


def classify_vpn(names: Iterable[str], point_to_point: Collection[str] = ()) -> list[str]:
    """The names that look like VPN or tunnel interfaces.

    By name first; a point-to-point interface (psutil/sysfs flag) counts too unless its
    name says it is cellular data or Android's CLAT, which are point-to-point as well.
    """
    found: list[str] = []
    for name in names:
        lower = name.lower()
        if lower.startswith(NOT_VPN_PREFIXES):
            continue
        if lower.startswith(VPN_PREFIXES) or name in point_to_point:
            found.append(name)
    return found


def proxy_variables(environ: Mapping[str, str]) -> list[str]:
    """Names (never values) of the proxy variables that are set and not empty."""
    return sorted(
        name for name, value in environ.items() if name.lower() in PROXY_VARIABLES and value
    )


def is_termux(environ: Mapping[str, str], platform: str) -> bool:
    """Whether we run in Termux (or on Android under another Python)."""
    return (
        "TERMUX_VERSION" in environ
        or "com.termux" in environ.get("PREFIX", "")
        or platform == "android"
    )


def platform_name(environ: Mapping[str, str], platform: str) -> str:
    """The report's platform name (SPEC §7): linux, android-termux, macos, windows."""
    if is_termux(environ, platform):
        return "android-termux"
    if platform == "darwin":
        return "macos"
    if platform in ("win32", "cygwin"):
        return "windows"
    return "linux" if platform.startswith("linux") else platform


def routable(address: str) -> bool:
    """An address that can carry traffic beyond the link (not loopback or link-local)."""
    try:
        ip = ipaddress.ip_address(address.partition("%")[0])
    except ValueError:
        return False
    # 169.254/16 on IPv4 means DHCP failed; fe80::/10 exists on every IPv6 link.
    return not (ip.is_loopback or ip.is_link_local or ip.is_unspecified)


def is_loopback_name(name: str) -> bool:
    return name == "lo" or (name.startswith("lo") and name[2:].isdigit())


def parse_termux_wifi(data: Mapping[str, Any]) -> dict[str, Any]:
    """The Wi-Fi facts worth reporting from ``termux-wifi-connectioninfo`` JSON.

    BSSID and MAC addresses are left out (they identify the device and the place); the
    SSID reads ``<unknown ssid>`` when Android withholds it for lack of location access.
    """
    wifi: dict[str, Any] = {}
    state = data.get("supplicant_state")
    if isinstance(state, str):
        wifi["state"] = state
    ssid = data.get("ssid")
    if isinstance(ssid, str) and ssid and ssid != "<unknown ssid>":
        wifi["ssid"] = ssid
    for key, out in (
        ("rssi", "rssi_dbm"),
        ("link_speed_mbps", "link_speed_mbps"),
        ("frequency_mhz", "frequency_mhz"),
    ):
        value = data.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            wifi[out] = value
    ip = data.get("ip")
    wifi["connected"] = state == "COMPLETED" and isinstance(ip, str) and ip not in ("", "0.0.0.0")
    rssi = wifi.get("rssi_dbm")
    if wifi["connected"] and isinstance(rssi, int | float):
        # Android's own bars: about -67 dBm and better is solid, below -80 dBm drops out.
        wifi["signal"] = "strong" if rssi >= -67 else "fair" if rssi >= -80 else "weak"
    return wifi


def parse_termux_telephony(data: Mapping[str, Any]) -> dict[str, Any]:
    """Cellular facts from ``termux-telephony-deviceinfo`` JSON (no device or SIM ids)."""
    cellular: dict[str, Any] = {}
    for key, out in (
        ("network_type", "network_type"),
        ("network_operator_name", "operator"),
        ("data_state", "data_state"),
        ("data_enabled", "data_enabled"),
        ("network_roaming", "roaming"),
        ("sim_state", "sim_state"),
    ):
        value = data.get(key)
        if isinstance(value, str | int | float | bool) and value != "":
            cellular[out] = value
    return cellular


# --- reading local state (blocking; run in a thread) ------------------------------------


class PsutilLike(Protocol):
    """The part of psutil used here, so tests can hand in a stand-in."""

    def net_if_stats(self) -> Mapping[str, Any]: ...

    def net_if_addrs(self) -> Mapping[str, Sequence[Any]]: ...


def _load_psutil() -> PsutilLike:
    """psutil, imported only when needed: it is optional and may be missing on Termux."""
    import psutil

    return psutil


def _why(error: BaseException) -> str:
    # The error type and errno text only: OSError's str() carries paths, which can hold
    # the user's name.
    if isinstance(error, OSError) and error.strerror:
        return f"{type(error).__name__}: {error.strerror}"
    if isinstance(error, subprocess.TimeoutExpired):
        return "timed out"
    if isinstance(error, CommandFailed):
        return str(error)
    return type(error).__name__


class CommandFailed(Exception):
    """A command ran but exited non-zero."""


def _kill_group(pid: int) -> None:
    # Commands run in their own session: killing the group also ends the children a
    # wrapper script started, which would otherwise keep our pipe open.
    killpg = getattr(os, "killpg", None)
    if killpg is not None:
        with contextlib.suppress(OSError):
            killpg(pid, signal.SIGKILL)


def _command_env() -> dict[str, str]:
    return {**os.environ, "LC_ALL": "C"}


def run_command(argv: Sequence[str], timeout: float = COMMAND_TIMEOUT_S) -> str:
    """stdout of ``argv``; raises OSError, TimeoutExpired or CommandFailed."""
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        text=True,
        errors="replace",
        env=_command_env(),
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.communicate(timeout=0.5)
        raise
    if proc.returncode != 0:
        first = (err.strip().splitlines() or [f"exit status {proc.returncode}"])[0]
        raise CommandFailed(first[:120])
    return out


def _find_ip() -> str | None:
    # Termux's PATH has only $PREFIX/bin; Android's own ``ip`` lives in /system/bin.
    found = shutil.which("ip")
    if found:
        return found
    for candidate in ("/system/bin/ip", "/sbin/ip", "/usr/sbin/ip", "/bin/ip"):
        if Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


@dataclass
class Interface:
    name: str
    up: bool | None = None  # None: state could not be read
    addresses: list[str] = field(default_factory=list)
    point_to_point: bool = False
    loopback: bool = False


@dataclass
class InterfaceScan:
    interfaces: dict[str, Interface] | None  # None: not even the names could be read
    addresses_known: bool
    unavailable: list[str]


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
        unavailable.append(f"socket.if_nameindex ({_why(error)})")
    try:
        return sorted(p.name for p in SYS_CLASS_NET.iterdir())
    except OSError as error:
        unavailable.append(f"{SYS_CLASS_NET} ({_why(error)})")
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


def _psutil_scan(
    unavailable: list[str],
) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]:
    try:
        psutil = _load_psutil()
    except ImportError:
        unavailable.append("psutil (not installed)")
        return None, None
    except Exception as error:
        unavailable.append(f"psutil ({_why(error)})")
        return None, None
    stats: Mapping[str, Any] | None = None
    addrs: Mapping[str, Any] | None = None
    try:
        stats = dict(psutil.net_if_stats())
    except Exception as error:  # Android: PermissionError on /proc/net/dev and friends
        unavailable.append(f"psutil.net_if_stats ({_why(error)})")
    try:
        addrs = dict(psutil.net_if_addrs())
    except Exception as error:
        unavailable.append(f"psutil.net_if_addrs ({_why(error)})")
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
        states = parse_ip_link(run_command([ip, "-o", "link"]))
    except Exception as error:
        unavailable.append(f"interface state (ip -o link: {_why(error)})")
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
        return parse_ip_addr(run_command([ip, "-o", "addr"]))
    except Exception as error:
        unavailable.append(f"addresses (ip -o addr: {_why(error)})")
        return None


@dataclass
class RouteScan:
    ipv4: bool | None = None  # None: could not be read
    ipv6: bool | None = None
    interfaces: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)

    def note(self, family: str, found: list[str], source: str) -> None:
        if family == "ipv4":
            self.ipv4 = bool(found) or bool(self.ipv4)
        else:
            self.ipv6 = bool(found) or bool(self.ipv6)
        self.interfaces.extend(i for i in found if i not in self.interfaces)
        if source not in self.sources:
            self.sources.append(source)

    @property
    def present(self) -> bool | None:
        """True: a default route; False: none in either family; None: can't tell."""
        if self.ipv4 or self.ipv6:
            return True
        if self.ipv4 is False and self.ipv6 is False:
            return False
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
            routes.unavailable.append(f"{path} ({_why(error)})")
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
            found = parse_ip_route(run_command(argv))
        except Exception as error:
            routes.unavailable.append(f"ip {' '.join(argv[1:])} ({_why(error)})")
            continue
        routes.note(family, found, "ip route")


def _routes_from_route_get(routes: RouteScan) -> None:
    for family, argv in (
        ("ipv4", ["route", "-n", "get", "default"]),
        ("ipv6", ["route", "-n", "get", "-inet6", "default"]),
    ):
        try:
            found = parse_route_get(run_command(argv))
        except CommandFailed as error:
            if "not in table" not in str(error):
                routes.unavailable.append(f"{' '.join(argv)} ({_why(error)})")
                continue
            # "route: writing to routing socket: not in table": there is no such route.
            found = []
        except Exception as error:
            routes.unavailable.append(f"{' '.join(argv)} ({_why(error)})")
            continue
        routes.note(family, found, "route get")


def _routes_from_windows(routes: RouteScan) -> None:
    try:
        present = parse_windows_route(run_command(["route", "print", "0.0.0.0"]))
    except Exception as error:
        routes.unavailable.append(f"route print ({_why(error)})")
        return
    routes.ipv4 = present
    routes.sources.append("route print")


# --- termux-api (asynchronous: the commands hang when the Termux:API app is missing) -----


async def run_command_async(argv: Sequence[str], limit_s: float) -> str:
    """stdout of ``argv``; the whole process group is killed on timeout or cancellation."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=_command_env(),
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), limit_s)
    finally:
        if proc.returncode is None:
            _kill_group(proc.pid)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(proc.wait(), 0.5)
    if proc.returncode != 0:
        raise CommandFailed(f"exit status {proc.returncode}")
    return out.decode("utf-8", errors="replace")


@dataclass
class TermuxInfo:
    wifi: dict[str, Any] | None = None
    cellular: dict[str, Any] | None = None
    addresses: list[str] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)


async def _termux_json(command: str, info: TermuxInfo) -> Mapping[str, Any] | None:
    path = shutil.which(command)
    if path is None:
        return None
    try:
        data = json.loads(await run_command_async([path], TERMUX_TIMEOUT_S))
    except TimeoutError:
        info.unavailable.append(
            f"{command} (no answer in {TERMUX_TIMEOUT_S:.0f} s: is the Termux:API app installed?)"
        )
        return None
    except ValueError:
        info.unavailable.append(f"{command} (unreadable output)")
        return None
    except Exception as error:
        info.unavailable.append(f"{command} ({_why(error)})")
        return None
    if not isinstance(data, dict):
        info.unavailable.append(f"{command} (unexpected output)")
        return None
    return data


async def read_termux_api() -> TermuxInfo:
    """Wi-Fi and cellular facts from termux-api, both commands at once."""
    info = TermuxInfo()
    wifi, phone = await asyncio.gather(
        _termux_json(TERMUX_WIFI, info), _termux_json(TERMUX_TELEPHONY, info)
    )
    if wifi is not None:
        info.wifi = parse_termux_wifi(wifi)
        ip = wifi.get("ip")
        if isinstance(ip, str) and routable(ip):
            info.addresses.append(ip)
    if phone is not None:
        info.cellular = parse_termux_telephony(phone)
    return info


# --- the probe ---------------------------------------------------------------------------


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
        unavailable.append(f"{what} ({_why(error)})")
    return fallback


def link_state(iface: Interface, addresses_known: bool) -> bool | None:
    """Whether the interface can carry traffic: up, with a routable address when the
    addresses could be read; None when neither state nor addresses are known.

    Requiring a routable address also keeps macOS's always-present ``utun`` interfaces
    (link-local only) from counting as an active VPN, and a Wi-Fi that is up without a
    DHCP lease from counting as connected.
    """
    if iface.up is False:
        return False
    if addresses_known:
        return any(map(routable, iface.addresses))
    return iface.up


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
    if connected:
        parts = [
            ctx.text(
                id=f"{len(connected)} antarmuka aktif ({names})",
                en=f"{len(connected)} interface{'s' if len(connected) > 1 else ''} up ({names})",
            )
        ]
    elif unknown:
        parts = [ctx.text(id="antarmuka tidak terbaca", en="interfaces unreadable")]
    else:
        parts = [ctx.text(id="tidak ada antarmuka aktif", en="no interface up")]
    if routes.present is True:
        parts.append(ctx.text(id="rute default ada", en="default route present"))
    elif routes.present is False:
        parts.append(ctx.text(id="tidak ada rute default", en="no default route"))
    else:
        parts.append(
            ctx.text(
                id="rute default tidak dapat diperiksa", en="default route could not be checked"
            )
        )
    if vpn:
        parts.append(f"VPN: {_names(vpn)}")
    if proxies:
        parts.append(
            ctx.text(
                id=f"variabel proxy: {_names(proxies)}", en=f"proxy variables: {_names(proxies)}"
            )
        )
    if unavailable:
        what = _names(dict.fromkeys(u.partition(" (")[0] for u in unavailable))
        parts.append(ctx.text(id=f"tidak terbaca: {what}", en=f"not readable: {what}"))
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "."
