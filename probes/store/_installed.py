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
#: The whole value: versionNames may carry a build note after a space (``11.0.55
#: (448-156917137)``, Google Play services); the version is the part before it.
_VERSION_NAME = re.compile(r"^[ \t]*versionName=([^\r\n]{1,120})$", re.MULTILINE)
#: adb's own states besides "device" (a serial may contain spaces: "(no serial number)").
NOT_READY = ("unauthorized", "offline", "no permissions", "authorizing", "connecting")


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
    (an updated system app lists its factory version after it). ``versionName=null`` (an
    app built without one) is no version, not the word "null"."""
    match = _VERSION_NAME.search(dump)
    if match is None:
        return None
    value = match.group(1).strip()
    first = value.split()[0] if value else ""
    return None if first in ("", "null") else first[:64]


@dataclass(frozen=True)
class AdbDevice:
    serial: str
    state: str  # "device" when ready; else adb's word ("unauthorized", "offline", …)

    @property
    def ready(self) -> bool:
        return self.state == "device"

    @property
    def addressable(self) -> bool:
        """Whether ``-s serial`` reaches it: adb prints "(no serial number)" for a device
        whose USB serial is empty, and ``-s`` cannot name that one."""
        return bool(self.serial) and not self.serial.startswith("(")


def parse_adb_devices(listing: str) -> list[AdbDevice]:
    """Every device ``adb devices`` lists, ready or not. The serial and the state are
    separated by a tab; both may contain spaces ("(no serial number)", "no permissions
    (user … is not in the plugdev group)")."""
    devices = []
    for raw in listing.splitlines():
        line = raw.strip()
        if not line or line.startswith(("*", "List of devices", "adb server")):
            continue
        if "\t" in line:
            serial, _, state = line.partition("\t")
        else:  # spaces only (copied output, `adb devices -l`): the state is a known word
            serial, state = _split_on_state(line)
        state = state.strip()
        # adb's state is one word, but for "no permissions"; `-l` appends "usb:… model:…"
        word = state.split(" (")[0].split()
        kept = word[:2] if word[:1] == ["no"] else word[:1]
        devices.append(AdbDevice(serial.strip(), " ".join(kept)))
    return devices


def _split_on_state(line: str) -> tuple[str, str]:
    for state in ("device", *NOT_READY):
        at = line.find(f" {state}")
        while at >= 0:
            after = line[at + 1 + len(state) : at + 2 + len(state)]
            if after in ("", " "):
                return line[:at], line[at + 1 :]
            at = line.find(f" {state}", at + 1)
    serial, _, rest = line.partition(" ")
    return serial, rest


async def from_adb(package: str, timeout: float = ADB_TIMEOUT_S) -> Installed:
    adb = shutil.which("adb")
    if adb is None:
        return Installed(None, "none", "adb_missing", "adb is not on PATH")
    listing = await run_command([adb, "devices"], timeout)
    if listing.timed_out:
        return Installed(None, "none", "adb_timeout", "adb devices did not answer in time")
    device = choose_device(parse_adb_devices(listing.output))
    if isinstance(device, Installed):
        return device
    dump = await run_command([*adb_shell(adb, device), "dumpsys", "package", package], timeout)
    if dump.timed_out:
        return Installed(None, "none", "adb_timeout", "adb shell did not answer in time")
    version = parse_version_name(dump.output)
    if version is None:
        return Installed(None, "none", "not_installed", f"{package} is not on the device")
    return Installed(version, "adb")


def choose_device(devices: list[AdbDevice]) -> AdbDevice | Installed:
    """The one ready device, or why there is none to ask (as an unknown :class:`Installed`)."""
    ready = [d for d in devices if d.ready]
    if len(ready) > 1:
        return Installed(None, "none", "many_devices", f"adb lists {len(ready)} devices")
    if ready:
        return ready[0]
    waiting = [d for d in devices if d.state in ("unauthorized", "authorizing")]
    if waiting:
        return Installed(None, "none", "unauthorized", "the phone has not allowed USB debugging")
    if devices:
        states = ", ".join(sorted({d.state or "?" for d in devices}))
        return Installed(None, "none", "device_offline", f"adb lists the phone as {states}")
    return Installed(None, "none", "no_device", "adb lists no ready device")


def adb_shell(adb: str, device: AdbDevice) -> list[str]:
    """``adb [-s SERIAL] shell``: without ``-s`` when the serial cannot name the device
    (it is then the only ready one, and adb picks it)."""
    return [adb, "-s", device.serial, "shell"] if device.addressable else [adb, "shell"]


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
