"""The cause catalogue (SPEC §6): titles, explanations and fix steps as data.

The words live in ``jmo_doctor/data/causes.toml`` so that a translator or support agent
can change them without touching the rules. The file ships inside the package, so a bad
shape is a packaging bug: it is reported as :class:`CatalogueError` on first use, and the
test suite loads it, so such a bug cannot reach a release.

Plug-ins bring causes of their own (SPEC §5) through the entry-point group
``jmo_doctor.causes``: each entry point names a catalogue in the same shape — TOML text, a
resource or path with ``read_text()``, or the parsed table — whose entries also list the
finding ``codes`` that point to them (see ``docs/plugin-causes.md``). They are validated
as the shipped file is; one that fails costs a warning and the run goes on without it,
and none may take a built-in cause's id.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from importlib import resources
from importlib.metadata import EntryPoint, entry_points
from types import MappingProxyType
from typing import Any

from jmo_doctor.exitcodes import ExitStatus
from jmo_doctor.i18n import DEFAULT_LANG, LANGUAGES, said, say

__all__ = [
    "PLUGIN_GROUP",
    "CatalogueEntry",
    "CatalogueError",
    "CauseText",
    "PluginCauses",
    "UnknownCauseError",
    "builtin_entries",
    "cause_ids",
    "entries",
    "entry",
    "parse",
    "parse_table",
    "plugin_causes",
    "render",
    "reset",
    "text",
]

CATALOGUE_FILE = "causes.toml"
PLUGIN_GROUP = "jmo_doctor.causes"

SEVERITIES: Mapping[str, ExitStatus] = MappingProxyType(
    {"critical": ExitStatus.CRITICAL, "warning": ExitStatus.WARNING, "ok": ExitStatus.OK}
)
#: A plug-in cause names a problem: "ok" is for the residual causes the engine adds itself.
_PLUGIN_SEVERITIES = ("critical", "warning")
ARTICLE_SECTIONS: tuple[int | str, ...] = (1, 2, 3, "intro")
#: The report schema's pattern for cause ids and finding codes.
CAUSE_ID = re.compile(r"[a-z][a-z0-9_]*")
FINDING_CODE = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)+")
_TEXT_FIELDS = ("title", "summary", "explanation", "fix")
_ENTRY_FIELDS = ("severity", "article_section", *LANGUAGES)
_PLUGIN_FIELDS = (*_ENTRY_FIELDS, "codes")


class CatalogueError(Exception):
    """A catalogue (the shipped one or a plug-in's) does not have the expected shape."""


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
    #: Finding codes that point to this cause. Built-in causes have rules instead (empty).
    codes: tuple[str, ...] = ()
    #: Where the cause comes from: "" for the shipped catalogue, else the plug-in.
    source: str = ""

    def text(self, lang: str) -> CauseText:
        """The words in ``lang``; an unknown language gets the default (Indonesian)."""
        return self.texts.get(lang) or self.texts[DEFAULT_LANG]


@dataclass(frozen=True)
class PluginCauses:
    """Causes the installed plug-ins bring, and what went wrong loading the others."""

    entries: Mapping[str, CatalogueEntry]
    warnings: tuple[str, ...] = ()


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


def _parse_codes(raw: Any, source: str, cause_id: str) -> tuple[str, ...]:
    if (
        not isinstance(raw, list)
        or not raw
        or not all(isinstance(c, str) and FINDING_CODE.fullmatch(c) for c in raw)
    ):
        raise _fail(
            source, cause_id, "'codes' must be a non-empty list of finding codes (like 'vpn.down')"
        )
    return tuple(dict.fromkeys(raw))


def _parse_entry(cause_id: str, raw: Any, source: str, plugin: bool) -> CatalogueEntry:
    if not CAUSE_ID.fullmatch(cause_id):
        raise _fail(source, cause_id, "a cause id is lower case letters, digits and '_'")
    if not isinstance(raw, dict):
        raise _fail(source, cause_id, "must be a table")
    if unknown := sorted(set(raw) - set(_PLUGIN_FIELDS if plugin else _ENTRY_FIELDS)):
        raise _fail(source, cause_id, f"has unknown keys: {', '.join(unknown)}")
    allowed = _PLUGIN_SEVERITIES if plugin else tuple(SEVERITIES)
    severity = raw.get("severity")
    if not isinstance(severity, str) or severity not in allowed:
        raise _fail(source, cause_id, f"'severity' must be one of {', '.join(allowed)}")
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
        codes=_parse_codes(raw.get("codes"), source, cause_id) if plugin else (),
        source=source if plugin else "",
    )


