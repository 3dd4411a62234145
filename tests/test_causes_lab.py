"""End to end, one test per network cause: the real installed CLI in the lab's phone.

Each test breaks the lab the way the cause breaks a real network, runs
``jmo-doctor run --quick`` in the phone namespace with the lab's config and asserts what
a user (or a monitoring system) sees: the cause ranked first and the exit code
(SPEC §3: critical causes exit 2, an unstable connection 1, a healthy network 0).
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.i18n_scan import data_of, english_or_codes
from tests.lab import Lab
from tests.lab.addresses import GATEWAY_IP6, HOSTS

pytestmark = pytest.mark.lab

#: The CLI as installed (editable) in the test environment's venv: its console script.
CLI = Path(sys.executable).parent / "jmo-doctor"
OK, WARNING, CRITICAL = 0, 1, 2
#: Every name the lab serves, and both of its resolvers: nothing answers when all are gone.
EVERYTHING = (*HOSTS, "system", "trusted")


@dataclass(frozen=True)
class Run:
    code: int
    report: dict[str, Any]
    seconds: float
    stderr: str

    @property
    def causes(self) -> list[str]:
        return [cause["id"] for cause in self.report["causes"]]

    @property
    def first(self) -> dict[str, Any]:
        causes: list[dict[str, Any]] = self.report["causes"]
        assert causes, "no cause in the report"
        return causes[0]

    def codes(self, probe: str | None = None) -> list[str]:
        return sorted(
            f"{f['code']}@{f.get('target')}"
            for p in self.report["probes"]
            if probe in (None, p["id"])
            for f in p["findings"]
        )

    def explain(self) -> str:
        """What a failing assertion shows: causes with evidence, and every probe's verdict."""
        lines = [f"exit {self.code} after {self.seconds:.1f}s"]
        lines += [
            f"  cause {c['id']} ({c['confidence']}): {c['evidence']}"
            for c in self.report.get("causes", [])
        ]
        lines += [
            f"  {p['id']}: {p['status']} — {p['summary']}" for p in self.report.get("probes", [])
        ]
        if self.stderr.strip():
            lines.append("  stderr: " + self.stderr.strip()[-1500:])
        return "\n".join(lines)


def jmo(
    lab: Lab,
    *args: str,
    timeout: float = 8.0,
    env: dict[str, str] | None = None,
    **config: Any,
) -> Run:
    """``jmo-doctor run --quick`` in the phone with the lab's config (``config``: overrides,
    see ``Lab.config_dict``); ``timeout`` is the run's own deadline (``--timeout``);
    ``env``: extra environment variables (a proxy, for example)."""
    path = lab.write_config(**config)
    argv: list[str] = [str(CLI), "run", "--quick", "--config", str(path), "--format", "json"]
    argv += ["--timeout", str(timeout), *args]
    began = time.perf_counter()
    proc = lab.run_in_phone(argv, timeout=timeout + 30, env=env)
    seconds = time.perf_counter() - began
    assert "Traceback" not in proc.stderr, proc.stderr
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"no JSON report (exit {proc.returncode}): {proc.stdout[-500:]}{proc.stderr}")
    run = Run(proc.returncode, report, seconds, proc.stderr)
    assert report["exit_code"] == proc.returncode, run.explain()
    # the whole-run deadline holds, whatever the network does (SPEC §3), plus start-up
    assert seconds < timeout + 2.5, run.explain()
    for probe in report["probes"]:
        assert probe["status"] != "error", run.explain()
    if report["run"]["lang"] == "id":  # what the person reads: words, not codes or English
        assert not english_or_codes(report, data_of(report)), run.explain()
    # every built-in probe keeps its summary in both languages: `report show --lang` works
    assert all("summary_texts" in probe for probe in report["probes"]), run.explain()
    return run


def assert_first(run: Run, cause: str, code: int, *, confidence: Sequence[str] = ()) -> None:
    assert run.causes and run.causes[0] == cause, run.explain()
    assert run.code == code, run.explain()
    if confidence:
        assert run.first["confidence"] in confidence, run.explain()


# --- healthy -------------------------------------------------------------------------------


