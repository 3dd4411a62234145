"""The one reader of a report document: what a renderer sees of golden, live, old and
damaged documents."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from jmo_doctor import config
from jmo_doctor.api import Finding, ProbeResult, Status
from jmo_doctor.diagnosis import diagnose
from jmo_doctor.report import document
from jmo_doctor.report.unknown import unknown_document
from jmo_doctor.report.view import ReportView
from tests.test_golden import _document as golden

TARGETS = config.parse("", "<test>").targets
STARTED = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def _tcp(stats: dict[str, dict[str, float]], roles: dict[str, str]) -> ProbeResult:
    metrics = {f"{t}.{k}": v for t, each in stats.items() for k, v in each.items()}
    details = {t: {"role": role} for t, role in roles.items()}
    return ProbeResult("tcp", Status.PASS, "tcp", (), metrics, details, duration_s=0.4)


def _live(*results: ProbeResult, lang: str = "en", with_targets: bool = True) -> dict[str, Any]:
    run = document.RunInfo(STARTED, 3, lang)
    verdict = diagnose(results, TARGETS, lang)
    targets = TARGETS if with_targets else ()
    return document.build(run, results, verdict, {"platform": "linux"}, targets=targets)


def _without(doc: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in keys}


def _with(doc: dict[str, Any], **values: Any) -> dict[str, Any]:
    changed = copy.deepcopy(doc)
    changed.update(values)
    return changed


CAPTIVE = golden("captive-portal", "id")
HEALTHY = golden("healthy", "en")
BPJS = {t.name for t in TARGETS if t.role == "bpjs"}
FAST = {"rtt_median_ms": 20.0, "jitter_ms": 1.0, "loss_pct": 0.0}
SLOW = {"rtt_median_ms": 90.0, "jitter_ms": 4.0, "loss_pct": 2.0}
LOST = {"rtt_median_ms": 300.0, "loss_pct": 50.0}


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        pytest.param(
            CAPTIVE,
            {"lang": "id", "status": "critical", "exit_code": 2, "error": None, "version": "0.0.0",
             "platform": "linux", "first_cause": "captive_portal", "all_clear": False,
             "redacted": True, "probes": ("system", "http"), "started": STARTED},
            id="golden-captive",
        ),
        pytest.param(
            HEALTHY,
            {"lang": "en", "status": "ok", "exit_code": 0, "first_cause": "kpj_not_linked",
             "all_clear": True,
             "probes": ("system", "dns", "tcp", "tls", "http", "store", "kpj")},
            id="golden-healthy",
        ),
        pytest.param(
            unknown_document("config.toml line 3: bad value", "en"),
            {"status": "unknown", "exit_code": 3, "error": "config.toml line 3: bad value",
             "probes": (), "first_cause": None},
            id="could-not-check",
        ),
        pytest.param(
            _without(CAPTIVE, "scope", "targets", "all_clear", "warnings", "error"),
            {"status": "critical", "first_cause": "captive_portal", "all_clear": False,
             "scope": ((), {}, None), "targets": ()},
            id="old-report-no-scope-no-targets",
        ),
        pytest.param(
            _with(CAPTIVE, scope="everything", targets={"bpjs": 1}, error=["x"], warnings=7,
                  all_clear=None, environment=None, tool=[]),
            {"scope": ((), {}, None), "targets": (), "error": None, "warnings": (),
             "all_clear": False, "platform": "", "version": ""},
            id="garbage-in-optional-fields",
        ),
        pytest.param(
            {},
            {"lang": "id", "status": "unknown", "exit_code": 3, "probes": (), "first_cause": None,
             "redacted": False, "version": ""},
            id="empty",
        ),
        pytest.param(
            _with(CAPTIVE, run={"lang": "fr", "started_at": "yesterday"}, exit_code=True),
            {"lang": "id", "exit_code": 3},
            id="unknown-language-and-bad-exit-code",
        ),
    ],
)  # fmt: skip
def test_view_of(doc: dict[str, Any], expected: dict[str, Any]) -> None:
    view = ReportView.of(doc)
    seen = {
        "lang": view.lang,
        "status": view.status,
        "exit_code": view.exit_code,
        "error": view.error,
        "version": view.version,
        "platform": view.platform,
        "first_cause": view.first_cause.id if view.first_cause else None,
        "all_clear": view.all_clear,
        "redacted": view.redacted,
        "probes": tuple(p.id for p in view.probes),
        "started": view.started_at,
        "scope": (view.scope.checked, dict(view.scope.not_checked),
                  view.scope.installed_version_known),
        "targets": view.targets,
        "warnings": view.warnings,
    }  # fmt: skip
    assert {key: seen[key] for key in expected} == expected


def test_a_bad_start_time_reads_as_now() -> None:
    before = datetime.now(UTC)
    view = ReportView.of({"run": {"started_at": "yesterday"}})
    assert view.started_at >= before and view.run.started_at_text == "yesterday"


def test_the_first_cause_is_the_lowest_rank_and_keeps_its_words() -> None:
    doc = _with(CAPTIVE)
    first = copy.deepcopy(doc["causes"][0])
    doc["causes"] = [dict(first, id="later", rank=2), first, "not a cause"]
    cause = ReportView.of(doc).first_cause
    assert cause is not None and cause.id == "captive_portal" and cause.rank == 1
    assert cause.title and cause.fix and cause.confidence in ("high", "medium", "low")


@pytest.mark.parametrize(
    ("doc", "bpjs", "rtt", "loss"),
    [
        # the document's target list decides: google is a reference, not BPJS
        (_live(_tcp({"bpjs-www": FAST, "bpjs-sso": SLOW, "google": LOST}, {})), BPJS, 90.0, 2.0),
        # no list (an older report): the tcp probe's details carry the roles
        (_live(_tcp({"site": FAST, "other": SLOW}, {"site": "bpjs", "other": "reference"}),
               with_targets=False), {"site"}, 20.0, 0.0),
        # neither: the default config's naming
        (_live(_tcp({"bpjs-www": FAST, "google": SLOW}, {}), with_targets=False),
         {"bpjs-www"}, 20.0, 0.0),
        # no tcp probe at all
        (_live(ProbeResult("system", Status.PASS, "up"), with_targets=False), set(), None, None),
    ],
)  # fmt: skip
def test_bpjs_targets_and_their_worst_figures(
    doc: dict[str, Any], bpjs: set[str], rtt: float | None, loss: float | None
) -> None:
    view = ReportView.of(doc)
    assert view.bpjs_targets() == bpjs
    metrics = view.key_metrics()
    assert (metrics["bpjs_rtt_ms"], metrics["bpjs_loss_pct"]) == (rtt, loss)


def test_an_unreachable_target_reads_as_total_loss_and_a_renamed_metric_is_found() -> None:
    unreachable = {"bpjs-www": {"families": {"ipv4": {"loss_pct": 100.0}, "ipv6": "garbage"}}}
    tcp = ProbeResult("tcp", Status.FAIL, "down", (), {}, unreachable)
    bandwidth = ProbeResult("bandwidth", Status.PASS, "ok", (), {"download_mbit_s": 12.5})
    view = ReportView.of(_live(tcp, bandwidth))
    assert view.tcp_targets() == {"bpjs-www": {"loss_pct": 100.0}}
    assert view.key_metrics() == {
        "bpjs_rtt_ms": None,
        "bpjs_jitter_ms": None,
        "bpjs_loss_pct": 100.0,
        "download_mbps": 12.5,
        "upload_mbps": None,
    }
    assert view.key_metrics(bpjs={"google"})["bpjs_loss_pct"] is None


def test_probes_and_findings_as_shown() -> None:
    finding = Finding("dns.timeout", "No answer from 192.0.2.53.", "bpjs-www", {})
    dns = ProbeResult("dns", Status.FAIL, "1 name failed.", (finding,), {"answers": 4}, {})
    view = ReportView.of(_live(dns))
    probe = view.probe("dns")
    assert probe is not None and (probe.status, probe.summary) == ("fail", "1 name failed.")
    assert probe.metrics == {"answers": 4.0} and view.probe("tcp") is None
    assert [(f.code, f.target, f.message) for f in view.findings] == [
        ("dns.timeout", "bpjs-www", "No answer from 192.0.2.53.")
    ]


def test_damaged_probes_and_causes_read_as_absent_fields() -> None:
    doc = {
        "probes": [{"id": "dns", "metrics": {"a": "x", "b": True, "c": 2}, "findings": [1, {}]}, 5],
        "causes": [{"id": "offline", "rank": "1", "fix": "reboot", "article_section": 2.5}],
    }
    view = ReportView.of(doc)
    (probe,) = view.probes
    assert (probe.status, dict(probe.metrics), probe.findings[0].message) == (
        "error",
        {"c": 2.0},
        None,
    )
    (cause,) = view.causes
    assert (cause.rank, cause.fix, cause.article_section, cause.title) == (None, (), None, None)


def test_a_view_is_read_once() -> None:
    view = ReportView.of(CAPTIVE)
    assert ReportView.of(view) is view
