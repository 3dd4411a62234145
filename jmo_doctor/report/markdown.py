"""Markdown report, for pasting into a support ticket.

A report may come from anyone, and a ticket is read by people who trust what it shows:
every value from the document is made printable (:func:`~jmo_doctor.safetext.printable`)
once and escaped, so it cannot add structure to the page. No raw HTML (``<script>``,
``<img>``), no links with a text that hides where they go, no table cells or rows of its
own, no headings, lists or code blocks, no emphasis faking the verdict. What stays is
readable as plain text too: a bare URL is still shown as itself, ``snake_case`` keeps its
underscores unescaped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from jmo_doctor.report import verdict
from jmo_doctor.report.labels import label
from jmo_doctor.report.view import CauseView, ReportView
from jmo_doctor.safetext import printable

# Inline syntax: escapes, code, emphasis, links and images, HTML and entities, cells.
# An underscore between two letters or digits never emphasises (CommonMark), so it stays.
_INLINE = re.compile(r"[\\`*\[\]<>&|~]|(?<![^\W_])_|_(?![^\W_])")
_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
# What makes a line a heading, quote, list item, rule or fence when it starts one.
_BLOCK_START = re.compile(r"[#>+=-]|\d+(?=[.)])")
_LINE_BREAKS = re.compile(r"\s*[\t\n]\s*")


def _flat(value: Any) -> str:
    """``value`` printable, on one line: a newline in data must not start a block."""
    return _LINE_BREAKS.sub(" ", printable(str(value))).strip()


def _escape(found: re.Match[str]) -> str:
    char = found.group()
    return _ENTITIES.get(char, "\\" + char)


def text(value: Any) -> str:
    """``value`` as inline Markdown text that renders as exactly its characters."""
    return _INLINE.sub(_escape, _flat(value))


def block(value: Any) -> str:
    """Like :func:`text`, for a value that starts a line (a paragraph, a list item)."""
    escaped = text(value)
    found = _BLOCK_START.match(escaped)
    if found is None:
        return escaped
    at = found.end() if found.group().isdigit() else 0  # "1." → "1\.", "#" → "\#"
    return escaped[:at] + "\\" + escaped[at:]


def code(value: Any, *, in_table: bool = False) -> str:
    """``value`` as a code span: a fence longer than any run of backticks inside."""
    content = _flat(value)
    if in_table:
        content = content.replace("|", "\\|")  # GFM splits cells before it sees code
    longest = max((len(run) for run in re.findall(r"`+", content)), default=0)
    fence = "`" * (longest + 1)
    padded = f" {content} " if content.startswith("`") or content.endswith("`") else content
    return f"{fence}{padded}{fence}"


def render(doc: Mapping[str, Any] | ReportView) -> str:
    report = ReportView.of(doc)
    run, lang = report.run, report.lang
    duration = 0 if run.duration_s is None else run.duration_s  # shown as the document has it
    out = [
        f"# jmo-doctor {text(report.version)}",
        "",
        f"**{text(_verdict(report, lang))}**",
        "",
        f"{code(run.started_at_text)} · {text(duration)} s · "
        f"{text(report.platform)} · {label('markdown.run', lang)} {code(run.id)}",
        "",
    ]
    if report.causes:
        out += [f"## {label('causes', lang)}", ""]
    for cause in report.causes:
        out += _cause(cause, lang)
    out += [
        f"## {label('probes', lang)}",
        "",
        _header(("probe", "status", "summary"), lang),
        "| --- | --- | --- |",
    ]
    for probe in report.probes:
        status = label(f"probe.{probe.status}", lang)
        out.append(f"| {text(probe.id)} | {text(status)} | {text(probe.summary)} |")
    if report.findings:
        out += ["", _header(("code", "target", "message"), lang), "| --- | --- | --- |"]
        for finding in report.findings:
            out.append(
                f"| {code(finding.code, in_table=True)} | {text(finding.target or '')} | "
                f"{text(finding.message or '')} |"
            )
    out += ["", f"_{label('redacted' if report.redacted else 'not_redacted', lang)}_", ""]
    return "\n".join(out)


def _header(columns: tuple[str, ...], lang: str) -> str:
    return "| " + " | ".join(label(f"markdown.{c}", lang) for c in columns) + " |"


def _verdict(report: ReportView, lang: str) -> str:
    """The text report's verdict line, but the steps come after it on this page."""
    status = label(f"status.{report.status}", lang)
    said = verdict.sentence(report, lang, steps_below=True)
    exit_code = f"{label('exit_code', lang)} {report.exit_code}"
    return f"{label('verdict', lang)}: {status} — {said} ({exit_code})"


def _cause(cause: CauseView, lang: str) -> list[str]:
    confidence = label("confidence." + cause.confidence, lang)
    out = [
        f"### {text(cause.rank)}. {text(cause.title)} ({code(cause.id)})",
        "",
        f"*{label('confidence', lang)}: {text(confidence)}*",
        "",
        block(cause.explanation),
        "",
        f"**{label('fix', lang)}:**",
        "",
    ]
    out += [f"{n}. {block(step)}" for n, step in enumerate(cause.fix, start=1)]
    if cause.evidence:
        evidence = ", ".join(code(e) for e in cause.evidence)
        out += ["", f"{label('evidence', lang)}: {evidence}"]
    out.append("")
    return out
