"""App version strings as the stores and devices write them, made comparable.

Stores and ``dumpsys`` write ``4.15.14``, ``4.15.5 (123)``, ``v4.2``, ``2.0.2c`` or
``Varies with device``. Comparison is numeric (``4.15.14`` is newer than ``4.15.5``) and
tolerant: PEP 440 (``packaging``) when the string is one, else the first dotted number in
it. Anything without a number is not a version, so garbage can never look newer or older
than a real one.

A bare letter after the numbers (``2.0.2c``, OpenSSL-style) is a later build of the same
release, newer than ``2.0.2b`` and ``2.0.2`` — PEP 440 would read ``c`` as "release
candidate" and order it *before* ``2.0.2``. So PEP 440's pre-release reading is kept only
when the marker carries its number (``4.2rc1``, ``4.2b2``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

#: Longer strings are not versions; the cap also keeps int() away from huge digit runs.
MAX_VERSION_CHARS = 64
#: More components than this is a date, an id or a phone number, not an app version.
MAX_PARTS = 6
_NUMBER = re.compile(r"\d{1,9}(?:\.\d{1,9}){0,8}")
#: ``2.0.2c``: numbers, then one letter and nothing else (a build letter, not PEP 440's
#: pre-release ``c`` = ``rc``).
_LETTER_SUFFIX = re.compile(r"^(?:v|V)?(\d{1,9}(?:\.\d{1,9}){0,8})([a-zA-Z])$")
#: What the Play Store shows when each device gets its own build (no single version).
VARIES_TEXTS = (
    "varies with device",
    "bervariasi menurut perangkat",
    "bervariasi tergantung perangkat",
    "berbeda-beda menurut perangkat",
)


@dataclass(frozen=True)
class AppVersion:
    text: str
    release: tuple[int, ...]
    #: The PEP 440 form when the text is one; it orders pre-releases before finals.
    pep440: Version | None = None
    #: 1 for the "a" of ``2.0.2a``, 2 for "b", …; 0 without a build letter.
    letter: int = 0


#: An OS version as stores and getprop write it: "7.0", "11", "4.0.3", "16.4.1".
_OS_VERSION = re.compile(r"\d{1,3}(?:\.\d{1,3}){0,3}")


def os_version_text(text: object) -> str | None:
    """``text`` when it is exactly an OS version, else None: what a page or a device says
    is shown to people, so nothing but digits and dots gets through."""
    if not isinstance(text, str):
        return None
    cleaned = text.strip()
    return cleaned if _OS_VERSION.fullmatch(cleaned) else None


def is_varies(text: object) -> bool:
    return isinstance(text, str) and text.strip().casefold() in VARIES_TEXTS


def parse_version(text: object) -> AppVersion | None:
    """The comparable version in ``text``, or None when there is none."""
    if not isinstance(text, str):
        return None
    cleaned = text.strip()
    if not cleaned or len(cleaned) > MAX_VERSION_CHARS or is_varies(cleaned):
        return None
    lettered = _LETTER_SUFFIX.match(cleaned)
    if lettered is not None:
        parts = tuple(int(part) for part in lettered.group(1).split("."))
        if len(parts) > MAX_PARTS:
            return None
        return AppVersion(cleaned, parts, letter=ord(lettered.group(2).lower()) - ord("a") + 1)
    try:
        pep440 = Version(cleaned)
    except InvalidVersion:
        pep440 = None
    if pep440 is not None and 0 < len(pep440.release) <= MAX_PARTS and not pep440.local:
        return AppVersion(cleaned, tuple(pep440.release), pep440)
    match = _NUMBER.search(cleaned)
    if match is None:
        return None
    # only a number at the start counts: "build 2024 of 3.1" is a sentence, not a version
    if cleaned[: match.start()].strip().lower() not in ("", "v", "version", "versi"):
        return None
    parts = tuple(int(part) for part in match.group().split("."))
    if len(parts) > MAX_PARTS:
        return None
    return AppVersion(cleaned, parts)


def compare(left: AppVersion, right: AppVersion) -> int:
    """-1, 0 or 1 as ``left`` is older than, the same as or newer than ``right``."""
    width = max(len(left.release), len(right.release))
    a = left.release + (0,) * (width - len(left.release))
    b = right.release + (0,) * (width - len(right.release))
    if a != b:
        return -1 if a < b else 1
    if left.letter != right.letter:
        return -1 if left.letter < right.letter else 1
    if left.pep440 is not None and right.pep440 is not None:
        # same numbers: let PEP 440 order 4.2rc1 before 4.2 (and ignore build suffixes)
        if left.pep440 < right.pep440:
            return -1
        if left.pep440 > right.pep440:
            return 1
    return 0


def is_newer(latest: str | None, installed: str | None) -> bool | None:
    """True when ``latest`` is newer than ``installed``; None when either is no version."""
    new, old = parse_version(latest), parse_version(installed)
    if new is None or old is None:
        return None
    return compare(new, old) > 0
