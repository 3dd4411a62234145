"""The current version on a Google Play details page, whatever this year's layout is.

Play pages carry their data in ``AF_initDataCallback({key: 'ds:N', …, data: …})`` blocks.
Google renumbers the blocks and moves fields every year or two (2021: ``ds:8`` became
``ds:3``; 2022: the details sat in ``ds:4``, then ``ds:5``; 2025: high field numbers moved
into a trailing ``{"140": …}`` object), and parsers that read one index path broke each
time. So this module does not trust a key or a path: it decodes every block's ``data``
as JSON and searches the tree for the shapes that *identify* a version:

* the "About this app" tuple (2022 onwards): ``[[["2.3.0"]], [[[30, "11"]], …], [["Feb
  21, 2022"]]]`` — a version in ``[[…]]`` next to the Android-SDK pair or the date;
* the same tuple with an empty version slot (2025 onwards): ``[[null, []], [[[35]], [null,
  []]]]`` — what the page shows as "Varies with device", in every language;
* the older top-level triple (2018–2021): ``[size, "1.0.2", "4.0.3 and up"]``.

The tuple also holds the minimum Android (``[[[23, "6.0"]]]``: SDK level and release);
the triple's third field says it in words ("6.0 and up"). Release notes and date sit next
to the tuple (2022: ``["Feb 21, 2022", [null, notes], [seconds, nanos]]``), in a trailing
object's ``"145"``/``"146"`` (2025 onwards), or in the 2018–2021 details list as ``[null,
notes]`` two places before the update's ``[seconds, nanos]``.

Only when no block has either shape does it read the visible "Current Version" / "Versi
Saat Ini" label of the old HTML layouts. Reviews also carry versions (the reviewer's), so
a bare version-looking string is never taken on its own.

Every step is bounded (page size, blocks, tree nodes, depth, regex windows): the input is
whatever the network delivered, and a malformed page must end in "no version", never in an
exception or a hang.
"""

from __future__ import annotations

import html as htmllib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from probes.store._versions import is_varies, os_version_text, parse_version

MAX_PAGE_CHARS = 6_000_000
MAX_BLOCKS = 200
MAX_NODES = 500_000
MAX_DEPTH = 100
MAX_NOTES_CHARS = 4000
_CALLBACK = "AF_initDataCallback("
_KEY = re.compile(r"key\s*:\s*'([^'\\]{1,40})'")
#: Visible labels of the version row in the old layouts (English and Indonesian pages).
_LABELS = ("Current Version", "Current version", "Versi Saat Ini", "Versi saat ini")
_TAG = re.compile(r"<[^<>]{0,400}>")
_BR = re.compile(r"<br\s{0,5}/?>", re.IGNORECASE)


@dataclass(frozen=True)
class PlayListing:
    """What the page says. ``problem`` is "" when a version (or "varies") was found."""

    version: str | None = None
    varies: bool = False
    released: str | None = None
    notes: str | None = None
    #: The minimum Android the listing names ("6.0") and its SDK level (23), when stated.
    min_android: str | None = None
    min_sdk: int | None = None
    how: str = ""  # where it was found: "about:ds:5", "legacy:ds:8", "label"
    blocks: int = 0
    problem: str = ""  # "" | "no_version" | "ambiguous"


@dataclass
class _Budget:
    nodes: int = MAX_NODES


@dataclass(frozen=True)
class _Candidate:
    text: str  # a version, or VARIES
    key: str
    date: str | None = None
    min_android: str | None = None
    min_sdk: int | None = None


#: The candidate text of an empty version slot.
VARIES = "Varies with device"
#: Unix seconds of a plausible update time (2009..2100): tells ``[seconds, nanos]`` apart.
_EPOCH_RANGE = range(1_230_000_000, 4_102_444_800)
_LEADING_VERSION = re.compile(r"\d{1,2}(?:\.\d{1,2}){0,2}")


