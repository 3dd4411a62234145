"""The ``http`` probe against a loopback HTTP(S) server with faulty paths, and the
captive-portal check (Android's rule: only 204 or an empty 200 is open internet)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import probes.http as http_probe
from jmo_doctor.api import ProbeResult, Status
from probes.http import HttpProbe
from tests.probes.servers import (
    Blackhole,
    Pki,
    TcpServer,
    close_now,
    closed_port,
    http_handler,
    make_ctx,
    now_date,
    read_request,
    respond,
)


@pytest.fixture
def web() -> Iterator[TcpServer]:
    server = TcpServer(http_handler())
    yield server
    server.close()


def run(url: str, portal: str, *, timeout: float = 10.0, extra: str = "") -> ProbeResult:
    toml = f"""
{extra}
[[target]]
name = "bpjs"
host = "127.0.0.1"
url = "{url}"
[captive_portal]
url = "{portal}"
"""
    return asyncio.run(HttpProbe().run(make_ctx(HttpProbe, toml, timeout=timeout)))


def codes(result: ProbeResult) -> list[str]:
    return sorted(f.code for f in result.findings)


def test_healthy_url_and_open_internet_pass(web: TcpServer) -> None:
    base = f"http://127.0.0.1:{web.port}"
    result = run(f"{base}/ok", f"{base}/204")
    assert result.status is Status.PASS, result.findings
    detail = result.details["targets"]["bpjs"]
    assert detail["status"] == 200 and detail["date"]
    assert {"connect_ms", "first_byte_ms", "total_ms"} <= set(detail)
    assert result.metrics["bpjs.status"] == 200.0


def test_https_url_reports_tls_phase(tmp_path: Path) -> None:
    pki = Pki(tmp_path)
    server = TcpServer(http_handler(), tls=pki.context("localhost"))
    try:
        result = run(
            f"https://localhost:{server.port}/ok",
            f"https://localhost:{server.port}/204",
            extra=f'ca_bundle = "{pki.ca_file}"',
        )
    finally:
        server.close()
    assert result.status is Status.PASS, result.findings
    detail = result.details["targets"]["bpjs"]
    assert "tls_ms" in detail and "dns_ms" in detail


@pytest.mark.parametrize("path", ["/empty200", "/204"])
def test_portal_success_answers(web: TcpServer, path: str) -> None:
    base = f"http://127.0.0.1:{web.port}"
    assert run(f"{base}/ok", base + path).findings == ()


@pytest.mark.parametrize(
    ("path", "status", "location"),
    [
        ("/redirect", 302, "http://portal.example/login"),
        ("/html", 200, ""),
        ("/status/511", 511, ""),
    ],
)
def test_portal_answers(web: TcpServer, path: str, status: int, location: str) -> None:
    base = f"http://127.0.0.1:{web.port}"
    result = run(f"{base}/ok", base + path)
    assert codes(result) == ["http.captive_portal"]
    finding = result.findings[0]
    assert finding.target == "captive_portal"
    assert finding.data["status"] == status and finding.data["location"] == location
    assert result.status is Status.FAIL


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_http_status(web: TcpServer, status: int) -> None:
    base = f"http://127.0.0.1:{web.port}"
    result = run(f"{base}/status/{status}", f"{base}/204")
    assert codes(result) == ["http.status"]
    assert result.findings[0].data["status"] == status


def test_client_errors_are_not_findings(web: TcpServer) -> None:
    base = f"http://127.0.0.1:{web.port}"
    assert run(f"{base}/status/404", f"{base}/204").findings == ()


@pytest.mark.parametrize(("path", "phase"), [("/hang", "first_byte"), ("/slowloris", "first_byte")])
def test_stalling_servers_time_out_before_the_deadline(
    web: TcpServer, path: str, phase: str
) -> None:
    base = f"http://127.0.0.1:{web.port}"
    start = time.monotonic()
    result = run(f"{base}{path}", f"{base}/204", timeout=2.0)
    assert time.monotonic() - start < 2.0 - 0.25
    assert codes(result) == ["http.timeout"]
    assert result.findings[0].data["phase"] == phase


def test_huge_body_is_read_up_to_the_cap(web: TcpServer) -> None:
    base = f"http://127.0.0.1:{web.port}"
    result = run(f"{base}/huge", f"{base}/204")
    assert result.findings == ()
    detail = result.details["targets"]["bpjs"]
    assert detail["truncated"] is True and 1_000_000 <= detail["body_bytes"] < 2_000_000


def test_reset_after_request_is_http_error(web: TcpServer) -> None:
    base = f"http://127.0.0.1:{web.port}"
    result = run(f"{base}/reset", f"{base}/204")
    assert codes(result) == ["http.error"]


def test_refused_everywhere_is_left_to_tcp() -> None:
    base = f"http://127.0.0.1:{closed_port()}"
    result = run(f"{base}/ok", f"{base}/204")
    assert result.findings == ()
    assert result.status is Status.SKIP
    assert result.details["captive_portal"]["error"]


# --- a proxy from the environment ---------------------------------------------------------

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture
def proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No proxy variable from the machine running the tests; each test sets its own."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


def _answers_as_the_origin(conn: socket.socket) -> None:
    """A forward proxy that works: it answers the absolute URL it was asked for."""
    _, target, _ = read_request(conn)
    if urlsplit(target).path == "/204":
        respond(conn, 204, b"", {"Date": now_date()})
    else:
        respond(conn, 200, b"hello", {"Date": now_date()})


def _refuses_the_tunnel(conn: socket.socket) -> None:
    read_request(conn)
    respond(conn, 403, b"no")


class BrokenProxy:
    """A proxy address that does not work in one of the ways a stale setting does."""

    def __init__(self, kind: str) -> None:
        self._close: Callable[[], None] = lambda: None
        if kind == "refused":  # nothing listens there any more
            self.port = closed_port()
        elif kind == "silent":  # a firewall drops the SYNs
            hole = Blackhole()
            self.port, self._close = hole.port, hole.close
        else:
            handler = {"reset": close_now, "refuses-tunnel": _refuses_the_tunnel}[kind]
            server = TcpServer(handler)
            self.port, self._close = server.port, server.close

    def close(self) -> None:
        self._close()


@pytest.mark.parametrize(
    ("kind", "scheme"),
    [("refused", "http"), ("reset", "http"), ("silent", "http"), ("refuses-tunnel", "https")],
)
def test_a_proxy_that_does_not_work_is_reported_for_every_request(
    proxy_env: pytest.MonkeyPatch, web: TcpServer, kind: str, scheme: str
) -> None:
    # The target itself is up: only the way through the proxy is broken, which the tcp
    # probe (connecting directly) cannot see. Before, this was "skip: see DNS/TCP".
    proxy = BrokenProxy(kind)
    proxy_env.setenv(f"{scheme.upper()}_PROXY", f"http://127.0.0.1:{proxy.port}")
    try:
        result = run(
            f"{scheme}://127.0.0.1:{web.port}/ok",
            f"{scheme}://127.0.0.1:{web.port}/204",
            timeout=3.0,
        )
    finally:
        proxy.close()
    assert result.status is Status.FAIL
    assert [(f.code, f.target) for f in result.findings] == [
        ("http.proxy_failed", "bpjs"),
        ("http.proxy_failed", "captive_portal"),
    ]
    assert all(f.data["error"] for f in result.findings)
    detail = result.details["targets"]["bpjs"]
    assert detail["via_proxy"] is True and detail["proxy_failed"] is True


def test_a_working_proxy_is_used_and_is_not_a_finding(
    proxy_env: pytest.MonkeyPatch, web: TcpServer
) -> None:
    proxy = TcpServer(_answers_as_the_origin)
    proxy_env.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
    try:
        # the origin's port is closed: only the proxy can have answered
        closed = f"http://127.0.0.1:{closed_port()}"
        result = run(f"{closed}/ok", f"{closed}/204")
    finally:
        proxy.close()
    assert result.status is Status.PASS, result.findings
    detail = result.details["targets"]["bpjs"]
    assert detail["status"] == 200 and detail["via_proxy"] is True
    assert "proxy_failed" not in detail


def test_no_proxy_hosts_go_direct(proxy_env: pytest.MonkeyPatch, web: TcpServer) -> None:
    proxy_env.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
    proxy_env.setenv("NO_PROXY", "127.0.0.1")
    base = f"http://127.0.0.1:{web.port}"
    result = run(f"{base}/ok", f"{base}/204")
    assert result.status is Status.PASS, result.findings
    assert "via_proxy" not in result.details["targets"]["bpjs"]


def test_all_network_probes_report_before_a_short_deadline(web: TcpServer) -> None:
    """Everything stalls (blackholed TCP, silent DNS, a portal that never answers): the
    real runner still gets a result of each probe's own, not its ``probe.timeout``."""
    from jmo_doctor.plugins import LoadedProbe
    from jmo_doctor.runner import run_probes
    from probes.clock import ClockProbe
    from probes.dns import DnsProbe
    from probes.tcp import TcpProbe
    from probes.tls import TlsProbe
    from tests.probes.servers import Answer, Blackhole, DnsServer

    hole = Blackhole()
    silent = DnsServer({"localhost": Answer(fault="silent")})
    toml = f"""
timeout = 2.5
[[target]]
name = "bpjs"
host = "localhost"
port = {hole.port}
url = "https://localhost:{hole.port}/"
[[target]]
name = "slow"
host = "127.0.0.1"
port = {web.port}
url = "http://127.0.0.1:{web.port}/slowloris"
[dns]
trusted_resolvers = ["{silent.address}"]
doh = []
[captive_portal]
url = "http://127.0.0.1:{web.port}/hang"
[latency]
samples = 10
"""
    probes = [DnsProbe([silent.address]), TcpProbe(), TlsProbe(), HttpProbe(), ClockProbe()]
    loaded = [
        LoadedProbe(p, p.id, p.title, p.order, None, False, p.messages, "test", True)
        for p in probes
    ]
    shared = make_ctx(HttpProbe, toml, timeout=2.5)._shared
    start = time.monotonic()
    try:
        results = run_probes(loaded, shared)
    finally:
        hole.close()
        silent.close()
    assert time.monotonic() - start < 2.5 + 0.5
    by_id = {r.id: r for r in results}
    for result in results:
        assert all(f.code != "probe.timeout" for f in result.findings), result
    # localhost resolves from /etc/hosts; the silent trusted resolver times out
    assert {(f.code, f.data.get("resolver")) for f in by_id["dns"].findings} == {
        ("dns.timeout", silent.address)
    }
    assert "tcp.timeout" in {f.code for f in by_id["tcp"].findings}
    assert "http.timeout" in {f.code for f in by_id["http"].findings}


