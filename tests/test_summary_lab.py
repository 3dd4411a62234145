"""`report summary` over a desk's folder of real reports, made by the CLI in the lab.

Four runs of the real CLI in the lab's phone, as four workers would attach them: two
healthy on Telkomsel, one with JMO outdated on Indosat, one behind a captive portal with
no termux-api. termux-api is a real executable on the phone's PATH (a script answering
what ``termux-telephony-deviceinfo`` answers), so the operator comes through the system
probe as on a phone. Next to them, what a hostile or careless ticket holds: a FIFO, a
symlink out of the folder, a directory symlink loop, a non-JSON file, deep nesting and a
file too big to be a report. The counts must be exact and nothing may hang.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.lab import Lab

pytestmark = pytest.mark.lab

JMO_DOCTOR = str(Path(sys.executable).parent / "jmo-doctor")
TELEPHONY = """#!/bin/sh
printf '{"network_operator_name": "%s", "network_type": "lte", "data_state": "connected"}\\n' \\
  "$JMO_TEST_OPERATOR"
"""


def _run(lab: Lab, out: Path, fake_bin: Path, operator: str | None, *args: str) -> int:
    path = f"{fake_bin}:{os.environ['PATH']}" if operator else os.environ["PATH"]
    env = {"PATH": path, "JMO_TEST_OPERATOR": operator or ""}
    argv = [JMO_DOCTOR, "run", "--quick", "--no-history", "--format", "json"]
    argv += ["--config", str(lab.write_config()), "--platform", "android", *args]
    done = lab.run_in_phone(argv, env=env, timeout=90)
    assert done.stdout.startswith("{"), done.stderr
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(done.stdout)
    return done.returncode


def _hostile_files(desk: Path) -> None:
    os.mkfifo(desk / "pipe.json")  # nobody writes: opening it would wait for ever
    (desk / "passwd.json").symlink_to("/etc/passwd")
    (desk / "loop").symlink_to(desk)  # a walk that follows links never ends
    (desk / "notes.json").write_text("Pak, saldo saya tidak muncul\n")
    (desk / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    with (desk / "huge.json").open("wb") as huge:
        huge.truncate(17 * 2**20)  # over the 16 MiB cap, sparse
    (desk / "readme.txt").write_text("not a .json file: not read")


def _summary(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [JMO_DOCTOR, "report", "summary", *args], capture_output=True, text=True, timeout=60
    )


def test_summary_counts_a_folder_of_lab_reports(lab: Lab, tmp_path: Path) -> None:
    desk, fake_bin = tmp_path / "desk", tmp_path / "bin"
    fake_bin.mkdir()
    script = fake_bin / "termux-telephony-deviceinfo"
    script.write_text(TELEPHONY)
    script.chmod(0o755)

    lab.store_versions(play="4.1.0")
    codes = [
        _run(lab, desk / "a" / "1.json", fake_bin, "Telkomsel", "--app-version", "4.1.0"),
        _run(lab, desk / "a" / "2.json", fake_bin, "Telkomsel", "--app-version", "4.1.0"),
    ]
    lab.store_versions(play="4.2.0")
    codes.append(
        _run(lab, desk / "b" / "3.json", fake_bin, "Indosat Ooredoo", "--app-version", "4.0.3")
    )
    lab.captive_portal("redirect")
    codes.append(_run(lab, desk / "4.JSON", fake_bin, None, "--app-version", "4.0.3"))
    assert codes == [0, 0, 1, 2]
    _hostile_files(desk)

    done = _summary(str(desk), "--format", "json")
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    counts = found["counts"]
    assert found["reports"] == 4
    assert counts["status"] == {"ok": 2, "warning": 1, "critical": 1}
    assert counts["first_cause"] == {"kpj_not_linked": 2, "app_outdated": 1, "captive_portal": 1}
    assert counts["operator"] == {"Telkomsel": 2, "-": 1, "Indosat Ooredoo": 1}
    assert counts["app_version"] == [
        {"installed": "4.0.3", "latest": "4.2.0", "count": 2},
        {"installed": "4.1.0", "latest": "4.1.0", "count": 2},
    ]
    assert sum(counts["day"].values()) == 4
    assert sum(counts["platform"].values()) == 4
    invalid = {Path(bad["file"]).name: bad["reason"] for bad in found["invalid"]}
    assert set(invalid) == {"pipe.json", "passwd.json", "notes.json", "deep.json", "huge.json"}
    assert "FIFO" in invalid["pipe.json"] and "symbolic link" in invalid["passwd.json"]
    assert "too big" in invalid["huge.json"] and "nested" in invalid["deep.json"]

    english = _summary(str(desk / "a"), str(desk / "b" / "3.json"), "--lang", "en")
    assert english.returncode == 0, english.stderr
    assert english.stdout.startswith("Summary: 3 reports\n")
    assert "  2  Telkomsel\n" in english.stdout and "  1  Indosat Ooredoo\n" in english.stdout
    assert "  2  4.1.0 → 4.1.0\n" in english.stdout

    rows = _summary(str(desk), "--format", "csv").stdout.splitlines()
    assert "first_cause,captive_portal,1," in rows
    assert "app_version,4.0.3,2,4.2.0" in rows
    assert sum(row.startswith("invalid,") for row in rows) == 5
