"""Known Indonesian block pages, loaded from ``data/block-fingerprints.toml``.

DNS: a CNAME name (or a subdomain of it) or an address in an answer. HTTP: a text in
the body, or the start of (or a text in) a redirect's ``Location``, as OONI matches them.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class Fingerprint:
    kind: str  # "cname" | "ip" | "http"
    value: str
    operator: str
    source: str
    location: str = ""  # http only: "body" | "header.location"
    match: str = ""  # http only: "contains" | "prefix" | "full"

    @property
    def name(self) -> str:
        """OONI's name for it (``ooni.id_43``), or the source's first word."""
        first = self.source.split(" ", 1)[0]
        return first.removeprefix("ooni:")

    def matches_text(self, text: str) -> bool:
        if self.match == "prefix":
            return text.startswith(self.value)
        if self.match == "full":
            return text == self.value
        return self.value in text


@dataclass(frozen=True)
class Fingerprints:
    cnames: tuple[Fingerprint, ...]
    ips: tuple[Fingerprint, ...]
    http: tuple[Fingerprint, ...] = ()

    def match(self, names: Iterable[str], addresses: Iterable[str]) -> Fingerprint | None:
        """The first fingerprint in a CNAME chain (the name or a subdomain) or an address."""
        for name in names:
            name = name.rstrip(".").lower()
            for print_ in self.cnames:
                if name == print_.value or name.endswith("." + print_.value):
                    return print_
        wanted = set(addresses)
        return next((p for p in self.ips if p.value in wanted), None)

    def match_http(self, *, body: str = "", location: str = "") -> Fingerprint | None:
        """The first HTTP fingerprint a response's body or ``Location`` carries."""
        texts = {"body": body, "header.location": location}
        return next(
            (p for p in self.http if texts.get(p.location) and p.matches_text(texts[p.location])),
            None,
        )


def parse(text: str) -> Fingerprints:
    raw = tomllib.loads(text)

    def entries(key: str, field: str) -> tuple[Fingerprint, ...]:
        return tuple(
            Fingerprint(key, str(e[field]).lower(), str(e.get("operator", "")), str(e["source"]))
            for e in raw.get(key, [])
        )

    http = tuple(
        Fingerprint(
            "http",
            str(e["pattern"]),
            str(e.get("operator", "")),
            str(e["source"]),
            location=str(e["location"]),
            match=str(e["match"]),
        )
        for e in raw.get("http", [])
    )
    return Fingerprints(entries("cname", "name"), entries("ip", "address"), http)


@functools.cache
def load() -> Fingerprints:
    text = resources.files("probes").joinpath("data/block-fingerprints.toml").read_text("utf-8")
    return parse(text)
