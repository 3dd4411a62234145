"""The phone's own OS version, and whether the store's current JMO still installs on it.

In order: ``--os-version`` (a laptop checking someone's phone, or an iPhone, which cannot be
read from here); on Termux, ``getprop`` on the phone itself; else ``adb shell getprop`` on
the one ready phone. Android is compared by SDK level when both sides have one (the level
is what Play enforces; "7.1.2" and "7.1" are the same level), else by release number.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass

from probes._common.command import run_command
from probes.store._installed import AdbDevice, adb_shell, choose_device, parse_adb_devices
from probes.store._versions import compare, os_version_text, parse_version

GETPROP_TIMEOUT_S = 3.0
RELEASE_PROP, SDK_PROP = "ro.build.version.release", "ro.build.version.sdk"
SYSTEM_BIN = "/system/bin"
#: "Android 7.1", "iOS 16.4": the platform word in front of the number is dropped.
_PLATFORM_WORD = re.compile(r"^\s*(?:android|ios|ipados)\s+", re.IGNORECASE)


@dataclass(frozen=True)
class DeviceOS:
    release: str | None  # "7.1.2", "16.4"
    sdk: int | None  # Android API level, when known
    source: str  # "option" | "device" | "adb" | "none"


UNKNOWN = DeviceOS(None, None, "none")


def clean_release(text: str | None) -> str | None:
    """The version in what a user or getprop wrote; None when there is none."""
    if text is None:
        return None
    return os_version_text(_PLATFORM_WORD.sub("", text.strip()))


def parse_sdk(text: str | None) -> int | None:
    value = (text or "").strip()
    return int(value) if value.isdigit() and len(value) <= 4 and 1 <= int(value) <= 1000 else None


async def _getprop(getprop: list[str], timeout: float) -> DeviceOS | None:
    """Both properties through ``getprop`` (the command, or ``adb shell getprop``)."""
    release = await run_command([*getprop, RELEASE_PROP], timeout)
    sdk = await run_command([*getprop, SDK_PROP], timeout)
    found = DeviceOS(clean_release(release.output), parse_sdk(sdk.output), "")
    return found if found.release or found.sdk else None


async def discover_os(
    *, option: str | None, platform: str | None, termux: bool, timeout: float
) -> DeviceOS:
    if option and option.strip():
        return DeviceOS(clean_release(option), None, "option")
    if platform == "ios":
        return UNKNOWN
    limit = min(timeout, GETPROP_TIMEOUT_S)
    if termux:
        # termux-tools puts a getprop wrapper on PATH; Android's own is in /system/bin
        getprop = shutil.which("getprop") or shutil.which("getprop", path=SYSTEM_BIN)
        found = await _getprop([getprop], limit) if getprop else None
        return DeviceOS(found.release, found.sdk, "device") if found else UNKNOWN
    adb = shutil.which("adb")
    if adb is None:
        return UNKNOWN
    listing = await run_command([adb, "devices"], limit)
    device = choose_device(parse_adb_devices(listing.output))
    if not isinstance(device, AdbDevice):
        return UNKNOWN
    found = await _getprop([*adb_shell(adb, device), "getprop"], limit)
    return DeviceOS(found.release, found.sdk, "adb") if found else UNKNOWN


def is_too_old(device: DeviceOS, min_release: str | None, min_sdk: int | None) -> bool | None:
    """True when the device's OS is older than the listing's minimum; None when either side
    is unknown (then nothing is said)."""
    if device.sdk is not None and min_sdk is not None:
        return device.sdk < min_sdk
    have, need = parse_version(device.release), parse_version(min_release)
    if have is None or need is None:
        return None
    return compare(have, need) < 0
