"""Golden tests of the text report, in both languages (UPDATE_GOLDEN=1 rewrites them)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from jmo_doctor import config
from jmo_doctor.api import Finding, ProbeResult, Status
from jmo_doctor.diagnosis import diagnose
from jmo_doctor.report import document, markdown, text

GOLDEN = Path(__file__).parent / "golden"
TARGETS = config.parse("", "<test>").targets

SCENARIOS: dict[str, list[ProbeResult]] = {
    # every probe that judges the network and the app passed: only then is it all clear
    "healthy": [
        ProbeResult("system", Status.PASS, "wlan0 up, default route present.", duration_s=0.02),
        ProbeResult("dns", Status.PASS, "5 names resolved by every resolver.", duration_s=0.1),
        ProbeResult("tcp", Status.PASS, "5 targets answer, median 24 ms.", duration_s=1.1),
        ProbeResult("tls", Status.PASS, "5 certificates valid.", duration_s=0.3),
        ProbeResult("http", Status.PASS, "5/5 URLs answered; no captive portal.", duration_s=0.4),
        ProbeResult("store", Status.PASS, "JMO 4.1.0 is the latest version.", duration_s=0.6),
        ProbeResult("kpj", Status.PASS, "KPJ ********901 is 11 digits.", duration_s=0.0),
    ],
    "captive-portal": [
        ProbeResult("system", Status.PASS, "wlan0 up, default route present.", duration_s=0.02),
        ProbeResult(
            "http",
            Status.FAIL,
            "The portal check was redirected.",
            findings=(
                Finding(
                    "http.captive_portal",
                    "The connectivity check was redirected to http://login.wifi.example/.",
                    "captive_portal",
                    {"status": 302, "location": "http://login.wifi.example/"},
                ),
            ),
            duration_s=0.31,
        ),
    ],
}


def _document(name: str, lang: str) -> dict[str, Any]:
    return golden_document(SCENARIOS[name], lang)


def golden_document(results: list[ProbeResult], lang: str) -> dict[str, Any]:
    """The report of ``results`` as the goldens have it: a fixed time, run id and version."""
    run = document.RunInfo(datetime(2026, 11, 25, 10, 0, tzinfo=UTC), 3.2, lang)
    doc = document.build(run, results, diagnose(results, TARGETS, lang), {"platform": "linux"})
    doc["run"]["id"] = "golden"
    doc["tool"]["version"] = "0.0.0"
    doc["redacted"] = True
    return doc


@pytest.mark.parametrize("lang", ["id", "en"])
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_text_report_matches_golden(name: str, lang: str) -> None:
    rendered = text.plain(text.layout(_document(name, lang)))
    _compare(GOLDEN / f"{name}.{lang}.txt", rendered)


def test_markdown_matches_golden() -> None:
    _compare(GOLDEN / "captive-portal.id.md", markdown.render(_document("captive-portal", "id")))


def _compare(path: Path, rendered: str) -> None:
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(rendered, encoding="utf-8")
    assert path.exists(), f"{path.name} missing: run with UPDATE_GOLDEN=1 and review it"
    assert rendered == path.read_text(encoding="utf-8")
