"""The ``bandwidth`` probe on loopback: the http backend against a local /__down + /__up
server, the speedtest backend against a local Speedtest Mini server (with speedtest.net's
configuration and server list served locally too), and the figures' arithmetic."""

from __future__ import annotations

import asyncio
import socket
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from jmo_doctor import config
from jmo_doctor.api import Fact, ProbeResult, RunOptions, Status
from jmo_doctor.context import ProbeRunContext, RunShared
from jmo_doctor.i18n import texts_of
from probes.bandwidth import _budget
from probes.bandwidth import _upload as _bandwidth_upload
from probes.bandwidth import probe as _probe_module
from probes.bandwidth._http import Measurement, Phase
from probes.bandwidth._meter import (
    BIN_S,
    Meter,
    Throughput,
    analyse,
    stable_start,
    without_trailing_stall,
)
from probes.bandwidth._responsiveness import rpm, summarize, trimmed_mean
from probes.bandwidth._speedtest import Endpoints
from probes.bandwidth._upload import confirmed_bytes, next_upload_size
from probes.bandwidth.probe import (
    MOBILE_MAX_MB,
    UNAVAILABLE_REASONS,
    BandwidthProbe,
    judge,
    unstable_bound,
)
from tests.bandwidth_server import BandwidthServer


@pytest.fixture
def server() -> Iterator[BandwidthServer]:
    srv = BandwidthServer()
    yield srv
    srv.close()


def toml(srv: BandwidthServer, backend: str = "http", **extra: Any) -> str:
    # loopback moves gigabytes a second: the budget's cap, or it would end every phase
    settings = {"duration": 1.0, "streams": 3, "max_mb": 1000.0, **extra}
    lines = "".join(f"{key} = {value!r}\n" for key, value in settings.items())
    return f"""
[bandwidth]
backend = "{backend}"
download_url = "{srv.url}/__down?bytes={{bytes}}"
upload_url = "{srv.url}/__up"
{lines}"""


def run_probe(
    text: str,
    *,
    timeout: float = 15.0,
    endpoints: Endpoints | None = None,
    progress: list[tuple[float | None, str]] | None = None,
    facts: tuple[Fact, ...] = (),
) -> ProbeResult:
    def sink(_probe: str, fraction: float | None, note: str) -> None:
        if progress is not None:
            progress.append((fraction, note))

    shared = RunShared(
        config.parse(text, "<test>"),
        RunOptions(),
        "en",
        deadline=time.monotonic() + timeout,
        progress=sink,
    )
    ctx = ProbeRunContext(shared, "bandwidth", BandwidthProbe.messages)

    async def run() -> ProbeResult:
        for fact in facts:  # as the runner publishes them after the first wave
            shared.publish(fact)
        return await BandwidthProbe(endpoints).run(ctx)

    return asyncio.run(run())


def codes(result: ProbeResult) -> list[str]:
    return [f.code for f in result.findings]


# --- the http backend ----------------------------------------------------------------------


def test_http_backend_measures_both_directions_and_latency(server: BandwidthServer) -> None:
    progress: list[tuple[float | None, str]] = []
    result = run_probe(toml(server, duration=2.0), progress=progress)
    assert result.status is Status.PASS, result.findings
    m = result.metrics
    assert m["download_mbps"] > 50 and m["upload_mbps"] > 50, m
    assert m["download_bytes"] > 0 and m["upload_bytes"] > 0
    # the ramp is excluded from the figure, the total keeps it
    assert result.details["download"]["ramp_s"] >= 0.2
    assert {"idle_rtt_ms", "loaded_rtt_ms", "responsiveness_rpm", "bufferbloat_ms"} <= set(m)
    assert result.details["download"]["loaded_rtt_samples"] >= 5  # one per 0.2 s
    assert "Mbit/s" in result.summary and "RPM" in result.summary
    # a live bar: fractions rise to 1, notes carry the rate
    fractions = [f for f, _ in progress if f is not None]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0, abs=0.15)
    assert any(note.startswith("download ") and note.endswith("Mbit/s") for _, note in progress)
    assert any(note.startswith("upload ") for _, note in progress)


