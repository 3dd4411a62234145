"""Issue "Health checks from cron", at the CLI level: the real `jmo-doctor` in the lab's
phone namespace, the way cron runs it — history filled by real runs against a network
that changes, a damaged database, the run lock, the crontab line, prom output, a webhook
and a healthchecks ping to receivers in the lab. Module-level tests of each piece are in
test_history, test_lock, test_schedule, test_notify and test_prom_nagios.

The soak (hundreds of runs in one process) is bench/soak.py; its 50-run version below is
marked slow and runs only with JMO_SOAK=1.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shlex
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from jmo_doctor import catalogue
from jmo_doctor.monitor import history as store
from jmo_doctor.monitor.schedule import CRONTAB_VARIABLE, MARKER
from jmo_doctor.paths import HISTORY_FILE, LOCK_FILE, SCHEDULE_LOG
from jmo_doctor.report import prom
from jmo_doctor.sparkline import BARS
from tests.helpers import write_fake_crontab
from tests.lab import Lab
from tests.lab import addresses as A

pytestmark = pytest.mark.lab

JMO_DOCTOR = str(Path(sys.executable).parent / "jmo-doctor")
#: A cron health check kept short: no bandwidth, store, TLS or HTTP probes.
QUICK = ("--quick", "--only", "system,dns,tcp")


def data_home(lab: Lab) -> Path:
    """$JMO_DOCTOR_HOME of every command run in the phone (emptied between tests)."""
    return Path(lab.phone_env()["JMO_DOCTOR_HOME"])


def config(lab: Lab) -> Path:
    # 2 handshakes per target; latency above 100 ms counts as high (a +160 ms link is slow)
    return lab.write_config(latency={"samples": 2, "high_ms": 100.0})


def jmo(lab: Lab, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    proc = lab.run_in_phone([JMO_DOCTOR, *args], timeout=timeout)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def check(lab: Lab, cfg: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    """One quick health check with its JSON report: (exit code, report, stderr)."""
    proc = jmo(lab, "run", *QUICK, "--config", str(cfg), "--format", "json", *args)
    assert proc.stdout.startswith("{"), (proc.returncode, proc.stderr)
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def history_json(lab: Lab, *args: str) -> dict[str, Any]:
    proc = jmo(lab, "history", "--format", "json", *args)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


# --- 30 runs against a changing network -----------------------------------------------------

#: (lab set-up, runs, status, exit code, first cause): 30 runs in all. The health check
#: runs only system, dns and tcp: a healthy run claims nothing about the rest, so it names
#: no cause (not the residual kpj_not_linked of a full run, SPEC §3).
PHASES: tuple[tuple[str, int, str, int, str | None], ...] = (
    ("healthy", 8, "ok", 0, None),
    ("delay-25", 6, "ok", 0, None),  # +50 ms round trip: still fine
    ("delay-80", 4, "warning", 1, "unstable_connection"),  # +160 ms: above high_ms
    ("bpjs-blackholed", 3, "critical", 2, "bpjs_unreachable"),
    ("healthy", 9, "ok", 0, None),
)
#: The BPJS round trip (ms) each phase must show in the history: (low, high) or None.
RTT_WINDOW: dict[str, tuple[float, float] | None] = {
    "healthy": (0.0, 10.0),
    "delay-25": (45.0, 80.0),
    "delay-80": (155.0, 200.0),
    "bpjs-blackholed": None,  # nothing measured: a gap in the trend, 100 % loss
}


def set_phase(lab: Lab, name: str) -> None:
    lab.unblock()
    lab.set_delay({"delay-25": 25, "delay-80": 80}.get(name, 0))
    if name == "bpjs-blackholed":
        lab.blackhole(*lab.bpjs_hosts)


def test_thirty_runs_fill_the_history_and_show_the_trends(lab: Lab) -> None:
    cfg = config(lab)
    expected: list[tuple[str, str, int, str | None]] = []  # (phase, status, exit, 1st cause)
    run_ids: list[str] = []
    for name, runs, status, code, cause in PHASES:
        set_phase(lab, name)
        for _ in range(runs):
            got, doc, stderr = check(lab, cfg)
            assert (got, doc["status"]) == (code, status), (name, stderr)
            run_ids.append(doc["run"]["id"])
            expected.append((name, status, code, cause))
    set_phase(lab, "healthy")
    assert len(expected) == 30

    listed = history_json(lab)
    runs = listed["runs"]
    assert listed["summary"]["runs"] == len(runs) == 30
    assert [r["run_id"] for r in runs] == run_ids  # every run, once, oldest first
    assert [r["status"] for r in runs] == [e[1] for e in expected]
    assert [r["exit_code"] for r in runs] == [e[2] for e in expected]
    assert [r["first_cause"] for r in runs] == [e[3] for e in expected]
    times = [r["started_at"] for r in runs]
    assert times == sorted(times)
    for (phase, *_), entry in zip(expected, runs, strict=True):
        metrics, window = entry["metrics"], RTT_WINDOW[phase]
        if window is None:
            assert metrics["bpjs_rtt_ms"] is None and metrics["bpjs_loss_pct"] == 100.0
        else:
            low, high = window
            assert low <= metrics["bpjs_rtt_ms"] <= high, (phase, metrics)
            assert metrics["bpjs_loss_pct"] == 0.0
        assert metrics["download_mbps"] is None  # --quick: no bandwidth probe
    summary = listed["summary"]
    assert summary["status_share"] == {
        "ok": pytest.approx(23 / 30),
        "warning": pytest.approx(4 / 30),
        "critical": pytest.approx(3 / 30),
        "unknown": 0.0,
    }
    rtt = summary["metrics"]["bpjs_rtt_ms"]
    assert rtt["count"] == 27 and rtt["min"] < 10 and rtt["median"] < 10
    assert 155 <= rtt["max"] <= 200
    assert summary["metrics"]["bpjs_loss_pct"]["max"] == 100.0
    assert summary["metrics"]["download_mbps"] == {"count": 0}

    assert [r["run_id"] for r in history_json(lab, "--limit", "5")["runs"]] == run_ids[-5:]

    text = jmo(lab, "history", "--format", "text", "--lang", "id")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0] == "Riwayat: 30 pemeriksaan"
    table = lines[3:33]
    words = {"ok": "OK", "warning": "PERINGATAN", "critical": "KRITIS"}
    for (_phase, status, _code, cause), line in zip(expected, table, strict=True):
        shown_cause = catalogue.text(cause, "id").title if cause else "tidak ada masalah ditemukan"
        assert line.split("  ", 1)[1].split() == [*words[status].split(), *shown_cause.split()]
    [trend] = [line for line in lines if line.startswith("  Latensi BPJS (ms)  ")]
    spark = trend[len("  Latensi BPJS (ms)  ") :][:30]
    levels = {
        phase: {spark[i] for i, e in enumerate(expected) if e[0] == phase} for phase in RTT_WINDOW
    }
    assert levels["healthy"] == {BARS[0]}
    assert levels["bpjs-blackholed"] == {" "}  # not measured: a gap, not a zero
    assert levels["delay-80"] <= set(BARS[-2:])
    assert levels["delay-25"] <= set(BARS[1:-2])  # in between
    assert trend.rstrip().endswith(f"maks {rtt['max']:.0f}")
    [share] = [line for line in lines if line.startswith("  Status ")]
    assert " ".join(share.split()) == "Status OK 77% (23) · PERINGATAN 13% (4) · KRITIS 10% (3)"

    english = jmo(lab, "history", "--lang", "en").stdout
    assert english.startswith("History: 30 runs") and "OK 77% (23)" in english


def test_a_database_truncated_in_the_middle_is_recovered_from(lab: Lab) -> None:
    cfg = config(lab)
    for _ in range(3):
        assert check(lab, cfg)[0] == 0
    path = data_home(lab) / HISTORY_FILE
    with contextlib.closing(sqlite3.connect(path)) as db:  # the WAL into the file first
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = path.stat().st_size
    with path.open("r+b") as stream:
        stream.truncate(size // 2)
    damaged = path.read_bytes()

    shown = jmo(lab, "history", "--lang", "en")
    assert shown.returncode == 3 and shown.stdout == ""
    assert shown.stderr.startswith("jmo-doctor: error: the history database ")
    assert str(path) in shown.stderr and "damaged" in shown.stderr
    assert "the next run moves it aside" in shown.stderr

    code, doc, stderr = check(lab, cfg)
    assert code == 0  # the report is unaffected; the history starts again
    # said in Indonesian, the run's language
    assert "rusak" in stderr and "dipindahkan ke history.sqlite3.corrupt-" in stderr
    [aside] = [p for p in path.parent.glob(HISTORY_FILE + ".corrupt-*") if "-wal" not in p.name]
    assert aside.read_bytes() == damaged  # kept as it was, for inspection
    assert [r["run_id"] for r in history_json(lab)["runs"]] == [doc["run"]["id"]]
    assert "rusak" not in check(lab, cfg)[2]
    assert len(history_json(lab)["runs"]) == 2


# --- one run at a time -----------------------------------------------------------------------


def test_two_concurrent_runs_one_exits_3_naming_the_lock(lab: Lab) -> None:
    cfg = config(lab)
    lab.blackhole(*lab.bpjs_hosts)  # the first run waits on timeouts while holding the lock
    lock = data_home(lab) / LOCK_FILE
    first = lab.popen_in(
        "phone",
        [JMO_DOCTOR, "run", *QUICK, "--config", str(cfg), "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while not (lock.exists() and lock.read_text().strip()):
            assert first.poll() is None and time.monotonic() < deadline, "the lock was not taken"
            time.sleep(0.02)
        holder = int(lock.read_text())
        assert holder == first.pid  # `ip netns exec` execs: the pid is the CLI's own

        second = jmo(lab, "run", *QUICK, "--config", str(cfg), "--format", "json", "--lang", "en")
        assert first.poll() is None, "the first run ended before the second was refused"
        out, err = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    # a monitor reading JSON still gets a report: status unknown, with the reason (SPEC §3)
    refused = json.loads(second.stdout)
    assert second.returncode == refused["exit_code"] == 3 and refused["status"] == "unknown"
    assert refused["probes"] == [] and "another jmo-doctor run" in refused["error"]
    assert second.stderr == (
        f"jmo-doctor: error: another jmo-doctor run (pid {holder}) is in progress "
        f"(lock file {lock}); wait for it to finish, or lengthen the schedule's interval\n"
    )
    assert sorted([first.returncode, second.returncode]) == [2, 3]  # exactly one exits 3
    assert json.loads(out)["causes"][0]["id"] == "bpjs_unreachable", err
    assert lock.read_text() == ""  # released and emptied: no stale pid to report later

    assert len(history_json(lab)["runs"]) == 1  # the refused run recorded nothing
    lab.unblock()
    assert check(lab, cfg)[0] == 0  # the lock is free again
    assert len(history_json(lab)["runs"]) == 2


# --- the crontab line -------------------------------------------------------------------------

# What the user already has in the crontab: every byte of it must survive.
EXISTING = (
    "# m h  dom mon dow   command\n"
    "MAILTO=ops@example.invalid\n"
    "\n"
    "*/5 * * * * /usr/local/bin/backup --quiet  \n"
    "@reboot\tsleep 60 && echo 'up' | logger\n"
    "0 3 * * 1 date +\\%F >> /tmp/weekly.log  # pekerjaan mingguan ✓\n"
).encode()


def test_schedule_install_twice_one_line_that_runs_and_remove_leaves_the_rest(
    lab: Lab, tmp_path: Path
) -> None:
    fake, table = write_fake_crontab(tmp_path, "fake crontab")
    table.write_bytes(EXISTING)
    cfg = config(lab)
    env = {CRONTAB_VARIABLE: shlex.quote(str(fake))}

    def schedule(*args: str) -> subprocess.CompletedProcess[str]:
        proc = lab.run_in_phone([JMO_DOCTOR, "schedule", *args], env=env)
        assert proc.returncode == 0, proc.stderr
        return proc

    install = ("install", "--every", "15m", *QUICK, "--config", str(cfg))
    schedule(*install)
    schedule(*install)
    content = table.read_bytes()
    ours = [line for line in content.decode().splitlines() if line.endswith(MARKER)]
    assert len(ours) == 1
    assert content == EXISTING + (ours[0] + "\n").encode()
    assert ours[0].startswith("*/15 * * * * ")
    assert schedule("status").stdout.startswith("terpasang (crontab): */15 * * * * ")

    # Run the line as cron would: its command through sh, in cron's bare environment.
    command = ours[0].split(None, 5)[5][: -len(MARKER)].replace("\\%", "%")
    ran = lab.run_in_phone(["env", "-i", "PATH=/usr/bin:/bin", "sh", "-c", command])
    assert ran.returncode == 0 and ran.stdout == ran.stderr == ""  # all of it in the log
    log = (data_home(lab) / SCHEDULE_LOG).read_text()
    assert log.rstrip().endswith("(kode keluar 0)")
    [entry] = history_json(lab)["runs"]
    assert entry["status"] == "ok"

    assert schedule("remove").stdout.strip() == "jadwal dihapus dari crontab"
    assert table.read_bytes() == EXISTING  # byte for byte
    assert schedule("remove").stdout.strip() == "tidak ada jadwal jmo-doctor yang terpasang"
    assert table.read_bytes() == EXISTING
    assert schedule("status").stdout.strip() == "tidak ada jadwal jmo-doctor yang terpasang"


# --- prom output ------------------------------------------------------------------------------

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse_prom(text: str) -> Series:
    series: Series = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            assert key not in series, f"duplicate series {key}"
            series[key] = sample.value
    return series


def test_prom_output_parses_and_equals_the_runs_json_report(lab: Lab) -> None:
    """`report show` renders text, json and markdown only, so prom and JSON cannot both
    come from one saved report through the CLI. The run's own JSON is the one the
    history keeps (the whole redacted report): the prom output of a run is compared with
    that run's history entry."""
    cfg = config(lab)
    lab.set_delay(80)  # findings, a cause and real round trips, not zeros
    proc = jmo(lab, "run", *QUICK, "--config", str(cfg), "--format", "prom")
    assert proc.returncode == 1, proc.stderr
    series = parse_prom(proc.stdout)
    [row] = store.query(data_home(lab), limit=None, with_reports=True)
    doc = row.report
    assert doc is not None and doc["exit_code"] == 1

    def value(name: str, **labels: str) -> float:
        return series[("jmo_doctor_" + name, frozenset(labels.items()))]

    def names(name: str) -> set[frozenset[tuple[str, str]]]:
        return {labels for (n, labels) in series if n == "jmo_doctor_" + name}

    assert value("up") == 1 and value("exit_code") == doc["exit_code"]
    for status in ("ok", "warning", "critical", "unknown"):
        assert value("status", status=status) == (status == doc["status"])
    started = datetime.fromisoformat(doc["run"]["started_at"].replace("Z", "+00:00"))
    assert value("last_run_timestamp_seconds") == pytest.approx(started.timestamp(), abs=1e-3)
    assert value("run_duration_seconds") == doc["run"]["duration_s"]
    assert (
        value("info", version=doc["tool"]["version"], platform=doc["environment"]["platform"]) == 1
    )

    probes = {p["id"]: p for p in doc["probes"]}
    assert set(probes) == {"system", "dns", "tcp"}
    assert names("probe_status") == {
        frozenset({"probe": pid, "status": p["status"]}.items()) for pid, p in probes.items()
    }
    metrics = {(pid, k): v for pid, p in probes.items() for k, v in p["metrics"].items()}
    assert len(metrics) > 20
    exported = {
        (pid, k): (prom.probe_unit(k), v * prom.probe_unit(k)[2]) for (pid, k), v in metrics.items()
    }
    assert {key for key in series if key[0].startswith("jmo_doctor_probe_metric")} == {
        ("jmo_doctor_probe_metric" + unit, frozenset({"probe": pid, "metric": metric}.items()))
        for (pid, _), ((unit, metric, _), _) in exported.items()
    }
    for (pid, _), ((unit, metric, _), number) in exported.items():
        got = value("probe_metric" + unit, probe=pid, metric=metric)
        assert got == pytest.approx(number, rel=1e-12)
    for pid, probe in probes.items():
        assert value("probe_duration_seconds", probe=pid) == probe["duration_s"]
        assert value("probe_success", probe=pid) == (probe["status"] in ("pass", "warn"))
        counts: dict[tuple[str, str], int] = {}
        for finding in probe["findings"]:
            key = (finding["code"], finding["target"] or "")
            counts[key] = counts.get(key, 0) + 1
        for (code, target), count in counts.items():
            assert value("finding", probe=pid, code=code, target=target) == count
    findings = sum(len(p["findings"]) for p in probes.values())
    assert findings >= 3
    assert sum(v for (n, _), v in series.items() if n == "jmo_doctor_finding") == findings

    tcp = probes["tcp"]["metrics"]
    targets = {key.rsplit(".", 1)[0] for key in tcp}
    assert targets == {"bpjs-www", "bpjs-sso", "bpjs-lapakasik", "google", "gstatic"}
    for target in targets:
        role = "bpjs" if target.startswith("bpjs") else "reference"
        for stat, (gauge, _) in prom.RTT_GAUGES.items():
            got = value(gauge, target=target, role=role)
            assert got == pytest.approx(tcp[f"{target}.{stat}"] / 1000, rel=1e-12)
            assert 0.155 <= got <= 0.2  # the +160 ms link
        loss = value("tcp_loss_ratio", target=target, role=role)
        assert loss == pytest.approx(tcp[f"{target}.loss_pct"] / 100, rel=1e-12)
        assert value("tcp_jitter_seconds", target=target, role=role) == pytest.approx(
            tcp[f"{target}.jitter_ms"] / 1000, rel=1e-12
        )
    assert names("cause") == {
        frozenset({"cause": c["id"], "confidence": c["confidence"]}.items()) for c in doc["causes"]
    }
    assert doc["causes"][0]["id"] == "unstable_connection"
    assert "jmo_doctor_download_bytes_per_second" not in {n for n, _ in series}  # not measured


