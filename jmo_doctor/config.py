"""Configuration (SPEC §4): found, parsed, validated and filled with defaults at load.

Probes only ever see a valid :class:`Config`. Every bad key is reported as a
:class:`ConfigError` naming the file, the line and the key.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import select
import stat
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jmo_doctor.errors import UserError
from jmo_doctor.i18n import LANGUAGES, Said, said, say
from jmo_doctor.safetext import one_line

#: A config with the maximum 256 targets is about 60 KB. Reading stops one byte past this,
#: so ``--config /dev/zero`` or a runaway generator costs a megabyte, not the machine.
MAX_CONFIG_BYTES = 1 << 20
#: A pipe (``--config <(…)``) or a terminal must give its text within this; nothing hangs.
READ_TIMEOUT_S = 5.0
#: Every target is probed by several checks inside one run's deadline, and every resolver
#: is asked for every target: past these, a run cannot keep ``timeout`` (issue 9, item 7).
MAX_TARGETS = 256
MAX_RESOLVERS = 64
MAX_DOH = 16
#: No setting needs a longer string; a longer one is a pasted file or garbage.
MAX_STRING = 2048
MAX_TIMEOUT_S = 3600.0


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
class Resolver:
    """A DNS server to ask directly, parsed once when the config is loaded."""

    host: str  # an IP address
    port: int
    name: str  # as the config writes it: how the report names the resolver

    @classmethod
    def parse(cls, text: str) -> Resolver:
        """``"1.1.1.1"``, ``"1.1.1.1:5353"``, ``"::1"`` or ``"[::1]:53"``; ValueError if
        it is none of these."""
        host, port = parse_resolver(text)
        return cls(host, port, text)


@dataclass(frozen=True)
class DnsConfig:
    resolvers: tuple[Resolver, ...]  # ``trusted_resolvers``, parsed
    doh: tuple[str, ...]
    slow_ms: float

    @property
    def trusted_resolvers(self) -> tuple[str, ...]:
        """The trusted resolvers as the config writes them."""
        return tuple(resolver.name for resolver in self.resolvers)


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
    #: data the test may move per run, both directions together (prepaid quota)
    max_mb: float = 25.0


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


def _shown(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else f"{number:g}"  # 3600, not 3600.0


def _one_of(*choices: str) -> Check:
    def check(value: Any) -> str | None:
        shown = ", ".join(map(repr, choices))
        return None if value in choices else said("config.one_of", choices=shown)

    return check


def _at_least(low: float, *, strictly: bool = False, high: float | None = None) -> Check:
    def check(value: Any) -> str | None:
        # written as `not >=` so that nan, for which every comparison is false, fails too
        if not value >= low or (strictly and value == low):
            return said("config.greater_than" if strictly else "config.at_least", low=_shown(low))
        if high is not None and not value <= high:
            return said("config.at_most", high=_shown(high))
        return None

    return check


_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")


def _host(value: Any) -> str | None:
    """An IP address, or a DNS name (international names through IDNA), without a port."""
    try:
        ipaddress.ip_address(value)
        return None
    except ValueError:
        pass
    bad = said("config.bad_host")
    if ":" in value:
        return said("config.bad_host_port")
    name = value[:-1] if value.endswith(".") else value  # the root dot is allowed
    try:
        ascii_name = name.encode("idna").decode("ascii")
        ascii_name.encode("ascii").decode("idna")  # an "xn--" label must decode too
    except UnicodeError:
        return bad
    labels = ascii_name.split(".")
    # label by label, not one regular expression over the name: no backtracking blow-up
    if len(ascii_name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return bad
    if labels[-1].isdigit():  # "10.0.0.300": neither an address nor a name
        return bad
    return None


#: Spaces and controls in a URL are cut, stripped or sent raw depending on the client.
_URL_UNSAFE = re.compile(r"[\x00-\x20\x7f-\x9f]")


def _url(*schemes: str) -> Check:
    def check(value: Any) -> str | None:
        if _URL_UNSAFE.search(value):
            return said("config.url_unsafe")
        try:
            parts = urlsplit(value)
            port = parts.port  # raises on a port that is not a number or over 65535
        except ValueError as error:
            return said("config.bad_url", error=error)
        if parts.scheme not in schemes or not parts.hostname:
            starts = [f"{s}://" for s in schemes]
            listed = {lang: say("config.or", lang).join(starts) for lang in LANGUAGES}
            return said("config.url_scheme", schemes=listed)
        if port == 0:
            return said("config.port_zero")
        if problem := _host(parts.hostname):
            return said("config.url_host", host=parts.hostname, problem=problem)
        return None

    return check


def _name(value: Any) -> str | None:
    return None if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}", value) else said("config.name")


def _pattern(pattern: str, meaning: str, *, empty: bool = False) -> Check:
    """``meaning``: the words key of what the value must be (``config.meaning.…``)."""
    compiled = re.compile(pattern)

    def check(value: Any) -> str | None:
        if (empty and value == "") or compiled.fullmatch(value):
            return None
        return said("config.must_be", meaning=said(meaning))

    return check


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
        return said("config.bad_resolver")
    return None


def _existing_file(value: Any) -> str | None:
    if value == "":
        return None
    try:
        if Path(value).expanduser().is_file():
            return None
    except OSError as error:  # e.g. a name too long for the file system
        return said("config.file_unusable", reason=error.strerror or str(error))
    return said("config.no_such_file")


def _download_url(value: Any) -> str | None:
    problem = _url("http", "https")(value)
    return problem or (None if "{bytes}" in value else said("config.needs_bytes"))


# --- the schema: section → key → (type, check) ----------------------------------------


@dataclass(frozen=True)
class Key:
    kind: type
    check: Check | None = None
    item_check: Check | None = None  # for lists of strings
    max_items: int | None = None  # for lists: each entry costs time inside the run


_TIMEOUT = _at_least(0, strictly=True, high=MAX_TIMEOUT_S)
_MILLISECONDS = _at_least(0, strictly=True, high=600_000)  # a threshold over 10 min is a typo

TOP_KEYS = {
    "lang": Key(str, _one_of(*LANGUAGES)),
    "timeout": Key(float, _TIMEOUT),
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
        "trusted_resolvers": Key(list, item_check=_resolver, max_items=MAX_RESOLVERS),
        "doh": Key(list, item_check=_url("https"), max_items=MAX_DOH),
        "slow_ms": Key(float, _MILLISECONDS),
    },
    "captive_portal": {"url": Key(str, _url("http", "https"))},
    "latency": {
        "samples": Key(int, _at_least(1, high=1000)),
        "high_ms": Key(float, _MILLISECONDS),
        "jitter_ms": Key(float, _MILLISECONDS),
        "loss_pct": Key(float, _at_least(0, high=100)),
    },
    "bandwidth": {
        "backend": Key(str, _one_of("http", "speedtest")),
        "download_url": Key(str, _download_url),
        "upload_url": Key(str, _url("http", "https")),
        "duration": Key(float, _at_least(0, strictly=True, high=120)),
        "streams": Key(int, _at_least(1, high=64)),
        "min_download_mbps": Key(float, _at_least(0, high=1_000_000)),
        "bufferbloat_ms": Key(float, _MILLISECONDS),
        # capped: a typo of 25000 must not spend a month's quota in one run
        "max_mb": Key(float, _at_least(0, strictly=True, high=1000)),
    },
    "app": {
        "android_package": Key(
            str,
            _pattern(
                r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+",
                "config.meaning.android_package",
                empty=True,
            ),
        ),
        "ios_app_id": Key(
            str,
            _pattern(r"[0-9]{1,20}", "config.meaning.app_store_id", empty=True),
        ),
        "play_store_url": Key(str, _url("http", "https")),
        "app_store_lookup_url": Key(str, _url("http", "https")),
        "country": Key(str, _pattern(r"[A-Za-z]{2}", "config.meaning.country", empty=True)),
        # as Android reports a versionName: no spaces, at most 64 characters
        "installed_version": Key(str, _pattern(r"\S{1,64}", "config.meaning.version", empty=True)),
    },
    "history": {
        "retention_days": Key(int, _at_least(1, high=36500)),
        "max_runs": Key(int, _at_least(1, high=10_000_000)),
    },
}
_TYPE_NAMES: dict[type, str] = {k: f"config.type.{k.__name__}" for k in (str, int, float, list)}


def _basic_problem(value: Any) -> str | None:
    """What every number and string must satisfy, whatever its key."""
    if isinstance(value, float) and not math.isfinite(value):
        return said("config.not_finite")
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            return said("config.too_long", limit=MAX_STRING)
        if one_line(value) != value:
            return said("config.control_character")
    return None


def _shown_value(value: Any) -> str:
    shown = one_line(repr(value))
    return shown if len(shown) < 80 else shown[:77] + "..."


def _setting_name(section: str, key: str, index: int, problem: str) -> str:
    if section == "target" and not key and "[[target]]" in problem:
        return "[target]"
    if section == "target":
        return (
            said("config.target_key", n=index + 1, key=key) if key else f"[[target]] #{index + 1}"
        )
    if section:
        return said("config.section_key", section=section, key=key) if key else f"[{section}]"
    return said("config.key", key=key)


class _Locator:
    """Finds the line of a key in the TOML text (tomllib does not report positions).

    Lines are keyed by (table, index of the ``[[table]]``, key). A header also counts as
    a key of its parent, so an unknown ``[foo]`` is found as ``foo = …`` would be.
    """

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]#]+?)\s*\]")
    _KEY = re.compile(r"^\s*([A-Za-z0-9_.\"' -]+?)\s*=")

    def __init__(self, text: str) -> None:
        self.lines: dict[tuple[str, int, str], int] = {}
        section, index, counts = "", 0, dict[str, int]()
        for number, line in enumerate(text.splitlines(), start=1):
            if header := self._HEADER.match(line):
                parts = self._parts(header.group(2))
                section = ".".join(parts)
                index = counts.get(section, 0)
                if header.group(1) == "[[":
                    counts[section] = index + 1
                self._note(section, index, "", number)
                self._note_path(parts, number)
            elif key := self._KEY.match(line):
                parts = self._parts(key.group(1))
                self._note(section, index, parts[0], number)
                if not section:  # `dns.slow_ms = 5` at the top: a key of [dns]
                    self._note_path(parts, number)

    @staticmethod
    def _parts(dotted: str) -> list[str]:
        return [part.strip().strip("\"'") for part in dotted.split(".")]

    def _note(self, section: str, index: int, key: str, number: int) -> None:
        self.lines.setdefault((section, index, key), number)

    def _note_path(self, parts: list[str], number: int) -> None:
        self._note("", 0, parts[0], number)
        if len(parts) > 1:
            self._note(parts[0], 0, parts[1], number)

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

    def fail(
        self, section: str, key: str, problem: str, index: int = 0, *, name: str | None = None
    ) -> ConfigError:
        line = self.locator.line(section, key, index)
        where = said("config.at", source=self.source, line=line) if line else self.source
        name = name or _setting_name(section, key, index, problem)
        said_all = said("config.problem", where=where, name=name, problem=problem)
        # one line whatever the file holds: keys and paths may carry control characters
        return ConfigError(Said({lang: one_line(t) for lang, t in said_all.texts.items()}, "en"))

    def table(
        self, raw: Any, keys: Mapping[str, Key], section: str, index: int = 0
    ) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise self.fail(section, "", said("config.not_a_table"), index)
        clean: dict[str, Any] = {}
        for key, value in raw.items():
            spec = keys.get(key)
            if spec is None:
                raise self.unknown(section, key, value, keys, index)
            clean[key] = self.value(value, spec, section, key, index)
        return clean

    def unknown(
        self, section: str, key: str, value: Any, keys: Mapping[str, Key], index: int
    ) -> ConfigError:
        is_table = isinstance(value, dict) or (
            isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)
        )
        if not section and is_table:  # `[foo]`: say it is the section that is unknown
            known = ", ".join(sorted([*SECTIONS, "target"]))
            problem = said("config.unknown_section", known=known)
            return self.fail("", key, problem, name=f"[{key}]")
        known = ", ".join(sorted(keys))
        return self.fail(section, key, said("config.unknown_setting", known=known), index)

    def value(self, value: Any, spec: Key, section: str, key: str, index: int) -> Any:
        if spec.kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value) if abs(value) < 1 << 1000 else math.inf  # float() would raise
        if not isinstance(value, spec.kind) or isinstance(value, bool):
            got = type(value).__name__
            wrong = said("config.wrong_type", kind=said(_TYPE_NAMES[spec.kind]), got=got)
            raise self.fail(section, key, wrong, index)
        if isinstance(value, list):
            return self.items(value, spec, section, key, index)
        if problem := _basic_problem(value) or (spec.check and spec.check(value)):
            shown = said("config.value_problem", value=_shown_value(value), problem=problem)
            raise self.fail(section, key, shown, index)
        return value

    def items(
        self, value: list[Any], spec: Key, section: str, key: str, index: int
    ) -> tuple[str, ...]:
        if spec.max_items is not None and len(value) > spec.max_items:
            many = said("config.too_many_entries", count=len(value), limit=spec.max_items)
            raise self.fail(section, key, many, index)
        for item in value:
            if not isinstance(item, str):
                strings = said("config.must_be", meaning=said("config.type.list"))
                raise self.fail(section, key, strings, index)
            if problem := _basic_problem(item) or (spec.item_check and spec.item_check(item)):
                entry = said("config.entry_problem", value=_shown_value(item), problem=problem)
                raise self.fail(section, key, entry, index)
        return tuple(value)

    def targets(self, raw: Any) -> tuple[Target, ...]:
        if isinstance(raw, dict):  # `[target]` written for `[[target]]`
            raise self.fail("target", "", said("config.target_single"))
        if not isinstance(raw, list) or not raw:
            raise self.fail("target", "", said("config.target_none"))
        if len(raw) > MAX_TARGETS:  # checked first: thousands must not even be validated
            problem = said("config.target_too_many", limit=MAX_TARGETS)
            raise self.fail("target", "", problem, MAX_TARGETS)
        targets: list[Target] = []
        for index, entry in enumerate(raw):
            fields = self.table(entry, TARGET_KEYS, "target", index)
            if "host" not in fields:
                raise self.fail("target", "", said("config.target_no_host"), index)
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
                twice = said("config.name_twice", name=target.name)
                raise self.fail("target", "name", twice, index)
            targets.append(target)
        return tuple(targets)


def _defaults() -> dict[str, Any]:
    text = resources.files("jmo_doctor.data").joinpath("default-config.toml").read_text("utf-8")
    return tomllib.loads(text)


def parse(text: str, source: str) -> Config:
    """Validate ``text`` (TOML) over the built-in defaults."""
    text = text.removeprefix("\ufeff")  # editors on Windows start UTF-8 files with a BOM
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(said("config.bad_toml", source=source, error=error)) from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise ConfigError(said("config.toml_too_deep", source=source)) from None
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
            resolvers=tuple(Resolver.parse(r) for r in merged["dns"]["trusted_resolvers"]),
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
    try:
        return path if path.is_file() else None
    except OSError:  # a config dir we may not enter: load() says so, not a traceback
        return path


def load(explicit: str | None = None) -> Config:
    path = find(explicit)
    if path is None:
        return parse("", "<built-in defaults>")
    return parse(_decode(read_capped(path), path), str(path))


def check_timeout(value: float, option: str = "--timeout") -> float:
    """A deadline given on the command line, held to the rule of config ``timeout``.

    Raises :class:`UserError` naming ``option`` for nan, infinities, zero, negatives and
    anything over an hour.
    """
    number = float(value)
    if problem := _basic_problem(number) or _TIMEOUT(number):
        raise UserError(
            said("config.timeout_option", option=option, value=_shown(number), problem=problem)
        )
    return number


def read_capped(path: Path) -> bytes:
    """The bytes of ``path``, refusing what is not a config file rather than hanging on it.

    Opened non-blocking, so a FIFO without a writer cannot stop the open; read with a
    deadline, so a pipe or terminal that never answers cannot stop the run; at most
    :data:`MAX_CONFIG_BYTES`, so ``/dev/zero`` cannot fill the memory.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise ConfigError(said("config.not_found", path=path)) from None
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigError(said("config.unreadable", path=path, reason=reason)) from None
    try:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise ConfigError(said("config.directory", path=path))
        return _read_fd(fd, path)
    finally:
        os.close(fd)


