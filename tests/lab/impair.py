"""Rule text for the lab's impairments: nftables (loss, per-host refuse/blackhole) and tc.

Pure functions from the wanted state to the text that ``nft -f -`` / ``tc -batch -`` take,
so each change replaces the whole table atomically and "back to healthy" is just the
empty state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .addresses import HOSTS, RESOLVERS, ROUTER_INET_IF, ROUTER_PHONE_IF, Host

LINK_TABLE = "jmo_link"
HOSTS_TABLE = "jmo_hosts"
PATH_TABLE = "jmo_path"


def _replace(table: str, body: Iterable[str]) -> str:
    # "declare, delete, declare again" is nft's idiom for an atomic replace that also
    # works when the table does not exist yet.
    return (
        f"table inet {table} {{}}\ndelete table inet {table}\n"
        f"table inet {table} {{\n" + "\n".join(body) + "\n}\n"
    )


def loss_ruleset(up_pct: float, down_pct: float) -> str:
    """Random drop per direction, in the router's forward path.

    Dropping in the router (not in the phone's output hook) matters: a drop in a host's
    own output path returns EPERM to the sender instead of losing the packet silently.
    Matching on the egress interface counts each packet once, whether or not it took a
    detour through the delay relay.
    """
    rules = ["chain forward {", "type filter hook forward priority 0; policy accept;"]
    for ifname, pct in ((ROUTER_INET_IF, up_pct), (ROUTER_PHONE_IF, down_pct)):
        if pct > 0:
            rules.append(f'oifname "{ifname}" numgen random mod 10000 < {round(pct * 100)} drop')
    rules.append("}")
    return _replace(LINK_TABLE, rules)


def path_ruleset(mtu_drop_above: int | None, ipv6_dropped: bool) -> str:
    """Faults of the path itself, in the router's forward path (its own table, so loss
    and per-host rules stay as they are).

    ``mtu_drop_above``: packets toward the phone longer than this many bytes vanish, and
    nothing tells the sender (nft's drop sends no ICMP "fragmentation needed"): a broken
    path MTU, as behind some VPNs, mobile and PPPoE links. ``ipv6_dropped``: every IPv6
    packet through the router vanishes, while neighbour discovery on each link (not
    forwarded) still works, so the phone keeps its IPv6 route: IPv6 offered but broken.
    """
    rules = ["chain forward {", "type filter hook forward priority 0; policy accept;"]
    if mtu_drop_above is not None:
        rules.append(f'oifname "{ROUTER_PHONE_IF}" meta length > {mtu_drop_above} drop')
    if ipv6_dropped:
        rules.append("meta nfproto ipv6 drop")
    rules.append("}")
    return _replace(PATH_TABLE, rules)


def _lookup(host: str) -> Host:
    if host in HOSTS:
        return HOSTS[host]
    if host in RESOLVERS:
        return RESOLVERS[host]
    raise KeyError(f"not a lab host: {host!r} (known: {', '.join([*HOSTS, *RESOLVERS])})")


def host_ruleset(blackholed: Iterable[str], refused: Mapping[str, int | None]) -> str:
    """In the internet namespace: drop everything to blackholed hosts, answer TCP to
    refused hosts (on one port or all) with a reset — what a closed port looks like."""
    rules = ["chain input {", "type filter hook input priority 0; policy accept;"]
    for name in blackholed:
        h = _lookup(name)
        rules += [f"ip daddr {h.ip} drop", f"ip6 daddr {h.ip6} drop"]
    for name, port in refused.items():
        h = _lookup(name)
        match = f"tcp dport {port}" if port else "meta l4proto tcp"
        rules += [
            f"ip daddr {h.ip} {match} reject with tcp reset",
            f"ip6 daddr {h.ip6} {match} reject with tcp reset",
        ]
    rules.append("}")
    return _replace(HOSTS_TABLE, rules)


def tbf_batch(
    down_mbit: float | None, up_mbit: float | None, queue_ms: float, shaped: Iterable[str]
) -> tuple[str, set[str]]:
    """``tc -batch`` text for a token bucket on each router egress (r-phone = download),
    and the interfaces shaped afterwards. ``shaped``: those shaped now (only an existing
    qdisc can be deleted without an error)."""
    lines, after = [], set()
    for ifname, mbit in ((ROUTER_PHONE_IF, down_mbit), (ROUTER_INET_IF, up_mbit)):
        if mbit:
            rate_bytes = mbit * 1e6 / 8
            # A burst of ~4 ms of traffic (at least a few full frames) keeps the long-run
            # rate exact without letting big bursts through at line speed.
            burst = max(int(rate_bytes * 0.004), 4 * 1514)
            lines.append(
                f"qdisc replace dev {ifname} root tbf rate {int(mbit * 1e6)}bit "
                f"burst {burst} latency {int(queue_ms)}ms"
            )
            after.add(ifname)
        elif ifname in shaped:
            lines.append(f"qdisc del dev {ifname} root")
    return "\n".join(lines) + "\n", after
