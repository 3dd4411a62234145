"""`jmo-doctor history`: the stored runs as a table with trends, or as JSON.

The history database reads its rows back as :class:`HistoryRow`; this module only shows
them, as the other renderers in this package show a report.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from jmo_doctor.i18n import pick
from jmo_doctor.report.labels import label
from jmo_doctor.report.metrics import KEY_METRICS, TREND_COLUMNS
from jmo_doctor.safetext import one_line
from jmo_doctor.sparkline import sparkline

#: The version of the JSON that ``history --format json`` prints (the database keeps
#: its own schema version; both are 1 so far).
SCHEMA_VERSION = 1
STATUSES = ("ok", "warning", "critical", "unknown")


# --- the rows, as the history reads them back --------------------------------------------


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


class HistoryRows(list[HistoryRow]):
    """The rows of a query, oldest first, and how many stored runs could not be read."""

    def __init__(self, rows: Iterable[HistoryRow] = (), *, skipped: int = 0) -> None:
        super().__init__(rows)
        self.skipped = skipped

    @property
    def warning(self) -> str | None:
        """For stderr: that damaged rows were left out (None when all were read)."""
        if not self.skipped:
            return None
        runs = "run was" if self.skipped == 1 else "runs were"
        return f"{self.skipped} stored {runs} damaged and could not be read: skipped"


# --- rendering ---------------------------------------------------------------------------


def _word(key: str, lang: str) -> str:
    if key in STATUSES:
        return label(f"status.{key}", lang)
    return label(f"history.{key}", lang)


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
            # text from the database file: no escape sequence of it reaches the terminal
            return one_line(row.first_cause_title or row.first_cause)
    return "—"


def _fmt(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.1f}"


def _skipped(rows: Sequence[HistoryRow]) -> int:
    return rows.skipped if isinstance(rows, HistoryRows) else 0


def render_text(
    rows: Sequence[HistoryRow], lang: str, *, tz: tzinfo | None = None, width: int = 40
) -> str:
    """The runs as a table with trends; a warning line last when damaged runs were skipped."""
    warning = [_word("skipped", lang).format(n=n)] if (n := _skipped(rows)) else []
    if not rows:
        return "\n".join([_word("empty", lang), *warning]) + "\n"

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
    return "\n".join([*lines, *(["", *warning] if warning else [])]) + "\n"


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
    summary = {
        "runs": len(rows),
        "skipped_damaged": _skipped(rows),
        "status_share": status_share(rows),
        "metrics": trends,
    }
    return (
        json.dumps(
            {"schema_version": SCHEMA_VERSION, "runs": runs, "summary": summary},
            ensure_ascii=False,
            indent=2,
        )
        + "\n"
    )


#: The first cause of a run in words, for the other history renderers (HTML).
cause_text = _cause_text
