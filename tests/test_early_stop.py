"""Early stop: the slow wave (bandwidth) is skipped, and says why, once the first wave
made a path fault certain; evidence that is not decisive still waits for it."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from jmo_doctor.api import Decided, Fact, Finding, ProbeContext, ProbeResult, Status
from jmo_doctor.context import ProbeRunContext
from jmo_doctor.early import DECISIVE_CAUSES, certain_cause
from jmo_doctor.runner import run_probes
from tests.helpers import FuncProbe, loaded, make_context, make_shared
from tests.lab import Lab

CLI = str(Path(sys.executable).parent / "jmo-doctor")

SLOW_S = 1.5


def _reporting(probe_id: str, *findings: Finding, status: Status = Status.FAIL) -> FuncProbe:
    async def body(ctx: ProbeContext) -> ProbeResult:
        return ProbeResult(probe_id, status, probe_id, findings)

    return FuncProbe(probe_id, body)


async def _slow_measurement(ctx: ProbeContext) -> str:
    await asyncio.sleep(SLOW_S)
    return "measured"


def _run(first: FuncProbe, lang: str = "en") -> tuple[dict[str, ProbeResult], float]:
    slow = replace(loaded(FuncProbe("bandwidth", _slow_measurement)), slow=True)
    began = time.monotonic()
    results = run_probes([loaded(first), slow], make_shared(timeout=10, lang=lang))
    return {r.id: r for r in results}, time.monotonic() - began


def _portal(**data: Any) -> Finding:
    return Finding("http.captive_portal", "portal", "captive", {"status": 302, **data})


def test_a_captive_portal_makes_the_bandwidth_test_unneeded() -> None:
    results, elapsed = _run(_reporting("http", _portal()))
    skipped = results["bandwidth"]
    assert skipped.status is Status.SKIP
    assert skipped.findings[0].code == "probe.skipped"
    assert skipped.findings[0].data == {"reason": "not_needed", "cause": "captive_portal"}
    assert skipped.summary.startswith("Not needed: the cause is already certain (")
    assert elapsed < SLOW_S, "the run waited for a measurement it did not need"


def test_the_reason_is_said_in_indonesian_too() -> None:
    results, _ = _run(_reporting("http", _portal()), lang="id")
    assert results["bandwidth"].summary.startswith("Tidak diperlukan: penyebabnya sudah pasti (")


def test_an_offline_device_needs_no_bandwidth_test() -> None:
    offline = Finding("system.offline", "no route", None, {"reason": "no_route"})
    results, elapsed = _run(_reporting("system", offline))
    assert results["bandwidth"].findings[0].data["cause"] == "offline"
    assert elapsed < SLOW_S


def test_evidence_that_is_not_decisive_still_waits() -> None:
    # the device clock is off: a fault of the device, not the path; the link may still be
    # slow besides, so the bandwidth test keeps its say
    skew = Finding("clock.skew", "skew", None, {"skew_s": -3 * 3600.0})
    results, elapsed = _run(_reporting("clock", skew))
    assert results["bandwidth"].status is Status.PASS
    assert results["bandwidth"].summary == "measured"
    assert elapsed >= SLOW_S


def test_an_unstable_path_still_waits_for_the_bandwidth_test() -> None:
    # loss and jitter may be the slow link's own doing: only the bandwidth test tells
    loss = [
        Finding("latency.loss", "loss", name, {"loss_pct": 30.0})
        for name in ("bpjs-www", "bpjs-sso", "google")
    ]
    results, elapsed = _run(_reporting("tcp", *loss, status=Status.WARN))
    assert results["bandwidth"].summary == "measured"
    assert elapsed >= SLOW_S


def test_a_healthy_first_wave_still_measures() -> None:
    results, elapsed = _run(_reporting("dns", status=Status.PASS))
    assert results["bandwidth"].summary == "measured" and elapsed >= SLOW_S


def test_only_critical_high_confidence_path_faults_are_decisive() -> None:
    # device and app causes, the slow link itself and "nothing found" never are
    assert not {"clock_skew", "unstable_connection", "slow_connection"} & DECISIVE_CAUSES
    assert "kpj_not_linked" not in DECISIVE_CAUSES
    portal = ProbeResult("http", Status.FAIL, "", (_portal(),))
    assert certain_cause([portal], make_shared().config.targets, "en") is not None
    assert certain_cause([], make_shared().config.targets, "en") is None


# --- facts published while the run goes on ---------------------------------------------------


def test_unless_returns_the_work_when_no_fact_comes() -> None:
    async def go() -> str:
        ctx = make_context()
        return await ctx.unless(asyncio.sleep(0.01, "done"), Fact.unreachable("bpjs-www"))

    assert asyncio.run(go()) == "done"


def test_a_published_fact_ends_the_wait_at_once() -> None:
    async def go() -> tuple[str, float]:
        shared = make_shared()
        ctx = ProbeRunContext(shared, "tls", {})
        other = ProbeRunContext(shared, "tcp", {})  # another probe of the same run

        async def tcp_finds_it_unreachable() -> None:
            await asyncio.sleep(0.1)
            other.publish(Fact.unreachable("bpjs-www"))

        began = time.monotonic()
        publisher = asyncio.ensure_future(tcp_finds_it_unreachable())
        try:
            await ctx.unless(asyncio.sleep(5.0), Fact.unreachable("bpjs-www"))
        except Decided as decided:
            await publisher
            return str(decided), time.monotonic() - began
        return "waited", time.monotonic() - began

    said, elapsed = asyncio.run(go())
    assert said == "not needed: unreachable (bpjs-www)"
    assert elapsed < 1.0


def test_a_fact_about_another_target_does_not_end_the_wait() -> None:
    async def go() -> str:
        ctx = make_context()
        ctx.publish(Fact.unreachable("google"))
        return await ctx.unless(asyncio.sleep(0.2, "done"), Fact.unreachable("bpjs-www"))

    assert asyncio.run(go()) == "done"


def test_a_fact_known_before_skips_the_work_without_starting_it() -> None:
    started: list[bool] = []

    async def work() -> str:
        started.append(True)
        return "ran"

    async def go() -> str:
        ctx = make_context()
        ctx.publish(Fact.unreachable("bpjs-www"))
        assert ctx.known(Fact.unreachable("bpjs-www"))
        try:
            return await ctx.unless(work(), Fact.unreachable("bpjs-www"))
        except Decided as decided:
            return str(decided.fact)

    assert asyncio.run(go()) == "unreachable (bpjs-www)"
    assert not started


# --- an unstable link, certain: the bandwidth test only tells slow from not slow -----------


def _lossy_tcp(loss_pct: float) -> FuncProbe:
    loss = [
        Finding("latency.loss", "loss", name, {"loss_pct": loss_pct})
        for name in ("bpjs-www", "bpjs-sso", "google")
    ]
    return _reporting("tcp", *loss, status=Status.WARN)


def _unstable_known(first: FuncProbe) -> bool:
    """Whether the slow probe, run after ``first``, was told the link is unstable."""
    told: list[bool] = []

    async def bandwidth(ctx: ProbeContext) -> ProbeResult:
        told.append(ctx.known(Fact.unstable_link()))
        return ProbeResult("bandwidth", Status.PASS, "measured")

    slow = replace(loaded(FuncProbe("bandwidth", bandwidth)), slow=True)
    run_probes([loaded(first), slow], make_shared(timeout=10))
    return told == [True]


def test_loss_far_past_the_threshold_tells_the_slow_probe() -> None:
    assert _unstable_known(_lossy_tcp(30.0))  # six times the default 5 %


def test_loss_just_past_the_threshold_does_not() -> None:
    # 7 % is unstable, but not beyond doubt: the bandwidth test keeps its full say
    assert not _unstable_known(_lossy_tcp(6.0))


def test_far_loss_on_one_target_alone_does_not() -> None:
    one = Finding("latency.loss", "loss", "bpjs-www", {"loss_pct": 60.0})
    assert not _unstable_known(_reporting("tcp", one, status=Status.WARN))


def test_far_jitter_tells_it_too() -> None:
    jitter = [
        Finding("latency.jitter", "jitter", name, {"jitter_ms": 150.0})
        for name in ("bpjs-www", "google")
    ]
    assert _unstable_known(_reporting("tcp", *jitter, status=Status.WARN))


# --- in the lab: the real CLI, a full run (bandwidth included) --------------------------------

#: The verdict on an unstable link within this (issue 14), start-up included.
VERDICT_S = 10.0


def _full_run(lab: Lab) -> tuple[dict[str, Any], int, float]:
    path = lab.write_config(bandwidth={"duration": 8.0}, latency={"samples": 10})
    argv = [CLI, "run", "--config", str(path), "--format", "json", "--no-history"]
    argv += ["--timeout", "20"]
    began = time.perf_counter()
    proc = lab.run_in_phone(argv, timeout=60)
    seconds = time.perf_counter() - began
    assert "Traceback" not in proc.stderr, proc.stderr
    report: dict[str, Any] = json.loads(proc.stdout)
    return report, proc.returncode, seconds


def _probe(report: dict[str, Any], probe_id: str) -> dict[str, Any]:
    return next(p for p in report["probes"] if p["id"] == probe_id)


def test_a_jittery_link_gets_its_verdict_without_the_full_speed_test(lab: Lab) -> None:
    # 300 ms round trips swinging by ±240 ms: the first wave makes it certain; the speed
    # test still says whether the link is slow besides, and no more
    lab.set_delay(150, jitter_ms=120, reorder=True)
    report, code, seconds = _full_run(lab)
    causes = [c["id"] for c in report["causes"]]
    bandwidth = _probe(report, "bandwidth")
    assert causes[:1] == ["unstable_connection"] and code == 1, (causes, bandwidth)
    assert bandwidth["details"].get("unstable_link") is True, bandwidth
    assert seconds <= VERDICT_S, (seconds, bandwidth)


def test_a_lossy_link_gets_its_verdict_in_time(lab: Lab) -> None:
    # 30 % of the packets lost each way: tcp makes the link certain within seconds; what
    # was still waiting on it stops, and the speed test only asks whether it is slow too
    lab.set_loss(30)
    report, code, seconds = _full_run(lab)
    causes = [c["id"] for c in report["causes"]]
    shown = (causes, {p["id"]: (p["duration_s"], p["summary"]) for p in report["probes"]})
    assert causes[:1] == ["unstable_connection"] and code == 1, shown
    assert seconds <= VERDICT_S, (seconds, shown)


def test_a_healthy_link_still_gets_the_whole_speed_test(lab: Lab) -> None:
    report, _, _ = _full_run(lab)
    bandwidth = _probe(report, "bandwidth")
    assert "unstable_link" not in bandwidth["details"], bandwidth
    assert bandwidth["details"]["upload"] is not None, bandwidth