def test_reset_right_after_accept_is_http_error() -> None:
    # whether the RST lands before or after the connect is seen to complete, the
    # connection was made: the http probe reports it (refused is left to tcp)
    server = TcpServer(close_now)
    try:
        base = f"http://127.0.0.1:{server.port}"
        for _ in range(5):
            result = run(f"{base}/ok", f"http://127.0.0.1:{closed_port()}/204")
            assert codes(result) == ["http.error"]
    finally:
        server.close()


# --- the field: a slow BPJS side, block pages ------------------------------------------------

#: A TrustPositif page as OONI saw it (fingerprint ooni.id_telekomunikasi_0).
BLOCK_BODY = b"<html><head><title>Internet Positif - Indonesia</title></head></html>"


def _field_handler(conn: socket.socket) -> None:
    _, path, _ = read_request(conn)
    date = {"Date": now_date()}
    if path.startswith("/sleep/"):
        time.sleep(float(path.rsplit("/", 1)[1]))
        respond(conn, 200, b"late", date)
    elif path == "/blocked":
        respond(conn, 200, BLOCK_BODY, date)
    elif path == "/to-block-page":
        respond(conn, 302, b"", {**date, "Location": "http://internet-positif.org/?u=x"})
    else:
        respond(conn, 204, b"", date)


