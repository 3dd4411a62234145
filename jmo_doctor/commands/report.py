"""`jmo-doctor report show FILE`: a saved JSON report, rendered again."""

from __future__ import annotations

import click

from jmo_doctor.commands.common import FORMATS, emit
from jmo_doctor.exitcodes import ExitStatus
from jmo_doctor.i18n import LANGUAGES


@click.group()
def report() -> None:
    """Saved reports."""


@report.command("show")
@click.argument("file", metavar="FILE")
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="text")
@click.option("--verbose", "-v", is_flag=True, help="Show every finding and metric.")
@click.option(
    "--lang",
    type=click.Choice(LANGUAGES),
    default=None,
    help="Show the report in this language (default: the language it was saved in).",
)
def report_show(file: str, output_format: str, verbose: bool, lang: str | None) -> int:
    """Render a saved JSON report."""
    from jmo_doctor.report import document

    doc = document.load(file)
    if lang is not None:
        from jmo_doctor.report.language import in_language

        doc = in_language(doc, lang)
    emit(doc, output_format, None, verbose)
    return ExitStatus.OK
