"""`jmo-doctor report show FILE`: a saved JSON report, rendered again; `report summary`."""

from __future__ import annotations

import click

from jmo_doctor.commands.common import FORMATS, emit, lang_option, resolve_lang
from jmo_doctor.errors import UserError
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


@report.command("summary")
@click.argument("paths", metavar="FILE|DIR ...", nargs=-1, required=True)
@click.option(
    "--format", "output_format", type=click.Choice(("text", "json", "csv")), default="text"
)
@lang_option
def report_summary(paths: tuple[str, ...], output_format: str, lang: str | None) -> int:
    """Count many saved reports (*.json in DIRs): causes, versions, operators, days."""
    from jmo_doctor.report import summary as summaries

    found = summaries.summarise(paths)
    if output_format == "json":
        rendered = summaries.render_json(found)
    elif output_format == "csv":
        rendered = summaries.render_csv(found)
    else:
        rendered = summaries.render_text(found, resolve_lang(lang))
    click.echo(rendered, nl=False)
    if not found.reports:
        raise UserError(
            f"no valid jmo-doctor report among {len(found.invalid)} file(s) given",
            report_written=True,
        )
    return ExitStatus.OK
