"""Run history: recording, trends, damage recovery, and never breaking a run."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from jmo_doctor import config, durations
from jmo_doctor.api import Finding, ProbeResult, Status
from jmo_doctor.diagnosis import diagnose
from jmo_doctor.monitor import history
from jmo_doctor.paths import HISTORY_FILE
from jmo_doctor.report import document
from jmo_doctor.report import history as history_report
from jmo_doctor.sparkline import BARS

REPO = Path(__file__).resolve().parent.parent
_CONFIG = config.parse("", "<test>")
_TARGETS = ("bpjs-www", "bpjs-sso", "google")

# What drives each status through the real diagnosis.
_FINDINGS: dict[str, tuple[str, Finding] | None] = {
    "ok": None,
    "warning": ("tcp", Finding("latency.high", "slow", "bpjs-www", {"median_ms": 900.0})),
    "critical": ("system", Finding("system.offline", "offline", None, {"reason": "no_route"})),
}


def make_doc(
    status: str = "ok",
    *,
    rtt_ms: float | None = 20.0,
    loss_pct: float = 0.0,
    download_mbps: float | None = 25.0,
    upload_mbps: float | None = 5.0,
    started: datetime | None = None,
    lang: str = "en",
) -> dict[str, Any]:
    """A report document built the way `run` builds it, from probe results in tcp's shape."""
    metrics: dict[str, float] = {}
    details: dict[str, Any] = {}
    for index, target in enumerate(_TARGETS):
        family = {"address": "192.0.2.1", "rtts_ms": [], "errors": [], "loss_pct": loss_pct}
        details[target] = {"source": "system", "families": {"ipv4": family}}
        if rtt_ms is None:  # unreachable: details only, as the tcp probe reports it
            family["loss_pct"] = 100.0
            continue
        median = rtt_ms + index  # bpjs-sso is 1 ms slower than bpjs-www
        family.update(rtt_median_ms=median)
        stats = {
            "rtt_min_ms": median - 2,
            "rtt_median_ms": median,
            "rtt_p95_ms": median + 5,
            "rtt_max_ms": median + 8,
            "jitter_ms": 1.5,
            "loss_pct": loss_pct,
            "samples": 10.0,
        }
        metrics.update({f"{target}.{k}": v for k, v in stats.items()})
        details[target]["primary"] = "ipv4"
    findings: dict[str, list[Finding]] = {"system": [], "tcp": []}
    chosen = _FINDINGS[status]
    if chosen:
        findings[chosen[0]].append(chosen[1])
    bandwidth: dict[str, float] = {}
    if download_mbps is not None:
        bandwidth["download_mbps"] = download_mbps
    if upload_mbps is not None:
        bandwidth["upload_mbps"] = upload_mbps
    results = [
        ProbeResult("system", Status.PASS, "up", tuple(findings["system"]), duration_s=0.01),
        ProbeResult(
            "tcp", Status.PASS, "tcp", tuple(findings["tcp"]), metrics, details, duration_s=0.4
        ),
        ProbeResult("bandwidth", Status.PASS, "fast", (), bandwidth, duration_s=8.2),
        # the other judges of a full run: without them a healthy run is not all clear
        *(ProbeResult(probe, Status.PASS, probe) for probe in ("dns", "tls", "http", "store")),
    ]
    verdict = diagnose(results, _CONFIG.targets, lang)
    run = document.RunInfo(started or datetime.now(UTC), 9.1, lang)
    doc = document.build(run, results, verdict, {"platform": "linux"})
    doc["redacted"] = True
    return doc


# --- durations and config ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("30m", 1800), ("12h", 43200), ("7d", 604800), ("1w", 604800)],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert durations.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "7", "7x", "-1d", "1.5h", "0m", "d7"])
def test_parse_duration_rejects_with_an_example(text: str) -> None:
    with pytest.raises(ValueError, match=r"invalid duration|longer than zero"):
        durations.parse_duration(text)


def test_history_config_rejects_nonsense() -> None:
    assert history.HistoryConfig() == history.HistoryConfig(90, 10_000)
    with pytest.raises(ValueError):
        history.HistoryConfig(retention_days=0)
    with pytest.raises(ValueError):
        history.HistoryConfig(max_runs=0)


# --- metrics read from the report ---------------------------------------------------------


def test_key_metrics_take_the_worst_bpjs_target_and_bandwidth() -> None:
    doc = make_doc(rtt_ms=30.0, loss_pct=10.0, download_mbps=3.5, upload_mbps=None)
    metrics = history.key_metrics(doc)
    assert metrics["bpjs_rtt_ms"] == 31.0  # bpjs-sso; google (reference, 32 ms) is left out
    assert metrics["bpjs_loss_pct"] == 10.0
    assert metrics["download_mbps"] == 3.5
    assert metrics["upload_mbps"] is None


