"""Harder, realistic faults of Indonesian networks and of BPJS's side, end to end (issue 12).

One table: each row breaks the lab the way the field does, runs the installed CLI in the
phone (``jmo-doctor run --quick``, see ``test_causes_lab.jmo``) and asserts the first
cause and the exit code. Faults the lab proved before are in ``test_causes_lab.py`` and
not repeated here: a portal's login page and redirect, a dead uplink (offline), every
BPJS host down, the device clock weeks behind (certificates "not yet valid").

Each row's wall time is printed (``pytest -s``) for the field note.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.lab import Lab
from tests.lab.addresses import HOSTS, PORTAL_NAME
from tests.lab.labconfig import DOH_URL
from tests.test_causes_lab import CRITICAL, OK, WARNING, Run, assert_first, jmo

pytestmark = pytest.mark.lab

SSO = "sso.bpjsketenagakerjaan.go.id"
#: What a real page weighs, at least: the BPJS home page and Google's are many full-size
#: packets, unlike the lab's one-line default pages.
PAGE_BYTES = 40_000


@dataclass(frozen=True)
class Scenario:
    id: str
    fault: Callable[[Lab], None]
    cause: str  # expected first cause
    code: int  # expected exit code
    timeout: float = 8.0  # the run's own deadline
    config: Mapping[str, Any] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    not_causes: Sequence[str] = ()  # causes that must not be listed at all
    check: Callable[[Run], None] | None = None


def _slow_bpjs(lab: Lab) -> None:
    for host in lab.bpjs_hosts:
        lab.host_fault(host, delay_ms=8000)


def _mtu_blackhole(lab: Lab) -> None:
    for host in (*lab.bpjs_hosts, *lab.reference_hosts):
        lab.host_fault(host, huge_body=PAGE_BYTES)
    lab.mtu_blackhole(1400)


def _mtu_blackhole_in_the_handshake(lab: Lab) -> None:
    # a path MTU so small that the server's TLS handshake flight (certificate and all)
    # never arrives: where real certificate chains (3-5 kB) stall on a broken path
    lab.mtu_blackhole(600)


def _portal_owns_dns(lab: Lab) -> None:
    # a hotel Wi-Fi whose resolver answers every name with the portal's own address
    lab.dns_fault("system", "address", addresses=[HOSTS[PORTAL_NAME].ip])


def _interception(lab: Lab) -> None:
    # every resolver on port 53, the "trusted" one too, answers the block page: the ISP
    # intercepts the queries, whatever server they are sent to; only DoH gets through
    for resolver in ("system", "trusted"):
        lab.dns_fault(resolver, "blockpage", names=lab.bpjs_hosts)


def _clock_days_behind(lab: Lab) -> None:
    # every server's Date says three days later than the phone's clock
    for host in (*lab.bpjs_hosts, *lab.reference_hosts):
        lab.host_fault(host, date_offset_s=3 * 86400)


#: A TrustPositif page as OONI saw it served over HTTP (fingerprint ooni.id_telekomunikasi_0).
BLOCK_PAGE = "<html><head><title>Internet Positif - Indonesia</title></head></html>"


def _block_page_for_bpjs(lab: Lab) -> None:
    # DNS tells the truth; a middlebox answers the request itself with its block page
    for host in lab.bpjs_hosts:
        lab.set_route(host, "/", body=BLOCK_PAGE)


def _block_page_for_the_portal_check(lab: Lab) -> None:
    lab.set_route("connectivitycheck.gstatic.com", "/generate_204", body=BLOCK_PAGE)


def _intercepted_and_truthful(run: Run) -> None:
    dns = next(p for p in run.report["probes"] if p["id"] == "dns")
    tampered = [f for f in dns["findings"] if f["code"] == "dns.tampered"]
    assert tampered, run.explain()
    for f in tampered:
        assert f["data"]["transparent"] is True, f
        assert f["data"]["truthful"] == [DOH_URL], f
        assert f["data"]["intercepted"] == ["10.201.0.54"], f


def _block_page_named(run: Run) -> None:
    assert "http.block_page@bpjs-www" in run.codes("http"), run.explain()


def _first_byte_compared(run: Run) -> None:
    http = next(p for p in run.report["probes"] if p["id"] == "http")
    slow = [f for f in http["findings"] if f["code"] == "http.slow"]
    assert slow, run.explain()
    assert all(f["data"]["first_byte_ms"] >= 7000 for f in slow), slow
    assert all(f["data"]["reference_ms"] < 1000 for f in slow), slow


def _small_segments_confirmed(run: Run) -> None:
    assert "path.mtu_blackhole@bpjs-www" in run.codes("http"), run.explain()
    # the stalls, timeouts and broken handshakes are its symptoms, not causes of their own
    assert run.causes == ["mtu_blackhole"], run.explain()


SCENARIOS = [
    Scenario(
        "slow-bpjs",
        _slow_bpjs,
        "bpjs_unreachable",
        WARNING,
        timeout=16,
        check=_first_byte_compared,
    ),
    Scenario(
        "refusing-proxy",
        lambda lab: None,
        "vpn_or_proxy",
        CRITICAL,
        # the router's address, where nothing listens on 3128: every connection refused
        env={"https_proxy": "http://10.200.0.1:3128", "http_proxy": "http://10.200.0.1:3128"},
    ),
    Scenario(
        "mtu-blackhole",
        _mtu_blackhole,
        "mtu_blackhole",
        CRITICAL,
        timeout=20,
        not_causes=("offline",),
        check=_small_segments_confirmed,
    ),
    Scenario(
        "mtu-blackhole-in-tls-handshake",
        _mtu_blackhole_in_the_handshake,
        "mtu_blackhole",
        CRITICAL,
        timeout=20,
        not_causes=("offline", "tls_intercepted"),
        check=_small_segments_confirmed,
    ),
    Scenario(
        "broken-ipv6",
        lambda lab: lab.break_ipv6(),
        "ipv6_broken",
        WARNING,
        timeout=14,
        not_causes=("offline", "bpjs_unreachable"),
    ),
    Scenario(
        "portal-answers-every-name",
        _portal_owns_dns,
        "captive_portal",
        CRITICAL,
        not_causes=("dns_tampered",),
    ),
    Scenario(
        "transparent-dns-interception",
        _interception,
        "dns_tampered",
        CRITICAL,
        config={"dns": {"doh": [DOH_URL]}},
        check=_intercepted_and_truthful,
    ),
    Scenario(
        "block-page-over-http-for-bpjs",
        _block_page_for_bpjs,
        "bpjs_unreachable",
        CRITICAL,
        not_causes=("captive_portal",),
        check=_block_page_named,
    ),
    Scenario(
        "nxdomain-for-bpjs-only",
        lambda lab: lab.dns_fault("system", "nxdomain", names=lab.bpjs_hosts),
        "dns_failure",
        CRITICAL,
    ),
    Scenario(
        "one-bpjs-host-down",
        lambda lab: lab.blackhole(SSO),
        "bpjs_unreachable",
        CRITICAL,
        not_causes=("offline",),
    ),
    Scenario(
        "bpjs-certificate-expired",
        lambda lab: lab.host_fault(SSO, cert="expired"),
        "bpjs_unreachable",
        CRITICAL,
        not_causes=("tls_intercepted", "clock_skew"),
    ),
    Scenario(
        "device-clock-days-behind",
        _clock_days_behind,
        "clock_skew",
        CRITICAL,
    ),
    Scenario(
        "4g-like-link",
        lambda lab: lab.set_delay(30, jitter_ms=5),
        "kpj_not_linked",
        OK,
    ),
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS])
def test_field_fault_is_blamed_right(lab: Lab, scenario: Scenario) -> None:
    scenario.fault(lab)
    run = jmo(lab, timeout=scenario.timeout, env=dict(scenario.env), **scenario.config)
    print(f"\n{scenario.id}: {run.causes} exit {run.code} in {run.seconds:.1f} s")
    assert_first(run, scenario.cause, scenario.code)
    for wrong in scenario.not_causes:
        assert wrong not in run.causes, run.explain()
    if scenario.check is not None:
        scenario.check(run)


def test_4g_like_link_gives_no_false_alarm_over_20_runs(lab: Lab) -> None:
    # 60 ms ± 10 ms round trip, no loss: what a good 4G link looks like (the clean link's
    # 20 runs are test_causes_lab.test_healthy_lab_stays_healthy_over_20_runs)
    lab.set_delay(30, jitter_ms=5)
    alarms, seconds = [], []
    for attempt in range(20):
        run = jmo(lab)
        seconds.append(run.seconds)
        if run.code != OK or run.causes[:1] != ["kpj_not_linked"]:
            alarms.append(f"run {attempt}: {run.explain()}")
    print(f"\n4g-like x20: {len(alarms)} false alarms, {max(seconds):.1f} s slowest")
    assert not alarms, "\n".join(alarms)
