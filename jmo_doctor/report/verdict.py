"""The verdict in words: one sentence that text, Markdown, Nagios and notifications share.

An OK verdict is a claim (SPEC §3): the sentence says "nothing is wrong" only when the
report is ``all_clear``; otherwise it says what was checked and what was not, or which
check did not finish. Read from the document, so a saved report words it the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jmo_doctor.report.labels import label
from jmo_doctor.report.view import ReportView

#: scope.not_checked reasons → their label; unknown reasons read as "not checked".
_REASONS = ("not_selected", "quick", "skipped", "error", "incomplete")


def _listed(ids: list[str] | tuple[str, ...], lang: str) -> str:
    return ", ".join(ids) if ids else label("nothing", lang)


def _scope_note(report: ReportView, lang: str) -> str:
    """What the all-clear leaves out: bandwidth under --quick, an unknown installed JMO."""
    notes = []
    if "quick" in report.scope.not_checked.values():
        notes.append(label("verdict.quick", lang))
    if report.scope.installed_version_known is False:
        notes.append(label("verdict.version_unknown", lang))
    return "".join(f" {note}" for note in notes)


def _partial(report: ReportView, lang: str) -> str:
    """Status ok, but not every judge looked: speak only of what was checked."""
    missing = report.scope.not_checked
    why = sorted({label(f"verdict.reason.{r}", lang) for r in missing.values() if r in _REASONS})
    return label(
        "verdict.partial",
        lang,
        checked=_listed(report.scope.checked, lang),
        not_checked=_listed(sorted(missing), lang),
        why="; ".join(why) or "-",
    )


def sentence(
    doc: Mapping[str, Any] | ReportView,
    lang: str,
    *,
    short: bool = False,
    steps_below: bool = False,
) -> str:
    """The verdict after the status word, without the exit code.

    ``short`` is for one-line channels (Nagios, notifications): the first cause's title
    alone, without the pointer to the steps that only the full report shows.
    ``steps_below`` is for a page that puts the verdict first and the steps after it
    (Markdown); the text report ends with its verdict, so there the steps are above.
    """
    report = ReportView.of(doc)
    if report.error is not None:  # the check could not be done at all
        return report.error
    cause = report.first_cause
    status = report.status
    # all_clear can sit beside a warning: an invalid KPJ typed for this very check
    if report.all_clear and status in ("ok", "warning"):
        if short:
            return label("all_clear", lang)
        said = label("all_clear", lang) + _scope_note(report, lang)
        if cause is not None:
            said += f" {label('most_likely', lang)} {cause.title or ''}."
        return said
    if cause is not None and status != "ok":
        title = cause.title or ""
        follow = label("follow_steps_below" if steps_below else "follow_steps", lang)
        return title if short else f"{title}. {follow}"
    if status == "ok":
        return _partial(report, lang)
    unfinished = sorted(k for k, v in report.scope.not_checked.items() if v == "error")
    if unfinished:
        return label("verdict.unfinished", lang, probes=", ".join(unfinished))
    return label("no_causes", lang)
