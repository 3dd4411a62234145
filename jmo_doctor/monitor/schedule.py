"""`jmo-doctor schedule`: run the health check every N minutes from cron (or Termux's
job scheduler), without ever touching the rest of the user's crontab.

Our crontab entry is one line ending in ``# jmo-doctor-schedule``; installing replaces it,
removing drops it, and every other byte of the crontab is written back as it was read.
Every word of the command is shell-quoted (and ``%``, which cron turns into a newline,
escaped), so a path with spaces or quotes runs as itself and cannot inject commands.
Path options are stored absolute with ``~`` expanded: cron starts the job in ``$HOME``,
and nothing there expands ``~``.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from jmo_doctor.durations import parse_duration
from jmo_doctor.environment import is_termux
from jmo_doctor.errors import UserError
from jmo_doctor.i18n import said
from jmo_doctor.paths import HOME_VARIABLE, SCHEDULE_LOG, data_home, ensure

MARKER = "# jmo-doctor-schedule"
#: `run` options whose value is a path, made absolute when scheduled.
PATH_OPTIONS = ("--config", "--output")
#: Debian's cron reads at most 999 characters of a command and silently drops the rest
#: (MAX_COMMAND in its entry.c); a cut command would run something else, or nothing.
MAX_CRON_COMMAND = 999
CRONTAB_VARIABLE = "JMO_DOCTOR_CRONTAB"  # e.g. "crontab -u monitor", or a test's fake
COMMAND_TIMEOUT_S = 30.0
#: Android's JobScheduler runs periodic jobs at most every 15 minutes.
JOB_SCHEDULER_MIN_S = 15 * 60
JOB_ID = 0x4A4D4F  # "JMO": one fixed id, so installing again replaces our job
JOB_SCRIPT = "schedule-job.sh"


class ScheduleError(UserError):
    """Scheduling is not possible as asked; worded for the person (exit code 3)."""


@dataclass(frozen=True)
class ScheduleStatus:
    installed: bool
    backend: str  # "crontab" | "termux-job-scheduler"
    entry: str | None  # our crontab line, or the job script's command
    message: str


# --- the interval --------------------------------------------------------------------------

_MINUTE_STEPS = tuple(n for n in range(1, 60) if 60 % n == 0)
_HOUR_STEPS = tuple(n for n in range(1, 24) if 24 % n == 0)


def cron_expression(every_s: int) -> str:
    """The cron schedule for "every ``every_s`` seconds", if cron can keep that rhythm.

    Only steps that divide the hour (or the day) repeat evenly: ``*/7`` would also fire
    at :00 after :56, four minutes later.
    """
    if every_s < 60:
        raise ScheduleError(said("schedule.once_a_minute"))
    minutes, rest = divmod(every_s, 60)
    if rest == 0 and minutes in _MINUTE_STEPS:
        return "* * * * *" if minutes == 1 else f"*/{minutes} * * * *"
    hours, rest = divmod(every_s, 3600)
    if rest == 0 and hours in _HOUR_STEPS:
        return "0 * * * *" if hours == 1 else f"0 */{hours} * * *"
    if every_s == 86400:
        return "0 0 * * *"
    raise ScheduleError(
        said(
            "schedule.uneven",
            every=_human(every_s),
            minutes=", ".join(map(str, _MINUTE_STEPS)),
            hours=", ".join(map(str, _HOUR_STEPS)),
        )
    )


def _human(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _seconds(every: str | int) -> int:
    if isinstance(every, int):
        return every
    try:
        return parse_duration(every)
    except ValueError as error:
        raise ScheduleError(f"--every: {error}") from None


# --- the command that cron runs ----------------------------------------------------------


def current_command(argv0: str | None = None) -> list[str]:
    """How to start this jmo-doctor again, by absolute path (cron's PATH is minimal).

    Not symlink-resolved: a pipx or Homebrew link keeps working across upgrades while the
    file behind it changes name.
    """
    first = sys.argv[0] if argv0 is None else argv0
    name = os.path.basename(first)
    if name in ("jmo-doctor", "jmo-doctor.exe") and os.path.isfile(first):
        return [os.path.abspath(first)]
    if name == "__main__.py":  # python -m jmo_doctor: the same interpreter again
        return [os.path.abspath(sys.executable), "-m", "jmo_doctor"]
    found = shutil.which("jmo-doctor")
    if found:
        return [os.path.abspath(found)]
    return [os.path.abspath(sys.executable), "-m", "jmo_doctor"]


def _check_words(words: Sequence[str]) -> None:
    for word in words:
        if any(c in word for c in "\n\r\0"):
            raise ScheduleError(said("schedule.line_break", word=word))


def shell_command(run_args: Sequence[str], home: Path, executable: Sequence[str]) -> str:
    """The shell command of a scheduled run: data dir pinned, output to the log.

    ``JMO_DOCTOR_HOME`` is set explicitly because cron's environment lacks the user's
    XDG variables: without it the job could write its history somewhere else. The log is
    overwritten, not appended: every run's report is in the history already, and a
    forgotten cron job must not fill the disk.
    """
    words = [*executable, "run", *run_args]
    _check_words([str(home), *words])
    command = " ".join(shlex.quote(w) for w in words)
    log = shlex.quote(str(home / SCHEDULE_LOG))
    return f"{HOME_VARIABLE}={shlex.quote(str(home))} {command} > {log} 2>&1"


def absolute_paths(run_args: Sequence[str], cwd: Path | None = None) -> list[str]:
    """``run_args`` with the value of each path option absolute and ``~`` expanded.

    Both spellings count: ``--config x.toml`` and ``--config=x.toml``.
    """
    base = cwd or Path.cwd()
    words: list[str] = []
    path_follows = False
    for word in run_args:
        name, equals, value = word.partition("=")
        if path_follows:
            words.append(_absolute(word, base))
        elif name in PATH_OPTIONS and equals:
            words.append(f"{name}={_absolute(value, base)}")
        else:
            words.append(word)
        path_follows = not path_follows and word in PATH_OPTIONS
    return words


def _absolute(value: str, base: Path) -> str:
    if not value:
        return value  # `run` itself says what is wrong with an empty path
    expanded = os.path.expanduser(value)
    if expanded.startswith("~"):
        raise ScheduleError(said("schedule.no_user", value=value))
    return str(base / expanded)  # not normalised: `..` after a link stays as the user meant


#: A backslash right before % (only ever inside shlex's single quotes), or a bare %.
_PERCENT = re.compile(r"(\\)?%")


def _cron_escape(command: str) -> str:
    """``command`` as cron must be given it to run it unchanged.

    cron cuts a command at an unescaped ``%`` (the rest becomes its stdin) and drops the
    backslash of ``\\%``. So each ``%`` becomes ``\\%``; and a backslash of the command
    right before a ``%`` would swallow that escape, so ``''`` (end and restart the single
    quotes it is in) separates them.
    """
    return _PERCENT.sub(lambda m: ("\\''" if m.group(1) else "") + "\\%", command)


def cron_unescape(command: str) -> str:
    """What cron runs of ``command``: its first pass (cronie's and Debian's do_command.c).

    ``\\%`` becomes ``%``, any other backslash stays, and an unescaped ``%`` ends the
    command.
    """
    out: list[str] = []
    escaped = False
    for char in command:
        if escaped:
            if char == "%":
                out[-1] = "%"  # the backslash before it is dropped
            else:
                out.append(char)
            escaped = False
        elif char == "%":
            break
        else:
            out.append(char)
            escaped = char == "\\"
    return "".join(out)


def cron_line(expression: str, command: str) -> str:
    escaped = f"{_cron_escape(command)} {MARKER}"
    if len(escaped) > MAX_CRON_COMMAND:
        raise ScheduleError(
            said(
                "schedule.too_long",
                length=len(escaped),
                limit=MAX_CRON_COMMAND,
                variable=HOME_VARIABLE,
            )
        )
    return f"{expression} {escaped}"


def parse_cron_line(line: str) -> tuple[str, list[str]]:
    """A line of ours back into (schedule, shell words), as cron would run it."""
    fields = line.split(None, 5)
    if len(fields) < 6 or not line.rstrip().endswith(MARKER):
        raise ValueError(f"not a jmo-doctor schedule line: {line!r}")
    command = cron_unescape(fields[5].rstrip()[: -len(MARKER)])
    return " ".join(fields[:5]), shlex.split(command)


# --- backends ------------------------------------------------------------------------------


def _run(argv: Sequence[str], stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            list(argv), input=stdin, capture_output=True, timeout=COMMAND_TIMEOUT_S
        )
    except FileNotFoundError:
        raise ScheduleError(said("schedule.not_found", command=argv[0])) from None
    except subprocess.TimeoutExpired:
        raise ScheduleError(said("schedule.no_answer", command=shlex.join(argv))) from None
    except OSError as error:
        reason = error.strerror or str(error)
        raise ScheduleError(said("schedule.cannot_run", command=argv[0], reason=reason)) from None


def _why(done: subprocess.CompletedProcess[bytes]) -> str:
    said = (done.stderr or done.stdout).decode(errors="replace").strip()
    return said or f"exit code {done.returncode}"


class Crontab:
    """The user's crontab through the ``crontab`` command (``-l`` to read, ``-`` to write)."""

    name = "crontab"

    def __init__(self, argv: Sequence[str]) -> None:
        self.argv = list(argv)

    def read(self) -> bytes:
        done = _run([*self.argv, "-l"])
        if done.returncode == 0:
            return done.stdout
        if b"no crontab" in done.stderr.lower():
            return b""
        command = shlex.join(self.argv)
        raise ScheduleError(said("schedule.cannot_read_crontab", command=command, why=_why(done)))

    def write(self, content: bytes) -> None:
        # nothing left: no crontab at all, as before we installed
        if not content and _run([*self.argv, "-r"]).returncode == 0:
            return
        done = _run([*self.argv, "-"], stdin=content)
        if done.returncode != 0:
            raise ScheduleError(said("schedule.crontab_refused", why=_why(done)))


def _ours(line: bytes) -> bool:
    return line.rstrip().endswith(MARKER.encode())


def replace_line(content: bytes, line: str | None) -> bytes:
    """``content`` with our line replaced by ``line`` (appended if new, dropped if None)."""
    lines = content.splitlines(keepends=True)
    kept: list[bytes] = []
    placed = line is None
    for each in lines:
        if not _ours(each):
            kept.append(each)
        elif not placed:  # replace in place: the crontab's order stays as the user made it
            kept.append(f"{line}\n".encode())
            placed = True
    if not placed:
        if kept and not kept[-1].endswith(b"\n"):
            kept[-1] += b"\n"  # cron ignores a last line without its newline
        kept.append(f"{line}\n".encode())
    return b"".join(kept)


def _our_lines(content: bytes) -> list[str]:
    return [line.decode(errors="replace").rstrip() for line in content.splitlines() if _ours(line)]


class JobScheduler:
    """Termux:API's ``termux-job-scheduler``: Android's JobScheduler runs a script."""

    name = "termux-job-scheduler"

    def __init__(self, command: str, home: Path) -> None:
        self.command = command
        self.script = home / JOB_SCRIPT

    def install(self, every_s: int, shell: str) -> None:
        if every_s < JOB_SCHEDULER_MIN_S:
            raise ScheduleError(said("schedule.android_15m", hint=said("schedule.termux_cron")))
        sh = shutil.which("sh") or "/system/bin/sh"
        self.script.write_text(f"#!{sh}\n{MARKER}\n{shell}\n", encoding="utf-8")
        self.script.chmod(0o700)
        done = _run(
            [
                self.command,
                "--job-id", str(JOB_ID),
                "--period-ms", str(every_s * 1000),
                "--persisted", "true",
                # run even without a network: being offline is what it must report
                "--network", "none",
                "--script", str(self.script),
            ]
        )  # fmt: skip
        if done.returncode != 0:
            raise ScheduleError(said("schedule.job_failed", why=_why(done)))

    def remove(self) -> bool:
        done = _run([self.command, "--cancel", "--job-id", str(JOB_ID)])
        existed = self.script.exists()
        self.script.unlink(missing_ok=True)
        if done.returncode != 0:
            raise ScheduleError(said("schedule.cancel_failed", why=_why(done)))
        return existed

    def entry(self) -> str | None:
        done = _run([self.command, "--pending"])
        pending = done.returncode == 0 and str(JOB_ID) in done.stdout.decode(errors="replace")
        if not pending:
            return None
        try:
            return self.script.read_text(encoding="utf-8").splitlines()[-1]
        except (OSError, IndexError):
            return "(job pending, script missing)"


def _choose(
    crontab: Sequence[str] | None, environ: Mapping[str, str], home: Path
) -> Crontab | JobScheduler:
    argv = list(crontab) if crontab else shlex.split(environ.get(CRONTAB_VARIABLE, "crontab"))
    path = environ.get("PATH")
    if argv and shutil.which(argv[0], path=path):
        return Crontab(argv)
    if is_termux(environ):
        scheduler = shutil.which("termux-job-scheduler", path=path)
        if scheduler:
            return JobScheduler(scheduler, home)
        raise ScheduleError(said("schedule.no_scheduler", hint=said("schedule.termux_cron")))
    if sys.platform.startswith("win"):
        raise ScheduleError(said("schedule.windows"))
    command = argv[0] if argv else "empty"
    raise ScheduleError(said("schedule.no_crontab", command=command, variable=CRONTAB_VARIABLE))


# --- the three subcommands ----------------------------------------------------------------


def install(
    every: str | int,
    run_args: Sequence[str] = (),
    *,
    home: Path | None = None,
    crontab: Sequence[str] | None = None,
    executable: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """Schedule ``jmo-doctor run RUN_ARGS`` every ``every``; returns what was done."""
    env = os.environ if environ is None else environ
    home = home or data_home(env)
    every_s = _seconds(every)
    backend = _choose(crontab, env, home)
    try:
        ensure(home)  # the log goes there, and the job script on Termux
    except OSError as error:
        reason = error.strerror or str(error)
        raise ScheduleError(said("schedule.cannot_create", home=home, reason=reason)) from None
    shell = shell_command(absolute_paths(run_args), home, executable or current_command())
    log = home / SCHEDULE_LOG
    if isinstance(backend, JobScheduler):
        backend.install(every_s, shell)
        return said("schedule.installed_job", every=_human(every_s), log=log)
    line = cron_line(cron_expression(every_s), shell)
    backend.write(replace_line(backend.read(), line))
    note = said("schedule.crond_note") if is_termux(env) else ""
    return said("schedule.installed_cron", every=_human(every_s), line=line, log=log, note=note)


def remove(
    *,
    home: Path | None = None,
    crontab: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    env = os.environ if environ is None else environ
    backend = _choose(crontab, env, home or data_home(env))
    if isinstance(backend, JobScheduler):
        found = backend.remove()
        return said("schedule.removed" if found else "schedule.none_was")
    content = backend.read()
    if not _our_lines(content):
        return said("schedule.none_was")
    backend.write(replace_line(content, None))
    return said("schedule.removed_cron")


def status(
    *,
    home: Path | None = None,
    crontab: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> ScheduleStatus:
    env = os.environ if environ is None else environ
    backend = _choose(crontab, env, home or data_home(env))
    if isinstance(backend, JobScheduler):
        entry = backend.entry()
        lines = [entry] if entry else []
    else:
        lines = _our_lines(backend.read())
    if not lines:
        return ScheduleStatus(False, backend.name, None, said("schedule.none_is"))
    extra = said("schedule.more_lines", n=len(lines) - 1) if len(lines) > 1 else ""
    message = said("schedule.installed", backend=backend.name, line=lines[0], extra=extra)
    return ScheduleStatus(True, backend.name, lines[0], message)
