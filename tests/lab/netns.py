"""Network-namespace plumbing: create, run in, tear down, and clean up after killed runs.

Everything shells out to iproute2 (``ip``); nothing here opens a socket itself, so the
test process never sends a packet. Namespace names carry the creating process id
(``jmo-<role>-<pid>-<n>``) so parallel runs don't clash and :func:`cleanup_stale` can tell
leftovers of a dead run from a live sibling's namespaces.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

NETNS_ETC = Path("/etc/netns")
NETNS_RUN = Path("/var/run/netns")
PREFIX = "jmo-"
_NAME = re.compile(r"^jmo-(phone|router|inet)-(\d+)-(\d+)$")
TMP_PREFIX = "jmo-lab-"  # lab temp dirs: /tmp/jmo-lab-<pid>-<n>-xxxx


class LabError(RuntimeError):
    """A lab set-up step failed (the message carries the command and its stderr)."""


def run(
    argv: Sequence[str], *, input: str | None = None, check: bool = True, timeout: float = 20
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        list(argv), input=input, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        shown = " ".join(argv)
        raise LabError(
            f"`{shown}` failed ({proc.returncode}): {proc.stderr.strip()}"
            + (f"\ninput:\n{input}" if input else "")
        )
    return proc


def ip_batch(
    ns: str | None, lines: Iterable[str], *, force: bool = False, family: str | None = None
) -> None:
    """Run many ``ip`` commands in one process (much faster than one exec per command).
    ``family`` ("-4"/"-6") applies to all lines: batch lines can't carry options."""
    text = "\n".join(lines) + "\n"
    argv = (
        ["ip"]
        + ([family] if family else [])
        + (["-n", ns] if ns else [])
        + (["-force"] if force else [])
        + ["-batch", "-"]
    )
    run(argv, input=text, check=not force)


def exec_argv(ns: str, argv: Sequence[str]) -> list[str]:
    return ["ip", "netns", "exec", ns, *argv]


def sysctl(ns: str, settings: Mapping[str, str | int]) -> None:
    # Written by a shell inside the namespace: /proc/sys/net is per-namespace.
    script = "; ".join(f"echo {v} > /proc/sys/{k.replace('.', '/')}" for k, v in settings.items())
    run(exec_argv(ns, ["sh", "-ec", script]))


def add(names: Sequence[str]) -> None:
    ip_batch(None, [f"netns add {n}" for n in names])


def pids(ns: str) -> list[int]:
    proc = run(["ip", "netns", "pids", ns], check=False)
    return [int(p) for p in proc.stdout.split() if p.isdigit()]


def kill_pids(found: Iterable[int], grace: float = 1.0) -> None:
    """SIGTERM, then SIGKILL what is still there after ``grace`` seconds."""
    left = set(found) - {os.getpid()}
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while left and time.monotonic() < deadline:
        left = {p for p in left if _alive(p)}
        time.sleep(0.01)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def delete(names: Sequence[str]) -> None:
    """Kill whatever still runs in the namespaces, then remove them and their /etc dirs."""
    victims: list[int] = []
    for n in names:
        victims += pids(n)
    kill_pids(victims)
    existing = set(list_names())
    gone = [n for n in names if n in existing]
    if gone:
        ip_batch(None, [f"netns del {n}" for n in gone], force=True)
    for n in names:
        shutil.rmtree(NETNS_ETC / n, ignore_errors=True)
    with contextlib.suppress(OSError):  # leave /etc as found; fails if others use it
        NETNS_ETC.rmdir()


def list_names() -> list[str]:
    proc = run(["ip", "netns", "list"], check=False)
    return [line.split()[0] for line in proc.stdout.splitlines() if line.strip()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours is dead for our purposes.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def cleanup_stale(*, everything: bool = False) -> list[str]:
    """Remove lab namespaces (and temp dirs) whose creating process is gone.

    ``everything=True`` also removes those of live processes (for a manual reset).
    Returns the namespace names removed.
    """
    stale = [
        n
        for n in list_names()
        if (m := _NAME.match(n)) and (everything or not _alive(int(m.group(2))))
    ]
    if stale:
        delete(stale)
    # /etc/netns dirs left without a namespace (a run killed between the two steps).
    if NETNS_ETC.is_dir():
        live = set(list_names())
        for d in NETNS_ETC.iterdir():
            m = _NAME.match(d.name)
            if m and d.name not in live and (everything or not _alive(int(m.group(2)))):
                shutil.rmtree(d, ignore_errors=True)
    tmp = Path(tempfile.gettempdir())
    for d in tmp.glob(TMP_PREFIX + "*"):
        parts = d.name[len(TMP_PREFIX) :].split("-")
        if parts[0].isdigit() and (everything or not _alive(int(parts[0]))):
            shutil.rmtree(d, ignore_errors=True)
    return stale


def unavailable_reason() -> str | None:
    """Why namespaces can't be used here, or None when they can."""
    if os.geteuid() != 0:
        return "the network lab needs root (network namespaces, nftables, tc)"
    for tool in ("ip", "nft", "tc"):
        if shutil.which(tool) is None:
            return f"the network lab needs `{tool}` on PATH"
    if not Path("/dev/net/tun").exists():
        return "the network lab needs /dev/net/tun (delay relay)"
    probe = f"{PREFIX}probe-{os.getpid()}"
    proc = run(["ip", "netns", "add", probe], check=False)
    if proc.returncode != 0:
        return f"`ip netns add` failed: {proc.stderr.strip()}"
    run(["ip", "netns", "del", probe], check=False)
    return None


_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM when the test process dies (even by SIGKILL).

    Survives the exec of ``ip netns exec`` (not set-uid), so a killed pytest leaves no
    servers behind; cleanup_stale() catches anything else.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