# --- webhook and healthchecks ping to receivers in the lab -----------------------------------

RECEIVER = textwrap.dedent(
    """\
    import http.server, json, socketserver, sys
    plan = json.loads(sys.argv[1])  # path -> statuses to answer before 200
    log = open(sys.argv[2], "a")
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            queue = plan.get(self.path, [])
            status = queue.pop(0) if queue else 200
            log.write(json.dumps({"path": self.path, "status": status,
                                  "type": self.headers.get("Content-Type"),
                                  "body": body.decode("utf-8")}) + "\\n")
            log.flush()
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
        def log_message(self, *args):
            pass
    # not HTTPServer: its bind looks the host name up (getfqdn), a DNS query from the lab
    server = socketserver.ThreadingTCPServer((sys.argv[3], 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()
    """
)

Receiver = Callable[[dict[str, list[int]]], tuple[str, Callable[[], list[dict[str, Any]]]]]


@pytest.fixture
def receiver(lab: Lab, tmp_path: Path) -> Iterator[Receiver]:
    """Starts an HTTP receiver in the lab's internet namespace (on its uplink address):
    returns its base URL and a reader of the requests it got, in order."""
    started: list[subprocess.Popen[str]] = []

    def start(plan: dict[str, list[int]]) -> tuple[str, Callable[[], list[dict[str, Any]]]]:
        log = tmp_path / f"receiver-{len(started)}.jsonl"
        log.touch()
        proc = lab.popen_in(
            "internet",
            [sys.executable, "-c", RECEIVER, json.dumps(plan), str(log), A.INET_IP],
            stdout=subprocess.PIPE,
        )
        started.append(proc)
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 10)
        assert ready, "the receiver did not start"
        port = int(proc.stdout.readline())

        def requests() -> list[dict[str, Any]]:
            return [json.loads(line) for line in log.read_text().splitlines()]

        return f"http://{A.INET_IP}:{port}", requests

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(5)


