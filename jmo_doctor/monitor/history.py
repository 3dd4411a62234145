"""Run history: every run's verdict, key metrics and full report in SQLite.

The operator's questions — "since when is it broken?", "is BPJS getting slower?" — need
past runs, so each run stores its time, status, first cause and a few key metrics as
columns (cheap to query and chart) next to the whole redacted report (zlib-compressed:
10,000 reports would otherwise take hundreds of MB on a phone).

Recording never breaks a run: a full disk, a read-only directory, a locked database or
one held past the run's deadline costs the history entry, not the report. A damaged
database is moved aside and a new one started, so one bad write does not end the history
for good. What is read back is data from disk, not trusted: every row is checked, and a
bad one is skipped and counted, never the reason `run` or `history` fails.
"""

from __future__ import annotations

import json
import math
import os
import re
import sqlite3
import stat
import time
import zlib
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jmo_doctor.errors import UserError
from jmo_doctor.i18n import said
from jmo_doctor.paths import HISTORY_FILE, ensure
from jmo_doctor.report.history import STATUSES, HistoryRow, HistoryRows
from jmo_doctor.report.metrics import KEY_METRICS
from jmo_doctor.report.view import ReportView

SCHEMA_VERSION = 1  # of the database (PRAGMA user_version)
#: How long one history operation may take when the caller gives no budget: a concurrent
#: `jmo-doctor history` waits this long for a writer rather than failing at once.
BUSY_TIMEOUT_S = 5.0

# What a stored row may hold; anything else is damage, skipped when read.
_MAX_TEXT = 1000  # characters in run_id, status, first cause and its title
_MAX_REPORT_BYTES = 16 << 20  # a stored (compressed) report
_MAX_REPORT_JSON = 64 << 20  # the report once inflated: a zlib bomb stops here
#: 1901 … 2514: any clock a device may show, far enough from datetime's own limits that
#: showing the time in another zone cannot overflow.
_EARLIEST_S, _LATEST_S = -(2**31), 2**34
_SQLITE_MAX_INT = 2**63 - 1


@dataclass(frozen=True)
class HistoryConfig:
    """How much history to keep; whichever limit is reached first prunes."""

    retention_days: float = 90.0
    max_runs: int = 10_000

    def __post_init__(self) -> None:
        if not self.retention_days > 0:
            raise ValueError("history retention_days must be more than 0")
        if self.max_runs < 1:
            raise ValueError("history max_runs must be at least 1")


# --- the database ------------------------------------------------------------------------

_COLUMNS = """
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    started_at REAL NOT NULL,
    status TEXT NOT NULL,
    exit_code INTEGER NOT NULL,
    first_cause TEXT,
    first_cause_title TEXT,
    report BLOB NOT NULL
"""
_ROW_COLUMNS = ("run_id", "started_at", "status", "exit_code", "first_cause", "first_cause_title")
_TEXT_COLUMNS = frozenset({"run_id", "status", "first_cause", "first_cause_title"})
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
#: The database and the files SQLite keeps next to it: none may be a link or a device.
_SIBLINGS = ("", "-wal", "-shm", "-journal")


class HistoryError(UserError):
    """The history cannot be read; worded for the person who asked for it."""


class _Damaged(Exception):
    pass


class _Refused(Exception):
    """A file at the database's path that SQLite must not open (a link, a directory…)."""


class _OutOfTime(Exception):
    pass


@dataclass(frozen=True)
class RecordOutcome:
    saved: bool
    path: Path
    message: str | None = None  # for stderr: why not saved, or that a damaged db was replaced


def history_path(home: Path) -> Path:
    return home / HISTORY_FILE


#: Every budget gets at least this: an uncontended write takes milliseconds, and a run
#: that used its whole deadline (the runs whose history matters most) still records,
#: within the one second of grace SPEC §3 allows.
MIN_BUDGET_S = 0.2


