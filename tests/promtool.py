"""The real Prometheus tools for tests: promtool, and the servers' binaries.

Debian's ``prometheus``, ``prometheus-pushgateway`` and ``prometheus-node-exporter``
packages (CI installs them, see .ci/run); a test that needs one and finds it missing
skips with the package to install, never silently.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

PACKAGES = {
    "promtool": "prometheus",
    "prometheus": "prometheus",
    "prometheus-pushgateway": "prometheus-pushgateway",
    "prometheus-node-exporter": "prometheus-node-exporter",
}


def tool(name: str) -> str:
    """The path of ``name``, or skip naming the Debian package that provides it."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not installed (apt-get install {PACKAGES.get(name, name)})")
    return path


def check_metrics(text: str) -> str:
    """``promtool check metrics`` of ``text``: its complaints, empty when clean."""
    done = subprocess.run(
        [tool("promtool"), "check", "metrics"],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
    )
    said = (done.stdout + done.stderr).strip()
    if done.returncode != 0 and not said:
        said = f"promtool exit code {done.returncode}"
    return said


def run_rule_tests(directory: Path, *tests: str) -> subprocess.CompletedProcess[str]:
    """``promtool test rules`` run in ``directory`` (rule files are relative to it)."""
    return subprocess.run(
        [tool("promtool"), "test", "rules", *tests],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
    )


def run_check_rules(path: Path) -> subprocess.CompletedProcess[str]:
    """``promtool check rules``: the file's syntax and every expression's PromQL."""
    return subprocess.run(
        [tool("promtool"), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
