"""`schedule`: the real crontab command on a throwaway user, safe quoting, Termux hints."""

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

from jmo_doctor.monitor import schedule
from jmo_doctor.monitor.schedule import MARKER, ScheduleError
from jmo_doctor.paths import SCHEDULE_LOG
from tests.helpers import throwaway_crontab_user, write_fake_crontab

# What a user may already have in the crontab: all of it must survive byte for byte.
EXISTING = (
    "# m h  dom mon dow   command\n"
    "MAILTO=ops@example.invalid\n"
    "\n"
    "*/5 * * * * /usr/local/bin/backup --quiet  \n"  # trailing spaces kept
    "@reboot\tsleep 60 && echo 'up' | logger\n"
    "0 3 * * 1 date +\\%F >> /tmp/weekly.log  # pekerjaan mingguan ✓\n"
).encode()


@pytest.fixture
def cron_user() -> Iterator[list[str]]:
    """``crontab -u <throwaway user>``: the real command, without touching root's crontab."""
    if os.geteuid() != 0:
        pytest.skip("needs root: crontab -u on a throwaway user (not root here)")
    if not shutil.which("crontab") or not shutil.which("useradd"):
        pytest.skip("the crontab command (Debian package cron) or useradd is not installed")
    with throwaway_crontab_user("jmotest") as crontab:
        yield crontab


def _read(crontab: list[str]) -> bytes:
    done = subprocess.run([*crontab, "-l"], capture_output=True)
    return done.stdout if done.returncode == 0 else b""


def _write(crontab: list[str], content: bytes) -> None:
    subprocess.run([*crontab, "-"], input=content, check=True, capture_output=True)


def _ours(content: bytes) -> list[str]:
    return [line for line in content.decode().splitlines() if line.endswith(MARKER)]


EXE = ["/opt/jmo doctor/bin/jmo-doctor"]


# --- the interval --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("every", "expression"),
    [
        ("1m", "* * * * *"),
        ("60s", "* * * * *"),
        ("5m", "*/5 * * * *"),
        ("15m", "*/15 * * * *"),
        ("30m", "*/30 * * * *"),
        ("60m", "0 * * * *"),
        ("1h", "0 * * * *"),
        ("6h", "0 */6 * * *"),
        ("12h", "0 */12 * * *"),
        ("24h", "0 0 * * *"),
        ("1d", "0 0 * * *"),
    ],
)
def test_cron_expression(every: str, expression: str) -> None:
    assert schedule.cron_expression(schedule._seconds(every)) == expression


@pytest.mark.parametrize("every", ["7m", "90s", "45m", "5h", "2d", "1w"])
def test_intervals_cron_cannot_keep_are_refused_with_the_choices(every: str) -> None:
    with pytest.raises(
        ScheduleError, match=r"cannot run something every .* \(1, 2, 3, 4, 5, 6, 10"
    ):
        schedule.cron_expression(schedule._seconds(every))


def test_less_than_a_minute_is_refused() -> None:
    with pytest.raises(ScheduleError, match="at most once a minute"):
        schedule.cron_expression(30)


def test_bad_duration_names_the_option() -> None:
    with pytest.raises(ScheduleError, match="--every: invalid duration 'soon'"):
        schedule.install("soon", crontab=["true"], home=Path("/nonexistent"))


# --- the real crontab ----------------------------------------------------------------------


def test_install_twice_leaves_one_line_replaced(cron_user: list[str], tmp_path: Path) -> None:
    _write(cron_user, EXISTING)
    message = schedule.install("15m", ["--quick"], home=tmp_path, crontab=cron_user, executable=EXE)
    assert "every 15m" in message
    schedule.install("5m", ["--format", "json"], home=tmp_path, crontab=cron_user, executable=EXE)
    content = _read(cron_user)
    [line] = _ours(content)
    expression, words = schedule.parse_cron_line(line)
    assert expression == "*/5 * * * *"
    assert words[:5] == [f"JMO_DOCTOR_HOME={tmp_path}", EXE[0], "run", "--format", "json"]
    assert content.startswith(EXISTING)  # the user's lines untouched, ours appended


