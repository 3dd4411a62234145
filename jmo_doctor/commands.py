"""The click command tree of SPEC §3. Heavy imports happen inside the commands."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from jmo_doctor import __version__
from jmo_doctor.errors import UserError
from jmo_doctor.exitcodes import ExitStatus
from jmo_doctor.i18n import LANGUAGES
from jmo_doctor.safetext import one_line, printable

if TYPE_CHECKING:
    from jmo_doctor.monitor.watch import RunBudget

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
FORMATS = ("text", "json", "markdown")
RUN_FORMATS = (*FORMATS, "prom", "nagios")


def _ids(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _colour(stream: Any) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)()) and not os.environ.get("NO_COLOR")


def _lang_option(f: Any) -> Any:
    return click.option(
        "--lang",
        type=click.Choice(LANGUAGES),
        default=None,
        help="Language of the output: id (Bahasa Indonesia, default) or en.",
    )(f)


def _resolve_lang(option: str | None, config_path: str | None = None) -> str:
    if option:
        return option
    from jmo_doctor import config

    return config.load(config_path).lang


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, prog_name="jmo-doctor", message="%(prog)s %(version)s")
def cli() -> None:
    """Finds out why the JHT balance does not show in the JMO app, and says how to fix it."""


def _finite_timeout(_ctx: Any, _param: Any, value: float | None) -> float | None:
    # click's FloatRange lets nan through (every comparison with nan is false): the same
    # rule as config `timeout` decides
    if value is None:
        return None
    from jmo_doctor.config import check_timeout

    return check_timeout(value)


@cli.command()
@click.option("--config", "config_path", metavar="PATH", help="Config file (TOML).")
@click.option("--format", "output_format", type=click.Choice(RUN_FORMATS), default="text")
@click.option("--output", metavar="PATH", help="Write the report to PATH (atomically).")
@_lang_option
@click.option("--only", metavar="IDS", help="Run only these probes (comma-separated ids).")
@click.option("--skip", metavar="IDS", help="Skip these probes (comma-separated ids).")
@click.option("--quick", is_flag=True, help="Skip slow probes (bandwidth).")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True, max=3600),
    default=None,
    callback=_finite_timeout,
    metavar="SECONDS",
    help="Hard deadline for the whole run (default from config: 30).",
)
@click.option("--kpj", metavar="NUMBER", help="Your KPJ number, checked offline (redacted).")
@click.option("--app-version", metavar="VERSION", help="The JMO version installed.")
@click.option("--platform", "platform_name", type=click.Choice(("android", "ios")))
@click.option("--no-history", is_flag=True, help="Do not record this run in the history.")
@click.option("--no-redact", is_flag=True, help="Keep personal data in the report.")
@click.option("--verbose", "-v", is_flag=True, help="Show every finding and metric.")
@click.option("--notify", is_flag=True, help="Notify when the status changed since last run.")
@click.option("--webhook", metavar="URL", help="POST the (redacted) JSON report to URL.")
@click.option("--ping-url", metavar="URL", help="healthchecks.io-style ping: /start, /<code>.")
def run(
    config_path: str | None,
    output_format: str,
    output: str | None,
    lang: str | None,
    only: str | None,
    skip: str | None,
    quick: bool,
    timeout: float | None,
    kpj: str | None,
    app_version: str | None,
    platform_name: str | None,
    no_history: bool,
    no_redact: bool,
    verbose: bool,
    notify: bool,
    webhook: str | None,
    ping_url: str | None,
) -> int:
    """Run the checks and print the diagnosis with the fix."""
    started = time.monotonic()
    from jmo_doctor import config as config_module
    from jmo_doctor import paths, plugins, session
    from jmo_doctor.api import RunOptions
    from jmo_doctor.monitor.watch import RunBudget, Watch

    watch = Watch(
        history=not no_history, notify=notify, webhook=webhook, ping_url=ping_url, say=_say
    )
    config = config_module.load(config_path)
    lang = lang or config.lang
    discovery = plugins.discover()
    for warning in discovery.warnings:
        click.echo(f"jmo-doctor: warning: {warning}", err=True)
    selection = session.select(discovery.probes, _ids(only), _ids(skip), quick)
    options = RunOptions(
        kpj=kpj,
        app_version=app_version or config.app.installed_version or None,
        platform=platform_name,
        quick=quick,
        verbose=verbose,
        redact=not no_redact,
    )
    budget = RunBudget(started, timeout if timeout is not None else config.timeout)
    with watch.around(paths.data_home(), config, budget) as stop:
        outcome = _measure(
            config, options, lang, selection, budget, discovery.warnings, stop,
            live=output_format == "text", sends_messages=watch.sends_messages,
        )  # fmt: skip
        watch.record(outcome.redacted)
        _emit(outcome.document, output_format, output, verbose, config)
    return int(outcome.document["exit_code"])


def _say(line: str) -> None:
    click.echo(line, err=True)


def _measure(
    config: Any,
    options: Any,
    lang: str,
    selection: Any,
    budget: RunBudget,
    warnings: Sequence[str],
    stop: Any,
    *,
    live: bool,
    sends_messages: bool,
) -> Any:
    from jmo_doctor import session

    kwargs: dict[str, Any] = {
        "started": budget.started,
        "timeout": budget.probe_timeout(sends_messages),
        "warnings": warnings,
        "stop": stop,
    }
    if live and sys.stderr.isatty() and os.environ.get("TERM") != "dumb":
        from jmo_doctor.report.live import LiveProgress

        with LiveProgress(selection.chosen, lang, sys.stderr) as tick:
            return session.execute(config, options, lang, selection, on_tick=tick, **kwargs)
    return session.execute(config, options, lang, selection, **kwargs)


def _emit(
    doc: dict[str, Any],
    output_format: str,
    output: str | None,
    verbose: bool,
    config: Any = None,
) -> None:
    from jmo_doctor.report import document, markdown, nagios, prom, text

    if output_format == "json":
        rendered = document.dumps(doc)
    elif output_format == "markdown":
        rendered = markdown.render(doc)
    elif output_format == "prom":
        rendered = prom.render(doc)
    elif output_format == "nagios":
        thresholds = nagios.Thresholds.from_config(config) if config is not None else None
        rendered = nagios.render(doc, thresholds)
    else:
        lines = text.layout(doc, verbose=verbose)
        rendered = text.plain(lines)
    if output:
        from jmo_doctor.fileio import write_atomic
        from jmo_doctor.report.labels import label

        try:
            write_atomic(output, rendered)
        except OSError as error:
            # the report is not lost: it goes to stdout instead
            sys.stdout.write(rendered)
            raise UserError(
                f"cannot write {output}: {error.strerror or error}", report_written=True
            ) from None
        lang = doc["run"]["lang"]
        summary = text.plain([text.verdict_line(doc, lang)]).strip()
        # the verdict stays the last line on the screen
        click.echo(label("saved", lang).format(path=output), err=True)
        click.echo(summary, err=True)
    elif output_format == "text" and _colour(sys.stdout):
        text.print_rich(lines, sys.stdout)
    else:
        sys.stdout.write(rendered)
        sys.stdout.flush()


@cli.command()
@_lang_option
def probes(lang: str | None) -> int:
    """List every probe found (built-in and plug-ins)."""
    from jmo_doctor import plugins
    from jmo_doctor.i18n import pick
    from jmo_doctor.report.labels import label

    lang = _resolve_lang(lang)
    discovery = plugins.discover()
    for warning in discovery.warnings:
        click.echo(f"jmo-doctor: warning: {warning}", err=True)
    width = max((len(p.id) for p in discovery.probes), default=4)
    builtin = label("builtin", lang)
    for probe in discovery.probes:
        origin = builtin if probe.builtin else f"plug-in: {probe.source}"
        slow = f" ({label('skipped_by_quick', lang)})" if probe.slow else ""
        # plug-ins name themselves: their words reach the terminal only as plain text
        line = f"{probe.id.ljust(width)}  {pick(probe.title, lang)}{slow}  [{origin}]"
        click.echo(one_line(line))
    return ExitStatus.OK


@cli.command()
@click.argument("cause_id", required=False)
@_lang_option
def causes(cause_id: str | None, lang: str | None) -> int:
    """List the causes, or explain one with its fix."""
    from jmo_doctor import catalogue
    from jmo_doctor.report.labels import label

    lang = _resolve_lang(lang)
    for warning in catalogue.plugin_causes().warnings:  # a broken plug-in is said, as in `probes`
        click.echo(f"jmo-doctor: warning: {warning}", err=True)
    ids = catalogue.cause_ids()
    if cause_id is None:
        width = max(len(i) for i in ids)
        for each in ids:
            click.echo(one_line(f"{each.ljust(width)}  {catalogue.text(each, lang).title}"))
        return ExitStatus.OK
    if cause_id not in ids:
        raise UserError(f"unknown cause id '{cause_id}' (known: {', '.join(ids)})")
    item = catalogue.text(cause_id, lang)
    click.echo(one_line(f"{item.title} ({cause_id})"))
    click.echo("")
    click.echo(printable(item.explanation))
    click.echo("")
    click.echo(f"{label('fix', lang)}:")
    for number, step in enumerate(item.fix, start=1):
        click.echo(one_line(f"  {number}. {step}"))
    return ExitStatus.OK


@cli.group()
def kpj() -> None:
    """KPJ (Kartu Peserta Jamsostek) number tools."""


@kpj.command("check")
@click.argument("number")
@_lang_option
def kpj_check(number: str, lang: str | None) -> int:
    """Validate a KPJ number offline (11 digits)."""
    from jmo_doctor.kpj import check_kpj, verdict_message

    lang = _resolve_lang(lang)
    verdict = check_kpj(number)
    click.echo(verdict_message(verdict, lang))
    return ExitStatus.OK if verdict.valid else ExitStatus.WARNING


@cli.group()
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
    _emit(doc, output_format, None, verbose)
    return ExitStatus.OK


@cli.command()
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--since", metavar="DURATION", help="Only runs newer than this (30m, 12h, 7d).")
@click.option("--format", "output_format", type=click.Choice(("text", "json")), default="text")
@_lang_option
def history(limit: int, since: str | None, output_format: str, lang: str | None) -> int:
    """Show the stored runs with their status, first cause and trends."""
    from jmo_doctor import paths
    from jmo_doctor.durations import parse_duration
    from jmo_doctor.monitor import history as store
    from jmo_doctor.report import history as history_report

    lang = _resolve_lang(lang)
    since_s = parse_duration(since) if since else None
    rows = store.query(paths.data_home(), limit, since_s)
    rendered = (
        history_report.render_json(rows)
        if output_format == "json"
        else history_report.render_text(rows, lang)
    )
    click.echo(rendered, nl=not rendered.endswith("\n"))
    return ExitStatus.OK


@cli.group()
def schedule() -> None:
    """Run jmo-doctor periodically (cron, or termux-job-scheduler on Termux)."""


@schedule.command(
    "install", context_settings={"ignore_unknown_options": True, "allow_extra_args": True}
)
@click.option("--every", default="30m", show_default=True, metavar="DURATION")
@click.argument("run_args", nargs=-1, type=click.UNPROCESSED)
def schedule_install(every: str, run_args: tuple[str, ...]) -> int:
    """Schedule `jmo-doctor run [RUN_ARGS]` every DURATION (e.g. 15m, 1h)."""
    from jmo_doctor.monitor import schedule as scheduler

    args = list(run_args[1:] if run_args[:1] == ("run",) else run_args)
    try:
        click.echo(scheduler.install(every, args))
    except ValueError as error:  # e.g. unbalanced quotes in $JMO_DOCTOR_CRONTAB
        raise UserError(str(error)) from None
    return ExitStatus.OK


@schedule.command("remove")
def schedule_remove() -> int:
    """Remove the schedule (the rest of the crontab is left as it is)."""
    from jmo_doctor.monitor import schedule as scheduler

    click.echo(scheduler.remove())
    return ExitStatus.OK


@schedule.command("status")
def schedule_status() -> int:
    """Say whether a schedule is installed, and what it runs."""
    from jmo_doctor.monitor import schedule as scheduler

    click.echo(scheduler.status().message)
    return ExitStatus.OK


def command_names() -> Sequence[str]:
    return sorted(cli.commands)
