"""Diagnosis: a pure function from probe results to ranked causes (SPEC §6).

(Interface fixed; rules filled in by the diagnosis work.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from jmo_doctor.api import ProbeResult
from jmo_doctor.config import Target
from jmo_doctor.exitcodes import ExitStatus


@dataclass(frozen=True)
class Cause:
    id: str
    rank: int
    confidence: str  # "high" | "medium" | "low"
    article_section: int | str | None  # 1, 2, 3, "intro" or None (not in the article)
    title: str
    explanation: str
    fix: tuple[str, ...]
    evidence: tuple[str, ...]  # "code@target" or "code"
    severity: ExitStatus


@dataclass(frozen=True)
class Diagnosis:
    causes: tuple[Cause, ...]
    status: ExitStatus
    all_clear: bool  # nothing network- or app-related was found


def diagnose(results: Sequence[ProbeResult], targets: Sequence[Target], lang: str) -> Diagnosis:
    raise NotImplementedError
