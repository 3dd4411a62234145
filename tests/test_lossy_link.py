"""Time to verdict on a lossy link (issue 14): what stops waiting, and when.

- the system resolver gives way to the trusted resolvers' answers soon after they come;
- requests go to the addresses already found (no second lookup), happy-eyeballs style;
- a slow probe's ``prepare`` runs alongside the first wave and ends with it;
- an unstable link is told as soon as it is certain, during the first wave, and what is
  still waiting on the link stops: requests, the MTU confirmation;
- a download that came in fits and starts on such a link claims no slow link (its bytes
  timed: how unevenly they came in);
- a host's handshakes all lost over one family, lossy over the other, are the loss's;
- every system lookup lost on a link losing half its round trips is the loss's too.

All on loopback, against real local servers; the whole run in the lab is in
tests/test_early_stop.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest

from jmo_doctor.api import BaseProbe, Decided, Fact, Finding, ProbeContext, ProbeResult, Status
from jmo_doctor.diagnosis import SYSTEM_RESOLVER, diagnose
from jmo_doctor.runner import run_probes
from probes._common.http import Fetch, fetch
from probes._common.net import SYSTEM_GRACE_S, TRUSTED_HEAD_START_S, addresses_for
from probes._common.pinned import ATTEMPT_DELAY_S, pinned_transport
from probes.bandwidth._measurement import Measurement, Phase
from probes.bandwidth._meter import Meter, Throughput, analyse, unevenness
from probes.bandwidth.probe import judge
from probes.http import HttpProbe, _confirm_stalls
from probes.tcp import TcpProbe
from tests.helpers import FuncProbe, loaded, make_context, make_shared
from tests.probes.servers import (
    Answer,
    DnsServer,
    TcpServer,
    closed_port,
    free_port_on,
    http_handler,
    idle,
    make_ctx,
)

TARGET = """
[[target]]
name = "bpjs"
host = "{host}"
port = {port}
url = "http://{host}:{port}/ok"
role = "bpjs"
[dns]
trusted_resolvers = [{resolvers}]
doh = []
"""


def _config(host: str, port: int, resolvers: str = "") -> str:
    return TARGET.format(host=host, port=port, resolvers=resolvers)


# --- the system resolver gives way ---------------------------------------------------------


@pytest.fixture
def trusted() -> Iterator[DnsServer]:
    server = DnsServer({"slow.test": Answer(a=("127.0.0.1",))})
    yield server
    server.close()


def _lookup(trusted: DnsServer, system_delay_s: float) -> tuple[list[str], str, float]:
    # the system resolver answers the same address, but only after system_delay_s
    ctx = make_ctx(
        TcpProbe,
        _config("slow.test", 443, f'"{trusted.address}"'),
        hosts={"slow.test": [(socket.AF_INET, "127.0.0.1")]},
        resolve_delay_s=system_delay_s,
    )
    began = time.monotonic()
    found, source = asyncio.run(addresses_for(ctx, "slow.test", 443))
    return found, source, time.monotonic() - began


def test_a_silent_system_resolver_gives_way_soon_after_the_trusted_answer(
    trusted: DnsServer,
) -> None:
    found, source, seconds = _lookup(trusted, system_delay_s=8.0)
    assert (found, source) == (["127.0.0.1"], "trusted")
    # the head start and the grace, not the system resolver's own retries
    assert TRUSTED_HEAD_START_S + SYSTEM_GRACE_S <= seconds < 4.0


def test_a_system_answer_within_the_grace_is_still_the_one_used(trusted: DnsServer) -> None:
    found, source, seconds = _lookup(trusted, system_delay_s=0.9)
    assert (found, source) == (["127.0.0.1"], "system")
    assert seconds < TRUSTED_HEAD_START_S + SYSTEM_GRACE_S


def test_a_quick_system_resolver_never_waits_for_the_trusted_ones(trusted: DnsServer) -> None:
    found, source, seconds = _lookup(trusted, system_delay_s=0.0)
    assert (found, source) == (["127.0.0.1"], "system")
    assert seconds < TRUSTED_HEAD_START_S


# --- requests go where the lookups went ----------------------------------------------------


@pytest.fixture
def web() -> Iterator[TcpServer]:
    server = TcpServer(http_handler())
    yield server
    server.close()


async def _get(url: str, pins: dict[str, list[str]]) -> tuple[int, float]:
    ssl_context = make_context().ssl_context()
    began = time.monotonic()
    transport = pinned_transport(ssl_context, pins)
    async with httpx.AsyncClient(transport=transport, timeout=5.0) as client:
        response = await client.get(url)
    return response.status_code, time.monotonic() - began


def test_a_pinned_host_needs_no_lookup(web: TcpServer) -> None:
    # .invalid never resolves (RFC 6761): only the pin can have found it, and the suite's
    # guard fails the test if the name was looked up at all
    url = f"http://speed.invalid:{web.port}/ok"
    status, _ = asyncio.run(_get(url, {"speed.invalid": ["127.0.0.1"]}))
    assert status == 200


def test_a_refused_address_passes_at_once_to_the_next() -> None:
    port = closed_port("::1")
    server = TcpServer(http_handler(), port=port)
    try:
        status, seconds = asyncio.run(
            _get(f"http://two.invalid:{port}/ok", {"two.invalid": ["::1", "127.0.0.1"]})
        )
    finally:
        server.close()
    assert status == 200 and seconds < ATTEMPT_DELAY_S


@contextlib.contextmanager
def _unanswering(host: str, port: int) -> Iterator[None]:
    """A listener on host:port whose accept queue is full: SYNs there go unanswered."""
    sock = socket.socket()
    sock.bind((host, port))
    sock.listen(0)
    fillers = []
    for _ in range(2):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError, OSError):
            filler.connect((host, port))
        fillers.append(filler)
    time.sleep(0.05)
    try:
        yield
    finally:
        for each in (sock, *fillers):
            each.close()


def test_an_unanswering_address_costs_a_quarter_second_not_the_timeout() -> None:
    port = free_port_on("127.0.0.2", "127.0.0.3")
    server = TcpServer(http_handler(), host="127.0.0.3", port=port)
    try:
        with _unanswering("127.0.0.2", port):
            status, seconds = asyncio.run(
                _get(f"http://two.invalid:{port}/ok", {"two.invalid": ["127.0.0.2", "127.0.0.3"]})
            )
    finally:
        server.close()
    assert status == 200
    assert ATTEMPT_DELAY_S <= seconds < 2.0  # the client's connect timeout is 5 s


# --- a slow probe prepares alongside the first wave ---------------------------------------


class _Preparing(BaseProbe):
    id = "bandwidth"
    title = "prepares"
    slow = True

    def __init__(self) -> None:
        self.prepared_at: float | None = None
        self.cancelled = False

    async def prepare(self, ctx: ProbeContext) -> None:
        self.prepared_at = time.monotonic()
        try:
            await asyncio.sleep(30)  # a lookup the first wave outlives… or not
        except asyncio.CancelledError:
            self.cancelled = True
            raise

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        return ProbeResult(self.id, Status.PASS, "measured")


def test_prepare_runs_with_the_first_wave_and_ends_with_it() -> None:
    async def first(ctx: ProbeContext) -> ProbeResult:
        await asyncio.sleep(0.3)
        return ProbeResult("tcp", Status.PASS, "first wave")

    slow = _Preparing()
    began = time.monotonic()
    probes = [loaded(FuncProbe("tcp", first)), replace(loaded(slow), slow=True)]
    results = {r.id: r for r in run_probes(probes, make_shared(timeout=10))}
    assert results["bandwidth"].status is Status.PASS
    assert slow.prepared_at is not None and slow.prepared_at - began < 0.3
    assert slow.cancelled and time.monotonic() - began < 2.0


# --- an unstable link stops the waiting, during the first wave -----------------------------


def _lossy_tcp(loss_pct: float = 30.0) -> FuncProbe:
    loss = [
        Finding("latency.loss", "loss", name, {"loss_pct": loss_pct})
        for name in ("bpjs-www", "bpjs-sso", "google")
    ]

    async def body(ctx: ProbeContext) -> ProbeResult:
        await asyncio.sleep(0.2)
        return ProbeResult("tcp", Status.WARN, "lossy", tuple(loss))

    return FuncProbe("tcp", body)


def _waiting(probe_id: str) -> tuple[FuncProbe, list[str]]:
    told: list[str] = []

    async def body(ctx: ProbeContext) -> ProbeResult:
        try:
            await ctx.unless(asyncio.sleep(8), Fact.unstable_link())
        except Decided as decided:
            told.append(str(decided.fact))
        return ProbeResult(probe_id, Status.PASS, "waited")

    return FuncProbe(probe_id, body), told


def test_the_unstable_link_is_told_while_the_first_wave_still_runs() -> None:
    waiter, told = _waiting("http")
    began = time.monotonic()
    run_probes([loaded(_lossy_tcp()), loaded(waiter)], make_shared(timeout=10))
    assert told == ["unstable_link"]
    assert time.monotonic() - began < 2.0, "the request waited on the lossy link"


def test_loss_just_past_the_threshold_stops_no_waiting() -> None:
    waiter, told = _waiting("http")
    run_probes([loaded(_lossy_tcp(6.0)), loaded(waiter)], make_shared(timeout=10))
    assert told == []


def test_a_request_still_going_stops_and_says_why() -> None:
    server = TcpServer(idle(10.0))  # accepts, reads, never answers
    ctx = make_ctx(HttpProbe, _config("127.0.0.1", server.port))

    async def go() -> Fetch:
        asyncio.get_running_loop().call_later(0.3, ctx.publish, Fact.unstable_link())
        return await fetch(ctx, "bpjs", f"http://127.0.0.1:{server.port}/ok")

    began = time.monotonic()
    try:
        item = asyncio.run(go())
    finally:
        server.close()
    assert time.monotonic() - began < 2.0
    assert item.not_waited == "unstable_link" and item.status is None
    assert item.as_detail()["not_waited"] == "unstable_link"
    assert not item.timed_out and not item.error  # neither a timeout nor a broken request


def test_no_mtu_confirmation_on_an_unstable_link() -> None:
    ctx = make_context()
    ctx.publish(Fact.unstable_link())
    stalled = Fetch(
        "bpjs-www", "https://www.bpjsketenagakerjaan.go.id/", timed_out=True, connected=True
    )
    stalled = replace(stalled, phase="body", error="ReadTimeout")
    confirmed, note = asyncio.run(_confirm_stalls(ctx, [stalled]))
    assert confirmed == {} and note == "not_asked: unstable_link"


# --- a download in fits and starts is the loss's, not a slow link --------------------------


RECORD = 16_384  # a TLS record: what one read of the download brings


def _download(*arrivals: tuple[float, int], seconds: float = 3.0) -> Measurement:
    """A download phase from when its reads came in: (second, bytes) pairs."""
    meter = Meter(0.0)
    for when, size in arrivals:
        meter.add(when, size)
    throughput = analyse(meter, seconds)
    moved = sum(size for _, size in arrivals)
    phase = Phase(throughput, (), 0, (), end_reason="duration", moved_bytes=moved)
    return Measurement("http", "speed.test", (), phase, None, extra={"unstable_link": True})


def _steady(first: float, every: float, until: float = 3.0) -> list[tuple[float, int]]:
    count = int((until - first) / every) + 1
    return [(first + k * every, RECORD) for k in range(count) if first + k * every < until]


def _low(measurement: Measurement) -> bool:
    result = judge(make_context(), measurement)
    return "bandwidth.low" in [f.code for f in result.findings]


def test_a_stalling_download_on_an_unstable_link_claims_no_slow_link() -> None:
    # 30 % loss each way, as the lab saw it: a record or two, a second's stall, a burst
    stalling = _download((0.7, 2 * RECORD), (1.7, 2 * RECORD), (2.7, 5 * RECORD))
    result = judge(make_context(), stalling)
    assert not _low(stalling)
    assert result.details["download_stalled"] is True
    assert "fits and starts" in result.summary


def test_nothing_for_seconds_then_a_burst_is_no_slow_link() -> None:
    assert not _low(_download((2.8, RECORD), (2.9, RECORD), seconds=3.0))


def test_a_steadily_slow_download_on_an_unstable_link_is_a_slow_link() -> None:
    # a 300 kbit/s link: a record every 0.44 s, whatever the handshakes saw
    assert _low(_download(*_steady(0.3, 0.44)))


def test_a_slow_start_shared_with_the_first_wave_is_still_a_slow_link() -> None:
    # the first wave's last bytes still in the queue: the first records come slowly
    rising = [(0.6, RECORD), (1.3, RECORD), *_steady(1.7, 0.4)]
    assert _low(_download(*rising))


def test_a_late_first_byte_behind_a_deep_queue_is_still_a_slow_link() -> None:
    assert _low(_download(*_steady(1.2, 0.44)))


def test_unevenness_is_zero_for_an_even_delivery_and_near_one_for_a_late_burst() -> None:
    assert unevenness([100.0] * 20) == 0.0
    assert unevenness([0.0] * 19 + [100.0]) == pytest.approx(0.95)
    assert unevenness([]) == 0.0 and unevenness([0.0, 0.0]) == 0.0


def test_bytes_nobody_timed_are_taken_as_they_are() -> None:
    # the speedtest-cli backend reports a total, no arrivals
    throughput = Throughput(0.3, 0.3, 100_000, 3.0, 0.0)
    phase = Phase(throughput, (), 0, (), end_reason="duration", moved_bytes=100_000)
    measurement = Measurement("speedtest-cli", "s", (), phase, None, extra={"unstable_link": True})
    assert _low(measurement)


# --- a family's handshakes all lost on a lossy link ------------------------------------------


def test_one_family_all_lost_while_the_other_is_lossy_is_the_unstable_link() -> None:
    loss = [
        Finding("latency.loss", "loss", name, {"loss_pct": 40.0})
        for name in ("bpjs-www", "bpjs-sso", "bpjs-lapakasik", "google", "gstatic")
    ]
    dead = Finding("tcp.timeout", "timeout", "bpjs-www", {"family": "ipv4"})
    tcp = ProbeResult("tcp", Status.WARN, "lossy", (dead, *loss))
    targets = make_shared().config.targets
    causes = [c.id for c in diagnose([tcp], targets, "en").causes]
    assert causes[:1] == ["unstable_connection"] and "bpjs_unreachable" not in causes


_NAMES = ("bpjs-www", "bpjs-sso", "bpjs-lapakasik", "google", "gstatic")


def _silent_system_resolver(loss_pct: float) -> list[str]:
    """Causes when the system resolver timed out on every name, the trusted resolvers
    answered, and tcp lost ``loss_pct`` of its handshakes everywhere."""
    lost = [
        Finding("dns.timeout", "timeout", name, {"resolver": SYSTEM_RESOLVER}) for name in _NAMES
    ]
    loss = [Finding("latency.loss", "loss", name, {"loss_pct": loss_pct}) for name in _NAMES]
    results = [
        ProbeResult("dns", Status.FAIL, "silent", tuple(lost)),
        ProbeResult("tcp", Status.WARN, "lossy", tuple(loss)),
    ]
    targets = make_shared().config.targets
    return [c.id for c in diagnose(results, targets, "en").causes]


def test_every_lookup_lost_on_a_link_losing_half_its_round_trips_is_the_link() -> None:
    # the lab at 30 % loss each way (~50 % per round trip): 1 run in 43 lost them all
    causes = _silent_system_resolver(50.0)
    assert causes[:1] == ["unstable_connection"] and "dns_failure" not in causes


def test_a_resolver_silent_on_every_name_over_a_mildly_lossy_link_is_broken() -> None:
    # at 15 % per round trip five names all lost is 1 in some 100,000: the resolver
    assert "dns_failure" in _silent_system_resolver(15.0)


def test_the_http_summary_claims_no_portal_it_did_not_see(web: TcpServer) -> None:
    silent = TcpServer(idle(10.0))  # the portal check goes unanswered
    portal = f"http://127.0.0.1:{silent.port}/204"
    toml = _config("127.0.0.1", web.port) + f'[captive_portal]\nurl = "{portal}"\n'
    ctx = make_ctx(HttpProbe, toml)

    async def go() -> ProbeResult:
        asyncio.get_running_loop().call_later(0.5, ctx.publish, Fact.unstable_link())
        return await HttpProbe().run(ctx)

    try:
        result = asyncio.run(go())
    finally:
        silent.close()
    assert not result.findings, result.findings
    assert result.summary == "1/1 URLs answered; captive portal not checked.", result.summary
    assert result.details["captive_portal"]["not_waited"] == "unstable_link"
