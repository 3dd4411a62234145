"""The runner: concurrency, guarded crashes and overruns, the hard deadline, stable order."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import replace
from typing import Any

import pytest

from jmo_doctor.api import ProbeContext, Status
from jmo_doctor.runner import run_probes
from tests.helpers import FuncProbe, loaded, make_shared


async def _sleep_then_pass(ctx: ProbeContext) -> str:
    await asyncio.sleep(0.4)
    return "slept"


def test_probes_run_concurrently_and_keep_their_order() -> None:
    probes = [loaded(FuncProbe(f"p{i}", _sleep_then_pass)) for i in range(5)]
    started = time.monotonic()
    results = run_probes(probes, make_shared(timeout=5))
    elapsed = time.monotonic() - started
    assert [r.id for r in results] == ["p0", "p1", "p2", "p3", "p4"]
    assert all(r.status is Status.PASS for r in results)
    assert elapsed < 1.2, f"5 probes of 0.4 s took {elapsed:.2f} s: not concurrent"
    assert all(0.35 < r.duration_s < 1.0 for r in results)


def test_a_crash_becomes_an_error_result() -> None:
    async def boom(ctx: ProbeContext) -> str:
        raise ValueError("bad answer from server")

    good = loaded(FuncProbe("good", _sleep_then_pass))
    results = run_probes([loaded(FuncProbe("bad", boom)), good], make_shared(timeout=5))
    bad = results[0]
    assert bad.status is Status.ERROR
    assert [f.code for f in bad.findings] == ["probe.crashed"]
    assert "ValueError: bad answer from server" in bad.findings[0].message
    assert results[1].status is Status.PASS


def test_a_probe_returning_the_wrong_type_is_reported() -> None:
    class Wrong(FuncProbe):
        async def run(self, ctx: ProbeContext):  # type: ignore[no-untyped-def]
            return {"status": "pass"}

    result = run_probes([loaded(Wrong("wrong", _sleep_then_pass))], make_shared(timeout=5))[0]
    assert result.findings[0].code == "probe.crashed"


def test_per_probe_timeout() -> None:
    async def forever(ctx: ProbeContext) -> str:
        await asyncio.sleep(60)
        return "never"

    started = time.monotonic()
    result = run_probes([loaded(FuncProbe("slow", forever), timeout=0.3)], make_shared(timeout=10))
    assert time.monotonic() - started < 2
    assert result[0].status is Status.ERROR
    assert result[0].findings[0].code == "probe.timeout"


async def _library_timeout(ctx: ProbeContext) -> str:
    # what a blocking library lets escape: its socket's own timeout (socket.timeout)
    left, right = socket.socketpair()
    with left, right:
        left.settimeout(0.05)
        left.recv(1)  # nobody ever writes
    return "never"


async def _bare_timeout(ctx: ProbeContext) -> str:
    await asyncio.sleep(0)
    raise TimeoutError


async def _own_wait_for(ctx: ProbeContext) -> str:
    # the probe's own, shorter deadline on something of its own: not the runner's
    await asyncio.wait_for(asyncio.sleep(30), timeout=0.05)
    return "never"


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (_library_timeout, "TimeoutError: timed out"),
        (_bare_timeout, "TimeoutError"),
        (_own_wait_for, "TimeoutError"),
    ],
    ids=["socket-timeout-from-a-library", "bare-timeout-error", "probe-own-wait-for"],
)
def test_a_timeout_error_raised_by_the_probe_is_a_crash_not_the_deadline(
    body: Any, shown: str
) -> None:
    started = time.monotonic()
    result = run_probes([loaded(FuncProbe("lib", body))], make_shared(timeout=10))[0]
    assert time.monotonic() - started < 2
    assert result.status is Status.ERROR
    assert [f.code for f in result.findings] == ["probe.crashed"]
    assert result.findings[0].data["error"] == shown
    assert "did not finish" not in result.summary


def test_the_runners_deadline_is_still_a_timeout_with_the_time_it_took() -> None:
    async def forever(ctx: ProbeContext) -> str:
        await asyncio.sleep(60)
        return "never"

    result = run_probes([loaded(FuncProbe("slow", forever))], make_shared(timeout=0.8))[0]
    assert [f.code for f in result.findings] == ["probe.timeout"]
    assert 0.3 < result.findings[0].data["seconds"] < 1.0  # never "within 0.0 s"


def test_deadline_holds_even_when_a_probe_blocks_the_event_loop() -> None:
    async def blocks_loop(ctx: ProbeContext) -> str:
        time.sleep(8)  # noqa: ASYNC251 -- a badly written plug-in that blocks the loop
        return "late"

    async def stuck_thread(ctx: ProbeContext) -> str:
        return str(await ctx.to_thread(threading.Event().wait, 30))

    probes = [
        loaded(FuncProbe("fine", _sleep_then_pass)),
        loaded(FuncProbe("blocker", blocks_loop)),
        loaded(FuncProbe("stuck", stuck_thread)),
    ]
    started = time.monotonic()
    results = run_probes(probes, make_shared(timeout=1.5))
    elapsed = time.monotonic() - started
    assert elapsed < 1.5 + 1.0, f"run took {elapsed:.2f} s, past deadline + 1 s"
    codes = {r.id: [f.code for f in r.findings] for r in results}
    assert codes["blocker"] == ["probe.timeout"]
    assert codes["stuck"] == ["probe.timeout"]


def test_once_shares_work_between_probes() -> None:
    calls: list[int] = []

    async def fetch() -> int:
        calls.append(1)
        await asyncio.sleep(0.1)
        return 42

    async def user(ctx: ProbeContext) -> str:
        return str(await ctx.once("shared", fetch))

    probes = [loaded(FuncProbe(f"u{i}", user)) for i in range(3)]
    results = run_probes(probes, make_shared(timeout=5))
    assert [r.summary for r in results] == ["42", "42", "42"]
    assert len(calls) == 1


def test_slow_probes_start_after_the_others_finish() -> None:
    finished: dict[str, float] = {}
    started: dict[str, float] = {}

    def body(name: str) -> Any:
        async def run(ctx: ProbeContext) -> str:
            started[name] = time.monotonic()
            await asyncio.sleep(0.3)
            finished[name] = time.monotonic()
            return name

        return run

    quick = [loaded(FuncProbe(f"q{i}", body(f"q{i}"))) for i in range(2)]
    slow = replace(loaded(FuncProbe("bw", body("bw"))), slow=True)
    results = run_probes([*quick, slow], make_shared(timeout=5))
    assert [r.status for r in results] == [Status.PASS] * 3
    assert started["bw"] >= max(finished["q0"], finished["q1"])
