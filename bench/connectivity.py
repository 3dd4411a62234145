"""Connectivity figures in the network lab: the probes' numbers against the usual tools.

Side by side on one link (the lab's phone → router → internet path, with the relay's
delay and nftables loss on it), medians over repeated runs:

- tcp probe RTT (``<target>.rtt_median_ms``, ``--only tcp``) against the relay's injected
  one-way delays summed, and against ``ping -i 0.2`` to the same address;
- tcp probe loss estimate at 5, 10, 20 and 40 % injected, one way and each way, against
  what it should read and against ping's (see :func:`tcp_loss` for "expected");
- dns probe time (``<target>.system_ms``, ``--only dns``) against ``dig``'s query time and
  a dnspython query of the same name to the same resolver, run back to back;
- wall time of ``jmo-doctor run --quick``: healthy with the 5 default-like targets, with
  everything blackholed and ``--timeout 5``, and with 50 targets against 5.

Needs root (network namespaces); ``python -m bench connectivity`` starts its own lab.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.lab import Lab
from tests.lab.addresses import HOSTS
from tests.lab.labconfig import TARGETS

CLI = str(Path(sys.executable).parent / "jmo-doctor")
WWW = "www.bpjsketenagakerjaan.go.id"
TCP_ROUNDS = 5
LOSS_ROUNDS = 3
LOSS_SAMPLES = 40
LOSS_LEVELS = (5.0, 10.0, 20.0, 40.0)
DNS_ROUNDS = 15
WALL_ROUNDS = 7

# A dnspython query timed on its own, in the phone: prints milliseconds. A first query for
# another name loads what dnspython imports lazily (rdata classes), which is not the
# resolver's time; the probe likewise warms up the C library's lookup machinery.
DNSPYTHON = (
    "import sys, time, dns.message, dns.query\n"
    "dns.query.udp(dns.message.make_query(sys.argv[3], 'A'), sys.argv[2], timeout=2)\n"
    "q = dns.message.make_query(sys.argv[1], 'A')\n"
    "began = time.perf_counter()\n"
    "dns.query.udp(q, sys.argv[2], timeout=2)\n"
    "print((time.perf_counter() - began) * 1000)\n"
)


@dataclass(frozen=True)
class Row:
    figure: str
    ours: str
    reference: str
    goal: str
    ok: bool


def median(values: Iterable[float]) -> float:
    found = list(values)
    return statistics.median(found) if found else float("nan")


def cli(lab: Lab, config: Path, *args: str, timeout: float = 60.0) -> dict[str, Any]:
    argv = [CLI, "run", "--config", str(config), "--format", "json", "--no-history", *args]
    proc = lab.run_in_phone(argv, timeout=timeout)
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def metrics(report: dict[str, Any], probe: str) -> dict[str, float]:
    found: dict[str, float] = next(p["metrics"] for p in report["probes"] if p["id"] == probe)
    return found


def per_target(found: dict[str, float], key: str) -> list[float]:
    return [value for name, value in found.items() if name.endswith("." + key)]


def ping(lab: Lab, address: str, count: int) -> tuple[float, float]:
    """(median RTT ms, loss %) of ``ping -c count -i 0.2`` from the phone."""
    out = lab.run_in_phone(
        ["ping", "-n", "-c", str(count), "-i", "0.2", "-W", "2", address], timeout=count + 30
    ).stdout
    rtts = [float(x) for x in re.findall(r"time=([\d.]+)", out)]
    lost = re.search(r"([\d.]+)% packet loss", out)
    return median(rtts), float(lost.group(1)) if lost else float("nan")


def dig_ms(lab: Lab, name: str, server: str) -> float | None:
    """dig's own query time, in microseconds (``-u``) for a figure finer than 1 ms."""
    out = lab.run_in_phone(
        ["dig", "-u", "+time=2", "+tries=1", f"@{server}", name, "A"], timeout=10
    ).stdout
    found = re.search(r"Query time: (\d+) usec", out)
    return float(found.group(1)) / 1000.0 if found else None


def dnspython_ms(lab: Lab, name: str, server: str, other: str) -> float | None:
    argv = [sys.executable, "-c", DNSPYTHON, name, server, other]
    out = lab.run_in_phone(argv, timeout=10).stdout
    try:
        return float(out.strip())
    except ValueError:
        return None


def wall(lab: Lab, argv: Sequence[str]) -> float:
    began = time.perf_counter()
    lab.run_in_phone(list(argv), timeout=120)
    return time.perf_counter() - began


def _primary_address(report: dict[str, Any], target: str) -> str:
    tcp = next(p for p in report["probes"] if p["id"] == "tcp")
    detail = tcp.get("details", {}).get(target, {})
    family = detail.get("primary", "ipv6")
    address: str = detail.get("families", {}).get(family, {}).get("address", HOSTS[WWW].ip6)
    return address


