"""Lab-side handle on one server process running inside a namespace.

Protocol (all three servers speak it): the server prints ``ready`` on stdout once its
sockets are bound; afterwards each JSON line written to its stdin is a command, answered
by one line on stdout (``ok`` or ``error: …``). A pipe rather than a file the server
polls makes every change synchronous: when a ``set_…`` call returns, the next packet
already sees the new behaviour.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from . import netns


def module_argv(module: str, *args: str) -> list[str]:
    """``python -m <this package>.<module>``; works whether we are ``lab`` or ``tests.lab``."""
    package = __package__ or "lab"
    return [sys.executable, "-m", f"{package}.{module}", *args]


def package_root() -> str:
    """The directory to put on PYTHONPATH so ``python -m <package>.x`` finds us."""
    depth = (__package__ or "lab").count(".") + 1
    return str(Path(__file__).resolve().parents[depth])


class Server:
    def __init__(self, name: str, ns: str, argv: list[str], log: Path) -> None:
        self.name = name
        self.log = log
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (package_root(), env.get("PYTHONPATH", "")) if p
        )
        env["PYTHONUNBUFFERED"] = "1"
        self._log_file = log.open("ab")
        self.proc = subprocess.Popen(
            netns.exec_argv(ns, argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log_file,
            env=env,
            preexec_fn=netns.die_with_parent,
        )
        self._buffer = b""

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _readline(self, timeout: float) -> str:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise netns.LabError(f"{self.name}: no answer within {timeout}s{self._tail()}")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    raise netns.LabError(f"{self.name} exited ({self.proc.poll()}){self._tail()}")
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode().strip()

    def _tail(self) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n--- " + str(self.log) + " (tail) ---\n" + text[-3000:] if text else ""

    def wait_ready(self, timeout: float = 10) -> None:
        line = self._readline(timeout)
        if line != "ready":
            raise netns.LabError(f"{self.name}: expected 'ready', got {line!r}{self._tail()}")

    def command(self, message: dict[str, Any], timeout: float = 10) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(message).encode() + b"\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise netns.LabError(f"{self.name} is gone{self._tail()}") from None
        answer = self._readline(timeout)
        if answer != "ok":
            raise netns.LabError(f"{self.name}: {answer}{self._tail()}")

    def stop(self, grace: float = 2.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(grace)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._log_file.close()
