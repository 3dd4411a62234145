"""Installed-version discovery (probes.store._installed) with a fake ``adb`` on PATH: the real
``dumpsys package`` output shape, zero, one and two devices, and an adb that hangs."""

from __future__ import annotations

import asyncio
import os
import stat
import textwrap
import time
from pathlib import Path

import pytest

from probes._common.command import run_command
from probes.store._installed import (
    Installed,
    discover,
    from_adb,
    from_device,
    parse_adb_devices,
    parse_version_name,
)

PACKAGE = "com.bpjstku"

# the shape of `dumpsys package com.bpjstku` on Android 12-14 (trimmed)
DUMPSYS = textwrap.dedent(
    """\
    Activity Resolver Table:
      Non-Data Actions:
          android.intent.action.MAIN:
            5a1b2c3 com.bpjstku/.MainActivity filter 9d8e7f6
    Packages:
      Package [com.bpjstku] (4f3e2d1):
        userId=10245
        pkg=Package{7c6b5a4 com.bpjstku}
        codePath=/data/app/~~Xy12==/com.bpjstku-Ab34==
        resourcePath=/data/app/~~Xy12==/com.bpjstku-Ab34==
        legacyNativeLibraryDir=/data/app/~~Xy12==/com.bpjstku-Ab34==/lib
        primaryCpuAbi=arm64-v8a
        versionCode=415005 minSdk=24 targetSdk=34
        minExtensionVersions=[]
        versionName=4.15.5
        apkSigningVersion=3
        flags=[ HAS_CODE ALLOW_CLEAR_USER_DATA ALLOW_BACKUP ]
        timeStamp=2026-10-01 09:12:44
        lastUpdateTime=2026-10-01 09:13:02
        installerPackageName=com.android.vending
    Hidden system packages:
      Package [com.bpjstku] (1a2b3c4):
        versionCode=400003 minSdk=24 targetSdk=33
        versionName=4.0.3
    """
)

DEVICES_ONE = "List of devices attached\nR58M12ABCDE\tdevice\n\n"
DEVICES_NONE = "List of devices attached\n\n"
DEVICES_TWO = "List of devices attached\nR58M12ABCDE\tdevice\nemulator-5554\tdevice\n\n"
DEVICES_STARTING = (
    "* daemon not running; starting now at tcp:5037\n* daemon started successfully\n"
    "List of devices attached\nR58M12ABCDE\tunauthorized\nemulator-5554\tdevice\n\n"
)


def test_parse_version_name_takes_the_installed_package() -> None:
    assert parse_version_name(DUMPSYS) == "4.15.5"  # not the factory 4.0.3 listed after it
    assert parse_version_name("Unable to find package: com.bpjstku\n") is None
    assert parse_version_name("") is None


def ready(listing: str) -> list[str]:
    return [d.serial for d in parse_adb_devices(listing) if d.ready]


def test_parse_adb_devices() -> None:
    assert ready(DEVICES_ONE) == ["R58M12ABCDE"]
    assert ready(DEVICES_NONE) == []
    assert ready(DEVICES_TWO) == ["R58M12ABCDE", "emulator-5554"]
    assert ready(DEVICES_STARTING) == ["emulator-5554"]


REAL = Path(__file__).resolve().parent.parent / "fixtures" / "installed"


@pytest.mark.parametrize(
    ("sample", "serial", "state"),
    [
        ("adb-devices-no-serial.txt", "(no serial number)", "device"),
        ("adb-devices-no-permissions.txt", "(no serial number)", "no permissions"),
        ("adb-devices-l-no-serial.txt", "(no serial number)", "device"),
    ],
)
def test_real_adb_listings(sample: str, serial: str, state: str) -> None:
    [device] = parse_adb_devices((REAL / sample).read_text())
    assert (device.serial, device.state) == (serial, state)
    assert not device.addressable  # `-s "(no serial number)"` reaches nothing


@pytest.mark.parametrize(
    ("sample", "version"),
    [("dumpsys-versionname-null.txt", None), ("dumpsys-versionname-with-build.txt", "11.0.55")],
)
def test_real_dumpsys_version_names(sample: str, version: str | None) -> None:
    assert parse_version_name((REAL / sample).read_text()) == version


def test_device_without_serial_is_asked_without_s(bin_dir: Path) -> None:
    fake_tool(bin_dir, "adb", (REAL / "adb-devices-no-serial.txt").read_text(), DUMPSYS)
    assert asyncio.run(from_adb(PACKAGE)) == Installed("4.15.5", "adb")
    assert calls(bin_dir) == ["devices", f"shell dumpsys package {PACKAGE}"]


@pytest.mark.parametrize(
    ("listing", "reason"),
    [
        ("List of devices attached\nR58M12ABCDE\tunauthorized\n", "unauthorized"),
        ("List of devices attached\nR58M12ABCDE\toffline\n", "device_offline"),
    ],
)
def test_phone_not_ready_says_why(bin_dir: Path, listing: str, reason: str) -> None:
    fake_tool(bin_dir, "adb", listing, DUMPSYS)
    installed = asyncio.run(from_adb(PACKAGE))
    assert (installed.version, installed.reason) == (None, reason)
    assert calls(bin_dir) == ["devices"]