# --- the figures ---------------------------------------------------------------------------


def tcp_rtt(lab: Lab, rows: list[Row], figures: dict[str, float]) -> None:
    config = lab.write_config(lab.tmp / "bench-tcp.toml", latency={"samples": 10})
    for one_way in (25.0, 100.0):
        lab.set_delay(one_way)
        injected = 2 * one_way
        ours: list[float] = []
        pings: list[float] = []
        for _ in range(TCP_ROUNDS):  # interleaved, so machine noise hits both alike
            report = cli(lab, config, "--only", "tcp", "--verbose")
            ours.append(median(per_target(metrics(report, "tcp"), "rtt_median_ms")))
            pings.append(ping(lab, _primary_address(report, "bpjs-www"), 10)[0])
        lab.set_delay(0)
        tcp, peer = median(ours), median(pings)
        figures[f"tcp_rtt_{injected:.0f}_ms"] = tcp
        figures[f"ping_rtt_{injected:.0f}_ms"] = peer
        rows.append(
            Row(
                f"tcp RTT, {one_way:.0f}+{one_way:.0f} ms injected",
                f"{tcp:.2f} ms",
                f"injected {injected:.0f} ms",
                "±3 ms",
                abs(tcp - injected) <= 3.0,
            )
        )
        rows.append(
            Row(
                f"tcp RTT vs ping, {injected:.0f} ms path",
                f"{tcp:.2f} ms",
                f"ping {peer:.2f} ms",
                "±2 ms",
                abs(tcp - peer) <= 2.0,
            )
        )


def expected_loss(down: float, up: float) -> float:
    """What the tcp probe should read, in percent, with these losses (percent) each way.

    It counts a handshake lost as ping counts an echo lost: when the first SYN (up) or the
    SYN-ACK to it (down) is dropped, even if a retransmission completes the handshake
    inside the attempt's 2 s window. So the window does not enter: it only has to be
    longer than a first-try answer takes (the RTT plus the probe's 0.8 s retransmission
    gap), and attempts the deadline cut shorter are not counted. One way, that is the
    injected loss itself; both ways ``1 - (1-u)(1-d)``: 10 % each way is 19 %, 40 % 64 %.
    (Handshakes that never completed inside 2 s are fewer: at 40 % up only the SYN and its
    resend at 1 s must both be lost, 16 %.)
    """
    return 100.0 * (1.0 - (1.0 - down / 100.0) * (1.0 - up / 100.0))


def pooled_loss(report: dict[str, Any]) -> tuple[int, int]:
    """(lost, counted) handshakes over every target and family of one tcp report.

    Pooled rather than a median of per-target percentages: each series is only 40
    attempts (±8 points at 40 % by itself), the pool of a row is 1200.
    """
    tcp = next(p for p in report["probes"] if p["id"] == "tcp")
    lost = counted = 0
    for target in tcp.get("details", {}).values():
        for family in target.get("families", {}).values():
            if "loss_pct" in family and family.get("counted"):
                counted += family["counted"]
                lost += round(family["loss_pct"] * family["counted"] / 100.0)
    return lost, counted


def tcp_loss(lab: Lab, rows: list[Row], figures: dict[str, float]) -> None:
    config = lab.write_config(
        lab.tmp / "bench-loss.toml", latency={"samples": LOSS_SAMPLES}, timeout=30.0
    )
    for pct in LOSS_LEVELS:
        for label, down, up in (
            (f"{pct:.0f}% downlink", pct, 0.0),
            (f"{pct:.0f}% uplink", 0.0, pct),
            (f"{pct:.0f}% each way", pct, pct),
        ):
            lab.set_loss(down=down, up=up)
            lost = counted = 0
            per_run: list[float] = []
            for _ in range(LOSS_ROUNDS):
                run_lost, run_counted = pooled_loss(cli(lab, config, "--only", "tcp"))
                lost, counted = lost + run_lost, counted + run_counted
                if run_counted:
                    per_run.append(100.0 * run_lost / run_counted)
            _, ping_loss = ping(lab, HOSTS[WWW].ip6, 50)
            lab.set_loss(0)
            ours = 100.0 * lost / counted if counted else float("nan")
            expected = expected_loss(down, up)
            key = label.replace(" ", "_").replace("%", "pct")
            figures[f"tcp_loss_{key}"] = ours
            figures[f"tcp_loss_{key}_median_run"] = median(per_run)
            rows.append(
                Row(
                    f"tcp loss, {label}",
                    f"{ours:.1f} % of {counted} (runs: median {median(per_run):.1f} %)",
                    f"expected {expected:.1f} %, ping {ping_loss:.0f} %",
                    "±5 points",
                    abs(ours - expected) <= 5.0,
                )
            )


