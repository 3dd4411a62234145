"""One run at a time: a second run is refused with the holder's pid, a dead one is not."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from jmo_doctor import lock

REPO = Path(__file__).resolve().parent.parent

# A second process that tries to take the lock and reports what happened.
_TRY = """
import sys
from pathlib import Path
from jmo_doctor import lock
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
from jmo_doctor import lock
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
