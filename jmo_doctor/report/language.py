"""A saved report in another language (``report show --lang``).

A support agent who reads English gets an Indonesian user's report. What a probe said is
stored in every language beside the text (``summary_texts``, ``message_texts``); a cause
the catalogue knows is worded again from the catalogue by its id. Whatever has no other
language (an old report, a plug-in's own text, a cause this version does not know) keeps
the text it was saved with.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from jmo_doctor import catalogue

Document = dict[str, Any]


def _said_in(entry: dict[str, Any], key: str, lang: str) -> None:
    texts = entry.get(f"{key}_texts")
    if isinstance(texts, Mapping) and isinstance(texts.get(lang), str):
        entry[key] = texts[lang]


def _cause_in(cause: dict[str, Any], lang: str) -> None:
    try:
        words = catalogue.entry(str(cause.get("id"))).text(lang)
    except (
        catalogue.UnknownCauseError
    ):  # a plug-in's cause that is not installed here, or a newer one
        return
    cause.update(title=words.title, explanation=words.explanation, fix=list(words.fix))


def in_language(doc: Mapping[str, Any], lang: str) -> Document:
    """A copy of the (validated) report ``doc`` whose words are in ``lang``."""
    shown: Document = copy.deepcopy(dict(doc))
    shown["run"]["lang"] = lang
    for probe in shown.get("probes", []):
        _said_in(probe, "summary", lang)
        for finding in probe.get("findings", []):
            _said_in(finding, "message", lang)
    for cause in shown.get("causes", []):
        _cause_in(cause, lang)
    return shown
