"""The CLI in-process: exit codes of SPEC §3, one clear line for bad input, no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from jmo_doctor.cli import main, run_cli
from tests.helpers import verdict_of

SCHEMA = json.loads(
    (Path(__file__).parent.parent / "jmo_doctor/data/report.schema.json").read_text()
)
# A config whose only targets are on loopback ports nobody listens on: nothing leaves.
LOOPBACK_CONFIG = """
timeout = 5
[[target]]
name = "local"
host = "127.0.0.1"
port = 9
"""


pytestmark = pytest.mark.usefixtures("isolated_cli")


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith(("jmo-doctor: error: ", "jmo-doctor: galat: "))
    return lines[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "--format", "xml"], "'xml' is not one of"),
        (["run", "--timeout", "-1"], "--timeout"),
        (["run", "--timeout", "abc"], "--timeout"),
        (["run", "--only", "nosuch"], "unknown probe id 'nosuch'"),
        (["run", "--platform", "symbian"], "--platform"),
        (["run", "--os-version", "latest"], "--os-version"),
        (["causes", "nosuch"], "unknown cause id 'nosuch'"),
        (["nosuchcommand"], "No such command"),
        (["run", "--config", "/nonexistent/jmo.toml"], "config file not found"),
        (["report", "show", "/nonexistent/r.json"], "file not found"),
    ],
)
def test_bad_input_is_one_line_and_exit_3(
    args: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli([*args, "--lang", "en"]) == 3
    assert expected in _one_error_line(capsys.readouterr().err)


def test_config_with_unknown_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.toml"
    path.write_text('lang = "id"\ncolour = "blue"\n')
    assert run_cli(["run", "--config", str(path), "--lang", "en"]) == 3
    line = _one_error_line(capsys.readouterr().err)
    assert str(path) in line and "line 2" in line and "colour" in line


def test_kpj_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["kpj", "check", "12ab"]) == 1
    out = capsys.readouterr().out
    assert "11" in out and "'a'" in out
    assert run_cli(["kpj", "check", "1234-5678-901"]) == 0
    assert run_cli(["kpj", "check", "12345", "--lang", "en"]) == 1
    assert "has 5" in capsys.readouterr().out


def test_version_fast_path(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == "jmo-doctor 0.1.0"


def test_causes_lists_all_and_explains_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["causes"]) == 0
    listed = capsys.readouterr().out
    assert len(listed.strip().splitlines()) == 18  # SPEC §6
    assert run_cli(["causes", "kpj_not_linked"]) == 0
    explained = capsys.readouterr().out
    assert "Tambah Kartu Peserta" in explained and "Profil Saya" in explained
    assert run_cli(["causes", "app_outdated", "--lang", "en"]) == 0
    assert "Jamsostek Mobile (JMO)" in capsys.readouterr().out


def test_probes_lists_builtins(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["probes"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert {"system", "kpj"} <= {line.split()[0] for line in lines}
    bandwidth = next(line for line in lines if line.startswith("bandwidth"))
    assert "(dilewati oleh --quick)" in bandwidth and bandwidth.endswith("[bawaan]")
    assert run_cli(["probes", "--lang", "en"]) == 0
    assert "(skipped by --quick)  [built-in]" in capsys.readouterr().out


def test_json_report_validates_and_hides_the_kpj(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(LOOPBACK_CONFIG)
    out = tmp_path / "r.json"
    code = run_cli(
        [
            "run",
            "--config",
            str(config),
            "--only",
            "kpj",
            "--kpj",
            "1234-5678-901",
            "--format",
            "json",
            "--output",
            str(out),
        ]
    )
    text = out.read_text()
    report = json.loads(text)
    jsonschema.validate(report, SCHEMA)
    assert code == report["exit_code"] == 0
    assert report["redacted"] is True
    assert "12345678901" not in text and "1234-5678-901" not in text
    assert "901" in text
    # --only kpj checked the number and nothing else: no claim about the device, network
    # or app, so not the residual causes either (SPEC §3)
    assert report["all_clear"] is False and report["causes"] == []
    assert report["scope"]["checked"] == ["kpj"]
    err = capsys.readouterr().err
    assert str(out) in err  # where the report went, then the verdict as the last line
    assert err.rstrip().splitlines()[-1].startswith("Kesimpulan: OK")
    assert run_cli(["report", "show", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "********901" in shown
    assert verdict_of(shown).startswith("Kesimpulan: OK")


def test_no_redact_keeps_the_number(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        run_cli(["run", "--only", "kpj", "--kpj", "12345678901", "--no-redact", "--format", "json"])
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["redacted"] is False


def test_invalid_kpj_in_a_run_is_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["run", "--only", "kpj", "--kpj", "12ab", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["causes"][0]["id"] == "kpj_invalid"


def test_markdown_for_a_ticket(capsys: pytest.CaptureFixture[str]) -> None:
    # a number of 9 digits: the cause kpj_invalid, with its steps
    assert (
        run_cli(
            ["run", "--only", "kpj", "--kpj", "123456789", "--format", "markdown", "--lang", "en"]
        )
        == 1
    )
    out = capsys.readouterr().out
    assert out.startswith("# jmo-doctor")
    assert "### 1. " in out and "| probe | status | summary |" in out


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("not json", "not a JSON file"),
        ('{"hello": 1}', "not a jmo-doctor report"),
        ('{"schema_version": 99, "tool": {"name": "jmo-doctor"}}', "newer"),
        ('{"schema_version": 1, "tool": {"name": "other"}}', "not a valid jmo-doctor report"),
        ("[1, 2]", "not a jmo-doctor report"),
    ],
)
def test_report_show_rejects_what_is_not_a_report(
    content: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    assert run_cli(["report", "show", str(path), "--lang", "en"]) == 3
    assert expected in _one_error_line(capsys.readouterr().err)


def test_output_to_an_unwritable_place_keeps_the_report(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = run_cli(
        [
            "run",
            "--only",
            "kpj",
            "--format",
            "json",
            "--output",
            "/nonexistent/r.json",
            "--lang",
            "en",
        ]
    )
    assert code == 3
    captured = capsys.readouterr()
    assert json.loads(captured.out)["tool"]["name"] == "jmo-doctor"
    assert "cannot write /nonexistent/r.json" in captured.err


def test_no_command_prints_help(isolated_cli: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = isolated_cli.parent / "config" / "jmo-doctor" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('lang = "en"\n')  # the help speaks the config's language
    assert run_cli([]) == 0
    captured = capsys.readouterr()
    assert "Usage: jmo-doctor" in captured.out and "run" in captured.out
    assert captured.err == ""


def test_target_written_as_a_single_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[target]\nhost = "x.example"\n')
    assert run_cli(["run", "--config", str(path), "--lang", "en"]) == 3
    assert "must be written [[target]]" in _one_error_line(capsys.readouterr().err)
    assert run_cli(["run", "--config", str(path)]) == 3  # Indonesian by default
    assert "harus ditulis [[target]]" in _one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    ("args", "indonesian", "english"),
    [
        (["--short", "--format", "markdown"], "hapus --format", "leave out --format"),
        (["--watch", "--output", "x.txt"], "hapus --output", "leave out --output"),
        (["-w", "rtt=1s"], "hanya untuk --format nagios", "go with --format nagios"),
        (["-w", "rtt=abc", "--format", "nagios"], "ambang tidak sah", "bad threshold"),
    ],
)
def test_options_that_do_not_go_together_are_refused_in_both_languages(
    args: list[str], indonesian: str, english: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # said before anything runs: nothing is measured, exit 3 with one line in the language
    assert run_cli(["run", *args]) == 3
    assert indonesian in capsys.readouterr().err
    assert run_cli(["run", "--lang", "en", *args]) == 3
    assert english in capsys.readouterr().err
