"""The phone's own OS version (probes.store._device_os): the option, ``getprop`` on the phone
(Termux) and over ``adb``, each through a real process on PATH, and the comparison with
the listing's minimum."""

from __future__ import annotations

import asyncio
import os
import stat
import textwrap
import time
from pathlib import Path

import pytest

from probes.store._device_os import (
    UNKNOWN,
    DeviceOS,
    clean_release,
    discover_os,
    is_too_old,
    parse_sdk,
)


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "bin"
    path.mkdir()
    # only the fakes and the shell's helpers: no real adb or getprop can be reached
    monkeypatch.setenv("PATH", f"{path}{os.pathsep}/usr/bin{os.pathsep}/bin")
    return path


def script(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + f'echo "$@" >> "{bin_dir}/calls.log"\n' + textwrap.dedent(body))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def calls(bin_dir: Path) -> list[str]:
    log = bin_dir / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


GETPROP = """\
case "$*" in
  *ro.build.version.release) echo "6.0.1" ;;
  *ro.build.version.sdk) echo "23" ;;
esac
"""


def discover(**kwargs: object) -> DeviceOS:
    options: dict[str, object] = {"option": None, "platform": None, "termux": False}
    options.update(kwargs)
    return asyncio.run(discover_os(timeout=5.0, **options))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "release"),
    [
        ("8.1", "8.1"),
        ("Android 8.1", "8.1"),
        ("iOS 16.4.1", "16.4.1"),
        (" 14 ", "14"),
        ("R", None),  # a preview's codename is no number
        ("7.1.2\x1b[2J", None),  # what reaches a terminal is digits and dots only
        ("", None),
        (None, None),
    ],
)
def test_clean_release(text: str | None, release: str | None) -> None:
    assert clean_release(text) == release


@pytest.mark.parametrize(
    ("text", "sdk"), [("24\n", 24), ("", None), ("abc", None), ("99999", None)]
)
def test_parse_sdk(text: str, sdk: int | None) -> None:
    assert parse_sdk(text) == sdk


def test_option_wins_and_runs_nothing(bin_dir: Path) -> None:
    script(bin_dir, "getprop", GETPROP)
    assert discover(option="Android 9", termux=True) == DeviceOS("9", None, "option")
    assert calls(bin_dir) == []


def test_termux_reads_getprop_on_the_phone(bin_dir: Path) -> None:
    script(bin_dir, "getprop", GETPROP)
    assert discover(termux=True) == DeviceOS("6.0.1", 23, "device")
    assert calls(bin_dir) == ["ro.build.version.release", "ro.build.version.sdk"]


def test_termux_without_getprop_is_unknown(bin_dir: Path) -> None:
    assert discover(termux=True) == UNKNOWN


def test_adb_reads_getprop_on_the_one_ready_phone(bin_dir: Path) -> None:
    script(
        bin_dir,
        "adb",
        """\
        case "$*" in
          devices) printf 'List of devices attached\\nR58M12ABCDE\\tdevice\\n\\n' ;;
          *ro.build.version.release) echo "7.1.2" ;;
          *ro.build.version.sdk) echo "25" ;;
        esac
        """,
    )
    assert discover() == DeviceOS("7.1.2", 25, "adb")
    assert calls(bin_dir) == [
        "devices",
        "-s R58M12ABCDE shell getprop ro.build.version.release",
        "-s R58M12ABCDE shell getprop ro.build.version.sdk",
    ]


def test_adb_phone_not_authorized_is_unknown(bin_dir: Path) -> None:
    script(bin_dir, "adb", "printf 'List of devices attached\\nR58M12ABCDE\\tunauthorized\\n'\n")
    assert discover() == UNKNOWN
    assert calls(bin_dir) == ["devices"]


def test_ios_is_never_read_from_here(bin_dir: Path) -> None:
    script(bin_dir, "adb", "printf 'List of devices attached\\nR58M12ABCDE\\tdevice\\n'\n")
    assert discover(platform="ios") == UNKNOWN
    assert calls(bin_dir) == []


def test_hanging_getprop_is_cut_short(bin_dir: Path) -> None:
    script(bin_dir, "getprop", "sleep 30\n")
    started = time.monotonic()
    assert discover(termux=True) == UNKNOWN
    assert time.monotonic() - started < 15  # two bounded calls, not 60 s


@pytest.mark.parametrize(
    ("device", "release", "sdk", "too_old"),
    [
        (DeviceOS("6.0.1", 23, "device"), "7.0", 24, True),  # SDK levels decide
        (DeviceOS("7.1.2", 25, "adb"), "7.0", 24, False),
        (DeviceOS("7.0", None, "option"), "7.0", 24, False),  # release against release
        (DeviceOS("6.0.1", None, "option"), "7.0", 24, True),
        (DeviceOS("8.4.1", None, "option"), "9.0", None, True),  # iOS
        (DeviceOS("16", None, "option"), "15.0", None, False),
        (DeviceOS(None, None, "none"), "7.0", 24, None),  # unknown: nothing is said
        (DeviceOS("6.0", None, "option"), None, None, None),
    ],
)
def test_is_too_old(
    device: DeviceOS, release: str | None, sdk: int | None, too_old: bool | None
) -> None:
    assert is_too_old(device, release, sdk) is too_old