@pytest.fixture(params=["streaming", "by_requests"])
def upload_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of timing uploads: from TCP acks (Linux, Android) and by whole requests
    (where the kernel does not tell, as on macOS)."""
    if request.param == "by_requests":
        monkeypatch.setattr(_bandwidth_upload, "acks_readable", lambda: False)
    else:
        assert _bandwidth_upload.acks_readable(), "this kernel should expose TCP_INFO"
    return str(request.param)


def test_upload_is_measured_either_way(server: BandwidthServer, upload_mode: str) -> None:
    result = run_probe(toml(server))
    assert result.metrics["upload_mbps"] > 50, result.details["upload"]
    assert 0 < result.metrics["upload_bytes"] <= server.settings.received
    assert not result.details["upload"].get("errors")


def test_upload_counts_only_what_the_server_confirmed(
    server: BandwidthServer, upload_mode: str
) -> None:
    server.settings.up_share = 0.5  # the server says it got half of what was sent
    result = run_probe(toml(server))
    assert 0 < result.metrics["upload_bytes"] <= 0.5 * server.settings.received + 1


def test_upload_never_answered_counts_nothing(server: BandwidthServer, upload_mode: str) -> None:
    server.settings.up_hang = True  # bytes written to the socket, never confirmed
    result = run_probe(toml(server))
    assert server.settings.received > 0
    assert result.metrics["upload_bytes"] == 0
    assert result.metrics["upload_mbps"] == 0.0
    assert result.metrics["download_mbps"] > 0


def test_upload_refused_is_reported_download_still_measured(server: BandwidthServer) -> None:
    server.settings.up_status = 403
    result = run_probe(toml(server))
    assert result.metrics["download_mbps"] > 0
    assert "HTTP 403" in result.details["upload"]["errors"]


def test_dead_server_gives_unavailable_with_reason(server: BandwidthServer) -> None:
    text = toml(server)
    server.close()
    result = run_probe(text)
    assert codes(result) == ["bandwidth.unavailable"]
    assert result.findings[0].data["reason"] == "download"
    assert "ConnectError" in result.findings[0].data["detail"]


def test_below_minimum_is_bandwidth_low(server: BandwidthServer) -> None:
    result = run_probe(toml(server, min_download_mbps=1e6))
    assert codes(result) == ["bandwidth.low"]
    assert result.findings[0].data["download_mbps"] == result.metrics["download_mbps"]
    assert result.status is Status.WARN


def test_run_deadline_shrinks_the_phases(server: BandwidthServer) -> None:
    began = time.monotonic()
    result = run_probe(toml(server, duration=8.0), timeout=6.0)
    assert time.monotonic() - began < 6.0
    assert result.metrics["download_seconds"] < 2.0


def test_no_time_left_is_unavailable(server: BandwidthServer) -> None:
    result = run_probe(toml(server), timeout=1.0)
    assert result.findings[0].data["reason"] == "no_time"


def test_download_memory_stays_flat(server: BandwidthServer) -> None:
    tracemalloc.start()
    try:
        result = run_probe(toml(server))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.metrics["download_bytes"] > 50e6  # far more than was ever held
    assert peak < 16e6, peak


def test_probe_is_slow_so_quick_skips_it() -> None:
    assert BandwidthProbe.slow is True
    assert BandwidthProbe.id == "bandwidth" and BandwidthProbe.order == 75


# --- the speedtest backend -----------------------------------------------------------------


def test_speedtest_backend_against_a_mini_server(server: BandwidthServer) -> None:
    result = run_probe(toml(server, "speedtest"), endpoints=Endpoints(base=server.url))
    assert result.status is Status.PASS, result.findings
    assert result.details["backend"] == "speedtest"
    assert "jmo-doctor lab" in result.details["server"]
    assert result.metrics["download_mbps"] > 10 and result.metrics["upload_mbps"] > 10
    assert "idle_rtt_ms" in result.metrics


def test_speedtest_upload_is_what_the_server_confirmed(server: BandwidthServer) -> None:
    result = run_probe(toml(server, "speedtest"), endpoints=Endpoints(base=server.url))
    assert 0 < result.metrics["upload_bytes"] <= server.settings.received


def test_speedtest_mini_url(server: BandwidthServer) -> None:
    endpoints = Endpoints(base=server.url, mini=server.url + "/")
    result = run_probe(toml(server, "speedtest"), endpoints=endpoints)
    assert result.details["server"].startswith("Speedtest Mini")
    assert result.metrics["download_mbps"] > 0


def test_speedtest_transfers_may_run_past_their_length(server: BandwidthServer) -> None:
    """speedtest-cli finishes the requests in flight at the end of each phase: on a slow
    link (1 Mbit/s in the lab) a request opened just before the end waits for its
    answer, and the upload's threads are joined up to 1 s past it. Answers 1.5 s late
    make 3 s phases take about 8.5 s together: still a measurement, not "the server did
    not answer in time" (2 s of slack said so, 1 lab run in 3 at 1 Mbit/s)."""
    server.settings.speedtest_delay_s = 1.45
    text = toml(server, "speedtest", duration=3.0)  # answers opened at 0, 1.45, 2.9 s
    result = run_probe(text, timeout=25.0, endpoints=Endpoints(base=server.url))
    assert "bandwidth.unavailable" not in codes(result), result.findings
    assert result.metrics["download_mbps"] > 0 and result.metrics["upload_mbps"] > 0


