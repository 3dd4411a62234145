"""Text report for people: the checks, the causes with their steps, the verdict last.

The layout is built once as styled spans; :func:`plain` drops the styles (pipes, files,
``NO_COLOR``) and :func:`print_rich` hands them to rich on a colour terminal. Only this
module knows colours and glyphs.

Everything in a report may come from outside (a saved file, a server's answer, a
plug-in): every span passes through :func:`~jmo_doctor.safetext.one_line` once, when the
layout is finished, so no escape sequence reaches a terminal; rich is given ``Text``
objects, never markup, so ``[link=…]`` in a report stays text. The layout is linear in
the size of the report: a 4 MB summary costs what copying it costs.

Lines fit a given width (SPEC §3: the terminal's, down to 40 columns for a phone in
Termux, see :func:`terminal_width`); they break between words, and a word longer than a
line (a URL, a host) starts a line of its own and is cut only where no line holds it.
"""

from __future__ import annotations

import itertools
import os
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
#: The width when nothing says otherwise (a file, a pipe, COLUMNS unset).
WIDTH = 80
#: The narrowest layout: a phone in portrait in Termux is 40-60 columns wide.
MIN_WIDTH = 40
#: Wider lines are hard to read on a wide terminal; the text stops here.
MAX_WIDTH = 100
#: Probe ids are aligned in a column up to this length: a longer one (a hostile report)
#: must not pad every other row to its length.
_ID_COLUMN_MAX = 16
#: Narrower than this is a phone: indents shrink, probe summaries run on under their head.
_PHONE = 60
#: Text beside a head that leaves less room than this goes under the head instead.
_MIN_TEXT_WIDTH = 20
#: Findings shown under a probe without --verbose: an offline phone's DNS probe alone has
#: fifteen, one per resolver and host, and they would push the verdict screens away. The
#: JSON report and --verbose keep every one.
_FINDINGS_SHOWN = 3
# What textwrap breaks at: a no-break space keeps "10 s" together.
_WORD = re.compile(r"[^ \t\n\r\x0b\x0c]+")
_BLANK = " \t\n\r\x0b\x0c"
#: A numbered step in plain text ("  2. Restart…"): its lines continue under the words.
_MARKER = re.compile(r"\s*(?:\d+\.\s+)?")


def fit_width(columns: int) -> int:
    """``columns`` brought into the range the layout is made for."""
    return max(MIN_WIDTH, min(MAX_WIDTH, columns))


def terminal_width(stream: IO[str] | None) -> int:
    """The width to lay text out for: ``COLUMNS``, else ``stream``'s terminal, else 80.

    Only a terminal's own size is asked: a report written to a file or a pipe is laid out
    for 80 columns, the same on every machine, unless ``COLUMNS`` says otherwise.
    """
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit():
        return fit_width(int(columns))
    try:
        if stream is not None and stream.isatty():
            return fit_width(os.get_terminal_size(stream.fileno()).columns)
    except (AttributeError, OSError, ValueError):  # no fileno, or no size (a dumb pty)
        pass
    return WIDTH