def test_healthy_lab_points_at_the_kpj_link(lab: Lab) -> None:
    run = jmo(lab)
    assert run.causes == ["kpj_not_linked", "membership_data"], run.explain()
    assert run.code == OK and run.report["status"] == "ok", run.explain()
    # every connectivity probe looked and found nothing wrong
    statuses = {p["id"]: p["status"] for p in run.report["probes"]}
    for probe in ("system", "dns", "tcp", "tls", "http", "clock"):
        assert statuses[probe] == "pass", run.explain()
    assert run.codes() == ["store.installed_unknown@None"], run.explain()


def test_healthy_lab_stays_healthy_over_20_runs(lab: Lab) -> None:
    alarms = []
    for attempt in range(20):
        run = jmo(lab)
        if run.code != OK or run.causes[:1] != ["kpj_not_linked"]:
            alarms.append(f"run {attempt}: {run.explain()}")
    assert not alarms, "\n".join(alarms)


# --- offline -----------------------------------------------------------------------------


def test_nothing_answering_is_offline(lab: Lab) -> None:
    # a dead uplink: every server and both resolvers drop every packet
    lab.blackhole(*EVERYTHING)
    run = jmo(lab, timeout=5)
    assert_first(run, "offline", CRITICAL, confidence=["high"])
    # offline folds the DNS and connection failures it explains
    assert run.causes == ["offline"], run.explain()


@contextlib.contextmanager
def no_default_route(lab: Lab) -> Iterator[None]:
    """The phone loses its default routes (Wi-Fi associated, no gateway), then gets them
    back: the lab's reset() does not know about this change."""
    for family in ("-4", "-6"):
        lab.run_in_phone(["ip", family, "route", "del", "default"], check=True)
    try:
        yield
    finally:
        lab.run_in_phone(["ip", "route", "replace", "default", "via", lab.gateway_ip])
        lab.run_in_phone(["ip", "-6", "route", "replace", "default", "via", GATEWAY_IP6])


def test_no_default_route_is_offline(lab: Lab) -> None:
    with no_default_route(lab):
        run = jmo(lab, timeout=5)
    assert_first(run, "offline", CRITICAL, confidence=["high"])
    assert "system.offline@None" in run.codes("system"), run.explain()


# --- captive portal ------------------------------------------------------------------------


def test_wifi_login_redirect_is_a_captive_portal(lab: Lab) -> None:
    # a hotspot before login: plain HTTP is redirected to the login page and HTTPS is cut
    lab.captive_portal("redirect")
    lab.refuse(*lab.bpjs_hosts, *lab.reference_hosts, port=443)
    run = jmo(lab)
    assert_first(run, "captive_portal", CRITICAL)
    assert run.causes == ["captive_portal"], run.explain()  # it explains the refused HTTPS
    portal = next(p for p in run.report["probes"] if p["id"] == "http")
    found = next(f for f in portal["findings"] if f["code"] == "http.captive_portal")
    assert found["data"]["status"] == 302
    assert found["data"]["location"].startswith("http://login.wifi.id/")


def test_wifi_login_page_is_a_captive_portal(lab: Lab) -> None:
    # a portal that serves its login page in place of every plain-HTTP answer
    lab.captive_portal("page")
    run = jmo(lab)
    assert_first(run, "captive_portal", CRITICAL)


# --- DNS -----------------------------------------------------------------------------------


def test_silent_system_resolver_is_a_dns_failure(lab: Lab) -> None:
    # the ISP's resolver stopped answering; the trusted resolver and the hosts are fine
    lab.dns_fault("system", "silent")
    run = jmo(lab, timeout=5)
    assert_first(run, "dns_failure", CRITICAL, confidence=["high"])
    assert "dns.timeout@bpjs-www" in run.codes("dns"), run.explain()


def test_servfail_from_system_resolver_is_a_dns_failure(lab: Lab) -> None:
    lab.dns_fault("system", "servfail")
    run = jmo(lab)
    assert_first(run, "dns_failure", CRITICAL, confidence=["high"])
    assert "dns.servfail@bpjs-www" in run.codes("dns"), run.explain()