def iter_blocks(page: str) -> Iterator[tuple[str, Any]]:
    """``(key, data)`` for every AF_initDataCallback block whose data decodes as JSON."""
    decoder = json.JSONDecoder()
    pos, attempts = 0, 0
    while attempts < MAX_BLOCKS:
        start = page.find(_CALLBACK, pos)
        if start < 0:
            return
        attempts += 1
        pos = start + len(_CALLBACK)
        head = page[pos : pos + 400]
        data_at = head.find("data:")
        if data_at < 0:
            continue
        key_match = _KEY.search(head, 0, data_at)
        key = key_match.group(1) if key_match else "?"
        at = _skip_space(page, pos + data_at + len("data:"))
        if page.startswith("function", at):  # 2018–2021: data:function(){return [...]}
            ret = page.find("return", at, at + 80)
            if ret < 0:
                continue
            at = _skip_space(page, ret + len("return"))
        if at >= len(page) or page[at] not in "[{":
            continue
        try:
            value, end = decoder.raw_decode(page, at)
        except json.JSONDecodeError as error:
            # resume where the JSON broke: a callback before that point sat inside a
            # string, and scanning it again would make truncated pages quadratic
            pos = max(pos, error.pos)
            continue
        except (ValueError, RecursionError):
            continue
        pos = end
        yield key, value


def _skip_space(text: str, at: int) -> int:
    limit = min(len(text), at + 200)
    while at < limit and text[at].isspace():
        at += 1
    return at


def _nodes(root: Any, budget: _Budget) -> Iterator[list[Any] | dict[str, Any]]:
    """Every list and dict in the tree, depth-first, within the budget."""
    stack: list[tuple[Any, int]] = [(root, 0)]
    while stack and budget.nodes > 0:
        node, depth = stack.pop()
        budget.nodes -= 1
        children: list[Any]
        if isinstance(node, list):
            yield node
            children = node
        elif isinstance(node, dict):
            yield node
            children = list(node.values())
        else:
            continue
        if depth < MAX_DEPTH:
            stack.extend((c, depth + 1) for c in reversed(children) if isinstance(c, list | dict))


def _single_text(node: Any) -> str | None:
    """``s`` for a node shaped ``[[s]]``."""
    if (
        isinstance(node, list)
        and len(node) == 1
        and isinstance(node[0], list)
        and len(node[0]) == 1
        and isinstance(node[0][0], str)
    ):
        return node[0][0]
    return None


def _is_version_text(text: str) -> bool:
    return is_varies(text) or parse_version(text) is not None


def _has_sdk_pair(node: Any, depth: int = 0) -> bool:
    """Somewhere shallow in ``node`` an ``[api_level, "6.0"]`` pair (int, text)."""
    if not isinstance(node, list) or depth > 4:
        return False
    if len(node) == 2 and type(node[0]) is int and isinstance(node[1], str):
        return True
    return any(_has_sdk_pair(child, depth + 1) for child in node[:4])


def _is_empty_slot(node: Any) -> bool:
    """``[null, []]``: a field the page leaves blank ("Varies with device")."""
    return isinstance(node, list) and len(node) == 2 and node[0] is None and node[1] == []


def _sdk_levels(node: Any) -> list[Any] | None:
    """``[target, minimum]`` of the tuple's second field: ``[[[30, "11"]], [[[23, "6.0"]]]]``
    (2022), ``[[[36]], [[[24, "7.0"]]]]`` (2025), ``[[[35]], [null, []]]`` (varies)."""
    if not (isinstance(node, list) and len(node) == 2 and isinstance(node[0], list)):
        return None
    target = node[0]
    if not (len(target) == 1 and isinstance(target[0], list) and target[0]):
        return None
    if type(target[0][0]) is not int:
        return None
    return node


def _minimum(levels: list[Any] | None) -> tuple[str | None, int | None]:
    """The minimum Android of ``[target, [[[23, "6.0"]]]]``: ("6.0", 23)."""
    if levels is None:
        return None, None
    node = levels[1]
    for _ in range(2):
        if isinstance(node, list) and len(node) == 1:
            node = node[0]
    if isinstance(node, list) and len(node) == 2 and type(node[0]) is int:
        return os_version_text(node[1]), node[0] if 1 <= node[0] <= 1000 else None
    return None, None


