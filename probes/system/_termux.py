"""Wi-Fi and cellular facts from termux-api, for the ``system`` probe.

The termux-api commands hang when the Termux:API app is not installed: they run through
the probes' command runner, with a timeout, both at once.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from probes._common.command import run_command
from probes._common.errors import error_text
from probes.system._parse import routable

TERMUX_WIFI = "termux-wifi-connectioninfo"
TERMUX_TELEPHONY = "termux-telephony-deviceinfo"
TERMUX_TIMEOUT_S = 2.0


def parse_termux_wifi(data: Mapping[str, Any]) -> dict[str, Any]:
    """The Wi-Fi facts worth reporting from ``termux-wifi-connectioninfo`` JSON.

    BSSID and MAC addresses are left out (they identify the device and the place); the
    SSID reads ``<unknown ssid>`` when Android withholds it for lack of location access.
    """
    wifi: dict[str, Any] = {}
    state = data.get("supplicant_state")
    if isinstance(state, str):
        wifi["state"] = state
    ssid = data.get("ssid")
    if isinstance(ssid, str) and ssid and ssid != "<unknown ssid>":
        wifi["ssid"] = ssid
    for key, out in (
        ("rssi", "rssi_dbm"),
        ("link_speed_mbps", "link_speed_mbps"),
        ("frequency_mhz", "frequency_mhz"),
    ):
        value = data.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            wifi[out] = value
    ip = data.get("ip")
    wifi["connected"] = state == "COMPLETED" and isinstance(ip, str) and ip not in ("", "0.0.0.0")
    rssi = wifi.get("rssi_dbm")
    if wifi["connected"] and isinstance(rssi, int | float):
        # Android's own bars: about -67 dBm and better is solid, below -80 dBm drops out.
        wifi["signal"] = "strong" if rssi >= -67 else "fair" if rssi >= -80 else "weak"
    return wifi


def parse_termux_telephony(data: Mapping[str, Any]) -> dict[str, Any]:
    """Cellular facts from ``termux-telephony-deviceinfo`` JSON (no device or SIM ids)."""
    cellular: dict[str, Any] = {}
    for key, out in (
        ("network_type", "network_type"),
        ("network_operator_name", "operator"),
        ("data_state", "data_state"),
        ("data_enabled", "data_enabled"),
        ("network_roaming", "roaming"),
        ("sim_state", "sim_state"),
    ):
        value = data.get(key)
        if isinstance(value, str | int | float | bool) and value != "":
            cellular[out] = value
    return cellular


@dataclass
class TermuxInfo:
    wifi: dict[str, Any] | None = None
    cellular: dict[str, Any] | None = None
    addresses: list[str] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)


async def _termux_json(command: str, info: TermuxInfo) -> Mapping[str, Any] | None:
    path = shutil.which(command)
    if path is None:
        return None
    result = await run_command([path], TERMUX_TIMEOUT_S)
    if result.timed_out:
        info.unavailable.append(
            f"{command} (no answer in {TERMUX_TIMEOUT_S:.0f} s: is the Termux:API app installed?)"
        )
        return None
    if result.start_error is not None:
        info.unavailable.append(f"{command} ({error_text(result.start_error, private=True)})")
        return None
    if result.returncode != 0:
        info.unavailable.append(f"{command} (exit status {result.returncode})")
        return None
    try:
        data = json.loads(result.output)
    except ValueError:
        info.unavailable.append(f"{command} (unreadable output)")
        return None
    if not isinstance(data, dict):
        info.unavailable.append(f"{command} (unexpected output)")
        return None
    return data


async def read_termux_api() -> TermuxInfo:
    """Wi-Fi and cellular facts from termux-api, both commands at once."""
    info = TermuxInfo()
    wifi, phone = await asyncio.gather(
        _termux_json(TERMUX_WIFI, info), _termux_json(TERMUX_TELEPHONY, info)
    )
    if wifi is not None:
        info.wifi = parse_termux_wifi(wifi)
        ip = wifi.get("ip")
        if isinstance(ip, str) and routable(ip):
            info.addresses.append(ip)
    if phone is not None:
        info.cellular = parse_termux_telephony(phone)
    return info
