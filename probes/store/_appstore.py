"""The iTunes lookup answer (``/lookup?id=…&country=…``) read defensively.

The lookup API is a public JSON endpoint, but what arrives may be anything a proxy, a
portal or a truncated transfer makes of it. Every shape it must not have becomes a
:class:`ListingError` with a short machine-readable reason; nothing here raises anything
else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from probes.store._versions import os_version_text, parse_version

#: A listing is a few kB; more is not the lookup API (and json would spend time on it).
MAX_BODY_BYTES = 5_000_000
MAX_NOTES_CHARS = 4000


class ListingError(ValueError):
    """The answer is not a usable listing; ``reason`` is stable, ``detail`` is for people."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.detail = detail or reason


@dataclass(frozen=True)
class AppStoreListing:
    available: bool
    version: str | None = None
    released: str | None = None
    notes: str | None = None
    url: str | None = None
    #: ``minimumOsVersion``: the oldest iOS the current version installs on ("15.0").
    minimum_os: str | None = None


def _text(value: Any, limit: int = 300) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()[:limit]
    return None


def parse_lookup(body: bytes) -> AppStoreListing:
    """The listing in a lookup answer; ``available=False`` when the country has none."""
    if len(body) > MAX_BODY_BYTES:
        raise ListingError("too_large", f"answer larger than {MAX_BODY_BYTES} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ListingError("not_utf8", "answer is not UTF-8 text") from None
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        raise ListingError("bad_json", "answer is not JSON") from None
    if not isinstance(document, dict):
        raise ListingError("bad_shape", "answer is not a JSON object")
    count, results = document.get("resultCount"), document.get("results")
    if not isinstance(results, list) or (count is not None and type(count) is not int):
        raise ListingError("bad_shape", "answer has no results list")
    if count == 0 or not results:
        return AppStoreListing(available=False)
    first = results[0]
    if not isinstance(first, dict):
        raise ListingError("bad_shape", "first result is not an object")
    version = first.get("version")
    if parse_version(version) is None:
        raise ListingError("bad_version", f"no usable version in the answer: {str(version)[:40]!r}")
    # absent or not a version: the OS check then says nothing
    minimum = os_version_text(first.get("minimumOsVersion"))
    url = _text(first.get("trackViewUrl"), 500)
    if url is not None and not url.startswith(("https://", "http://")):
        url = None
    return AppStoreListing(
        available=True,
        version=str(version).strip(),
        released=_text(first.get("currentVersionReleaseDate"), 40),
        notes=_text(first.get("releaseNotes"), MAX_NOTES_CHARS),
        url=url,
        minimum_os=minimum,
    )
