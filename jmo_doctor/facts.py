"""Facts the runner reads from the first wave's results and publishes for the slow
probes (``ctx.known``): the probes themselves stay independent of one another.

- **Mobile data** (:meth:`Fact.mobile_data`): the system probe's default route leaves
  through a cellular interface (``rmnet*`` on Qualcomm phones, ``ccmni*`` on MediaTek,
  and the other names Android gives cellular data), or, where Android hides the routes,
  every interface up is one of those; or termux-api says the cellular data is connected
  while Wi-Fi is not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from jmo_doctor.api import Fact, ProbeResult

#: Interface names Android gives cellular data (not VPNs, not Wi-Fi).
MOBILE_INTERFACE_PREFIXES = ("rmnet", "rev_rmnet", "ccmni", "pdp", "wwan", "seth")
#: Never a way out on their own: loopback, and the 464xlat tunnel riding on cellular.
_BESIDE = ("lo", "v4-", "clat", "dummy")


def _names(value: Any) -> list[str]:
    return [str(n) for n in value] if isinstance(value, list | tuple) else []


def _all_mobile(names: Iterable[str]) -> bool:
    found = [n for n in names if not n.startswith(_BESIDE)]
    return bool(found) and all(n.startswith(MOBILE_INTERFACE_PREFIXES) for n in found)


def on_mobile_data(system: Mapping[str, Any]) -> bool:
    """Whether the system probe's ``details`` say the device is on cellular data."""
    route = system.get("default_route")
    routed = _names(route.get("interfaces")) if isinstance(route, Mapping) else []
    if routed:
        return _all_mobile(routed)
    if _all_mobile(_names(system.get("interfaces_up"))):
        return True
    cellular, wifi = system.get("cellular"), system.get("wifi")
    data_on = isinstance(cellular, Mapping) and cellular.get("data_state") == "connected"
    wifi_off = not (isinstance(wifi, Mapping) and wifi.get("connected"))
    return data_on and wifi_off


def facts_from(results: Sequence[ProbeResult]) -> list[Fact]:
    """The facts the finished ``results`` establish."""
    facts: list[Fact] = []
    system = next((r for r in results if r.id == "system"), None)
    if system is not None and on_mobile_data(system.details):
        facts.append(Fact.mobile_data())
    return facts