def test_block_page_answer_for_bpjs_is_dns_tampering(lab: Lab) -> None:
    # the ISP's resolver points the BPJS names at the Internet Positif block page
    lab.dns_fault("system", "blockpage", names=lab.bpjs_hosts)
    run = jmo(lab)
    assert_first(run, "dns_tampered", CRITICAL, confidence=["high"])
    # the block page's certificate mismatch is a symptom, not a cause of its own
    assert "tls_intercepted" not in run.causes and "bpjs_unreachable" not in run.causes


def test_bare_block_page_address_is_dns_tampering(lab: Lab) -> None:
    lab.dns_fault("system", "blockpage_a", names=lab.bpjs_hosts)
    run = jmo(lab)
    assert_first(run, "dns_tampered", CRITICAL)


# --- unstable path -------------------------------------------------------------------------


def test_lossy_link_is_an_unstable_connection(lab: Lab) -> None:
    # 30 % of the packets lost each way: lookups and requests fail now and then too,
    # which the unstable link explains (no critical DNS or BPJS cause on top of it)
    lab.set_loss(30)
    run = jmo(lab, latency={"samples": 10})
    assert_first(run, "unstable_connection", WARNING, confidence=["high"])
    assert "latency.loss" in " ".join(run.codes("tcp")), run.explain()


def test_jittery_slow_link_is_an_unstable_connection(lab: Lab) -> None:
    # a congested mobile link: 300 ms round trips that swing by up to ±240 ms
    lab.set_delay(150, jitter_ms=120, reorder=True)
    run = jmo(lab, latency={"samples": 10})
    assert_first(run, "unstable_connection", WARNING)
    assert "latency.jitter" in " ".join(run.codes("tcp")), run.explain()


# --- BPJS side -----------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["blackholed", "refusing", "503"])
def test_bpjs_hosts_down_while_reference_works_is_bpjs_unreachable(lab: Lab, fault: str) -> None:
    if fault == "blackholed":
        lab.blackhole(*lab.bpjs_hosts)
    elif fault == "refusing":
        lab.refuse(*lab.bpjs_hosts)
    else:
        for host in lab.bpjs_hosts:
            lab.host_fault(host, status=503)
    run = jmo(lab, timeout=5)
    assert_first(run, "bpjs_unreachable", CRITICAL, confidence=["high"])


# --- TLS interception ----------------------------------------------------------------------


@pytest.mark.parametrize("cert", ["other_ca", "self_signed"])
def test_certificates_re_signed_everywhere_is_tls_interception(lab: Lab, cert: str) -> None:
    # an antivirus or office proxy re-signs every HTTPS connection with its own CA
    for host in (*lab.bpjs_hosts, *lab.reference_hosts):
        lab.host_fault(host, cert=cert)
    run = jmo(lab)
    assert_first(run, "tls_intercepted", CRITICAL, confidence=["high"])


# --- clock ---------------------------------------------------------------------------------


def test_device_clock_hours_off_is_clock_skew(lab: Lab) -> None:
    # every server's Date says three hours later than the phone does
    for host in (*lab.bpjs_hosts, *lab.reference_hosts):
        lab.host_fault(host, date_offset_s=3 * 3600)
    run = jmo(lab)
    assert_first(run, "clock_skew", CRITICAL, confidence=["high"])
    clock = next(p for p in run.report["probes"] if p["id"] == "clock")
    assert abs(clock["metrics"]["skew_s"] + 3 * 3600) < 60, run.explain()


def test_certificates_not_yet_valid_everywhere_is_clock_skew(lab: Lab) -> None:
    # the phone's clock is weeks behind: every certificate looks not valid yet
    for host in (*lab.bpjs_hosts, *lab.reference_hosts):
        lab.host_fault(host, cert="not_yet_valid", date_offset_s=10 * 86400)
    run = jmo(lab)
    assert_first(run, "clock_skew", CRITICAL)
    assert "tls_intercepted" not in run.causes, run.explain()


# --- VPN -----------------------------------------------------------------------------------


def test_vpn_that_swallows_bpjs_traffic_is_vpn_or_proxy(lab: Lab) -> None:
    lab.add_vpn("tun0", route_bpjs=True)
    run = jmo(lab, timeout=5)
    assert_first(run, "vpn_or_proxy", CRITICAL, confidence=["high"])
    assert run.first["evidence"][0] == "system.vpn", run.explain()