def dns_time(lab: Lab, rows: list[Row], figures: dict[str, float]) -> None:
    name, target = WWW, TARGETS[0]
    one = [{"name": target[0], "host": name, "port": 443, "url": target[2], "role": target[3]}]
    config = lab.write_config(lab.tmp / "bench-dns.toml", target=one)
    server = lab.system_resolver
    for one_way in (0.0, 10.0):
        lab.set_delay(one_way)
        ours: list[float] = []
        digs: list[float] = []
        pythons: list[float] = []
        for _ in range(DNS_ROUNDS):  # back to back: probe, dig, dnspython
            found = metrics(cli(lab, config, "--only", "dns"), "dns")
            ours += per_target(found, "system_ms")
            if (d := dig_ms(lab, name, server)) is not None:
                digs.append(d)
            if (p := dnspython_ms(lab, name, server, lab.reference_hosts[0])) is not None:
                pythons.append(p)
        lab.set_delay(0)
        probe, dig, dnspy = median(ours), median(digs), median(pythons)
        path = f"+{2 * one_way:.0f} ms RTT" if one_way else "no added delay"
        key = f"{2 * one_way:.0f}"
        figures[f"dns_probe_ms_{key}"] = probe
        figures[f"dig_ms_{key}"] = dig
        figures[f"dnspython_ms_{key}"] = dnspy
        rows.append(
            Row(
                f"dns time, {path}",
                f"{probe:.2f} ms",
                f"dig {dig:.2f} ms, dnspython {dnspy:.2f} ms",
                "±1 ms",
                abs(probe - dig) <= 1.0 and abs(probe - dnspy) <= 1.0,
            )
        )


def wall_times(lab: Lab, rows: list[Row], figures: dict[str, float]) -> None:
    five = lab.write_config(lab.tmp / "bench-5.toml")
    fifty_targets = [
        {"name": f"{name}-{i}", "host": host, "port": 443, "url": url, "role": role}
        for name, host, url, role in TARGETS
        for i in range(10)
    ]
    fifty = lab.write_config(lab.tmp / "bench-50.toml", target=fifty_targets)

    def argv(config: Path, *extra: str) -> list[str]:
        return [CLI, "run", "--quick", "--config", str(config), "--format", "json", *extra]

    healthy: list[float] = []
    many: list[float] = []
    for _ in range(WALL_ROUNDS):  # interleaved 5 / 50
        healthy.append(wall(lab, argv(five)))
        many.append(wall(lab, argv(fifty)))
    lab.blackhole(*HOSTS, "system", "trusted")
    dead = [wall(lab, argv(five, "--timeout", "5")) for _ in range(WALL_ROUNDS)]
    lab.unblock()
    h, m, d = median(healthy), median(many), median(dead)
    figures.update(wall_5_s=h, wall_50_s=m, wall_blackholed_s=d, ratio_50_to_5=m / h)
    rows += [
        Row("run --quick, healthy, 5 targets", f"{h:.2f} s", "", "< 2.5 s", h < 2.5),
        Row(
            "run --quick, all blackholed, --timeout 5",
            f"{d:.2f} s",
            "",
            "< 6 s",
            d < 6.0,
        ),
        Row(
            "run --quick, 50 targets",
            f"{m:.2f} s",
            f"{m / h:.2f}× the 5-target run",
            "< 1.5×",
            m / h < 1.5,
        ),
    ]


def _print(rows: Sequence[Row]) -> None:
    header = ("figure", "jmo-doctor", "reference", "goal", "ok")
    table = [
        header,
        *((r.figure, r.ours, r.reference, r.goal, "yes" if r.ok else "NO") for r in rows),
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for index, line in enumerate(table):
        print(
            "connectivity: "
            + "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True))
        )
        if index == 0:
            print("connectivity: " + "  ".join("-" * w for w in widths))


Step = Callable[[Lab, list[Row], dict[str, float]], None]
STEPS: dict[str, Step] = {
    "tcp_rtt": tcp_rtt,
    "tcp_loss": tcp_loss,
    "dns_time": dns_time,
    "wall_times": wall_times,
}


def run(only: Sequence[str] = ()) -> dict[str, float]:
    """Every figure (or the steps named in ``only``); prints the table, returns the numbers."""
    reason = Lab.unavailable_reason()
    if reason:
        print(f"connectivity: skipped ({reason})")
        return {}
    rows: list[Row] = []
    figures: dict[str, float] = {}
    began = time.monotonic()
    with Lab() as lab:
        for name, step in STEPS.items():
            if not only or name in only:
                step(lab, rows, figures)
                print(f"connectivity: {name} done after {time.monotonic() - began:.0f} s")
    _print(rows)
    print(f"connectivity: medians; {time.monotonic() - began:.0f} s in all")
    return figures


if __name__ == "__main__":
    run(sys.argv[1:])
