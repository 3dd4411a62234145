"""Facts the runner reads from the first wave: cellular data from the system probe's
details (routes, interfaces, termux-api), and the bandwidth probe reading it."""

from __future__ import annotations

from typing import Any

import pytest

from jmo_doctor.api import Fact, ProbeResult, Status
from jmo_doctor.facts import facts_from, on_mobile_data


def _system(**details: Any) -> ProbeResult:
    return ProbeResult("system", Status.PASS, "", details=details)


@pytest.mark.parametrize(
    ("details", "mobile"),
    [
        ({"default_route": {"interfaces": ["rmnet_data0"]}}, True),
        ({"default_route": {"interfaces": ["ccmni1"]}}, True),
        ({"default_route": {"interfaces": ["rmnet_data0", "v4-rmnet_data0"]}}, True),
        ({"default_route": {"interfaces": ["wlan0"]}}, False),
        ({"default_route": {"interfaces": ["wlan0", "rmnet_data0"]}}, False),
        ({"default_route": {"interfaces": ["tun0"]}}, False),
        # Android denied the routes: the interfaces up tell
        ({"default_route": {"interfaces": []}, "interfaces_up": ["lo", "ccmni0"]}, True),
        ({"default_route": {"interfaces": []}, "interfaces_up": ["wlan0", "ccmni0"]}, False),
        # nothing but termux-api
        ({"cellular": {"data_state": "connected"}, "wifi": {"connected": False}}, True),
        ({"cellular": {"data_state": "connected"}, "wifi": {"connected": True}}, False),
        ({"cellular": {"data_state": "disconnected"}}, False),
        ({}, False),
        # hostile or odd details never raise
        ({"default_route": "rmnet0", "interfaces_up": "ccmni0", "cellular": []}, False),
    ],
)
def test_mobile_data_is_read_from_the_system_details(details: dict[str, Any], mobile: bool) -> None:
    assert on_mobile_data(details) is mobile
    assert (Fact.mobile_data() in facts_from([_system(**details)])) is mobile


def test_no_system_result_no_facts() -> None:
    assert facts_from([ProbeResult("dns", Status.PASS, "")]) == []
