"""`jmo-doctor probes`: every probe found, built-in and plug-ins."""

from __future__ import annotations

import click

from jmo_doctor.commands.common import lang_option, resolve_lang, warn
from jmo_doctor.exitcodes import ExitStatus
from jmo_doctor.safetext import one_line


@click.command()
@lang_option
def probes(lang: str | None) -> int:
    """List every probe found (built-in and plug-ins)."""
    from jmo_doctor import plugins
    from jmo_doctor.i18n import pick
    from jmo_doctor.report.labels import label

    lang = resolve_lang(lang)
    discovery = plugins.discover()
    warn(discovery.warnings)
    width = max((len(p.id) for p in discovery.probes), default=4)
    builtin = label("builtin", lang)
    for probe in discovery.probes:
        origin = builtin if probe.builtin else f"plug-in: {probe.source}"
        slow = f" ({label('skipped_by_quick', lang)})" if probe.slow else ""
        # plug-ins name themselves: their words reach the terminal only as plain text
        line = f"{probe.id.ljust(width)}  {pick(probe.title, lang)}{slow}  [{origin}]"
        click.echo(one_line(line))
    return ExitStatus.OK
