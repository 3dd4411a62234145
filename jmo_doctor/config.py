"""Configuration (SPEC §4): found, parsed, validated and filled with defaults at load.

Probes only ever see a valid :class:`Config`. Every bad key is reported as a
:class:`ConfigError` naming the file, the line and the key.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jmo_doctor.errors import UserError
from jmo_doctor.i18n import LANGUAGES


class ConfigError(UserError):
    """A config problem, worded for the person who wrote the file."""


@dataclass(frozen=True)
class Target:
    name: str
    host: str
    port: int
    url: str
    role: str  # "bpjs" | "reference"


@dataclass(frozen=True)
class DnsConfig:
    trusted_resolvers: tuple[str, ...]
    doh: tuple[str, ...]
    slow_ms: float


@dataclass(frozen=True)
class CaptivePortalConfig:
    url: str


@dataclass(frozen=True)
class LatencyConfig:
    samples: int
    high_ms: float
    jitter_ms: float
    loss_pct: float


@dataclass(frozen=True)
class BandwidthConfig:
    backend: str
    download_url: str
    upload_url: str
    duration: float
    streams: int
    min_download_mbps: float
    bufferbloat_ms: float


@dataclass(frozen=True)
class AppConfig:
    android_package: str
    ios_app_id: str
    play_store_url: str
    app_store_lookup_url: str
    country: str
    installed_version: str


@dataclass(frozen=True)
class HistorySettings:
    retention_days: int
    max_runs: int


@dataclass(frozen=True)
class Config:
    lang: str
    timeout: float
    ca_bundle: str
    targets: tuple[Target, ...]
    dns: DnsConfig
    captive_portal: CaptivePortalConfig
    latency: LatencyConfig
    bandwidth: BandwidthConfig
    app: AppConfig
    history: HistorySettings
    source: str = "<built-in defaults>"


# --- value checks: each returns None when fine, else what is wrong ---------------------

Check = Callable[[Any], "str | None"]


def _one_of(*choices: str) -> Check:
    def check(value: Any) -> str | None:
        return None if value in choices else "must be one of " + ", ".join(map(repr, choices))

    return check


def _at_least(low: float, *, strictly: bool = False, high: float | None = None) -> Check:
    def check(value: Any) -> str | None:
        if value < low or (strictly and value == low):
            return f"must be {'greater than' if strictly else 'at least'} {low:g}"
        if high is not None and value > high:
            return f"must be at most {high:g}"
        return None

    return check


def _url(*schemes: str) -> Check:
    def check(value: Any) -> str | None:
        try:
            parts = urlsplit(value)
            _ = parts.port  # raises on a bad port
        except ValueError as error:
            return f"is not a valid URL ({error})"
        if parts.scheme not in schemes or not parts.hostname:
            return "must be a URL starting with " + " or ".join(f"{s}://" for s in schemes)
        return None

    return check


_HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.?)+$")


def _host(value: Any) -> str | None:
    try:
        ipaddress.ip_address(value)
        return None
    except ValueError:
        pass
    return None if _HOSTNAME.match(value) else "is not a valid host name or IP address"


def _name(value: Any) -> str | None:
    return (
        None
        if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}", value)
        else ("must be 1-63 letters, digits, '.', '_' or '-'")
    )


def parse_resolver(value: str) -> tuple[str, int]:
    """``"1.1.1.1"``, ``"1.1.1.1:5353"``, ``"::1"`` or ``"[::1]:53"`` → (address, port)."""
    text = value.strip()
    host, port = text, 53
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(value)
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, port_text = text.split(":")
        port = int(port_text)
    ipaddress.ip_address(host)
    if not 0 < port < 65536:
        raise ValueError(value)
    return host, port


def _resolver(value: Any) -> str | None:
    try:
        parse_resolver(value)
    except ValueError:
        return 'is not an IP address with an optional port (e.g. "1.1.1.1" or "[::1]:5353")'
    return None


def _existing_file(value: Any) -> str | None:
    if value == "" or Path(value).expanduser().is_file():
        return None
    return "names a file that does not exist"


def _download_url(value: Any) -> str | None:
    problem = _url("http", "https")(value)
    return problem or (None if "{bytes}" in value else "must contain {bytes}")


# --- the schema: section → key → (type, check) ----------------------------------------


@dataclass(frozen=True)
class Key:
    kind: type
    check: Check | None = None
    item_check: Check | None = None  # for lists of strings


TOP_KEYS = {
    "lang": Key(str, _one_of(*LANGUAGES)),
    "timeout": Key(float, _at_least(0, strictly=True, high=3600)),
    "ca_bundle": Key(str, _existing_file),
}
TARGET_KEYS = {
    "name": Key(str, _name),
    "host": Key(str, _host),
    "port": Key(int, _at_least(1, high=65535)),
    "url": Key(str, _url("http", "https")),
    "role": Key(str, _one_of("bpjs", "reference")),
}
SECTIONS: dict[str, dict[str, Key]] = {
    "dns": {
        "trusted_resolvers": Key(list, item_check=_resolver),
        "doh": Key(list, item_check=_url("https")),
        "slow_ms": Key(float, _at_least(0, strictly=True)),
    },
    "captive_portal": {"url": Key(str, _url("http", "https"))},
    "latency": {
        "samples": Key(int, _at_least(1, high=1000)),
        "high_ms": Key(float, _at_least(0, strictly=True)),
        "jitter_ms": Key(float, _at_least(0, strictly=True)),
        "loss_pct": Key(float, _at_least(0, high=100)),
    },
    "bandwidth": {
        "backend": Key(str, _one_of("http", "speedtest")),
        "download_url": Key(str, _download_url),
        "upload_url": Key(str, _url("http", "https")),
        "duration": Key(float, _at_least(0, strictly=True, high=120)),
        "streams": Key(int, _at_least(1, high=64)),
        "min_download_mbps": Key(float, _at_least(0)),
        "bufferbloat_ms": Key(float, _at_least(0, strictly=True)),
    },
    "app": {
        "android_package": Key(str),
        "ios_app_id": Key(str),
        "play_store_url": Key(str, _url("http", "https")),
        "app_store_lookup_url": Key(str, _url("http", "https")),
        "country": Key(str),
        "installed_version": Key(str),
    },
    "history": {
        "retention_days": Key(int, _at_least(1, high=36500)),
        "max_runs": Key(int, _at_least(1, high=10_000_000)),
    },
}
_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", list: "a list of strings"}


class _Locator:
    """Finds the line of a key in the TOML text (tomllib does not report positions)."""

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\"-]+)\s*\]\]?")
    _KEY = re.compile(r"^\s*\"?([A-Za-z0-9_-]+)\"?\s*=")

    def __init__(self, text: str) -> None:
        self.lines: dict[tuple[str, int, str], int] = {}
        section, index, counts = "", 0, dict[str, int]()
        for number, line in enumerate(text.splitlines(), start=1):
            if header := self._HEADER.match(line):
                section = header.group(2).strip('"')
                index = counts.get(section, 0)
                if header.group(1) == "[[":
                    counts[section] = index + 1
                self.lines.setdefault((section, index, ""), number)
            elif key := self._KEY.match(line):
                self.lines.setdefault((section, index, key.group(1)), number)

    def line(self, section: str, key: str, index: int = 0) -> int | None:
        return (
            self.lines.get((section, index, key))
            or self.lines.get((section, index, ""))
            or self.lines.get(("", 0, section))  # `dns = "x"` written as a top-level key
        )


class _Loader:
    def __init__(self, source: str, text: str) -> None:
        self.source = source
        self.locator = _Locator(text)

    def fail(self, section: str, key: str, problem: str, index: int = 0) -> ConfigError:
        line = self.locator.line(section, key, index)
        where = f"{self.source}" + (f", line {line}" if line else "")
        if section == "target" and not key and "[[target]]" in problem:
            name = "[target]"
        elif section == "target":
            name = f"[[target]] #{index + 1} key '{key}'" if key else f"[[target]] #{index + 1}"
        elif section:
            name = f"[{section}] key '{key}'" if key else f"[{section}]"
        else:
            name = f"key '{key}'"
        return ConfigError(f"{where}: {name} {problem}")

    def table(
        self, raw: Any, keys: Mapping[str, Key], section: str, index: int = 0
    ) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise self.fail(section, "", "must be a table", index)
        clean: dict[str, Any] = {}
        for key, value in raw.items():
            spec = keys.get(key)
            if spec is None:
                known = ", ".join(sorted(keys))
                raise self.fail(section, key, f"is not a known setting (known: {known})", index)
            clean[key] = self.value(value, spec, section, key, index)
        return clean

    def value(self, value: Any, spec: Key, section: str, key: str, index: int) -> Any:
        if spec.kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, spec.kind) or isinstance(value, bool):
            got = type(value).__name__
            raise self.fail(section, key, f"must be {_TYPE_NAMES[spec.kind]}, not {got}", index)
        if isinstance(value, list):
            for item in value:
                if not isinstance(item, str):
                    raise self.fail(section, key, "must be a list of strings", index)
                if spec.item_check and (problem := spec.item_check(item)):
                    raise self.fail(section, key, f"entry {item!r} {problem}", index)
            return tuple(value)
        if spec.check and (problem := spec.check(value)):
            shown = repr(value) if len(repr(value)) < 80 else repr(value)[:77] + "..."
            raise self.fail(section, key, f"= {shown} {problem}", index)
        return value

    def targets(self, raw: Any) -> tuple[Target, ...]:
        if isinstance(raw, dict):  # `[target]` written for `[[target]]`
            raise self.fail("target", "", "must be written [[target]] (one table per host)")
        if not isinstance(raw, list) or not raw:
            raise self.fail("target", "", "must be one or more [[target]] tables")
        targets: list[Target] = []
        for index, entry in enumerate(raw):
            fields = self.table(entry, TARGET_KEYS, "target", index)
            if "host" not in fields:
                raise self.fail("target", "", "needs a 'host'", index)
            host, port = fields["host"], fields.get("port", 443)
            shown_host = f"[{host}]" if ":" in host else host
            default_url = (
                f"https://{shown_host}/" if port == 443 else f"https://{shown_host}:{port}/"
            )
            target = Target(
                name=fields.get("name", host),
                host=host,
                port=port,
                url=fields.get("url", default_url),
                role=fields.get("role", "bpjs"),
            )
            if any(t.name == target.name for t in targets):
                raise self.fail("target", "name", f"{target.name!r} is used twice", index)
            targets.append(target)
        return tuple(targets)


def _defaults() -> dict[str, Any]:
    text = resources.files("jmo_doctor.data").joinpath("default-config.toml").read_text("utf-8")
    return tomllib.loads(text)


def parse(text: str, source: str) -> Config:
    """Validate ``text`` (TOML) over the built-in defaults."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{source}: not valid TOML: {error}") from None
    loader = _Loader(source, text)
    merged = _defaults()
    top = {k: v for k, v in raw.items() if k not in SECTIONS and k != "target"}
    merged.update(loader.table(top, TOP_KEYS, ""))
    for section, keys in SECTIONS.items():
        if section in raw:
            merged[section] = {**merged[section], **loader.table(raw[section], keys, section)}
    targets = loader.targets(raw.get("target", merged["target"]))
    ca_bundle = str(Path(merged["ca_bundle"]).expanduser()) if merged["ca_bundle"] else ""
    return Config(
        lang=merged["lang"],
        timeout=float(merged["timeout"]),
        ca_bundle=ca_bundle,
        targets=targets,
        dns=DnsConfig(
            trusted_resolvers=tuple(merged["dns"]["trusted_resolvers"]),
            doh=tuple(merged["dns"]["doh"]),
            slow_ms=float(merged["dns"]["slow_ms"]),
        ),
        captive_portal=CaptivePortalConfig(**merged["captive_portal"]),
        latency=LatencyConfig(**merged["latency"]),
        bandwidth=BandwidthConfig(**merged["bandwidth"]),
        app=AppConfig(**merged["app"]),
        history=HistorySettings(**merged["history"]),
        source=source,
    )


def default_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir("jmo-doctor", appauthor=False)) / "config.toml"


def find(explicit: str | None) -> Path | None:
    """SPEC §3 lookup: ``--config``, ``$JMO_DOCTOR_CONFIG``, the user config dir, defaults."""
    if explicit:
        return Path(explicit)
    if env := os.environ.get("JMO_DOCTOR_CONFIG"):
        return Path(env)
    path = default_path()
    return path if path.is_file() else None


def load(explicit: str | None = None) -> Config:
    path = find(explicit)
    if path is None:
        return parse("", "<built-in defaults>")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read config ({error.strerror})") from None
    return parse(text, str(path))