@pytest.fixture
def field_web() -> Iterator[TcpServer]:
    server = TcpServer(_field_handler)
    yield server
    server.close()


def run_roles(
    bpjs_path: str, reference_path: str, port: int, portal: str = "/204", reference_port: int = 0
) -> ProbeResult:
    base = f"http://127.0.0.1:{port}"
    reference_base = f"http://127.0.0.1:{reference_port or port}"
    toml = f"""
[[target]]
name = "bpjs"
host = "127.0.0.1"
url = "{base}{bpjs_path}"
role = "bpjs"
[[target]]
name = "ref"
host = "127.0.0.1"
url = "{reference_base}{reference_path}"
role = "reference"
[captive_portal]
url = "{base}{portal}"
"""
    return asyncio.run(HttpProbe().run(make_ctx(HttpProbe, toml, timeout=10.0)))


@pytest.fixture
def fast_slow_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    # the rule as shipped (≥ 5 s and ≥ 10x the reference), at a scale a unit test can wait
    monkeypatch.setattr(http_probe, "SLOW_FIRST_BYTE_MS", 300.0)


@pytest.mark.usefixtures("fast_slow_threshold")
def test_bpjs_far_slower_than_the_reference_is_http_slow(field_web: TcpServer) -> None:
    result = run_roles("/sleep/0.5", "/ok", field_web.port)
    assert codes(result) == ["http.slow"]
    assert result.status is Status.WARN
    data = result.findings[0].data
    assert data["first_byte_ms"] >= 450 and data["reference_ms"] < 50


@pytest.mark.usefixtures("fast_slow_threshold")
def test_a_link_slow_for_every_host_is_not_blamed_on_bpjs(field_web: TcpServer) -> None:
    result = run_roles("/sleep/0.5", "/sleep/0.4", field_web.port)
    assert codes(result) == []


@pytest.mark.usefixtures("fast_slow_threshold")
def test_without_a_reference_answer_nothing_is_called_slow(field_web: TcpServer) -> None:
    result = run_roles("/sleep/0.5", "/ok", field_web.port, reference_port=closed_port())
    assert "http.slow" not in codes(result)
    assert result.details["targets"]["bpjs"]["status"] == 200  # it did answer, late


def test_block_page_body_is_a_block_page(field_web: TcpServer) -> None:
    result = run_roles("/blocked", "/ok", field_web.port)
    assert codes(result) == ["http.block_page"]
    data = result.findings[0].data
    assert data["via"] == "body" and data["fingerprint"] == "ooni.id_telekomunikasi_0"


def test_portal_check_answering_a_block_page_is_no_wifi_login(field_web: TcpServer) -> None:
    result = run_roles("/ok", "/ok", field_web.port, portal="/to-block-page")
    assert codes(result) == ["http.block_page"]
    finding = result.findings[0]
    assert finding.target == "captive_portal" and finding.data["via"] == "redirect"
