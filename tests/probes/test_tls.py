"""The ``tls`` probe against loopback TLS servers presenting good and bad certificates."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jmo_doctor.api import ProbeResult, Status
from probes._common.tls import decode_der
from probes.tls import TlsProbe
from tests.probes.servers import (
    Blackhole,
    Pki,
    TcpServer,
    close_now,
    closed_port,
    days,
    idle,
    make_ctx,
    v4,
)

NAME = "bpjs.test"


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path)


def run_against(pki: Pki, port: int, *, host: str = NAME, timeout: float = 10.0) -> ProbeResult:
    toml = f"""
ca_bundle = "{pki.ca_file}"
[[target]]
name = "bpjs"
host = "{host}"
port = {port}
url = "https://{host}:{port}/"
"""
    ctx = make_ctx(TlsProbe, toml, hosts={NAME: v4("127.0.0.1")}, timeout=timeout)
    return asyncio.run(TlsProbe().run(ctx))


@pytest.fixture
def serve() -> Iterator[list[TcpServer]]:
    servers: list[TcpServer] = []
    yield servers
    for server in servers:
        server.close()


def tls_server(servers: list[TcpServer], context: object) -> int:
    server = TcpServer(idle(5), tls=context)  # type: ignore[arg-type]
    servers.append(server)
    return server.port


def test_valid_certificate_passes_with_facts(pki: Pki, serve: list[TcpServer]) -> None:
    result = run_against(pki, tls_server(serve, pki.context(NAME)))
    assert result.status is Status.PASS, result.findings
    detail = result.details["targets"]["bpjs"]
    assert detail["version"].startswith("TLS")
    assert detail["cipher"]
    assert detail["alpn"] == "http/1.1"
    assert NAME in detail["certificate"]["san"]
    assert detail["certificate"]["days_left"] > 300
    assert result.metrics["bpjs.days_left"] > 300


@pytest.mark.parametrize(
    ("dates", "code"),
    [
        ({"not_before": days(-30), "not_after": days(-1)}, "tls.expired"),
        ({"not_before": days(2), "not_after": days(300)}, "tls.not_yet_valid"),
    ],
)
def test_validity_failures(
    pki: Pki, serve: list[TcpServer], dates: dict[str, Any], code: str
) -> None:
    result = run_against(pki, tls_server(serve, pki.context(NAME, **dates)))
    assert [f.code for f in result.findings] == [code]
    data = result.findings[0].data
    assert data["not_before"].endswith("Z") and data["not_after"].endswith("Z")
    assert "issuer" in data and data["issuer"] != "?"
    assert result.status is Status.FAIL


def test_wrong_host_is_hostname_mismatch(pki: Pki, serve: list[TcpServer]) -> None:
    result = run_against(pki, tls_server(serve, pki.context("portal.hotspot.test")))
    assert [f.code for f in result.findings] == ["tls.hostname_mismatch"]
    assert "portal.hotspot.test" in result.findings[0].data["san"]
    assert result.findings[0].data["issuer"]


def test_other_ca_is_untrusted_and_names_the_issuer(pki: Pki, serve: list[TcpServer]) -> None:
    result = run_against(pki, tls_server(serve, pki.context(NAME, ca=pki.other_ca)))
    assert [f.code for f in result.findings] == ["tls.untrusted"]
    assert "trustme" in result.findings[0].data["issuer"]


def test_self_signed_is_untrusted(pki: Pki, serve: list[TcpServer]) -> None:
    result = run_against(pki, tls_server(serve, pki.self_signed_context(NAME)))
    assert [f.code for f in result.findings] == ["tls.untrusted"]
    assert result.findings[0].data["issuer"] == "CN=Totally Legit Box"
    assert result.findings[0].data["verify_code"] == 18


def test_expiring_soon_is_a_warning(pki: Pki, serve: list[TcpServer]) -> None:
    context = pki.context(NAME, not_before=days(-80), not_after=days(5))
    result = run_against(pki, tls_server(serve, context))
    assert [f.code for f in result.findings] == ["tls.expiring"]
    assert 4 < result.findings[0].data["days_left"] < 6
    assert result.status is Status.WARN


def test_reset_during_handshake_is_handshake_failed(pki: Pki, serve: list[TcpServer]) -> None:
    def reset(conn: socket.socket) -> None:
        conn.recv(10)
        close_now(conn)

    server = TcpServer(reset)
    serve.append(server)
    result = run_against(pki, server.port)
    assert [f.code for f in result.findings] == ["tls.handshake_failed"]
    assert result.findings[0].data["error"]


def test_plain_http_answer_is_handshake_failed(pki: Pki, serve: list[TcpServer]) -> None:
    def garbage(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n" * 10)
        time.sleep(0.5)

    server = TcpServer(garbage)
    serve.append(server)
    result = run_against(pki, server.port)
    assert [f.code for f in result.findings] == ["tls.handshake_failed"]


def test_silent_server_times_out_before_the_deadline(pki: Pki, serve: list[TcpServer]) -> None:
    server = TcpServer(idle(10))  # accepts TCP, never speaks TLS
    serve.append(server)
    start = time.monotonic()
    result = run_against(pki, server.port, timeout=2.0)
    assert time.monotonic() - start < 1.75
    assert [f.code for f in result.findings] == ["tls.handshake_failed"]
    assert result.findings[0].data["error"] == "timeout"


@pytest.mark.parametrize("kind", ["refused", "blackhole"])
def test_tcp_level_failures_are_left_to_the_tcp_probe(pki: Pki, kind: str) -> None:
    hole = Blackhole() if kind == "blackhole" else None
    port = hole.port if hole else closed_port()
    try:
        result = run_against(pki, port, timeout=2.0)
    finally:
        if hole:
            hole.close()
    assert result.findings == ()
    assert result.status is Status.SKIP
    assert result.details["targets"]["bpjs"]["skipped"].startswith("connect")


def test_ip_literal_target_checks_ip_san(pki: Pki, serve: list[TcpServer]) -> None:
    result = run_against(pki, tls_server(serve, pki.context("127.0.0.1")), host="127.0.0.1")
    assert result.status is Status.PASS, result.findings


def test_decode_der_reads_an_unverified_certificate(pki: Pki) -> None:
    import ssl

    der = ssl.PEM_cert_to_DER_cert(pki.ca.cert_pem.bytes().decode())
    decoded = decode_der(der)
    assert decoded is not None and "issuer" in decoded


def test_reset_right_after_accept_is_handshake_failed(pki: Pki, serve: list[TcpServer]) -> None:
    # the RST can reach the socket before the connect is seen to complete: still a
    # connection that was made and then cut, never a TCP failure left to the tcp probe
    server = TcpServer(close_now)
    serve.append(server)
    for _ in range(5):
        result = run_against(pki, server.port)
        assert [f.code for f in result.findings] == ["tls.handshake_failed"]