@pytest.mark.parametrize(
    ("fault", "reason", "detail"),
    [
        ({"config_status": 403}, "config", "403"),
        ({"no_servers": True}, "no_servers", "Unable to connect"),
    ],
)
def test_speedtest_failures_become_unavailable(
    server: BandwidthServer, fault: dict[str, Any], reason: str, detail: str
) -> None:
    for key, value in fault.items():
        setattr(server.settings, key, value)
    result = run_probe(toml(server, "speedtest"), endpoints=Endpoints(base=server.url))
    assert codes(result) == ["bandwidth.unavailable"]
    assert result.findings[0].data["reason"] == reason
    assert detail in result.findings[0].data["detail"]
    # said in words (the reason code and the error's text are evidence, in the data)
    said = texts_of(result.findings[0].message)
    assert said is not None
    assert said["en"].endswith(UNAVAILABLE_REASONS[reason]["en"] + ".")
    assert reason not in said["id"]


def test_speedtest_unreachable_config_is_unavailable(server: BandwidthServer) -> None:
    text = toml(server, "speedtest")
    url = server.url
    server.close()
    result = run_probe(text, endpoints=Endpoints(base=url))
    assert result.findings[0].data["reason"] == "config"


# --- the arithmetic --------------------------------------------------------------------------


def steady_meter(ramp: list[float], rate_bytes_per_bin: float, bins: int) -> Meter:
    meter = Meter(0.0)
    meter.bins = [*ramp, *[rate_bytes_per_bin] * bins]
    return meter


def test_slow_start_ramp_is_excluded_from_the_figure() -> None:
    per_bin = 10e6 / 8 * BIN_S  # 10 Mbit/s
    meter = steady_meter([per_bin * f for f in (0.01, 0.05, 0.1, 0.2, 0.4, 0.6)], per_bin, 54)
    result = analyse(meter, 3.0)
    assert result.mbps == pytest.approx(10.0, rel=1e-6)
    assert result.ramp_s >= 0.2
    assert result.total_mbps < 9.5  # the ramp is in the total


def test_stable_start_rules() -> None:
    assert stable_start([5.0, 10.0]) == 0  # too short to judge
    assert stable_start([1.0, 10.0, 10.0, 10.0]) == 1  # interval 0 always goes
    assert stable_start([0.0, 1.0, 2.0, 9.0, 10.0, 10.0, 10.0, 10.0]) == 3
    # an upload up to speed in interval 0, then a stall and the catch-up burst of bytes
    # acknowledged late: no ramp to cut, the stall and its burst both stay
    stalled = [10.0, 1.0, 4.0, 15.0, 10.0, 10.0, 10.0, 10.0]
    assert stable_start(stalled, upload=True) == 1
    # a download's dip there is loss recovery after the slow starts: cut
    assert stable_start(stalled) == 3
    ramp = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 20.0, 20.0, 20.0]
    assert stable_start(ramp) == 5  # at most half the phase is dropped


def test_an_upload_window_loses_the_stall_it_ends_on() -> None:
    # 50 Mbit/s, the last bins of a lab run: the catch-up came after the window's end
    ends_stalled = [300.0] * 20 + [379.0, 141.0, 108.0]
    assert without_trailing_stall(ends_stalled) == [300.0] * 20 + [379.0]
    # never more than a quarter of the window; nothing to cut on a steady end
    assert len(without_trailing_stall([300.0] * 4 + [10.0] * 4)) == 6
    assert without_trailing_stall([300.0] * 8) == [300.0] * 8


def test_meter_spreads_a_span_over_bins_and_ends() -> None:
    meter = Meter(100.0)
    meter.add_span(100.0, 100.0 + 4 * BIN_S, 400.0)
    assert meter.bins[:4] == pytest.approx([100.0] * 4)
    assert sum(meter.bins) == pytest.approx(400.0)
    # a span that starts exactly on a float bin edge used to loop for ever
    edge = Meter(0.1)
    edge.add_span(0.1 + 3 * BIN_S, 0.1 + 7 * BIN_S, 40.0)
    assert sum(edge.bins) == pytest.approx(40.0)


