"""Test-suite guard (SPEC §8): no packet may leave loopback from the test process.

Every socket connect/send and every name lookup in this process is checked; anything
aimed outside 127.0.0.0/8 or ::1 is blocked and fails the test that tried it. Tests that
need a real network run the CLI inside network namespaces the suite creates (tests/lab).
"""

from __future__ import annotations

import ipaddress
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_ALLOWED_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}
_violations: list[str] = []


def _is_loopback(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if not isinstance(host, str):
        return False
    host = host.strip("[]").split("%")[0]
    if host in _ALLOWED_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check(address: Any, what: str) -> None:
    if isinstance(address, tuple) and address and not _is_loopback(address[0]):
        _violations.append(f"{what} {address!r}")
        raise ConnectionRefusedError(f"hermetic test guard: {what} to {address!r} blocked")


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_sendto = socket.socket.sendto
_real_getaddrinfo = socket.getaddrinfo


def _connect(self: socket.socket, address: Any) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _check(address, "connect")
    return _real_connect(self, address)


def _connect_ex(self: socket.socket, address: Any) -> int:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _check(address, "connect")
    return _real_connect_ex(self, address)


def _sendto(self: socket.socket, data: Any, *args: Any) -> int:
    address = args[-1]
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _check(address, "sendto")
    return _real_sendto(self, data, *args)


def _getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if host is not None and not _is_loopback(host):
        _violations.append(f"name lookup {host!r}")
        raise socket.gaierror(socket.EAI_NONAME, f"hermetic test guard: lookup of {host!r} blocked")
    return _real_getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _connect  # type: ignore[method-assign]
socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]
socket.socket.sendto = _sendto  # type: ignore[method-assign,assignment]
socket.getaddrinfo = _getaddrinfo


@pytest.fixture(autouse=True)
def hermetic_guard() -> Iterator[None]:
    """Fails any test during which something tried to reach beyond loopback."""
    _violations.clear()
    yield
    if _violations:
        found = "; ".join(_violations[:5])
        _violations.clear()
        pytest.fail(f"hermetic guard: test tried to leave loopback: {found}")


@pytest.fixture
def allow_outside_lookup_failures() -> Iterator[list[str]]:
    """For tests that *expect* the guard to block something: hands over the record."""
    yield _violations
    _violations.clear()


# --- the real installed CLI --------------------------------------------------------------

REPO = Path(__file__).resolve().parent.parent


def _pip(python: Path, *args: str, cwd: Path | None = None) -> None:
    subprocess.run(
        [str(python), "-m", "pip", "--disable-pip-version-check", "-q", *args],
        check=True,
        cwd=cwd,
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="session")
def installed_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the *wheel* of jmo-doctor and two plug-ins installed (offline).

    Built without network: no build isolation, no index. The runtime dependencies come
    from the test environment through a .pth file, so nothing is downloaded.
    """
    root = tmp_path_factory.mktemp("installed")
    dist = root / "dist"
    for project in (REPO, REPO / "tests/plugins/hello", REPO / "tests/plugins/broken"):
        _pip(
            Path(sys.executable),
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            str(dist),
            str(project),
        )
    from tests.helpers import venv_with_test_dependencies

    venv = root / "venv"
    python = venv_with_test_dependencies(venv)
    wheels = sorted(str(w) for w in dist.glob("*.whl"))
    _pip(
        Path(sys.executable), "--python", str(python), "install", "--no-deps", "--no-index", *wheels
    )
    assert shutil.which("jmo-doctor", path=str(venv / "bin"))
    return venv


# the network lab's fixtures (lab_session, lab, lab_config) and its log-on-failure hook
from tests.lab.fixtures import *  # noqa: E402,F403


@pytest.fixture
def isolated_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI in-process kept to temp dirs: home, config, data; no colour. The data dir."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("JMO_DOCTOR_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("JMO_DOCTOR_CONFIG", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    return tmp_path / "data"
