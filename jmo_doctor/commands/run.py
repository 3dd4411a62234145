"""`jmo-doctor run`: the checks, the diagnosis with the fix, and what hangs on the run."""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click
from click.shell_completion import CompletionItem

from jmo_doctor.commands.common import FORMATS, emit, ids, lang_option, say, warn

if TYPE_CHECKING:
    from jmo_doctor.monitor.watch import RunBudget

RUN_FORMATS = (*FORMATS, "prom", "nagios")


#: "8.1", "Android 8.1", "iOS 16.4.1": an optional platform word, then a dotted number.
_OS_VERSION = re.compile(r"(?:(?:android|ios|ipados) )?\d{1,3}(?:\.\d{1,3}){0,3}", re.IGNORECASE)


def _os_version(_ctx: Any, _param: Any, value: str | None) -> str | None:
    # checked here, not in the probe: a typo must stop the run (exit 3), not vanish
    if value is None or _OS_VERSION.fullmatch(value.strip()):
        return value.strip() if value else None
    raise click.BadParameter("give the version as numbers, e.g. 8.1 or 16.4")


def _finite_timeout(_ctx: Any, _param: Any, value: float | None) -> float | None:
    # click's FloatRange lets nan through (every comparison with nan is false): the same
    # rule as config `timeout` decides
    if value is None:
        return None
    from jmo_doctor.config import check_timeout

    return check_timeout(value)


