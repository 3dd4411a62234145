"""What an Indonesian reader must not meet: finding codes or English words as prose.

Evidence (the dim "Bukti: …" lines, the Markdown findings table with what the libraries
said) is where codes belong, so it is left out of the scan; so are names the person or the
config chose (targets, hosts), which are data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jmo_doctor import plugins
from jmo_doctor.report import markdown, text
from jmo_doctor.runner import RUNNER_MESSAGES

FINDINGS_DOC = Path(__file__).parent.parent / "docs" / "findings.md"

#: Common English words that are not Indonesian loanwords ("status", "target", "online",
#: "login", "proxy" are used in Indonesian and are not listed).
ENGLISH = frozenset(
    re.findall(
        r"[a-z]+",
        """the and is are was were not with from failed fails problem problems has have
        could be measured reachable worst error warning found none skipped check checks
        checked answer answered timed timeout because which this that of to for on at by or
        its your no yes what do does did should would there their""",
    )
)
_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")


@cache
def finding_codes() -> frozenset[str]:
    """Every finding code: the spec's table, every built-in probe's, the runner's."""
    codes = set(re.findall(r"`([a-z]+\.[a-z_0-9]+)`", FINDINGS_DOC.read_text()))
    for probe in plugins.discover().probes:
        codes.update(probe.messages)
    codes.update(RUNNER_MESSAGES)
    return frozenset(codes)


def problems_in(line: str) -> list[str]:
    """The codes and English words in one line of Indonesian prose."""
    found = [code for code in finding_codes() if re.search(rf"(?<![\w.]){re.escape(code)}\b", line)]
    words = {w.lower() for w in _WORD.findall(line)}
    return found + sorted(words & ENGLISH)


def prose_lines(doc: Mapping[str, Any]) -> Iterable[str]:
    """The lines a person reads as sentences: text report (evidence left out) and the
    Markdown verdict, headings and tables (code spans left out)."""
    for spans in text.layout(doc):
        said = "".join(part for part, style in spans if "dim" not in style)
        if said.strip():
            yield said
    in_findings = False  # the findings table is evidence: codes, what the libraries said
    for line in markdown.render(doc).splitlines():
        in_findings = line.startswith(("| kode |", "| code |")) or (in_findings and bool(line))
        if not in_findings and not line.startswith(("Bukti:", "Evidence:")):
            yield re.sub(r"`[^`]*`", "", line)


def english_or_codes(doc: Mapping[str, Any], data: Iterable[str] = ()) -> list[str]:
    """Every prose line of ``doc`` that shows a code or English, ``data`` strings removed."""
    bad = []
    for line in prose_lines(doc):
        for value in data:
            line = line.replace(value, "")
        if problems := problems_in(line):
            bad.append(f"{problems}: {line.strip()}")
    return bad


def data_of(doc: Mapping[str, Any]) -> list[str]:
    """Names the report carries as data: the targets' names and hosts (probe ids show as
    themselves too, but none is a code or an English word)."""
    values = [str(v) for t in doc.get("targets", []) for v in (t.get("name"), t.get("host")) if v]
    return sorted(set(values), key=len, reverse=True)