class _Budget:
    """The time one history operation may take: SQLite's waits and its work end with it."""

    def __init__(self, seconds: float, *, floor: float = MIN_BUDGET_S) -> None:
        # nan and negatives from a caller get the floor, infinity an hour: never "forever"
        allowed = 0.0 if math.isnan(seconds) else min(seconds, 3600.0)
        self.end = time.monotonic() + max(allowed, floor)

    def left(self) -> float:
        return max(0.0, self.end - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self.end

    def share(self, fraction: float) -> _Budget:
        """A budget of ``fraction`` of the time left."""
        return _Budget(self.left() * fraction, floor=0.0)


class _Connection:
    """A SQLite connection held to a :class:`_Budget`.

    Before each statement the busy timeout is set to the time left, so waiting for
    another writer ends at the deadline; the progress handler stops a statement that is
    still working then (a long scan of a big or damaged database).
    """

    def __init__(self, db: sqlite3.Connection, budget: _Budget) -> None:
        self.db = db
        self.budget = budget
        db.set_progress_handler(self._stop_if_late, 1000)

    def _stop_if_late(self) -> int:
        return 1 if self.budget.expired() else 0

    def execute(self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] = ()) -> Any:
        if self.budget.expired():
            raise _OutOfTime
        self.db.execute(f"PRAGMA busy_timeout = {int(self.budget.left() * 1000)}")
        return self.db.execute(sql, parameters)


@contextmanager
def _connect(path: Path, budget: _Budget, mode: str) -> Iterator[_Connection]:
    """``mode``: "rwc" to record, "ro" to read, "ro&immutable=1" in a read-only directory."""
    uri = f"{path.absolute().as_uri()}?mode={mode}"  # as_uri escapes '?', '#' and '%'
    db = sqlite3.connect(uri, uri=True, timeout=budget.left(), isolation_level=None)
    with closing(db):
        yield _Connection(db, budget)


