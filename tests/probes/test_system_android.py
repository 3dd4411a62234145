"""The ``system`` probe on a real phone's data: route dumps with netd's ``dummy0`` and the
CLAT, Android interface names, termux-api answers (refusals, string booleans, "no value"
sentinels), and the kernel's own route choice (source address, "network unreachable")
that is left when Android hides the interface list. The samples and their origins are in
tests/fixtures/android/ (SOURCES.md)."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import socket
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from jmo_doctor.api import ProbeResult, Status
from probes.system import SystemProbe, _paths, _scan, _termux
from probes.system import probe as system_probe
from probes.system._parse import classify_vpn, interface_kind, parse_ip_route
from probes.system._paths import BPJS, REFERENCE, RESOLVER, Destination, Way
from probes.system._termux import (
    load_answer,
    parse_termux_cellinfo,
    parse_termux_telephony,
    parse_termux_wifi,
    refusal_of,
)
from tests.helpers import make_context
from tests.netns import empty_namespace

FIXTURES = Path(__file__).parent.parent / "fixtures" / "android"
ROOT = Path(__file__).parent.parent.parent


def sample(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


# --- routes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "ways_out"),
    [
        # netd's dummy0 default routes (v4 and v6) are no way out; eth0's are
        ("ip-route-table0-headunit.txt", ["eth0"]),
        ("ip-route-wifi-and-dead-vpn.txt", ["wlan0"]),
        # only "unreachable default dev lo": a phone with nothing connected
        ("ip-route-wifi-off-no-data.txt", []),
        ("ip-route-mobile-data.txt", ["rmnet_data0"]),
        # IPv6-only mobile data: IPv4 leaves through the CLAT, a real path
        ("ip-route-clat-v6-only-mobile.txt", ["v4-rmnet_data0"]),
    ],
)
def test_android_route_dumps(name: str, ways_out: list[str]) -> None:
    assert parse_ip_route(sample(name)) == ways_out


def test_dummy0_alone_is_no_default_route() -> None:
    # the head unit with its network gone: what is left is netd's plumbing
    left = [
        line
        for line in sample("ip-route-table0-headunit.txt").splitlines()
        if not any(dev in line for dev in ("eth0", "docker0", "br-lan"))
    ]
    assert any(line.startswith("default dev dummy0") for line in left)
    assert parse_ip_route("\n".join(left)) == []


# --- interface names -------------------------------------------------------------------


def _names() -> list[tuple[str, str]]:
    rows = []
    for line in sample("interface-names.txt").splitlines():
        if line.strip() and not line.startswith("#"):
            name, kind = line.split()[:2]
            rows.append((name, kind))
    return rows


def test_interface_kinds_of_real_names() -> None:
    kinds = {n: interface_kind(n, android=True) for n, _ in _names()}
    assert kinds == dict(_names())


def test_only_vpns_count_as_vpn_even_when_point_to_point() -> None:
    names = [n for n, _ in _names()]
    # cellular data, CLAT and VoWiFi interfaces are point-to-point too
    found = classify_vpn(names, point_to_point=set(names), android=True)
    # a point-to-point interface of no known kind may be a VPN client's; known kinds never
    assert found == [n for n, k in _names() if k in ("vpn", "other")]
    assert not {"v4-rmnet_data0", "ipsec250", "epdg0", "rmnet_data0", "ccmni0"} & set(found)
    # off Android, ipsec0 is a (legacy KLIPS) IPsec VPN
    assert classify_vpn(["ipsec0"]) == ["ipsec0"]
    assert classify_vpn(["ipsec0"], android=True) == []


# --- termux-api ------------------------------------------------------------------------


def test_wifi_connected() -> None:
    wifi = parse_termux_wifi(load_answer(sample("termux-wifi-connected.json")))
    assert wifi == {
        "state": "COMPLETED",
        "ssid": "YOURSSID",
        "rssi_dbm": -60,
        "link_speed_mbps": 58,
        "frequency_mhz": 2447,
        "connected": True,
        "signal": "strong",
    }


def test_wifi_disconnected_sentinels_are_no_values() -> None:
    wifi = parse_termux_wifi(load_answer(sample("termux-wifi-disconnected.json")))
    assert wifi == {"state": "DISCONNECTED", "ssid_hidden_by_android": True, "connected": False}


def test_every_ip_of_a_repeated_key_is_kept() -> None:
    # WifiAPI.java writes "ip" once per address of the link
    text = (
        '{"ip": "fe80::1", "ip": "2001:db8::5", "ip": "192.168.1.9", '
        '"supplicant_state": "COMPLETED"}'
    )
    data = load_answer(text)
    assert data["ip"] == ["fe80::1", "2001:db8::5", "192.168.1.9"]
    assert parse_termux_wifi(data)["connected"] is True


@pytest.mark.parametrize(
    ("name", "permissions"),
    [
        ("termux-wifi-permission-error.json", ("ACCESS_COARSE_LOCATION",)),
        ("termux-wifi-api-error.json", ()),
    ],
)
def test_refusals_are_recognised(name: str, permissions: tuple[str, ...]) -> None:
    refusal = refusal_of("termux-wifi-connectioninfo", load_answer(sample(name)))
    assert refusal is not None
    assert refusal.permissions == permissions
    assert refusal.message
    assert refusal_of("x", load_answer(sample("termux-wifi-connected.json"))) is None


def test_telephony_string_booleans() -> None:
    xl = parse_termux_telephony(load_answer(sample("termux-telephony-deviceinfo-xl.json")))
    assert xl == {
        "network_type": "lte",
        "operator": "XL Axiata",
        "data_state": "connected",
        "sim_state": "ready",
        "data_enabled": True,
        "roaming": False,
    }
    off = parse_termux_telephony(load_answer(sample("termux-telephony-deviceinfo-data-off.json")))
    assert off["data_enabled"] is False  # the string "false" is not truthy here
    assert off["data_state"] == "disconnected"


def test_cellinfo_keeps_the_signal_not_the_tower() -> None:
    cell = parse_termux_cellinfo(load_answer(sample("termux-telephony-cellinfo-wcdma.json")))
    assert cell == {"radio": "wcdma", "signal_dbm": -24, "signal_level": 3}
    unknown = [{"type": "lte", "registered": True, "dbm": 2**31 - 1, "level": 2}]
    assert parse_termux_cellinfo(unknown) == {"radio": "lte", "signal_level": 2}
    assert parse_termux_cellinfo([{"type": "lte", "registered": False, "dbm": -90}]) == {}


# --- the kernel's choice of route --------------------------------------------------------

REF = Destination("ref", REFERENCE, "198.51.100.10", 443)
BPJS_V4 = Destination("bpjs-www", BPJS, "203.0.113.20", 443)
BPJS_V6 = Destination("bpjs-www", BPJS, "2001:db8:20::1", 443)
REF_V6 = Destination("ref", REFERENCE, "2001:db8:10::1", 443)
DNS = Destination("8.8.8.8", RESOLVER, "192.0.2.53", 53)


def test_nowhere_to_go_needs_every_destination_unreachable() -> None:
    dead = [Way(d, None, errno.ENETUNREACH) for d in (REF, BPJS_V4, DNS)]
    assert _paths.nowhere_to_go(dead)
    assert not _paths.nowhere_to_go([])
    assert not _paths.nowhere_to_go([*dead[:2], Way(DNS, "10.0.0.2")])
    # a refusal of another kind (a firewall's EPERM) says nothing about the link
    assert not _paths.nowhere_to_go([*dead[:2], Way(DNS, None, errno.EPERM)])


def test_split_tunnel_compares_within_a_family() -> None:
    same = [Way(REF, "10.0.0.2"), Way(BPJS_V4, "10.0.0.2")]
    assert _paths.split_tunnel(same) is None
    split = _paths.split_tunnel([Way(REF, "10.0.0.2"), Way(BPJS_V4, "10.99.0.2")])
    assert split is not None
    assert (split.bpjs_targets, split.reference_targets, split.family) == (
        ["bpjs-www"],
        ["ref"],
        "ipv4",
    )
    # IPv6 privacy addresses differ per connection on one link: the /64 is the way out
    v6 = [Way(REF_V6, "2001:db8:1::aaaa"), Way(BPJS_V6, "2001:db8:1::bbbb")]
    assert _paths.split_tunnel(v6) is None
    # without a reference host in the family there is nothing to compare with
    assert _paths.split_tunnel([Way(REF_V6, "2001:db8:1::a"), Way(BPJS_V4, "10.0.0.2")]) is None


def test_description_numbers_ways_and_shows_no_address() -> None:
    ways = [Way(REF, "10.0.0.2"), Way(BPJS_V4, "10.99.0.2"), Way(DNS, None, errno.ENETUNREACH)]
    described = _paths.describe(ways)
    assert [d.get("way_out") for d in described] == [1, 2, None]
    assert described[2]["error"] == "ENETUNREACH"
    assert "10.0.0.2" not in json.dumps(described)


def test_the_kernel_answers_for_loopback() -> None:
    # a UDP connect to loopback: allowed by the suite's guard, nothing is sent
    assert _paths.kernel_source("127.0.0.1", 9) == ("127.0.0.1", None)


_TRACE_IN_NAMESPACE = """
import json, sys
from probes.system import _paths
print(json.dumps([_paths.kernel_source(a, 443) for a in sys.argv[1:]]))
"""


def test_an_empty_namespace_is_network_unreachable() -> None:
    """The real kernel, in a namespace with only loopback: ENETUNREACH for both families."""
    with empty_namespace() as namespace:
        done = subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                namespace,
                sys.executable,
                "-c",
                _TRACE_IN_NAMESPACE,
                "192.0.2.1",
                "2001:db8::1",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=ROOT,
            check=True,
        )
    answers = json.loads(done.stdout)
    assert [tuple(a) for a in answers] == [(None, errno.ENETUNREACH)] * 2


# --- whole runs --------------------------------------------------------------------------

LITERAL_TARGETS = """
[dns]
trusted_resolvers = ["192.0.2.53"]
doh = []
[[target]]
name = "bpjs-www"
host = "203.0.113.20"
port = 443
role = "bpjs"
[[target]]
name = "ref"
host = "198.51.100.10"
port = 443
role = "reference"
"""


@pytest.fixture
def android_without_lists(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Android 10+ as an app sees it: no psutil, no interface list, no /proc/net, no
    /sys/class/net, ``ip`` refused; Termux's environment; a PATH of our own."""
    monkeypatch.setitem(sys.modules, "psutil", None)

    def denied() -> list[tuple[int, str]]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("socket.if_nameindex", denied)
    monkeypatch.setattr(_scan, "SYS_CLASS_NET", tmp_path / "no-sys")
    monkeypatch.setattr(_scan, "PROC_NET", tmp_path / "no-proc")
    monkeypatch.setattr(_scan, "_find_ip", lambda: None)
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TERMUX_VERSION", "0.118.3")
    monkeypatch.setenv("PREFIX", "/data/data/com.termux/files/usr")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin:/bin")
    yield bin_dir


