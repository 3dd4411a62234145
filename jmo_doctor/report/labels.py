"""Words the renderers print around the report's own text: read from the words catalogue
(``jmo_doctor/data/words.toml``), in the report's language."""

from __future__ import annotations

from jmo_doctor.i18n import say


def label(key: str, lang: str, /, **params: object) -> str:
    return say(key, lang, **params)