def wrap_words(text: str, width: int, first_width: int | None = None) -> list[str]:
    """``text`` in lines of at most ``width`` characters (the first ``first_width``).

    Lines break between words, as ``textwrap.wrap`` does for prose, but in linear time:
    textwrap re-slices the rest of an over-long word for every line it fills (a 4 MB word
    took seconds, 16 MB minutes). Here each character of ``text`` is copied once. A word
    that does not fit goes to the next line whole; only a word longer than a whole line
    (a URL, a hostile summary) is cut, into full lines, without a hyphen or a lost
    character.
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
        if line:
            lines.append(" ".join(line))
        while end - start > (limit := later if lines else first):
            lines.append(text[start : start + limit])
            start += limit
        line, used = [text[start:end]], end - start
    if line:
        lines.append(" ".join(line))
    return lines


def _wrap(text: str, indent: int, width: int, style: str = "", hanging: int = 0) -> list[Line]:
    """``text`` wrapped at ``indent``; continuation lines ``hanging`` further in."""
    lines = wrap_words(text, width - indent - hanging, first_width=width - indent) or [""]
    first, more = " " * indent, " " * (indent + hanging)
    return [[((more if n else first) + line, style)] for n, line in enumerate(lines)]


def _beside(head: Span, text: str, width: int, style: str = "") -> list[Line]:
    """``head`` with ``text`` wrapped beside it, or under it when the head is too wide."""
    room = width - len(head[0])
    if room < _MIN_TEXT_WIDTH:
        return [[head], *_wrap(text, min(8, len(head[0])), width, style)]
    lines = wrap_words(text, room) or [""]
    indent = " " * len(head[0])
    return [[head, (lines[0], style)], *[[(indent + more, style)] for more in lines[1:]]]


def _wrap_spans(line: Line, width: int, hanging: int = 0) -> list[Line]:
    """A styled line wrapped like :func:`wrap_words`, each character keeping its style.

    The words come out in order with only the spaces between them changed, so walking
    the source once gives every character of the result its style.
    """
    source = "".join(text for text, _ in line)
    styles = [style for text, style in line for _ in text]
    wrapped = wrap_words(source, width - hanging, first_width=width) or [""]
    out: list[Line] = []
    at = 0
    for number, text in enumerate(wrapped):
        styled: list[tuple[str, str]] = [(" ", "")] * (hanging if number else 0)
        for char in text:
            if char == " ":  # a space between words: styled as the source's blank
                gap = at < len(source) and source[at] in _BLANK
                styled.append((char, styles[at] if gap else ""))
                continue
            while source[at] in _BLANK:
                at += 1
            styled.append((char, styles[at]))
            at += 1
        runs = itertools.groupby(styled, key=lambda pair: pair[1])
        out.append([("".join(char for char, _ in run), style) for style, run in runs])
    return out


def wrap_plain(text: str, width: int, *, indent: int = 0, hanging: int = 0) -> list[Line]:
    """One line of outside text, wrapped and made safe: lines for :func:`plain`."""
    return _printable(_wrap(text, indent, fit_width(width), hanging=hanging))


def columns(head: str, text: str, width: int, column: int) -> list[str]:
    """Plain ``text`` beside ``head`` from ``column`` on, or under it (indented) when the
    room left beside it is too small: a list of ids and titles on a phone."""
    width = fit_width(width)
    if width - column >= _MIN_TEXT_WIDTH:
        lines = wrap_words(text, width - column) or [""]
        return [head.ljust(column) + lines[0], *(" " * column + line for line in lines[1:])]
    return [head, *("    " + line for line in wrap_words(text, width - 4))]


def wrap_block(text: str, width: int) -> str:
    """Plain text of paragraphs and numbered steps, each line wrapped to ``width``.

    A line's leading spaces and its step number stay; its continuation lines start under
    its first word.
    """
    out: list[str] = []
    for source in text.split("\n"):
        marker = _MARKER.match(source)
        head = marker.group() if marker else ""
        if not source.strip():
            out.append("")
            continue
        lines = wrap_words(source[len(head) :], width - len(head)) or [""]
        out += [(head if n == 0 else " " * len(head)) + line for n, line in enumerate(lines)]
    return "\n".join(out)


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


def layout(
    doc: Mapping[str, Any] | ReportView, *, verbose: bool = False, width: int = WIDTH
) -> list[Line]:
    """The report as styled lines of at most ``width`` columns, every span safe to print
    on a terminal."""
    return _printable(_layout(ReportView.of(doc), verbose, fit_width(width)))


def _printable(lines: list[Line]) -> list[Line]:
    # The one place report text is made safe: every span is a single line by now.
    return [[(one_line(text), style) for text, style in line] for line in lines]


def _layout(report: ReportView, verbose: bool, width: int) -> list[Line]:
    run, lang = report.run, report.lang
    heading: Line = [
        (f"jmo-doctor {report.version}", "bold"),
        (f" · {run.started_at_text.replace('T', ' ').replace('Z', ' UTC')}", "dim"),
        (f" · {_seconds(run.duration_s or 0, lang)}", "dim"),
    ]
    out: list[Line] = [
        *_wrap_spans(heading, width),
        *_data_line(run.data_bytes, lang),
        [],
        [(label("probes", lang), "bold underline")],
    ]
    id_column = _id_column(report.probes)
    for probe in report.probes:
        out += _probe_lines(probe, id_column, verbose, width, lang)
    if report.causes:
        out += [[], [(label("causes", lang), "bold underline")]]
    for cause in report.causes:
        out += _cause_lines(cause, lang, width, verbose)
    if report.warnings:
        out += [[], [(label("warnings", lang), "bold yellow")]]
        for warning in report.warnings:
            out += _wrap(f"- {warning}", 2, width, "yellow", hanging=2)
    privacy = label("redacted" if report.redacted else "not_redacted", lang)
    out += [[], *_wrap(privacy, 0, width, "dim")]
    out += _wrap_spans(_verdict_spans(report, lang), width, hanging=2)
    return out


def _id_column(probes: Sequence[ProbeView]) -> int:
    return min(_ID_COLUMN_MAX, max((len(p.id) for p in probes), default=6))


def _probe_lines(
    probe: ProbeView, id_column: int, verbose: bool, width: int, lang: str
) -> list[Line]:
    status = probe.status
    style = _PROBE_STYLE.get(status, "")
    mark = f"[{_PROBE_MARK.get(status, '?')}]"
    if width < _PHONE:  # no column: the summary runs on under the head, as prose does
        out = _run_on((f"{mark} {probe.id} ", style), probe.summary, width, indent=4)
        details = 2
    else:
        out = _beside((f"  {mark} {probe.id.ljust(id_column)}  ", style), probe.summary, width)
        details = 8
    if status in ("pass", "skip") and not verbose:
        return out
    shown = probe.findings if verbose else probe.findings[:_FINDINGS_SHOWN]
    for finding in shown:
        message = finding.code if finding.message is None else finding.message
        out += _wrap(f"- {message}", details, width, "dim", hanging=2)
    if hidden := len(probe.findings) - len(shown):
        out += _wrap(label("more_findings", lang, count=hidden), details, width, "dim")
    if verbose and probe.metrics:
        metrics = ", ".join(f"{k}={_number(v)}" for k, v in sorted(probe.metrics.items()))
        out += _wrap(metrics, details, width, "dim")
    return out


def _run_on(head: Span, text: str, width: int, indent: int) -> list[Line]:
    """``head`` with ``text`` after it; the text's later lines start ``indent`` in."""
    first = width - len(head[0])
    if first < _MIN_TEXT_WIDTH // 2:  # a head as wide as the screen: text under it
        return [[head], *_wrap(text, indent, width)]
    lines = wrap_words(text, width - indent, first_width=first) or [""]
    return [[head, (lines[0], "")], *[[(" " * indent + line, "")] for line in lines[1:]]]


