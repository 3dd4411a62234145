"""One run at a time: a lock file in the data directory.

Cron can start a run while the previous one is still waiting on a dead network; two runs
at once would measure each other's traffic and race on the history. Where ``fcntl``
exists the kernel holds the lock (``flock``), so a crashed run never leaves it stuck.
Elsewhere the file is created exclusively and carries the holder's pid, and a lock whose
pid is gone is taken over as stale.

The lock file is only ever a regular file of our own: a symbolic link planted at its
path once made a run truncate the link's target (as root, anyone's file), and a FIFO
there blocked the open. It is opened without following links and without blocking, and
anything else is refused with :class:`LockFileRefused`. The pid written into it is a note
for the message another run prints, so failing to write it (a full disk) costs the note,
never the run.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

from jmo_doctor.errors import UserError
from jmo_doctor.fileio import kind_of
from jmo_doctor.i18n import said
from jmo_doctor.paths import LOCK_FILE, ensure

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

#: A pid-less lock file younger than this is being written, not stale.
FRESH_S = 10.0
#: More than any pid and its newline: the rest of a planted file is never read.
PID_NOTE_BYTES = 32

# Absent on Windows, where links and FIFOs at the lock's path do not arise.
_SAFE_OPEN = (
    getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


class LockError(Exception):
    """The lock could not be taken at all (e.g. the data directory is not writable).

    Not a :class:`UserError`: the run goes on without the lock, and says so.
    """


class LockFileRefused(LockError):
    """Something other than our own regular file is at the lock's path: never written."""


class LockHeld(LockError, UserError):
    """Another run holds the lock: this run does not start (exit code 3)."""

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
        raise LockError(said("lock.no_home", home=home, reason=_reason(error))) from None
    path = lock_path(home)
    holder = _flock(path) if flock else _pid_file(path)
    with holder:
        yield path


@contextlib.contextmanager
def _flock(path: Path) -> Iterator[None]:
    assert fcntl is not None
    fd = _open_own_file(path, os.O_RDWR | os.O_CREAT)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _held(path, _pid_in(fd)) from None
        except OSError as error:  # e.g. a filesystem without flock support
            raise LockError(said("lock.cannot_lock", path=path, reason=_reason(error))) from None
        # The pid is only for the message another run prints; the kernel holds the lock.
        _note_pid(fd, truncate=True)
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
            # O_EXCL never follows a link: one at the path is "exists", vetted below
            fd = _open_own_file(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            pid = _read_pid(path)  # refuses what is not our regular file
            if (pid is not None and _alive(pid)) or (pid is None and _fresh(path)):
                raise _held(path, pid) from None
            # Stale (the holder died) or half-written: take it over once.
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            continue
        try:
            # On a full disk the file stays empty: "fresh" for FRESH_S, then stale.
            _note_pid(fd, truncate=False)
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
    who = said("lock.holder", pid=pid) if pid is not None else said("lock.holder_unknown")
    return LockHeld(said("lock.held", who=who, path=path), pid)


def _open_own_file(path: Path, flags: int) -> int:
    """Open the lock file, refusing anything but a regular file owned by us.

    Checked before opening (a device is never even opened) and again on the open file
    (a swap in between is caught); O_NOFOLLOW and O_NONBLOCK keep the open itself from
    following a link or waiting on a FIFO.
    """
    with contextlib.suppress(FileNotFoundError):
        if not flags & os.O_EXCL:
            _vet(path, os.lstat(path))
    try:
        fd = os.open(path, flags | _SAFE_OPEN, 0o644)
    except FileExistsError:
        raise
    except OSError as error:
        with contextlib.suppress(OSError):
            _vet(path, os.lstat(path))  # ELOOP: a link appeared; say so rather than "loop"
        raise LockError(said("lock.cannot_open", path=path, reason=_reason(error))) from None
    try:
        _vet(path, os.fstat(fd))
    except BaseException:
        os.close(fd)
        raise
    return fd


def _vet(path: Path, status: os.stat_result) -> None:
    """Raise :class:`LockFileRefused` unless ``status`` is a regular file of this user."""
    if not stat.S_ISREG(status.st_mode):
        raise LockFileRefused(
            f"the lock file {path} is {kind_of(status.st_mode)}{_pointing_to(path)}, "
            "not a regular file; jmo-doctor will not open it: remove it"
        )
    me = os.geteuid() if hasattr(os, "geteuid") else None
    if me is not None and status.st_uid != me:
        raise LockFileRefused(
            f"the lock file {path} belongs to another user (uid {status.st_uid}); "
            "jmo-doctor will not write to someone else's file: remove it"
        )
    # a hard link planted to another file (e.g. one of root's) has this owner but 2+ names
    if status.st_nlink > 1:
        raise LockFileRefused(
            f"the lock file {path} has other names (hard links), so writing it would change "
            "another file too; jmo-doctor will not write to it: remove it"
        )


def _pointing_to(path: Path) -> str:
    try:
        return f" (to {os.readlink(path)})"
    except OSError:
        return ""


def _note_pid(fd: int, *, truncate: bool) -> None:
    """Write our pid for another run's message; a full disk only costs the note."""
    with contextlib.suppress(OSError):
        if truncate:  # the file was just opened: the offset is 0
            os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())


def _pid_in(fd: int) -> int | None:
    try:
        text = os.pread(fd, PID_NOTE_BYTES, 0).decode("ascii", errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _read_pid(path: Path) -> int | None:
    try:
        fd = _open_own_file(path, os.O_RDONLY)
    except LockFileRefused:
        raise
    except LockError:
        return None  # gone meanwhile, or unreadable: no pid to tell
    try:
        text = os.read(fd, PID_NOTE_BYTES).decode("ascii", errors="replace").strip()
    except OSError:
        return None
    finally:
        os.close(fd)
    return int(text) if text.isdigit() else None


def _fresh(path: Path) -> bool:
    """A lock file without a pid yet is a run that has only just created it."""
    try:
        return time.time() - os.lstat(path).st_mtime < FRESH_S
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