def kernel_says(
    monkeypatch: pytest.MonkeyPatch, answer: Callable[[str], tuple[str | None, int | None]]
) -> None:
    """What the kernel answers per address: the literal targets of LITERAL_TARGETS are
    documentation addresses, so they are never really asked (see the namespace test for
    the real kernel)."""
    monkeypatch.setattr(_paths, "kernel_source", lambda address, port: answer(address))


def run(lang: str = "en") -> ProbeResult:
    ctx = make_context(LITERAL_TARGETS, probe=SystemProbe, lang=lang)
    return asyncio.run(SystemProbe().run(ctx))


def test_every_connect_unreachable_is_offline(
    monkeypatch: pytest.MonkeyPatch, android_without_lists: Path
) -> None:
    kernel_says(monkeypatch, lambda address: (None, errno.ENETUNREACH))
    result = run("id")
    offline = [f for f in result.findings if f.code == "system.offline"]
    assert offline and offline[0].data["reason"] == "no_path"
    assert "network unreachable" in offline[0].message
    assert result.status is Status.FAIL
    assert result.metrics["paths_tried"] == 3 and result.metrics["paths_routed"] == 0
    assert result.details["platform"] == "android-termux"


def test_routed_but_unreadable_is_a_pass_not_a_skip(
    monkeypatch: pytest.MonkeyPatch, android_without_lists: Path
) -> None:
    kernel_says(monkeypatch, lambda address: ("10.20.30.40", None))
    result = run()
    assert result.status is Status.PASS, result
    assert not result.findings
    assert "route to 3/3 addresses" in result.summary
    assert "10.20.30.40" not in json.dumps(result.details)