def test_bursty_delivery_does_not_bias_the_figure() -> None:
    # after each loss TCP delivers the data held behind the hole at once: at the
    # application, 3 quiet bins then a burst; the true rate is 1 Mbit/s throughout
    per_bin = 1e6 / 8 * BIN_S
    meter = Meter(0.0)
    meter.bins = [0.0, 0.0, 0.0, 4 * per_bin] * 15
    result = analyse(meter, 3.0)
    assert result.interval_s == 1.0
    assert result.mbps == pytest.approx(1.0, rel=1e-6)


def test_server_count_wins_when_smaller() -> None:
    assert confirmed_bytes(b'{"bytes": 1000}', 4096) == 1000
    assert confirmed_bytes(b"size=5000", 4096) == 4096
    assert confirmed_bytes(b"", 4096) == 4096


def test_upload_sizes_grow_then_fit_the_time_left() -> None:
    assert next_upload_size(16384, 0.001, 10.0) == 4 * 16384  # growing like slow start
    assert next_upload_size(1 << 20, 0.25, 10.0) == 1 << 20  # ~250 ms each
    assert next_upload_size(1 << 20, 0.25, 0.05) < 1 << 18  # the last one fits


def test_rpm_and_trimmed_mean() -> None:
    assert rpm(100.0) == 600.0
    assert trimmed_mean([10.0] * 19 + [1000.0]) == 10.0  # the slowest 5 % dropped
    report = summarize([20.0, 22.0, 21.0], [[300.0, 320.0, 310.0], [40.0, 41.0]])
    assert report.idle_ms == 21.0
    assert report.added_ms == pytest.approx(289.0)  # the worse direction
    assert report.rpm is not None and report.rpm < 600


def fake(idle: float, loaded: float, down_mbps: float) -> Measurement:
    throughput = Throughput(down_mbps, down_mbps, 1000, 3.0, 0.2)
    phase = Phase(throughput, tuple([loaded] * 20))
    return Measurement("http", "lab", tuple([idle] * 5), phase, phase)


def test_bufferbloat_is_judged_against_idle_latency() -> None:
    ctx = ProbeRunContext(
        RunShared(config.parse("", "<t>"), RunOptions(), "en", time.monotonic() + 10),
        "bandwidth",
        BandwidthProbe.messages,
    )
    bloated = judge(ctx, fake(20.0, 620.0, 50.0))
    assert codes(bloated) == ["bandwidth.bufferbloat"]
    assert bloated.findings[0].data["added_ms"] == 600.0
    assert "600 ms" in bloated.findings[0].message
    assert bloated.metrics["responsiveness_rpm"] == pytest.approx(60000 / 620, rel=1e-3)
    assert codes(judge(ctx, fake(20.0, 120.0, 50.0))) == []
    assert codes(judge(ctx, fake(20.0, 620.0, 0.3))) == ["bandwidth.low", "bandwidth.bufferbloat"]


def test_bytes_acked_counts_what_the_peer_received() -> None:
    # a real loopback connection: written bytes are acknowledged by the peer's kernel,
    # whether or not the peer application has read them yet
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        peer, _ = listener.accept()
        with client, peer:
            before = _bandwidth_upload.bytes_acked(client)
            assert before is not None
            client.sendall(bytes(100_000))
            for _ in range(100):  # acks arrive within microseconds on loopback
                if _bandwidth_upload.bytes_acked(client) == before + 100_000:
                    break
                time.sleep(0.01)
            assert _bandwidth_upload.bytes_acked(client) == before + 100_000


# --- the data budget and the adaptive stop ---------------------------------------------------


def test_data_budget_is_never_exceeded(server: BandwidthServer) -> None:
    """2 MB on loopback (gigabits a second): the budget, not the rate, ends both phases;
    the server is never asked for, nor sent, more than the budget, and the figure is
    flagged as a lower bound in the details, the summary and the metrics."""
    result = run_probe(toml(server, duration=3.0, max_mb=2.0))
    limit = 2_000_000
    moved = result.metrics["download_moved_bytes"] + result.metrics["upload_moved_bytes"]
    assert 0 < moved <= limit
    assert result.metrics["data_bytes"] == moved
    assert server.settings.requested + server.settings.received <= limit
    assert result.details["reserved_bytes"] <= limit
    assert result.details["download"]["end_reason"] == "budget"
    assert result.details["download"]["lower_bound"] is True
    assert "≥" in result.summary and "2 MB" in result.summary


