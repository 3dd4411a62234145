"""Hostile schedules (issue 9, item 13): what cron runs is exactly what was scheduled.

cron turns an unescaped ``%`` into a newline (the rest of the line becomes the job's
stdin) and drops the backslash of ``\\%``; it starts the job in ``$HOME``, where nothing
expands ``~``. Each case installs through a crontab command (the real one on a throwaway
user when root, else a stand-in), then runs the stored line the way cron does — its
``%`` pass, then ``sh -c`` — with a fake jmo-doctor that reports the argv it got.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from jmo_doctor.cli import run_cli
from jmo_doctor.monitor import schedule
from jmo_doctor.monitor.schedule import MARKER, ScheduleError
from jmo_doctor.paths import SCHEDULE_LOG
from tests.helpers import throwaway_crontab_user, write_fake_crontab

# --- the crontab command: real (root, throwaway user) or a stand-in -----------------------


def _fake_crontab(tmp_path: Path) -> list[str]:
    script, _ = write_fake_crontab(tmp_path)
    return [str(script)]


@pytest.fixture(params=["real-crontab", "fake-crontab"])
def crontab(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[str]]:
    if request.param == "fake-crontab":
        yield _fake_crontab(tmp_path)
        return
    if os.geteuid() != 0 or not shutil.which("crontab") or not shutil.which("useradd"):
        pytest.skip("the real crontab needs root, cron (Debian) and useradd")
    with throwaway_crontab_user("jmohst") as crontab:
        yield crontab


def _our_line(crontab: list[str]) -> str:
    listed = subprocess.run([*crontab, "-l"], capture_output=True, check=True).stdout
    [line] = [x for x in listed.decode().splitlines() if x.endswith(MARKER)]
    return line


def _as_cron_does(line: str) -> str:
    """The command cron hands to ``sh -c``: a port of the loop in child_process() of
    cronie's and Debian's do_command.c, written apart from the code under test."""
    command = list(line.split(None, 5)[5])
    p, escaped = 0, False
    for i, ch in enumerate(list(command)):
        command[p] = ch
        if escaped:
            if ch == "%":
                p -= 1
                command[p] = ch
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "%":
            break  # the rest is the job's stdin
        p += 1
        assert p <= i + 1
    return "".join(command[:p])


def _fake_jmo_doctor(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        "print(json.dumps({'argv': sys.argv[1:], 'home': os.environ['JMO_DOCTOR_HOME']}))\n"
    )
    path.chmod(0o755)
    return path


def _run_like_cron(line: str, home: Path, cwd: Path) -> dict[str, object]:
    subprocess.run(["sh", "-c", _as_cron_does(line)], cwd=cwd, check=True, timeout=30)
    ran: dict[str, object] = json.loads((home / SCHEDULE_LOG).read_text())
    return ran


# --- % anywhere: arguments, paths, the data directory, the program itself -----------------

PERCENT_CASES = [
    ("percent-in-an-argument", ["--kpj", "100%"], "data", "bin"),
    ("percent-first", ["--app-version", "%s"], "data", "bin"),
    ("double-percent", ["--app-version", "a%%b"], "data", "bin"),
    ("backslash-before-percent", ["--app-version", "a\\%b"], "data", "bin"),
    ("two-backslashes-before-percent", ["--app-version", "a\\\\%b"], "data", "bin"),
    ("word-ends-in-backslash", ["--app-version", "a\\", "--kpj", "%1"], "data", "bin"),
    ("date-format", ["--push", "http://127.0.0.1:9091/%Y-%m-%d"], "data", "bin"),
    ("url-encoded", ["--webhook", "http://127.0.0.1/a%20b?x=%41%"], "data", "bin"),
    ("percent-in-quotes", ["--kpj", "'%'\"%\"`%`"], "data", "bin"),
    ("percent-in-config-path", ["--config", "/tmp/100% sure/c.toml"], "data", "bin"),
    ("percent-in-data-dir", ["--quick"], "data 50%", "bin"),
    ("backslash-percent-in-data-dir", ["--quick"], "data\\%x", "bin"),
    ("percent-in-the-program-path", ["--quick"], "data", "b%n 100\\%"),
    ("injection-through-percent", ["--kpj", "a\\'%'; touch PWNED; '%"], "data", "bin"),
    ("injection-through-newline-escape", ["--kpj", "%\\n; touch PWNED"], "data", "bin"),
]


@pytest.mark.parametrize(
    ("args", "data_dir", "bin_dir"),
    [c[1:] for c in PERCENT_CASES],
    ids=[c[0] for c in PERCENT_CASES],
)
def test_cron_runs_exactly_what_was_scheduled(
    crontab: list[str], tmp_path: Path, args: list[str], data_dir: str, bin_dir: str
) -> None:
    home = tmp_path / data_dir
    exe = _fake_jmo_doctor(tmp_path / bin_dir / "jmo-doctor")
    schedule.install("15m", args, home=home, crontab=crontab, executable=[str(exe)])

    line = _our_line(crontab)
    assert "%" not in line.replace("\\%", "")  # no % that cron would cut at
    ran = _run_like_cron(line, home, cwd=tmp_path)
    assert ran == {"argv": ["run", *args], "home": str(home)}
    assert not list(tmp_path.rglob("PWNED"))
    # status and parse_cron_line read back what cron runs
    _, words = schedule.parse_cron_line(line)
    log = str(home / SCHEDULE_LOG)
    assert words == [f"JMO_DOCTOR_HOME={home}", str(exe), "run", *args, ">", log, "2>&1"]
    assert schedule.status(crontab=crontab, home=home).entry == line


def test_a_hand_edited_bare_percent_reads_back_as_cron_cuts_it() -> None:
    line = f"*/5 * * * * /bin/jmo-doctor run --kpj 1%2 {MARKER}"
    assert schedule.cron_unescape(line.split(None, 5)[5]) == "/bin/jmo-doctor run --kpj 1"
    assert schedule.parse_cron_line(line)[1] == ["/bin/jmo-doctor", "run", "--kpj", "1"]


def test_the_termux_job_script_keeps_percent_as_is(tmp_path: Path) -> None:
    """The job scheduler runs a sh script, not a cron line: no % escaping there."""
    env = {"PATH": str(tmp_path / "bin"), schedule.CRONTAB_VARIABLE: "crontab"}
    env.update(TERMUX_VERSION="0.118", PREFIX="/data/data/com.termux/files/usr")
    tool = tmp_path / "bin" / "termux-job-scheduler"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\nexit 0\n")
    tool.chmod(0o755)
    home = tmp_path / "data"
    exe = _fake_jmo_doctor(tmp_path / "b%n" / "jmo-doctor")
    schedule.install("20m", ["--kpj", "a\\%b%"], home=home, environ=env, executable=[str(exe)])
    subprocess.run(["sh", str(home / schedule.JOB_SCRIPT)], check=True, timeout=30)
    ran = json.loads((home / SCHEDULE_LOG).read_text())
    assert ran == {"argv": ["run", "--kpj", "a\\%b%"], "home": str(home)}


# --- path options: stored absolute, ~ expanded ----------------------------------------------

PATH_CASES = [
    ("config-relative", ["--config", "x.toml"], ["--config", "{cwd}/x.toml"]),
    ("config-equals-relative", ["--config=x.toml"], ["--config={cwd}/x.toml"]),
    ("config-tilde", ["--config", "~/x.toml"], ["--config", "{home}/x.toml"]),
    ("config-equals-tilde", ["--config=~/conf/x.toml"], ["--config={home}/conf/x.toml"]),
    ("config-dot-dot", ["--config", "../c/x.toml"], ["--config", "{cwd}/../c/x.toml"]),
    ("output-relative", ["--output", "r.json"], ["--output", "{cwd}/r.json"]),
    ("output-equals-tilde", ["--output=~/r.prom"], ["--output={home}/r.prom"]),
    ("output-with-percent", ["--output", "100%.json"], ["--output", "{cwd}/100%.json"]),
    ("absolute-unchanged", ["--config", "/etc/j.toml"], ["--config", "/etc/j.toml"]),
    ("both-and-others", ["--quick", "--config", "c", "--output=o"], None),
    ("not-a-path-option", ["--kpj", "~/x", "--app-version", "x.toml"], None),
    ("value-equals-sign", ["--config", "a=b.toml"], ["--config", "{cwd}/a=b.toml"]),
]


@pytest.mark.parametrize(
    ("args", "expected"), [c[1:] for c in PATH_CASES], ids=[c[0] for c in PATH_CASES]
)
def test_path_options_are_stored_absolute(
    crontab: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    expected: list[str] | None,
) -> None:
    user_home, cwd = tmp_path / "user home", tmp_path / "work dir"
    cwd.mkdir()
    monkeypatch.setenv("HOME", str(user_home))
    monkeypatch.chdir(cwd)
    if expected is None:  # written out here: the mixed cases
        expected = {
            "--quick": ["--quick", "--config", f"{cwd}/c", f"--output={cwd}/o"],
            "--kpj": args,
        }[args[0]]
    wanted = [w.format(cwd=cwd, home=user_home) for w in expected]

    home = tmp_path / "data"
    exe = _fake_jmo_doctor(tmp_path / "bin" / "jmo-doctor")
    schedule.install("1h", args, home=home, crontab=crontab, executable=[str(exe)])
    # cron starts the job in $HOME, with another $HOME at that
    ran = _run_like_cron(_our_line(crontab), home, cwd=tmp_path)
    assert ran["argv"] == ["run", *wanted]


def test_schedule_install_from_the_cli_stores_absolute_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    crontab = _fake_crontab(tmp_path)
    monkeypatch.setenv(schedule.CRONTAB_VARIABLE, shlex.join(crontab))
    monkeypatch.setenv("JMO_DOCTOR_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    code = run_cli(
        ["schedule", "install", "--every", "15m", "--config", "~/c.toml", "--output=r%.json"]
    )
    assert code == 0, capsys.readouterr().err
    _, words = schedule.parse_cron_line(_our_line(crontab))
    assert f"{tmp_path}/c.toml" in words and f"--output={tmp_path}/r%.json" in words


@pytest.mark.parametrize(
    "args",
    [["--config", "~no-such-user-jmo/x.toml"], ["--output=~no-such-user-jmo/r.json"]],
    ids=["config-unknown-user", "output-unknown-user"],
)
def test_a_tilde_of_an_unknown_user_is_refused(tmp_path: Path, args: list[str]) -> None:
    with pytest.raises(ScheduleError, match="cannot expand '~no-such-user-jmo"):
        schedule.install("15m", args, home=tmp_path, crontab=["true"], executable=["/x"])


# --- what cron cannot hold -----------------------------------------------------------------


def test_a_command_longer_than_cron_reads_is_refused(tmp_path: Path) -> None:
    crontab = _fake_crontab(tmp_path)
    long_path = "/" + "/".join(["d" * 200] * 5) + "/c.toml"
    with pytest.raises(ScheduleError, match=r"characters long, and cron reads only 999"):
        schedule.install("15m", ["--config", long_path], home=tmp_path, crontab=crontab)
    assert not (tmp_path / "table").exists()  # nothing half-written


@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\0b"], ids=["newline", "return", "nul"])
def test_a_line_break_in_a_path_option_is_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ScheduleError, match="line break or NUL"):
        schedule.install(
            "15m", ["--config", bad], home=tmp_path, crontab=["true"], executable=["/x"]
        )
