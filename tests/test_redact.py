"""Redaction (SPEC §7): no KPJ, device address, user, host name or secret in a report."""

from __future__ import annotations

import json

import pytest

from jmo_doctor.report.redact import Redactor, looks_like_secret


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


@pytest.mark.parametrize(
    ("value", "secret"),
    [
        ("abc123secretvalue", True),
        ("hunter22!", True),
        ("ghp_16C7e42F292c6912E7710c838347Ae178B4a", True),
        ("correct horse battery", True),  # a passphrase: letters and spaces
        ("hunter2", False),  # 7 characters: a word's length
        ("critical", False),
        ("google", False),
        ("true", False),
        ("1", False),
        ("1700000000", False),  # digits only: a number
        ("bpjsketenagakerjaan", False),  # letters only: a word
        ("my_app-name.v", False),  # joined words
        ("/usr/bin", False),
        ("/tmp/ssh-kq3Lx9/agent.1234", False),  # SSH_AUTH_SOCK: a path
        ("~/.config/key.json", False),
    ],
)
def test_what_counts_as_a_secret(value: str, secret: bool) -> None:
    assert looks_like_secret(value) is secret


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("from 192.168.1.23:54321", "from <ip>:54321"),  # with a port
        ("mapped ::ffff:192.168.1.23.", "mapped ::ffff:<ip>."),
        ("via [fe80::1c2b]:8080", "via [<ip>]:8080"),
        ("fe80::1c2b: link-local", "<ip>: link-local"),
        ("fe80::1c2b:5 is another", "fe80::1c2b:5 is another"),
        ("10.192.168.1.23 is another", "10.192.168.1.23 is another"),
    ],
)
def test_device_address_spellings(text: str, expected: str) -> None:
    redactor = Redactor(device_addresses=["192.168.1.23", "fe80::1c2b%wlan0"], environ={})
    assert redactor.text(text) == expected


def test_report_structure_is_never_rewritten() -> None:
    doc = {
        "status": "critical",
        "probes": [{"id": "http", "status": "fail", "summary": "http as siti", "findings": []}],
        "targets": [{"name": "google", "host": "www.google.com", "role": "reference"}],
        "causes": [{"id": "offline", "evidence": ["http.timeout@google (issuer: siti)"]}],
    }
    redactor = Redactor(
        environ={"AUTH_LEVEL": "critical", "OAUTH_PROVIDER": "google"},
        username="siti",
        hostname="google",
        home="/home/siti",
    )
    out = redactor.document(doc)
    assert out["status"] == "critical"
    assert out["probes"][0]["id"] == "http"
    assert out["probes"][0]["summary"] == "http as <user>"
    assert out["targets"] == doc["targets"]
    assert out["causes"][0]["evidence"] == ["http.timeout@google (issuer: <user>)"]