def _read_fd(fd: int, path: Path) -> bytes:
    chunks: list[bytes] = []
    size = 0
    deadline = time.monotonic() + READ_TIMEOUT_S
    while size <= MAX_CONFIG_BYTES:
        # wait before reading: a FIFO whose writer has not come yet reads as an empty file
        if not _readable(fd, deadline - time.monotonic()):
            raise ConfigError(said("config.no_data", path=path, seconds=f"{READ_TIMEOUT_S:g}"))
        try:
            chunk = os.read(fd, MAX_CONFIG_BYTES + 1 - size)
        except BlockingIOError:
            continue
        except OSError as error:
            reason = error.strerror or str(error)
            raise ConfigError(said("config.unreadable", path=path, reason=reason)) from None
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
    raise ConfigError(said("config.too_big", path=path, mib=MAX_CONFIG_BYTES // (1 << 20)))


def _readable(fd: int, seconds: float) -> bool:
    """Whether ``fd`` has data or its end within ``seconds`` (files always do)."""
    if seconds <= 0:
        return False
    if not hasattr(select, "poll"):  # Windows: only files get here, and they never block
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(seconds * 1000))


def _decode(data: bytes, path: Path) -> str:
    try:
        return data.decode("utf-8-sig")  # the BOM some Windows editors write is accepted
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ConfigError(said("config.not_utf8", path=path, line=line)) from None
