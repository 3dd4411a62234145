"""Known Indonesian DNS block answers, loaded from ``data/block-fingerprints.toml``."""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class Fingerprint:
    kind: str  # "cname" | "ip"
    value: str
    operator: str
    source: str


@dataclass(frozen=True)
class Fingerprints:
    cnames: tuple[Fingerprint, ...]
    ips: tuple[Fingerprint, ...]

    def match(self, names: Iterable[str], addresses: Iterable[str]) -> Fingerprint | None:
        """The first fingerprint in a CNAME chain (the name or a subdomain) or an address."""
        for name in names:
            name = name.rstrip(".").lower()
            for print_ in self.cnames:
                if name == print_.value or name.endswith("." + print_.value):
                    return print_
        wanted = set(addresses)
        return next((p for p in self.ips if p.value in wanted), None)


def parse(text: str) -> Fingerprints:
    raw = tomllib.loads(text)

    def entries(key: str, field: str) -> tuple[Fingerprint, ...]:
        return tuple(
            Fingerprint(key, str(e[field]).lower(), str(e.get("operator", "")), str(e["source"]))
            for e in raw.get(key, [])
        )

    return Fingerprints(entries("cname", "name"), entries("ip", "address"))


@functools.cache
def load() -> Fingerprints:
    text = resources.files("probes").joinpath("data/block-fingerprints.toml").read_text("utf-8")
    return parse(text)