def test_key_metrics_of_unreachable_bpjs_is_total_loss_and_no_rtt() -> None:
    metrics = history.key_metrics(make_doc(rtt_ms=None))
    assert metrics["bpjs_rtt_ms"] is None
    assert metrics["bpjs_loss_pct"] == 100.0


def test_key_metrics_with_roles_from_the_caller_and_missing_probes() -> None:
    doc = make_doc(rtt_ms=30.0)
    assert history.key_metrics(doc, bpjs={"google"})["bpjs_rtt_ms"] == 32.0
    doc["probes"] = []
    assert set(history.key_metrics(doc).values()) == {None}


# --- recording and reading ----------------------------------------------------------------

_PATTERN = ["ok"] * 18 + ["warning"] * 9 + ["critical"] * 3  # 60 % / 30 % / 10 %


def _fill(home: Path, count: int = 30) -> list[dict[str, Any]]:
    start = datetime.now(UTC) - timedelta(hours=count)
    docs = []
    for i in range(count):
        doc = make_doc(
            _PATTERN[i % len(_PATTERN)],
            rtt_ms=10.0 + 3 * i,  # a steady climb: the sparkline must rise
            download_mbps=None if i == 5 else 40.0 - i,
            started=start + timedelta(hours=i),
        )
        outcome = history.record(doc, home)
        assert outcome.saved and outcome.message is None, outcome
        docs.append(doc)
    return docs


def test_thirty_runs_are_listed_with_their_trends(tmp_path: Path) -> None:
    docs = _fill(tmp_path)
    rows = history.query(tmp_path, limit=100)
    assert [r.run_id for r in rows] == [d["run"]["id"] for d in docs]  # oldest first
    assert [r.status for r in rows] == [d["status"] for d in docs]
    assert rows[0].first_cause == "kpj_not_linked" and rows[-1].first_cause == "offline"
    assert [r.metrics["bpjs_rtt_ms"] for r in rows] == [11.0 + 3 * i for i in range(30)]

    text = history_report.render_text(rows, "en", tz=UTC)
    assert text.startswith("History: 30 runs")
    for doc in docs:
        stamp = history.started_at(doc).strftime("%Y-%m-%d %H:%M")
        assert stamp in text
    assert text.count("No internet connection") == 3
    assert text.count("Unstable internet connection") == 9
    assert text.count("nothing wrong found") == 18
    latency = next(line for line in text.splitlines() if "BPJS latency" in line)
    spark = latency.split("BPJS latency (ms)")[1].strip().split()[0]
    assert len(spark) == 30 and spark[0] == BARS[0] and spark[-1] == BARS[-1]
    assert list(spark) == sorted(spark)  # rising latency, rising bars
    download = next(line for line in text.splitlines() if "Download" in line)
    assert "min 11.0 · median" in download and "max 40.0" in download
    assert "OK 60% (18) · WARNING 30% (9) · CRITICAL 10% (3)" in text

    indonesian = history_report.render_text(rows, "id", tz=UTC)
    assert "Riwayat: 30 pemeriksaan" in indonesian
    assert "OK 60% (18) · PERINGATAN 30% (9) · KRITIS 10% (3)" in indonesian


def test_long_history_is_downsampled_to_the_width(tmp_path: Path) -> None:
    _fill(tmp_path)
    rows = history.query(tmp_path, limit=None)
    text = history_report.render_text(rows, "en", tz=UTC, width=10)
    latency = next(line for line in text.splitlines() if "BPJS latency" in line)
    assert len(latency.split("(ms)")[1].strip().split()[0]) == 10


def test_limit_and_since_choose_the_newest(tmp_path: Path) -> None:
    _fill(tmp_path)
    last5 = history.query(tmp_path, limit=5)
    assert len(last5) == 5 and last5[-1].status == "critical"
    recent = history.query(tmp_path, limit=100, since_seconds=durations.parse_duration("630m"))
    assert len(recent) == 10  # runs an hour apart, the newest an hour ago: 10 in 10.5 h


def test_json_has_runs_and_status_share(tmp_path: Path) -> None:
    _fill(tmp_path)
    data = json.loads(history_report.render_json(history.query(tmp_path, limit=100)))
    assert len(data["runs"]) == 30
    assert data["summary"]["status_share"] == {
        "ok": 0.6,
        "warning": 0.3,
        "critical": 0.1,
        "unknown": 0.0,
    }
    assert data["summary"]["metrics"]["download_mbps"]["count"] == 29
    assert data["runs"][0]["started_at"].endswith("Z")


def test_full_report_is_kept(tmp_path: Path) -> None:
    docs = _fill(tmp_path, 2)
    rows = history.query(tmp_path, limit=1, with_reports=True)
    assert rows[0].report == docs[-1]


