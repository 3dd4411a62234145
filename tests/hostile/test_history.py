"""Hostile history databases (issue 9, items 7, 8, 14): rows and files are data from disk.

A bad row is skipped with one warning, never the reason `run` loses its report or
`history` fails; `record` and `last_status` never raise and never outlast their budget;
nothing is written through a link planted in the data directory.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from jmo_doctor import durations
from jmo_doctor.cli import run_cli
from jmo_doctor.monitor import history
from jmo_doctor.paths import HISTORY_FILE
from jmo_doctor.report import history as history_report
from jmo_doctor.report.metrics import KEY_METRICS
from tests.test_history import make_doc

OFFLINE_RUN = ["run", "--only", "kpj", "--kpj", "12345678901"]
_METRICS = [m.column for m in KEY_METRICS]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("JMO_DOCTOR_HOME", str(data))
    monkeypatch.delenv("JMO_DOCTOR_CONFIG", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    return data


def _db(home: Path) -> Path:
    return home / HISTORY_FILE


def _no_crash(err: str) -> None:
    assert "Traceback" not in err and "internal error" not in err, err


# --- bad rows ----------------------------------------------------------------------------


def _permissive(home: Path) -> None:
    """A history whose table has our columns but no types or NOT NULL (as another tool,
    or a hand edit, could leave it): every kind of bad value fits in it."""
    home.mkdir(parents=True, exist_ok=True)
    columns = ", ".join(
        ["run_id", "started_at", "status", "exit_code", "first_cause", "first_cause_title"]
    )
    columns += ", " + ", ".join(["report", *_METRICS])
    with sqlite3.connect(_db(home)) as db:
        db.execute(f"CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, {columns})")


def _good(home: Path, *statuses: str) -> None:
    for status in statuses:
        outcome = history.record(make_doc(status), home)
        assert outcome.saved and outcome.message is None, outcome


def _insert_bad(home: Path, column: str, value_sql: str) -> None:
    """A copy of the newest row with ``column`` set to ``value_sql``, stored as newest."""
    with sqlite3.connect(_db(home)) as db:
        names = ", ".join(c for c in ["run_id", "started_at", "status", "exit_code", "report"])
        db.execute(f"INSERT INTO runs ({names}) SELECT {names} FROM runs ORDER BY id DESC LIMIT 1")
        db.execute(f"UPDATE runs SET {column} = {value_sql} WHERE id = last_insert_rowid()")


BAD_ROWS = [
    ("started-1e300", "started_at", "1e300"),
    ("started-minus-1e300", "started_at", "-1e300"),
    ("started-infinite", "started_at", "9e999"),
    ("started-text", "started_at", "'yesterday'"),
    ("started-null", "started_at", "NULL"),
    ("started-blob", "started_at", "X'00ff'"),
    ("status-unknown-word", "status", "'bogus'"),
    ("status-null", "status", "NULL"),
    ("status-number", "status", "42"),
    ("status-escape", "status", "'ok' || char(27) || '[2J'"),
    ("exit-code-text", "exit_code", "'three'"),
    ("exit-code-99", "exit_code", "99"),
    ("exit-code-real", "exit_code", "2.5"),
    ("exit-code-null", "exit_code", "NULL"),
    ("run-id-null", "run_id", "NULL"),
    ("run-id-number", "run_id", "123"),
    ("run-id-10-mb", "run_id", "printf('%.*c', 10000000, 'x')"),
    ("cause-number", "first_cause", "5"),
    ("cause-title-blob", "first_cause_title", "zeroblob(2000000)"),
    ("metric-text", _METRICS[0], "'fast'"),
    ("metric-infinite", _METRICS[0], "-9e999"),
    ("metric-blob", _METRICS[-1], "X'01'"),
]


@pytest.mark.parametrize(
    ("column", "value"), [c[1:] for c in BAD_ROWS], ids=[c[0] for c in BAD_ROWS]
)
def test_a_bad_row_is_skipped_and_counted(home: Path, column: str, value: str) -> None:
    _permissive(home)
    _good(home, "warning", "critical")
    _insert_bad(home, column, value)

    rows = history.query(home)
    assert [r.status for r in rows] == ["warning", "critical"] and rows.skipped == 1
    assert rows.warning == "1 stored run was damaged and could not be read: skipped"
    assert history.last_status(home) == "critical"  # the newest readable one
    text = history_report.render_text(rows, "en")
    assert "History: 2 runs" in text and "Warning: 1 stored run(s) damaged" in text
    assert json.loads(history_report.render_json(rows))["summary"]["skipped_damaged"] == 1
    assert history.record(make_doc("ok"), home).saved  # and the next run records as ever


@pytest.mark.parametrize(
    ("column", "value"),
    [c[1:] for c in BAD_ROWS if c[0] in ("started-1e300", "started-text", "exit-code-text")],
    ids=[c[0] for c in BAD_ROWS if c[0] in ("started-1e300", "started-text", "exit-code-text")],
)
def test_run_still_writes_its_report_and_history_shows_the_good_rows(
    home: Path, capsys: pytest.CaptureFixture[str], column: str, value: str
) -> None:
    _permissive(home)
    _good(home, "warning")
    _insert_bad(home, column, value)

    run_cli([*OFFLINE_RUN, "--format", "json"])
    out, err = capsys.readouterr()
    _no_crash(err)
    assert json.loads(out)["status"] in history_report.STATUSES  # the report was written
    assert len(history.query(home)) == 2  # and recorded next to the bad row

    assert run_cli(["history", "--lang", "en"]) == 0
    out, err = capsys.readouterr()
    _no_crash(err)
    assert "History: 2 runs" in out and "Warning: 1 stored run(s) damaged" in out
    assert run_cli(["history", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["skipped_damaged"] == 1


def test_an_infinite_figure_of_our_own_run_is_stored_as_no_value(home: Path) -> None:
    assert history.record(make_doc("warning", rtt_ms=float("inf")), home).saved
    rows = history.query(home)
    assert rows.skipped == 0 and [r.status for r in rows] == ["warning"]
    assert rows[0].metrics["bpjs_rtt_ms"] is None


def test_every_row_bad_says_so(home: Path) -> None:
    _permissive(home)
    _good(home, "ok")
    with sqlite3.connect(_db(home)) as db:
        db.execute("UPDATE runs SET started_at = 'never'")
    rows = history.query(home)
    assert rows == [] and rows.skipped == 1
    assert "Warning: 1 stored run(s) damaged" in history_report.render_text(rows, "en")
    assert history.last_status(home) is None


@pytest.mark.parametrize(
    "limit", [1, 2**31, 2**63 - 1, 2**63, 2**64 + 1, 10**100], ids=lambda n: f"limit-{n}"
)
def test_any_limit_is_safe(home: Path, limit: int) -> None:
    _good(home, "ok", "warning")
    assert len(history.query(home, limit=limit)) == min(limit, 2)


@pytest.mark.parametrize("limit", ["9223372036854775808", "1" + "0" * 60])
def test_history_cli_with_a_huge_limit(
    home: Path, capsys: pytest.CaptureFixture[str], limit: str
) -> None:
    _good(home, "ok", "warning")
    assert run_cli(["history", "--limit", limit, "--lang", "en"]) == 0
    out, err = capsys.readouterr()
    _no_crash(err)
    assert "History: 2 runs" in out


@pytest.mark.parametrize(
    "since",
    [1e300, float("inf"), float("nan"), -5.0, 2**70],
    ids=["1e300", "inf", "nan", "-5", "2^70"],
)
def test_any_since_is_safe(home: Path, since: float) -> None:
    _good(home, "ok")
    assert len(history.query(home, since_seconds=since)) in (0, 1)


@pytest.mark.parametrize("text", ["999999999999999w", "9" * 5000 + "d", "٣d"])
def test_absurd_durations_are_refused_with_a_message(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        durations.parse_duration(text)


# --- stored reports: kept or dropped whole, never inflated past the cap ------------------

BAD_REPORTS = [
    ("not-zlib", "X'00112233'"),
    ("not-json", "?"),
    ("json-list", "?"),
    ("zlib-bomb", "?"),
    ("over-16-mb", "zeroblob(17000000)"),
]


@pytest.mark.parametrize("kind", [c[0] for c in BAD_REPORTS])
def test_a_bad_stored_report_reads_as_none(
    home: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    monkeypatch.setattr(history, "_MAX_REPORT_JSON", 1 << 20)
    _good(home, "ok", "warning")
    blobs = {
        "not-json": zlib.compress(b"{not json"),
        "json-list": zlib.compress(b"[1, 2]"),
        "zlib-bomb": zlib.compress(b" " * (20 << 20)),  # 20 MB of spaces, ~20 KB stored
    }
    with sqlite3.connect(_db(home)) as db:
        if kind in blobs:
            db.execute("UPDATE runs SET report = ? WHERE id = 2", (blobs[kind],))
        else:
            db.execute(f"UPDATE runs SET report = {dict(BAD_REPORTS)[kind]} WHERE id = 2")
    rows = history.query(home, with_reports=True)
    assert [r.status for r in rows] == ["ok", "warning"] and rows.skipped == 0
    assert rows[0].report is not None and rows[1].report is None


# --- what is at the database's path -----------------------------------------------------


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "victim.txt"
    victim.write_text("the user's own file\n")
    return victim


def _plant_link(tmp_path: Path, home: Path, suffix: str = "") -> Path:
    victim = _victim(tmp_path)
    home.mkdir(parents=True, exist_ok=True)
    _db(home).with_name(HISTORY_FILE + suffix).symlink_to(victim)
    return victim


def _dangling_link(tmp_path: Path, home: Path) -> None:
    home.mkdir(parents=True)
    _db(home).symlink_to(tmp_path / "new.db")


def _directory(tmp_path: Path, home: Path) -> None:
    _db(home).mkdir(parents=True)


def _fifo(tmp_path: Path, home: Path) -> None:
    home.mkdir(parents=True)
    os.mkfifo(_db(home))


PLANTED: list[tuple[str, Callable[[Path, Path], Any], str]] = [
    ("symlink-to-a-file", lambda tmp, home: _plant_link(tmp, home), "symbolic link"),
    ("symlink-at-the-wal", lambda tmp, home: _plant_link(tmp, home, "-wal"), "symbolic link"),
    ("symlink-at-the-shm", lambda tmp, home: _plant_link(tmp, home, "-shm"), "symbolic link"),
    ("dangling-symlink", _dangling_link, "symbolic link"),
    ("directory", _directory, "not a regular file"),
    ("fifo", _fifo, "not a regular file"),
]


@pytest.mark.parametrize(
    ("plant", "fragment"), [p[1:] for p in PLANTED], ids=[p[0] for p in PLANTED]
)
def test_what_sqlite_must_not_open_is_refused(
    tmp_path: Path,
    home: Path,
    capsys: pytest.CaptureFixture[str],
    plant: Callable[[Path, Path], Any],
    fragment: str,
) -> None:
    plant(tmp_path, home)
    before = {p: p.read_bytes() for p in tmp_path.glob("victim*")}
    started = time.monotonic()
    outcome = history.record(make_doc(), home)
    assert not outcome.saved and outcome.message
    assert outcome.message.startswith("history not saved: ") and fragment in outcome.message
    assert history.last_status(home) is None
    assert time.monotonic() - started < 5  # a FIFO would have hung SQLite
    assert {p: p.read_bytes() for p in tmp_path.glob("victim*")} == before
    assert not (tmp_path / "new.db").exists()  # nothing created through a dangling link

    assert run_cli(["history"]) == 3
    err = capsys.readouterr().err
    _no_crash(err)
    assert fragment in err and err.count("\n") == 1


def test_run_with_a_planted_link_keeps_its_report(
    tmp_path: Path, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = _plant_link(tmp_path, home)
    run_cli([*OFFLINE_RUN, "--format", "json"])
    out, err = capsys.readouterr()
    _no_crash(err)
    assert json.loads(out)["status"] in history_report.STATUSES
    assert "symbolic link" in err
    assert victim.read_text() == "the user's own file\n"


FOREIGN_SCHEMAS = [
    ("runs-is-a-view", "CREATE VIEW runs AS SELECT 1 AS x"),
    ("runs-lacks-columns", "CREATE TABLE runs (x)"),
    ("empty-file", ""),
]


@pytest.mark.parametrize(
    "sql", [s[1] for s in FOREIGN_SCHEMAS], ids=[s[0] for s in FOREIGN_SCHEMAS]
)
def test_a_database_of_another_shape_is_moved_aside_or_used(home: Path, sql: str) -> None:
    home.mkdir(parents=True)
    if sql:
        with sqlite3.connect(_db(home)) as db:
            db.execute(sql)
    else:
        _db(home).write_bytes(b"")
    outcome = history.record(make_doc("warning"), home)
    assert outcome.saved, outcome
    assert not sql or (outcome.message and "moved it aside" in outcome.message)
    assert [r.status for r in history.query(home)] == ["warning"]


# --- a read-only data directory ------------------------------------------------------------


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


@pytest.fixture
def read_only_home() -> Iterator[Path]:
    """A data directory with two runs, then made read-only (outside tmp_path: `nobody`
    must be able to reach it)."""
    home = Path(tempfile.mkdtemp(prefix="jmo-ro-"))
    home.chmod(0o755)
    try:
        _good(home, "ok", "warning")
        home.chmod(0o555)
        for file in home.iterdir():
            file.chmod(0o444)
        yield home
    finally:
        home.chmod(0o755)
        subprocess.run(["rm", "-rf", str(home)], check=True)


def test_a_read_only_directory_is_still_readable(read_only_home: Path) -> None:
    with _unprivileged():
        rows = history.query(read_only_home)
        status = history.last_status(read_only_home)
        outcome = history.record(make_doc("critical"), read_only_home)
    assert [r.status for r in rows] == ["ok", "warning"] and status == "warning"
    assert not outcome.saved and outcome.message and "read-only" in outcome.message


def test_history_cli_on_a_read_only_directory(
    read_only_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JMO_DOCTOR_HOME", str(read_only_home))
    with _unprivileged():
        code = run_cli(["history", "--lang", "en"])
    out, err = capsys.readouterr()
    _no_crash(err)
    assert code == 0 and "History: 2 runs" in out
    assert "unable to open database file" not in out + err


def test_an_unreadable_database_is_one_clear_line(
    read_only_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to make a file the test user cannot read")
    history.history_path(read_only_home).chmod(0o000)
    monkeypatch.setenv("JMO_DOCTOR_HOME", str(read_only_home))
    with _unprivileged():
        code = run_cli(["history", "--lang", "en"])
        status = history.last_status(read_only_home)
    err = capsys.readouterr().err
    _no_crash(err)
    assert code == 3 and status is None
    assert "Permission denied" in err and "unable to open database file" not in err


# --- another writer: the budget, not SQLite's 5 s, decides how long we wait -----------------


@contextmanager
def _held(home: Path, *, journal: str) -> Iterator[None]:
    """Another process's write transaction on the history, held open."""
    ready, release = threading.Event(), threading.Event()

    def hold() -> None:
        db = sqlite3.connect(_db(home), isolation_level=None, check_same_thread=False)
        db.execute(f"PRAGMA journal_mode = {journal}")
        db.execute("BEGIN EXCLUSIVE")
        db.execute("DELETE FROM runs WHERE id = 1")
        ready.set()
        release.wait(30)
        db.execute("ROLLBACK")
        db.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield
    finally:
        release.set()
        thread.join(10)


