"""One run at a time: a lock file in the data directory.

Cron can start a run while the previous one is still waiting on a dead network; two runs
at once would measure each other's traffic and race on the history. Where ``fcntl``
exists the kernel holds the lock (``flock``), so a crashed run never leaves it stuck.
Elsewhere the file is created exclusively and carries the holder's pid, and a lock whose
pid is gone is taken over as stale.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

from jmo_doctor.paths import LOCK_FILE, ensure

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

#: A pid-less lock file younger than this is being written, not stale.
FRESH_S = 10.0


class LockError(Exception):
    """The lock could not be taken at all (e.g. the data directory is not writable)."""


class LockHeld(LockError):
    """Another run holds the lock; the CLI turns this into exit code 3."""

    def __init__(self, message: str, holder_pid: int | None) -> None:
        super().__init__(message)
        self.holder_pid = holder_pid


def lock_path(home: Path) -> Path:
    return home / LOCK_FILE


@contextlib.contextmanager
def acquire(home: Path, *, use_flock: bool | None = None) -> Iterator[Path]:
    """Hold the run lock for the ``with`` block; raises :class:`LockHeld` if taken.

    ``use_flock=False`` forces the pid-file method (what Windows gets), for tests.
    """
    flock = fcntl is not None if use_flock is None else use_flock
    try:
        ensure(home)
    except OSError as error:
        raise LockError(f"cannot create the data directory {home}: {_reason(error)}") from None
    path = lock_path(home)
    holder = _flock(path) if flock else _pid_file(path)
    with holder:
        yield path


@contextlib.contextmanager
def _flock(path: Path) -> Iterator[None]:
    assert fcntl is not None
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise LockError(f"cannot open the lock file {path}: {_reason(error)}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _held(path, _read_pid(path)) from None
        except OSError as error:  # e.g. a filesystem without flock support
            raise LockError(f"cannot lock {path}: {_reason(error)}") from None
        # The pid is only for the message another run prints; the kernel holds the lock.
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        try:
            yield
        finally:
            # Not unlinked: a run waiting to open the old inode would lock a file nobody
            # else sees. Emptied, so a stale pid is never reported.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing releases the flock


@contextlib.contextmanager
def _pid_file(path: Path) -> Iterator[None]:
    for _attempt in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            pid = _read_pid(path)
            if (pid is not None and _alive(pid)) or (pid is None and _fresh(path)):
                raise _held(path, pid) from None
            # Stale (the holder died) or half-written: take it over once.
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            continue
        except OSError as error:
            raise LockError(f"cannot create the lock file {path}: {_reason(error)}") from None
        try:
            os.write(fd, f"{os.getpid()}\n".encode())
        finally:
            os.close(fd)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                path.unlink()
        return
    raise _held(path, _read_pid(path))  # another run took it over between our tries


def _held(path: Path, pid: int | None) -> LockHeld:
    who = f"pid {pid}" if pid is not None else "a process whose pid is not known yet"
    return LockHeld(
        f"another jmo-doctor run ({who}) is in progress (lock file {path}); "
        "wait for it to finish, or lengthen the schedule's interval",
        pid,
    )


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _fresh(path: Path) -> bool:
    """A lock file without a pid yet is a run that has only just created it."""
    try:
        return time.time() - path.stat().st_mtime < FRESH_S
    except OSError:
        return False


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name == "nt":
        # os.kill(pid, 0) would *terminate* the process on Windows: ask psutil instead.
        try:
            import psutil
        except ImportError:
            return True  # cannot tell: better to refuse than to run twice
        return bool(psutil.pid_exists(pid))
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _reason(error: OSError) -> str:
    return error.strerror or str(error)
