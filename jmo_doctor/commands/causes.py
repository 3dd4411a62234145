"""`jmo-doctor causes [CAUSE_ID]`: the causes, or one of them with its fix."""

from __future__ import annotations

import sys

import click
from click.shell_completion import CompletionItem

from jmo_doctor.commands.common import lang_option, resolve_lang, warn
from jmo_doctor.errors import UserError
from jmo_doctor.exitcodes import ExitStatus
from jmo_doctor.i18n import said
from jmo_doctor.safetext import one_line, printable


def complete_cause_ids(
    _ctx: click.Context, _param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Shell completion of `causes ID` (the catalogue, plug-ins' causes included)."""
    from jmo_doctor import catalogue

    return [CompletionItem(i) for i in catalogue.cause_ids() if i.startswith(incomplete)]


@click.command()
@click.argument("cause_id", required=False, shell_complete=complete_cause_ids)
@lang_option
def causes(cause_id: str | None, lang: str | None) -> int:
    """List the causes, or explain one with its fix."""
    from jmo_doctor import catalogue
    from jmo_doctor.report import text

    lang = resolve_lang(lang)
    warn(catalogue.plugin_causes().warnings)  # a broken plug-in is said, as in `probes`
    ids = catalogue.cause_ids()
    width = text.terminal_width(sys.stdout)
    if cause_id is None:
        column = max(len(i) for i in ids) + 2
        for each in ids:
            title = catalogue.text(each, lang).title
            # beside the id when there is room for it, else under it (a phone)
            for line in text.columns(each, title, width, column):
                click.echo(one_line(line))
        return ExitStatus.OK
    if cause_id not in ids:
        raise UserError(said("error.unknown_cause", cause_id=cause_id, known=", ".join(ids)))
    title = catalogue.text(cause_id, lang).title
    # the catalogue's own rendering, with the id after the title (to ask for it again);
    # a plug-in's words reach the terminal only as printable text
    body = catalogue.render(cause_id, lang).removeprefix(title)
    click.echo(printable(text.wrap_block(one_line(f"{title} ({cause_id})") + body, width)))
    return ExitStatus.OK