@pytest.mark.parametrize("journal", ["wal", "delete"], ids=["wal-writer", "rollback-writer"])
@pytest.mark.parametrize("budget", [0.0, 0.5, float("nan"), -3.0], ids=lambda b: f"budget-{b}")
def test_a_held_database_costs_at_most_the_budget(home: Path, journal: str, budget: float) -> None:
    _good(home, "ok", "warning")
    with _held(home, journal=journal):
        started = time.monotonic()
        outcome = history.record(make_doc("critical"), home, timeout_s=budget)
        status = history.last_status(home, timeout_s=budget)
        took = time.monotonic() - started
    assert took < 2.0, took  # two calls, each within its budget (+ scheduling slack)
    assert not outcome.saved and outcome.message
    assert "no time left" in outcome.message or "locked" in outcome.message
    # a WAL reader sees the last commit; a rollback journal's lock hides it: no status then
    assert status == ("warning" if journal == "wal" else None)


def test_record_waits_within_its_budget_for_a_writer_that_finishes(home: Path) -> None:
    _good(home, "ok")
    outcomes: list[history.RecordOutcome] = []
    with _held(home, journal="wal"):
        worker = threading.Thread(
            target=lambda: outcomes.append(history.record(make_doc("warning"), home, timeout_s=10))
        )
        worker.start()
        time.sleep(0.3)  # the writer finishes while record waits
    worker.join(10)
    assert outcomes and outcomes[0].saved, outcomes
