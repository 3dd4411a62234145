"""The :class:`Lab`: a phone, a router and an internet in network namespaces.

Usage::

    with Lab() as lab:
        lab.dns_fault("system", "servfail", names=BPJS_HOSTS)
        lab.set_delay(25)                       # +50 ms round trip
        result = lab.cli("run", "--config", str(lab.write_config()), "--format", "json")

Everything starts healthy; :meth:`Lab.reset` goes back there (the pytest fixture calls
it between tests) without restarting anything. See ``addresses.py`` for the topology.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from . import addresses as A
from . import certs, impair, labconfig, netns, tomlw
from .control import Server, module_argv

_counter = itertools.count()

DNS_MODES = (
    "ok",
    "servfail",
    "nxdomain",
    "refused",
    "silent",
    "empty",
    "blockpage",
    "blockpage_a",
    "address",
)
HOST_FAULT_KEYS = (
    "cert",
    "reset",
    "hang",
    "stall",
    "status",
    "delay_ms",
    "slowloris",
    "huge_body",
    "date_offset_s",
)
CAPTIVE_MODES = ("redirect", "page")
DEFAULT_STORE = {"play_version": "3.10.2", "appstore_version": "3.10.2"}
# Variables that would make the CLI in the phone trust something else than the config's
# ca_bundle, use a proxy that does not exist in the lab, or read the developer's config.
_SCRUBBED_ENV = re.compile(
    r"^(SSL_CERT_FILE|SSL_CERT_DIR|REQUESTS_CA_BUNDLE|CURL_CA_BUNDLE|JMO_DOCTOR_CONFIG"
    r"|JMO_DOCTOR_HOME|XDG_\w+|(HTTPS?|ALL|NO|FTP)_PROXY)$",
    re.IGNORECASE,
)
# IPv6 duplicate address detection keeps new addresses (link-local ones too, which
# neighbour discovery needs) unusable for ~1 s; nothing can clash inside the lab.
#: The kernel's default for a device's GSO segments per packet (``ip -d link`` shows it).
_GSO_MAX_SEGS = 65535
_NO_DAD = {"net.ipv6.conf.all.accept_dad": 0, "net.ipv6.conf.default.accept_dad": 0}


def _check_hosts(hosts: Iterable[str]) -> None:
    known = (*A.HOSTS, *A.RESOLVERS)
    for host in hosts:
        if host not in known:
            raise ValueError(f"not a lab host: {host!r} (known: {', '.join(known)})")


@dataclass
class _LinkState:
    """What the lab changed on the path (so reset() undoes only that)."""

    blackholed: set[str] = field(default_factory=set)
    refused: dict[str, int | None] = field(default_factory=dict)
    shaped: set[str] = field(default_factory=set)  # router interfaces with a tbf qdisc
    loss: bool = False
    delay: bool = False
    resolvers: list[str] = field(default_factory=list)  # phone resolv.conf override
    mtu_drop_above: int | None = None  # path_ruleset(): packets to the phone dropped above
    ipv6_dropped: bool = False


class Lab:
    """A running lab. Not thread-safe; one lab can serve a whole test session."""

    # Addresses, for tests that want to assert on them.
    phone_ip = A.PHONE_IP
    phone_ip6 = A.PHONE_IP6
    gateway_ip = A.GATEWAY_IP
    system_resolver = A.RESOLVERS["system"].ip
    trusted_resolver = A.RESOLVERS["trusted"].ip
    blockpage_ip = A.BLOCKPAGE_IP
    doh_url = labconfig.DOH_URL
    captive_url = labconfig.CAPTIVE_URL
    bpjs_hosts = A.BPJS_HOSTS
    reference_hosts = A.REFERENCE_HOSTS

    def __init__(
        self, *, resolv_options: str = "timeout:1 attempts:2", keep_tmp: bool | None = None
    ) -> None:
        """``resolv_options``: the phone's resolv.conf ``options`` line. glibc's default
        (5 s × 2 attempts) makes every "silent resolver" test wait 10 s or more.
        ``keep_tmp``: keep the temp dir (logs, certs) after stop; default from
        ``$JMO_LAB_KEEP``."""
        n = next(_counter)
        pid = os.getpid()
        self.phone = f"jmo-phone-{pid}-{n}"
        self.router = f"jmo-router-{pid}-{n}"
        self.inet = f"jmo-inet-{pid}-{n}"
        self.resolv_options = resolv_options
        self.keep_tmp = bool(os.environ.get("JMO_LAB_KEEP")) if keep_tmp is None else keep_tmp
        # Made by start(); named after our pid so cleanup_stale() can tell if it's orphaned.
        self.tmp = Path(tempfile.gettempdir()) / f"{netns.TMP_PREFIX}{pid}-{n}"
        self.home = self.tmp / "home"
        self.ca_bundle = self.tmp / "certs" / "ca.pem"
        self.cert_files: dict[str, Path] = {}
        self._servers: dict[str, Server] = {}
        self._vpns: dict[str, Server] = {}
        self._started = False
        self._state = self._healthy_state()
        self._link = _LinkState()
        self.started_in = 0.0  # seconds start() took

    # --- life cycle ----------------------------------------------------------------

    @staticmethod
    def unavailable_reason() -> str | None:
        """Why a lab can't run here (not root, no namespaces …), or None."""
        return netns.unavailable_reason()

    def start(self) -> Lab:
        if self._started:
            return self
        netns.cleanup_stale()
        self._started = True
        atexit.register(self.stop)
        try:
            began = time.monotonic()
            self.tmp.mkdir(parents=True, exist_ok=True)
            netns.add([self.phone, self.router, self.inet])
            self._plumb()
            self._write_phone_etc()
            self.ca_bundle, self.cert_files = certs.make(self.tmp / "certs")
            web_config = self.tmp / "web.json"
            web_config.write_text(
                json.dumps({"certs": {k: str(v) for k, v in self.cert_files.items()}})
            )
            self._servers = {
                "dns": self._spawn("dns", self.inet, module_argv("dns_server")),
                "web": self._spawn("web", self.inet, module_argv("web_server", str(web_config))),
                "relay": self._spawn(
                    "relay", self.router, module_argv("relay", A.RELAY_UP_IF, A.RELAY_DOWN_IF)
                ),
            }
            for server in self._servers.values():
                server.wait_ready()
            self._link_up_relay()
            self._wait_links_up()
            self.home.mkdir()
            self.started_in = time.monotonic() - began
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every process and remove the namespaces; safe to call twice."""
        if not self._started:
            return
        self._started = False
        atexit.unregister(self.stop)
        for server in [*self._vpns.values(), *self._servers.values()]:
            with contextlib.suppress(Exception):
                server.stop()
        self._vpns.clear()
        netns.delete([self.phone, self.router, self.inet])
        if not self.keep_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> Lab:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def namespaces(self) -> tuple[str, str, str]:
        return (self.phone, self.router, self.inet)

    def pids(self) -> list[int]:
        """Every process the lab runs (servers, relay, VPN stand-ins)."""
        return [s.pid for s in (*self._servers.values(), *self._vpns.values())]

    def log_files(self) -> list[Path]:
        return sorted(self.tmp.glob("*.log"))

    def _spawn(self, name: str, ns: str, argv: list[str]) -> Server:
        return Server(name, ns, argv, self.tmp / f"{name}.log")

    def _plumb(self) -> None:
        """Interfaces, addresses and routes of all three namespaces."""
        for ns in (self.phone, self.inet):
            netns.sysctl(ns, _NO_DAD)
        netns.sysctl(
            self.router,
            {
                **_NO_DAD,
                "net.ipv4.ip_forward": 1,
                "net.ipv6.conf.all.forwarding": 1,
                # Relayed packets come back in on a TUN while the reverse route points at a
                # veth: strict reverse-path filtering would drop every one of them.
                "net.ipv4.conf.all.rp_filter": 0,
                "net.ipv4.conf.default.rp_filter": 0,
            },
        )
        r, p, i = self.router, self.phone, self.inet
        netns.ip_batch(
            r,
            [
                # Created from inside the router namespace: no interface ever exists in the
                # host's namespace, so nothing can leak there, even for an instant.
                # Distinct interface indexes on the two ends of each veth: the kernel
                # treats a carrier change of a device whose peer has the *same* index
                # (likely, each namespace counts from 1) as non-urgent and reports the
                # link up only after a ~1 s linkwatch delay.
                f"link add {A.ROUTER_PHONE_IF} index 11 type veth "
                f"peer name {A.PHONE_IF} index 21 netns {p}",
                f"link add {A.ROUTER_INET_IF} index 12 type veth "
                f"peer name {A.INET_IF} index 22 netns {i}",
                f"addr add {A.GATEWAY_IP}/24 dev {A.ROUTER_PHONE_IF}",
                f"addr add {A.GATEWAY_IP6}/64 dev {A.ROUTER_PHONE_IF} nodad",
                f"addr add {A.ROUTER_UPLINK_IP}/24 dev {A.ROUTER_INET_IF}",
                f"addr add {A.ROUTER_UPLINK_IP6}/64 dev {A.ROUTER_INET_IF} nodad",
                "link set lo up",
                f"link set {A.ROUTER_PHONE_IF} up",
                f"link set {A.ROUTER_INET_IF} up",
                f"route add default via {A.INET_IP}",
                f"route add ::/0 via {A.INET_IP6}",
                f"tuntap add dev {A.RELAY_UP_IF} mode tun",
                f"tuntap add dev {A.RELAY_DOWN_IF} mode tun",
            ],
        )
        netns.ip_batch(
            p,
            [
                "link set lo up",
                f"addr add {A.PHONE_IP}/24 dev {A.PHONE_IF}",
                f"addr add {A.PHONE_IP6}/64 dev {A.PHONE_IF} nodad",
                f"link set {A.PHONE_IF} up",
                f"route add default via {A.GATEWAY_IP}",
                f"route add ::/0 via {A.GATEWAY_IP6}",
            ],
        )
        lines = [
            "link set lo up",
            f"addr add {A.INET_IP}/24 dev {A.INET_IF}",
            f"addr add {A.INET_IP6}/64 dev {A.INET_IF} nodad",
            f"link set {A.INET_IF} up",
            f"route add default via {A.ROUTER_UPLINK_IP}",
            f"route add ::/0 via {A.ROUTER_UPLINK_IP6}",
        ]
        for addr in A.server_addresses():
            lines.append(
                f"addr add {addr}/128 dev lo nodad" if ":" in addr else f"addr add {addr}/32 dev lo"
            )
        netns.ip_batch(i, lines)

    def _link_up_relay(self) -> None:
        # The relay has attached to its TUNs (they have a carrier now): bring them up and
        # give each its routing table; the ip rules that use them come with set_delay().
        lines = []
        for dev, table in (
            (A.RELAY_UP_IF, A.RELAY_TABLE_UP),
            (A.RELAY_DOWN_IF, A.RELAY_TABLE_DOWN),
        ):
            lines += [
                f"link set {dev} up",
                f"route add default dev {dev} table {table}",
                f"route add ::/0 dev {dev} table {table}",
            ]
        netns.ip_batch(self.router, lines)
        netns.sysctl(
            self.router,
            {f"net.ipv4.conf.{d}.rp_filter": 0 for d in (A.RELAY_UP_IF, A.RELAY_DOWN_IF)},
        )

    def _wait_links_up(self, timeout: float = 3.0) -> None:
        """Until every veth reports operstate UP: a CLI started earlier would see a
        phone without a working interface."""
        wanted = {
            self.phone: [A.PHONE_IF],
            self.router: [A.ROUTER_PHONE_IF, A.ROUTER_INET_IF],
            self.inet: [A.INET_IF],
        }
        deadline = time.monotonic() + timeout
        while wanted:
            for ns, devs in list(wanted.items()):
                shown = netns.run(["ip", "-n", ns, "-o", "link", "show", "up"]).stdout
                up = {m for m in re.findall(r"^\d+: ([^:@]+)[^\n]*state UP", shown, re.M)}
                if set(devs) <= up:
                    del wanted[ns]
            if wanted and time.monotonic() > deadline:
                raise netns.LabError(f"interfaces not up after {timeout}s: {wanted}")
            if wanted:
                time.sleep(0.01)

    def _write_phone_etc(self, nameservers: Sequence[str] | None = None) -> None:
        """/etc/netns/<phone>/: ``ip netns exec`` bind-mounts these over /etc."""
        etc = netns.NETNS_ETC / self.phone
        etc.mkdir(parents=True, exist_ok=True)
        servers = nameservers if nameservers is not None else [self.system_resolver]
        text = "".join(f"nameserver {s}\n" for s in servers)
        if self.resolv_options:
            text += f"options {self.resolv_options}\n"
        (etc / "resolv.conf").write_text(text)
        (etc / "hosts").write_text("127.0.0.1 localhost\n::1 localhost ip6-localhost\n")
        # Only files+dns for host names: an NSS module such as systemd-resolved would
        # resolve in the host's namespace and send real queries.
        try:
            nss = Path("/etc/nsswitch.conf").read_text()
        except OSError:
            nss = "passwd: files\ngroup: files\n"
        nss = re.sub(r"(?m)^hosts:.*$", "", nss) + "hosts: files dns\n"
        (etc / "nsswitch.conf").write_text(nss)

    # --- DNS faults ------------------------------------------------------------------

    def dns_fault(
        self,
        resolver: str,
        mode: str,
        names: str | Iterable[str] | None = None,
        *,
        addresses: Sequence[str] = (),
        delay_ms: float = 0.0,
    ) -> None:
        """Make ``resolver`` ("system", "trusted" or "doh") answer ``mode`` for ``names``
        (one name, several, or None for every name). Modes: ok, servfail, nxdomain,
        refused, silent, empty (NOERROR, no records), blockpage (CNAME
        trustpositif.kominfo.go.id + A 36.86.63.185), blockpage_a (just the A), address
        (``addresses``, e.g. another host's IPs). ``delay_ms`` delays any mode."""
        if resolver not in self._state["dns"]:
            raise ValueError(f"resolver must be one of {sorted(self._state['dns'])}")
        if mode not in DNS_MODES:
            raise ValueError(f"DNS fault mode must be one of {DNS_MODES}")
        fault = {"mode": mode, "addresses": list(addresses), "delay_ms": delay_ms}
        view = self._state["dns"][resolver]
        if names is None:
            view["default"], view["names"] = fault, {}
        else:
            for name in [names] if isinstance(names, str) else names:
                view["names"][name.lower().rstrip(".")] = fault
        self._push("dns")

    def dns_clear(self, resolver: str | None = None) -> None:
        for name, view in self._state["dns"].items():
            if resolver in (None, name):
                view["default"], view["names"] = None, {}
        self._push("dns")

    def phone_resolvers(self, *addresses: str) -> None:
        """Rewrite the phone's resolv.conf (no argument: back to the system resolver)."""
        self._write_phone_etc(list(addresses) or None)
        self._link.resolvers = list(addresses)

    # --- server faults ---------------------------------------------------------------

    def host_fault(self, host: str, **fault: Any) -> None:
        """Add faults for one lab host's web server; see web_server's doc for the keys
        (cert=, reset=, hang=, stall=, status=, delay_ms=, slowloris=, huge_body=,
        date_offset_s=). Passing ``key=None`` removes that fault."""
        _check_hosts([host])
        unknown = set(fault) - set(HOST_FAULT_KEYS)
        if unknown:
            raise ValueError(f"unknown host fault(s) {sorted(unknown)}; known: {HOST_FAULT_KEYS}")
        if fault.get("cert") not in (None, *certs.VARIANTS):
            raise ValueError(f"cert must be one of {certs.VARIANTS}")
        current = self._state["hosts"].setdefault(host, {})
        current.update(fault)
        for key in [k for k, v in current.items() if v is None]:
            del current[key]
        self._push("web")

    def host_clear(self, host: str | None = None) -> None:
        if host is None:
            self._state["hosts"].clear()
        else:
            self._state["hosts"].pop(host, None)
        self._push("web")

    def captive_portal(self, mode: str | None) -> None:
        """ "redirect" (302 to http://login.wifi.id/login), "page" (200 login page), or
        None. Applies to every plain-HTTP request except to the portal itself."""
        if mode not in (None, *CAPTIVE_MODES):
            raise ValueError(f"captive portal mode must be None or one of {CAPTIVE_MODES}")
        self._state["captive"] = mode
        self._push("web")

    def store_versions(self, *, play: str | None = None, appstore: str | None = None) -> None:
        """Versions of JMO that the lab's Play Store page and App Store lookup show."""
        if play is not None:
            self._state["store"]["play_version"] = play
        if appstore is not None:
            self._state["store"]["appstore_version"] = appstore
        self._push("web")

    def set_route(
        self,
        host: str,
        path: str,
        *,
        status: int = 200,
        body: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer ``path`` on ``host`` (HTTP and HTTPS) with exactly this."""
        self._state["routes"][f"{host} {path}"] = {
            "status": status,
            "body": body,
            "headers": dict(headers or {}),
        }
        self._push("web")

    def blackhole(self, *hosts: str) -> None:
        """Drop every packet to these hosts (lab names, or "system"/"trusted" resolvers):
        connects and queries time out."""
        _check_hosts(hosts)
        self._link.blackholed.update(hosts)
        self._apply_host_rules()

    def refuse(self, *hosts: str, port: int | None = None) -> None:
        """Answer TCP to these hosts with a reset (on ``port`` only, or every port):
        connection refused."""
        _check_hosts(hosts)
        for host in hosts:
            self._link.refused[host] = port
        self._apply_host_rules()

    def unblock(self, *hosts: str) -> None:
        """Undo blackhole()/refuse() for these hosts (all when none given)."""
        targets = hosts or (*self._link.blackholed, *self._link.refused)
        for host in targets:
            self._link.blackholed.discard(host)
            self._link.refused.pop(host, None)
        self._apply_host_rules()

    def _apply_host_rules(self) -> None:
        text = impair.host_ruleset(sorted(self._link.blackholed), self._link.refused)
        netns.run(netns.exec_argv(self.inet, ["nft", "-f", "-"]), input=text)

    # --- link impairments ------------------------------------------------------------

    def set_rate(
        self,
        mbit: float | None = None,
        *,
        down: float | None = None,
        up: float | None = None,
        queue_ms: float = 100.0,
    ) -> None:
        """Token-bucket rate limit (Mbit/s) on the link; None = unlimited. ``queue_ms`` is
        how much traffic the bucket queues before dropping (bufferbloat)."""
        down = mbit if down is None else down
        up = mbit if up is None else up
        text, shaped = impair.tbf_batch(down, up, queue_ms, self._link.shaped)
        if text.strip():
            netns.run(["tc", "-n", self.router, "-batch", "-"], input=text)
        self._link.shaped = shaped

    def set_loss(
        self, pct: float = 0.0, *, down: float | None = None, up: float | None = None
    ) -> None:
        """Random packet loss (percent, 0.01 steps) per direction on the link."""
        down = pct if down is None else down
        up = pct if up is None else up
        for value in (down, up):
            if not 0 <= value <= 100:
                raise ValueError("loss must be between 0 and 100 percent")
        netns.run(
            netns.exec_argv(self.router, ["nft", "-f", "-"]), input=impair.loss_ruleset(up, down)
        )
        self._link.loss = bool(down or up)

    def set_delay(
        self,
        ms: float = 0.0,
        *,
        down: float | None = None,
        up: float | None = None,
        jitter_ms: float = 0.0,
        reorder: bool = False,
    ) -> None:
        """One-way delay (ms) per direction through the relay: ``set_delay(25)`` adds
        50 ms to every round trip. ``jitter_ms`` spreads each packet's delay uniformly by
        ± that much; packets keep their order unless ``reorder``. All zero: the relay
        is bypassed and traffic takes the plain kernel path again."""
        down = ms if down is None else down
        up = ms if up is None else up
        if min(down, up, jitter_ms) < 0:
            raise ValueError("delays must not be negative")
        self._servers["relay"].command(
            {"up_ms": up, "down_ms": down, "jitter_ms": jitter_ms, "reorder": reorder}
        )
        on = bool(down or up or jitter_ms)
        if on != self._link.delay:
            verb = "add" if on else "del"
            lines = [
                f"rule {verb} iif {A.ROUTER_PHONE_IF} lookup {A.RELAY_TABLE_UP} pref 100",
                f"rule {verb} iif {A.ROUTER_INET_IF} lookup {A.RELAY_TABLE_DOWN} pref 101",
            ]
            for family in ("-4", "-6"):
                netns.ip_batch(self.router, lines, family=family)
            self._link.delay = on

    def mtu_blackhole(self, drop_above: int | None = 1400) -> None:
        """Packets toward the phone longer than ``drop_above`` bytes vanish without an
        ICMP error (None: undo). Handshakes and small answers pass; anything that needs
        a full-size (1500-byte, the veths' MTU) packet stalls."""
        self._link.mtu_drop_above = drop_above
        self._apply_path_rules()

    def break_ipv6(self, broken: bool = True) -> None:
        """Every IPv6 packet through the router vanishes (DNS still answers AAAA)."""
        self._link.ipv6_dropped = broken
        self._apply_path_rules()

    def _apply_path_rules(self) -> None:
        text = impair.path_ruleset(self._link.mtu_drop_above, self._link.ipv6_dropped)
        netns.run(netns.exec_argv(self.router, ["nft", "-f", "-"]), input=text)
        # The servers' TCP hands the veth 64 kB GSO bursts of segments, which reach the
        # router whole: "meta length" would drop a burst of small segments as one big
        # packet. One segment per packet while the MTU fault is on, as on a real wire.
        segs = 1 if self._link.mtu_drop_above is not None else _GSO_MAX_SEGS
        netns.ip_batch(self.inet, [f"link set dev {A.INET_IF} gso_max_segs {segs}"])

    # --- the phone -------------------------------------------------------------------

    def add_vpn(
        self, name: str = "tun0", *, address: str = "10.99.0.2/24", route_bpjs: bool = False
    ) -> None:
        """A VPN-like TUN interface in the phone, up, with an address. With
        ``route_bpjs`` the BPJS hosts' addresses are routed into it (where packets
        vanish), as with a VPN that breaks BPJS."""
        if name in self._vpns:
            raise ValueError(f"VPN interface {name} exists already")
        server = Server(
            f"vpn-{name}", self.phone, module_argv("vpn", name), self.tmp / f"vpn-{name}.log"
        )
        self._vpns[name] = server
        server.wait_ready()
        lines = [f"addr add {address} dev {name}", f"link set {name} up"]
        if route_bpjs:
            for host in A.BPJS_HOSTS:
                h = A.HOSTS[host]
                lines += [f"route add {h.ip}/32 dev {name}", f"route add {h.ip6}/128 dev {name}"]
        netns.ip_batch(self.phone, lines)

    def remove_vpn(self, name: str | None = None) -> None:
        for vpn in [n for n in self._vpns if name in (None, n)]:
            self._vpns.pop(vpn).stop()  # the TUN (and its routes) vanish with its process

    def phone_env(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment for commands in the phone: no CA or proxy overrides from the
        developer's shell, HOME and JMO_DOCTOR_HOME in the lab's temp dir."""
        out = {k: v for k, v in os.environ.items() if not _SCRUBBED_ENV.match(k)}
        out.update(
            {
                "HOME": str(self.home),
                "JMO_DOCTOR_HOME": str(self.home / "jmo-doctor-data"),
                "XDG_CONFIG_HOME": str(self.home / ".config"),
                "XDG_DATA_HOME": str(self.home / ".local" / "share"),
                "XDG_CACHE_HOME": str(self.home / ".cache"),
                "XDG_STATE_HOME": str(self.home / ".local" / "state"),
            }
        )
        out.update(env or {})
        return out

    def phone_argv(self, argv: Sequence[str]) -> list[str]:
        return netns.exec_argv(self.phone, [str(a) for a in argv])

    def run_in_phone(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        timeout: float = 60.0,
        input: str | None = None,
        check: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in the phone namespace and collect its output (text)."""
        return subprocess.run(
            self.phone_argv(argv),
            env=self.phone_env(env),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )

    def popen_in(self, where: str, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[str]:
        """Start a background command in "phone", "router" or "internet" (e.g. iperf3)."""
        ns = {"phone": self.phone, "router": self.router, "internet": self.inet}[where]
        env = kwargs.pop("env", None)
        return subprocess.Popen(
            netns.exec_argv(ns, [str(a) for a in argv]),
            env=self.phone_env(env),
            text=True,
            preexec_fn=netns.die_with_parent,
            **kwargs,
        )

    def run_in(
        self, where: str, argv: Sequence[str], *, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        ns = {"phone": self.phone, "router": self.router, "internet": self.inet}[where]
        return subprocess.run(
            netns.exec_argv(ns, [str(a) for a in argv]),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def cli(
        self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 90.0
    ) -> subprocess.CompletedProcess[str]:
        """``jmo-doctor ARGS`` in the phone (this interpreter, ``-m jmo_doctor``)."""
        return self.run_in_phone(
            [sys.executable, "-m", "jmo_doctor", *args], env=env, timeout=timeout
        )

    # --- config ----------------------------------------------------------------------

    def config_dict(self, **overrides: Any) -> dict[str, Any]:
        """The lab's jmo-doctor config as a dict; see :func:`labconfig.build`."""
        return labconfig.build(self.ca_bundle, **overrides)

    def config_toml(self, **overrides: Any) -> str:
        return tomlw.dumps(self.config_dict(**overrides))

    def write_config(self, path: Path | str | None = None, **overrides: Any) -> Path:
        """Write :meth:`config_toml` to ``path`` (default: in the lab's home) and return it."""
        target = Path(path) if path is not None else self.home / "lab-config.toml"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.config_toml(**overrides))
        return target

    # --- back to healthy ----------------------------------------------------------------

    @staticmethod
    def _healthy_state() -> dict[str, Any]:
        return {
            "dns": {v: {"default": None, "names": {}} for v in ("system", "trusted", "doh")},
            "hosts": {},
            "captive": None,
            "routes": {},
            "store": dict(DEFAULT_STORE),
        }

    def _push(self, which: str) -> None:
        keys = ("dns",) if which == "dns" else ("hosts", "captive", "routes", "store", "dns")
        self._servers[which].command({k: copy.deepcopy(self._state[k]) for k in keys})
        if which == "dns":  # the web server answers DoH from the same state
            self._servers["web"].command({"dns": copy.deepcopy(self._state["dns"])})

    def reset(self) -> None:
        """Back to the healthy lab, undoing only what was changed (fast between tests),
        with an empty HOME for the phone."""
        link = self._link
        if link.delay:
            self.set_delay(0)
        if link.loss:
            self.set_loss(0)
        if link.shaped:
            self.set_rate(None)
        if link.blackholed or link.refused:
            self.unblock()
        if link.mtu_drop_above is not None or link.ipv6_dropped:
            link.mtu_drop_above, link.ipv6_dropped = None, False
            self._apply_path_rules()
        if link.resolvers:
            self.phone_resolvers()
        self.remove_vpn()
        if self._state != self._healthy_state():
            self._state = self._healthy_state()
            self._push("dns")
            self._push("web")
        shutil.rmtree(self.home, ignore_errors=True)
        self.home.mkdir()
