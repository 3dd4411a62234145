"""One run at a time: a second run is refused with the holder's pid, a dead one is not.

And the lock file is only ever our own regular file: what else may be planted at its path
is refused and left alone; a full disk costs the pid note, never the run.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from jmo_doctor.monitor import lock
from jmo_doctor.paths import LOCK_FILE

REPO = Path(__file__).resolve().parent.parent

# A second process that tries to take the lock and reports what happened.
_TRY = """
import sys
from pathlib import Path
from jmo_doctor.monitor import lock
from jmo_doctor.paths import LOCK_FILE
try:
    with lock.acquire(Path(sys.argv[1]), use_flock=sys.argv[2] == "flock"):
        print("acquired")
except lock.LockHeld as error:
    print(f"held {error.holder_pid}: {error}")
"""

# A process that holds the lock until its stdin closes.
_HOLD = """
import sys
from pathlib import Path
from jmo_doctor.monitor import lock
from jmo_doctor.paths import LOCK_FILE
with lock.acquire(Path(sys.argv[1]), use_flock=sys.argv[2] == "flock"):
    print("locked", flush=True)
    sys.stdin.read()
"""

METHODS = ["flock", "pidfile"] if sys.platform != "win32" else ["pidfile"]


def _try(home: Path, method: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _TRY, str(home), method],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@contextmanager
def _held_elsewhere(home: Path, method: str) -> Iterator[int]:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(home), method],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield holder.pid
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)


@pytest.mark.parametrize("method", METHODS)
def test_second_process_is_refused_with_the_holders_pid(tmp_path: Path, method: str) -> None:
    with lock.acquire(tmp_path, use_flock=method == "flock"):
        answer = _try(tmp_path, method)
    assert answer.startswith(f"held {os.getpid()}: ")
    assert f"pid {os.getpid()}" in answer and "another jmo-doctor run" in answer
    assert _try(tmp_path, method) == "acquired"  # released on leaving the block


@pytest.mark.parametrize("method", METHODS)
def test_this_process_is_refused_while_another_holds_it(tmp_path: Path, method: str) -> None:
    with _held_elsewhere(tmp_path, method) as pid:
        with (
            pytest.raises(lock.LockHeld, match=f"pid {pid}") as caught,
            lock.acquire(tmp_path, use_flock=method == "flock"),
        ):
            pass
        assert caught.value.holder_pid == pid
    with lock.acquire(tmp_path, use_flock=method == "flock"):
        pass


@pytest.mark.skipif(sys.platform == "win32", reason="flock only")
def test_a_killed_holder_leaves_no_stuck_lock(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(tmp_path), "flock"],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    holder.kill()
    holder.wait(timeout=30)
    with lock.acquire(tmp_path):
        pass


def test_stale_pid_file_is_taken_over(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    lock.lock_path(tmp_path).write_text(dead.stdout)
    with lock.acquire(tmp_path, use_flock=False) as path:
        assert path.read_text().strip() == str(os.getpid())
    assert not path.exists()


def test_fresh_pid_less_lock_file_counts_as_held(tmp_path: Path) -> None:
    lock.lock_path(tmp_path).write_text("")
    with (
        pytest.raises(lock.LockHeld, match="pid is not known"),
        lock.acquire(tmp_path, use_flock=False),
    ):
        pass


def test_unusable_data_directory_is_a_lock_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with (
        pytest.raises(lock.LockError, match="cannot create the data directory") as caught,
        lock.acquire(blocker / "data"),
    ):
        pass
    assert not isinstance(caught.value, lock.LockHeld)


# --- what may sit at the lock's path (issue 9, item 4) ----------------------------------
# Only a regular file of our own is ever opened for writing; anything else is refused
# with LockFileRefused naming the path, what it is and "remove it", and left as it was.

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="links, FIFOs, nodes: POSIX")


def _symlink_to_file(home: Path, outside: Path) -> None:
    (outside / "precious").write_text("keep me\n")
    lock.lock_path(home).symlink_to(outside / "precious")


def _dangling_symlink(home: Path, outside: Path) -> None:
    lock.lock_path(home).symlink_to(outside / "created-through-the-link")


def _fifo(home: Path, outside: Path) -> None:
    os.mkfifo(lock.lock_path(home))


def _directory(home: Path, outside: Path) -> None:
    lock.lock_path(home).mkdir()


def _char_device(home: Path, outside: Path) -> None:
    # same major/minor as /dev/null, but our own node in a temp dir
    os.mknod(lock.lock_path(home), 0o600 | stat.S_IFCHR, os.makedev(1, 3))


def _hard_link(home: Path, outside: Path) -> None:
    (outside / "precious").write_text("keep me\n")
    os.link(outside / "precious", lock.lock_path(home))


def _someone_elses_file(home: Path, outside: Path) -> None:
    lock.lock_path(home).write_text("keep me\n")
    os.chown(lock.lock_path(home), 65534, 65534)


PLANTED = [
    pytest.param(_symlink_to_file, "symbolic link", id="symlink-to-a-file"),
    pytest.param(_dangling_symlink, "symbolic link", id="dangling-symlink"),
    pytest.param(_fifo, "named pipe", id="fifo"),
    pytest.param(_directory, "directory", id="directory"),
    pytest.param(_char_device, "character device", id="char-device"),
    pytest.param(_hard_link, "hard links", id="hard-link"),
    pytest.param(_someone_elses_file, "another user", id="someone-elses-file"),
]


def _snapshot(directory: Path) -> dict[str, tuple[int, int, bytes | None]]:
    """Every entry's kind, device number and (regular files) content, links not followed."""
    seen: dict[str, tuple[int, int, bytes | None]] = {}
    for entry in sorted(directory.iterdir()):
        status = entry.lstat()
        content = entry.read_bytes() if stat.S_ISREG(status.st_mode) else None
        seen[entry.name] = (stat.S_IFMT(status.st_mode), status.st_rdev, content)
    return seen