def test_webhook_failing_twice_then_accepting_receives_the_report_once(
    lab: Lab, receiver: Receiver
) -> None:
    base, requests = receiver({"/hook/s3cr3t": [500, 500]})
    code, doc, stderr = check(lab, config(lab), "--webhook", f"{base}/hook/s3cr3t")
    assert code == 0
    assert "webhook" not in stderr  # delivered in the end: no warning
    got = requests()
    assert [(r["path"], r["status"]) for r in got] == [("/hook/s3cr3t", s) for s in (500, 500, 200)]
    [delivered] = [r for r in got if r["status"] == 200]
    assert delivered["type"] == "application/json"
    report = json.loads(delivered["body"])
    assert report["run"]["id"] == doc["run"]["id"] and report["exit_code"] == 0
    assert report["redacted"] is True and A.PHONE_IP not in delivered["body"]
    assert all(r["body"] == delivered["body"] for r in got)  # the same report each try


def test_webhook_that_never_accepts_costs_a_warning_not_the_run(
    lab: Lab, receiver: Receiver
) -> None:
    base, requests = receiver({"/hook/s3cr3t": [503] * 10})
    code, _doc, stderr = check(lab, config(lab), "--webhook", f"{base}/hook/s3cr3t")
    assert code == 0
    assert "jmo-doctor: peringatan: webhook gagal setelah 4 percobaan: HTTP 503" in stderr
    assert "s3cr3t" not in stderr  # the URL's token is not repeated
    assert len(requests()) == 4


