"""Markdown report, for pasting into a support ticket."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jmo_doctor.report.labels import label
from jmo_doctor.report.text import plain, verdict_line


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def render(doc: Mapping[str, Any]) -> str:
    run = doc.get("run", {})
    lang = run.get("lang", "id")
    tool = doc.get("tool", {})
    out = [
        f"# jmo-doctor {tool.get('version', '')}",
        "",
        f"**{plain([verdict_line(doc, lang)]).strip()}**",
        "",
        f"`{run.get('started_at', '')}` · {run.get('duration_s', 0)} s · "
        f"{doc.get('environment', {}).get('platform', '')} · run `{run.get('id', '')}`",
        "",
    ]
    causes = doc.get("causes", [])
    if causes:
        out += [f"## {label('causes', lang)}", ""]
    for cause in causes:
        confidence = label("confidence." + str(cause.get("confidence")), lang)
        out += [
            f"### {cause.get('rank')}. {cause.get('title')} (`{cause.get('id')}`)",
            "",
            f"*{label('confidence', lang)}: {confidence}*",
            "",
            str(cause.get("explanation", "")),
            "",
            f"**{label('fix', lang)}:**",
            "",
        ]
        out += [f"{n}. {step}" for n, step in enumerate(cause.get("fix", []), start=1)]
        if cause.get("evidence"):
            out += [
                "",
                f"{label('evidence', lang)}: " + ", ".join(f"`{e}`" for e in cause["evidence"]),
            ]
        out.append("")
    out += [
        f"## {label('probes', lang)}",
        "",
        "| probe | status | summary |",
        "| --- | --- | --- |",
    ]
    for probe in doc.get("probes", []):
        out.append(
            f"| {_cell(probe.get('id'))} | {_cell(probe.get('status'))} | "
            f"{_cell(probe.get('summary', ''))} |"
        )
    findings = [
        (probe.get("id"), finding)
        for probe in doc.get("probes", [])
        for finding in probe.get("findings", [])
    ]
    if findings:
        out += ["", "| code | target | message |", "| --- | --- | --- |"]
        for _, finding in findings:
            out.append(
                f"| `{_cell(finding.get('code'))}` | {_cell(finding.get('target') or '')} | "
                f"{_cell(finding.get('message', ''))} |"
            )
    out += ["", f"_{label('redacted' if doc.get('redacted') else 'not_redacted', lang)}_", ""]
    return "\n".join(out)
