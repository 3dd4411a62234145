"""`jmo-doctor report summary`: many saved reports counted for a support desk.

A desk receives reports by the hundred, attached to tickets, and wants to know what is
common: the first cause, the status, the platform, the JMO version installed against the
latest in the store, the network operator (when termux-api told the system probe) and the
day. Every file goes through the same capped, validated loader as ``report show``
(``document.load``) and is counted through :class:`ReportView`, then dropped: memory stays
flat on 10,000 reports. A file that is no report is listed with the loader's one-line
reason and never stops the count.

Directories are walked without following symbolic links (a planted link cannot lead the
walk out of the directory or into a loop) and only regular ``*.json`` files in them are
read: a FIFO or a device named ``x.json`` is listed as skipped, never opened.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from jmo_doctor.errors import UserError
from jmo_doctor.fileio import kind_of
from jmo_doctor.i18n import pick
from jmo_doctor.report.labels import label
from jmo_doctor.report.view import ReportView
from jmo_doctor.safetext import one_line

SCHEMA_VERSION = 1
#: What a count has no value for (an ok run has no cause; most runs know no operator).
NONE = "-"
#: The store each platform installs JMO from (store probe ``details.stores`` keys).
_STORE_OF = {"android": "play", "ios": "appstore"}
#: The count tables, in the order every format shows them.
DIMENSIONS = ("first_cause", "status", "platform", "app_version", "operator", "day")
#: Spreadsheets run a cell that starts with these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Invalid:
    path: str
    reason: str


@dataclass
class Summary:
    """Counts per dimension over the valid reports, and the files that were not reports."""

    reports: int = 0
    counts: dict[str, Counter[str]] = field(
        default_factory=lambda: {name: Counter() for name in DIMENSIONS}
    )
    versions: Counter[tuple[str, str]] = field(default_factory=Counter)  # (installed, latest)
    invalid: list[Invalid] = field(default_factory=list)

    def add(self, report: ReportView) -> None:
        cause = report.first_cause
        self.reports += 1
        self.counts["first_cause"][cause.id if cause else NONE] += 1
        self.counts["status"][report.status] += 1
        self.counts["platform"][report.platform or NONE] += 1
        installed, latest = app_versions(report)
        self.versions[(installed, latest)] += 1
        self.counts["app_version"][installed] += 1
        self.counts["operator"][network_operator(report)] += 1
        self.counts["day"][report.started_at.date().isoformat()] += 1


def app_versions(report: ReportView) -> tuple[str, str]:
    """(installed, latest) JMO versions from the store probe's details; ``NONE`` if unknown.

    The latest is the store of the run's platform (Play for Android, App Store for iOS),
    else the first store that answered.
    """
    probe = report.probe("store")
    if probe is None:
        return NONE, NONE
    installed = _mapping(probe.details.get("installed")).get("version")
    stores = _mapping(probe.details.get("stores"))
    preferred = _STORE_OF.get(str(probe.details.get("platform")))
    ordered = [preferred, *stores] if preferred else list(stores)
    latest = next(
        (
            str(found)
            for name in ordered
            if isinstance(found := _mapping(stores.get(name)).get("latest"), str) and found
        ),
        NONE,
    )
    return (str(installed) if isinstance(installed, str) and installed else NONE), latest


def network_operator(report: ReportView) -> str:
    """The cellular operator termux-api named to the system probe, else ``NONE``."""
    probe = report.probe("system")
    found = _mapping(probe.details.get("cellular")).get("operator") if probe else None
    return found if isinstance(found, str) and found.strip() else NONE


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


# --- finding and reading the files -------------------------------------------------------


def report_files(arguments: Iterable[str]) -> Iterator[tuple[str, str | None]]:
    """(path, None) for each file to read, or (path, why it is skipped).

    A FILE argument is read as given (the loader refuses what is not a report). A DIR is
    walked for ``*.json``: symbolic links inside are not followed, and a directory seen
    before (a bind mount of itself) is not walked again.
    """
    seen: set[tuple[int, int]] = set()
    for argument in arguments:
        try:
            status = os.stat(argument)
        except OSError as error:
            yield argument, error.strerror or str(error)
            continue
        if stat.S_ISDIR(status.st_mode):
            yield from _walk(argument, seen)
        else:
            yield argument, None


def _walk(top: str, seen: set[tuple[int, int]]) -> Iterator[tuple[str, str | None]]:
    """Files of ``top`` in name order, each folder's files before its subfolders."""
    pending = [top]
    while pending:
        directory = pending.pop()
        try:
            status = os.stat(directory)
            if (status.st_dev, status.st_ino) in seen:
                continue
            seen.add((status.st_dev, status.st_ino))
            with os.scandir(directory) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError as error:
            yield directory, error.strerror or str(error)
            continue
        folders = []
        for entry in entries:
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError as error:
                yield entry.path, error.strerror or str(error)
                continue
            if stat.S_ISDIR(mode):
                folders.append(entry.path)
            elif not entry.name.lower().endswith(".json"):
                continue
            elif stat.S_ISREG(mode):
                yield entry.path, None
            else:
                yield entry.path, f"{kind_of(mode)}, not a regular file: skipped"
        pending.extend(reversed(folders))  # popped from the end: the first name first


