"""Languages: Bahasa Indonesia by default, English on request.

The engine's own words (labels, verdicts, errors, help) live in one data file,
``jmo_doctor/data/words.toml``: key → ``{id, en}`` with ``{placeholders}``. It is checked
when first read, as the causes catalogue is: both languages present and non-empty, the
same placeholders in both. Probes keep their words in their own ``messages``.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Mapping

LANGUAGES = ("id", "en")
DEFAULT_LANG = "id"
WORDS_FILE = "words.toml"


class WordsError(Exception):
    """The shipped words file is broken: a packaging bug, found by the tests."""


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


def fields(template: str) -> set[str]:
    """The ``{placeholder}`` names of ``template`` (format specs left out)."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def parse_words(raw: Mapping[str, object], source: str) -> dict[str, dict[str, str]]:
    """Validate a words table: every entry ``{id, en}``, non-empty, same placeholders."""
    table: dict[str, dict[str, str]] = {}
    for key, entry in raw.items():
        if not isinstance(entry, Mapping) or set(entry) != set(LANGUAGES):
            raise WordsError(f"{source}: [{key}] must have exactly the keys id and en")
        texts = {lang: entry[lang] for lang in LANGUAGES}
        if not all(isinstance(t, str) and t.strip() for t in texts.values()):
            raise WordsError(f"{source}: [{key}] has an empty or non-string text")
        if fields(texts["id"]) != fields(texts["en"]):
            raise WordsError(f"{source}: [{key}] has different placeholders in id and en")
        table[key] = texts
    return table


@functools.cache
def words() -> Mapping[str, Mapping[str, str]]:
    """The engine's words, read and checked once per process."""
    import tomllib
    from pathlib import Path

    # a plain path, not importlib.resources: every command reads this file at start-up
    text = (Path(__file__).parent / "data" / WORDS_FILE).read_text(encoding="utf-8")
    return parse_words(tomllib.loads(text), f"jmo_doctor/data/{WORDS_FILE}")


def say(key: str, lang: str, /, **params: object) -> str:
    """The words for ``key`` in ``lang``, filled with ``params``.

    An unknown key (a value from a hostile or newer report) is shown as itself rather than
    failing: the tests make sure every key the code uses exists.
    """
    entry = words().get(key)
    return key if entry is None else fill(pick(entry, lang), params)


def in_language(values: Mapping[str, object], lang: str) -> dict[str, object]:
    """``values`` for filling a template in ``lang``: a value given in every language
    (``{"id": …, "en": …}``, a :class:`Said`) becomes ``lang``'s text."""
    chosen: dict[str, object] = {}
    for name, value in values.items():
        if isinstance(value, Said):
            value = pick(value.texts, lang)
        elif isinstance(value, Mapping) and set(value) == set(LANGUAGES):
            value = pick(value, lang)
        chosen[name] = value
    return chosen


def both(key: str, /, **params: object) -> dict[str, str]:
    """``key`` in every language, e.g. for a finding's message table."""
    return {lang: say(key, lang, **in_language(params, lang)) for lang in LANGUAGES}


def said(key: str, /, **params: object) -> Said:
    """``key`` for an error message: English as the exception's text (logs, tracebacks),
    every language kept for the command line to show the person's."""
    return Said(both(key, **params), "en")


class Said(str):
    """Text in one language that remembers itself in every language.

    What a probe says (``ctx.text``, ``ctx.finding``) is a ``Said``: it reads and compares
    as the chosen language's string, and the report stores :attr:`texts` beside it so that
    ``report show --lang`` can show a saved report in the other language. Text built from
    it (an f-string, ``+``) is a plain ``str`` again: such text stays as it was said.
    """

    texts: Mapping[str, str]
    lang: str

    def __new__(cls, texts: Mapping[str, str], lang: str) -> Said:
        said = super().__new__(cls, pick(texts, lang))
        said.texts, said.lang = dict(texts), lang
        return said

    def __reduce__(self) -> tuple[type[Said], tuple[Mapping[str, str], str]]:
        return (Said, (self.texts, self.lang))  # copy and pickle rebuild it whole


def texts_of(value: object) -> dict[str, str] | None:
    """The texts of a :class:`Said` in every language; None for anything else."""
    return dict(value.texts) if isinstance(value, Said) else None
