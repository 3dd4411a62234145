"""Hostile redaction (issue 9, items 2 and 3): what the user would notice in the report.

A KPJ number is text to find, never a pattern to run: ``123(``, ``e|a|o`` or
``(.*.*)*X`` leave the report exactly as it was. Environment values, user and host names
are replaced only where they really occur in free text, and never in the report's own
vocabulary (ids, statuses, codes, keys, numbers, targets): ``AUTH_LEVEL=critical``,
``OAUTH_PROVIDER=google`` or ``USER=http`` change nothing. A real secret is replaced
wherever it occurs in free text, and nothing else in the report moves.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jmo_doctor.cli import run_cli
from jmo_doctor.report.redact import Redactor
from tests.test_golden import _document as golden_document

TOKEN = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"  # GitHub's documented example format


def _redactor(**kwargs: Any) -> Redactor:
    """Nothing sensitive but what the case gives (this machine's names stay out of it)."""
    settings: dict[str, Any] = {"environ": {}, "hostname": None, "username": None, "home": ""}
    return Redactor(**{**settings, **kwargs})


def _report() -> dict[str, Any]:
    """A real report: probes system and http, a captive portal cause, targets, warnings."""
    doc = golden_document("captive-portal", "en")
    doc["targets"] = [
        {"name": "bpjs-www", "host": "www.bpjsketenagakerjaan.go.id", "role": "bpjs"},
        {"name": "google", "host": "www.google.com", "role": "reference"},
    ]
    doc["environment"].update({"os": "Linux 6.1", "machine": "x86_64", "python": "3.11.7"})
    doc["warnings"] = ["plug-in 'corpvpn' could not be loaded"]
    doc["probes"][0]["details"] = {"interfaces": ["wlan0"], "default_route": True}
    return doc


# --- nothing to hide: the report comes back exactly as it went in ---------------------

LEFT_ALONE = [
    pytest.param({"kpj": "123("}, id="kpj-unbalanced-paren"),
    pytest.param({"kpj": "e|a|o"}, id="kpj-alternation"),
    pytest.param({"kpj": "(.*.*)*X"}, id="kpj-catastrophic-backtracking"),
    pytest.param({"kpj": ".*"}, id="kpj-match-anything"),
    pytest.param({"kpj": "[a-z]+"}, id="kpj-character-class"),
    pytest.param({"kpj": "\\d\\w"}, id="kpj-escapes"),
    pytest.param({"environ": {"AUTH_LEVEL": "critical"}}, id="env-word-equal-to-status"),
    pytest.param({"environ": {"OAUTH_PROVIDER": "google"}}, id="env-word-in-target-host"),
    pytest.param({"environ": {"AUTH_DOMAIN": "bpjsketenagakerjaan"}}, id="env-long-plain-word"),
    pytest.param({"environ": {"SECRET_KIND": "captive_portal"}}, id="env-identifier"),
    pytest.param({"environ": {"PASSWORD_HINT": "redirected"}}, id="env-word-in-summary"),
    pytest.param({"environ": {"AUTH_REQUIRED": "true", "API_KEY": "1"}}, id="env-flags"),
    pytest.param({"environ": {"TOKEN_EXPIRES": "1700000000"}}, id="env-number"),
    pytest.param({"environ": {"SSH_AUTH_SOCK": "/tmp/ssh-kq3Lx9/agent.1234"}}, id="env-path"),
    pytest.param({"environ": {"GITHUB_TOKEN": "http"}}, id="env-word-equal-to-probe-id"),
    pytest.param({"username": "http"}, id="user-http-named-like-a-probe"),
    pytest.param({"username": "root"}, id="user-root"),
    pytest.param({"username": "captive_portal"}, id="user-named-like-a-code-in-evidence"),
    pytest.param({"hostname": "localhost"}, id="host-localhost"),
    pytest.param({"device_addresses": ["127.0.0.1", "::1", "0.0.0.0"]}, id="loopback-addresses"),
    pytest.param({"home": "/"}, id="home-is-root"),
]


@pytest.mark.parametrize("settings", LEFT_ALONE)
def test_report_without_secrets_is_left_exactly_as_it_was(settings: dict[str, Any]) -> None:
    doc = _report()
    assert _redactor(**settings).document(doc) == doc


# --- a real secret: replaced in every free-text place, nowhere else --------------------

#: Where a report carries free text (each gets the secret), and where it carries its own
#: vocabulary (each gets it too, and must keep it: ids, codes, keys, targets).
FREE_TEXT: list[Callable[[dict[str, Any], str], None]] = [
    lambda doc, s: doc["probes"][0].update(summary=f"wlan0 up as {s}."),
    lambda doc, s: doc["probes"][1]["findings"][0].update(message=f"redirected ({s})"),
    lambda doc, s: doc["probes"][1]["findings"][0]["data"].update(location=f"{s}"),
    lambda doc, s: doc["probes"][1]["findings"][0]["data"].update(seen=[f"{s}", 302]),
    lambda doc, s: doc["probes"][0]["details"].update(owner={"name": f"{s}"}),
    lambda doc, s: doc["causes"][0].update(explanation=f"{s} " + doc["causes"][0]["explanation"]),
    lambda doc, s: doc["causes"][0]["fix"].append(f"Ask {s}."),
    lambda doc, s: doc["causes"][0]["evidence"].append(f"http.status ({s})"),
    lambda doc, s: doc["warnings"].append(f"config of {s}: ok"),
    lambda doc, s: doc["environment"].update(os=f"Linux on {s}"),
    lambda doc, s: doc.update(plugin_note=f"{s}"),  # a field nobody listed: free text
]
STRUCTURE: list[Callable[[dict[str, Any], str], None]] = [
    lambda doc, s: doc["probes"][0].update(id=s),
    lambda doc, s: doc["probes"][1]["findings"][0].update(target=s),
    lambda doc, s: doc["probes"][1]["findings"][0]["data"].update({s: "key kept"}),
    lambda doc, s: doc["probes"][1]["metrics"].update({s: 1.0}),
    lambda doc, s: doc["targets"].append({"name": s, "host": f"{s}.example", "role": "bpjs"}),
    lambda doc, s: doc["run"].update(id=s),
    lambda doc, s: doc["tool"].update(version=s),
]


def _planted(secret: str, shown: str) -> dict[str, Any]:
    doc = _report()
    for plant in FREE_TEXT:
        plant(doc, shown)
    for plant in STRUCTURE:
        plant(doc, secret)
    return doc


SECRETS = [
    pytest.param({"environ": {"GITHUB_TOKEN": TOKEN}}, TOKEN, "<secret>", id="env-token"),
    pytest.param({"environ": {"DB_PASSWORD": "hunter22!"}}, "hunter22!", "<secret>", id="password"),
    pytest.param({"environ": {"OAUTH_COOKIE": "s3ss10n-c00kie"}}, "s3ss10n-c00kie", "<secret>",
                 id="cookie"),
    pytest.param({"kpj": "12345678901"}, "12345678901", "********901", id="kpj-bare"),
    pytest.param({"kpj": "12345678901"}, "1234-5678-901", "********901", id="kpj-dashed"),
    pytest.param({"kpj": "1234-5678-901"}, "1234 5678 901", "********901", id="kpj-spaced"),
    pytest.param({"kpj": "12345678901"}, "1234.5678.901", "********901", id="kpj-dotted"),
    pytest.param({"kpj": "(1234)5678.901"}, "(1234)5678.901", "********901",
                 id="kpj-typed-with-regex-characters"),
    pytest.param({"device_addresses": ["192.168.1.23"]}, "192.168.1.23", "<ip>", id="ipv4"),
    pytest.param({"device_addresses": ["fe80::1c2b%wlan0"]}, "fe80::1c2b", "<ip>",
                 id="ipv6-scoped"),
    pytest.param({}, "http://siti:hunter22@proxy.corp:8080", "http://<credentials>@proxy.corp:8080",
                 id="url-credentials"),
    pytest.param({"username": "siti"}, "siti", "<user>", id="user-name"),
    pytest.param({"hostname": "laptop-siti"}, "laptop-siti", "<host>", id="host-name"),
    pytest.param({"home": "/home/siti"}, "/home/siti/.config", "~/.config", id="home"),
]  # fmt: skip


@pytest.mark.parametrize(("settings", "secret", "shown"), SECRETS)
def test_secret_is_replaced_in_free_text_and_nothing_else_moves(
    settings: dict[str, Any], secret: str, shown: str
) -> None:
    redacted = _redactor(**settings).document(_planted(secret, secret))
    assert redacted == _planted(secret, shown)


BOUNDARIES = [
    pytest.param({"API_KEY": "hunter22x"}, "xhunter22xy", id="short-secret-inside-a-word"),
    pytest.param({"AUTH_PIN": "k3y-4567"}, "monk3y-45678", id="short-secret-inside-a-token"),
]


@pytest.mark.parametrize(("environ", "text"), BOUNDARIES)
def test_short_secret_inside_a_longer_word_is_not_that_secret(
    environ: dict[str, str], text: str
) -> None:
    redactor = _redactor(environ=environ)
    assert redactor.text(f"saw {text} here") == f"saw {text} here"
    secret = next(iter(environ.values()))
    assert redactor.text(f"saw {secret} here") == "saw <secret> here"


def test_a_token_is_found_even_inside_a_longer_word() -> None:
    assert _redactor(environ={"GITHUB_TOKEN": TOKEN}).text(f"x{TOKEN}y") == "x<secret>y"


def test_a_placeholder_just_written_is_not_rewritten() -> None:
    # the user named "secret" must not turn "<secret>" into "<<user>>"
    redactor = _redactor(environ={"GITHUB_TOKEN": TOKEN}, username="secret")
    assert redactor.text(f"{TOKEN} secret") == "<secret> <user>"


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "text",
    [
        pytest.param("a" * 1_000_000, id="long-word"),
        pytest.param("http:" * 200_000, id="many-schemes"),
        pytest.param("1" * 1_000_000, id="long-number"),
    ],
)
def test_long_free_text_is_redacted_in_one_pass(text: str) -> None:
    # the URL-credentials pattern once rescanned a word from each of its letters: 40 KB
    # took 15 s; a server's answer must not hold the run's deadline hostage
    redactor = _redactor(kpj="12345678901", environ={"GITHUB_TOKEN": TOKEN}, username="siti")
    assert redactor.text(text) == text


