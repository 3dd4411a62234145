"""The verdict sentence claims only what the report backs (SPEC §3), in both languages."""

from __future__ import annotations

from typing import Any

import pytest

from jmo_doctor.report import nagios, verdict


def _doc(**fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "run": {"lang": "en"},
        "status": "ok",
        "exit_code": 0,
        "all_clear": False,
        "causes": [],
        "scope": {"checked": [], "not_checked": {}},
    }
    doc.update(fields)
    return doc


CASES = [
    pytest.param(
        _doc(all_clear=True, scope={"checked": ["system"], "not_checked": {}}),
        "Nothing is wrong with the device, the network or the app version.",
        id="all-clear",
    ),
    pytest.param(
        _doc(all_clear=True, scope={"checked": [], "not_checked": {"bandwidth": "quick"}}),
        "Nothing is wrong with the device, the network or the app version. "
        "Bandwidth was not measured (--quick).",
        id="all-clear-quick",
    ),
    pytest.param(
        _doc(
            all_clear=True,
            scope={"checked": [], "not_checked": {}, "installed_version_known": False},
        ),
        "Nothing is wrong with the device, the network or the app version. "
        "The installed JMO version is not known (use --app-version).",
        id="all-clear-version-unknown",
    ),
    pytest.param(
        _doc(scope={"checked": ["kpj"], "not_checked": {"dns": "not_selected", "tcp": "error"}}),
        "Nothing wrong found in what was checked (kpj); not checked: dns, tcp "
        "(did not finish; left out by --only/--skip).",
        id="restricted-run-speaks-only-of-what-it-checked",
    ),
    pytest.param(
        _doc(status="unknown", exit_code=3, scope={"checked": [], "not_checked": {"tls": "error"}}),
        "A check did not finish (tls); no verdict.",
        id="unfinished",
    ),
    pytest.param(
        _doc(status="unknown", exit_code=3, all_clear=True),
        "The checks could not be completed; no verdict.",
        id="all-clear-flag-with-unknown-status-is-not-believed",
    ),
    pytest.param(
        _doc(status="critical", causes=[{"rank": 1, "title": "No internet connection"}]),
        "No internet connection. Follow the steps above.",
        id="cause",
    ),
    pytest.param(
        _doc(status="unknown", exit_code=3, error="bad config"),
        "bad config",
        id="could-not-run",
    ),
    pytest.param(
        {"status": "ok", "run": {"lang": "en"}},
        "Nothing wrong found in what was checked (none); not checked: none (-).",
        id="old-report-without-scope",
    ),
]


@pytest.mark.parametrize(("doc", "expected"), CASES)
def test_sentence(doc: dict[str, Any], expected: str) -> None:
    assert verdict.sentence(doc, "en") == expected


@pytest.mark.parametrize(("doc", "_expected"), CASES)
def test_every_sentence_exists_in_indonesian(doc: dict[str, Any], _expected: str) -> None:
    said = verdict.sentence(doc, "id")
    assert said and "{" not in said
    for english in ("checked", "Nothing", "Bandwidth", "did not", "Follow"):
        assert english not in said


def test_nagios_and_notifications_say_the_title_alone() -> None:
    doc = _doc(status="critical", exit_code=2, causes=[{"rank": 1, "title": "No internet"}])
    assert nagios.summary(doc) == "No internet"