@posix_only
@pytest.mark.timeout(20)  # a FIFO opened for writing without O_NONBLOCK would hang here
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("plant", "what"), PLANTED)
def test_anything_but_our_own_regular_file_is_refused_and_left_alone(
    tmp_path: Path, method: str, plant: Any, what: str
) -> None:
    if plant is _someone_elses_file and os.geteuid() != 0:
        pytest.skip("needs root to give a file to another user")
    home, outside = tmp_path / "home", tmp_path / "outside"
    home.mkdir()
    outside.mkdir()
    plant(home, outside)
    before = (_snapshot(home), _snapshot(outside))
    with (
        pytest.raises(lock.LockFileRefused) as refused,
        lock.acquire(home, use_flock=method == "flock"),
    ):
        pass
    message = str(refused.value)
    assert str(lock.lock_path(home)) in message and what in message
    assert message.endswith("remove it")
    assert not isinstance(refused.value, lock.LockHeld)
    assert (_snapshot(home), _snapshot(outside)) == before


# --- a full disk costs the pid note, never the run (issue 9, item 9) ---------------------


@pytest.fixture
def full_directory(tmp_path: Path) -> Iterator[Path]:
    """A tiny tmpfs filled to the last byte (needs root; skipped where mount fails)."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip() or 'not root'}")
    try:
        home = mount_point / "data"
        home.mkdir()
        filler = os.open(mount_point / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        with contextlib.suppress(OSError):  # unbuffered: ENOSPC ends the loop, not close()
            while True:
                os.write(filler, b"\0" * 4096)
        os.close(filler)
        with pytest.raises(OSError, match="No space left"):
            (mount_point / "probe").write_bytes(b"x" * 8192)
        yield home
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)


@posix_only
@pytest.mark.parametrize("method", METHODS)
def test_full_disk_costs_only_the_pid_note(full_directory: Path, method: str) -> None:
    with lock.acquire(full_directory, use_flock=method == "flock") as path:
        assert path.read_text() == ""  # no room for the pid, and the run goes on
        answer = _try(full_directory, method)
        assert answer.startswith("held None: ") and "pid is not known" in answer


@posix_only
def test_a_failed_pid_write_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write

    def full_for_the_lock(fd: int, data: bytes) -> int:
        if os.readlink(f"/proc/self/fd/{fd}").endswith(LOCK_FILE):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full_for_the_lock)
    with lock.acquire(tmp_path, use_flock=True) as path:
        assert path.read_text() == ""
