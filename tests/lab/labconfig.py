"""The jmo-doctor config (SPEC §4) that points every setting at the lab."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import addresses as A

DOH_URL = "https://dns.google/dns-query"
CAPTIVE_URL = "http://connectivitycheck.gstatic.com/generate_204"
# (name, host, url, role): SPEC §4's default targets, which the lab serves.
TARGETS = (
    ("bpjs-www", A.BPJS_HOSTS[0], f"https://{A.BPJS_HOSTS[0]}/", "bpjs"),
    ("bpjs-sso", A.BPJS_HOSTS[1], f"https://{A.BPJS_HOSTS[1]}/", "bpjs"),
    ("bpjs-lapakasik", A.BPJS_HOSTS[2], f"https://{A.BPJS_HOSTS[2]}/", "bpjs"),
    ("google", "www.google.com", "https://www.google.com/", "reference"),
    (
        "gstatic",
        "connectivitycheck.gstatic.com",
        "https://connectivitycheck.gstatic.com/generate_204",
        "reference",
    ),
)


def build(ca_bundle: Path, **overrides: Any) -> dict[str, Any]:
    """The config as a dict. Keyword overrides: a top-level key (``timeout=10``), a
    section as a dict merged into the lab's (``latency={"samples": 3}``), or
    ``target=[...]`` to replace the targets. ``None`` drops a key.

    DoH is off by default (``dns={"doh": [DOH_URL]}`` turns the lab's endpoint on): its
    URL's host name is resolved by the system resolver, so DNS faults would hit it too.
    """
    doc: dict[str, Any] = {
        "timeout": 30.0,
        "ca_bundle": str(ca_bundle),
        "target": [
            {"name": name, "host": host, "port": 443, "url": url, "role": role}
            for name, host, url, role in TARGETS
        ],
        "dns": {"trusted_resolvers": [A.RESOLVERS["trusted"].ip], "doh": []},
        "captive_portal": {"url": CAPTIVE_URL},
        "latency": {"samples": 5},
        "bandwidth": {
            "backend": "http",
            "download_url": "https://speed.cloudflare.com/__down?bytes={bytes}",
            "upload_url": "https://speed.cloudflare.com/__up",
            "duration": 2.0,
            "streams": 2,
        },
        "app": {
            "play_store_url": "https://play.google.com/store/apps/details",
            "app_store_lookup_url": "https://itunes.apple.com/lookup",
        },
    }
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(doc.get(key), dict):
            merged = {**doc[key], **value}
            doc[key] = {k: v for k, v in merged.items() if v is not None}
        elif value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc
