"""`jmo-doctor history`: the stored runs with their status, first cause and trends."""

from __future__ import annotations

import click

from jmo_doctor.commands.common import lang_option, resolve_lang
from jmo_doctor.exitcodes import ExitStatus


@click.command()
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--since", metavar="DURATION", help="Only runs newer than this (30m, 12h, 7d).")
@click.option(
    "--format", "output_format", type=click.Choice(("text", "json", "html")), default="text"
)
@lang_option
def history(limit: int, since: str | None, output_format: str, lang: str | None) -> int:
    """Show the stored runs with their status, first cause and trends."""
    from jmo_doctor import paths
    from jmo_doctor.durations import parse_duration
    from jmo_doctor.monitor import history as store
    from jmo_doctor.report import history as history_report

    lang = resolve_lang(lang)
    since_s = parse_duration(since) if since else None
    rows = store.query(paths.data_home(), limit, since_s)
    if output_format == "json":
        rendered = history_report.render_json(rows)
    elif output_format == "html":
        from jmo_doctor.report import html

        rendered = html.render_history(rows, lang)
    else:
        rendered = history_report.render_text(rows, lang)
    click.echo(rendered, nl=not rendered.endswith("\n"))
    return ExitStatus.OK
