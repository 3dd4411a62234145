"""Running a command: the one subprocess runner of the probes (``ip``, ``route`` and
termux-api for system; adb and dumpsys for store).

A command runs in its own session with ``LC_ALL=C``, stdin closed and its output capped.
It is done when it exits, not when its pipes close: a daemon it forked (adb's server) can
keep stdout open long after the answer was printed, and ``Process.wait()`` waits for the
pipes too. On timeout, cancellation or runaway output the whole process group is killed,
so a hanging wrapper's children do not keep running, or keep our pipe open.

Blocking code (the system scans, which run in a thread) calls :func:`run_command_sync`,
the same runner on an event loop of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass

#: Per stream: a runaway command is killed when it has printed this much.
MAX_OUTPUT_BYTES = 4_000_000
#: Once the command exited, how long what is left in the pipes may take to be read.
DRAIN_S = 0.3
#: Once killed, how long to wait for the exit.
REAP_S = 2.0


@dataclass(frozen=True)
class CommandResult:
    returncode: int | None  # None: it could not start, or it was killed at the timeout
    output: str  # stdout
    timed_out: bool = False
    errors: str = ""  # stderr
    #: Why it could not start (missing, not executable, …); None when it ran.
    start_error: OSError | ValueError | None = None


class CommandFailed(Exception):
    """A command ran but exited non-zero."""


async def run_command(argv: Sequence[str], timeout: float) -> CommandResult:
    """Run ``argv`` for at most ``timeout`` seconds; never raises but for cancellation
    (which kills it too)."""
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # its own group, so the kill reaches its children
            env={**os.environ, "LC_ALL": "C"},
        )
    except (OSError, ValueError) as error:
        return CommandResult(None, "", start_error=error)
    stdout, stderr = _Output(), _Output()
    readers = asyncio.gather(
        stdout.read(process, process.stdout), stderr.read(process, process.stderr)
    )
    try:
        returncode = await asyncio.wait_for(_exited(process), timeout)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(readers), DRAIN_S)
    except TimeoutError:
        _kill(process)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_exited(process), REAP_S)
        return CommandResult(None, stdout.text(), timed_out=True, errors=stderr.text())
    except asyncio.CancelledError:
        _kill(process)
        raise
    finally:
        readers.cancel()
        _close_pipes(process)
    return CommandResult(returncode, stdout.text(), errors=stderr.text())


def run_command_sync(argv: Sequence[str], timeout: float) -> CommandResult:
    """:func:`run_command` for blocking code, on an event loop of its own."""
    return asyncio.run(run_command(argv, timeout))


def checked(result: CommandResult) -> str:
    """The output of a command that ran and exited 0; else raises why not: the error it
    could not start with, TimeoutError, or CommandFailed with the first line of stderr
    (else the exit status)."""
    if result.start_error is not None:
        raise result.start_error
    if result.timed_out:
        raise TimeoutError
    if result.returncode != 0:
        first = (result.errors.strip().splitlines() or [f"exit status {result.returncode}"])[0]
        raise CommandFailed(first[:120])
    return result.output


async def _exited(process: asyncio.subprocess.Process) -> int:
    # polled: returncode is set at exit, while wait() also waits for the pipes to close
    while process.returncode is None:  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    return process.returncode


def _close_pipes(process: asyncio.subprocess.Process) -> None:
    """Close our ends now: left to the garbage collector, the transport complains once
    the event loop is gone (there is no public API for this)."""
    transport = getattr(process, "_transport", None)
    if transport is not None:
        transport.close()


class _Output:
    """What a command printed so far on one stream, capped (a runaway command is killed at
    the cap)."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.size = 0

    async def read(
        self, process: asyncio.subprocess.Process, stream: asyncio.StreamReader | None
    ) -> None:
        assert stream is not None
        while self.size < MAX_OUTPUT_BYTES:
            chunk = await stream.read(65536)
            if not chunk:
                return
            self.chunks.append(chunk)
            self.size += len(chunk)
        _kill(process)

    def text(self) -> str:
        return b"".join(self.chunks).decode("utf-8", errors="replace")


def _kill(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    try:
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signal.SIGKILL)
        else:  # pragma: no cover - Windows
            process.kill()
    except (ProcessLookupError, PermissionError):
        pass