def _narrow(indent: int, width: int) -> int:
    """An indent, halved below 60 columns: on a phone every column is a letter."""
    return indent if width >= _PHONE else (indent + 1) // 2


def _counted(evidence: Sequence[str]) -> list[str]:
    """``dns.timeout@bpjs-www, dns.timeout@google`` as ``dns.timeout ×2``: the codes say
    what was found; which hosts, --verbose and the JSON report say."""
    counts: dict[str, int] = {}
    for item in evidence:
        code = item.partition("@")[0]
        counts[code] = counts.get(code, 0) + 1
    return [code if n == 1 else f"{code} ×{n}" for code, n in counts.items()]


def _cause_lines(cause: CauseView, lang: str, width: int, verbose: bool = False) -> list[Line]:
    severity = cause.severity
    confidence = label(f"confidence.{cause.confidence}", lang)
    tags = [f"{label('confidence', lang)} {confidence}"]
    if severity != "ok":
        tags.insert(0, label(f"status.{severity}", lang).lower())
    if article := _article(cause.article_section, lang):
        tags.append(article)
    indent = "  " if width >= _PHONE else ""  # on a phone the number starts the line
    head = f"{indent}{'?' if cause.rank is None else cause.rank}. "
    title = cause.id if cause.title is None else cause.title
    title_style = _STATUS_STYLE.get(severity, "bold")
    tag_text = f"[{' · '.join(tags)}]"
    out: list[Line]
    if len(head) + len(title) + 2 + len(tag_text) <= width:
        out = [[(head, "bold"), (title, title_style), (f"  {tag_text}", "dim")]]
    else:  # a long title keeps its own lines; the tags go under it
        out = _beside((head, "bold"), title, width, title_style)
        out += _wrap(tag_text, min(len(head), 8), width, "dim", hanging=1)
    body = _narrow(5, width)
    out += _wrap(cause.explanation, body, width)
    if cause.fix:
        out += _wrap(f"{label('fix', lang)}:", body, width, "bold")
    for number, step in enumerate(cause.fix, start=1):
        step_indent = 7 if width >= _PHONE else body
        out += _beside((" " * step_indent + f"{number}. ", ""), step, width)
    if cause.evidence:
        shown = cause.evidence if verbose else _counted(cause.evidence)
        evidence = f"{label('evidence', lang)}: " + ", ".join(shown)
        out += _wrap(evidence, body, width, "dim")
    return out


