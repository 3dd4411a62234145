"""`report show FILE --lang`: a support agent reads an Indonesian user's report in English."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from jmo_doctor import catalogue
from jmo_doctor.report.redact import Redactor
from tests.helpers import verdict_of
from tests.i18n_scan import data_of, english_or_codes
from tests.netns import empty_namespace

JMO_DOCTOR = Path(sys.executable).parent / "jmo-doctor"


@pytest.fixture(scope="module")
def indonesian_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run, offline (empty namespace), saved as JSON in Indonesian."""
    home = tmp_path_factory.mktemp("home")
    saved = home / "laporan.json"
    run = ["run", "--quick", "--timeout", "5", "--lang", "id", "--format", "json"]
    with empty_namespace() as namespace:
        done = subprocess.run(
            ["ip", "netns", "exec", namespace, str(JMO_DOCTOR), *run, "--output", str(saved)],
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": "/usr/bin:/bin", "HOME": str(home), "JMO_DOCTOR_HOME": str(home)},
        )
    assert done.returncode == 2, done.stdout + done.stderr
    return saved


def _show(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(JMO_DOCTOR), "report", "show", str(path), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _json(path: Path, *args: str) -> dict[str, Any]:
    done = _show(path, "--format", "json", *args)
    assert done.returncode == 0, done.stderr
    shown: dict[str, Any] = json.loads(done.stdout)
    return shown


def test_the_report_keeps_what_each_probe_said_in_both_languages(
    indonesian_report: Path,
) -> None:
    doc = json.loads(indonesian_report.read_text())
    probes = doc["probes"]
    with_texts = {p["id"] for p in probes if set(p.get("summary_texts", ())) == {"id", "en"}}
    assert with_texts >= {"system", "dns", "kpj", "store", "tcp", "http"}
    for probe in probes:
        if "summary_texts" in probe:
            assert probe["summary"] == probe["summary_texts"]["id"]
        for finding in probe["findings"]:
            assert finding["message"] == finding["message_texts"]["id"]


def test_show_in_english_rewords_probes_findings_and_causes(indonesian_report: Path) -> None:
    doc = json.loads(indonesian_report.read_text())
    shown = _json(indonesian_report, "--lang", "en")
    assert shown["run"]["lang"] == "en"
    for saved, english in zip(doc["probes"], shown["probes"], strict=True):
        if "summary_texts" in saved:
            assert english["summary"] == saved["summary_texts"]["en"]
        for finding in english["findings"]:
            assert finding["message"] == finding["message_texts"]["en"]
    first = shown["causes"][0]
    assert first["id"] == "offline"
    assert first["title"] == catalogue.text("offline", "en").title
    assert first["fix"] == list(catalogue.text("offline", "en").fix)
    text = _show(indonesian_report, "--lang", "en").stdout
    assert verdict_of(text).startswith("Verdict: CRITICAL")
    assert "Kesimpulan" not in text and "Langkah perbaikan" not in text


def test_show_without_lang_keeps_the_saved_language(indonesian_report: Path) -> None:
    text = _show(indonesian_report).stdout
    assert verdict_of(text).startswith("Kesimpulan: KRITIS")


def test_an_old_report_without_texts_keeps_its_stored_text(
    indonesian_report: Path, tmp_path: Path
) -> None:
    doc = json.loads(indonesian_report.read_text())
    for probe in doc["probes"]:
        probe.pop("summary_texts", None)
        for finding in probe["findings"]:
            finding.pop("message_texts", None)
    old = tmp_path / "old.json"
    old.write_text(json.dumps(doc))
    shown = _json(old, "--lang", "en")
    assert [p["summary"] for p in shown["probes"]] == [p["summary"] for p in doc["probes"]]
    assert shown["causes"][0]["title"] == catalogue.text("offline", "en").title


def test_a_cause_this_version_does_not_know_keeps_its_words(
    indonesian_report: Path, tmp_path: Path
) -> None:
    doc = json.loads(indonesian_report.read_text())
    doc["causes"][0]["id"] = "from_a_plugin_not_installed"
    doc["causes"][0]["title"] = "Judul dari plug-in"
    other = tmp_path / "plugin.json"
    other.write_text(json.dumps(doc))
    assert _json(other, "--lang", "en")["causes"][0]["title"] == "Judul dari plug-in"


def test_hostile_texts_are_refused_with_one_line(indonesian_report: Path, tmp_path: Path) -> None:
    doc = json.loads(indonesian_report.read_text())
    doc["probes"][0]["summary_texts"] = {"en": ["not", "text"]}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    done = _show(bad, "--lang", "en")
    assert done.returncode == 3
    assert "summary_texts" in done.stderr and "Traceback" not in done.stderr


def test_terminal_escapes_in_texts_never_reach_the_terminal(
    indonesian_report: Path, tmp_path: Path
) -> None:
    doc = json.loads(indonesian_report.read_text())
    doc["probes"][0]["summary_texts"] = {"id": "x", "en": "\x1b]0;pwned\x07 \x1b[2J"}
    bad = tmp_path / "escapes.json"
    bad.write_text(json.dumps(doc))
    done = _show(bad, "--lang", "en")
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout and "\x07" not in done.stdout


def test_redaction_covers_the_texts_in_every_language() -> None:
    doc = {
        "probes": [
            {
                "id": "system",
                "summary": "wlan0 192.168.1.23",
                "summary_texts": {"id": "wlan0 192.168.1.23", "en": "wlan0 192.168.1.23 (up)"},
                "findings": [
                    {
                        "code": "kpj.invalid",
                        "target": None,
                        "message": "KPJ 12345678901",
                        "message_texts": {"id": "KPJ 12345678901", "en": "KPJ 1234 5678 901"},
                    }
                ],
            }
        ]
    }
    redactor = Redactor(
        kpj="12345678901", device_addresses=["192.168.1.23"], environ={}, home="/home/siti"
    )
    out = json.dumps(redactor.document(doc))
    assert "192.168.1.23" not in out
    assert "12345678901" not in out and "1234 5678 901" not in out


def test_the_indonesian_report_reads_without_codes_or_english(indonesian_report: Path) -> None:
    doc = json.loads(indonesian_report.read_text())
    assert not english_or_codes(doc, data_of(doc))
    # the same scan sees what the old wording showed
    doc["probes"][2]["summary"] = "Masalah DNS: dns.servfail ×5."
    assert english_or_codes(doc, data_of(doc))


def test_the_english_rendering_has_no_indonesian_headings(indonesian_report: Path) -> None:
    english = _show(indonesian_report, "--lang", "en", "--format", "markdown").stdout
    for heading in ("Kesimpulan", "Pemeriksaan", "Penyebab", "Langkah perbaikan", "ringkasan"):
        assert heading not in english
