"""The report document (SPEC §7): one JSON-shaped dict that every renderer reads.

``run`` builds it from live results; ``report show`` loads it from a file. Both paths
render from the same document, so a saved report looks exactly like the live one.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import stat
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jmo_doctor import __version__
from jmo_doctor.api import ProbeResult
from jmo_doctor.config import Target
from jmo_doctor.diagnosis import Diagnosis
from jmo_doctor.errors import UserError
from jmo_doctor.fileio import kind_of
from jmo_doctor.i18n import pick, said, texts_of
from jmo_doctor.report import schema
from jmo_doctor.report.data_usage import data_used

SCHEMA_VERSION = 1
#: Characters json.dumps leaves raw that a terminal acts on (C1 controls, bidi controls).
_TERMINAL_ACTIVE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
Document = dict[str, Any]

#: Reports are tens of kilobytes; a file this big is not one (and /dev/zero never ends).
MAX_REPORT_BYTES = 16 * 2**20
#: Reports nest a few levels (a finding's data, a probe's details); deeper is hostile and
#: would only meet a recursion limit somewhere in a renderer.
MAX_NESTING = 64
#: How long a FIFO opened before its writer waits for one.
PIPE_WAIT_S = 2.0
#: No number in a report needs more digits; Python refuses int strings past 4300 anyway.
MAX_NUMBER_DIGITS = 100

_MAYBE_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")

# Absent on Windows, which has no FIFOs to block on.
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)


class ReportFileError(UserError):
    """A saved report that cannot be shown, worded for the person who gave it."""


@dataclass(frozen=True)
class RunInfo:
    started_at: datetime
    duration_s: float
    lang: str


def _plain(value: Any) -> Any:
    """JSON-safe copy: tuples → lists, non-finite floats → None, unknown objects → str."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def _metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    clean: dict[str, float] = {}
    for name, value in metrics.items():
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            clean[str(name)] = float(value)
    return clean


def _with_texts(entry: dict[str, Any], key: str, said: object) -> dict[str, Any]:
    """``entry`` plus ``<key>_texts``, the text in every language, when it is known."""
    texts = texts_of(said)
    if texts is not None:
        entry[f"{key}_texts"] = texts
    return entry


def probe_entry(result: ProbeResult) -> dict[str, Any]:
    entry = {
        "id": result.id,
        "status": str(result.status),
        "summary": str(result.summary),
        "duration_s": round(result.duration_s, 3),
        "findings": [
            _with_texts(
                {
                    "code": f.code,
                    "target": f.target,
                    "message": str(f.message),
                    "data": _plain(dict(f.data)),
                },
                "message",
                f.message,
            )
            for f in result.findings
        ],
        "metrics": _metrics(result.metrics),
        "details": _plain(dict(result.details)),
    }
    return _with_texts(entry, "summary", result.summary)


def build(
    run: RunInfo,
    results: Sequence[ProbeResult],
    diagnosis: Diagnosis,
    environment: Mapping[str, Any],
    warnings: Sequence[str] = (),
    targets: Sequence[Target] = (),
) -> Document:
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "jmo-doctor", "version": __version__},
        "run": {
            "id": str(uuid.uuid4()),
            "started_at": run.started_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "duration_s": round(run.duration_s, 3),
            "lang": run.lang,
            "data_bytes": data_used(results, len(targets)),
        },
        "status": diagnosis.status.label,
        "exit_code": int(diagnosis.status),
        "all_clear": diagnosis.all_clear,
        # what the verdict speaks for: the renderers say what was not checked, and why
        "scope": {
            "complete": diagnosis.scope.complete,
            "checked": list(diagnosis.scope.checked),
            "not_checked": dict(diagnosis.scope.not_checked),
            "installed_version_known": diagnosis.scope.installed_version_known,
        },
        "environment": _plain(dict(environment)),
        # roles travel with the report, so a saved one still knows which hosts are BPJS's
        "targets": [{"name": t.name, "host": t.host, "role": t.role} for t in targets],
        "probes": [probe_entry(r) for r in results],
        "causes": [
            {
                "id": c.id,
                "rank": c.rank,
                "confidence": c.confidence,
                "article_section": c.article_section,
                "severity": c.severity.label,
                "title": c.title,
                "summary": c.summary,
                "explanation": c.explanation,
                "fix": list(c.fix),
                "evidence": list(c.evidence),
            }
            for c in diagnosis.causes
        ],
        # a warning worded in every language (a plug-in's) is kept in the run's
        "warnings": [pick(texts_of(w) or w, run.lang) for w in warnings],
        "redacted": False,
    }


def dumps(document: Document) -> str:
    """Readable UTF-8 JSON, with every character a terminal would act on escaped.

    json escapes C0 controls itself; C1 controls and bidi overrides pass through raw with
    ``ensure_ascii=False``, so they are written as ``\\uXXXX`` here (same JSON value).
    """
    text = json.dumps(document, ensure_ascii=False, indent=2)
    return _TERMINAL_ACTIVE.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n"


def load(path: str) -> Document:
    """Read a saved report, refusing what is not one (or is from a newer jmo-doctor).

    Everything about the file is checked before a renderer sees it: its size and kind,
    its JSON, its version and every field against the shipped schema, so a hostile or
    damaged file gives one line naming what is wrong, never a traceback.
    """
    document = _versioned(path, _parse(path, _read_capped(path)))
    problem = schema.first_problem(document)
    if problem is not None:
        raise ReportFileError(said("report_file.invalid", path=path, problem=problem))
    return document


