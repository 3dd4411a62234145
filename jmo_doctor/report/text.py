"""Text report for people: the checks, the causes with their steps, the verdict last.

The layout is built once as styled spans; :func:`plain` drops the styles (pipes, files,
``NO_COLOR``) and :func:`print_rich` hands them to rich on a colour terminal. Only this
module knows colours and glyphs.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import IO, Any

from jmo_doctor.report.labels import label

Span = tuple[str, str]  # (text, rich style or "")
Line = list[Span]

_PROBE_MARK = {"pass": "+", "warn": "!", "fail": "x", "skip": "-", "error": "?"}
_PROBE_STYLE = {
    "pass": "green",
    "warn": "yellow",
    "fail": "bold red",
    "skip": "dim",
    "error": "magenta",
}
_STATUS_STYLE = {
    "ok": "bold green",
    "warning": "bold yellow",
    "critical": "bold red",
    "unknown": "bold magenta",
}
WIDTH = 88


def _wrap(text: str, indent: int, style: str = "", hanging: int = 0) -> list[Line]:
    """``text`` wrapped at ``indent``; continuation lines ``hanging`` further in."""
    lines = textwrap.wrap(
        text,
        width=WIDTH,
        initial_indent=" " * indent,
        subsequent_indent=" " * (indent + hanging),
    )
    return [[(line, style)] for line in lines or [""]]


def _seconds(value: Any, lang: str) -> str:
    number = float(value) if isinstance(value, int | float) else 0.0
    shown = f"{number:.1f}"
    return (shown.replace(".", ",") if lang == "id" else shown) + " " + label("seconds", lang)


def _article(section: Any, lang: str) -> str:
    if section == "intro":
        return label("article_intro", lang)
    if isinstance(section, int):
        return f"{label('article', lang)} {section}"
    return ""


def layout(doc: Mapping[str, Any], *, verbose: bool = False) -> list[Line]:
    run = doc.get("run", {})
    lang = run.get("lang", "id") if run.get("lang") in ("id", "en") else "id"
    tool = doc.get("tool", {})
    out: list[Line] = [
        [
            (f"jmo-doctor {tool.get('version', '')}", "bold"),
            (f" · {str(run.get('started_at', '')).replace('T', ' ').replace('Z', ' UTC')}", "dim"),
            (f" · {_seconds(run.get('duration_s', 0), lang)}", "dim"),
        ],
        [],
        [(label("probes", lang), "bold underline")],
    ]
    probes = doc.get("probes", [])
    width = max((len(str(p.get("id", ""))) for p in probes), default=6)
    for probe in probes:
        status = str(probe.get("status", "error"))
        style = _PROBE_STYLE.get(status, "")
        head = f"  [{_PROBE_MARK.get(status, '?')}] {str(probe.get('id', '')).ljust(width)}  "
        summary_lines = textwrap.wrap(str(probe.get("summary", "")), WIDTH - len(head)) or [""]
        out.append([(head, style), (summary_lines[0], "")])
        out.extend([[(" " * len(head) + more, "")] for more in summary_lines[1:]])
        if status in ("pass", "skip") and not verbose:
            continue
        for finding in probe.get("findings", []):
            message = finding.get("message", finding.get("code", ""))
            out.extend(_wrap(f"- {message}", 8, "dim", hanging=2))
        if verbose and probe.get("metrics"):
            metrics = ", ".join(f"{k}={v:g}" for k, v in sorted(probe["metrics"].items()))
            out.extend(_wrap(metrics, 8, "dim"))
    causes = doc.get("causes", [])
    if causes:
        out += [[], [(label("causes", lang), "bold underline")]]
    for cause in causes:
        severity = str(cause.get("severity", "ok"))
        confidence = label(f"confidence.{cause.get('confidence')}", lang)
        tags = [f"{label('confidence', lang)} {confidence}"]
        if severity != "ok":
            tags.insert(0, label(f"status.{severity}", lang).lower())
        if article := _article(cause.get("article_section"), lang):
            tags.append(article)
        head = f"  {cause.get('rank', '?')}. "
        title = str(cause.get("title", cause.get("id", "")))
        tag_text = f"[{' · '.join(tags)}]"
        title_line: Line = [(head, "bold"), (title, _STATUS_STYLE.get(severity, "bold"))]
        if len(head) + len(title) + 2 + len(tag_text) <= WIDTH:
            out.append([*title_line, (f"  {tag_text}", "dim")])
        else:  # a long title keeps its own line; the tags go under it
            out += [title_line, [(" " * len(head) + tag_text, "dim")]]
        out.extend(_wrap(str(cause.get("explanation", "")), 5))
        fixes = cause.get("fix", [])
        if fixes:
            out.append([(f"     {label('fix', lang)}:", "bold")])
            for number, step in enumerate(fixes, start=1):
                wrapped = textwrap.wrap(str(step), WIDTH - 10) or [""]
                out.append([(f"       {number}. {wrapped[0]}", "")])
                out.extend([[("          " + more, "")] for more in wrapped[1:]])
        if cause.get("evidence"):
            evidence = f"{label('evidence', lang)}: " + ", ".join(map(str, cause["evidence"]))
            out.extend(_wrap(evidence, 5, "dim"))
    if doc.get("warnings"):
        out += [[], [(label("warnings", lang), "bold yellow")]]
        for warning in doc["warnings"]:
            out.extend(_wrap(f"- {warning}", 2, "yellow", hanging=2))
    out += [[], [(label("redacted" if doc.get("redacted") else "not_redacted", lang), "dim")]]
    out.append(verdict_line(doc, lang))
    return out


def verdict_line(doc: Mapping[str, Any], lang: str) -> Line:
    """The one line a person reads: status, the first cause, what to do, the exit code."""
    status = str(doc.get("status", "unknown"))
    causes = doc.get("causes", [])
    if doc.get("all_clear"):
        first = label("all_clear", lang)
        if causes:
            first += f" {label('most_likely', lang)} {causes[0].get('title', '')}."
    elif causes:
        first = f"{causes[0].get('title', '')}. {label('follow_steps', lang)}"
    else:
        first = label("no_causes", lang)
    return [
        (f"{label('verdict', lang)}: ", "bold"),
        (label(f"status.{status}", lang), _STATUS_STYLE.get(status, "bold")),
        (f" — {first} ({label('exit_code', lang)} {doc.get('exit_code', 3)})", ""),
    ]


def plain(lines: list[Line]) -> str:
    return "\n".join("".join(text for text, _ in line).rstrip() for line in lines) + "\n"


def print_rich(lines: list[Line], stream: IO[str]) -> None:
    from rich.console import Console
    from rich.text import Text

    console = Console(file=stream, highlight=False, soft_wrap=True)
    for line in lines:
        text = Text()
        for content, style in line:
            text.append(content, style=style or None)
        console.print(text)