def _error_code(error: sqlite3.Error) -> int | None:
    code = getattr(error, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def _is_damage(error: sqlite3.Error) -> bool:
    code = _error_code(error)
    if code is not None:
        return code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
    text = str(error).lower()
    return "malformed" in text or "not a database" in text


def _check_files(path: Path) -> bool:
    """Whether the database exists; raises :class:`_Refused` for what must not be opened.

    SQLite follows links and opens whatever is at the path: a link planted there would
    have it write the target (any file of the user's), a FIFO would hang it. The data
    directory is private to the user (0700), so checking before opening is enough.
    """
    exists = False
    for suffix in _SIBLINGS:
        each = path.with_name(path.name + suffix)
        try:
            mode = os.lstat(each).st_mode
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(mode):
            raise _Refused(said("history.symlink", path=each))
        if not stat.S_ISREG(mode):
            raise _Refused(said("history.not_regular", path=each))
        exists = exists or suffix == ""
    return exists


def _prepare(db: _Connection) -> None:
    """Create or upgrade the schema; metric columns follow ``KEY_METRICS``."""
    new = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    if new:
        db.execute("PRAGMA auto_vacuum = INCREMENTAL")  # only takes effect before tables
    # WAL: a reader (`jmo-doctor history`) never blocks the cron job's write, nor fails.
    if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        db.execute("PRAGMA journal_mode = WAL")
    kind = db.execute("SELECT type FROM sqlite_master WHERE name = 'runs'").fetchone()
    if kind is not None and kind[0] != "table":
        raise _Damaged(f"'runs' is a {kind[0]}, not jmo-doctor's table")
    db.execute(f"CREATE TABLE IF NOT EXISTS runs ({_COLUMNS})")
    have = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
    if missing := {"id", "report", *_ROW_COLUMNS} - have:
        raise _Damaged(f"its runs table lacks {', '.join(sorted(missing))}")
    db.execute("CREATE INDEX IF NOT EXISTS runs_started ON runs (started_at)")
    for metric in KEY_METRICS:
        assert _IDENTIFIER.match(metric.column), metric.column
        if metric.column not in have:
            db.execute(f"ALTER TABLE runs ADD COLUMN {metric.column} REAL")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _check(db: _Connection) -> None:
    rows = db.execute("PRAGMA quick_check").fetchall()
    if rows != [("ok",)]:
        raise _Damaged("; ".join(str(r[0]) for r in rows[:3]))


def key_metrics(
    doc: Mapping[str, Any] | ReportView, bpjs: Collection[str] | None = None
) -> dict[str, float | None]:
    """The metric columns stored for this report (``bpjs`` overrides the document's roles)."""
    return ReportView.of(doc).key_metrics(bpjs)


def started_at(doc: Mapping[str, Any] | ReportView) -> datetime:
    """When the run started, as stored (now for a report without a readable time)."""
    return ReportView.of(doc).started_at


def _row_of(doc: Mapping[str, Any], bpjs: Collection[str] | None) -> dict[str, Any]:
    report = ReportView.of(doc)
    cause = report.first_cause
    # an infinite figure would make our own row read back as damaged: store "no value"
    metrics = {
        name: value if value is None or math.isfinite(value) else None
        for name, value in report.key_metrics(bpjs).items()
    }
    return {
        "run_id": report.run.id,
        "started_at": report.started_at.timestamp(),
        "status": report.status,
        "exit_code": report.exit_code,
        "first_cause": cause.id if cause else None,
        "first_cause_title": cause.title if cause else None,
        "report": zlib.compress(json.dumps(doc, ensure_ascii=False).encode("utf-8")),
        **metrics,
    }


def _insert(path: Path, row: Mapping[str, Any], keep: HistoryConfig, budget: _Budget) -> None:
    _check_files(path)
    names = ", ".join(row)
    marks = ", ".join(f":{name}" for name in row)
    with _connect(path, budget, "rwc") as db:
        _check_if_time(db)
        _prepare(db)
        db.execute("BEGIN IMMEDIATE")
        db.execute(f"INSERT INTO runs ({names}) VALUES ({marks})", row)
        oldest = datetime.now(UTC).timestamp() - keep.retention_days * 86400
        db.execute("DELETE FROM runs WHERE started_at < ?", (oldest,))
        db.execute(
            "DELETE FROM runs WHERE id <= (SELECT id FROM runs ORDER BY id DESC LIMIT 1 OFFSET ?)",
            (min(keep.max_runs, _SQLITE_MAX_INT),),
        )
        db.execute("COMMIT")
        # housekeeping only, once the run is recorded: the deadline may cut it
        with suppress(_OutOfTime, sqlite3.OperationalError):
            db.execute("PRAGMA incremental_vacuum")  # give pruned pages back to the disk


def _check_if_time(db: _Connection) -> None:
    """Look for damage before writing, so a damaged file is moved aside as it was.

    The check reads the whole file: on a big history with little time left it gets half
    of that time and is skipped past it, so that the run's entry still fits.
    """
    whole = db.budget
    db.budget = whole.share(0.5)
    try:
        _check(db)
    except _OutOfTime:
        pass
    except sqlite3.OperationalError as error:
        if _error_code(error) != sqlite3.SQLITE_INTERRUPT:
            raise
    finally:
        db.budget = whole


def _is_late(error: BaseException, budget: _Budget) -> bool:
    if isinstance(error, _OutOfTime):
        return True
    if isinstance(error, sqlite3.OperationalError) and budget.expired():
        return _error_code(error) in (
            sqlite3.SQLITE_INTERRUPT,
            sqlite3.SQLITE_BUSY,
            sqlite3.SQLITE_LOCKED,
            None,
        )
    return False


def _move_aside(path: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    counter = 1
    while os.path.lexists(aside):
        counter += 1
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{counter}")
    os.replace(path, aside)
    # the write-ahead log belongs to the damaged file: keep it with it for inspection
    wal = path.with_name(path.name + "-wal")
    if os.path.lexists(wal):
        os.replace(wal, aside.with_name(aside.name + "-wal"))
    shm = path.with_name(path.name + "-shm")
    if os.path.lexists(shm):
        shm.unlink()
    return aside


def record(
    doc: Mapping[str, Any],
    home: Path,
    retention: HistoryConfig | None = None,
    *,
    bpjs: Collection[str] | None = None,
    timeout_s: float = BUSY_TIMEOUT_S,
) -> RecordOutcome:
    """Store one run (``doc`` should be the redacted report).

    Never raises, whatever the database holds or is; returns within about ``timeout_s``
    (give it what is left of the run's deadline; at least :data:`MIN_BUDGET_S` is used),
    with a message when not saved.
    """
    path = history_path(home)
    budget = _Budget(timeout_s)
    try:
        ensure(home)
        row = _row_of(doc, bpjs)
        keep = retention or HistoryConfig()
        try:
            _insert(path, row, keep, budget)
            return RecordOutcome(True, path)
        except (_Damaged, sqlite3.DatabaseError) as error:
            if isinstance(error, sqlite3.DatabaseError) and not _is_damage(error):
                raise
            damage = error
    except Exception as error:  # the report matters more than its history entry
        return RecordOutcome(
            False, path, said("history.not_saved", why=_why_not(error, path, budget))
        )
    return _start_again(path, row, keep, budget, damage)


def _start_again(
    path: Path, row: Mapping[str, Any], keep: HistoryConfig, budget: _Budget, damage: Exception
) -> RecordOutcome:
    """Move the damaged database aside (kept for inspection) and record in a new one."""
    told = said("history.was_damaged", path=path, damage=damage)
    try:
        aside = _move_aside(path)
    except OSError as error:
        why = _why_not(error, path, budget)
        return RecordOutcome(False, path, said("history.damaged_not_saved", said=told, why=why))
    told = said("history.moved_aside", said=told, aside=aside.name)
    try:
        _insert(path, row, keep, budget)
    except Exception as error:
        why = _why_not(error, path, budget)
        return RecordOutcome(False, path, said("history.damaged_not_saved", said=told, why=why))
    return RecordOutcome(True, path, said("history.started_new", said=told))


def _why_not(error: Exception, path: Path, budget: _Budget) -> str:
    if isinstance(error, _Refused):
        refused: str = error.args[0]  # a Said: its words in every language
        return refused
    if _is_late(error, budget):
        return said("history.no_time", path=path)
    if isinstance(error, sqlite3.OperationalError):
        code = _error_code(error)
        if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "locked" in str(error):
            return said("history.locked", path=path)
        if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM):
            return said("history.read_only", path=path, error=error)
        return f"{path}: {error}"
    if isinstance(error, OSError):
        return f"{error.filename or path}: {error.strerror or error}"
    return f"{type(error).__name__}: {error}"


# --- reading -------------------------------------------------------------------------------


def _select(column: str, have: Collection[str]) -> str:
    """The SELECT expression of ``column``: anything of the wrong type or size reads as
    ``X''`` (bytes), which validation rejects, so no value is ever loaded unbounded."""
    if column not in have:  # a database from an older version may lack newer columns
        return f"NULL AS {column}"
    if column == "report":
        return (
            f"CASE WHEN typeof(report) = 'blob' AND length(report) <= {_MAX_REPORT_BYTES} "
            "THEN report END AS report"
        )
    if column in _TEXT_COLUMNS:
        return (
            f"CASE WHEN {column} IS NULL THEN NULL WHEN typeof({column}) = 'text' "
            f"AND length({column}) <= {_MAX_TEXT} THEN {column} ELSE X'' END AS {column}"
        )
    return (
        f"CASE WHEN typeof({column}) IN ('integer', 'real', 'null') THEN {column} "
        f"ELSE X'' END AS {column}"
    )


def query(
    home: Path,
    limit: int | None = 20,
    since_seconds: float | None = None,
    *,
    with_reports: bool = False,
    timeout_s: float = BUSY_TIMEOUT_S,
) -> HistoryRows:
    """The newest ``limit`` readable runs (of the last ``since_seconds``), oldest first.

    Damaged rows are skipped and counted in the result's ``skipped``. Any ``limit`` of 1
    or more works (it is never handed to SQLite). Opens the database read-only, so the
    history can be read from a read-only directory. Raises :class:`HistoryError`.
    """
    if limit is not None and limit < 1:
        raise ValueError("limit must be at least 1")
    path = history_path(home)
    budget = _Budget(timeout_s)
    try:
        if not _check_files(path):
            return HistoryRows()
        return _read(path, budget, limit, _since(since_seconds), with_reports)
    except _Refused as refused:
        raise HistoryError(said("history.cannot_read", reason=refused.args[0])) from None
    except OSError as error:
        reason = error.strerror or str(error)
        raise HistoryError(said("history.cannot_read_in", home=home, reason=reason)) from None
    except (sqlite3.Error, _OutOfTime) as error:
        raise HistoryError(_unreadable(path, error, budget)) from None


def _since(seconds: float | None) -> float:
    now = datetime.now(UTC).timestamp()
    if seconds is None or not math.isfinite(seconds) or seconds >= now - _EARLIEST_S:
        return -math.inf
    return now - seconds


def _unreadable(path: Path, error: sqlite3.Error | _OutOfTime, budget: _Budget) -> str:
    if isinstance(error, sqlite3.Error) and _is_damage(error):
        return said("history.damaged", path=path, error=error)
    if _is_late(error, budget):
        return said("history.busy", path=path)
    try:  # SQLite only says "unable to open database file": ask the system why
        with path.open("rb"):
            pass
    except OSError as cause:
        return said("history.unreadable", path=path, reason=cause.strerror or cause)
    return said("history.unreadable", path=path, reason=error)


def _read(
    path: Path, budget: _Budget, limit: int | None, since: float, with_reports: bool
) -> HistoryRows:
    try:
        return _fetch(path, budget, "ro", limit, since, with_reports)
    except sqlite3.OperationalError as error:
        # A WAL database read-only still needs its -shm file, and a read-only directory
        # cannot get one: then nobody can be writing, and the file can be read as is.
        if _error_code(error) not in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN):
            raise
    return _fetch(path, budget, "ro&immutable=1", limit, since, with_reports)