def test_budget_is_split_so_the_upload_keeps_its_share(server: BandwidthServer) -> None:
    result = run_probe(toml(server, duration=3.0, max_mb=4.0))
    down = result.metrics["download_moved_bytes"]
    up = result.metrics["upload_moved_bytes"]
    assert down <= 4_000_000 * _budget.DOWNLOAD_SHARE
    assert up > 1_000_000, result.details["upload"]  # what the download left is used
    assert down + up <= 4_000_000


def test_a_stream_trickling_after_the_budget_is_spent_does_not_hold_the_phase() -> None:
    """The first stream's answer trickles (as one in loss recovery did in the lab at
    50 Mbit/s); the others move their shares at once and find the budget spent. The
    phase ends there — at the least a figure needs — not when the trickle ends or the
    duration runs out: timed alone, the trickle made the figure a fraction of the link."""
    srv = BandwidthServer(first_down_bps=100_000)  # 800 KB asked: 8 s at this rate
    try:
        result = run_probe(toml(srv, duration=3.0, max_mb=4.0))
    finally:
        srv.close()
    down = result.details["download"]
    assert down["seconds"] == pytest.approx(_budget.MIN_FIGURE_S, abs=0.2), down
    assert down["end_reason"] in ("budget", "steady")
    assert result.metrics["download_moved_bytes"] > 1_600_000  # the two fast shares
    assert result.details["upload"]["mbps"] > 0  # the upload still had its turn


def test_a_budget_spent_within_the_first_bins_still_gives_a_figure() -> None:
    """Every stream's share moves in milliseconds on loopback: the phase ends when they
    are all done, and its bytes still make a figure (ending at the first stream out of
    budget left no whole bin: no figure at all)."""
    meter = Meter(0.0)
    phase = _budget.PhaseEnd(0.0, 3.0)
    phase.out_of_budget(meter, 0.01, 0.02)
    assert phase.at == 3.0  # too soon: the other streams are let finish
    phase.out_of_budget(meter, 0.01, _budget.MIN_FIGURE_S + 0.3)
    assert phase.at == _budget.MIN_FIGURE_S and phase.reason == "budget"


def _meter_with(rates_mbps: list[float], seconds_each: float) -> Meter:
    """A meter fed at each rate in turn, ``seconds_each`` per rate."""
    meter = Meter(0.0)
    bins_each = round(seconds_each / BIN_S)
    for rate in rates_mbps:
        for _ in range(bins_each):
            meter.bins.append(rate * 1e6 / 8 * BIN_S)
    return meter


def test_a_steady_rate_is_seen_as_steady_and_a_ramp_is_not() -> None:
    flat = _meter_with([10.0], 4.0)
    assert not _budget.is_steady(flat, _budget.MIN_STEADY_PHASE_S - 0.1)  # too soon
    assert _budget.is_steady(flat, _budget.MIN_STEADY_PHASE_S + 0.1)
    rising = _meter_with([2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0], 0.5)
    assert not _budget.is_steady(rising, 3.4)
    # the rate doubles at 2 s: the figure is still moving a second later
    assert not _budget.is_steady(_meter_with([10.0, 20.0], 2.0), 3.0)
    # a slow-start ramp, then flat: the ramp is left out, the figure holds still
    ramp_then_flat = _meter_with([2.0, 6.0] + [20.0] * 8, 0.4)
    assert _budget.is_steady(ramp_then_flat, 3.9)
    assert _budget.recent_figures(ramp_then_flat, 3.9) == pytest.approx(
        [20.0] * _budget.STEADY_COUNT
    )


def test_a_stalled_link_is_not_steady() -> None:
    stalled = _meter_with([10.0, 0.0], 2.0)
    assert not _budget.is_steady(stalled, 3.9)


def test_the_allowed_spread_grows_with_the_phase() -> None:
    assert _budget.allowed_spread(1.0) == _budget.STEADY_SPREAD
    assert _budget.allowed_spread(_budget.MIN_STEADY_PHASE_S) == _budget.STEADY_SPREAD
    assert 0.04 < _budget.allowed_spread(4.0) < 0.06


def test_budget_reservations_stop_at_the_limit() -> None:
    budget = _budget.DataBudget(1000)
    assert budget.reserve(600, ceiling=500) == 500
    assert budget.reserve(600) == 500
    assert budget.reserve(1) == 0 and budget.left() == 0


