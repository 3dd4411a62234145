"""`jmo-doctor kpj check NUMBER`: a KPJ number checked offline."""

from __future__ import annotations

import click

from jmo_doctor.commands.common import lang_option, resolve_lang
from jmo_doctor.exitcodes import ExitStatus


@click.group()
def kpj() -> None:
    """KPJ (Kartu Peserta Jamsostek) number tools."""


@kpj.command("check")
@click.argument("number")
@lang_option
def kpj_check(number: str, lang: str | None) -> int:
    """Validate a KPJ number offline (11 digits)."""
    from jmo_doctor.kpj import check_kpj, verdict_message

    lang = resolve_lang(lang)
    verdict = check_kpj(number)
    click.echo(verdict_message(verdict, lang))
    return ExitStatus.OK if verdict.valid else ExitStatus.WARNING