def summarise(arguments: Iterable[str]) -> Summary:
    """Every report under ``arguments`` counted; one document in memory at a time."""
    from jmo_doctor.report import document

    summary = Summary()
    for path, skipped in report_files(arguments):
        if skipped is not None:
            summary.invalid.append(Invalid(path, skipped))
            continue
        try:
            doc = document.load(path)
        except UserError as error:
            reason = str(error)
            summary.invalid.append(Invalid(path, reason.removeprefix(f"{path}: ")))
            continue
        summary.add(ReportView.of(doc))
    return summary


# --- rendering ---------------------------------------------------------------------------

WORDS: dict[str, dict[str, str]] = {
    "title": {"id": "Ringkasan: {n} laporan", "en": "Summary: {n} reports"},
    "first_cause": {"id": "Penyebab utama", "en": "First cause"},
    "status": {"id": "Status", "en": "Status"},
    "platform": {"id": "Platform", "en": "Platform"},
    "app_version": {
        "id": "Versi JMO (terpasang → terbaru)",
        "en": "JMO version (installed → latest)",
    },
    "operator": {"id": "Operator seluler", "en": "Mobile operator"},
    "day": {"id": "Per hari (UTC)", "en": "Per day (UTC)"},
    "none": {"id": "tidak diketahui", "en": "unknown"},
    "no_cause": {"id": "tidak ada penyebab", "en": "no cause"},
    "invalid": {
        "id": "Bukan laporan yang sah ({n}, dilewati):",
        "en": "Not valid reports ({n}, skipped):",
    },
}


def word(key: str, lang: str) -> str:
    return pick(WORDS[key], lang)


def _shown(dimension: str, value: str, lang: str) -> str:
    """A counted value as a person reads it: the cause's title, the status word."""
    if value == NONE:
        return word("no_cause" if dimension == "first_cause" else "none", lang)
    if dimension == "status":
        return label(f"status.{value}", lang)
    if dimension == "first_cause":
        try:
            from jmo_doctor import catalogue

            return f"{catalogue.text(value, lang).title} ({value})"
        except Exception:  # a cause from a newer version or a plug-in: its id
            return value
    return value


def _ranked(counter: Counter[Any], dimension: str) -> list[tuple[Any, int]]:
    """Most first; days in calendar order, which is what a desk reads them by."""
    if dimension == "day":
        return sorted(counter.items())
    return sorted(counter.items(), key=lambda item: (-item[1], str(item[0])))


def render_text(summary: Summary, lang: str) -> str:
    lines = [word("title", lang).format(n=summary.reports)]
    for dimension in DIMENSIONS if summary.reports else ():  # nothing to count: no tables
        lines += ["", word(dimension, lang)]
        width = len(str(max(summary.counts[dimension].values(), default=0)))
        if dimension == "app_version":
            rows = [
                (f"{_shown('v', i, lang)} → {_shown('v', latest, lang)}", n)
                for (i, latest), n in _ranked(summary.versions, dimension)
            ]
        else:
            rows = [
                (_shown(dimension, value, lang), n)
                for value, n in _ranked(summary.counts[dimension], dimension)
            ]
        lines += [_wrapped(f"  {str(n).rjust(width)}  ", shown) for shown, n in rows]
    if summary.invalid:
        lines += ["", word("invalid", lang).format(n=len(summary.invalid))]
        lines += [_wrapped("  ", f"{bad.path}: {bad.reason}") for bad in summary.invalid]
    return "\n".join(lines) + "\n"


def _wrapped(head: str, value: str) -> str:
    """``head`` then ``value`` made safe and wrapped as the text report wraps, hanging."""
    from jmo_doctor.report.text import WIDTH, wrap_words

    pieces = wrap_words(one_line(value), WIDTH - len(head)) or [""]
    return "\n".join([head + pieces[0], *(" " * len(head) + piece for piece in pieces[1:])])


def render_json(summary: Summary) -> str:
    counts: dict[str, Any] = {
        dimension: dict(_ranked(summary.counts[dimension], dimension)) for dimension in DIMENSIONS
    }
    counts["app_version"] = [
        {"installed": installed, "latest": latest, "count": n}
        for (installed, latest), n in _ranked(summary.versions, "app_version")
    ]
    return (
        json.dumps(
            {
                "schema_version": SCHEMA_VERSION,
                "reports": summary.reports,
                "counts": counts,
                "invalid": [{"file": bad.path, "reason": bad.reason} for bad in summary.invalid],
            },
            ensure_ascii=False,
            indent=2,
        )
        + "\n"
    )


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text, never runs (``=HYPERLINK(…)`` in a report)."""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) and text != NONE else text


def render_csv(summary: Summary) -> str:
    """One row per count: ``dimension,value,count,detail``.

    ``detail`` is the latest store version on ``app_version`` rows and the reason on
    ``invalid`` rows (one per file that was not a report), empty elsewhere.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["dimension", "value", "count", "detail"])
    writer.writerow(["reports", "", summary.reports, ""])
    for dimension in DIMENSIONS:
        if dimension == "app_version":
            for (installed, latest), n in _ranked(summary.versions, dimension):
                writer.writerow([dimension, _cell(installed), n, _cell(latest)])
            continue
        for value, n in _ranked(summary.counts[dimension], dimension):
            writer.writerow([dimension, _cell(value), n, ""])
    for bad in summary.invalid:
        writer.writerow(["invalid", _cell(bad.path), 1, _cell(bad.reason)])
    return out.getvalue()
