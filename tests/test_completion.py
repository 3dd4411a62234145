"""Shell completion (README): cause ids for `causes`, probe ids for `--only`/`--skip`.

Run through the real console script with click's completion protocol, as bash would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CLI = Path(sys.executable).parent / "jmo-doctor"


def _complete(*words: str) -> list[str]:
    env = {
        **os.environ,
        "_JMO_DOCTOR_COMPLETE": "bash_complete",
        "COMP_WORDS": " ".join(["jmo-doctor", *words]),
        "COMP_CWORD": str(len(words)),
    }
    done = subprocess.run([str(CLI)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    # bash_complete answers "type,value" per line
    return [line.split(",", 1)[1] for line in done.stdout.splitlines() if line]


def test_cause_ids_complete() -> None:
    assert _complete("causes", "cap") == ["captive_portal"]
    assert "kpj_not_linked" in _complete("causes", "")


def test_probe_ids_complete_after_a_comma_without_repeating() -> None:
    assert _complete("run", "--only", "dn") == ["dns"]
    after = _complete("run", "--skip", "dns,t")
    assert set(after) == {"dns,tcp", "dns,tls"}
    assert "dns,dns" not in _complete("run", "--only", "dns,")


def test_the_bash_script_is_printed() -> None:
    env = {**os.environ, "_JMO_DOCTOR_COMPLETE": "bash_source"}
    done = subprocess.run([str(CLI)], env=env, capture_output=True, text=True, timeout=60)
    assert "_jmo_doctor_completion" in done.stdout and done.returncode == 0
