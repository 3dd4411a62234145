"""Small builders shared by the tests (no network, no mocks of libraries)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import sysconfig
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

from jmo_doctor import config
from jmo_doctor.api import BaseProbe, ProbeContext, ProbeResult, RunOptions, Status
from jmo_doctor.context import ProbeRunContext, RunShared
from jmo_doctor.plugins import LoadedProbe


def make_shared(
    toml: str = "", *, timeout: float = 10.0, lang: str = "en", options: RunOptions | None = None
) -> RunShared:
    return RunShared(
        config.parse(toml, "<test>"),
        options or RunOptions(),
        lang,
        deadline=time.monotonic() + timeout,
    )


def make_context(
    toml: str = "", *, probe: type[BaseProbe] | None = None, **kwargs: Any
) -> ProbeRunContext:
    shared = make_shared(toml, **kwargs)
    return ProbeRunContext(shared, probe.id if probe else "test", probe.messages if probe else {})


def loaded(probe: Any, *, order: int = 100, timeout: float | None = None) -> LoadedProbe:
    return LoadedProbe(
        probe=probe,
        id=probe.id,
        title=probe.id,
        order=order,
        timeout=timeout,
        slow=False,
        messages={},
        source="test",
        builtin=False,
    )


class FuncProbe(BaseProbe):
    """A probe whose body is a given coroutine function."""

    title: ClassVar[str] = "test probe"

    def __init__(self, probe_id: str, body: Callable[[ProbeContext], Awaitable[Any]]) -> None:
        self.id = probe_id  # type: ignore[misc]
        self._body = body

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        result = await self._body(ctx)
        if isinstance(result, ProbeResult):
            return result
        return ProbeResult(id=self.id, status=Status.PASS, summary=str(result))


_FAKE_CRONTAB = """\
#!{python}
import sys, pathlib
table = pathlib.Path({table!r})
if sys.argv[1] == "-l":
    if not table.exists():
        sys.exit("no crontab for tester")
    sys.stdout.buffer.write(table.read_bytes())
elif sys.argv[1] == "-r":
    table.unlink()
else:
    table.write_bytes(sys.stdin.buffer.read())
"""


def write_fake_crontab(directory: Path, name: str = "fake-crontab") -> tuple[Path, Path]:
    """A stand-in for `crontab` (-l, -r, install from stdin) keeping its table in a file.

    Returns (the script, the table file).
    """
    table = directory / "table"
    script = directory / name
    script.write_text(_FAKE_CRONTAB.format(python=sys.executable, table=str(table)))
    script.chmod(0o755)
    return script, table


@contextlib.contextmanager
def throwaway_crontab_user(prefix: str) -> Iterator[list[str]]:
    """``crontab -u <throwaway user>``: the real command, never touching root's crontab.

    Needs root, cron (Debian) and useradd; the caller skips when they are missing.
    """
    name = f"{prefix}{os.getpid() % 1_000_000}"
    subprocess.run(["userdel", name], capture_output=True)  # left over by a killed run
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        check=True,
        capture_output=True,
    )
    try:
        yield ["crontab", "-u", name]
    finally:
        subprocess.run(["crontab", "-u", name, "-r"], capture_output=True)
        subprocess.run(["userdel", name], check=True, capture_output=True)


def verdict_of(output: str) -> str:
    """The verdict at the end of a text report, its wrapped lines joined (SPEC §3: the
    report fits the terminal, so the verdict can take several lines; they are indented)."""
    lines = output.rstrip().splitlines()
    start = max(i for i, line in enumerate(lines) if not line.startswith(" "))
    return " ".join(line.strip() for line in lines[start:])


def venv_with_test_dependencies(venv: Path) -> Path:
    """A fresh venv without pip whose dependencies come from the test environment (a .pth
    file *after* its own site-packages): installs into it need no download. Its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python
