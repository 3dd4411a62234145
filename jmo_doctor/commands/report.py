"""`jmo-doctor report show FILE`: a saved JSON report, rendered again."""

from __future__ import annotations

import click

from jmo_doctor.commands.common import FORMATS, emit
from jmo_doctor.exitcodes import ExitStatus


@click.group()
def report() -> None:
    """Saved reports."""


@report.command("show")
@click.argument("file", metavar="FILE")
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="text")
@click.option("--verbose", "-v", is_flag=True, help="Show every finding and metric.")
def report_show(file: str, output_format: str, verbose: bool) -> int:
    """Render a saved JSON report."""
    from jmo_doctor.report import document

    doc = document.load(file)
    emit(doc, output_format, None, verbose)
    return ExitStatus.OK