def _read_capped(path: str) -> bytes:
    """The file's bytes, at most :data:`MAX_REPORT_BYTES` (``/dev/zero`` never ends).

    O_NONBLOCK: opening a FIFO nobody writes to must not wait for ever. A pipe with a
    writer (``report show /dev/stdin < r.json``, ``<(…)``) is read as a file is.
    """
    try:
        fd = os.open(path, os.O_RDONLY | _NONBLOCK | _CLOEXEC | _BINARY)
    except FileNotFoundError:
        raise ReportFileError(said("report_file.not_found", path=path)) from None
    except OSError as error:
        why = _why_unreadable(path, error)
        raise ReportFileError(said("report_file.unreadable", path=path, reason=why)) from None
    try:
        first = b""
        if stat.S_ISFIFO(_check_kind(path, os.fstat(fd))) and _NONBLOCK:
            first = _first_from_pipe(path, fd)
        if _NONBLOCK:
            os.set_blocking(fd, True)
        raw = first + _read_at_most(fd, MAX_REPORT_BYTES + 1 - len(first))
    except OSError as error:
        why = error.strerror or str(error)
        raise ReportFileError(said("report_file.unreadable", path=path, reason=why)) from None
    finally:
        os.close(fd)
    if len(raw) > MAX_REPORT_BYTES:
        raise _too_big(path)
    return raw


def _first_from_pipe(path: str, fd: int) -> bytes:
    """What a pipe holds already, waiting :data:`PIPE_WAIT_S` for a writer to come.

    ``mkfifo f; jmo-doctor report show f & make-report > f`` opens the reader first; a
    FIFO no writer ever opens is refused after the wait instead of blocking for ever.
    """
    deadline = time.monotonic() + PIPE_WAIT_S
    while True:
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:  # a writer is there, its data not yet: read on, blocking
            return b""
        if chunk:
            return chunk
        if time.monotonic() >= deadline:  # no writer, or one that wrote nothing
            raise ReportFileError(said("report_file.silent_pipe", path=path))
        time.sleep(0.05)


def _check_kind(path: str, status: os.stat_result) -> int:
    if stat.S_ISDIR(status.st_mode):
        raise ReportFileError(said("report_file.directory", path=path))
    if stat.S_ISREG(status.st_mode) and status.st_size > MAX_REPORT_BYTES:
        raise _too_big(path)  # refused before reading a byte
    return status.st_mode


def _too_big(path: str) -> ReportFileError:
    return ReportFileError(said("report_file.too_big", path=path, mib=MAX_REPORT_BYTES // 2**20))


def _why_unreadable(path: str, error: OSError) -> str:
    with contextlib.suppress(OSError):
        mode = os.stat(path).st_mode
        if stat.S_ISSOCK(mode):  # opening a socket gives the cryptic ENXIO
            return f"it is {kind_of(mode)}, not a file"
    return error.strerror or str(error)


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < limit:
        chunk = os.read(fd, min(limit - len(chunks), 1 << 20))
        if not chunk:
            break
        chunks += chunk
    return bytes(chunks)


def _parse(path: str, raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ReportFileError(said("report_file.not_utf8", path=path, at=error.start)) from None
    if not text.strip():
        raise ReportFileError(said("report_file.empty", path=path))
    try:
        document = json.loads(
            text, parse_constant=_no_constant, parse_int=_bounded_int, parse_float=_finite_float
        )
    except RecursionError:
        raise _too_deep(path) from None
    except ValueError as error:  # JSONDecodeError, and the refusals of the hooks below
        raise ReportFileError(said("report_file.not_json", path=path, error=error)) from None
    if _nesting_exceeds(document, MAX_NESTING):
        raise _too_deep(path)
    # "\\ud800" alone is valid JSON but no text: printing it would fail mid-report
    if _MAYBE_SURROGATE.search(text) and _has_lone_surrogate(document):
        raise ReportFileError(said("report_file.surrogate", path=path))
    return document


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _bounded_int(digits: str) -> int:
    if len(digits) > MAX_NUMBER_DIGITS:
        raise ValueError(f"a number with more than {MAX_NUMBER_DIGITS} digits")
    return int(digits)


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text[:20]} is too large a number")
    return number


def _nesting_exceeds(document: Any, limit: int) -> bool:
    """Whether arrays and objects nest deeper than ``limit`` (walked without recursion)."""
    pending: list[tuple[Any, int]] = [(document, 0)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict | list):
            if depth >= limit:
                return True
            children = value.values() if isinstance(value, dict) else value
            pending.extend((child, depth + 1) for child in children)
    return False


def _has_lone_surrogate(document: Any) -> bool:
    pending: list[Any] = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                return True
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


def _too_deep(path: str) -> ReportFileError:
    return ReportFileError(said("report_file.too_deep", path=path, depth=MAX_NESTING))


def _versioned(path: str, document: Any) -> Document:
    """``document`` if it is a report of a schema version this jmo-doctor can read."""
    if not isinstance(document, dict) or "schema_version" not in document:
        raise ReportFileError(said("report_file.no_version", path=path))
    version = document["schema_version"]
    if not isinstance(version, int) or isinstance(version, bool):
        raise ReportFileError(said("report_file.version_not_whole", path=path))
    if version > SCHEMA_VERSION:
        raise ReportFileError(
            said("report_file.too_new", path=path, version=version, known=SCHEMA_VERSION)
        )
    if version < 1:
        raise ReportFileError(said("report_file.version_too_low", path=path, version=version))
    return document


def now() -> datetime:
    return datetime.now(UTC)
