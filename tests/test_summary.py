"""`report summary` without the lab: the captured lab reports, bad arguments, CSV cells."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from jmo_doctor.cli import run_cli
from jmo_doctor.report import summary

REPORTS = Path(__file__).parent / "fixtures" / "reports"


def test_the_captured_reports_are_counted(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["report", "summary", str(REPORTS), "--format", "json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["reports"] == 2 and found["invalid"] == []
    assert found["counts"]["first_cause"] == {"app_outdated": 1, "kpj_not_linked": 1}
    assert found["counts"]["status"] == {"ok": 1, "warning": 1}
    assert found["counts"]["app_version"] == [
        {"installed": "4.0.3", "latest": "4.2.0", "count": 1},
        {"installed": "4.1.0", "latest": "4.1.0", "count": 1},
    ]
    assert found["counts"]["day"] == {"2026-12-04": 2}


def test_indonesian_is_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["report", "summary", str(REPORTS)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Ringkasan: 2 laporan\n")
    assert "Aplikasi JMO belum diperbarui (app_outdated)" in out
    assert "  1  4.0.3 → 4.2.0\n" in out


def test_no_valid_report_is_exit_3_with_the_reasons(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.json").write_text("{}")
    assert run_cli(["report", "summary", str(tmp_path), str(tmp_path / "missing.json")]) == 3
    out, err = capsys.readouterr()
    words = " ".join(out.split())  # long temp paths wrap
    assert out.startswith("Ringkasan: 0 laporan\n\nBukan laporan yang sah (2, dilewati):\n")
    assert "a.json: not a jmo-doctor report (no schema_version)" in words
    assert "missing.json: No such file or directory" in words
    assert "no valid jmo-doctor report among 2 file(s)" in err


def test_no_argument_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["report", "summary", "--lang", "en"]) == 3
    assert "Missing argument" in capsys.readouterr().err
    assert run_cli(["report", "summary"]) == 3  # Indonesian unless told otherwise
    assert "Argumen tidak diberikan" in capsys.readouterr().err


def test_a_bad_file_among_good_ones_is_listed_not_fatal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for report in REPORTS.glob("*.json"):
        shutil.copy(report, tmp_path / report.name)
    (tmp_path / "zzz.json").write_bytes(b"\xff\xfe not text")
    assert run_cli(["report", "summary", str(tmp_path), "--lang", "en"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Not valid reports (1, skipped):" in out and "zzz.json: not a JSON file" in out


def test_csv_cells_never_start_a_formula() -> None:
    found = summary.Summary()
    found.counts["operator"]['=HYPERLINK("http://evil.example")'] += 1
    found.invalid.append(summary.Invalid("@evil.json", "+1"))
    rows = list(csv.reader(io.StringIO(summary.render_csv(found))))
    cells = [cell for row in rows for cell in row]
    assert '\'=HYPERLINK("http://evil.example")' in cells and "'@evil.json" in cells
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells)


def test_every_word_has_both_languages() -> None:
    same_in_both = {"status", "platform"}
    for key, text in summary.WORDS.items():
        assert text["id"] and text["en"], key
        assert text["id"] != text["en"] or key in same_in_both, key


def test_folders_are_walked_in_name_order_without_following_links(tmp_path: Path) -> None:
    for folder in ("b", "a/z", "a/y", "c"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "r.json").write_text("{}")
    (tmp_path / "a" / "y" / "up").symlink_to(tmp_path)
    (tmp_path / "a" / "link.json").symlink_to(tmp_path / "b" / "r.json")
    found = [
        (str(Path(path).relative_to(tmp_path)), why)
        for path, why in summary.report_files([str(tmp_path)])
    ]
    assert found == [
        ("a/link.json", "a symbolic link, not a regular file: skipped"),
        ("a/y/r.json", None),
        ("a/z/r.json", None),
        ("b/r.json", None),
        ("c/r.json", None),
    ]
