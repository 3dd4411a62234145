"""Time to verdict: the lab's fault cases, each run in full (bandwidth included) by the
real CLI in the lab's phone, with the lab's config and a 20 s deadline.

For each case (the faults of tests/test_causes_lab.py, set up the same way) it prints the
wall time (median of ``REPEATS`` runs), the first cause and the exit code, whether those
are the expected ones, then the median and the max over the fault cases, the healthy
run's time, and the goals of issue 14 with met / not met:

- every fault case ≤ 10 s, their median ≤ 6 s;
- the healthy full run, bandwidth included, ≤ 8 s.

``python -m bench verdict`` (needs root: it starts its own lab). ``BENCH_REPEATS=1`` for
a quick look.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLI = str(Path(sys.executable).parent / "jmo-doctor")
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
#: The deadline the issue measured at (the lab's own config says 30 s).
TIMEOUT_S = 20.0
GOAL_MAX_S = 10.0
GOAL_MEDIAN_S = 6.0
GOAL_HEALTHY_S = 8.0


@dataclass(frozen=True)
class Case:
    name: str
    setup: Callable[[Any], None]
    cause: str  # the first cause expected
    exit_code: int


def _no_route(lab: Any) -> None:
    for family in ("-4", "-6"):
        lab.run_in_phone(["ip", family, "route", "del", "default"], check=True)


def _restore_route(lab: Any) -> None:
    from tests.lab.addresses import GATEWAY_IP6

    lab.run_in_phone(["ip", "route", "replace", "default", "via", lab.gateway_ip])
    lab.run_in_phone(["ip", "-6", "route", "replace", "default", "via", GATEWAY_IP6])


def _everything(lab: Any) -> tuple[str, ...]:
    from tests.lab.addresses import HOSTS

    return (*HOSTS, "system", "trusted")


def _all_hosts(lab: Any) -> tuple[str, ...]:
    return (*lab.bpjs_hosts, *lab.reference_hosts)


def _each_host(lab: Any, **fault: Any) -> None:
    for host in _all_hosts(lab):
        lab.host_fault(host, **fault)


def _portal_redirect(lab: Any) -> None:
    lab.captive_portal("redirect")
    lab.refuse(*_all_hosts(lab), port=443)


def _bpjs_503(lab: Any) -> None:
    for host in lab.bpjs_hosts:
        lab.host_fault(host, status=503)


CASES: tuple[Case, ...] = (
    Case("offline: nothing answers", lambda lab: lab.blackhole(*_everything(lab)), "offline", 2),
    Case("offline: no default route", _no_route, "offline", 2),
    Case("captive portal: redirect", _portal_redirect, "captive_portal", 2),
    Case("captive portal: login page", lambda lab: lab.captive_portal("page"), "captive_portal", 2),
    Case("dns: resolver silent", lambda lab: lab.dns_fault("system", "silent"), "dns_failure", 2),
    Case(
        "dns: resolver SERVFAIL",
        lambda lab: lab.dns_fault("system", "servfail"),
        "dns_failure",
        2,
    ),
    Case(
        "dns: block page answer",
        lambda lab: lab.dns_fault("system", "blockpage", names=lab.bpjs_hosts),
        "dns_tampered",
        2,
    ),
    Case("unstable: 30 % loss", lambda lab: lab.set_loss(30), "unstable_connection", 1),
    Case(
        "unstable: 300 ms ± 240 ms",
        lambda lab: lab.set_delay(150, jitter_ms=120, reorder=True),
        "unstable_connection",
        1,
    ),
    Case(
        "bpjs: blackholed",
        lambda lab: lab.blackhole(*lab.bpjs_hosts),
        "bpjs_unreachable",
        2,
    ),
    Case("bpjs: refusing", lambda lab: lab.refuse(*lab.bpjs_hosts), "bpjs_unreachable", 2),
    Case("bpjs: HTTP 503", _bpjs_503, "bpjs_unreachable", 2),
    Case(
        "tls: re-signed by another CA",
        lambda lab: _each_host(lab, cert="other_ca"),
        "tls_intercepted",
        2,
    ),
    Case(
        "clock: 3 hours off",
        lambda lab: _each_host(lab, date_offset_s=3 * 3600),
        "clock_skew",
        2,
    ),
    Case(
        "vpn swallows BPJS traffic",
        lambda lab: lab.add_vpn("tun0", route_bpjs=True),
        "vpn_or_proxy",
        2,
    ),
)
HEALTHY = Case("healthy (bandwidth included)", lambda lab: None, "kpj_not_linked", 0)


@dataclass(frozen=True)
class Outcome:
    seconds: float
    first_cause: str
    exit_code: int


def run_once(lab: Any, config: Path) -> Outcome:
    argv = [CLI, "run", "--config", str(config), "--format", "json", "--no-history"]
    argv += ["--timeout", f"{TIMEOUT_S:g}"]
    began = time.perf_counter()
    proc = lab.run_in_phone(argv, timeout=TIMEOUT_S + 30)
    seconds = time.perf_counter() - began
    try:
        report: dict[str, Any] = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return Outcome(seconds, "(no report)", proc.returncode)
    causes = report.get("causes") or [{"id": "-"}]
    return Outcome(seconds, str(causes[0]["id"]), proc.returncode)


def measure(lab: Any, case: Case) -> list[Outcome]:
    outcomes = []
    for _ in range(REPEATS):
        lab.reset()
        case.setup(lab)
        try:
            outcomes.append(run_once(lab, lab.write_config(bandwidth={"duration": 8.0})))
        finally:
            if case.setup is _no_route:
                _restore_route(lab)
    return outcomes


def _row(case: Case, outcomes: list[Outcome]) -> tuple[float, bool]:
    seconds = statistics.median(o.seconds for o in outcomes)
    causes = sorted({o.first_cause for o in outcomes})
    codes = sorted({o.exit_code for o in outcomes})
    right = causes == [case.cause] and codes == [case.exit_code]
    print(
        f"verdict: {case.name:<30} {seconds:5.1f} s  {'/'.join(causes):<20}"
        f" exit {'/'.join(map(str, codes))}  {'ok' if right else 'EXPECTED ' + case.cause}"
    )
    return seconds, right


def _goal(text: str, met: bool) -> None:
    print(f"verdict: goal {text}: {'met' if met else 'NOT met'}")


def run() -> dict[str, float]:
    from tests.lab import Lab

    reason = Lab.unavailable_reason()
    if reason:
        print(f"verdict: skipped ({reason})")
        return {}
    print(
        f"verdict: wall s (median of {REPEATS}), first cause, exit; full runs, "
        f"--timeout {TIMEOUT_S:g}, the lab's config"
    )
    figures: dict[str, float] = {}
    with Lab() as lab:
        fault_times = []
        for case in CASES:
            seconds, _ = _row(case, measure(lab, case))
            fault_times.append(seconds)
            figures[case.name] = seconds
        healthy, _ = _row(HEALTHY, measure(lab, HEALTHY))
    median, worst = statistics.median(fault_times), max(fault_times)
    print(f"verdict: fault cases: median {median:.1f} s, max {worst:.1f} s")
    _goal(f"every fault case ≤ {GOAL_MAX_S:g} s (max {worst:.1f})", worst <= GOAL_MAX_S)
    _goal(f"median ≤ {GOAL_MEDIAN_S:g} s ({median:.1f})", median <= GOAL_MEDIAN_S)
    _goal(f"healthy full run ≤ {GOAL_HEALTHY_S:g} s ({healthy:.1f})", healthy <= GOAL_HEALTHY_S)
    figures.update(median=median, max=worst, healthy=healthy)
    return figures