def short_layout(doc: Mapping[str, Any] | ReportView, *, width: int = WIDTH) -> list[Line]:
    """``run --short``: the first cause's summary and steps, then the verdict; one screen
    on a phone (about 20 rows at 40 columns)."""
    report, width = ReportView.of(doc), fit_width(width)
    lang, cause = report.lang, report.first_cause
    out: list[Line] = []
    if cause is not None:
        out += _wrap(cause.summary, 0, width) if cause.summary else []
        out += [[(f"{label('fix', lang)}:", "bold")]] if cause.fix else []
        for number, step in enumerate(cause.fix, start=1):
            out += _beside((f"{number}. ", ""), step, width)
    out += _wrap_spans(_verdict_spans(report, lang, short=True), width, hanging=2)
    return _printable(out)


def verdict_line(doc: Mapping[str, Any] | ReportView, lang: str) -> Line:
    """The one line a person reads: status, the first cause, what to do, the exit code."""
    return _printable([_verdict_spans(ReportView.of(doc), lang)])[0]


def _verdict_spans(report: ReportView, lang: str, *, short: bool = False) -> Line:
    status = report.status
    code = f"{label('exit_code', lang)} {report.exit_code}"
    return [
        (f"{label('verdict', lang)}: ", "bold"),
        (label(f"status.{status}", lang), _STATUS_STYLE.get(status, "bold")),
        (f" — {verdict.sentence(report, lang, short=short)} ({code})", ""),
    ]


def plain(lines: list[Line]) -> str:
    return "\n".join("".join(text for text, _ in line).rstrip() for line in lines) + "\n"


def print_rich(lines: list[Line], stream: IO[str]) -> None:
    from rich.console import Console
    from rich.text import Text

    # the caller decided on styles (a terminal, or FORCE_COLOR through a pipe)
    console = Console(file=stream, highlight=False, soft_wrap=True, force_terminal=True)
    # One Text for the whole report: rich's cost per print call (about 0.1 ms) made a
    # report of 50 000 lines take seconds. Text.append takes the content as it is: no
    # markup, no emoji codes.
    report = Text()
    for line in lines:
        for content, style in line:
            report.append(content, style=style or None)
        report.append("\n")
    console.print(report, end="")
