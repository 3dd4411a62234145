"""What a monitor reads when the check could not be done at all (exit 3, SPEC §3).

A bad config, a held lock or a bad command line stop a run before it has a report. A
scraper or a Nagios server must not take that silence for the last healthy value, so the
machine formats still say something: ``JMO-DOCTOR UNKNOWN - <reason>``, ``jmo_doctor_up 0``
with the reason, or a JSON report whose status is ``unknown``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from jmo_doctor import environment
from jmo_doctor.diagnosis import Diagnosis
from jmo_doctor.exitcodes import ExitStatus
from jmo_doctor.report import document, nagios, prom

#: The formats that must speak on every exit; text and Markdown readers see the error line.
MACHINE_FORMATS = ("json", "prom", "nagios")


def unknown_document(reason: str, lang: str, warnings: Sequence[str] = ()) -> document.Document:
    """A valid report that says the check could not be done, and why."""
    verdict = Diagnosis(causes=(), status=ExitStatus.UNKNOWN, all_clear=False)
    run = document.RunInfo(document.now(), 0.0, lang)
    doc = document.build(run, (), verdict, environment.describe(), warnings)
    doc["error"] = reason
    doc["redacted"] = True  # it holds no measurement, only the reason
    return doc


def render(output_format: str, reason: str, lang: str) -> str | None:
    """The output for ``output_format``, or None where the error line is enough."""
    if output_format not in MACHINE_FORMATS:
        return None
    doc = unknown_document(reason, lang)
    if output_format == "json":
        return document.dumps(doc)
    if output_format == "prom":
        return prom.render(doc)
    return nagios.render(doc)


def _option(args: Sequence[str], name: str) -> str | None:
    """The value of ``name`` as the command line gave it (last one wins, as in click)."""
    value = None
    for index, arg in enumerate(args):
        if arg == name and index + 1 < len(args):
            value = args[index + 1]
        elif arg.startswith(name + "="):
            value = arg[len(name) + 1 :]
    return value


def answer_monitor(args: Sequence[str], reason: str) -> None:
    """For a ``run`` that ends in exit 3 before its report: the machine format's UNKNOWN.

    Read from the raw arguments, since click may have refused them before parsing.
    """
    if not args or args[0] != "run":
        return
    lang = _option(args, "--lang")
    rendered = render(_option(args, "--format") or "text", reason, lang if lang == "en" else "id")
    if rendered is None:
        return
    output = _option(args, "--output")
    if output:
        from jmo_doctor.fileio import write_atomic

        try:
            write_atomic(output, rendered)
            return
        except OSError:
            pass  # then at least on stdout
    sys.stdout.write(rendered)
    sys.stdout.flush()