def parse_table(
    raw: Mapping[str, Any], source: str = CATALOGUE_FILE, *, plugin: bool = False
) -> Mapping[str, CatalogueEntry]:
    """Validate a parsed catalogue; entries keep its order. ``plugin``: a plug-in's, whose
    entries must list their finding ``codes`` and name a problem (warning or critical)."""
    if not isinstance(raw, Mapping) or not raw:
        raise CatalogueError(f"{source}: has no causes")
    return MappingProxyType(
        {
            str(cause_id): _parse_entry(str(cause_id), value, source, plugin)
            for cause_id, value in raw.items()
        }
    )


def parse(
    text: str, source: str = CATALOGUE_FILE, *, plugin: bool = False
) -> Mapping[str, CatalogueEntry]:
    """Validate a catalogue (TOML text); entries keep the file's order."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise CatalogueError(f"{source}: not valid TOML: {error}") from None
    return parse_table(raw, source, plugin=plugin)


@functools.cache
def builtin_entries() -> Mapping[str, CatalogueEntry]:
    """Every cause of the shipped catalogue, parsed once per process."""
    data = resources.files("jmo_doctor.data").joinpath(CATALOGUE_FILE)
    return parse(data.read_text(encoding="utf-8"), f"jmo_doctor/data/{CATALOGUE_FILE}")


# --- causes from plug-ins ------------------------------------------------------------------


def _describe(entry_point: EntryPoint) -> str:
    dist = getattr(entry_point, "dist", None)
    return f"{dist.name} {dist.version}" if dist is not None else entry_point.value


def _read_plugin(entry_point: EntryPoint) -> Mapping[str, CatalogueEntry]:
    """The entry point's catalogue; errors name the object it points to."""
    loaded, where = entry_point.load(), entry_point.value
    if isinstance(loaded, Mapping):
        return parse_table(loaded, where, plugin=True)
    if isinstance(loaded, bytes):
        loaded = loaded.decode("utf-8")
    elif not isinstance(loaded, str) and callable(getattr(loaded, "read_text", None)):
        loaded = loaded.read_text(encoding="utf-8")  # a resource or a path
    if not isinstance(loaded, str):
        raise CatalogueError(
            f"{where}: is of type {type(loaded).__name__}, not a catalogue "
            "(TOML text, a resource or path with read_text(), or a table)"
        )
    return parse(loaded, where, plugin=True)


def _plugin_label(entry_point: EntryPoint) -> str:
    return said("plugin.cause_label", name=entry_point.name, source=_describe(entry_point))


def _failure(entry_point: EntryPoint, error: Exception) -> str:
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    if not isinstance(error, CatalogueError):
        reason = f"{type(error).__name__}: {reason}"
    return said("plugin.causes_failed", label=_plugin_label(entry_point), error=reason)


def load_plugins(found: Iterable[EntryPoint]) -> PluginCauses:
    """Validate every plug-in catalogue of ``found``; refuse ids already taken."""
    taken = dict(builtin_entries())
    added: dict[str, CatalogueEntry] = {}
    warnings: list[str] = []
    for entry_point in sorted(found, key=lambda e: e.name):
        try:
            catalogue = _read_plugin(entry_point)
        except Exception as error:  # a broken plug-in must never stop the run
            warnings.append(_failure(entry_point, error))
            continue
        label = _plugin_label(entry_point)
        for cause_id, item in catalogue.items():
            holder = taken.get(cause_id)
            if holder is not None:
                owner = holder.source or "jmo-doctor"
                warnings.append(
                    said("plugin.cause_id_taken", label=label, cause_id=cause_id, owner=owner)
                )
                continue
            taken[cause_id] = added[cause_id] = replace(item, source=label)
    return PluginCauses(MappingProxyType(added), tuple(warnings))


@functools.cache
def plugin_causes() -> PluginCauses:
    """The installed plug-ins' causes, loaded once per process."""
    return load_plugins(entry_points(group=PLUGIN_GROUP))


@functools.cache
def entries() -> Mapping[str, CatalogueEntry]:
    """Every cause: the shipped catalogue's, then the plug-ins'."""
    return MappingProxyType({**builtin_entries(), **plugin_causes().entries})


def reset() -> None:
    """Forget the loaded plug-in causes (a plug-in was installed or removed meanwhile)."""
    plugin_causes.cache_clear()
    entries.cache_clear()


def cause_ids() -> tuple[str, ...]:
    """The cause ids: the shipped catalogue's, in its order, then the plug-ins'."""
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
    heading = say("fix", lang) + ":"
    steps = [f"  {number}. {step}" for number, step in enumerate(words.fix, start=1)]
    return "\n".join([words.title, "", words.explanation, "", heading, *steps])
