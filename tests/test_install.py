"""The wheel in a fresh venv: every built-in probe, third-party plug-ins, a broken one."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import jsonschema

from jmo_doctor.report.document import SCHEMA_VERSION

REPO = Path(__file__).resolve().parent.parent

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


# --- packaging: a newcomer's build and install print no warnings -------------------------

_COPY_IGNORE = shutil.ignore_patterns(
    ".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "tests", "bench"
)
_NOISE = re.compile(r"warn|deprecat", re.I)


def _quiet_env() -> dict[str, str]:
    # PYTHONDONTWRITEBYTECODE makes setuptools say "byte-compiling is disabled": a
    # setting of this machine, not of the project
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _run_quietly(argv: list[str], tmp_path: Path) -> None:
    """``argv`` in a copy of the project: it succeeds and prints no warning."""
    project = tmp_path / "project"
    shutil.copytree(REPO, project, ignore=_COPY_IGNORE)
    done = subprocess.run(
        argv, cwd=project, capture_output=True, text=True, timeout=180, env=_quiet_env()
    )
    said = done.stdout + done.stderr
    assert done.returncode == 0, said[-3000:]
    noisy = [line for line in said.splitlines() if _NOISE.search(line)]
    assert noisy == [], "\n".join(noisy)


def test_build_is_clean_and_ships_the_data_and_the_licence(tmp_path: Path) -> None:
    """``python -m build`` (sdist and wheel) with the dev extra's setuptools: no warnings
    about the licence table or data directories missing from the packages."""
    _run_quietly(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp_path / "dist")],
        tmp_path,
    )
    [wheel] = (tmp_path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read("jmo_doctor-0.1.0.dist-info/METADATA").decode()
    assert {
        "probes/data/block-fingerprints.toml",
        "jmo_doctor/data/causes.toml",
        "jmo_doctor/data/report.schema.json",
        "jmo_doctor/py.typed",
        "jmo_doctor-0.1.0.dist-info/licenses/LICENSE",
    } <= names
    assert "License-Expression: MIT" in metadata


def test_editable_install_is_clean(tmp_path: Path) -> None:
    """What ``pip install -e .`` runs (PEP 660 ``build_editable``), without its output
    hidden: no deprecation warning and no notice about an import hook."""
    out = tmp_path / "wheel"
    out.mkdir()
    # pyproject_hooks runs the backend in a subprocess exactly as pip does
    hook = (
        "from pyproject_hooks import BuildBackendHookCaller as H; "
        f"print(H('.', 'setuptools.build_meta').build_editable({str(out)!r}))"
    )
    _run_quietly([sys.executable, "-c", hook], tmp_path)
    assert list(out.glob("*.editable-*.whl"))