def test_bpjs_leaving_by_another_address_is_a_split_tunnel(
    monkeypatch: pytest.MonkeyPatch, android_without_lists: Path
) -> None:
    kernel_says(
        monkeypatch,
        lambda address: ("10.99.0.2" if address == "203.0.113.20" else "10.20.30.40", None),
    )
    result = run()
    [vpn] = [f for f in result.findings if f.code == "system.vpn"]
    assert vpn.data["reason"] == "split_tunnel"
    assert vpn.data["bpjs_targets"] == ["bpjs-www"]
    assert vpn.data["reference_targets"] == ["ref"]
    assert "split tunnel" in vpn.message
    assert result.status is Status.WARN


def _script(bin_dir: Path, name: str, fixture: str) -> None:
    path = bin_dir / name
    path.write_text(f'#!/bin/sh\ncat "{FIXTURES / fixture}"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_termux_api_refusal_is_shown_in_both_languages(
    monkeypatch: pytest.MonkeyPatch, android_without_lists: Path
) -> None:
    kernel_says(monkeypatch, lambda address: ("10.20.30.40", None))
    _script(android_without_lists, _termux.TERMUX_WIFI, "termux-wifi-permission-error.json")
    _script(android_without_lists, _termux.TERMUX_TELEPHONY, "termux-telephony-deviceinfo-xl.json")
    _script(android_without_lists, _termux.TERMUX_CELLINFO, "termux-telephony-cellinfo-wcdma.json")
    result = run("id")
    [note] = result.details["termux_api_refused"]
    assert "ACCESS_COARSE_LOCATION" in note and "Setelan Android" in note
    assert (
        f"{_termux.TERMUX_WIFI} (refused: ACCESS_COARSE_LOCATION)"
        in (result.details["unavailable"])
    )
    assert "wifi" not in result.details
    assert result.details["cellular"]["data_enabled"] is True
    assert result.details["cellular"]["radio"] == "wcdma"
    assert "Setelan Android > Aplikasi > Termux:API > Izin" in result.summary
    english = run("en")
    assert "grant it in Android Settings" in english.details["termux_api_refused"][0]
    assert english.summary.endswith("Termux:API > Permissions.")


