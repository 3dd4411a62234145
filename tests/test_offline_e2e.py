"""End to end: the installed CLI in an empty network namespace says 'offline', exits 2."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from tests.helpers import verdict_of
from tests.netns import empty_namespace


def _run_offline(
    venv: Path, home: Path, *args: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    with empty_namespace() as namespace:
        started = time.monotonic()
        done = subprocess.run(
            ["ip", "netns", "exec", namespace, str(venv / "bin" / "jmo-doctor"), "run", *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": "/usr/bin:/bin", "HOME": str(home), "JMO_DOCTOR_HOME": str(home)},
        )
        return done, time.monotonic() - started


def test_offline_in_indonesian_within_the_deadline(installed_venv: Path, tmp_path: Path) -> None:
    done, elapsed = _run_offline(installed_venv, tmp_path, "--timeout", "5")
    assert done.returncode == 2, done.stdout + done.stderr
    assert elapsed < 6.0, f"took {elapsed:.1f} s with --timeout 5"
    assert "Traceback" not in done.stderr
    lines = done.stdout.splitlines()
    first_cause = next(i for i, line in enumerate(lines) if line.startswith("  1. "))
    assert "internet" in lines[first_cause].lower()
    body = "\n".join(lines[first_cause:])
    # the article's connection steps, in Indonesian
    assert "Coba matikan dan nyalakan kembali" in body or "matikan" in body.lower()
    assert verdict_of(done.stdout).startswith("Kesimpulan: KRITIS")
    assert verdict_of(done.stdout).endswith("(kode keluar 2)")


def test_offline_json_report(installed_venv: Path, tmp_path: Path) -> None:
    done, _ = _run_offline(installed_venv, tmp_path, "--timeout", "5", "--format", "json")
    report = json.loads(done.stdout)
    assert report["causes"][0]["id"] == "offline"
    assert report["exit_code"] == done.returncode == 2
    assert report["status"] == "critical"
