"""Durations as people type them: ``90s``, ``30m``, ``12h``, ``7d``, ``2w``.

`history --since` and `schedule install --every` read the same words, so both read them
here.
"""

from __future__ import annotations

import re

from jmo_doctor.errors import UserError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*([0-9]{1,12})\s*([smhdw])\s*$", re.IGNORECASE)
MAX_DURATION_S = 100 * 366 * 86400  # no question about the past reaches further


class DurationError(UserError, ValueError):
    """Not a duration we read; the message shows how to write one."""


def parse_duration(text: str) -> int:
    """``"90s"``, ``"30m"``, ``"12h"``, ``"7d"`` (or ``"2w"``) → seconds."""
    match = _DURATION.match(text or "")
    if not match:
        raise DurationError(
            f"invalid duration {text!r}: use a whole number followed by s, m, h, d or w "
            "(for example 90s, 30m, 12h, 7d)"
        )
    seconds = int(match.group(1)) * _UNITS[match.group(2).lower()]
    if seconds <= 0:
        raise DurationError(f"invalid duration {text!r}: it must be longer than zero")
    if seconds > MAX_DURATION_S:
        raise DurationError(f"invalid duration {text!r}: at most 100 years")
    return seconds
