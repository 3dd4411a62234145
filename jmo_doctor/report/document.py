"""The report document (SPEC §7): one JSON-shaped dict that every renderer reads.

``run`` builds it from live results; ``report show`` loads it from a file. Both paths
render from the same document, so a saved report looks exactly like the live one.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jmo_doctor import __version__
from jmo_doctor.api import ProbeResult
from jmo_doctor.config import Target
from jmo_doctor.diagnosis import Diagnosis
from jmo_doctor.errors import UserError

SCHEMA_VERSION = 1
Document = dict[str, Any]


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


def probe_entry(result: ProbeResult) -> dict[str, Any]:
    return {
        "id": result.id,
        "status": str(result.status),
        "summary": result.summary,
        "duration_s": round(result.duration_s, 3),
        "findings": [
            {
                "code": f.code,
                "target": f.target,
                "message": f.message,
                "data": _plain(dict(f.data)),
            }
            for f in result.findings
        ],
        "metrics": _metrics(result.metrics),
        "details": _plain(dict(result.details)),
    }


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
        },
        "status": diagnosis.status.label,
        "exit_code": int(diagnosis.status),
        "all_clear": diagnosis.all_clear,
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
                "explanation": c.explanation,
                "fix": list(c.fix),
                "evidence": list(c.evidence),
            }
            for c in diagnosis.causes
        ],
        "warnings": list(warnings),
        "redacted": False,
    }


def dumps(document: Document) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def load(path: str) -> Document:
    """Read a saved report, refusing what is not one (or is from a newer jmo-doctor)."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise ReportFileError(f"{path}: file not found") from None
    except OSError as error:
        raise ReportFileError(f"{path}: cannot read it ({error.strerror})") from None
    try:
        document = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ReportFileError(f"{path}: not a JSON file ({error})") from None
    if not isinstance(document, dict) or "schema_version" not in document:
        raise ReportFileError(f"{path}: not a jmo-doctor report (no schema_version)")
    version = document.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ReportFileError(f"{path}: not a jmo-doctor report (bad schema_version)")
    if version > SCHEMA_VERSION:
        raise ReportFileError(
            f"{path}: report schema version {version} is newer than this jmo-doctor "
            f"understands ({SCHEMA_VERSION}); upgrade: pip install -U jmo-doctor"
        )
    problem = shape_problem(document)
    if problem:
        raise ReportFileError(f"{path}: not a valid jmo-doctor report ({problem})")
    return document


def shape_problem(document: Mapping[str, Any]) -> str | None:
    """The first thing that makes ``document`` unrenderable, or None (no jsonschema needed)."""
    tool = document.get("tool")
    if not isinstance(tool, dict) or tool.get("name") != "jmo-doctor":
        return "tool.name is not jmo-doctor"
    for key, kind in (("run", dict), ("probes", list), ("causes", list), ("status", str)):
        if not isinstance(document.get(key), kind):
            return f"'{key}' missing or of the wrong type"
    for probe in document["probes"]:
        if not isinstance(probe, dict) or not isinstance(probe.get("id"), str):
            return "a probe entry has no id"
        if not isinstance(probe.get("findings", []), list):
            return f"probe {probe['id']}: findings is not a list"
        for finding in probe.get("findings", []):
            if not isinstance(finding, dict) or not isinstance(finding.get("code"), str):
                return f"probe {probe['id']}: a finding has no code"
    for cause in document["causes"]:
        if not isinstance(cause, dict) or not isinstance(cause.get("id"), str):
            return "a cause entry has no id"
        if not isinstance(cause.get("fix", []), list):
            return f"cause {cause['id']}: fix is not a list"
    return None


def now() -> datetime:
    return datetime.now(UTC)