def complete_probe_ids(
    _ctx: click.Context, _param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Shell completion of ``--only``/``--skip``: the probe ids found, after the ids
    already typed before the last comma."""
    from jmo_doctor import plugins

    typed, comma, last = incomplete.rpartition(",")
    already = set(typed.split(","))
    found = (p.id for p in plugins.discover().probes)
    return [
        CompletionItem(f"{typed}{comma}{each}")
        for each in found
        if each.startswith(last) and each not in already
    ]


@click.command()
@click.option("--config", "config_path", metavar="PATH", help="Config file (TOML).")
@click.option("--format", "output_format", type=click.Choice(RUN_FORMATS), default="text")
@click.option("--output", metavar="PATH", help="Write the report to PATH (atomically).")
@lang_option
@click.option(
    "--only",
    metavar="IDS",
    help="Run only these probes (comma-separated ids).",
    shell_complete=complete_probe_ids,
)
@click.option(
    "--skip",
    metavar="IDS",
    help="Skip these probes (comma-separated ids).",
    shell_complete=complete_probe_ids,
)
@click.option("--quick", is_flag=True, help="Skip slow probes (bandwidth).")
@click.option(
    "--timeout",
    "-t",
    type=click.FloatRange(min=0, min_open=True, max=3600),
    default=None,
    callback=_finite_timeout,
    metavar="SECONDS",
    help="Hard deadline for the whole run (default from config: 30).",
)
@click.option("--kpj", metavar="NUMBER", help="Your KPJ number, checked offline (redacted).")
@click.option("--app-version", metavar="VERSION", help="The JMO version installed.")
@click.option(
    "--os-version",
    callback=_os_version,
    metavar="VERSION",
    help="The phone's Android or iOS version (e.g. 8.1), with --platform: checked against "
    "the minimum the store names for JMO.",
)
@click.option("--platform", "platform_name", type=click.Choice(("android", "ios")))
@click.option("--no-history", is_flag=True, help="Do not record this run in the history.")
@click.option("--no-redact", is_flag=True, help="Keep personal data in the report.")
@click.option("--verbose", "-v", is_flag=True, help="Show every finding and metric.")
@click.option("--notify", is_flag=True, help="Notify when the status changed since last run.")
@click.option("--webhook", metavar="URL", help="POST the (redacted) JSON report to URL.")
@click.option("--ping-url", metavar="URL", help="healthchecks.io-style ping: /start, /<code>.")
@click.option("--push", metavar="URL", help="Push the run's metrics to a Prometheus Pushgateway.")
@click.option("--warning", "-w", metavar="THRESHOLDS", help="Nagios: e.g. rtt=300ms,loss=5%.")
@click.option("--critical", "-c", metavar="THRESHOLDS", help="Nagios: e.g. rtt=1s,loss=20%.")
# phone-first (issue 13): one screen, and re-checking while the person fixes the network
@click.option("--short", is_flag=True, help="Only the verdict and the first cause's steps.")
@click.option(
    "--watch",
    "watch_every",
    type=click.FloatRange(min=1, max=3600),
    is_flag=False,
    flag_value=10.0,
    default=None,
    metavar="[SECONDS]",
    help="Check again every SECONDS (default 10) until OK or Ctrl-C; show what changed.",
)
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
    os_version: str | None,
    platform_name: str | None,
    no_history: bool,
    no_redact: bool,
    verbose: bool,
    notify: bool,
    webhook: str | None,
    ping_url: str | None,
    push: str | None,
    warning: str | None,
    critical: str | None,
    short: bool,
    watch_every: float | None,
) -> int:
    """Run the checks and print the diagnosis with the fix."""
    started = time.monotonic()
    _check_phone_options(short, watch_every, output_format, output, notify, webhook, ping_url, push)
    from jmo_doctor import config as config_module
    from jmo_doctor import paths, plugins, session
    from jmo_doctor.api import RunOptions
    from jmo_doctor.monitor.watch import RunBudget, Watch

    watch = Watch(
        history=not no_history, notify=notify, webhook=webhook, ping_url=ping_url, say=say,
        push=push, push_instance=_push_instance(push, no_redact),
    )  # fmt: skip
    config = config_module.load(config_path)
    limits = _nagios_thresholds(config, output_format, warning, critical)
    lang = lang or config.lang
    discovery = plugins.discover()
    warn(discovery.warnings)
    if watch_every is not None:  # never the speed test, nor the store: the quota
        from jmo_doctor.monitor.rerun import skipped_ids

        quick = True
        known = [p.id for p in discovery.probes]
        skip = ",".join([*ids(skip), *skipped_ids(known, ids(only))])
    selection = session.select(discovery.probes, ids(only), ids(skip), quick)
    options = RunOptions(
        kpj=kpj,
        app_version=app_version or config.app.installed_version or None,
        os_version=os_version,
        platform=platform_name,
        quick=quick,
        verbose=verbose,
        redact=not no_redact,
    )
    deadline = timeout if timeout is not None else config.timeout
    if watch_every is not None:
        return _watch(
            watch_every,
            watch,
            deadline,
            (config, options, lang, selection),
            warn_of=discovery.warnings,
        )
    budget = RunBudget(started, deadline)
    with watch.around(paths.data_home(), config, budget) as stop:
        outcome = _measure(
            config, options, lang, selection, budget, discovery.warnings, stop,
            live=output_format == "text", sends_messages=watch.sends_messages,
        )  # fmt: skip
        watch.record(outcome.redacted)
        emit(
            outcome.document, output_format, output, verbose, config,
            nagios_thresholds=limits, short=short,
        )  # fmt: skip
    if limits is not None:  # -w/-c can raise the plugin's state
        from jmo_doctor.report import nagios

        return nagios.exit_code(outcome.document, limits)
    return int(outcome.document["exit_code"])


def _push_instance(push: str | None, no_redact: bool) -> str:
    if not push:
        return ""
    import socket

    from jmo_doctor.monitor.notify import push_instance

    return push_instance(socket.gethostname(), redact=not no_redact)


def _nagios_thresholds(
    config: Any, output_format: str, warning: str | None, critical: str | None
) -> Any:
    """The -w/-c thresholds over the config's, checked before the run; None without them."""
    if warning is None and critical is None:
        return None
    from jmo_doctor.errors import UserError
    from jmo_doctor.i18n import said
    from jmo_doctor.report import nagios, ranges

    if output_format != "nagios":
        raise UserError(said("error.thresholds_need_nagios"))
    try:
        return nagios.Thresholds.from_config(config).with_options(warning, critical)
    except ranges.RangeError as error:
        raise UserError(said("error.bad_threshold", error=str(error))) from None


def _check_phone_options(
    short: bool,
    watch_every: float | None,
    output_format: str,
    output: str | None,
    *messages: object,
) -> None:
    """--short and --watch are for a person at a terminal: a machine format, a file or a
    monitor's messages with them is a usage error, said before anything runs."""
    if not short and watch_every is None:
        return
    from jmo_doctor.cli_language import chosen
    from jmo_doctor.i18n import say

    name = "--watch" if watch_every is not None else "--short"
    if output_format != "text":
        raise click.UsageError(say("usage.text_only", chosen(), option=name))
    if watch_every is not None and (output or any(messages)):
        raise click.UsageError(say("usage.watch_alone", chosen()))


def _watch(
    every: float,
    watch: Any,
    deadline: float,
    setup: tuple[Any, Any, str, Any],
    warn_of: Sequence[str],
) -> int:
    """Quick runs until OK or Ctrl-C; the last one is recorded and shown in short form."""
    from jmo_doctor import paths
    from jmo_doctor.commands.common import colour
    from jmo_doctor.monitor.rerun import Round, printer, until_ok
    from jmo_doctor.monitor.watch import RunBudget, Watch
    from jmo_doctor.report.live import NoEcho
    from jmo_doctor.report.text import terminal_width

    config, options, lang, selection = setup
    unrecorded = Watch(history=False, notify=False, webhook=None, ping_url=None, say=say)

    def once() -> Round:
        budget = RunBudget(time.monotonic(), deadline)
        with unrecorded.around(paths.data_home(), config, budget) as stop:
            outcome = _measure(
                config, options, lang, selection, budget, warn_of, stop,
                live=True, sends_messages=False,
            )  # fmt: skip
        return Round(outcome, interrupted=stop.signal_name is not None)

    width = terminal_width(sys.stdout)
    with NoEcho(sys.stderr):  # a ^C echoed between two runs would garble the next line
        last = until_ok(every, once, lang, width, printer(colour(sys.stdout)))
    if last is None:  # Ctrl-C before the first run got going: nothing to show
        raise KeyboardInterrupt
    # the history write gets the time a single run leaves it at most (its extra second)
    with watch.around(paths.data_home(), config, RunBudget(time.monotonic(), 1.0)):
        watch.record(last.redacted)
    emit(last.document, "text", None, False, config, short=True)
    return int(last.document["exit_code"])


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
