"""Wi-Fi and cellular facts from termux-api, for the ``system`` probe.

The termux-api commands hang when the Termux:API app is not installed: they run through
the probes' command runner, with a timeout, all at once.

What the Termux:API app writes (termux/termux-api, ``WifiAPI.java``, ``TelephonyAPI.java``,
``TermuxApiPermissionActivity.java``) has traps that are handled here:

- a refused permission is not an exit status: the command prints
  ``{"error": "Please grant the following permission to use this command: …"}`` and
  exits 0; a failed call prints ``{"API_ERROR": "…"}``. Both become a :class:`Refusal`
  the report shows, never an empty answer;
- ``data_enabled`` is the *string* ``"true"``/``"false"``;
- Android's "no value" sentinels are numbers: −127 dBm (``WifiInfo.INVALID_RSSI``), −1
  Mbps and −1 MHz for a disconnected radio, ``Integer.MAX_VALUE`` for an unknown cell
  signal; they are dropped, never reported as measurements;
- the SSID reads ``<unknown ssid>`` without location permission: unknown, not a name;
- ``"ip"`` is written once per address of the link, so the JSON repeats the key.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from probes._common.command import run_command
from probes._common.errors import error_text
from probes.system._parse import routable

TERMUX_WIFI = "termux-wifi-connectioninfo"
TERMUX_TELEPHONY = "termux-telephony-deviceinfo"
TERMUX_CELLINFO = "termux-telephony-cellinfo"
TERMUX_TIMEOUT_S = 2.0

#: Values Android uses for "no value", per key (see the module docstring).
_INT_MAX = 2**31 - 1
NO_VALUE: Mapping[str, frozenset[float]] = {
    "rssi": frozenset({-127, _INT_MAX}),
    "link_speed_mbps": frozenset({-1}),
    "frequency_mhz": frozenset({-1, 0}),
    "dbm": frozenset({_INT_MAX, -_INT_MAX - 1}),
    "level": frozenset({_INT_MAX}),
}
UNKNOWN_SSID = "<unknown ssid>"
_PERMISSION = re.compile(r"android\.permission\.([A-Z_]+)")


@dataclass(frozen=True)
class Refusal:
    """A termux-api command that answered with an error instead of data."""

    command: str
    message: str
    permissions: tuple[str, ...] = ()  # e.g. ("ACCESS_FINE_LOCATION",)


def refusal_of(command: str, data: Any) -> Refusal | None:
    """The ``{"error": …}``/``{"API_ERROR": …}`` answer of ``command``, if it is one."""
    if not isinstance(data, Mapping):
        return None
    message = data.get("error", data.get("API_ERROR"))
    if message is None:
        return None
    text = str(message)
    return Refusal(command, text[:200], tuple(dict.fromkeys(_PERMISSION.findall(text))))


def _number(data: Mapping[str, Any], key: str) -> float | int | None:
    value = data.get(key)
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    return None if value in NO_VALUE.get(key, ()) else value


def _flag(value: Any) -> bool | None:
    """A boolean that termux-api writes as a bool or as the string "true"/"false"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def parse_termux_wifi(data: Mapping[str, Any]) -> dict[str, Any]:
    """The Wi-Fi facts worth reporting from ``termux-wifi-connectioninfo`` JSON.

    BSSID and MAC addresses are left out (they identify the device and the place).
    """
    wifi: dict[str, Any] = {}
    state = data.get("supplicant_state")
    if isinstance(state, str):
        wifi["state"] = state
    ssid = data.get("ssid")
    if isinstance(ssid, str) and ssid and ssid != UNKNOWN_SSID:
        wifi["ssid"] = ssid
    elif ssid == UNKNOWN_SSID:
        wifi["ssid_hidden_by_android"] = True  # no location permission
    for key, out in (
        ("rssi", "rssi_dbm"),
        ("link_speed_mbps", "link_speed_mbps"),
        ("frequency_mhz", "frequency_mhz"),
    ):
        value = _number(data, key)
        if value is not None:
            wifi[out] = value
    addresses = [a for a in _all_ips(data) if routable(a)]
    wifi["connected"] = state == "COMPLETED" and bool(addresses)
    rssi = wifi.get("rssi_dbm")
    if wifi["connected"] and isinstance(rssi, int | float):
        # Android's own bars: about -67 dBm and better is solid, below -80 dBm drops out.
        wifi["signal"] = "strong" if rssi >= -67 else "fair" if rssi >= -80 else "weak"
    return wifi


