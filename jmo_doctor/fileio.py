"""Writing where the person asked, without hurting what is already there.

A report or metrics file is either the old one or the whole new one: a regular file (or a
new path) gets a temporary file renamed over it. Anything else is not ours to replace: run
as root, ``--output /dev/null`` once renamed a regular file over the device node. So a
device, a terminal or a named pipe is written in place (opened without creating or
truncating anything), and a symbolic link, a directory or a socket is refused with an
``OSError`` whose ``strerror`` says what the path is and what to do; the caller prints it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

# Absent on Windows, where the cases they guard (FIFOs, links planted in /tmp) do not arise.
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_NOCTTY = getattr(os, "O_NOCTTY", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)


def kind_of(mode: int) -> str:
    """What a file is, in words for an error message (from ``st_mode``)."""
    kinds = (
        (stat.S_ISREG, "a regular file"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((words for test, words in kinds if test(mode)), "not a regular file")


def write_atomic(path: str, text: str, *, devices: bool = True, file_mode: int = 0o644) -> None:
    """Write ``text`` to ``path``: atomically to a file, in place to a device or pipe.

    ``devices=False`` is for the tool's own files in its data directory: something other
    than a regular file planted there is refused, not written to. ``file_mode`` is set
    on the new file before it takes the name (a script is 0o700 from its first moment).
    """
    target = Path(path)
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        mode = None
    if mode is None or stat.S_ISREG(mode):
        _replace(target, text, file_mode)
    elif devices and (stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode)):
        _write_in_place(target, text)
    else:
        raise _refusal(target, mode)


def _replace(target: Path, text: str, file_mode: int = 0o644) -> None:
    directory = target.parent if str(target.parent) else Path()
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, file_mode)
        # rename replaces a link that appeared since lstat, never the file it points to
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _write_in_place(target: Path, text: str) -> None:
    """Write to a device, terminal or FIFO as ``>`` would, but never create or truncate.

    O_NONBLOCK makes opening a FIFO nobody reads fail at once (ENXIO) instead of waiting
    for ever; O_NOFOLLOW refuses a link swapped in since the lstat.
    """
    flags = os.O_WRONLY | _NOFOLLOW | _NONBLOCK | _NOCTTY | _CLOEXEC | _BINARY
    try:
        fd = os.open(target, flags)
    except OSError as error:
        raise _open_failure(target, error) from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISREG(mode):  # swapped for a file since the lstat: not ours to overwrite
            raise OSError(errno.EAGAIN, "it changed while being opened: run again", str(target))
        if not (stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode)):
            raise _refusal(target, mode)
        if _NONBLOCK:
            os.set_blocking(fd, True)  # a slow reader is waited for, not an error
        data = text.encode("utf-8")
        written = 0
        while written < len(data):
            written += os.write(fd, data[written:])
    finally:
        os.close(fd)


def _open_failure(target: Path, error: OSError) -> OSError:
    if error.errno == errno.ENXIO:
        return OSError(
            errno.ENXIO,
            "it is a named pipe (FIFO) that nothing is reading: "
            "start the reader first, or give a file name",
            str(target),
        )
    if error.errno == errno.ELOOP:  # a link swapped in since the lstat
        return _refusal(target, stat.S_IFLNK)
    return error


def _refusal(target: Path, mode: int) -> OSError:
    if stat.S_ISLNK(mode):
        return OSError(
            errno.ELOOP,
            f"it is a symbolic link{_pointing_to(target)}; jmo-doctor does not write "
            "through links: give the real path, or remove the link",
            str(target),
        )
    if stat.S_ISDIR(mode):
        return IsADirectoryError(
            errno.EISDIR,
            f"it is a directory: give a file name, e.g. {target / 'jmo-doctor-report.txt'}",
            str(target),
        )
    return OSError(
        errno.EINVAL,
        f"it is {kind_of(mode)}, not a file, a device or a pipe: give a file name",
        str(target),
    )


def _pointing_to(link: Path) -> str:
    try:
        return f" (to {os.readlink(link)})"
    except OSError:
        return ""
