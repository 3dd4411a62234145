"""Text report for people: the checks, the causes with their steps, the verdict last.

The layout is built once as styled spans; :func:`plain` drops the styles (pipes, files,
``NO_COLOR``) and :func:`print_rich` hands them to rich on a colour terminal. Only this
module knows colours and glyphs.

Everything in a report may come from outside (a saved file, a server's answer, a
plug-in): every span passes through :func:`~jmo_doctor.safetext.one_line` once, when the
layout is finished, so no escape sequence reaches a terminal; rich is given ``Text``
objects, never markup, so ``[link=…]`` in a report stays text. The layout is linear in
the size of the report: a 4 MB summary costs what copying it costs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import IO, Any

from jmo_doctor.report import verdict
from jmo_doctor.report.data_usage import megabytes
from jmo_doctor.report.labels import label
from jmo_doctor.report.view import CauseView, ProbeView, ReportView
from jmo_doctor.safetext import one_line

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
#: Probe ids are aligned in a column up to this length: a longer one (a hostile report)
#: must not pad every other row to its length.
_ID_COLUMN_MAX = 16
#: Text beside a head that leaves less room than this goes under the head instead.
_MIN_TEXT_WIDTH = 24
# What textwrap breaks at: a no-break space keeps "10 s" together.
_WORD = re.compile(r"[^ \t\n\r\x0b\x0c]+")


def wrap_words(text: str, width: int, first_width: int | None = None) -> list[str]:
    """``text`` in lines of at most ``width`` characters (the first ``first_width``).

    Lines break between words, as ``textwrap.wrap`` does for prose, but in linear time:
    textwrap re-slices the rest of an over-long word for every line it fills (a 4 MB word
    took seconds, 16 MB minutes). Here each character of ``text`` is copied once: a word
    longer than a line fills what is left of the current line, then whole lines.
    """
    later = max(1, width)
    first = max(1, width if first_width is None else first_width)
    lines: list[str] = []
    line: list[str] = []
    used = 0  # length of ``line`` joined with spaces
    for match in _WORD.finditer(text):
        start, end = match.span()
        limit = later if lines else first
        gap = 1 if line else 0
        if used + gap + end - start <= limit:
            line.append(text[start:end])
            used += gap + end - start
            continue
        room = limit - used - gap
        if line and end - start > limit and room > 0:  # an over-long word starts here
            line.append(text[start : start + room])
            start += room
        if line:
            lines.append(" ".join(line))
        while end - start > (limit := later if lines else first):
            lines.append(text[start : start + limit])
            start += limit
        line, used = [text[start:end]], end - start
    if line:
        lines.append(" ".join(line))
    return lines


def _wrap(text: str, indent: int, style: str = "", hanging: int = 0) -> list[Line]:
    """``text`` wrapped at ``indent``; continuation lines ``hanging`` further in."""
    lines = wrap_words(text, WIDTH - indent - hanging, first_width=WIDTH - indent) or [""]
    first, more = " " * indent, " " * (indent + hanging)
    return [[((more if n else first) + line, style)] for n, line in enumerate(lines)]


def _beside(head: Span, text: str, style: str = "") -> list[Line]:
    """``head`` with ``text`` wrapped beside it, or under it when the head is too wide."""
    room = WIDTH - len(head[0])
    if room < _MIN_TEXT_WIDTH:
        return [[head], *_wrap(text, 8, style)]
    lines = wrap_words(text, room) or [""]
    indent = " " * len(head[0])
    return [[head, (lines[0], style)], *[[(indent + more, style)] for more in lines[1:]]]


def _seconds(value: Any, lang: str) -> str:
    number = float(value) if isinstance(value, int | float) else 0.0
    shown = f"{number:.1f}"
    return (shown.replace(".", ",") if lang == "id" else shown) + " " + label("seconds", lang)


def _data_line(count: float | None, lang: str) -> list[Line]:
    """What the run cost in data, one short line (absent from reports made before it)."""
    if count is None:
        return []
    return [[(label("data_used", lang).format(amount=megabytes(count, lang)), "dim")]]


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def _article(section: Any, lang: str) -> str:
    if section == "intro":
        return label("article_intro", lang)
    if isinstance(section, int):
        return f"{label('article', lang)} {section}"
    return ""


def layout(doc: Mapping[str, Any] | ReportView, *, verbose: bool = False) -> list[Line]:
    """The report as styled lines, every span safe to print on a terminal."""
    return _printable(_layout(ReportView.of(doc), verbose))


def _printable(lines: list[Line]) -> list[Line]:
    # The one place report text is made safe: every span is a single line by now.
    return [[(one_line(text), style) for text, style in line] for line in lines]


def _layout(report: ReportView, verbose: bool) -> list[Line]:
    run, lang = report.run, report.lang
    out: list[Line] = [
        [
            (f"jmo-doctor {report.version}", "bold"),
            (f" · {run.started_at_text.replace('T', ' ').replace('Z', ' UTC')}", "dim"),
            (f" · {_seconds(run.duration_s or 0, lang)}", "dim"),
        ],
        *_data_line(run.data_bytes, lang),
        [],
        [(label("probes", lang), "bold underline")],
    ]
    id_column = _id_column(report.probes)
    for probe in report.probes:
        out += _probe_lines(probe, id_column, verbose)
    if report.causes:
        out += [[], [(label("causes", lang), "bold underline")]]
    for cause in report.causes:
        out += _cause_lines(cause, lang)
    if report.warnings:
        out += [[], [(label("warnings", lang), "bold yellow")]]
        for warning in report.warnings:
            out += _wrap(f"- {warning}", 2, "yellow", hanging=2)
    out += [[], [(label("redacted" if report.redacted else "not_redacted", lang), "dim")]]
    out.append(_verdict_spans(report, lang))
    return out


def _id_column(probes: Sequence[ProbeView]) -> int:
    return min(_ID_COLUMN_MAX, max((len(p.id) for p in probes), default=6))


def _probe_lines(probe: ProbeView, id_column: int, verbose: bool) -> list[Line]:
    status = probe.status
    style = _PROBE_STYLE.get(status, "")
    head = f"  [{_PROBE_MARK.get(status, '?')}] {probe.id.ljust(id_column)}  "
    out = _beside((head, style), probe.summary)
    if status in ("pass", "skip") and not verbose:
        return out
    for finding in probe.findings:
        message = finding.code if finding.message is None else finding.message
        out += _wrap(f"- {message}", 8, "dim", hanging=2)
    if verbose and probe.metrics:
        metrics = ", ".join(f"{k}={_number(v)}" for k, v in sorted(probe.metrics.items()))
        out += _wrap(metrics, 8, "dim")
    return out


def _cause_lines(cause: CauseView, lang: str) -> list[Line]:
    severity = cause.severity
    confidence = label(f"confidence.{cause.confidence}", lang)
    tags = [f"{label('confidence', lang)} {confidence}"]
    if severity != "ok":
        tags.insert(0, label(f"status.{severity}", lang).lower())
    if article := _article(cause.article_section, lang):
        tags.append(article)
    head = f"  {'?' if cause.rank is None else cause.rank}. "
    title = cause.id if cause.title is None else cause.title
    title_style = _STATUS_STYLE.get(severity, "bold")
    tag_text = f"[{' · '.join(tags)}]"
    out: list[Line]
    if len(head) + len(title) + 2 + len(tag_text) <= WIDTH:
        out = [[(head, "bold"), (title, title_style), (f"  {tag_text}", "dim")]]
    else:  # a long title keeps its own lines; the tags go under it
        out = _beside((head, "bold"), title, title_style)
        out.append([(" " * min(len(head), 8) + tag_text, "dim")])
    out += _wrap(cause.explanation, 5)
    if cause.fix:
        out.append([(f"     {label('fix', lang)}:", "bold")])
    for number, step in enumerate(cause.fix, start=1):
        out += _beside((f"       {number}. ", ""), step)
    if cause.evidence:
        evidence = f"{label('evidence', lang)}: " + ", ".join(cause.evidence)
        out += _wrap(evidence, 5, "dim")
    return out


def verdict_line(doc: Mapping[str, Any] | ReportView, lang: str) -> Line:
    """The one line a person reads: status, the first cause, what to do, the exit code."""
    return _printable([_verdict_spans(ReportView.of(doc), lang)])[0]


def _verdict_spans(report: ReportView, lang: str) -> Line:
    status = report.status
    code = f"{label('exit_code', lang)} {report.exit_code}"
    return [
        (f"{label('verdict', lang)}: ", "bold"),
        (label(f"status.{status}", lang), _STATUS_STYLE.get(status, "bold")),
        (f" — {verdict.sentence(report, lang)} ({code})", ""),
    ]


def plain(lines: list[Line]) -> str:
    return "\n".join("".join(text for text, _ in line).rstrip() for line in lines) + "\n"


def print_rich(lines: list[Line], stream: IO[str]) -> None:
    from rich.console import Console
    from rich.text import Text

    console = Console(file=stream, highlight=False, soft_wrap=True)
    # One Text for the whole report: rich's cost per print call (about 0.1 ms) made a
    # report of 50 000 lines take seconds. Text.append takes the content as it is: no
    # markup, no emoji codes.
    report = Text()
    for line in lines:
        for content, style in line:
            report.append(content, style=style or None)
        report.append("\n")
    console.print(report, end="")
