"""Config loading (SPEC §4): defaults, overrides, and one clear error per bad key."""

from __future__ import annotations

from pathlib import Path

import pytest

from jmo_doctor import config
from jmo_doctor.config import ConfigError


def test_defaults_target_the_real_hosts() -> None:
    loaded = config.parse("", "<test>")
    hosts = {t.host: t.role for t in loaded.targets}
    assert hosts == {
        "www.bpjsketenagakerjaan.go.id": "bpjs",
        "sso.bpjsketenagakerjaan.go.id": "bpjs",
        "lapakasik.bpjsketenagakerjaan.go.id": "bpjs",
        "www.google.com": "reference",
        "connectivitycheck.gstatic.com": "reference",
    }
    assert loaded.lang == "id"
    assert loaded.timeout == 30.0
    assert loaded.dns.trusted_resolvers == ("8.8.8.8", "1.1.1.1")
    assert loaded.captive_portal.url == "http://connectivitycheck.gstatic.com/generate_204"
    assert loaded.latency.samples == 10
    assert loaded.bandwidth.streams == 4
    assert loaded.app.android_package == "com.bpjstku"
    assert loaded.app.ios_app_id == "1444834757"


def test_targets_replace_the_default_list_and_fill_their_defaults() -> None:
    loaded = config.parse('[[target]]\nhost = "127.0.0.1"\nport = 8443\n', "<test>")
    assert len(loaded.targets) == 1
    target = loaded.targets[0]
    assert (target.name, target.role, target.url) == (
        "127.0.0.1",
        "bpjs",
        "https://127.0.0.1:8443/",
    )


def test_sections_merge_with_defaults() -> None:
    loaded = config.parse('lang = "en"\ntimeout = 5\n[latency]\nsamples = 3\n', "<test>")
    assert (loaded.lang, loaded.timeout, loaded.latency.samples) == ("en", 5.0, 3)
    assert loaded.latency.high_ms == 400.0


BAD = [
    ("colour = 1\n", "line 1", "key 'colour' is not a known setting"),
    ('lang = "id"\n\n[dns]\nresolvers = []\n', "line 4", "[dns] key 'resolvers'"),
    ('timeout = "30"\n', "line 1", "must be a number, not str"),
    ("timeout = -1\n", "line 1", "must be greater than 0"),
    ('lang = "fr"\n', "line 1", "must be one of 'id', 'en'"),
    ('[dns]\ntrusted_resolvers = ["8.8.8.8", "nope"]\n', "line 2", "entry 'nope'"),
    ("[latency]\nsamples = true\n", "line 2", "must be an integer, not bool"),
    ('[[target]]\nhost = "a.example"\n[[target]]\nhost = "b"\nport = 70000\n', "line 5", "#2"),
    ('[[target]]\nname = "x"\n', "line 1", "needs a 'host'"),
    ('[bandwidth]\ndownload_url = "https://x.example/down"\n', "line 2", "must contain {bytes}"),
    ('ca_bundle = "/no/such/ca.pem"\n', "line 1", "does not exist"),
    ("[dns\n", "line 1", "not valid TOML"),
    ('dns = "x"\n', "line 1", "must be a table"),
    ('lang = "en"\n[foo]\n', "line 2", "[foo] is not a known section"),
    ("timeout = nan\n", "line 1", "must be a finite number"),
    ('[[target]]\nhost = "a b"\n', "line 2", "not a valid host name"),
]


@pytest.mark.parametrize(("text", "line", "message"), BAD)
def test_bad_config_names_file_line_and_key(text: str, line: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config.parse(text, "/etc/jmo.toml")
    shown = str(caught.value)
    assert shown.startswith("/etc/jmo.toml")
    assert line in shown
    assert message in shown


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = tmp_path / "explicit.toml"
    explicit.write_text('lang = "en"\n')
    from_env = tmp_path / "env.toml"
    from_env.write_text("timeout = 7\n")
    monkeypatch.setenv("JMO_DOCTOR_CONFIG", str(from_env))
    assert config.load(str(explicit)).lang == "en"
    assert config.load(None).timeout == 7.0
    monkeypatch.delenv("JMO_DOCTOR_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config.load(None).source == "<built-in defaults>"
    user = tmp_path / "xdg" / "jmo-doctor" / "config.toml"
    user.parent.mkdir(parents=True)
    user.write_text("timeout = 9\n")
    assert config.load(None).timeout == 9.0


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        config.load(str(tmp_path / "absent.toml"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.1.1.1", ("1.1.1.1", 53)),
        ("1.1.1.1:5353", ("1.1.1.1", 5353)),
        ("::1", ("::1", 53)),
        ("[::1]:5353", ("::1", 5353)),
    ],
)
def test_parse_resolver(text: str, expected: tuple[str, int]) -> None:
    assert config.parse_resolver(text) == expected
