"""Which JMO version is installed: from the user, from a phone over adb, or on the phone.

In order: ``--app-version`` / ``app.installed_version`` (already merged into the run
options by the CLI); ``adb`` when it is on PATH and exactly one device is attached (two
devices would be a guess); on Termux, the package manager's own dump, which Android
usually refuses to an app — then the version is simply unknown. Every command has a short
timeout, and is killed with its children when it passes (``probes._common.command``): a
wedged adb server must not hold up the run.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass

from probes._common.command import run_command

ADB_TIMEOUT_S = 4.0
DEVICE_TIMEOUT_S = 3.0
_VERSION_NAME = re.compile(r"^\s*versionName=(\S{1,64})\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Installed:
    version: str | None
    source: str  # "option" | "adb" | "device" | "none"
    #: why unknown: "adb_missing" | "adb_timeout" | "no_device" | "many_devices" |
    #: "not_installed" | "denied" | "ios" — stable, the probe words it in both languages
    reason: str = ""
    detail: str = ""  # the same in English, with the specifics


def parse_version_name(dump: str) -> str | None:
    """``versionName=`` of ``dumpsys package PKG``: the first one is the installed package
    (an updated system app lists its factory version after it)."""
    match = _VERSION_NAME.search(dump)
    return match.group(1) if match else None


def parse_adb_devices(listing: str) -> list[str]:
    """Serials that ``adb devices`` lists as ready (not ``unauthorized`` or ``offline``)."""
    serials = []
    for line in listing.splitlines():
        line = line.strip()
        if not line or line.startswith(("*", "List of devices")):
            continue
        parts = line.split()
        if len(parts) >= 2 and parts[1] == "device":
            serials.append(parts[0])
    return serials


async def from_adb(package: str, timeout: float = ADB_TIMEOUT_S) -> Installed:
    adb = shutil.which("adb")
    if adb is None:
        return Installed(None, "none", "adb_missing", "adb is not on PATH")
    listing = await run_command([adb, "devices"], timeout)
    if listing.timed_out:
        return Installed(None, "none", "adb_timeout", "adb devices did not answer in time")
    devices = parse_adb_devices(listing.output)
    if not devices:
        return Installed(None, "none", "no_device", "adb lists no ready device")
    if len(devices) > 1:
        return Installed(None, "none", "many_devices", f"adb lists {len(devices)} devices")
    dump = await run_command(
        [adb, "-s", devices[0], "shell", "dumpsys", "package", package], timeout
    )
    if dump.timed_out:
        return Installed(None, "none", "adb_timeout", "adb shell did not answer in time")
    version = parse_version_name(dump.output)
    if version is None:
        return Installed(None, "none", "not_installed", f"{package} is not on the device")
    return Installed(version, "adb")


async def from_device(package: str, timeout: float = DEVICE_TIMEOUT_S) -> Installed:
    """On the phone itself (Termux): ``dumpsys``/``pm dump``, usually denied to apps."""
    for argv in (["dumpsys", "package", package], ["pm", "dump", package]):
        path = shutil.which(argv[0])
        if path is None:
            continue
        result = await run_command([path, *argv[1:]], timeout)
        version = parse_version_name(result.output)
        if version is not None:
            return Installed(version, "device")
    return Installed(None, "none", "denied", "dumpsys/pm refused or missing")


async def discover(
    package: str,
    *,
    option: str | None,
    platform: str | None,
    termux: bool,
    timeout: float,
) -> Installed:
    if option and option.strip():
        return Installed(option.strip(), "option")
    if platform == "ios":
        return Installed(None, "none", "ios", "an iPhone's apps cannot be read from here")
    if termux:
        return await from_device(package, min(timeout, DEVICE_TIMEOUT_S))
    return await from_adb(package, min(timeout, ADB_TIMEOUT_S))
