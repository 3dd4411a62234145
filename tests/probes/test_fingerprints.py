"""The block-page fingerprint data file: parses, no repeats, no false-alarm addresses,
every entry sourced (OONI's own name, file, line and commit, or a public report)."""

from __future__ import annotations

import ipaddress
import re
import tomllib
from importlib import resources
from typing import Any

from probes._common import fingerprints

OONI_SOURCE = re.compile(
    r"^ooni:(ooni\.id_|cl\.)[\w.]+ fingerprints_(dns|http)\.csv:\d+@[0-9a-f]{12}\b"
)


def _raw() -> dict[str, Any]:
    text = resources.files("probes").joinpath("data/block-fingerprints.toml").read_text("utf-8")
    return tomllib.loads(text)


def test_data_file_parses_with_dns_and_http_fingerprints() -> None:
    prints = fingerprints.load()
    assert len(prints.ips) >= 60 and len(prints.cnames) >= 15 and len(prints.http) >= 60
    assert {p.location for p in prints.http} == {"body", "header.location"}
    assert {p.match for p in prints.http} <= {"contains", "prefix", "full"}


def test_no_pattern_is_listed_twice() -> None:
    prints = fingerprints.load()
    for group in (prints.ips, prints.cnames, prints.http):
        keys = [(p.location, p.value.lower()) for p in group]
        assert len(keys) == len(set(keys)), [k for k in keys if keys.count(k) > 1]


def test_no_private_reserved_or_excluded_address() -> None:
    raw = _raw()
    excluded = {e["pattern"] for e in raw["excluded"]}
    assert all(e["reason"] and e["source"] for e in raw["excluded"])
    for print_ in fingerprints.load().ips:
        address = ipaddress.ip_address(print_.value)
        assert address.is_global and not address.is_multicast, print_
        assert print_.value not in excluded, print_
    assert not any(p.value in excluded for p in fingerprints.load().http)


def test_every_entry_names_its_source() -> None:
    prints = fingerprints.load()
    for print_ in (*prints.ips, *prints.cnames, *prints.http):
        assert OONI_SOURCE.match(print_.source) or print_.source.startswith("reported: "), print_
        assert print_.operator, print_
    # OONI's labels as OONI gives them: its name for the lab's block page address
    lab_page = next(p for p in prints.ips if p.value == "36.86.63.185")
    assert lab_page.name == "ooni.id_43"


def test_http_fingerprints_match_as_ooni_matches() -> None:
    prints = fingerprints.load()
    body = "<html><title>Internet Positif - Indonesia</title></html>"
    assert prints.match_http(body=body) is not None
    redirect = prints.match_http(location="http://internet-positif.org/?u=bpjs")
    assert redirect is not None and redirect.name == "ooni.id_0"
    # a prefix fingerprint is not matched in the middle of a redirect
    assert (
        prints.match_http(location="https://example.com/?next=http://internet-positif.org") is None
    )
    assert prints.match_http(body="<title>BPJS Ketenagakerjaan</title>") is None