def _about_tuple(node: list[Any], key: str) -> _Candidate | None:
    """The About-this-app version tuple, with its date and minimum Android."""
    if not 2 <= len(node) <= 8:
        return None
    rest = node[1:]
    levels = _sdk_levels(node[1])
    if _is_empty_slot(node[0]):
        # a blank slot alone is everywhere; next to the SDK levels it is the version's
        if levels is None:
            return None
        version = VARIES
    else:
        text = _single_text(node[0])
        if text is None or not _is_version_text(text):
            return None
        version = VARIES if is_varies(text) else text
    date = next((t for e in rest if (t := _single_text(e)) is not None and len(t) <= 40), None)
    if date is None and levels is None and not any(_has_sdk_pair(e) for e in rest):
        return None
    release, sdk = _minimum(levels)
    return _Candidate(version, key, date, release, sdk)


def _legacy_triple(root: Any, key: str) -> _Candidate | None:
    """The 2018–2021 block ``[size, version, "4.0.3 and up"]``."""
    version = _legacy_version(root)
    if version is None:
        return None
    requires = root[2]
    minimum = None
    if isinstance(requires, str) and (found := _LEADING_VERSION.match(requires.strip())):
        minimum = found.group()
    return _Candidate(VARIES if is_varies(version) else version, key, None, minimum)


def _legacy_version(root: Any) -> str | None:
    """The version of a 2018–2021 block ``[size, version, "4.0.3 and up"]``."""
    if not isinstance(root, list) or not 3 <= len(root) <= 4:
        return None
    size, version, requires = root[0], root[1], root[2]
    if not isinstance(version, str) or not _is_version_text(version):
        return None
    if size is not None and not (isinstance(size, str) and len(size) <= 40):
        return None
    if requires is None:
        return version
    readable = isinstance(requires, str) and len(requires) <= 80
    if readable and (is_varies(requires) or any(ch.isdigit() for ch in requires)):
        return version
    return None


def _release_note(node: list[Any]) -> tuple[str, str] | None:
    """``(date, notes)`` for ``["Feb 21, 2022", [null, "notes"], [seconds, nanos], …]``."""
    if len(node) < 3 or not isinstance(node[0], str) or len(node[0]) > 40:
        return None
    notes, stamp = node[1], node[2]
    if not (isinstance(notes, list) and len(notes) == 2 and notes[0] is None):
        return None
    if not isinstance(notes[1], str):
        return None
    if not (isinstance(stamp, list) and len(stamp) == 2 and all(type(x) is int for x in stamp)):
        return None
    return node[0], notes[1]


def _legacy_note(node: list[Any]) -> tuple[str, str] | None:
    """``(date, notes)`` from the 2018–2021 details list: ``[null, notes]``, the privacy
    link ``[null, null, url]``, then the update time ``[seconds, nanos]``."""
    for at in range(min(len(node), 64) - 2):
        notes, link, stamp = node[at], node[at + 1], node[at + 2]
        if not (isinstance(notes, list) and len(notes) == 2 and notes[0] is None):
            continue
        if not (isinstance(notes[1], str) and isinstance(link, list) and len(link) == 3):
            continue
        if link[:2] != [None, None] or not isinstance(link[2], str):
            continue
        if (day := _stamp_day(stamp)) is not None:
            return day, notes[1]
    return None


def _stamp_day(stamp: Any) -> str | None:
    """``[seconds, nanos]`` as the UTC day (``2021-05-25``); None when it is not one."""
    if not (isinstance(stamp, list) and len(stamp) == 2 and all(type(x) is int for x in stamp)):
        return None
    if stamp[0] not in _EPOCH_RANGE:
        return None
    return time.strftime("%Y-%m-%d", time.gmtime(stamp[0]))


