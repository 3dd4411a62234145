"""Redaction (SPEC §7): no KPJ, device address, user, host name or secret in a report."""

from __future__ import annotations

import json

from jmo_doctor.report.redact import Redactor


def _scrub(doc: object, **kwargs: object) -> str:
    redactor = Redactor(
        kpj=kwargs.get("kpj"),  # type: ignore[arg-type]
        device_addresses=kwargs.get("addresses", ()),  # type: ignore[arg-type]
        environ=kwargs.get("environ", {}),  # type: ignore[arg-type]
        hostname=kwargs.get("hostname"),  # type: ignore[arg-type]
        username=kwargs.get("username"),  # type: ignore[arg-type]
        home="/home/siti",
    )
    return json.dumps(redactor.document(doc))


def test_kpj_keeps_only_its_last_three_digits_in_any_spelling() -> None:
    doc = {"a": "KPJ 1234-5678-901", "b": ["12345678901"], "c": {"d": "1234 5678 901 ok"}}
    out = _scrub(doc, kpj="1234-5678-901")
    assert "12345678901" not in out
    assert "1234-5678-901" not in out
    assert "1234 5678 901" not in out
    assert out.count("********901") == 3


def test_device_addresses_are_scrubbed_but_server_addresses_stay() -> None:
    doc = {
        "details": {"addresses": ["192.168.1.23", "fe80::1c2b%wlan0"]},
        "msg": "from 192.168.1.23 to 192.168.1.230 and 36.86.63.185",
    }
    out = _scrub(doc, addresses=["192.168.1.23", "fe80::1c2b%wlan0"])
    assert '192.168.1.23"' not in out and "192.168.1.23 " not in out
    assert "192.168.1.230" in out  # a different address that merely starts alike
    assert "36.86.63.185" in out  # a block-page server address is evidence, not personal
    assert "fe80::1c2b" not in out


def test_user_host_home_and_secrets() -> None:
    doc = {
        "env": "proxy http://siti:hunter22@proxy.corp:8080 on laptop-siti as siti",
        "path": "/home/siti/.config/jmo-doctor/config.toml",
        "token": "abc123secretvalue",
    }
    out = _scrub(
        doc, hostname="laptop-siti", username="siti", environ={"GITHUB_TOKEN": "abc123secretvalue"}
    )
    for leaked in ("hunter22", "laptop-siti", "/home/siti", "abc123secretvalue", " siti"):
        assert leaked not in out, leaked
    assert "~/.config/jmo-doctor" in out
