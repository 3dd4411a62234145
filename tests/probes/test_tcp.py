"""The ``tcp`` probe against loopback listeners: healthy, refused, blackholed, IPv6 broken,
DNS broken or slow with reachable hosts, the run deadline, and what counts as loss."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest

from jmo_doctor.api import Status
from probes._common.tcp import Sample, attempt
from probes.tcp import (
    Series,
    TcpProbe,
    _judge,
    jitter,
    mark_retransmitted,
    percentile,
)
from tests.probes.servers import (
    Answer,
    Blackhole,
    DnsServer,
    TcpServer,
    closed_port,
    idle,
    make_ctx,
    v4,
)


def toml(port: int, host: str = "127.0.0.1", samples: int = 5, extra: str = "") -> str:
    return f"""
[[target]]
name = "bpjs"
host = "{host}"
port = {port}
[latency]
samples = {samples}
{extra}
"""


@pytest.fixture
def listener() -> Iterator[TcpServer]:
    server = TcpServer(lambda conn: None)
    yield server
    server.close()


def codes(result: object) -> list[str]:
    return [f.code for f in result.findings]  # type: ignore[attr-defined]


def test_healthy_target_passes_with_loopback_rtts(listener: TcpServer) -> None:
    ctx = make_ctx(TcpProbe, toml(listener.port))
    result = asyncio.run(TcpProbe().run(ctx))
    assert result.status is Status.PASS, result.findings
    assert result.metrics["bpjs.loss_pct"] == 0.0
    # the kernel's handshake RTT on loopback is far below a millisecond
    assert 0.0 < result.metrics["bpjs.rtt_median_ms"] < 1.0
    assert result.metrics["bpjs.rtt_min_ms"] <= result.metrics["bpjs.rtt_p95_ms"]
    assert result.metrics["bpjs.rtt_p95_ms"] <= result.metrics["bpjs.rtt_max_ms"]
    assert all(isinstance(v, float) for v in result.metrics.values())


def test_all_refused_is_tcp_refused() -> None:
    ctx = make_ctx(TcpProbe, toml(closed_port()))
    result = asyncio.run(TcpProbe().run(ctx))
    assert codes(result) == ["tcp.refused"]
    assert result.findings[0].data == {"family": "ipv4", "address": "127.0.0.1"}
    assert result.status is Status.FAIL


def test_blackhole_is_tcp_timeout_before_the_deadline() -> None:
    hole = Blackhole()
    try:
        ctx = make_ctx(TcpProbe, toml(hole.port, samples=10), timeout=2.0)
        start = time.monotonic()
        result = asyncio.run(TcpProbe().run(ctx))
        elapsed = time.monotonic() - start
    finally:
        hole.close()
    assert codes(result) == ["tcp.timeout"]
    assert result.findings[0].data["family"] == "ipv4"
    assert elapsed < 2.0 - 0.25  # done before the runner would cancel it


def test_ipv6_failing_while_ipv4_works_is_a_warning(listener: TcpServer) -> None:
    hosts = {"dual.test": [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")]}
    ctx = make_ctx(TcpProbe, toml(listener.port, host="dual.test"), hosts=hosts)
    result = asyncio.run(TcpProbe().run(ctx))
    assert codes(result) == ["tcp.ipv6_broken"]
    assert result.findings[0].data == {"address": "::1"}
    assert result.status is Status.WARN


def test_system_dns_broken_falls_back_to_trusted_answers(listener: TcpServer) -> None:
    dns = DnsServer({"bpjs.test": Answer(a=("127.0.0.1",))})
    hosts = {"bpjs.test": socket.gaierror(socket.EAI_AGAIN, "Temporary failure")}
    extra = f'[dns]\ntrusted_resolvers = ["{dns.address}"]\ndoh = []'
    try:
        ctx = make_ctx(TcpProbe, toml(listener.port, host="bpjs.test", extra=extra), hosts=hosts)
        result = asyncio.run(TcpProbe().run(ctx))
    finally:
        dns.close()
    assert result.status is Status.PASS
    assert result.details["bpjs"]["source"] == "trusted"


def test_unresolvable_everywhere_skips() -> None:
    hosts = {"gone.test": socket.gaierror(socket.EAI_NONAME, "unknown")}
    ctx = make_ctx(
        TcpProbe,
        toml(443, host="gone.test", extra="[dns]\ntrusted_resolvers = []\ndoh = []"),
        hosts=hosts,
    )
    result = asyncio.run(TcpProbe().run(ctx))
    assert result.status is Status.SKIP
    assert not result.findings


def test_latency_above_threshold_is_latency_high(listener: TcpServer) -> None:
    ctx = make_ctx(TcpProbe, toml(listener.port, extra="high_ms = 0.000001"))
    result = asyncio.run(TcpProbe().run(ctx))
    assert "latency.high" in codes(result)
    assert result.status is Status.WARN


def _series(rtts: list[float | None]) -> Series:
    ctx = make_ctx(TcpProbe, toml(443))
    target = ctx.targets[0]
    samples = tuple(Sample(r, "" if r is not None else "timeout") for r in rtts)
    return Series(target, socket.AF_INET, "127.0.0.1", samples)


def test_loss_and_jitter_are_judged_against_config() -> None:
    ctx = make_ctx(TcpProbe, toml(443, extra="loss_pct = 5.0\njitter_ms = 30.0"))
    series = _series([20.0, 120.0, 20.0, None, 120.0, 20.0, 120.0, 20.0, 120.0, 20.0])
    findings, metrics, _ = _judge(ctx, ctx.targets, [series], {"bpjs": "literal"})
    found = {f.code: f.data for f in findings}
    assert found["latency.loss"] == {"loss_pct": 10.0}
    assert found["latency.jitter"]["jitter_ms"] == pytest.approx(100.0)
    assert metrics["bpjs.loss_pct"] == 10.0


def test_statistics_helpers() -> None:
    assert jitter([10.0, 20.0, 10.0]) == 10.0
    assert jitter([5.0]) == 0.0
    assert percentile([float(v) for v in range(1, 101)], 95) == 95.0


def test_idle_server_counts_as_reachable() -> None:
    server = TcpServer(idle(5))
    try:
        result = asyncio.run(TcpProbe().run(make_ctx(TcpProbe, toml(server.port, samples=3))))
    finally:
        server.close()
    assert result.status is Status.PASS


def test_handshakes_completed_by_a_retransmitted_syn_ack_count_as_lost() -> None:
    # a lost SYN-ACK is resent after the server's 1 s RTO and the kernel times the wait
    samples = [Sample(20.0), Sample(1021.0), Sample(22.0), Sample(None, "timeout")]
    marked = mark_retransmitted(samples)
    assert [s.rtt_ms for s in marked] == [20.0, None, 22.0, None]
    assert marked[1].error == "retransmitted"
    # a slow path is not a lost packet
    slow = [Sample(900.0), Sample(1100.0), Sample(1500.0)]
    assert mark_retransmitted(slow) == tuple(slow)
    assert mark_retransmitted([Sample(None, "timeout")]) == (Sample(None, "timeout"),)


def test_reset_right_after_the_handshake_counts_as_reachable() -> None:
    # accept, then RST (SO_LINGER 0) at once: on a short path the reset can land before
    # the event loop sees the connect complete
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    stop = False

    def serve() -> None:
        while not stop:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        samples = [asyncio.run(attempt("127.0.0.1", port, 1.0)) for _ in range(20)]
    finally:
        stop = True
        server.close()
    assert all(s.rtt_ms is not None for s in samples), samples


def _judged(samples: list[Sample]) -> tuple[list[str], dict[str, float], dict[str, object]]:
    ctx = make_ctx(TcpProbe, toml(443))
    series = Series(ctx.targets[0], socket.AF_INET, "127.0.0.1", tuple(samples))
    findings, metrics, details = _judge(ctx, ctx.targets, [series], {"bpjs": "literal"})
    family: dict[str, object] = details["bpjs"]["families"]["ipv4"]
    return [f.code for f in findings], metrics, family


def test_attempts_the_deadline_cut_short_are_not_counted_as_loss() -> None:
    # the fastest handshake took 20 ms: unanswered after a 2 s wait is lost; unanswered
    # after 50 ms (the run was ending) proves nothing, and the answered attempt of that
    # short wait is left out too, so that the figure is not biased towards success
    found, metrics, family = _judged(
        [
            Sample(20.0, "", 2000.0),
            Sample(None, "timeout", 2000.0),
            Sample(22.0, "", 50.0),
            Sample(None, "timeout", 50.0),
            Sample(None, "not_tried", 0.0),
        ]
    )
    assert metrics["bpjs.loss_pct"] == 50.0
    assert found == ["latency.loss"]
    assert family["counted"] == 2
    assert metrics["bpjs.rtt_median_ms"] == 21.0  # every answer is still an RTT sample
    # refused is the kernel's answer at once, whatever the wait
    _, refused, _ = _judged([Sample(None, "refused", 50.0), Sample(20.0, "", 2000.0)])
    assert refused["bpjs.loss_pct"] == 50.0
    # on a path slower than 1.2 s the whole 2 s window is all an attempt can get
    _, slow, _ = _judged([Sample(1500.0, "", 2000.0), Sample(None, "timeout", 2000.0)])
    assert slow["bpjs.loss_pct"] == 50.0


def test_no_attempt_with_its_full_chance_gives_no_loss_figure() -> None:
    found, metrics, family = _judged([Sample(20.0, "", 300.0), Sample(None, "timeout", 300.0)])
    assert "latency.loss" not in found
    assert "bpjs.loss_pct" not in metrics and "loss_pct" not in family
    assert metrics["bpjs.rtt_median_ms"] == 20.0


def test_a_slow_system_lookup_leaves_the_handshakes_their_full_window(
    listener: TcpServer,
) -> None:
    # getaddrinfo that would take the whole run: the trusted resolver's answer is used
    # in time for every handshake to get its full window
    dns = DnsServer({"bpjs.test": Answer(a=("127.0.0.1",))})
    extra = f'[dns]\ntrusted_resolvers = ["{dns.address}"]\ndoh = []'
    config = toml(listener.port, host="bpjs.test", samples=10, extra=extra)
    hosts = {"bpjs.test": v4("127.0.0.1")}
    try:
        ctx = make_ctx(TcpProbe, config, hosts=hosts, timeout=6.0, resolve_delay_s=30.0)
        start = time.monotonic()
        result = asyncio.run(TcpProbe().run(ctx))
        elapsed = time.monotonic() - start
    finally:
        dns.close()
    assert result.status is Status.PASS, result.findings
    assert result.details["bpjs"]["source"] == "trusted"
    assert result.details["bpjs"]["families"]["ipv4"]["counted"] == 10
    assert result.metrics["bpjs.loss_pct"] == 0.0
    assert elapsed < 6.0 - 0.25


def test_a_tight_deadline_brings_attempts_closer_not_their_windows_shorter() -> None:
    # 10 attempts 0.15 s apart with 2 s windows need 3.35 s; 2.6 s are left: every
    # unanswered SYN still waited its full 2 s, so the dead host's loss is a measurement
    hole = Blackhole()
    try:
        ctx = make_ctx(TcpProbe, toml(hole.port, samples=10), timeout=3.2)
        start = time.monotonic()
        result = asyncio.run(TcpProbe().run(ctx))
        elapsed = time.monotonic() - start
    finally:
        hole.close()
    assert codes(result) == ["tcp.timeout"]
    family = result.details["bpjs"]["families"]["ipv4"]
    assert family["counted"] == 10 and family["loss_pct"] == 100.0
    assert elapsed < 3.2 - 0.25


@pytest.mark.skipif(not hasattr(socket, "TCP_INFO"), reason="the kernel's SYN count is Linux's")
def test_a_blocked_event_loop_does_not_turn_answered_handshakes_into_loss(
    listener: TcpServer,
) -> None:
    # a busy machine (or a blocking call elsewhere in the run) holds the event loop for
    # 1 s while the kernel completes the handshake: the loop sees it 1 s late, which
    # once passed for a SYN resent after the kernel's 1 s RTO
    async def late() -> Sample:
        task = asyncio.ensure_future(attempt("127.0.0.1", listener.port, 2.0))
        for _ in range(3):  # until the SYN is out
            await asyncio.sleep(0)
        time.sleep(1.0)  # noqa: ASYNC251 - blocking the loop is the point
        return await task

    samples = [asyncio.run(late()) for _ in range(3)]
    assert all(s.rtt_ms is not None and s.rtt_ms < 100.0 for s in samples), samples
