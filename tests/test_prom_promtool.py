"""The real ``promtool check metrics`` accepts ``--format prom`` for every kind of run."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jmo_doctor.report import prom, unknown
from tests import promtool
from tests.test_golden import _document as golden_document
from tests.test_history import make_doc

REPORTS: dict[str, Callable[[], dict[str, Any]]] = {
    "healthy": lambda: golden_document("healthy", "id"),
    "captive-portal": lambda: golden_document("captive-portal", "en"),
    "slow-and-lossy": lambda: make_doc("warning", rtt_ms=642.5, loss_pct=12.5, upload_mbps=0.3),
    "bpjs-unreachable": lambda: make_doc("critical", rtt_ms=None, download_mbps=None),
    "unknown": lambda: unknown.unknown_document("the config file is not valid TOML", "en"),
}


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_promtool_accepts_the_prom_output(name: str) -> None:
    text = prom.render(REPORTS[name]())
    assert promtool.check_metrics(text) == ""


def test_promtool_check_finds_what_the_old_output_had() -> None:
    """The check can fail: promtool still rejects what issue 15 found."""
    said = promtool.check_metrics(
        "# HELP x_bits_per_second Download.\n# TYPE x_bits_per_second gauge\n"
        "x_bits_per_second 1\n# HELP y_seconds RTT.\n# TYPE y_seconds gauge\n"
        'y_seconds{quantile="0.5"} 1\n'
    )
    assert 'use base unit "bytes"' in said and '"quantile" label' in said


def test_promtool_accepts_a_real_offline_run(tmp_path: Path) -> None:
    """The CLI in an empty network namespace: every probe's real metric names."""
    promtool.tool("promtool")
    command = [sys.executable, "-m", "jmo_doctor", "run", "--quick", "--no-history"]
    env = {**os.environ, "JMO_DOCTOR_HOME": str(tmp_path), "NO_COLOR": "1"}
    try:
        done = subprocess.run(
            ["unshare", "-n", *command, "--format", "prom", "--timeout", "10"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
    except FileNotFoundError:
        pytest.skip("unshare not installed (util-linux)")
    if done.returncode not in (0, 1, 2, 3) or "unshare failed" in done.stderr:
        pytest.skip(f"cannot make an empty network namespace: {done.stderr.strip()[:200]}")
    assert "jmo_doctor_up 1" in done.stdout, done.stderr
    assert 'jmo_doctor_cause{cause="offline"' in done.stdout
    assert promtool.check_metrics(done.stdout) == ""
    # the exit-3 path too: a bad config still answers the scraper, and cleanly
    bad = tmp_path / "bad.toml"
    bad.write_text("timeout = [", encoding="utf-8")
    failed = subprocess.run(
        ["unshare", "-n", *command, "--format", "prom", "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert failed.returncode == 3
    assert "jmo_doctor_up 0" in failed.stdout and "jmo_doctor_error_info{reason=" in failed.stdout
    assert promtool.check_metrics(failed.stdout) == ""
