"""The report as one self-contained HTML page, for people who open attachments.

A support agent opens it from an email, a worker on a phone: the page needs nothing but
itself — inline CSS, charts drawn as inline SVG (:mod:`jmo_doctor.report.svg`), no script,
no font, no image, no link to fetch. It renders the document it is given, which ``run``
and ``report show`` have already redacted. A report may come from anyone: every value
from it is made printable and HTML-escaped (:func:`~jmo_doctor.report.svg.esc`) once, where
it is written, so it cannot add markup, script or a link to the page.

The order is the reader's: the verdict, the steps of the first cause, the pictures
(latency per target, throughput), then every cause with its evidence and every check with
its findings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from jmo_doctor.i18n import pick
from jmo_doctor.report import svg, verdict
from jmo_doctor.report.labels import label
from jmo_doctor.report.metrics import KEY_METRICS
from jmo_doctor.report.svg import esc
from jmo_doctor.report.view import CauseView, ProbeView, ReportView

if TYPE_CHECKING:
    from jmo_doctor.report.history import HistoryRow

WORDS: dict[str, dict[str, str]] = {
    "title": {"id": "Laporan jmo-doctor", "en": "jmo-doctor report"},
    "latency": {"id": "Latensi per tujuan", "en": "Latency per target"},
    "throughput": {"id": "Kecepatan internet", "en": "Internet speed"},
    "download": {"id": "unduh", "en": "download"},
    "upload": {"id": "unggah", "en": "upload"},
    "loss": {"id": "kehilangan {pct} %", "en": "loss {pct} %"},
    "not_measured": {"id": "tidak diukur", "en": "not measured"},
    "findings": {"id": "Temuan", "en": "Findings"},
    "run": {"id": "Pemeriksaan", "en": "Run"},
    "history_title": {"id": "Riwayat jmo-doctor", "en": "jmo-doctor history"},
    "history_runs": {"id": "{n} pemeriksaan", "en": "{n} runs"},
    "status_over_time": {"id": "Status dari waktu ke waktu", "en": "Status over time"},
    "history_empty": {
        "id": "Belum ada riwayat. Jalankan: jmo-doctor run",
        "en": "No history yet. Run: jmo-doctor run",
    },
    "time": {"id": "Waktu", "en": "Time"},
    "cause": {"id": "Penyebab utama", "en": "First cause"},
    "history_skipped": {
        "id": "Peringatan: {n} pemeriksaan tersimpan rusak dan dilewati",
        "en": "Warning: {n} stored run(s) damaged and skipped",
    },
}

_CSS = """
:root{color-scheme:light dark;--fg:#1b1b1b;--bg:#fff;--muted:#5f6368;--line:#d0d4d9}
@media (prefers-color-scheme:dark){:root{--fg:#e8eaed;--bg:#202124;--muted:#9aa0a6;--line:#3c4043}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:46rem;padding:.75rem;font:16px/1.45 system-ui,sans-serif;
color:var(--fg);background:var(--bg);overflow-wrap:anywhere}
h1{font-size:1.25rem;margin:.2rem 0}h2{font-size:1.1rem;margin:1.4rem 0 .4rem}
h3{font-size:1rem;margin:1rem 0 .3rem}
.verdict{border-left:.4rem solid;padding:.5rem .75rem;border-radius:.3rem}
.status{font-weight:700;letter-spacing:.03em;margin:0}
.ok{border-color:#2e7d32}.warning{border-color:#f9a825}.critical{border-color:#c62828}
.unknown{border-color:#6a1b9a}
.muted,footer{color:var(--muted);font-size:.9rem}
ol,ul{padding-left:1.4rem}li{margin:.2rem 0}
code{font-family:ui-monospace,monospace;font-size:.9em;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%}td,th{text-align:left;vertical-align:top;
padding:.3rem .4rem;border-bottom:1px solid var(--line)}
.chart{width:100%;height:auto;max-width:40rem;display:block;font:9px system-ui,sans-serif}
.chart text{fill:var(--fg)}.chart .group{font-weight:700}.chart .axis{stroke:var(--muted)}
td.k{white-space:nowrap}th{overflow-wrap:normal}
.pass{color:#2e7d32}.warn{color:#b26a00}.fail{color:#c62828}.error{color:#6a1b9a}
"""


def word(key: str, lang: str) -> str:
    return pick(WORDS[key], lang)


def page(title: str, lang: str, body: Sequence[str]) -> str:
    """A whole HTML document: viewport for phones, inline style, nothing fetched."""
    head = (
        f'<!DOCTYPE html>\n<html lang="{esc(lang)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        # belt and braces: even a bug here cannot make the page load anything
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">\n"
        f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
    )
    return head + "\n".join(body) + "\n</body>\n</html>\n"


def render(doc: Mapping[str, Any] | ReportView) -> str:
    report = ReportView.of(doc)
    lang = report.lang
    status = report.status if report.status in svg.STATUS_COLOURS else "unknown"
    body = [
        f'<header class="verdict {status}">',
        f'<p class="status">{esc(label(f"status.{status}", lang))}</p>',
        f"<h1>{esc(verdict.sentence(report, lang, short=True))}</h1>",
        "</header>",
    ]
    cause = report.first_cause
    if cause is not None and cause.fix and report.status != "ok":
        body += [f"<h2>{esc(label('fix', lang))}</h2>", _steps(cause.fix)]
    body.append(
        f'<p class="verdict {status}" id="verdict"><strong>{esc(label("verdict", lang))}:'
        f"</strong> {esc(label(f'status.{status}', lang))} — "
        f"{esc(verdict.sentence(report, lang))} ({esc(label('exit_code', lang))} "
        f"{report.exit_code})</p>"
    )
    body += _charts(report, lang)
    if report.causes:
        body.append(f"<h2>{esc(label('causes', lang))}</h2>")
        body += [_cause(each, lang) for each in report.causes]
    body += [f"<h2>{esc(label('probes', lang))}</h2>", _probes(report.probes, lang)]
    if report.warnings:
        body.append(f"<h2>{esc(label('warnings', lang))}</h2>")
        body.append("<ul>" + "".join(f"<li>{esc(w)}</li>" for w in report.warnings) + "</ul>")
    body.append(_footer(report, lang))
    return page(word("title", lang), lang, body)


def _steps(steps: Sequence[str]) -> str:
    return "<ol>" + "".join(f"<li>{esc(step)}</li>" for step in steps) + "</ol>"


def _charts(report: ReportView, lang: str) -> list[str]:
    out: list[str] = []
    missing = word("not_measured", lang)
    targets = report.tcp_targets()
    if targets:
        groups: list[tuple[str, Sequence[float | None]]] = []
        for name, stats in sorted(targets.items()):
            loss = stats.get("loss_pct")
            shown = (
                name if not loss else f"{name} · {word('loss', lang).format(pct=svg.number(loss))}"
            )
            groups.append(
                (shown, [stats.get(key) for key in ("rtt_min_ms", "rtt_median_ms", "rtt_p95_ms")])
            )
        title = word("latency", lang)
        out += [
            f"<h2>{esc(title)}</h2>",
            svg.bars(groups, ("min", "median", "p95"), "ms", title, missing),
        ]
    metrics = report.key_metrics()
    speeds = [metrics.get("download_mbps"), metrics.get("upload_mbps")]
    if report.probe("bandwidth") is not None:
        title = word("throughput", lang)
        names = (word("download", lang), word("upload", lang))
        groups = [(name, [value]) for name, value in zip(names, speeds, strict=True)]
        out += [f"<h2>{esc(title)}</h2>", svg.bars(groups, ("Mbit/s",), "Mbit/s", title, missing)]
    return out


def _cause(cause: CauseView, lang: str) -> str:
    confidence = label(f"confidence.{cause.confidence}", lang)
    parts = [
        f'<section class="cause" id="cause-{esc(cause.id)}">',
        f"<h3>{esc(cause.rank if cause.rank is not None else '')}. "
        f"{esc(cause.title or cause.id)} <code>{esc(cause.id)}</code></h3>",
        f'<p class="muted">{esc(label("confidence", lang))}: {esc(confidence)}</p>',
        f"<p>{esc(cause.explanation)}</p>",
    ]
    if cause.fix:
        parts += [f"<p><strong>{esc(label('fix', lang))}:</strong></p>", _steps(cause.fix)]
    if cause.evidence:
        codes = ", ".join(f"<code>{esc(code)}</code>" for code in cause.evidence)
        parts.append(f"<p>{esc(label('evidence', lang))}: {codes}</p>")
    parts.append("</section>")
    return "\n".join(parts)


def _probes(probes: Sequence[ProbeView], lang: str) -> str:
    rows = []
    for probe in probes:
        state = label(f"probe.{probe.status}", lang)
        findings = "".join(
            f"<li><code>{esc(f.code)}</code>"
            + (f" <code>{esc(f.target)}</code>" if f.target else "")
            + (f" {esc(f.message)}" if f.message else "")
            + "</li>"
            for f in probe.findings
        )
        rows.append(
            f'<tr><td class="k"><code>{esc(probe.id)}</code></td><td class="k {esc(probe.status)}">'
            f"{esc(state)}</td><td>{esc(probe.summary)}"
            + (f"<ul>{findings}</ul>" if findings else "")
            + "</td></tr>"
        )
    return "<table>" + "".join(rows) + "</table>"


def _footer(report: ReportView, lang: str) -> str:
    run = report.run
    duration = "" if run.duration_s is None else f" · {svg.number(run.duration_s)} s"
    note = label("redacted" if report.redacted else "not_redacted", lang)
    return (
        f"<footer><p>jmo-doctor {esc(report.version)} · {esc(run.started_at_text)}{duration} · "
        f"{esc(report.platform)} · {esc(word('run', lang))} <code>{esc(run.id)}</code></p>"
        f"<p>{esc(note)}</p></footer>"
    )


# --- the history ---------------------------------------------------------------------------


def render_history(rows: Sequence[HistoryRow], lang: str, *, tz: tzinfo | None = None) -> str:
    """The stored runs as one page: a chart per key metric, the status strip, the table."""
    from jmo_doctor.report.history import HistoryRows, cause_text

    title = word("history_title", lang)
    body = [f"<h1>{esc(title)}</h1>"]
    if isinstance(rows, HistoryRows) and rows.skipped:
        body.append(
            f"<p><strong>{esc(word('history_skipped', lang).format(n=rows.skipped))}</strong></p>"
        )
    if not rows:
        return page(title, lang, [*body, f"<p>{esc(word('history_empty', lang))}</p>"])

    def when(moment: datetime) -> str:
        return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")

    first, last = when(rows[0].started_at), when(rows[-1].started_at)
    body.append(f'<p class="muted">{esc(word("history_runs", lang).format(n=len(rows)))}: '
                f"{esc(first)} → {esc(last)}</p>")  # fmt: skip
    strip_title = word("status_over_time", lang)
    names = {s: label(f"status.{s}", lang) for s in svg.STATUS_COLOURS}
    body += [
        f"<h2>{esc(strip_title)}</h2>",
        svg.status_strip([row.status for row in rows], strip_title, names),
    ]
    for metric in KEY_METRICS:
        name = pick(metric.label, lang)
        values = [row.metrics.get(metric.column) for row in rows]
        unit = name.rpartition("(")[2].rstrip(")") if "(" in name else ""
        body += [
            f"<h2>{esc(name)}</h2>",
            svg.line(values, name, unit, first, last, word("not_measured", lang)),
        ]
    table = [
        f"<tr><th>{esc(word('time', lang))}</th><th>{esc(label('verdict', lang))}</th>"
        f"<th>{esc(word('cause', lang))}</th></tr>"
    ]
    for row in reversed(rows):  # newest first: what a person looks for
        table.append(
            f'<tr><td class="k">{esc(when(row.started_at))}</td>'
            f'<td class="k">{esc(label(f"status.{row.status}", lang))}</td>'
            f"<td>{esc(cause_text(row, lang))}</td></tr>"
        )
    body.append("<table>" + "".join(table) + "</table>")
    return page(title, lang, body)
