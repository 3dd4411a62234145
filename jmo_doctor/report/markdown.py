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

from jmo_doctor.report.labels import label
from jmo_doctor.report.text import plain, verdict_line
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


def render(doc: Mapping[str, Any]) -> str:
    run = doc.get("run", {})
    lang = run.get("lang", "id")
    out = [
        f"# jmo-doctor {text(doc.get('tool', {}).get('version', ''))}",
        "",
        # the verdict is safe for a terminal already (text.verdict_line): only escaped here
        f"**{_INLINE.sub(_escape, plain([verdict_line(doc, lang)]).strip())}**",
        "",
        f"{code(run.get('started_at', ''))} · {text(run.get('duration_s', 0))} s · "
        f"{text(doc.get('environment', {}).get('platform', ''))} · run {code(run.get('id', ''))}",
        "",
    ]
    causes = doc.get("causes", [])
    if causes:
        out += [f"## {label('causes', lang)}", ""]
    for cause in causes:
        out += _cause(cause, lang)
    out += [
        f"## {label('probes', lang)}",
        "",
        "| probe | status | summary |",
        "| --- | --- | --- |",
    ]
    for probe in doc.get("probes", []):
        out.append(
            f"| {text(probe.get('id'))} | {text(probe.get('status'))} | "
            f"{text(probe.get('summary', ''))} |"
        )
    findings = [finding for probe in doc.get("probes", []) for finding in probe.get("findings", [])]
    if findings:
        out += ["", "| code | target | message |", "| --- | --- | --- |"]
        for finding in findings:
            out.append(
                f"| {code(finding.get('code'), in_table=True)} | "
                f"{text(finding.get('target') or '')} | {text(finding.get('message', ''))} |"
            )
    out += ["", f"_{label('redacted' if doc.get('redacted') else 'not_redacted', lang)}_", ""]
    return "\n".join(out)


def _cause(cause: Mapping[str, Any], lang: str) -> list[str]:
    confidence = label("confidence." + str(cause.get("confidence")), lang)
    out = [
        f"### {text(cause.get('rank'))}. {text(cause.get('title'))} ({code(cause.get('id'))})",
        "",
        f"*{label('confidence', lang)}: {text(confidence)}*",
        "",
        block(cause.get("explanation", "")),
        "",
        f"**{label('fix', lang)}:**",
        "",
    ]
    out += [f"{n}. {block(step)}" for n, step in enumerate(cause.get("fix", []), start=1)]
    if cause.get("evidence"):
        evidence = ", ".join(code(e) for e in cause["evidence"])
        out += ["", f"{label('evidence', lang)}: {evidence}"]
    out.append("")
    return out
