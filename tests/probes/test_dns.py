"""The ``dns`` probe against a loopback DNS server (as the system's and as a trusted
resolver), a loopback DoH endpoint, and loopback TLS servers for the tampering check."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jmo_doctor.api import ProbeResult, Status
from probes._common.net import Lookup
from probes.dns import DnsProbe, SystemAnswer, _refine
from tests.probes.servers import (
    Answer,
    DnsServer,
    Pki,
    TcpServer,
    free_port_on,
    http_handler,
    idle,
    make_ctx,
)

ZONE = {
    "bpjs.test": Answer(a=("127.0.0.1",)),
    "nx.test": Answer(fault="nxdomain"),
    "fail.test": Answer(fault="servfail"),
    "silent.test": Answer(fault="silent"),
    "big.test": Answer(a=("127.0.0.1",), fault="truncate"),
    "blocked.test": Answer(cnames=("trustpositif.kominfo.go.id",), a=("36.86.63.185",)),
    "ipblock.test": Answer(a=("118.97.116.27",)),
}


@pytest.fixture
def dns_server() -> Iterator[DnsServer]:
    server = DnsServer(dict(ZONE))
    yield server
    server.close()


def toml(
    host: str, resolvers: list[str], *, port: int = 443, doh: str = "", extra: str = ""
) -> str:
    listed = ", ".join(f'"{r}"' for r in resolvers)
    doh_list = f'"{doh}"' if doh else ""
    return f"""
{extra}
[[target]]
name = "bpjs"
host = "{host}"
port = {port}
url = "https://{host}:{port}/"
[dns]
trusted_resolvers = [{listed}]
doh = [{doh_list}]
"""


def run(
    host: str,
    system: DnsServer,
    trusted: list[str],
    *,
    timeout: float = 10.0,
    **kwargs: object,
) -> ProbeResult:
    ctx = make_ctx(DnsProbe, toml(host, trusted, **kwargs), dns_server=system, timeout=timeout)  # type: ignore[arg-type]
    return asyncio.run(DnsProbe(system_servers=[system.address]).run(ctx))


def codes(result: ProbeResult) -> list[tuple[str, str]]:
    return sorted((f.code, str(f.data.get("resolver"))) for f in result.findings)


def test_healthy_name_passes_with_details(dns_server: DnsServer) -> None:
    result = run("bpjs.test", dns_server, [dns_server.address])
    assert result.status is Status.PASS, result.findings
    detail = result.details["targets"]["bpjs"]
    assert detail["system"]["answers"] == ["127.0.0.1"]
    assert detail["resolvers"][0]["rcode"] == "NOERROR"
    assert detail["resolvers"][0]["answers"] == ["127.0.0.1"]
    assert isinstance(detail["resolvers"][0]["ms"], float)
    assert isinstance(result.metrics["bpjs.system_ms"], float)


@pytest.mark.parametrize(
    ("host", "code"),
    [("nx.test", "dns.nxdomain"), ("fail.test", "dns.servfail"), ("silent.test", "dns.timeout")],
)
def test_resolver_faults(dns_server: DnsServer, host: str, code: str) -> None:
    result = run(host, dns_server, [dns_server.address], timeout=3.0)
    assert codes(result) == [(code, dns_server.address), (code, "system")]
    assert result.status is Status.FAIL
    assert all(f.target == "bpjs" for f in result.findings)


def test_silent_resolvers_still_report_before_the_deadline(dns_server: DnsServer) -> None:
    start = time.monotonic()
    result = run("silent.test", dns_server, [dns_server.address], timeout=1.5)
    assert time.monotonic() - start < 1.5 - 0.25
    assert ("dns.timeout", "system") in codes(result)


def test_truncated_udp_answer_is_retried_over_tcp(dns_server: DnsServer) -> None:
    result = run("big.test", dns_server, [dns_server.address])
    assert result.details["targets"]["bpjs"]["resolvers"][0]["answers"] == ["127.0.0.1"]
    assert result.status is Status.PASS


@pytest.mark.parametrize(
    ("host", "fingerprint"),
    [("blocked.test", "trustpositif.kominfo.go.id"), ("ipblock.test", "118.97.116.27")],
)
def test_block_page_answers_are_tampering(
    dns_server: DnsServer, host: str, fingerprint: str
) -> None:
    clean = DnsServer({host: Answer(a=("127.0.0.1",))})
    try:
        result = run(host, dns_server, [clean.address])
    finally:
        clean.close()
    tampered = [f for f in result.findings if f.code == "dns.tampered"]
    assert len(tampered) == 1
    assert tampered[0].data["fingerprint"] == fingerprint
    assert tampered[0].data["source"]
    assert (
        "36.86.63.185" in tampered[0].data["answers"] or fingerprint in tampered[0].data["answers"]
    )
    assert result.status is Status.FAIL


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path)


def _diverted(
    pki: Pki, system_cert_ca: str
) -> tuple[ProbeResult, list[TcpServer], list[DnsServer]]:
    """System DNS answers 127.0.0.2, trusted DNS 127.0.0.1; both serve TLS on one port."""
    port = free_port_on("127.0.0.1", "127.0.0.2")
    good = TcpServer(idle(5), "127.0.0.1", port, tls=pki.context("bpjs.test"))
    ca = pki.other_ca if system_cert_ca == "other" else pki.ca
    suspect = TcpServer(idle(5), "127.0.0.2", port, tls=pki.context("bpjs.test", ca=ca))
    system = DnsServer({"bpjs.test": Answer(a=("127.0.0.2",))})
    trusted = DnsServer({"bpjs.test": Answer(a=("127.0.0.1",))})
    result = run(
        "bpjs.test", system, [trusted.address], port=port, extra=f'ca_bundle = "{pki.ca_file}"'
    )
    return result, [good, suspect], [system, trusted]


def _close(servers: list[TcpServer], dns: list[DnsServer]) -> None:
    for server in servers:
        server.close()
    for d in dns:
        d.close()


def test_diverted_answer_failing_tls_is_tampering(pki: Pki) -> None:
    result, servers, dns = _diverted(pki, "other")
    _close(servers, dns)
    assert [(f.code, f.data["fingerprint"]) for f in result.findings] == [
        ("dns.tampered", "unverified-answer")
    ]
    assert result.findings[0].data["answers"] == ["127.0.0.2"]


def test_different_but_valid_answer_is_not_tampering(pki: Pki) -> None:
    result, servers, dns = _diverted(pki, "same")
    _close(servers, dns)
    assert result.findings == ()
    assert result.details["targets"]["bpjs"]["tampering_check"]["suspect_verified"] is True


def test_doh_resolver_is_asked(pki: Pki, dns_server: DnsServer) -> None:
    doh = TcpServer(http_handler(dict(ZONE)), tls=pki.context("localhost"))
    url = f"https://localhost:{doh.port}/dns-query"
    try:
        result = run("bpjs.test", dns_server, [], doh=url, extra=f'ca_bundle = "{pki.ca_file}"')
    finally:
        doh.close()
    assert result.status is Status.PASS, result.findings
    answers = result.details["targets"]["bpjs"]["resolvers"]
    assert answers[0]["resolver"] == url and answers[0]["answers"] == ["127.0.0.1"]


def test_doh_nxdomain_is_reported_for_that_resolver(pki: Pki, dns_server: DnsServer) -> None:
    doh = TcpServer(http_handler(dict(ZONE)), tls=pki.context("localhost"))
    url = f"https://localhost:{doh.port}/dns-query"
    try:
        result = run("nx.test", dns_server, [], doh=url, extra=f'ca_bundle = "{pki.ca_file}"')
    finally:
        doh.close()
    assert codes(result) == [("dns.nxdomain", url), ("dns.nxdomain", "system")]


def test_slow_system_resolver_is_dns_slow(dns_server: DnsServer) -> None:
    ctx = make_ctx(
        DnsProbe,
        toml("bpjs.test", [dns_server.address], extra="") + "slow_ms = 20.0\n",
        dns_server=dns_server,
        resolve_delay_s=0.1,
    )
    result = asyncio.run(DnsProbe(system_servers=[dns_server.address]).run(ctx))
    assert [f.code for f in result.findings] == ["dns.slow"]
    assert result.findings[0].data["resolver"] == "system"
    assert result.findings[0].data["ms"] >= 100
    assert result.status is Status.WARN


def test_ip_literal_targets_are_skipped(dns_server: DnsServer) -> None:
    result = run("127.0.0.1", dns_server, [dns_server.address])
    assert result.status is Status.SKIP
    assert result.findings == ()


def test_missing_resolv_conf_relies_on_addresses(dns_server: DnsServer) -> None:
    ctx = make_ctx(DnsProbe, toml("blocked.test", []), dns_server=dns_server)
    result = asyncio.run(DnsProbe(system_servers=[]).run(ctx))
    # no CNAME chain without a direct query, but the block-page address still matches
    assert [f.data["fingerprint"] for f in result.findings] == ["36.86.63.185"]


def test_getaddrinfo_failure_for_a_name_the_resolver_answers_is_a_lost_answer() -> None:
    # EAI_AGAIN stands for SERVFAIL and for silence alike; the same server answering
    # the name when asked directly shows the answers got lost (a lossy link)
    failed = SystemAnswer((), "servfail", 1800.0, "Temporary failure in name resolution")
    answered = Lookup("10.0.0.53", "NOERROR", ("10.0.0.1",))
    assert _refine(failed, answered).outcome == "timeout"
    assert _refine(failed, Lookup("10.0.0.53", "TIMEOUT")).outcome == "timeout"
    assert _refine(failed, Lookup("10.0.0.53", "SERVFAIL")).outcome == "servfail"
    assert _refine(failed, Lookup("10.0.0.53", "NOERROR")).outcome == "servfail"
    assert _refine(failed, None).outcome == "servfail"