def test_destinations_are_the_resolvers_and_the_targets() -> None:
    ctx = make_context(LITERAL_TARGETS, probe=SystemProbe)
    found = asyncio.run(system_probe.destinations(ctx))
    assert [(d.label, d.role, d.address, d.port) for d in found] == [
        ("192.0.2.53", RESOLVER, "192.0.2.53", 53),
        ("bpjs-www", BPJS, "203.0.113.20", 443),
        ("ref", REFERENCE, "198.51.100.10", 443),
    ]


#: psutil's view of a phone that still allows it (older Android, adb shell): mobile data
#: over IPv6 with the CLAT, a VoWiFi tunnel, Wi-Fi Direct and netd's dummy0 all up.
PHONE_UP: dict[str, tuple[str, tuple[str, ...]]] = {
    "rmnet_data0": ("up,pointopoint,running,noarp", ("2001:db8:5:1::2a",)),
    "v4-rmnet_data0": ("up,pointopoint,running,noarp", ("192.0.0.4",)),
    "epdg0": ("up,pointopoint,running,noarp", ("2001:db8:ff::7",)),
    "ipsec1": ("up,pointopoint,running,noarp", ("10.58.0.9",)),
    "p2p0": ("up,broadcast,running,multicast", ()),
    "dummy0": ("up,broadcast,running,noarp", ()),
}


class _PhonePsutil:
    """Answers as psutil does on that phone; Wi-Fi is off."""

    def net_if_stats(self) -> dict[str, object]:
        stats: dict[str, object] = {
            name: SimpleNamespace(isup=True, flags=flags) for name, (flags, _) in PHONE_UP.items()
        }
        stats["wlan0"] = SimpleNamespace(isup=False, flags="broadcast,multicast")
        return stats

    def net_if_addrs(self) -> dict[str, list[object]]:
        return {
            name: [
                SimpleNamespace(family=socket.AF_INET6 if ":" in a else socket.AF_INET, address=a)
                for a in found
            ]
            for name, (_, found) in PHONE_UP.items()
        }


def test_phone_plumbing_is_no_vpn(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(_scan, "_load_psutil", _PhonePsutil)
    monkeypatch.setattr(_scan, "_find_ip", lambda: None)
    monkeypatch.setattr(_scan, "PROC_NET", tmp_path / "no-proc")
    monkeypatch.setenv("TERMUX_VERSION", "0.118.3")
    monkeypatch.setenv("PATH", str(tmp_path))  # no termux-api
    kernel_says(monkeypatch, lambda address: ("192.0.0.4", None))
    result = run()
    assert [f.code for f in result.findings] == [], result.findings
    assert result.status is Status.PASS
    kinds = {i["name"]: i["kind"] for i in result.details["interfaces"]}
    assert kinds == {
        "rmnet_data0": "mobile",
        "v4-rmnet_data0": "clat",
        "epdg0": "vowifi",
        "ipsec1": "vowifi",
        "p2p0": "ignored",
        "dummy0": "blackhole",
        "wlan0": "wifi",
    }
    assert result.details["vpn_interfaces"] == []
