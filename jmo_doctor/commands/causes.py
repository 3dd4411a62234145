"""`jmo-doctor causes [CAUSE_ID]`: the causes, or one of them with its fix."""

from __future__ import annotations

import click

from jmo_doctor.commands.common import lang_option, resolve_lang, warn
from jmo_doctor.errors import UserError
from jmo_doctor.exitcodes import ExitStatus
from jmo_doctor.i18n import said
from jmo_doctor.safetext import one_line, printable


@click.command()
@click.argument("cause_id", required=False)
@lang_option
def causes(cause_id: str | None, lang: str | None) -> int:
    """List the causes, or explain one with its fix."""
    from jmo_doctor import catalogue

    lang = resolve_lang(lang)
    warn(catalogue.plugin_causes().warnings)  # a broken plug-in is said, as in `probes`
    ids = catalogue.cause_ids()
    if cause_id is None:
        width = max(len(i) for i in ids)
        for each in ids:
            click.echo(one_line(f"{each.ljust(width)}  {catalogue.text(each, lang).title}"))
        return ExitStatus.OK
    if cause_id not in ids:
        raise UserError(said("error.unknown_cause", cause_id=cause_id, known=", ".join(ids)))
    title = catalogue.text(cause_id, lang).title
    # the catalogue's own rendering, with the id after the title (to ask for it again);
    # a plug-in's words reach the terminal only as printable text
    body = catalogue.render(cause_id, lang).removeprefix(title)
    click.echo(one_line(f"{title} ({cause_id})") + printable(body))
    return ExitStatus.OK
