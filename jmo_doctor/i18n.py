"""Languages: Bahasa Indonesia by default, English on request."""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES = ("id", "en")
DEFAULT_LANG = "id"


def pick(text: str | Mapping[str, str], lang: str) -> str:
    """The string for ``lang``, falling back to Indonesian, then to any language given."""
    if isinstance(text, str):
        return text
    for choice in (lang, DEFAULT_LANG, "en"):
        if choice in text:
            return text[choice]
    return next(iter(text.values()), "")


def fill(template: str, values: Mapping[str, object]) -> str:
    """``str.format_map`` that leaves unknown ``{fields}`` visible instead of raising."""

    class _Keep(dict[str, object]):
        def __missing__(self, key: str) -> str:
            return "{" + key + "}"

    try:
        return template.format_map(_Keep(values))
    except (ValueError, IndexError, AttributeError):
        return template
