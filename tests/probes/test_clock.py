"""The ``clock`` probe: the device clock against loopback servers' ``Date`` headers,
reading the same requests as the http probe."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import pytest

from jmo_doctor.api import ProbeResult, Status
from probes._common.http import MEMO_KEY, Fetch
from probes.clock import ClockProbe, skew_of
from probes.http import HttpProbe
from tests.probes.servers import (
    LoopbackContext,
    TcpServer,
    closed_port,
    http_handler,
    make_ctx,
    now_date,
)


@pytest.fixture
def web() -> Iterator[TcpServer]:
    server = TcpServer(http_handler())
    yield server
    server.close()


def toml(*paths: str, port: int) -> str:
    targets = "".join(
        f'[[target]]\nname = "t{i}"\nhost = "127.0.0.1"\nurl = "http://127.0.0.1:{port}{p}"\n'
        for i, p in enumerate(paths)
    )
    return targets + f'[captive_portal]\nurl = "http://127.0.0.1:{port}/204"\n'


def run(*paths: str, port: int) -> ProbeResult:
    return asyncio.run(ClockProbe().run(make_ctx(ClockProbe, toml(*paths, port=port))))


def test_right_clock_passes(web: TcpServer) -> None:
    result = run("/ok", "/ok", port=web.port)
    assert result.status is Status.PASS
    assert abs(result.metrics["skew_s"]) < 2.0
    assert result.metrics["servers"] == 2.0


def test_servers_hours_behind_is_clock_skew(web: TcpServer) -> None:
    result = run("/date/-10800", "/date/-10800", "/ok", port=web.port)
    assert [f.code for f in result.findings] == ["clock.skew"]
    data = result.findings[0].data
    assert data["skew_s"] == pytest.approx(10800, abs=2)  # device minus servers
    assert data["servers"] == 3
    assert result.status is Status.FAIL


def test_no_date_headers_skips(web: TcpServer) -> None:
    assert run("/nodate", port=web.port).status is Status.SKIP
    assert run("/ok", port=closed_port()).status is Status.SKIP


def test_clock_and_http_share_one_set_of_requests() -> None:
    hits: list[str] = []
    serve = http_handler()

    def counting_handler(conn: socket.socket) -> None:
        hits.append("request")
        serve(conn)

    counting = TcpServer(counting_handler)
    try:
        # one run: both probes' contexts share the same RunShared (memo included)
        shared = make_ctx(HttpProbe, toml("/ok", port=counting.port))._shared
        http_ctx = LoopbackContext(shared, HttpProbe, {}, None, 1.0, 0.0)
        clock_ctx = LoopbackContext(shared, ClockProbe, {}, None, 1.0, 0.0)

        async def both() -> list[ProbeResult]:
            return list(
                await asyncio.gather(HttpProbe().run(http_ctx), ClockProbe().run(clock_ctx))
            )

        http_result, clock_result = asyncio.run(both())
    finally:
        counting.close()
    assert http_result.status is Status.PASS and clock_result.status is Status.PASS
    assert len(hits) == 2  # the target GET and the portal check; no second GET for the clock


def test_clock_fetches_by_itself_when_http_is_skipped(web: TcpServer) -> None:
    result = run("/date/600", port=web.port)
    assert [f.code for f in result.findings] == ["clock.skew"]
    assert result.findings[0].data["skew_s"] == pytest.approx(-600, abs=2)


def test_skew_uses_the_request_midpoint() -> None:
    now = time.time()
    # Date stamped 60 s behind; the request took 2 s, so the midpoint is now + 1
    fetch = Fetch("t", "u", status=200, date=now_date(-60), sent_at=now, received_at=now + 2)
    skew = skew_of(fetch)
    assert skew is not None and skew == pytest.approx(61.0, abs=1.0)
    assert skew_of(Fetch("t", "u", date="garbage", sent_at=now, received_at=now)) is None
    assert skew_of(Fetch("t", "u", sent_at=now, received_at=now)) is None
    assert MEMO_KEY == "http:fetch"
