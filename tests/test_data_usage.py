"""``run.data_bytes``: counted where a probe counts (bandwidth), estimated for the others
from the lab-measured table; shown as one short line in the text report, in both
languages, and valid against the report schema."""

from __future__ import annotations

from datetime import UTC, datetime

from jmo_doctor import config
from jmo_doctor.api import ProbeResult, Status
from jmo_doctor.diagnosis import diagnose
from jmo_doctor.report import data_usage, document, schema
from jmo_doctor.report.text import layout

TARGETS = config.parse("", "<test>").targets
STARTED = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def _result(probe_id: str, status: Status = Status.PASS, **metrics: float) -> ProbeResult:
    return ProbeResult(probe_id, status, probe_id, (), metrics)


def _doc(*results: ProbeResult, lang: str = "en") -> document.Document:
    verdict = diagnose(results, TARGETS, lang)
    run = document.RunInfo(STARTED, 3.0, lang)
    return document.build(run, results, verdict, {"platform": "linux"}, targets=TARGETS)


def test_bandwidth_bytes_are_taken_as_counted() -> None:
    counted = _result("bandwidth", data_bytes=24_999_999.0)
    assert data_usage.data_used([counted], len(TARGETS)) == 24_999_999


def test_other_probes_are_estimated_per_target_and_skips_cost_nothing() -> None:
    per_target, per_run = data_usage._estimates()
    dns = _result("dns")
    assert data_usage.data_used([dns], 5) == 5 * per_target["dns"]
    assert data_usage.data_used([dns], 2) == 2 * per_target["dns"]
    assert data_usage.data_used([_result("store")], 5) == per_run["store"]
    assert data_usage.data_used([_result("dns", Status.SKIP)], 5) == 0
    assert data_usage.data_used([_result("a-plugin")], 5) == 0  # unknown: not counted


def test_the_report_carries_it_and_validates() -> None:
    doc = _doc(_result("dns"), _result("bandwidth", data_bytes=3_000_000.0))
    assert doc["run"]["data_bytes"] >= 3_000_000
    assert schema.first_problem(doc) is None
    doc["run"]["data_bytes"] = -1
    assert schema.first_problem(doc) is not None


def test_quick_run_uses_almost_nothing() -> None:
    quick = [_result(p) for p in ("system", "dns", "tcp", "tls", "http", "clock", "store")]
    quick.append(_result("bandwidth", Status.SKIP))
    assert data_usage.data_used(quick, len(TARGETS)) < 200_000


def _text(doc: document.Document) -> str:
    return "\n".join("".join(text for text, _ in line) for line in layout(doc))


def test_text_report_says_how_much_data_in_both_languages() -> None:
    counted = _result("bandwidth", data_bytes=25_100_000.0)
    assert "Data used: about 25.1 MB" in _text(_doc(counted, lang="en"))
    assert "Kuota data terpakai: sekitar 25,1 MB" in _text(_doc(counted, lang="id"))
    assert "about 85 kB" in _text(_doc(_result("bandwidth", data_bytes=85_000.0)))


def test_a_report_from_before_has_no_data_line() -> None:
    doc = _doc(_result("dns"))
    del doc["run"]["data_bytes"]
    assert "Data used" not in _text(doc)
