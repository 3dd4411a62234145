"""Run history: every run's verdict, key metrics and full report in SQLite.

The operator's questions — "since when is it broken?", "is BPJS getting slower?" — need
past runs, so each run stores its time, status, first cause and a few key metrics as
columns (cheap to query and chart) next to the whole redacted report (zlib-compressed:
10,000 reports would otherwise take hundreds of MB on a phone).

Recording never breaks a run: a full disk, a read-only directory or a locked database
costs the history entry, not the report. A damaged database is moved aside and a new one
started, so one bad write does not end the history for good.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import statistics
import zlib
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from jmo_doctor.i18n import pick
from jmo_doctor.paths import HISTORY_FILE, ensure
from jmo_doctor.report.labels import label
from jmo_doctor.report.metrics import (
    KEY_METRICS,
    TREND_COLUMNS,
    first_cause,
    key_metrics,
    started_at,
)
from jmo_doctor.sparkline import sparkline

SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 5.0  # a concurrent `jmo-doctor history` waits rather than fails
STATUSES = ("ok", "warning", "critical", "unknown")

# --- durations ---------------------------------------------------------------------------

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)


def parse_duration(text: str) -> int:
    """``"90s"``, ``"30m"``, ``"12h"``, ``"7d"`` (or ``"2w"``) → seconds."""
    match = _DURATION.match(text or "")
    if not match:
        raise ValueError(
            f"invalid duration {text!r}: use a whole number followed by s, m, h, d or w "
            "(for example 90s, 30m, 12h, 7d)"
        )
    seconds = int(match.group(1)) * _UNITS[match.group(2).lower()]
    if seconds <= 0:
        raise ValueError(f"invalid duration {text!r}: it must be longer than zero")
    return seconds


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
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


class HistoryError(Exception):
    """The history cannot be read; worded for the person who asked for it."""


class _Damaged(Exception):
    pass


@dataclass(frozen=True)
class RecordOutcome:
    saved: bool
    path: Path
    message: str | None = None  # for stderr: why not saved, or that a damaged db was replaced


@dataclass(frozen=True)
class HistoryRow:
    run_id: str
    started_at: datetime
    status: str
    exit_code: int
    first_cause: str | None
    first_cause_title: str | None
    metrics: Mapping[str, float | None]
    report: Mapping[str, Any] | None = None


def history_path(home: Path) -> Path:
    return home / HISTORY_FILE


def _is_damage(error: sqlite3.Error) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
    text = str(error).lower()
    return "malformed" in text or "not a database" in text


@contextmanager
def _open(path: Path) -> Iterator[sqlite3.Connection]:
    with closing(sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)) as db:
        yield db


def _prepare(db: sqlite3.Connection) -> None:
    """Create or upgrade the schema; metric columns follow ``KEY_METRICS``."""
    new = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    if new:
        db.execute("PRAGMA auto_vacuum = INCREMENTAL")  # only takes effect before tables
    # WAL: a reader (`jmo-doctor history`) never blocks the cron job's write, nor fails.
    if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        db.execute("PRAGMA journal_mode = WAL")
    db.execute(f"CREATE TABLE IF NOT EXISTS runs ({_COLUMNS})")
    db.execute("CREATE INDEX IF NOT EXISTS runs_started ON runs (started_at)")
    have = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
    for metric in KEY_METRICS:
        assert _IDENTIFIER.match(metric.column), metric.column
        if metric.column not in have:
            db.execute(f"ALTER TABLE runs ADD COLUMN {metric.column} REAL")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _check(db: sqlite3.Connection) -> None:
    rows = db.execute("PRAGMA quick_check").fetchall()
    if rows != [("ok",)]:
        raise _Damaged("; ".join(str(r[0]) for r in rows[:3]))


def _insert(
    path: Path, doc: Mapping[str, Any], keep: HistoryConfig, bpjs: Collection[str] | None
) -> None:
    cause = first_cause(doc) or {}
    metrics = key_metrics(doc, bpjs)
    report = zlib.compress(json.dumps(doc, ensure_ascii=False).encode("utf-8"))
    row: dict[str, Any] = {
        "run_id": str((doc.get("run") or {}).get("id", "")),
        "started_at": started_at(doc).timestamp(),
        "status": str(doc.get("status", "unknown")),
        "exit_code": int(doc.get("exit_code", 3)),
        "first_cause": cause.get("id"),
        "first_cause_title": cause.get("title"),
        "report": report,
        **metrics,
    }
    names = ", ".join(row)
    marks = ", ".join(f":{name}" for name in row)
    with _open(path) as db:
        _check(db)
        _prepare(db)
        db.execute("BEGIN IMMEDIATE")
        db.execute(f"INSERT INTO runs ({names}) VALUES ({marks})", row)
        oldest = datetime.now(UTC).timestamp() - keep.retention_days * 86400
        db.execute("DELETE FROM runs WHERE started_at < ?", (oldest,))
        db.execute(
            "DELETE FROM runs WHERE id <= (SELECT id FROM runs ORDER BY id DESC LIMIT 1 OFFSET ?)",
            (keep.max_runs,),
        )
        db.execute("COMMIT")
        db.execute("PRAGMA incremental_vacuum")  # give pruned pages back to the disk


def _move_aside(path: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    counter = 1
    while aside.exists():
        counter += 1
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{counter}")
    os.replace(path, aside)
    # the write-ahead log belongs to the damaged file: keep it with it for inspection
    wal = path.with_name(path.name + "-wal")
    if wal.exists():
        os.replace(wal, aside.with_name(aside.name + "-wal"))
    shm = path.with_name(path.name + "-shm")
    if shm.exists():
        shm.unlink()
    return aside


def record(
    doc: Mapping[str, Any],
    home: Path,
    retention: HistoryConfig | None = None,
    *,
    bpjs: Collection[str] | None = None,
) -> RecordOutcome:
    """Store one run (``doc`` should be the redacted report). Never raises."""
    keep = retention or HistoryConfig()
    path = history_path(home)
    try:
        ensure(home)
        try:
            _insert(path, doc, keep, bpjs)
            return RecordOutcome(True, path)
        except (_Damaged, sqlite3.DatabaseError) as error:
            if isinstance(error, sqlite3.DatabaseError) and not _is_damage(error):
                raise
            aside = _move_aside(path)
            _insert(path, doc, keep, bpjs)
            return RecordOutcome(
                True,
                path,
                f"history database {path} was damaged ({error}); moved it aside to "
                f"{aside.name} and started a new one",
            )
    except sqlite3.OperationalError as error:
        reason = "it is locked by another process" if "locked" in str(error) else str(error)
        return RecordOutcome(False, path, f"history not saved: {path}: {reason}")
    except OSError as error:
        return RecordOutcome(False, path, f"history not saved: {error.strerror or error}")
    except Exception as error:  # the report matters more than its history entry
        return RecordOutcome(False, path, f"history not saved: {type(error).__name__}: {error}")


def query(
    home: Path,
    limit: int | None = 20,
    since_seconds: float | None = None,
    *,
    with_reports: bool = False,
) -> list[HistoryRow]:
    """The newest ``limit`` runs (of the last ``since_seconds``), oldest first."""
    if limit is not None and limit < 1:
        raise ValueError("limit must be at least 1")
    path = history_path(home)
    if not path.exists():
        return []
    columns = [m.column for m in KEY_METRICS]
    wanted = [*_ROW_COLUMNS, *columns, *(["report"] if with_reports else [])]
    since = -1e18 if since_seconds is None else datetime.now(UTC).timestamp() - since_seconds
    try:
        with _open(path) as db:
            have = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
            if not have:
                return []
            # a database from an older version may lack newer metric columns
            select = ", ".join(c if c in have else f"NULL AS {c}" for c in wanted)
            rows = db.execute(
                f"SELECT {select} FROM runs WHERE started_at >= ? ORDER BY id DESC LIMIT ?",
                (since, -1 if limit is None else limit),
            ).fetchall()
    except sqlite3.Error as error:
        if _is_damage(error):
            raise HistoryError(
                f"the history database {path} is damaged ({error}); the next run moves it "
                "aside and starts a new one"
            ) from None
        raise HistoryError(f"cannot read the history database {path}: {error}") from None
    return [_row(r, columns, with_reports) for r in reversed(rows)]


def _row(raw: Sequence[Any], columns: Sequence[str], with_report: bool) -> HistoryRow:
    report = None
    if with_report:
        try:
            report = json.loads(zlib.decompress(raw[-1]).decode("utf-8"))
        except (zlib.error, ValueError, TypeError):
            report = None
    return HistoryRow(
        run_id=raw[0],
        started_at=datetime.fromtimestamp(raw[1], UTC),
        status=raw[2],
        exit_code=raw[3],
        first_cause=raw[4],
        first_cause_title=raw[5],
        metrics=dict(zip(columns, raw[6 : 6 + len(columns)], strict=True)),
        report=report,
    )


def last_status(home: Path) -> str | None:
    """The status of the newest recorded run, or None (no history, or unreadable)."""
    try:
        rows = query(home, limit=1)
    except (HistoryError, ValueError, OSError):
        return None
    return rows[-1].status if rows else None


# --- rendering ---------------------------------------------------------------------------

_WORDS: dict[str, dict[str, str]] = {
    "empty": {
        "id": "Belum ada riwayat. Jalankan: jmo-doctor run",
        "en": "No history yet. Run: jmo-doctor run",
    },
    "title": {"id": "Riwayat: {n} pemeriksaan", "en": "History: {n} runs"},
    "time": {"id": "Waktu", "en": "Time"},
    "status": {"id": "Status", "en": "Status"},
    "cause": {"id": "Penyebab utama", "en": "First cause"},
    "fine": {"id": "tidak ada masalah ditemukan", "en": "nothing wrong found"},
    "trends": {"id": "Tren (lama → baru)", "en": "Trends (oldest → newest)"},
    "share": {"id": "Status", "en": "Status"},
    "no_data": {"id": "tidak ada data", "en": "no data"},
    "stats": {
        "id": "min {min} · median {median} · maks {max}",
        "en": "min {min} · median {median} · max {max}",
    },
}


def _word(key: str, lang: str) -> str:
    if key in STATUSES:
        return label(f"status.{key}", lang)
    return pick(_WORDS.get(key, {"en": key}), lang)


def status_share(rows: Sequence[HistoryRow]) -> dict[str, float]:
    """Fraction of runs per status (0..1), every status present, in ``STATUSES`` order."""
    total = len(rows)
    return {s: (sum(r.status == s for r in rows) / total if total else 0.0) for s in STATUSES}


def _cause_text(row: HistoryRow, lang: str) -> str:
    if row.status == "ok":
        return _word("fine", lang)
    if row.first_cause:
        try:
            from jmo_doctor import catalogue

            return catalogue.text(row.first_cause, lang).title
        except Exception:  # a cause from a newer version, or no catalogue: keep the stored one
            return row.first_cause_title or row.first_cause
    return "—"


def _fmt(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.1f}"


def render_text(
    rows: Sequence[HistoryRow], lang: str, *, tz: tzinfo | None = None, width: int = 40
) -> str:
    if not rows:
        return _word("empty", lang) + "\n"

    def when(moment: datetime) -> str:
        return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")

    zone = rows[-1].started_at.astimezone(tz).strftime("%Z")
    time_header = f"{_word('time', lang)} ({zone})"
    time_width = max(len(time_header), len(when(rows[-1].started_at)))
    status_width = max(len(_word(s, lang)) for s in STATUSES)
    lines = [_word("title", lang).format(n=len(rows)), ""]
    lines.append(
        f"{time_header.ljust(time_width)}  "
        f"{_word('status', lang).ljust(status_width)}  {_word('cause', lang)}"
    )
    for row in rows:
        lines.append(
            f"{when(row.started_at).ljust(time_width)}  "
            f"{_word(row.status, lang).ljust(status_width)}  {_cause_text(row, lang)}"
        )
    lines += ["", _word("trends", lang)]
    labels = {m.column: pick(m.label, lang) for m in KEY_METRICS}
    label_width = max(len(labels[c]) for c in TREND_COLUMNS)
    for column in TREND_COLUMNS:
        values = [row.metrics.get(column) for row in rows]
        present = [v for v in values if v is not None]
        if present:
            stats = _word("stats", lang).format(
                min=_fmt(min(present)),
                median=_fmt(statistics.median(present)),
                max=_fmt(max(present)),
            )
            trend = f"{sparkline(values, width)}  {stats}"
        else:
            trend = _word("no_data", lang)
        lines.append(f"  {labels[column].ljust(label_width)}  {trend}")
    share = status_share(rows)
    parts = [
        f"{_word(s, lang)} {round(100 * share[s])}% ({sum(r.status == s for r in rows)})"
        for s in STATUSES
        if share[s]
    ]
    lines.append(f"  {_word('share', lang).ljust(label_width)}  {' · '.join(parts)}")
    return "\n".join(lines) + "\n"


def render_json(rows: Sequence[HistoryRow]) -> str:
    runs = []
    for row in rows:
        entry: dict[str, Any] = {
            "run_id": row.run_id,
            "started_at": row.started_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "status": row.status,
            "exit_code": row.exit_code,
            "first_cause": row.first_cause,
            "first_cause_title": row.first_cause_title,
            "metrics": dict(row.metrics),
        }
        if row.report is not None:
            entry["report"] = row.report
        runs.append(entry)
    trends: dict[str, Any] = {}
    for metric in KEY_METRICS:
        present = [v for r in rows if (v := r.metrics.get(metric.column)) is not None]
        trends[metric.column] = (
            {
                "count": len(present),
                "min": min(present),
                "median": statistics.median(present),
                "max": max(present),
            }
            if present
            else {"count": 0}
        )
    summary = {"runs": len(rows), "status_share": status_share(rows), "metrics": trends}
    return (
        json.dumps(
            {"schema_version": SCHEMA_VERSION, "runs": runs, "summary": summary},
            ensure_ascii=False,
            indent=2,
        )
        + "\n"
    )