def _fetch(
    path: Path, budget: _Budget, mode: str, limit: int | None, since: float, with_reports: bool
) -> HistoryRows:
    columns = [m.column for m in KEY_METRICS]
    wanted = [*_ROW_COLUMNS, *columns, *(["report"] if with_reports else [])]
    rows: list[HistoryRow] = []
    skipped = 0
    with _connect(path, budget, mode) as db:
        have = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
        if not have:
            return HistoryRows()
        select = ", ".join(_select(c, have) for c in wanted)
        # Newest first, filtered here rather than with LIMIT: bad rows must not count
        # towards the limit, and any limit the CLI accepts stays out of SQLite's integers.
        cursor = db.execute(
            f"SELECT {select} FROM runs WHERE started_at >= ? OR started_at IS NULL "
            "ORDER BY id DESC",
            (since,),
        )
        for raw in cursor:
            row = _valid_row(raw, columns, with_reports)
            if row is None:
                skipped += 1
                continue
            rows.append(row)
            if limit is not None and len(rows) >= limit:
                break
    rows.reverse()
    return HistoryRows(rows, skipped=skipped)


def _moment(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not (math.isfinite(value) and _EARLIEST_S <= value < _LATEST_S):
        return None
    return datetime.fromtimestamp(value, UTC)


def _number(value: Any) -> float | None:
    """A stored metric as a float; raises ValueError for what is not a finite number."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(value)
    if not math.isfinite(value):
        raise ValueError(value)
    return float(value)


def _valid_row(raw: Sequence[Any], columns: Sequence[str], with_report: bool) -> HistoryRow | None:
    """The row as a :class:`HistoryRow`, or None when any field is not what we store."""
    run_id, moment, status, exit_code, cause, title = raw[:6]
    when = _moment(moment)
    if when is None or not isinstance(run_id, str) or status not in STATUSES:
        return None
    if isinstance(exit_code, bool) or not isinstance(exit_code, int) or not 0 <= exit_code <= 3:
        return None
    if not all(v is None or isinstance(v, str) for v in (cause, title)):
        return None
    try:
        metrics = {c: _number(v) for c, v in zip(columns, raw[6 : 6 + len(columns)], strict=True)}
    except ValueError:
        return None
    return HistoryRow(
        run_id=run_id,
        started_at=when,
        status=status,
        exit_code=exit_code,
        first_cause=cause,
        first_cause_title=title,
        metrics=metrics,
        report=_report(raw[-1]) if with_report else None,
    )


def _report(blob: Any) -> Mapping[str, Any] | None:
    """The stored report, or None when it is damaged or would inflate past the cap."""
    if not isinstance(blob, bytes):
        return None
    try:
        inflater = zlib.decompressobj()
        data = inflater.decompress(blob, _MAX_REPORT_JSON)
        if inflater.unconsumed_tail:
            return None
        doc = json.loads(data.decode("utf-8"))
    except (zlib.error, ValueError, RecursionError):
        return None
    return doc if isinstance(doc, dict) else None


def last_status(home: Path, *, timeout_s: float = BUSY_TIMEOUT_S) -> str | None:
    """The status of the newest readable run, or None (no history, unreadable, no time).

    Never raises, and returns within about ``timeout_s``.
    """
    try:
        rows = query(home, limit=1, timeout_s=timeout_s)
    except Exception:  # --notify is worth less than the run: no previous status then
        return None
    return rows[-1].status if rows else None