def test_ping_url_gets_start_then_the_exit_code(lab: Lab, receiver: Receiver) -> None:
    base, requests = receiver({})
    lab.refuse(*lab.bpjs_hosts)
    code, _doc, stderr = check(lab, config(lab), "--ping-url", f"{base}/ping/abc-123")
    assert code == 2, stderr
    got = requests()
    assert [r["path"] for r in got] == ["/ping/abc-123/start", "/ping/abc-123/2"]
    assert got[0]["body"] == ""
    assert got[1]["type"].startswith("text/plain")
    assert got[1]["body"].startswith("Kesimpulan: KRITIS")
    assert got[1]["body"].endswith("(kode keluar 2)")


# --- soak (bench/soak.py), 50 runs ------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("JMO_SOAK") != "1", reason="soak: set JMO_SOAK=1 to run")
def test_soak_fifty_runs_in_one_process(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    from bench import soak

    figures = soak.soak(lab, 50, max_runs=20)
    with capsys.disabled():
        print()
        soak.report(figures, 50, 20)
    assert figures["exit_codes"] == {"0": 50}
    assert figures["fds_growth"] == 0 and figures["threads_growth"] == 0
    assert figures["rows"] == 20
    assert all(s["rows"] is None or s["rows"] <= 20 for s in figures["samples"])
    assert figures["ok"], figures["problems"]
