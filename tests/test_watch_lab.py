"""`run --watch` in the lab: the network comes back while it watches (SPEC §3).

The person's uplink is dead (every host and resolver drops every packet), they start
``jmo-doctor run --watch 1``, and after two runs the link is back: the watch prints the
change (status KRITIS → OK, the offline cause gone) with a timestamp, stops by itself,
shows the final verdict and exits 0. Only the last run reaches the history.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from jmo_doctor.cli import run_cli
from jmo_doctor.monitor.rerun import skipped_ids
from tests.helpers import verdict_of
from tests.lab import Lab
from tests.lab.addresses import HOSTS

CLI = Path(sys.executable).parent / "jmo-doctor"
EVERYTHING = (*HOSTS, "system", "trusted")
STAMP = re.compile(r"^\d\d:\d\d:\d\d ")


def _watch(lab: Lab, *args: str) -> subprocess.Popen[str]:
    config = lab.write_config()
    argv = [str(CLI), "run", "--watch", "1", "--timeout", "4", "--config", str(config), *args]
    return lab.popen_in(
        "phone",
        argv,
        env={"COLUMNS": "60", "NO_COLOR": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _reader(stream: object, into: list[str]) -> threading.Thread:
    def read() -> None:
        for line in stream:  # type: ignore[attr-defined]
            into.append(line.rstrip("\n"))

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


@pytest.mark.lab
def test_watch_stops_at_ok_when_the_link_comes_back(lab: Lab) -> None:
    lab.blackhole(*EVERYTHING)
    watch = _watch(lab, "--lang", "id")
    out: list[str] = []
    err: list[str] = []
    readers = [_reader(watch.stdout, out), _reader(watch.stderr, err)]
    try:
        deadline = time.monotonic() + 60
        while not any(STAMP.match(line) for line in out) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert any(STAMP.match(line) for line in out), (out, err)
        time.sleep(6)  # a second run (4 s at most, 1 s apart) finds it still offline
        lab.unblock()
        code = watch.wait(timeout=90)
    finally:
        if watch.poll() is None:
            watch.kill()
            watch.wait()
    for reader in readers:
        reader.join(timeout=10)
    shown = "\n".join(out)
    assert code == 0, (shown, err)
    stamped = [line for line in out if STAMP.match(line)]
    # the first run says its status and cause; later runs only what changed (the link
    # may come back in the middle of a run: that run can see a half-working network)
    assert stamped[0].endswith(" KRITIS"), shown
    assert out[out.index(stamped[0]) + 1].strip() == "+ Tidak ada koneksi internet", shown
    assert stamped[-1].endswith(" KRITIS → OK"), shown
    assert "- Tidak ada koneksi internet" in [line.strip() for line in out], shown
    assert len(stamped) <= 3, shown  # the runs that found it still offline said nothing
    assert verdict_of(shown).startswith("Kesimpulan: OK"), shown
    assert all(len(line) <= 60 for line in out)
    assert "Traceback" not in "\n".join(err)
    _assert_one_history_entry(lab)


def _assert_one_history_entry(lab: Lab) -> None:
    done = lab.cli("history", "--format", "json")
    assert done.returncode == 0, done.stderr
    entries = json.loads(done.stdout)["runs"]
    assert len(entries) == 1, entries  # only the last run of the watch is recorded
    assert entries[0]["status"] == "ok", entries


@pytest.mark.parametrize(
    "args",
    [
        ["--watch", "--format", "json"],
        ["--short", "--format", "nagios"],
        ["--watch", "5", "--output", "report.txt"],
        ["--watch", "--webhook", "http://127.0.0.1:9/hook"],
    ],
)
def test_watch_and_short_are_for_a_person_at_a_terminal(
    isolated_cli: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    assert run_cli(["run", *args]) == 3  # said before anything runs: no probe, no traffic
    err = capsys.readouterr().err
    assert args[0] in err and "Traceback" not in err


def test_watch_never_runs_the_speed_test_nor_the_store() -> None:
    known = ["system", "dns", "store", "bandwidth"]
    assert skipped_ids(known, only=[]) == ["store"]  # bandwidth: --quick, always
    assert skipped_ids(known, only=["store"]) == []  # asked for by name
