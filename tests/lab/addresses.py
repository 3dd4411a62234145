"""The lab's fixed topology: which name lives at which address.

Three namespaces, none linked to the host's network::

    phone (eth0 10.200.0.2) ── veth ── router (r-phone 10.200.0.1 | r-inet 10.202.0.1)
                                           └── veth ── internet (uplink 10.202.0.2, servers on lo)

The router stands for the home gateway / ISP link: impairments (rate, loss, delay) are all
applied there, so the phone namespace the CLI sees stays a plain host with one interface
and a default route (the `system` probe must not mistake the lab's plumbing for a VPN).
Every server name gets its own IPv4 and IPv6 address so faults can be set per host.
"""

from __future__ import annotations

from dataclasses import dataclass

PHONE_IF = "eth0"
ROUTER_PHONE_IF = "r-phone"  # router side of the phone link; its egress is the downlink
ROUTER_INET_IF = "r-inet"  # router side of the internet link; its egress is the uplink
INET_IF = "uplink"
RELAY_UP_IF = "dly0"  # relay TUN: the router sends uplink packets into it
RELAY_DOWN_IF = "dly1"  # relay TUN: the router sends downlink packets into it
RELAY_TABLE_UP = 101
RELAY_TABLE_DOWN = 102

PHONE_IP, PHONE_IP6 = "10.200.0.2", "fd00:200::2"
GATEWAY_IP, GATEWAY_IP6 = "10.200.0.1", "fd00:200::1"
ROUTER_UPLINK_IP, ROUTER_UPLINK_IP6 = "10.202.0.1", "fd00:202::1"
INET_IP, INET_IP6 = "10.202.0.2", "fd00:202::2"
PHONE_NET, PHONE_NET6 = "10.200.0.0/24", "fd00:200::/64"

# The Indonesian government block page ("Internet Positif" / TrustPositif) that ISPs' DNS
# answers point at. Inside the lab this address lives in the internet namespace only.
BLOCKPAGE_NAME = "trustpositif.kominfo.go.id"
BLOCKPAGE_IP = "36.86.63.185"
PORTAL_NAME = "login.wifi.id"  # captive-portal login host that the 302 fault points to


@dataclass(frozen=True)
class Host:
    name: str
    ip: str
    ip6: str


def _host(name: str, last: int) -> Host:
    return Host(name, f"10.201.0.{last}", f"fd00:201::{last}")


# Names answered by the lab's DNS and served by its web server, with their addresses.
HOSTS: dict[str, Host] = {
    h.name: h
    for h in (
        _host("www.bpjsketenagakerjaan.go.id", 10),
        _host("sso.bpjsketenagakerjaan.go.id", 11),
        _host("lapakasik.bpjsketenagakerjaan.go.id", 12),
        _host("www.google.com", 20),
        _host("connectivitycheck.gstatic.com", 21),
        _host("play.google.com", 30),
        _host("itunes.apple.com", 31),
        _host("speed.cloudflare.com", 40),
        _host("dns.google", 50),
        _host(PORTAL_NAME, 60),
        Host(BLOCKPAGE_NAME, BLOCKPAGE_IP, "fd00:201::185"),
    )
}

BPJS_HOSTS = (
    "www.bpjsketenagakerjaan.go.id",
    "sso.bpjsketenagakerjaan.go.id",
    "lapakasik.bpjsketenagakerjaan.go.id",
)
REFERENCE_HOSTS = ("www.google.com", "connectivitycheck.gstatic.com")

# The phone's resolver (what DHCP would hand out: the ISP's) and the "true" resolver
# that the config's dns.trusted_resolvers points at.
RESOLVERS: dict[str, Host] = {
    "system": Host("system", "10.201.0.53", "fd00:201::53"),
    "trusted": Host("trusted", "10.201.0.54", "fd00:201::54"),
}


def server_addresses() -> list[str]:
    """Every address the internet namespace holds on its loopback."""
    out: list[str] = []
    for h in (*HOSTS.values(), *RESOLVERS.values()):
        out += [h.ip, h.ip6]
    return out
