"""The cause catalogue (SPEC §6): titles, explanations and fix steps as data.

The words live in ``jmo_doctor/data/causes.toml`` so that a translator or support agent
can change them without touching the rules. The file ships inside the package, so a bad
shape is a packaging bug: it is reported as :class:`CatalogueError` on first use, and the
test suite loads it, so such a bug cannot reach a release.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Any

from jmo_doctor.exitcodes import ExitStatus
from jmo_doctor.i18n import DEFAULT_LANG, LANGUAGES

__all__ = [
    "CatalogueEntry",
    "CatalogueError",
    "CauseText",
    "UnknownCauseError",
    "cause_ids",
    "entries",
    "entry",
    "parse",
    "render",
    "text",
]

CATALOGUE_FILE = "causes.toml"

SEVERITIES: Mapping[str, ExitStatus] = MappingProxyType(
    {"critical": ExitStatus.CRITICAL, "warning": ExitStatus.WARNING, "ok": ExitStatus.OK}
)
ARTICLE_SECTIONS: tuple[int | str, ...] = (1, 2, 3, "intro")
_TEXT_FIELDS = ("title", "summary", "explanation", "fix")
_ENTRY_FIELDS = ("severity", "article_section", *LANGUAGES)

_STEPS_HEADING = {"id": "Langkah perbaikan:", "en": "What to do:"}


class CatalogueError(Exception):
    """The shipped catalogue does not have the expected shape."""


class UnknownCauseError(LookupError):
    """A cause id that the catalogue does not have; the message lists the known ones."""


@dataclass(frozen=True)
class CauseText:
    """A cause's words in one language."""

    title: str
    summary: str
    explanation: str
    fix: tuple[str, ...]


@dataclass(frozen=True)
class CatalogueEntry:
    id: str
    severity: ExitStatus
    article_section: int | str | None  # 1, 2, 3, "intro" or None (not in the article)
    texts: Mapping[str, CauseText]  # language → words; every language of i18n.LANGUAGES

    def text(self, lang: str) -> CauseText:
        """The words in ``lang``; an unknown language gets the default (Indonesian)."""
        return self.texts.get(lang) or self.texts[DEFAULT_LANG]


def _fail(source: str, where: str, problem: str) -> CatalogueError:
    return CatalogueError(f"{source}: [{where}] {problem}")


def _non_empty_string(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _parse_text(raw: Any, source: str, where: str) -> CauseText:
    if not isinstance(raw, dict):
        raise _fail(source, where, "must be a table")
    if unknown := sorted(set(raw) - set(_TEXT_FIELDS)):
        raise _fail(source, where, f"has unknown keys: {', '.join(unknown)}")
    for key in ("title", "summary", "explanation"):
        if not _non_empty_string(raw.get(key)):
            raise _fail(source, where, f"'{key}' must be a non-empty string")
    steps = raw.get("fix")
    if not isinstance(steps, list) or not steps or not all(map(_non_empty_string, steps)):
        raise _fail(source, where, "'fix' must be a non-empty list of non-empty strings")
    return CauseText(
        title=raw["title"].strip(),
        summary=raw["summary"].strip(),
        explanation=raw["explanation"].strip(),
        fix=tuple(step.strip() for step in steps),
    )


def _parse_entry(cause_id: str, raw: Any, source: str) -> CatalogueEntry:
    if not isinstance(raw, dict):
        raise _fail(source, cause_id, "must be a table")
    if unknown := sorted(set(raw) - set(_ENTRY_FIELDS)):
        raise _fail(source, cause_id, f"has unknown keys: {', '.join(unknown)}")
    severity = raw.get("severity")
    if not isinstance(severity, str) or severity not in SEVERITIES:
        raise _fail(source, cause_id, f"'severity' must be one of {', '.join(SEVERITIES)}")
    section = raw.get("article_section")
    # bool is an int to Python; ``article_section = true`` is a typo, not section 1
    if section is not None and (isinstance(section, bool) or section not in ARTICLE_SECTIONS):
        raise _fail(source, cause_id, "'article_section' must be 1, 2, 3 or \"intro\"")
    texts = {lang: _parse_text(raw.get(lang), source, f"{cause_id}.{lang}") for lang in LANGUAGES}
    return CatalogueEntry(
        id=cause_id,
        severity=SEVERITIES[severity],
        article_section=section,
        texts=MappingProxyType(texts),
    )


def parse(text: str, source: str = CATALOGUE_FILE) -> Mapping[str, CatalogueEntry]:
    """Validate a catalogue (TOML text); entries keep the file's order."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise CatalogueError(f"{source}: not valid TOML: {error}") from None
    if not raw:
        raise CatalogueError(f"{source}: has no causes")
    return MappingProxyType(
        {cause_id: _parse_entry(cause_id, value, source) for cause_id, value in raw.items()}
    )


@functools.cache
def entries() -> Mapping[str, CatalogueEntry]:
    """Every cause of the shipped catalogue, parsed once per process."""
    data = resources.files("jmo_doctor.data").joinpath(CATALOGUE_FILE)
    return parse(data.read_text(encoding="utf-8"), f"jmo_doctor/data/{CATALOGUE_FILE}")


def cause_ids() -> tuple[str, ...]:
    """The cause ids, in the catalogue's order (the diagnosis' tie-break priority)."""
    return tuple(entries())


def entry(cause_id: str) -> CatalogueEntry:
    try:
        return entries()[cause_id]
    except KeyError:
        known = ", ".join(cause_ids())
        raise UnknownCauseError(f"unknown cause {cause_id!r} (known: {known})") from None


def text(cause_id: str, lang: str) -> CauseText:
    """A cause's words in ``lang``."""
    return entry(cause_id).text(lang)


def render(cause_id: str, lang: str) -> str:
    """A cause as plain text: title, explanation and numbered fix steps."""
    words = text(cause_id, lang)
    heading = _STEPS_HEADING.get(lang, _STEPS_HEADING[DEFAULT_LANG])
    steps = [f"  {number}. {step}" for number, step in enumerate(words.fix, start=1)]
    return "\n".join([words.title, "", words.explanation, "", heading, *steps])
