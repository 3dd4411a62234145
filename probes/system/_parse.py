"""Pure parts of the ``system`` probe: parsers of kernel and tool output, classifiers,
and the data the scans fill in. Nothing here reads the system or runs a command.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

#: What an interface name says it is, first match wins (longest prefixes first where they
#: overlap). Android names its plumbing by convention, and each kind means something
#: different for the user:
#:
#: - ``blackhole``: netd's ``dummy0`` (AOSP DummyNetwork: "used to blackhole or reject
#:   traffic") carries default routes on every phone; they are no way out.
#: - ``clat``: the 464xlat CLAT ``v4-<iface>`` (and older ``clat4``) that carries IPv4 over
#:   an IPv6-only mobile network: a real path, not a VPN.
#: - ``vowifi``: VoWiFi/IMS tunnels to the operator's ePDG (``epdg*``; on Android also
#:   Samsung's and others' ``ipsec*``, which elsewhere is a VPN): the phone's own calls,
#:   not the user's VPN.
#: - ``mobile``: cellular data (Qualcomm ``rmnet*``, MediaTek ``ccmni*``, Spreadtrum
#:   ``seth*``/``sipa*``, ``pdp*``, ``wwan*``); ``wifi``: ``wlan*`` (``swlan``/``ap`` are
#:   the phone's own hotspot).
#: - ``ignored``: Wi-Fi Direct ``p2p*``, bridges and queue devices that never carry the
#:   phone's own traffic to the internet.
#: - ``vpn``: the kernel's tunnels (tun, tap, wg, ppp) and VPN clients that name theirs
#:   (macOS utun, Tailscale, NordVPN, ZeroTier, GlobalProtect, Cisco AnyConnect).
INTERFACE_KINDS: tuple[tuple[str, str], ...] = (
    ("dummy", "blackhole"),
    ("v4-", "clat"),
    ("clat", "clat"),
    ("epdg", "vowifi"),
    ("rev_rmnet", "mobile"),
    ("r_rmnet", "mobile"),
    ("rmnet", "mobile"),
    ("ccmni", "mobile"),
    ("ccemni", "mobile"),
    ("seth", "mobile"),
    ("sipa", "mobile"),
    ("pdp", "mobile"),
    ("wwan", "mobile"),
    ("swlan", "hotspot"),
    ("wlan", "wifi"),
    ("p2p", "ignored"),
    ("ifb", "ignored"),
    ("tunl", "ignored"),
    ("sit", "ignored"),
    ("ip6tnl", "ignored"),
    ("ip_vti", "ignored"),
    ("ip6_vti", "ignored"),
    ("gre", "ignored"),
    ("tun", "vpn"),
    ("tap", "vpn"),
    ("wg", "vpn"),
    ("ppp", "vpn"),
    ("ipsec", "vpn"),
    ("utun", "vpn"),
    ("tailscale", "vpn"),
    ("nordlynx", "vpn"),
    ("zt", "vpn"),
    ("gpd", "vpn"),
    ("cscotun", "vpn"),
)
#: On Android (Termux) these come first: the phone's own plumbing.
ANDROID_INTERFACE_KINDS: tuple[tuple[str, str], ...] = (("ipsec", "vowifi"),)
#: Kinds whose routes lead nowhere: a default route through them is not a way out.
NO_WAY_OUT_KINDS = frozenset({"blackhole", "ignored"})
#: Kinds that are system plumbing, never the user's VPN even when point-to-point.
NOT_VPN_KINDS = frozenset({"blackhole", "clat", "vowifi", "mobile", "wifi", "hotspot", "ignored"})
#: ``ip route`` types that drop or refuse traffic (``unreachable default dev lo …``).
REJECT_ROUTE_TYPES = frozenset({"unreachable", "blackhole", "prohibit", "throw"})


def interface_kind(name: str, android: bool = False) -> str:
    """``mobile``, ``wifi``, ``vpn``, ``clat``, ``vowifi``, ``blackhole``, ``hotspot``,
    ``ignored`` or ``other``, from the interface name (see :data:`INTERFACE_KINDS`)."""
    lower = name.lower()
    table = (*ANDROID_INTERFACE_KINDS, *INTERFACE_KINDS) if android else INTERFACE_KINDS
    for prefix, kind in table:
        if lower.startswith(prefix):
            return kind
    return "other"


def leads_out(name: str) -> bool:
    """Whether a default route through this interface can carry traffic out."""
    return name != "lo" and interface_kind(name) not in NO_WAY_OUT_KINDS


PROXY_VARIABLES = frozenset({"http_proxy", "https_proxy", "all_proxy"})

_RTF_UP = 0x0001
_RTF_REJECT = 0x0200


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
        usable = flags & _RTF_UP and not flags & _RTF_REJECT and leads_out(iface)
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
        usable = flags & _RTF_UP and not flags & _RTF_REJECT and leads_out(iface)
        if usable and prefix_len == "00" and set(destination) == {"0"} and iface not in found:
            found.append(iface)
    return found


def parse_ip_route(text: str) -> list[str]:
    """Interfaces with a default route in ``ip [-6] route show [table all]`` output.

    Other route types (``unreachable default``, ``blackhole``, ``local``, …) start with
    their type and are skipped, as are routes flagged ``linkdown``/``dead`` and routes
    into interfaces that lead nowhere (netd's ``dummy0`` on every Android phone); a
    multipath default takes the devices of its ``nexthop`` lines.
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
        if leads_out(dev) and dev not in found:
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


def classify_vpn(
    names: Iterable[str], point_to_point: Collection[str] = (), *, android: bool = False
) -> list[str]:
    """The names that look like VPN or tunnel interfaces.

    By name first (:func:`interface_kind`); a point-to-point interface (psutil/sysfs
    flag) of no known kind counts too, while cellular data, Android's CLAT and VoWiFi
    tunnels, point-to-point as well, never do.
    """
    found: list[str] = []
    for name in names:
        kind = interface_kind(name, android)
        if kind == "vpn" or (kind not in NOT_VPN_KINDS and name in point_to_point):
            found.append(name)
    return found


def proxy_variables(environ: Mapping[str, str]) -> list[str]:
    """Names (never values) of the proxy variables that are set and not empty."""
    return sorted(
        name for name, value in environ.items() if name.lower() in PROXY_VARIABLES and value
    )


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


# --- what the scans find ----------------------------------------------------------------


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