def test_remove_leaves_the_rest_byte_for_byte(cron_user: list[str], tmp_path: Path) -> None:
    _write(cron_user, EXISTING)
    schedule.install("15m", [], home=tmp_path, crontab=cron_user, executable=EXE)
    # the user edits the crontab after ours: lines on both sides of it
    _write(cron_user, _read(cron_user) + b"30 1 * * * echo after\n")
    schedule.install("10m", [], home=tmp_path, crontab=cron_user, executable=EXE)
    assert _read(cron_user).endswith(b"echo after\n")  # replaced in place, not moved
    assert schedule.status(crontab=cron_user, home=tmp_path).installed
    assert schedule.remove(crontab=cron_user, home=tmp_path) == "schedule removed from the crontab"
    assert _read(cron_user) == EXISTING + b"30 1 * * * echo after\n"
    assert schedule.remove(crontab=cron_user, home=tmp_path).startswith("no jmo-doctor schedule")


def test_install_and_remove_on_an_empty_crontab(cron_user: list[str], tmp_path: Path) -> None:
    assert not schedule.status(crontab=cron_user, home=tmp_path).installed
    schedule.install("1h", [], home=tmp_path, crontab=cron_user, executable=EXE)
    state = schedule.status(crontab=cron_user, home=tmp_path)
    assert state.installed and state.backend == "crontab"
    assert state.entry and state.entry.startswith("0 * * * * ")
    schedule.remove(crontab=cron_user, home=tmp_path)
    assert _read(cron_user) == b""
    assert "no jmo-doctor schedule" in schedule.status(crontab=cron_user, home=tmp_path).message


# Executed below through sh: payloads only ever `touch`, in case quoting ever breaks.
HOSTILE_ARGS = [
    "--kpj",
    "'; touch PWNED; '",
    "--app-version",
    '3.1"; touch PWNED; echo "',
    "--config",
    "$(touch PWNED) `touch PWNED` 100% done\\n",
]


def test_hostile_paths_and_arguments_are_quoted(cron_user: list[str], tmp_path: Path) -> None:
    home = tmp_path / "data dir 'quoted' $HOME"
    exe = [str(tmp_path / 'it\'s a "bin"' / "jmo-doctor")]
    schedule.install("15m", HOSTILE_ARGS, home=home, crontab=cron_user, executable=exe)
    [line] = _ours(_read(cron_user))
    _, words = schedule.parse_cron_line(line)
    log = str(home / SCHEDULE_LOG)
    # the --config value, relative, is stored absolute: cron starts the job in $HOME
    scheduled = [*HOSTILE_ARGS[:-1], str(Path.cwd() / HOSTILE_ARGS[-1])]
    assert words == [f"JMO_DOCTOR_HOME={home}", *exe, "run", *scheduled, ">", log, "2>&1"]
    assert "100\\% done" in line  # cron would otherwise cut the command at %

    # Run the line as cron would (% unescaped, then sh -c) with a fake jmo-doctor.
    fake = Path(exe[0])
    fake.parent.mkdir(parents=True)
    fake.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        "print(json.dumps({'argv': sys.argv[1:], 'home': os.environ['JMO_DOCTOR_HOME']}))\n"
    )
    fake.chmod(0o755)
    command = line.split(None, 5)[5].replace("\\%", "%")
    subprocess.run(["sh", "-c", command], cwd=tmp_path, check=True, timeout=30)
    ran = json.loads(Path(log).read_text())
    assert ran == {"argv": ["run", *scheduled], "home": str(home)}
    assert not list(tmp_path.rglob("PWNED"))


def test_the_rm_rf_argument_parses_back_as_one_word(tmp_path: Path) -> None:
    words = ["--kpj", "'; rm -rf ~", "--app-version", "x' \"$(id)\" '"]
    line = schedule.cron_line("*/15 * * * *", schedule.shell_command(words, tmp_path, EXE))
    assert schedule.parse_cron_line(line)[1][1:-3] == [*EXE, "run", *words]


@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\0b"])
def test_line_breaks_in_arguments_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ScheduleError, match="line break or NUL"):
        schedule.install("15m", ["--kpj", bad], home=tmp_path, crontab=["true"], executable=EXE)


