"""The diagnosis: which cause a user sees first, and which exit code the run ends with."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest

from jmo_doctor import catalogue
from jmo_doctor.api import Finding, ProbeResult, Status
from jmo_doctor.config import Target
from jmo_doctor.diagnosis import PRIORITY, RULES, Diagnosis, diagnose
from jmo_doctor.exitcodes import ExitStatus

BPJS_HOSTS = ("bpjs-www", "bpjs-sso", "bpjs-lapakasik")
REFERENCE_HOSTS = ("google", "gstatic")
TARGETS = tuple(
    Target(name=name, host=f"{name}.example", port=443, url=f"https://{name}.example/", role=role)
    for names, role in ((BPJS_HOSTS, "bpjs"), (REFERENCE_HOSTS, "reference"))
    for name in names
)
ALL_HOSTS = BPJS_HOSTS + REFERENCE_HOSTS

#: The built-in probes, and which one emits a finding code's prefix (docs/findings.md).
PROBES = ("system", "dns", "tcp", "tls", "http", "clock", "bandwidth", "store", "kpj")
PROBE_OF_PREFIX = {"latency": "tcp", "path": "http"}


def finding(code: str, target: str | None = None, **data: Any) -> Finding:
    return Finding(code=code, message=code, target=target, data=data)


def on(code: str, targets: Sequence[str], **data: Any) -> list[Finding]:
    return [finding(code, target, **data) for target in targets]


def run(*findings: Finding | list[Finding]) -> list[ProbeResult]:
    """Results of a full run: every built-in probe ran; each finding goes to its probe."""
    flat = [f for item in findings for f in (item if isinstance(item, list) else [item])]
    by_probe: dict[str, list[Finding]] = {probe: [] for probe in PROBES}
    for f in flat:
        prefix = f.code.split(".")[0]
        by_probe.setdefault(PROBE_OF_PREFIX.get(prefix, prefix), []).append(f)
    return [
        ProbeResult(
            id=probe,
            status=Status.FAIL if found else Status.PASS,
            summary="",
            findings=tuple(found),
        )
        for probe, found in by_probe.items()
    ]


def check(*findings: Finding | list[Finding], lang: str = "en") -> Diagnosis:
    return diagnose(run(*findings), TARGETS, lang)


def ids(diagnosis: Diagnosis) -> list[str]:
    return [cause.id for cause in diagnosis.causes]


def evidence_of(diagnosis: Diagnosis, cause_id: str) -> tuple[str, ...]:
    return next(c.evidence for c in diagnosis.causes if c.id == cause_id)


def system_dns(code: str, targets: Sequence[str]) -> list[Finding]:
    return on(code, targets, resolver="system")


def trusted_dns(code: str, targets: Sequence[str]) -> list[Finding]:
    return on(code, targets, resolver="8.8.8.8") + on(code, targets, resolver="1.1.1.1")


# --- each cause ranks first on its typical findings ----------------------------------------

TYPICAL: list[tuple[str, list[Finding], ExitStatus]] = [
    ("offline", [finding("system.offline", reason="no_route")], ExitStatus.CRITICAL),
    (
        "offline",
        on("tcp.timeout", ALL_HOSTS, family="ipv4")
        + system_dns("dns.timeout", ALL_HOSTS)
        + trusted_dns("dns.timeout", ALL_HOSTS),
        ExitStatus.CRITICAL,
    ),
    (
        "captive_portal",
        [finding("http.captive_portal", "captive_portal", status=302, location="http://login")],
        ExitStatus.CRITICAL,
    ),
    (
        "clock_skew",
        [
            finding("clock.skew", skew_s=-86400.0, servers=["google"]),
            *on("tls.not_yet_valid", ALL_HOSTS, issuer="R3"),
        ],
        ExitStatus.CRITICAL,
    ),
    (
        "dns_tampered",
        on("dns.tampered", BPJS_HOSTS, fingerprint="internet-positif", answers=["36.86.63.182"])
        + on("tls.hostname_mismatch", BPJS_HOSTS, issuer="Internet Positif", subject="x"),
        ExitStatus.CRITICAL,
    ),
    (
        "dns_failure",
        system_dns("dns.servfail", BPJS_HOSTS) + on("tcp.timeout", BPJS_HOSTS),
        ExitStatus.CRITICAL,
    ),
    (
        "tls_intercepted",
        on("tls.untrusted", ALL_HOSTS, issuer="Kaspersky Anti-Virus Personal Root"),
        ExitStatus.CRITICAL,
    ),
    (
        "vpn_or_proxy",
        [finding("system.vpn", interfaces=["tun0"]), *on("tcp.timeout", BPJS_HOSTS)],
        ExitStatus.CRITICAL,
    ),
    (
        # a configured proxy refusing every request while direct connections work
        "vpn_or_proxy",
        on("http.proxy_failed", ALL_HOSTS, phase="connect", error="All connection attempts failed"),
        ExitStatus.CRITICAL,
    ),
    ("bpjs_unreachable", on("tcp.timeout", BPJS_HOSTS, family="ipv4"), ExitStatus.CRITICAL),
    ("bpjs_unreachable", on("http.status", BPJS_HOSTS, status=503), ExitStatus.CRITICAL),
    (
        "unstable_connection",
        on("latency.loss", ALL_HOSTS, loss_pct=30.0) + on("latency.jitter", ["google"]),
        ExitStatus.WARNING,
    ),
    ("slow_connection", [finding("bandwidth.low", download_mbps=0.3)], ExitStatus.WARNING),
    ("slow_connection", [finding("bandwidth.bufferbloat", added_ms=900.0)], ExitStatus.WARNING),
    (
        "app_outdated",
        [finding("store.outdated", installed="3.0.0", latest="3.2.1", store="play")],
        ExitStatus.WARNING,
    ),
    ("kpj_invalid", [finding("kpj.invalid", reason="length", length=9)], ExitStatus.WARNING),
    (
        # the app cannot be updated, but BPJS is reachable: a warning like app_outdated
        "device_unsupported",
        [finding("store.os_unsupported", store="play", os_version="6.0.1", minimum="7.0")],
        ExitStatus.WARNING,
    ),
    (
        # the page stalls, the same request with a small MSS goes through
        "mtu_blackhole",
        on("path.mtu_blackhole", BPJS_HOSTS, mss=536) + on("http.timeout", BPJS_HOSTS),
        ExitStatus.CRITICAL,
    ),
    (
        "ipv6_broken",
        on("tcp.ipv6_broken", ALL_HOSTS, family="ipv6")
        + on("tcp.timeout", ALL_HOSTS, family="ipv6"),
        ExitStatus.WARNING,
    ),
    # a plug-in probe (any id jmo-doctor does not ship) failing with a finding of its own
    ("unexplained_failure", [finding("corpvpn.down", reason="no tunnel")], ExitStatus.WARNING),
    ("kpj_not_linked", [], ExitStatus.OK),
]


@pytest.mark.parametrize(
    ("cause_id", "findings", "status"),
    TYPICAL,
    ids=[f"{cause_id}-{n}" for n, (cause_id, _, _) in enumerate(TYPICAL)],
)
def test_cause_ranks_first_on_its_typical_findings(
    cause_id: str, findings: list[Finding], status: ExitStatus
) -> None:
    diagnosis = check(findings)
    assert ids(diagnosis)[0] == cause_id
    assert diagnosis.causes[0].rank == 1
    assert diagnosis.status is status


def test_every_rule_and_the_residual_cover_exactly_the_catalogue() -> None:
    # the residual, and what no cause explains, are found by the engine itself
    by_the_engine = {"kpj_not_linked", "membership_data", "unexplained_failure"}
    assert set(RULES) | by_the_engine == set(catalogue.cause_ids())
    assert set(catalogue.cause_ids()) == set(PRIORITY)
    assert {case[0] for case in TYPICAL} | {"membership_data"} == set(PRIORITY)


# --- nothing wrong ---------------------------------------------------------------------------


def test_healthy_run_points_at_the_kpj_then_membership_data_and_exits_ok() -> None:
    diagnosis = check()
    assert ids(diagnosis) == ["kpj_not_linked", "membership_data"]
    assert [c.confidence for c in diagnosis.causes] == ["medium", "low"]
    assert [c.rank for c in diagnosis.causes] == [1, 2]
    assert diagnosis.all_clear
    assert diagnosis.status is ExitStatus.OK
    assert diagnosis.causes[0].article_section == 1
    assert diagnosis.causes[1].article_section == "intro"
    assert any("Tambah Kartu Peserta" in step for step in diagnosis.causes[0].fix)


def test_invalid_kpj_is_listed_first_and_the_kpj_steps_still_follow() -> None:
    diagnosis = check(finding("kpj.invalid", reason="non_digit"))
    assert ids(diagnosis) == ["kpj_invalid", "kpj_not_linked", "membership_data"]
    assert diagnosis.all_clear  # nothing on the device, network or app
    assert diagnosis.status is ExitStatus.WARNING


def test_an_outdated_app_is_not_all_clear_and_drops_the_residual() -> None:
    diagnosis = check(finding("store.outdated", installed="1", latest="2", store="appstore"))
    assert ids(diagnosis) == ["app_outdated"]
    assert not diagnosis.all_clear


# --- folding -------------------------------------------------------------------------------


def test_offline_folds_dns_and_tls_failures_into_its_evidence() -> None:
    diagnosis = check(
        finding("system.offline", reason="no_interface"),
        system_dns("dns.timeout", BPJS_HOSTS),
        on("tls.handshake_failed", ["bpjs-www"], error="reset"),
        on("tls.untrusted", ["google"], issuer="Portal CA"),
        on("latency.loss", ["bpjs-sso", "google"], loss_pct=50.0),
        finding("system.vpn", interfaces=["wg0"]),
    )
    assert ids(diagnosis) == ["offline"]
    assert diagnosis.status is ExitStatus.CRITICAL
    evidence = evidence_of(diagnosis, "offline")
    assert evidence[0] == "system.offline"
    for item in (
        "dns.timeout@bpjs-www",
        "tls.handshake_failed@bpjs-www",
        "tls.untrusted@google (issuer: Portal CA)",
        "latency.loss@google",
        "system.vpn",
    ):
        assert item in evidence


def test_nothing_reachable_without_system_offline_is_offline_alone() -> None:
    diagnosis = check(
        on("tcp.timeout", ALL_HOSTS),
        on("http.timeout", ALL_HOSTS, phase="connect"),
        trusted_dns("dns.timeout", ALL_HOSTS),
        finding("system.proxy", variables=["https_proxy"]),
    )
    assert ids(diagnosis) == ["offline"]
    assert diagnosis.causes[0].confidence == "high"
    assert "tcp.timeout@gstatic" in evidence_of(diagnosis, "offline")


def test_nothing_reachable_while_dns_answers_is_still_offline_with_less_certainty() -> None:
    # what an exhausted data plan looks like: DNS passes, nothing else does
    diagnosis = check(on("tcp.timeout", ALL_HOSTS))
    assert ids(diagnosis) == ["offline"]
    assert diagnosis.causes[0].confidence == "medium"


def test_system_resolver_down_everywhere_is_dns_failure_not_offline() -> None:
    diagnosis = check(system_dns("dns.timeout", ALL_HOSTS), on("tcp.timeout", ALL_HOSTS))
    assert ids(diagnosis)[0] == "dns_failure"
    assert "offline" not in ids(diagnosis)


def test_captive_portal_folds_the_broken_tls_dns_and_reachability_it_causes() -> None:
    diagnosis = check(
        finding("http.captive_portal", "captive_portal", status=200, location=""),
        on("tls.hostname_mismatch", ALL_HOSTS, issuer="HotspotCA", subject="login.wifi"),
        on("dns.tampered", BPJS_HOSTS, fingerprint="unverified-answer", answers=["10.0.0.1"]),
        on("tcp.timeout", ALL_HOSTS),
    )
    assert ids(diagnosis) == ["captive_portal"]
    evidence = evidence_of(diagnosis, "captive_portal")
    assert evidence[0] == "http.captive_portal@captive_portal"
    assert "tls.hostname_mismatch@bpjs-sso (issuer: HotspotCA)" in evidence
    assert "tcp.timeout@google" in evidence


def test_clock_skew_explains_expired_certificates_so_bpjs_is_not_blamed() -> None:
    diagnosis = check(
        finding("clock.skew", skew_s=4e8, servers=["google"]),
        on("tls.expired", BPJS_HOSTS, issuer="R3"),
    )
    assert ids(diagnosis) == ["clock_skew"]
    assert "tls.expired@bpjs-sso" in evidence_of(diagnosis, "clock_skew")


def test_expired_certificates_everywhere_suggest_the_clock_even_without_a_measurement() -> None:
    diagnosis = check(on("tls.expired", ["bpjs-www", "google"], issuer="R3"))
    assert ids(diagnosis) == ["clock_skew"]
    assert diagnosis.causes[0].confidence == "medium"


def test_an_expired_certificate_on_bpjs_alone_with_a_right_clock_is_a_bpjs_problem() -> None:
    diagnosis = check(on("tls.expired", ["bpjs-www"], issuer="R3"))
    assert ids(diagnosis) == ["bpjs_unreachable"]


def test_dns_failure_explains_unreachability_of_the_same_host_only() -> None:
    diagnosis = check(
        system_dns("dns.nxdomain", ["bpjs-www"]),
        on("tcp.timeout", ["bpjs-www", "bpjs-sso"]),
    )
    assert ids(diagnosis) == ["dns_failure", "bpjs_unreachable"]
    assert evidence_of(diagnosis, "bpjs_unreachable") == ("tcp.timeout@bpjs-sso",)
    assert "tcp.timeout@bpjs-www" in evidence_of(diagnosis, "dns_failure")


def test_a_name_no_resolver_knows_is_not_the_devices_dns() -> None:
    diagnosis = check(
        system_dns("dns.nxdomain", ["bpjs-lapakasik"]),
        trusted_dns("dns.nxdomain", ["bpjs-lapakasik"]),
        on("tcp.timeout", ["bpjs-lapakasik"]),
    )
    assert "dns_failure" not in ids(diagnosis)
    assert ids(diagnosis) == ["bpjs_unreachable"]
    assert diagnosis.causes[0].confidence == "medium"  # the other BPJS hosts work


# --- VPN, references, CDNs -----------------------------------------------------------------


def test_vpn_with_everything_working_is_not_a_cause() -> None:
    diagnosis = check(finding("system.vpn", interfaces=["tun0"]))
    assert "vpn_or_proxy" not in ids(diagnosis)
    assert diagnosis.all_clear
    assert diagnosis.status is ExitStatus.OK


def test_proxy_with_only_a_trusted_resolver_blocked_is_not_a_cause() -> None:
    diagnosis = check(
        finding("system.proxy", variables=["http_proxy"]),
        trusted_dns("dns.timeout", BPJS_HOSTS),
    )
    assert ids(diagnosis) == ["kpj_not_linked", "membership_data"]
    assert diagnosis.status is ExitStatus.OK


def test_vpn_under_which_bpjs_fails_comes_before_bpjs_unreachable() -> None:
    diagnosis = check(
        finding("system.vpn", interfaces=["wg0"]), on("http.status", BPJS_HOSTS, status=403)
    )
    # a 403 means the server answered: the VPN is the lead, not a BPJS outage
    assert ids(diagnosis) == ["vpn_or_proxy"]
    assert evidence_of(diagnosis, "vpn_or_proxy")[0] == "system.vpn"


def test_a_dead_reference_host_alone_does_not_worry_the_user() -> None:
    diagnosis = check(on("tcp.timeout", ["google"]))
    assert ids(diagnosis) == ["kpj_not_linked", "membership_data"]
    assert diagnosis.status is ExitStatus.OK


def test_bpjs_failing_with_no_reference_host_configured_is_offline() -> None:
    results = run(on("tcp.timeout", BPJS_HOSTS))
    only_bpjs = [t for t in TARGETS if t.role == "bpjs"]
    assert ids(diagnose(results, only_bpjs, "en")) == ["offline"]


def test_bpjs_failing_while_references_also_misbehave_is_never_all_clear() -> None:
    one_reference_works = check(on("tcp.timeout", BPJS_HOSTS), on("http.status", ["google"]))
    assert ids(one_reference_works) == ["bpjs_unreachable"]
    assert one_reference_works.causes[0].confidence == "high"
    none_works = check(on("tcp.timeout", BPJS_HOSTS), on("http.status", REFERENCE_HOSTS))
    assert ids(none_works) == ["bpjs_unreachable"]
    assert none_works.causes[0].confidence == "low"
    assert none_works.status is ExitStatus.CRITICAL


def test_tampered_dns_on_a_reference_host_only_is_less_certain() -> None:
    diagnosis = check(on("dns.tampered", ["google"], fingerprint="unverified-answer"))
    assert ids(diagnosis) == ["dns_tampered"]
    assert diagnosis.causes[0].confidence == "medium"
    assert evidence_of(diagnosis, "dns_tampered") == (
        "dns.tampered@google (fingerprint: unverified-answer)",
    )


def test_interception_seen_on_a_bpjs_host_alone_is_less_certain() -> None:
    diagnosis = check(on("tls.untrusted", ["bpjs-sso"], issuer="Some Intermediate"))
    assert ids(diagnosis) == ["tls_intercepted"]
    assert diagnosis.causes[0].confidence == "medium"


def test_latency_on_one_bpjs_path_only_is_unstable_with_medium_confidence() -> None:
    diagnosis = check(on("latency.high", ["bpjs-www"], median_ms=900.0))
    assert ids(diagnosis) == ["unstable_connection"]
    assert diagnosis.causes[0].confidence == "medium"


def test_broken_ipv6_with_working_ipv4_is_a_warning_not_an_outage() -> None:
    diagnosis = check(
        on("tcp.timeout", BPJS_HOSTS, family="ipv6", address="2001:db8::1"),
        on("tcp.ipv6_broken", BPJS_HOSTS, address="2001:db8::1"),
    )
    # its own cause (SPEC §6), a warning: the timed-out IPv6 handshakes are its symptoms
    assert ids(diagnosis) == ["ipv6_broken"]
    assert diagnosis.causes[0].confidence == "medium"
    assert diagnosis.status is ExitStatus.WARNING
    assert not diagnosis.all_clear
    assert "tcp.ipv6_broken@bpjs-www" in evidence_of(diagnosis, "ipv6_broken")


def test_broken_ipv6_on_reference_hosts_too_is_the_networks_ipv6() -> None:
    diagnosis = check(on("tcp.ipv6_broken", ALL_HOSTS, address="fd00::1"))
    assert ids(diagnosis) == ["ipv6_broken"]
    assert diagnosis.causes[0].confidence == "high"


def test_slow_bpjs_is_bpjs_unreachable_as_a_warning() -> None:
    diagnosis = check(on("http.slow", BPJS_HOSTS, first_byte_ms=8000.0, reference_ms=40.0))
    assert ids(diagnosis) == ["bpjs_unreachable"]
    assert diagnosis.status is ExitStatus.WARNING
    assert diagnosis.causes[0].severity is ExitStatus.WARNING


def test_slow_and_failing_bpjs_is_critical() -> None:
    diagnosis = check(
        on("http.slow", ["bpjs-www"], first_byte_ms=8000.0, reference_ms=40.0),
        on("tcp.timeout", ["bpjs-sso"], family="ipv4", address="192.0.2.1"),
    )
    assert ids(diagnosis) == ["bpjs_unreachable"]
    assert diagnosis.status is ExitStatus.CRITICAL
    assert "http.slow@bpjs-www" in evidence_of(diagnosis, "bpjs_unreachable")


def test_mtu_blackhole_is_not_offline() -> None:
    # every request stalled after the handshake and worked with small segments
    diagnosis = check(
        on("tls.handshake_failed", ALL_HOSTS, error="timed out"),
        on("path.mtu_blackhole", ALL_HOSTS, phase="tls", mss=536),
    )
    assert ids(diagnosis) == ["mtu_blackhole"]
    assert diagnosis.status is ExitStatus.CRITICAL
    assert "tls.handshake_failed@bpjs-www" in evidence_of(diagnosis, "mtu_blackhole")


def test_block_page_over_http_on_bpjs_is_a_block_not_a_portal() -> None:
    diagnosis = check(on("http.block_page", BPJS_HOSTS, fingerprint="id.http.1", via="body"))
    assert ids(diagnosis) == ["bpjs_unreachable"]
    assert diagnosis.status is ExitStatus.CRITICAL


# --- ranking -------------------------------------------------------------------------------


def test_critical_causes_rank_before_warnings_and_certainty_before_priority() -> None:
    diagnosis = check(
        finding("store.outdated", installed="1", latest="2", store="play"),
        on("tls.untrusted", ["bpjs-www"], issuer="X"),  # critical, medium
        on("tcp.timeout", ["bpjs-sso", "bpjs-lapakasik"]),  # critical, medium
        finding("bandwidth.low", download_mbps=0.2),  # warning, high
    )
    assert ids(diagnosis) == [
        "tls_intercepted",
        "bpjs_unreachable",
        "slow_connection",
        "app_outdated",
    ]
    assert [c.rank for c in diagnosis.causes] == [1, 2, 3, 4]
    assert diagnosis.status is ExitStatus.CRITICAL
    every_bpjs_host = check(
        on("tls.untrusted", ["bpjs-www"], issuer="X"), on("tcp.timeout", BPJS_HOSTS)
    )
    assert ids(every_bpjs_host) == ["bpjs_unreachable", "tls_intercepted"]


def test_evidence_is_deduplicated_in_run_order() -> None:
    diagnosis = check(
        on("latency.loss", ["google", "bpjs-www", "google"], loss_pct=10.0),
        on("latency.jitter", ["google"], jitter_ms=80.0),
    )
    assert evidence_of(diagnosis, "unstable_connection") == (
        "latency.loss@google",
        "latency.loss@bpjs-www",
        "latency.jitter@google",
    )


# --- status --------------------------------------------------------------------------------

WARNING_FINDINGS: list[tuple[Finding, ExitStatus]] = [
    (finding("tls.expiring", "bpjs-www", days_left=3), ExitStatus.WARNING),
    (finding("dns.slow", "bpjs-www", resolver="system", ms=2500.0), ExitStatus.WARNING),
    (finding("dns.slow", "bpjs-www", resolver="1.1.1.1", ms=2500.0), ExitStatus.OK),
    (finding("bandwidth.unavailable", reason="no server"), ExitStatus.OK),
    (finding("http.status", "bpjs-www", status=404), ExitStatus.OK),
]


@pytest.mark.parametrize(("found", "status"), WARNING_FINDINGS, ids=lambda v: str(v)[:40])
def test_findings_without_a_cause_set_the_status(found: Finding, status: ExitStatus) -> None:
    diagnosis = check(found)
    assert ids(diagnosis) == ["kpj_not_linked", "membership_data"]
    assert diagnosis.status is status
    assert diagnosis.all_clear is (status is ExitStatus.OK)


def test_a_probe_that_timed_out_makes_a_clean_run_unknown_not_critical() -> None:
    # SPEC §3: the check that did not finish may have been about to find the fault
    results = [
        *(r for r in run() if r.id != "bandwidth"),
        ProbeResult(
            id="bandwidth",
            status=Status.ERROR,
            summary="",
            findings=(finding("probe.timeout", probe="bandwidth", seconds=8.0),),
        ),
    ]
    diagnosis = diagnose(results, TARGETS, "en")
    assert diagnosis.status is ExitStatus.UNKNOWN
    assert ids(diagnosis) == [] and not diagnosis.all_clear
    assert diagnosis.scope.not_checked == {"bandwidth": "error"}


def test_a_store_that_could_not_be_read_claims_nothing_about_the_app() -> None:
    diagnosis = check(finding("store.unavailable", store="play", reason="timeout"))
    assert diagnosis.status is ExitStatus.OK  # nothing wrong was found …
    assert not diagnosis.all_clear and ids(diagnosis) == []  # … but the app was not checked
    assert diagnosis.scope.not_checked == {"store": "incomplete"}


@pytest.mark.parametrize(
    "statuses", [[], [Status.ERROR], [Status.ERROR, Status.ERROR], [Status.SKIP, Status.ERROR]]
)
def test_a_run_where_no_probe_could_look_is_unknown(statuses: list[Status]) -> None:
    results = [
        ProbeResult(
            id=f"probe{n}",
            status=status,
            summary="",
            findings=(finding("probe.crashed", probe=f"probe{n}", error="boom"),)
            if status is Status.ERROR
            else (),
        )
        for n, status in enumerate(statuses)
    ]
    diagnosis = diagnose(results, TARGETS, "en")
    assert diagnosis.status is ExitStatus.UNKNOWN
    assert diagnosis.causes == ()
    assert not diagnosis.all_clear


def test_errored_probes_with_real_findings_are_still_diagnosed() -> None:
    results = [
        ProbeResult(
            id="system",
            status=Status.ERROR,
            summary="",
            findings=(finding("system.offline", reason="no_route"),),
        )
    ]
    assert ids(diagnose(results, TARGETS, "en")) == ["offline"]


# --- words ---------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["id", "en"])
def test_cause_words_come_from_the_catalogue_in_the_chosen_language(lang: str) -> None:
    diagnosis = check(finding("store.outdated", installed="1", latest="2", store="play"), lang=lang)
    words = catalogue.text("app_outdated", lang)
    cause = diagnosis.causes[0]
    assert (cause.title, cause.explanation, cause.fix, cause.summary) == (
        words.title,
        words.explanation,
        words.fix,
        words.summary,
    )
    assert cause.article_section == 2
    assert cause.severity is ExitStatus.WARNING


def test_indonesian_and_english_titles_differ() -> None:
    assert check(lang="id").causes[0].title != check(lang="en").causes[0].title


def test_no_resolver_answering_and_nothing_connected_is_offline() -> None:
    # a dead uplink: the device's resolver and the trusted ones all time out, so no
    # connection is ever tried (the tcp, tls and http probes have nothing to work on)
    results = run(system_dns("dns.timeout", ALL_HOSTS), trusted_dns("dns.timeout", ALL_HOSTS))
    skipped = [
        r if r.id not in ("tcp", "tls", "http", "clock") else replace(r, status=Status.SKIP)
        for r in results
    ]
    diagnosis = diagnose(skipped, TARGETS, "en")
    assert ids(diagnosis) == ["offline"]
    assert diagnosis.causes[0].confidence == "high"
    assert diagnosis.status is ExitStatus.CRITICAL


def test_names_unknown_everywhere_are_not_offline() -> None:
    # NXDOMAIN is an answer: the resolvers are reachable
    results = run(system_dns("dns.nxdomain", ALL_HOSTS), trusted_dns("dns.nxdomain", ALL_HOSTS))
    assert "offline" not in ids(diagnose(results, TARGETS, "en"))


def test_lookups_and_requests_lost_on_a_lossy_link_are_the_unstable_connection() -> None:
    diagnosis = check(
        on("latency.loss", ALL_HOSTS, loss_pct=40.0),
        system_dns("dns.timeout", ["bpjs-sso", "gstatic"]),
        on("http.timeout", ["bpjs-www"], phase="first_byte"),
        on("tls.handshake_failed", ["bpjs-lapakasik"], error="timeout"),
    )
    assert ids(diagnosis) == ["unstable_connection"]
    assert diagnosis.status is ExitStatus.WARNING
    evidence = evidence_of(diagnosis, "unstable_connection")
    assert "dns.timeout@bpjs-sso" in evidence and "http.timeout@bpjs-www" in evidence


def test_a_dead_resolver_on_a_lossy_link_is_still_a_dns_failure() -> None:
    # every name fails at the system resolver: that is not packets lost now and then
    diagnosis = check(
        on("latency.loss", ALL_HOSTS, loss_pct=20.0), system_dns("dns.timeout", ALL_HOSTS)
    )
    assert ids(diagnosis)[0] == "dns_failure"
    assert diagnosis.status is ExitStatus.CRITICAL


def test_a_bpjs_host_refusing_on_a_lossy_link_is_still_bpjs_unreachable() -> None:
    diagnosis = check(
        on("latency.loss", ["bpjs-sso", "google", "gstatic"], loss_pct=20.0),
        on("tcp.refused", ["bpjs-www"], family="ipv4"),
    )
    assert ids(diagnosis)[0] == "bpjs_unreachable"


def test_a_slow_link_explains_its_queueing_delay_and_drops() -> None:
    from jmo_doctor import config as config_module
    from jmo_doctor.api import Finding as F
    from jmo_doctor.api import ProbeResult as R
    from jmo_doctor.api import Status as S
    from jmo_doctor.diagnosis import diagnose as run_diagnosis

    targets = config_module.parse("", "<test>").targets
    slow = R("bandwidth", S.WARN, "", (F("bandwidth.low", "m", None, {"download_mbps": 0.3}),))
    queueing = R(
        "tcp",
        S.WARN,
        "",
        (
            F("latency.high", "m", "bpjs-www", {"median_ms": 900.0}),
            F("latency.jitter", "m", "google", {"jitter_ms": 150.0}),
        ),
    )
    found = run_diagnosis([slow, queueing], targets, "en")
    assert [c.id for c in found.causes] == ["slow_connection"]
    assert "latency.high@bpjs-www" in found.causes[0].evidence
    lossy = R("tcp", S.WARN, "", (F("latency.loss", "m", "google", {"loss_pct": 30.0}),))
    found = run_diagnosis([slow, lossy], targets, "en")
    assert [c.id for c in found.causes] == ["slow_connection"]
    # without a throughput measurement, loss is the unstable link's
    found = run_diagnosis([lossy], targets, "en")
    assert found.causes[0].id == "unstable_connection"


def test_a_phone_too_old_for_the_update_absorbs_app_outdated() -> None:
    # "update JMO" is a step such a phone cannot follow: the OS update or another phone is
    diagnosis = check(
        finding("store.outdated", installed="4.0.3", latest="4.15.14", store="play"),
        finding("store.os_unsupported", store="play", os_version="6.0.1", minimum="7.0"),
    )
    assert ids(diagnosis) == ["device_unsupported"]
    assert set(diagnosis.causes[0].evidence) == {"store.outdated", "store.os_unsupported"}
    assert diagnosis.status is ExitStatus.WARNING and not diagnosis.all_clear


def test_a_lossy_link_is_not_taken_for_a_broken_path_mtu() -> None:
    # on a link losing 30 % of packets a stalled request can go through on its retry with
    # small segments by luck: the lost handshakes say the loss is not about packet size
    findings = (
        on("path.mtu_blackhole", ["bpjs-www"], mss=536)
        + on("http.timeout", ["bpjs-www"])
        + on("latency.loss", ALL_HOSTS, loss_pct=30.0)
    )
    diagnosis = check(*findings)
    assert "mtu_blackhole" not in ids(diagnosis)
    assert ids(diagnosis)[0] == "unstable_connection"