def fake_tool(bin_dir: Path, name: str, devices: str, dump: str, *, hang: str = "") -> Path:
    """A shell script standing in for adb/dumpsys; ``hang`` names the call that stalls."""
    (bin_dir / "devices.txt").write_text(devices)
    (bin_dir / "dump.txt").write_text(dump)
    script = bin_dir / name
    script.write_text(
        textwrap.dedent(
            f"""\
            #!/bin/sh
            echo "$@" >> "{bin_dir}/calls.log"
            case "$*" in
              *devices*) [ "{hang}" = devices ] && sleep 30; cat "{bin_dir}/devices.txt" ;;
              *) [ "{hang}" = dump ] && sleep 30; cat "{bin_dir}/dump.txt" ;;
            esac
            """
        )
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "bin"
    path.mkdir()
    # only the fake tools and the shell's own helpers: no real adb can be reached
    monkeypatch.setenv("PATH", f"{path}{os.pathsep}/usr/bin{os.pathsep}/bin")
    return path


def calls(bin_dir: Path) -> list[str]:
    log = bin_dir / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def test_one_device(bin_dir: Path) -> None:
    fake_tool(bin_dir, "adb", DEVICES_ONE, DUMPSYS)
    installed = asyncio.run(from_adb(PACKAGE))
    assert installed == Installed("4.15.5", "adb")
    assert calls(bin_dir) == ["devices", f"-s R58M12ABCDE shell dumpsys package {PACKAGE}"]


def test_no_device(bin_dir: Path) -> None:
    fake_tool(bin_dir, "adb", DEVICES_NONE, DUMPSYS)
    installed = asyncio.run(from_adb(PACKAGE))
    assert (installed.version, installed.reason) == (None, "no_device")
    assert calls(bin_dir) == ["devices"]


def test_two_devices_is_not_a_guess(bin_dir: Path) -> None:
    fake_tool(bin_dir, "adb", DEVICES_TWO, DUMPSYS)
    installed = asyncio.run(from_adb(PACKAGE))
    assert (installed.version, installed.reason) == (None, "many_devices")
    assert calls(bin_dir) == ["devices"]


def test_app_not_on_the_device(bin_dir: Path) -> None:
    fake_tool(bin_dir, "adb", DEVICES_ONE, "Unable to find package: com.bpjstku\n")
    installed = asyncio.run(from_adb(PACKAGE))
    assert (installed.version, installed.reason) == (None, "not_installed")


def test_adb_missing(bin_dir: Path) -> None:
    installed = asyncio.run(from_adb(PACKAGE))
    assert (installed.version, installed.reason) == (None, "adb_missing")


@pytest.mark.parametrize("stall", ["devices", "dump"])
def test_hanging_adb_is_killed_by_the_timeout(bin_dir: Path, stall: str) -> None:
    fake_tool(bin_dir, "adb", DEVICES_ONE, DUMPSYS, hang=stall)
    started = time.monotonic()
    installed = asyncio.run(from_adb(PACKAGE, timeout=0.5))
    assert time.monotonic() - started < 3.0
    assert (installed.version, installed.reason) == (None, "adb_timeout")


def test_timeout_kills_the_children_too(tmp_path: Path) -> None:
    marker = tmp_path / "survived"
    script = f"(sleep 1.5; touch {marker}) & wait"
    result = asyncio.run(run_command(["/bin/sh", "-c", script], 0.3))
    assert result.timed_out
    time.sleep(2.0)
    assert not marker.exists()


def test_exit_counts_even_when_a_forked_daemon_keeps_the_pipe(tmp_path: Path) -> None:
    # like adb starting its server: the command is done, a child still holds stdout
    result = asyncio.run(run_command(["/bin/sh", "-c", "echo ready; sleep 3 &"], 5.0))
    assert not result.timed_out
    assert result.output.strip() == "ready"


def test_runaway_output_is_capped(tmp_path: Path) -> None:
    result = asyncio.run(run_command(["/bin/sh", "-c", "yes 0123456789"], 10.0))
    assert 0 < len(result.output) <= 4_100_000


def test_missing_command() -> None:
    result = asyncio.run(run_command(["/nonexistent/adb"], 1.0))
    assert result.returncode is None and not result.timed_out


def test_on_device_read_usually_denied(bin_dir: Path) -> None:
    fake_tool(bin_dir, "dumpsys", "", "Permission Denial: can't dump PackageManager\n")
    installed = asyncio.run(from_device(PACKAGE))
    assert (installed.version, installed.reason) == (None, "denied")


def test_on_device_read_when_permitted(bin_dir: Path) -> None:
    fake_tool(bin_dir, "dumpsys", "", DUMPSYS)
    assert asyncio.run(from_device(PACKAGE)) == Installed("4.15.5", "device")


def test_on_device_read_that_hangs(bin_dir: Path) -> None:
    fake_tool(bin_dir, "dumpsys", "", DUMPSYS, hang="dump")
    started = time.monotonic()
    installed = asyncio.run(from_device(PACKAGE, timeout=0.4))
    assert time.monotonic() - started < 3.0
    assert installed.version is None


def test_discover_order(bin_dir: Path) -> None:
    fake_tool(bin_dir, "adb", DEVICES_ONE, DUMPSYS)

    def go(**kwargs: object) -> Installed:
        options: dict[str, object] = {"option": None, "platform": None, "termux": False}
        options.update(kwargs)
        return asyncio.run(discover(PACKAGE, timeout=3.0, **options))  # type: ignore[arg-type]

    assert go(option=" 4.0.3 ") == Installed("4.0.3", "option")
    assert go() == Installed("4.15.5", "adb")
    assert go(platform="ios").reason == "ios"
    assert go(termux=True).source in ("device", "none")  # no dumpsys here: unknown
    assert calls(bin_dir).count("devices") == 1  # adb only when nothing better