# --- through the CLI: the redacted report says what the unredacted one says -------------

_VOLATILE = ("id", "started_at", "duration_s")


def _json_run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = run_cli(["run", "--only", "kpj", "--no-history", "--format", "json", *args])
    captured = capsys.readouterr()
    assert "internal error" not in captured.err and "Traceback" not in captured.err
    report = json.loads(captured.out)
    for key in _VOLATILE:
        report["run"].pop(key)
    for probe in report["probes"]:
        probe.pop("duration_s")
    report.pop("redacted")
    return code, report


CLI_CASES = [
    pytest.param("123(", {}, id="kpj-unbalanced-paren"),
    pytest.param("e|a|o", {}, id="kpj-alternation"),
    pytest.param("(.*.*)*X", {}, id="kpj-catastrophic-backtracking"),
    pytest.param("12345678901", {"AUTH_LEVEL": "critical"}, id="env-status-word"),
    pytest.param("12ab", {"AUTH_LEVEL": "warning", "OAUTH_PROVIDER": "google"}, id="env-words"),
    pytest.param("12ab", {"USER": "kpj", "LOGNAME": "kpj"}, id="user-named-like-probe-and-code"),
    pytest.param("12345678901", {"USER": "http", "LOGNAME": "http"}, id="user-http"),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("kpj", "environ"), CLI_CASES)
def test_redacted_run_says_what_the_unredacted_one_says(
    kpj: str,
    environ: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("JMO_DOCTOR_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("JMO_DOCTOR_CONFIG", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    plain_code, unredacted = _json_run(capsys, "--kpj", kpj, "--no-redact")
    code, redacted = _json_run(capsys, "--kpj", kpj)
    assert (code, redacted) == (plain_code, unredacted)
    assert redacted["tool"]["name"] == "jmo-doctor"
    assert redacted["status"] in ("ok", "warning", "critical", "unknown")


def test_the_document_is_copied_not_shared() -> None:
    doc = _report()
    original = copy.deepcopy(doc)
    redacted = _redactor().document(doc)
    redacted["probes"][0]["metrics"]["x"] = 1.0
    redacted["targets"][0]["name"] = "changed"
    assert doc == original
