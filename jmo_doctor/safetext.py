"""Text from outside (reports, servers, store pages, plug-ins, arguments) made safe to show.

A saved report or a server answer can carry terminal escape sequences: clear the screen,
recolour, set the window title, plant an OSC-8 hyperlink to any site. Everything that
reaches a terminal or a Markdown page from outside data passes through :func:`printable`
first, so a support agent who opens a hostile report sees only its text.
"""

from __future__ import annotations

import re

#: C0 controls but tab and newline, DEL, C1 controls (CSI is U+009B), and the Unicode
#: bidirectional overrides and isolates that reorder what a line appears to say.
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}]")
_UNSAFE_IN_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")


def printable(text: str) -> str:
    """``text`` with every control character shown as U+FFFD; newlines and tabs kept."""
    return _UNSAFE.sub("\ufffd", text)


def one_line(text: str) -> str:
    """Like :func:`printable`, for a value shown inside a single line (no newlines either)."""
    return _UNSAFE_IN_LINE.sub("\ufffd", text)
