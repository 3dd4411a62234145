"""The wheel in a fresh venv: every built-in probe, third-party plug-ins, a broken one."""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path

import jsonschema

from jmo_doctor.report.document import SCHEMA_VERSION

SCHEMA = json.loads(
    (Path(__file__).parent.parent / "jmo_doctor/data/report.schema.json").read_text()
)
# every built-in probe, as pyproject.toml registers them
BUILTIN = set(
    tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())["project"][
        "entry-points"
    ]["jmo_doctor.probes"]
)


def _cli(venv: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / "jmo-doctor"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd or venv), "NO_COLOR": "1"},
    )


def test_probes_lists_builtins_and_the_plugin_and_warns_once(installed_venv: Path) -> None:
    done = _cli(installed_venv, "probes", "--lang", "en")
    assert done.returncode == 0, done.stderr
    listed = {line.split()[0] for line in done.stdout.splitlines() if line.strip()}
    assert BUILTIN | {"hello"} <= listed
    assert "jmo-doctor-hello 1.2.3" in done.stdout
    warnings = [line for line in done.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1, done.stderr
    assert "broken" in warnings[0] and "RuntimeError" in warnings[0]
    assert "Traceback" not in done.stderr


def test_plugin_result_reaches_the_report(installed_venv: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    done = _cli(
        installed_venv,
        "run",
        "--only",
        "kpj,hello",
        "--kpj",
        "1234-5678-901",
        "--format",
        "json",
        "--output",
        str(out),
        cwd=tmp_path,
    )
    assert done.returncode in (0, 1, 2), done.stderr
    text = out.read_text()
    report = json.loads(text)
    jsonschema.validate(report, SCHEMA)
    assert report["schema_version"] == SCHEMA_VERSION
    hello = next(p for p in report["probes"] if p["id"] == "hello")
    assert hello["findings"][0]["message"] == "Halo dari plug-in."
    assert hello["metrics"] == {"answer": 42.0}
    assert "12345678901" not in text and "1234-5678-901" not in text
    shown = _cli(installed_venv, "report", "show", str(out), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "hello" in shown.stdout and "Kesimpulan" in shown.stdout


def test_module_entry_point(installed_venv: Path) -> None:
    done = subprocess.run(
        [str(installed_venv / "bin" / "python"), "-m", "jmo_doctor", "--version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert done.stdout.strip() == "jmo-doctor 0.1.0"