def _trailing_note(node: dict[str, Any]) -> tuple[str, str] | None:
    """``(date, notes)`` of the 2025+ trailing object: ``"145": [null, [null, notes]]`` and
    ``"146": [["Sep 3, 2025", [seconds, nanos]]]``."""
    what, when = node.get("145"), node.get("146")
    if not (isinstance(what, list) and len(what) == 2 and isinstance(what[1], list)):
        return None
    inner = what[1]
    if not (len(inner) == 2 and inner[0] is None and isinstance(inner[1], str)):
        return None
    date = ""
    if isinstance(when, list) and when and isinstance(when[0], list) and when[0]:
        first = when[0][0]
        if isinstance(first, str) and len(first) <= 40:
            date = first
        elif len(when[0]) > 1 and (day := _stamp_day(when[0][1])) is not None:
            date = day
    return date, inner[1]


def clean_notes(raw: str) -> str:
    """Release notes as plain text: ``<br>`` to newlines, other tags dropped, entities read."""
    text = _BR.sub("\n", raw[: MAX_NOTES_CHARS * 2])
    text = htmllib.unescape(_TAG.sub("", text))
    lines = [line.strip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line)[:MAX_NOTES_CHARS]


def _label_version(page: str) -> str | None:
    """The value next to a visible "Current Version" label (old HTML layouts)."""
    for label in _LABELS:
        at, seen = page.find(label), 0
        while at >= 0 and seen < 5:
            seen += 1
            end = at + len(label)
            # the label must be an element's whole text, not a phrase in a description
            if (
                at > 0
                and page[at - 1] == ">"
                and page[_skip_space(page, end) : end + 201][:1] == "<"
            ):
                value = _first_text(page[end : end + 800])
                if value is not None and _is_version_text(value):
                    return value
            at = page.find(label, end)
    at = page.find('itemprop="softwareVersion"')
    if at >= 0:
        close = page.find(">", at, at + 400)
        if close >= 0:
            value = _first_text(page[close + 1 : close + 400])
            if value is not None and _is_version_text(value):
                return value
    return None


def _first_text(window: str) -> str | None:
    for segment in _TAG.split(window):
        text = htmllib.unescape(segment).strip()
        if text:
            return text if len(text) <= 64 else None
    return None


def parse_play_page(page: str) -> PlayListing:
    """The version, release date and notes on a Play details page. Never raises."""
    page = page[:MAX_PAGE_CHARS]
    budget = _Budget()
    about: list[_Candidate] = []
    legacy: list[_Candidate] = []
    notes: list[tuple[str, str, str]] = []  # (key, date, notes)
    blocks = 0
    for key, data in iter_blocks(page):
        blocks += 1
        if (found := _legacy_triple(data, key)) is not None:
            legacy.append(found)
            continue
        for node in _nodes(data, budget):
            if isinstance(node, dict):
                if (note := _trailing_note(node)) is not None:
                    notes.append((key, note[0], note[1]))
            elif (candidate := _about_tuple(node, key)) is not None:
                about.append(candidate)
            elif (note := _release_note(node) or _legacy_note(node)) is not None:
                notes.append((key, note[0], note[1]))
    for kind, candidates in (("about", about), ("legacy", legacy)):
        if candidates:
            return _verdict(kind, candidates, notes, blocks)
    label = _label_version(page)
    if label is not None:
        return PlayListing(
            version=None if is_varies(label) else label,
            varies=is_varies(label),
            how="label",
            blocks=blocks,
        )
    return PlayListing(blocks=blocks, problem="no_version")


def _verdict(
    kind: str, candidates: list[_Candidate], notes: list[tuple[str, str, str]], blocks: int
) -> PlayListing:
    versions = {c.text.strip() for c in candidates if c.text != VARIES}
    if len(versions) > 1:
        # two different "current" versions: a layout this parser does not understand
        return PlayListing(blocks=blocks, problem="ambiguous", how=kind)
    chosen = next((c for c in candidates if c.text.strip() in versions), candidates[0])
    note = next((n for n in notes if n[0] == chosen.key), notes[0] if notes else None)
    released = chosen.date or (note[1] if note and note[1] else None)
    varies = not versions
    return PlayListing(
        version=None if varies else chosen.text.strip(),
        varies=varies,
        released=released,
        notes=clean_notes(note[2]) if note else None,
        min_android=chosen.min_android,
        min_sdk=chosen.min_sdk,
        how=f"{kind}:{chosen.key}",
        blocks=blocks,
    )
