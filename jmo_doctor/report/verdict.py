"""The verdict in words: one sentence that text, Markdown, Nagios and notifications share.

An OK verdict is a claim (SPEC §3): the sentence says "nothing is wrong" only when the
report is ``all_clear``; otherwise it says what was checked and what was not, or which
check did not finish. Read from the document, so a saved report words it the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jmo_doctor.report.labels import label
from jmo_doctor.report.metrics import first_cause

#: scope.not_checked reasons → their label; unknown reasons read as "not checked".
_REASONS = ("not_selected", "quick", "skipped", "error", "incomplete")


def _scope(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    scope = doc.get("scope")
    return scope if isinstance(scope, Mapping) else {}


def _not_checked(doc: Mapping[str, Any]) -> dict[str, str]:
    raw = _scope(doc).get("not_checked")
    if not isinstance(raw, Mapping):
        return {}
    return {str(k): str(v) for k, v in raw.items()}


def _listed(ids: list[str], lang: str) -> str:
    return ", ".join(ids) if ids else label("nothing", lang)


def _scope_note(doc: Mapping[str, Any], lang: str) -> str:
    """What the all-clear leaves out: bandwidth under --quick, an unknown installed JMO."""
    notes = []
    if "quick" in _not_checked(doc).values():
        notes.append(label("verdict.quick", lang))
    if _scope(doc).get("installed_version_known") is False:
        notes.append(label("verdict.version_unknown", lang))
    return "".join(f" {note}" for note in notes)


def _partial(doc: Mapping[str, Any], lang: str) -> str:
    """Status ok, but not every judge looked: speak only of what was checked."""
    checked = [str(each) for each in _scope(doc).get("checked") or ()]
    missing = _not_checked(doc)
    why = sorted({label(f"verdict.reason.{r}", lang) for r in missing.values() if r in _REASONS})
    return label("verdict.partial", lang).format(
        checked=_listed(checked, lang),
        not_checked=_listed(sorted(missing), lang),
        why="; ".join(why) or "-",
    )


def sentence(doc: Mapping[str, Any], lang: str, *, short: bool = False) -> str:
    """The verdict after the status word, without the exit code.

    ``short`` is for one-line channels (Nagios, notifications): the first cause's title
    alone, without the pointer to the steps that only the full report shows.
    """
    error = doc.get("error")
    if isinstance(error, str) and error:  # the check could not be done at all
        return error
    cause = first_cause(doc)
    status = str(doc.get("status", "unknown"))
    # all_clear can sit beside a warning: an invalid KPJ typed for this very check
    if doc.get("all_clear") and status in ("ok", "warning"):
        if short:
            return label("all_clear", lang)
        said = label("all_clear", lang) + _scope_note(doc, lang)
        if cause is not None:
            said += f" {label('most_likely', lang)} {cause.get('title', '')}."
        return said
    if cause is not None and status != "ok":
        title = str(cause.get("title", ""))
        return title if short else f"{title}. {label('follow_steps', lang)}"
    if status == "ok":
        return _partial(doc, lang)
    unfinished = sorted(k for k, v in _not_checked(doc).items() if v == "error")
    if unfinished:
        return label("verdict.unfinished", lang).format(probes=", ".join(unfinished))
    return label("no_causes", lang)
