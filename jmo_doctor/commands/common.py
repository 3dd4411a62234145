"""What several commands share: the --lang option, the language, the report's output."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any

import click

from jmo_doctor import i18n
from jmo_doctor.errors import UserError
from jmo_doctor.i18n import LANGUAGES, said

FORMATS = ("text", "json", "markdown", "html")


def ids(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def colour(stream: Any) -> bool:
    """Styled text on a terminal; ``NO_COLOR`` (no-color.org) turns it off, and wins over
    ``FORCE_COLOR`` (force-color.org), which turns it on through a pipe."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return bool(getattr(stream, "isatty", lambda: False)())


def lang_option(f: Any) -> Any:
    return click.option(
        "--lang",
        type=click.Choice(LANGUAGES),
        default=None,
        help="Language of the output: id (Bahasa Indonesia, default) or en.",
    )(f)


def resolve_lang(option: str | None, config_path: str | None = None) -> str:
    if option:
        return option
    from jmo_doctor import config

    return config.load(config_path).lang


def spoken(text: str) -> str:
    """``text`` in the language the command line speaks, when it was said in every one."""
    from jmo_doctor.cli_language import chosen

    return i18n.pick(i18n.texts_of(text) or text, chosen())


def say(line: str) -> None:
    """One line for the person, on stderr (warnings, what the history said)."""
    click.echo(spoken(line), err=True)


def warn(warnings: Iterable[str]) -> None:
    """Each warning on stderr, in the language the command line speaks."""
    from jmo_doctor.cli_language import chosen

    for warning in warnings:
        say(i18n.say("cli.warning", chosen(), message=spoken(warning)))


def emit(
    doc: dict[str, Any],
    output_format: str,
    output: str | None,
    verbose: bool,
    config: Any = None,
    *,
    nagios_thresholds: Any = None,
    short: bool = False,
) -> None:
    """The report in ``output_format``, to stdout or (atomically) to ``output``."""
    from jmo_doctor.report import document, markdown, nagios, prom, text

    if output_format == "json":
        rendered = document.dumps(doc)
    elif output_format == "markdown":
        rendered = markdown.render(doc)
    elif output_format == "html":
        from jmo_doctor.report import html

        rendered = html.render(doc)
    elif output_format == "prom":
        rendered = prom.render(doc)
    elif output_format == "nagios":
        thresholds = nagios_thresholds
        if thresholds is None and config is not None:
            thresholds = nagios.Thresholds.from_config(config)
        rendered = nagios.render(doc, thresholds)
    else:
        # a file is laid out for 80 columns (or COLUMNS), a terminal for its own width
        width = text.terminal_width(None if output else sys.stdout)
        if short:  # run --short: the verdict and the first cause's steps
            lines = text.short_layout(doc, width=width)
        else:
            lines = text.layout(doc, verbose=verbose, width=width)
        rendered = text.plain(lines)
    if output:
        from jmo_doctor.fileio import write_atomic
        from jmo_doctor.report.labels import label
        from jmo_doctor.report.view import ReportView

        try:
            write_atomic(output, rendered)
        except OSError as error:
            # the report is not lost: it goes to stdout instead
            sys.stdout.write(rendered)
            reason = error.strerror or str(error)
            raise UserError(
                said("error.cannot_write", path=output, reason=reason), report_written=True
            ) from None
        lang = ReportView.of(doc).lang
        summary = text.plain([text.verdict_line(doc, lang)]).strip()
        # the verdict stays the last line on the screen
        click.echo(label("saved", lang).format(path=output), err=True)
        click.echo(summary, err=True)
    elif output_format == "text" and colour(sys.stdout):
        text.print_rich(lines, sys.stdout)
    else:
        sys.stdout.write(rendered)
        sys.stdout.flush()