def test_on_mobile_data_the_budget_is_small_and_said(server: BandwidthServer) -> None:
    result = run_probe(toml(server, duration=3.0, max_mb=25.0), facts=(Fact.mobile_data(),))
    limit = MOBILE_MAX_MB * 1e6
    assert 0 < result.metrics["data_bytes"] <= limit
    assert server.settings.requested + server.settings.received <= limit
    assert result.details["max_mb"] == MOBILE_MAX_MB and result.details["mobile_data"] is True
    assert "mobile data: test capped at 5 MB" in result.summary


def test_a_smaller_max_mb_wins_on_mobile_data(server: BandwidthServer) -> None:
    result = run_probe(toml(server, duration=3.0, max_mb=1.0), facts=(Fact.mobile_data(),))
    assert result.details["max_mb"] == 1.0
    assert result.metrics["data_bytes"] <= 1e6


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("0", "greater than 0"),
        ("-5.0", "greater than 0"),
        ("nan", "finite number"),
        ("25000", "at most 1000"),
        ('"25"', "a number"),
    ],
)
def test_max_mb_is_checked_at_load(value: str, problem: str) -> None:
    with pytest.raises(config.ConfigError, match=problem) as caught:
        config.parse(f"[bandwidth]\nmax_mb = {value}\n", "<test>")
    assert "max_mb" in str(caught.value)


def test_max_mb_defaults_to_25_and_takes_integers() -> None:
    assert config.parse("", "<test>").bandwidth.max_mb == 25.0
    assert config.parse("[bandwidth]\nmax_mb = 5\n", "<test>").bandwidth.max_mb == 5.0


def test_on_an_unstable_link_the_download_ends_once_it_is_not_slow(
    server: BandwidthServer,
) -> None:
    # the first wave made the unstable link certain: only "slow or not" is still asked
    result = run_probe(toml(server, duration=5.0), facts=(Fact.unstable_link(),))
    download = result.details["download"]
    assert download["end_reason"] == "answered", download
    assert result.metrics["download_seconds"] < 2.5
    assert result.details["upload"] is None and result.details["unstable_link"] is True
    assert "upload not measured (unstable connection)" in result.summary
    assert not [f for f in result.findings if f.code == "bandwidth.low"]


def test_on_an_unstable_link_the_test_ends_in_time_for_the_verdict() -> None:
    """The first wave's start, noted by ``prepare``, bounds the test on an unstable
    link: the person has waited for that wave already. A run with no first wave gets
    the whole bound; a late start still gets the floor."""
    shared = RunShared(config.parse("", "<test>"), RunOptions(), "en", deadline=2000.0)
    ctx = ProbeRunContext(shared, "bandwidth", BandwidthProbe.messages)

    async def bounds() -> list[float]:
        # the first call notes the start (as ``prepare`` does); later ones count from it
        return [await unstable_bound(ctx, now) for now in (1000.0, 1005.0, 1007.0)]

    assert asyncio.run(bounds()) == [
        _probe_module.UNSTABLE_BOUND_S,
        _probe_module.UNSTABLE_VERDICT_S - 5.0,
        _probe_module.UNSTABLE_FLOOR_S,
    ]


def test_without_the_fact_the_same_link_is_measured_in_full(server: BandwidthServer) -> None:
    result = run_probe(toml(server, duration=2.0))
    assert result.details["download"]["end_reason"] != "answered"
    assert result.details["upload"] is not None


def test_answered_waits_for_whole_bins_and_for_the_rate() -> None:
    climbing = _meter_with([0.5, 1.0, 2.0, 4.0], 0.5)
    phase = _budget.PhaseEnd(0.0, 8.0, enough_mbps=1.5)
    phase.answered(climbing, _budget.MIN_FIGURE_S - 0.1)  # too soon to tell
    assert phase.reason == "duration"
    phase.answered(_meter_with([0.5, 0.6, 0.7, 0.8], 0.5), 1.9)  # still below: slow so far
    assert phase.reason == "duration" and phase.at == 8.0
    phase.answered(_meter_with([2.0, 2.0, 2.0, 2.0], 0.5), 1.9)
    assert phase.reason == "answered" and phase.at == 1.9


def test_without_a_floor_answered_never_ends_the_phase() -> None:
    phase = _budget.PhaseEnd(0.0, 8.0)
    phase.answered(_meter_with([50.0], 2.0), 1.9)
    assert phase.reason == "duration"