# --- a fake crontab (runs without root) ----------------------------------------------------


@pytest.fixture
def fake_crontab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in for `crontab` through $JMO_DOCTOR_CRONTAB, storing the table in a file."""
    script, table = write_fake_crontab(tmp_path, "fake crontab")  # a space in its path
    monkeypatch.setenv(schedule.CRONTAB_VARIABLE, shlex.quote(str(script)))
    return table


def test_crontab_command_from_the_environment(fake_crontab: Path, tmp_path: Path) -> None:
    fake_crontab.write_bytes(EXISTING)
    schedule.install("30m", ["--quick"], home=tmp_path, executable=EXE)
    schedule.install("30m", ["--quick"], home=tmp_path, executable=EXE)
    assert len(_ours(fake_crontab.read_bytes())) == 1
    schedule.remove(home=tmp_path)
    assert fake_crontab.read_bytes() == EXISTING


def test_a_last_line_without_newline_gets_one_before_ours(fake_crontab: Path) -> None:
    content = schedule.replace_line(b"* * * * * true", "0 * * * * x " + MARKER)
    assert content == b"* * * * * true\n0 * * * * x " + MARKER.encode() + b"\n"


# --- where there is no crontab ------------------------------------------------------------


def _env(tmp_path: Path, termux: bool) -> dict[str, str]:
    env = {"PATH": str(tmp_path / "bin"), schedule.CRONTAB_VARIABLE: "crontab"}
    if termux:
        env.update(TERMUX_VERSION="0.118", PREFIX="/data/data/com.termux/files/usr")
    (tmp_path / "bin").mkdir(exist_ok=True)
    return env


def test_termux_without_any_scheduler_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(ScheduleError) as caught:
        schedule.install("15m", home=tmp_path, environ=_env(tmp_path, termux=True))
    assert "pkg install cronie termux-services" in str(caught.value)
    assert "sv-enable crond" in str(caught.value)


@pytest.mark.skipif(sys.platform.startswith("win"), reason="POSIX only")
def test_linux_without_crontab_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(ScheduleError, match=r"crontab command was not found.*apt install cron"):
        schedule.status(home=tmp_path, environ=_env(tmp_path, termux=False))


def test_termux_job_scheduler(tmp_path: Path) -> None:
    env = _env(tmp_path, termux=True)
    calls = tmp_path / "calls"
    tool = tmp_path / "bin" / "termux-job-scheduler"
    tool.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"open({str(calls)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
        f"if '--pending' in sys.argv: print('Pending Job {schedule.JOB_ID}: script')\n"
    )
    tool.chmod(0o755)
    home = tmp_path / "data"
    with pytest.raises(ScheduleError, match="at most every 15 minutes"):
        schedule.install("5m", home=home, environ=env, executable=EXE)
    message = schedule.install("20m", ["--quick"], home=home, environ=env, executable=EXE)
    assert "termux-job-scheduler every 20m" in message
    script = home / schedule.JOB_SCRIPT
    assert shlex.split(script.read_text().splitlines()[-1])[1:4] == [*EXE, "run", "--quick"]
    assert f"--job-id {schedule.JOB_ID} --period-ms 1200000" in calls.read_text()
    assert "--network none" in calls.read_text()  # it must run while offline too
    state = schedule.status(home=home, environ=env)
    assert state.installed and state.backend == "termux-job-scheduler"
    assert schedule.remove(home=home, environ=env) == "schedule removed"
    assert not script.exists()
    assert f"--cancel --job-id {schedule.JOB_ID}" in calls.read_text()


# --- which jmo-doctor the schedule runs ------------------------------------------------------


def test_current_command_is_an_absolute_path(tmp_path: Path) -> None:
    script = tmp_path / "jmo-doctor"
    script.write_text("")
    assert schedule.current_command(str(script)) == [str(script)]
    main = schedule.current_command("/somewhere/jmo_doctor/__main__.py")
    assert main[1:] == ["-m", "jmo_doctor"] and os.path.isabs(main[0])
    assert all(os.path.isabs(schedule.current_command("pytest")[0]) for _ in [0])