def _all_ips(data: Mapping[str, Any]) -> list[str]:
    found = data.get("ip")
    values = found if isinstance(found, list) else [found]
    return [v for v in values if isinstance(v, str) and v]


def parse_termux_telephony(data: Mapping[str, Any]) -> dict[str, Any]:
    """Cellular facts from ``termux-telephony-deviceinfo`` JSON (no device or SIM ids)."""
    cellular: dict[str, Any] = {}
    for key, out in (
        ("network_type", "network_type"),
        ("network_operator_name", "operator"),
        ("data_state", "data_state"),
        ("sim_state", "sim_state"),
    ):
        value = data.get(key)
        if isinstance(value, str | int | float) and not isinstance(value, bool) and value != "":
            cellular[out] = value
    for key, out in (("data_enabled", "data_enabled"), ("network_roaming", "roaming")):
        flag = _flag(data.get(key))
        if flag is not None:
            cellular[out] = flag
    return cellular


def parse_termux_cellinfo(data: Sequence[Any]) -> dict[str, Any]:
    """The registered cell's radio and signal from ``termux-telephony-cellinfo`` JSON
    (cell and tower ids are left out: they locate the phone)."""
    for cell in data:
        if isinstance(cell, Mapping) and _flag(cell.get("registered")):
            found: dict[str, Any] = {}
            if isinstance(cell.get("type"), str):
                found["radio"] = cell["type"]
            for key, out in (("dbm", "signal_dbm"), ("level", "signal_level")):
                value = _number(cell, key)
                if value is not None:
                    found[out] = value
            return found
    return {}


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose repeated keys (``"ip"``) keep every value, as a list."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            previous = out[key]
            out[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            out[key] = value
    return out


def load_answer(text: str) -> Any:
    """termux-api's JSON, keeping repeated keys; ValueError when it is not JSON."""
    return json.loads(text, object_pairs_hook=_pairs)


@dataclass
class TermuxInfo:
    wifi: dict[str, Any] | None = None
    cellular: dict[str, Any] | None = None
    addresses: list[str] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)


async def _termux_json(command: str, info: TermuxInfo) -> Any:
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
        data = load_answer(result.output)
    except ValueError:
        info.unavailable.append(f"{command} (unreadable output)")
        return None
    refusal = refusal_of(command, data)
    if refusal is not None:
        info.refusals.append(refusal)
        needs = ", ".join(refusal.permissions) or refusal.message
        info.unavailable.append(f"{command} (refused: {needs})")
        return None
    return data


async def read_termux_api() -> TermuxInfo:
    """Wi-Fi and cellular facts from termux-api, all commands at once."""
    info = TermuxInfo()
    wifi, phone, cells = await asyncio.gather(
        _termux_json(TERMUX_WIFI, info),
        _termux_json(TERMUX_TELEPHONY, info),
        _termux_json(TERMUX_CELLINFO, info),
    )
    if isinstance(wifi, Mapping):
        info.wifi = parse_termux_wifi(wifi)
        info.addresses += [a for a in _all_ips(wifi) if routable(a)]
    elif wifi is not None:
        info.unavailable.append(f"{TERMUX_WIFI} (unexpected output)")
    if isinstance(phone, Mapping):
        info.cellular = parse_termux_telephony(phone)
    elif phone is not None:
        info.unavailable.append(f"{TERMUX_TELEPHONY} (unexpected output)")
    if isinstance(cells, list):
        cell = parse_termux_cellinfo(cells)
        if cell:
            info.cellular = {**(info.cellular or {}), **cell}
    elif cells is not None:
        info.unavailable.append(f"{TERMUX_CELLINFO} (unexpected output)")
    return info