def test_empty_history(tmp_path: Path) -> None:
    assert history.query(tmp_path / "never-made") == []
    assert "No history yet" in history_report.render_text([], "en")
    assert history.last_status(tmp_path / "never-made") is None


def test_retention_by_count_and_age(tmp_path: Path) -> None:
    keep = history.HistoryConfig(retention_days=2, max_runs=5)
    now = datetime.now(UTC)
    old = make_doc(started=now - timedelta(days=3))
    assert history.record(old, tmp_path, keep).saved
    for i in range(7):
        assert history.record(make_doc(started=now - timedelta(minutes=10 - i)), tmp_path, keep)
    rows = history.query(tmp_path, limit=None)
    assert len(rows) == 5
    assert all(r.started_at > now - timedelta(days=1) for r in rows)


# --- damage and failure --------------------------------------------------------------------


def _aside(home: Path) -> list[Path]:
    return sorted(p for p in home.glob(HISTORY_FILE + ".corrupt-*") if "-wal" not in p.name)


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_damaged_database_is_moved_aside_and_a_new_one_started(tmp_path: Path, damage: str) -> None:
    _fill(tmp_path, 30)
    path = history.history_path(tmp_path)
    with sqlite3.connect(path) as db:  # fold the WAL in, so the damage hits the tables
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = path.stat().st_size
    if damage == "truncate":
        with path.open("r+b") as stream:
            stream.truncate(size // 2)
    else:
        path.write_bytes(os.urandom(size))
    before = path.read_bytes()

    outcome = history.record(make_doc("warning"), tmp_path)
    assert outcome.saved, outcome
    assert outcome.message and "damaged" in outcome.message and "moved it aside" in outcome.message
    [aside] = _aside(tmp_path)
    assert aside.read_bytes() == before  # kept as it was, for inspection
    rows = history.query(tmp_path)
    assert [r.status for r in rows] == ["warning"]
    assert history.record(make_doc(), tmp_path).message is None


def test_reading_a_damaged_database_says_so(tmp_path: Path) -> None:
    tmp_path.joinpath(HISTORY_FILE).write_bytes(b"not a database at all" * 100)
    with pytest.raises(history.HistoryError, match="damaged"):
        history.query(tmp_path)
    assert history.last_status(tmp_path) is None


def test_home_that_cannot_exist_is_not_saved_and_does_not_raise(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    outcome = history.record(make_doc(), blocker / "data")
    assert not outcome.saved
    assert outcome.message and outcome.message.startswith("history not saved: ")


@contextmanager
def _unprivileged() -> Iterator[None]:
    """Root writes anywhere: become `nobody` so a read-only directory is read-only."""
    if os.geteuid() != 0:
        yield
        return
    os.setegid(65534)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


@pytest.mark.parametrize("existing", [False, True])
def test_read_only_directory_is_not_saved_and_does_not_raise(existing: bool) -> None:
    home = Path(tempfile.mkdtemp(prefix="jmo-ro-"))
    try:
        if existing:
            assert history.record(make_doc(), home).saved
        home.chmod(0o555)
        for file in home.iterdir():
            file.chmod(0o444)
        with _unprivileged():
            outcome = history.record(make_doc("critical"), home)
        assert not outcome.saved
        assert outcome.message and outcome.message.startswith("history not saved: ")
    finally:
        home.chmod(0o755)
        subprocess.run(["rm", "-rf", str(home)], check=True)


def test_a_reader_during_a_write_waits_instead_of_failing(tmp_path: Path) -> None:
    _fill(tmp_path, 3)
    writer = sqlite3.connect(history.history_path(tmp_path), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # a run in the middle of recording
    writer.execute("DELETE FROM runs WHERE id = 1")
    try:
        assert len(history.query(tmp_path)) == 3  # WAL: the reader sees the last commit
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_a_reader_process_during_a_write(tmp_path: Path) -> None:
    _fill(tmp_path, 3)
    code = (
        "import sys; from pathlib import Path; from jmo_doctor.monitor import history;"
        "print(len(history.query(Path(sys.argv[1]))))"
    )
    writer = sqlite3.connect(history.history_path(tmp_path), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("DELETE FROM runs")
    try:
        reader = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert reader.returncode == 0, reader.stderr
    assert reader.stdout.strip() == "3"


def _statuses(rows: Sequence[history_report.HistoryRow]) -> list[str]:
    return [r.status for r in rows]


def test_last_status_is_the_newest(tmp_path: Path) -> None:
    history.record(make_doc("ok"), tmp_path)
    history.record(make_doc("critical"), tmp_path)
    assert history.last_status(tmp_path) == "critical"
    assert _statuses(history.query(tmp_path)) == ["ok", "critical"]
