"""The bandwidth probe in the network lab: shaped links measured against iperf3, a slow
link diagnosed as slow_connection, and bufferbloat seen under load.

The CLI runs in the phone namespace; the bandwidth server (tests/bandwidth_server.py) and
iperf3 run in the internet namespace on speed.cloudflare.com's lab address, so every byte
crosses the router's token bucket (tc tbf) exactly as iperf3's do.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests import bandwidth_server as server
from tests.lab import Lab
from tests.lab.addresses import PHONE_IF
from tests.lab.fixtures import lab, lab_session

pytestmark = pytest.mark.lab
FIXTURES = (lab, lab_session)  # registered here: no conftest imports them
DURATION = 3.0
STREAMS = 4


@pytest.fixture(scope="module")
def servers(lab_session: Lab) -> Iterator[None]:
    procs: list[subprocess.Popen[Any]] = [
        server.start_in_lab(lab_session),
        server.start_iperf3(lab_session),
    ]
    yield
    for proc in procs:
        server.stop(proc)


def run(lab: Lab, *args: str, **bandwidth: Any) -> tuple[int, dict[str, Any]]:
    settings = {
        "download_url": server.LAB_URL + "/__down?bytes={bytes}",
        "upload_url": server.LAB_URL + "/__up",
        "duration": DURATION,
        "streams": STREAMS,
        **bandwidth,
    }
    config = lab.write_config(bandwidth=settings)
    proc = lab.cli(
        "run", "--config", str(config), "--format", "json", *args, env=server.probe_env()
    )
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def iperf3(lab: Lab, seconds: float, *, reverse: bool = False) -> float:
    """iperf3's figure. Its server runs one test at a time and, on a busy machine, may
    still be closing the last one when the next starts ("the server is busy running a
    test"): that refusal is asked again; no measurement is ever repeated or discarded."""
    for _ in range(20):
        try:
            return server.iperf3(lab, seconds, reverse=reverse)
        except RuntimeError as error:
            if "busy" not in str(error):
                raise
            time.sleep(0.5)
    return server.iperf3(lab, seconds, reverse=reverse)


def bandwidth_of(doc: dict[str, Any]) -> dict[str, Any]:
    return next(p for p in doc["probes"] if p["id"] == "bandwidth")


# At 1 Mbit/s four streams share a ~12-packet queue: loss-recovery stalls make a 3 s
# figure vary by ±10 % (and a 3 s one by ±6 % at 10 Mbit/s): the default duration (8 s)
# averages them out, as it does for users.
SECONDS_PER_RATE = {1: 8.0, 10: 8.0, 50: 8.0}


#: Runs of ours per rate: the adaptive test ends a phase in 2.5-4 s once its figure holds
#: still, and the lab's small tbf queue makes four streams' 1 s rates wobble by ±10 %, so
#: one short run errs by up to ~7 %; the claim (and the bench) is the median of runs.
RUNS_PER_RATE = 3
#: iperf3's own runs per rate: at 1 Mbit/s its one stream in the small queue varies too
#: (single 8 s uploads read 0.925-0.96 of the link), so its figure is a median as well.
IPERF3_RUNS_PER_RATE = {1: 3}


@pytest.mark.parametrize("mbit", sorted(SECONDS_PER_RATE))
def test_shaped_rate_is_measured_as_iperf3_does(lab: Lab, servers: None, mbit: int) -> None:
    lab.set_rate(mbit)
    seconds = SECONDS_PER_RATE[mbit]
    probes = []
    for _ in range(RUNS_PER_RATE):
        _, doc = run(lab, "--only", "bandwidth", "--timeout", "60", duration=seconds)
        probes.append(bandwidth_of(doc))
    downs = [p["metrics"]["download_mbps"] for p in probes]
    ups = [p["metrics"]["upload_mbps"] for p in probes]
    down, up = statistics.median(downs), statistics.median(ups)
    # iperf3 as people run it (one stream), for as long as ours: its ramp is negligible at
    # the lab's sub-millisecond RTT, and one stream shares the small queue with nobody
    runs = IPERF3_RUNS_PER_RATE.get(mbit, 1)
    ref_down = statistics.median(iperf3(lab, seconds, reverse=True) for _ in range(runs))
    ref_up = statistics.median(iperf3(lab, seconds) for _ in range(runs))
    shown = f"ours {downs}/{ups} (medians {down:.3f}/{up:.3f}), iperf3 {ref_down:.3f}/{ref_up:.3f}"
    assert down / ref_down == pytest.approx(1.0, abs=0.05), shown
    assert up / ref_up == pytest.approx(1.0, abs=0.05), shown
    # no single run is far off: a stop that fired on a passing burst would show here
    for single in [*(d / ref_down for d in downs), *(u / ref_up for u in ups)]:
        assert single == pytest.approx(1.0, abs=0.15), shown
    # adaptive: the phases end once the figure is steady or the data budget is spent —
    # both within 8 s (issue 14's goal, a median like the figure's: on this busy machine
    # a phase whose figure a stall keeps moving runs on, 1 single run in 44 at 10 Mbit/s
    # took 9.3 s), and no run lets both phases run their whole ``duration``
    phases = [p["metrics"]["download_seconds"] + p["metrics"]["upload_seconds"] for p in probes]
    assert statistics.median(phases) <= 8.0 + 0.5, f"{phases} s for both phases; {shown}"
    for probe, phases_s in zip(probes, phases, strict=True):
        assert phases_s < 2 * seconds - 1.0, f"{phases_s:.1f} s for both phases; {shown}"
        assert probe["metrics"]["data_bytes"] <= 25e6, probe["metrics"]
        # a 100 ms queue is no bufferbloat worth reporting (1 Mbit/s of link is 0.96 of
        # goodput: below min_download_mbps, rightly)
        assert "bandwidth.bufferbloat" not in [f["code"] for f in probe["findings"]]


def test_300_kbit_link_is_slow_connection_first(lab: Lab, servers: None) -> None:
    lab.set_rate(0.3)
    code, doc = run(lab, "--only", "bandwidth")
    probe = bandwidth_of(doc)
    assert "bandwidth.low" in [f["code"] for f in probe["findings"]], probe
    assert doc["causes"][0]["id"] == "slow_connection", [
        (c["id"], c["evidence"]) for c in doc["causes"]
    ]
    assert doc["causes"][0]["article_section"] == 3
    assert code == 1


def test_deep_queue_under_load_is_bufferbloat(lab: Lab, servers: None) -> None:
    lab.set_rate(4, queue_ms=800)  # the buffer holds 800 ms of traffic before dropping
    code, doc = run(lab, "--only", "bandwidth")
    probe = bandwidth_of(doc)
    bloat = [f for f in probe["findings"] if f["code"] == "bandwidth.bufferbloat"]
    assert bloat, probe
    assert bloat[0]["data"]["added_ms"] > 250
    assert probe["metrics"]["responsiveness_rpm"] < probe["metrics"]["idle_rpm"] / 10
    assert doc["causes"][0]["id"] == "slow_connection"
    assert code == 1


def test_300_kbit_full_run_is_slow_connection_first(lab: Lab, servers: None) -> None:
    lab.set_rate(0.3)
    code, doc = run(lab)
    assert doc["causes"][0]["id"] == "slow_connection", [
        (c["id"], c["evidence"]) for c in doc["causes"]
    ]
    assert code == 1


def _wire_bytes(lab: Lab) -> int:
    """Bytes through the phone's interface both ways, every header included."""
    stats = f"/sys/class/net/{PHONE_IF}/statistics"
    proc = lab.run_in_phone(["cat", f"{stats}/rx_bytes", f"{stats}/tx_bytes"], check=True)
    return sum(int(n) for n in proc.stdout.split())


def test_data_budget_is_never_exceeded_on_a_fast_link(lab: Lab, servers: None) -> None:
    """2 MB on a 50 Mbit/s link: a third of a second of traffic. The bytes the probe
    moved stay within the budget, the bytes on the wire within it plus TCP/IP and HTTP
    headers and one chunk of slack, and the figures say they are lower bounds."""
    lab.set_rate(50)
    before = _wire_bytes(lab)
    _, doc = run(lab, "--only", "bandwidth", "--timeout", "60", duration=8.0, max_mb=2.0)
    wire = _wire_bytes(lab) - before
    probe = bandwidth_of(doc)
    budget = 2_000_000
    assert 0 < probe["metrics"]["data_bytes"] <= budget, probe["metrics"]
    assert wire <= budget * 1.05 + 64 * 1024, f"{wire} bytes on the wire"
    assert probe["details"]["download"]["end_reason"] == "budget", probe["details"]
    assert probe["details"]["download"]["lower_bound"] is True
    assert "≥" in probe["summary"], probe["summary"]
    assert doc["run"]["data_bytes"] >= probe["metrics"]["data_bytes"]


def test_a_steady_link_ends_each_phase_early(lab: Lab, servers: None) -> None:
    """10 Mbit/s, 8 s allowed per direction and data to spare: the figure is steady long
    before, and the phases end there."""
    lab.set_rate(10)
    _, doc = run(lab, "--only", "bandwidth", "--timeout", "60", duration=8.0)
    details = bandwidth_of(doc)["details"]
    for direction in ("download", "upload"):
        assert details[direction]["end_reason"] == "steady", details[direction]
        assert details[direction]["seconds"] < 6.0, details[direction]
