"""Android's app sandbox for the lab: run the real CLI the way Termux on Android 10+ runs.

- ``android_shim.c``, compiled with the system C compiler at test time, preloaded: netlink
  route sockets refuse bind/send (``ip route`` fails with "Cannot bind netlink socket:
  Permission denied", as on a phone), ``getifaddrs()`` and ``if_nameindex()`` fail, and
  /proc/net, /proc/<pid>/net and /sys/class/net cannot be opened — all with EACCES;
- psutil cannot be imported (it is not installable on Termux without a compiler);
- Termux's environment: ``TERMUX_VERSION``, ``PREFIX=/data/data/com.termux/files/usr``.

Usage (the preload goes on the command, not on ``ip netns exec`` that starts it)::

    sandbox = AndroidSandbox.build(tmp_dir)
    lab.run_in_phone(sandbox.argv([sys.executable, "-m", "jmo_doctor", "run"]),
                     env=sandbox.env())
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import addresses as A
from . import netns

if TYPE_CHECKING:
    from .lab import Lab

SHIM_SOURCE = Path(__file__).with_name("android_shim.c")
TERMUX_PREFIX = "/data/data/com.termux/files/usr"
#: What Termux sets in every shell (termux-app's TermuxShellEnvironment), minus paths
#: that cannot exist off a phone (HOME and TMPDIR stay the test's).
TERMUX_ENV = {
    "TERMUX_VERSION": "0.118.3",
    "PREFIX": TERMUX_PREFIX,
    "TERMUX_APP__PACKAGE_NAME": "com.termux",
    "ANDROID_ROOT": "/system",
    "ANDROID_DATA": "/data",
}
# Importing this stand-in fails as a missing psutil does: ModuleNotFoundError.
_NO_PSUTIL = (
    '"""Stands in for psutil where it cannot be installed (Termux without a compiler)."""\n'
    "raise ModuleNotFoundError(\"No module named 'psutil'\", name='psutil')\n"
)


def compiler() -> str | None:
    return shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")


def unavailable_reason() -> str | None:
    """Why the sandbox cannot be built here, or None."""
    if compiler() is None:
        return "no C compiler (gcc/cc) to build the Android sandbox shim"
    return None


@dataclass(frozen=True)
class AndroidSandbox:
    shim: Path  # the preload library
    blocker: Path  # a directory whose ``psutil`` package refuses to import

    @classmethod
    def build(cls, workdir: Path) -> AndroidSandbox:
        cc = compiler()
        if cc is None:
            raise netns.LabError("no C compiler for the Android sandbox shim")
        workdir.mkdir(parents=True, exist_ok=True)
        shim = workdir / "android_shim.so"
        subprocess.run(
            [cc, "-shared", "-fPIC", "-O2", "-Wall", "-o", str(shim), str(SHIM_SOURCE), "-ldl"],
            check=True,
            capture_output=True,
            text=True,
        )
        blocker = workdir / "no-psutil"
        (blocker / "psutil").mkdir(parents=True, exist_ok=True)
        (blocker / "psutil" / "__init__.py").write_text(_NO_PSUTIL)
        return cls(shim, blocker)

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """Termux's variables and the psutil blocker first on PYTHONPATH."""
        source = dict(os.environ if base is None else base)
        path = [str(self.blocker), *filter(None, source.get("PYTHONPATH", "").split(os.pathsep))]
        return {**TERMUX_ENV, "PYTHONPATH": os.pathsep.join(path)}

    def argv(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run with the shim preloaded (``env`` sets it for that command only)."""
        return ["env", f"LD_PRELOAD={self.shim}", *(str(a) for a in argv)]


@contextlib.contextmanager
def phone_link_down(lab: Lab, timeout: float = 5.0) -> Iterator[None]:
    """The phone's only link down (its routes and IPv6 address go with it), then back as
    the lab built it."""
    netns.ip_batch(lab.phone, [f"link set {A.PHONE_IF} down"])
    try:
        yield
    finally:
        netns.ip_batch(
            lab.phone,
            [
                f"link set {A.PHONE_IF} up",
                f"addr replace {A.PHONE_IP}/24 dev {A.PHONE_IF}",
                f"addr replace {A.PHONE_IP6}/64 dev {A.PHONE_IF} nodad",
                f"route replace default via {A.GATEWAY_IP}",
                f"route replace ::/0 via {A.GATEWAY_IP6}",
            ],
        )
        _wait_phone_up(lab, timeout)


def _wait_phone_up(lab: Lab, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        shown = netns.run(["ip", "-n", lab.phone, "-o", "link", "show", A.PHONE_IF]).stdout
        if "state UP" in shown:
            return
        if time.monotonic() > deadline:
            raise netns.LabError(f"phone link not up again after {timeout}s: {shown.strip()}")
        time.sleep(0.02)
