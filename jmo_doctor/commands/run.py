"""`jmo-doctor run`: the checks, the diagnosis with the fix, and what hangs on the run."""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

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


@click.command()
@click.option("--config", "config_path", metavar="PATH", help="Config file (TOML).")
@click.option("--format", "output_format", type=click.Choice(RUN_FORMATS), default="text")
@click.option("--output", metavar="PATH", help="Write the report to PATH (atomically).")
@lang_option
@click.option("--only", metavar="IDS", help="Run only these probes (comma-separated ids).")
@click.option("--skip", metavar="IDS", help="Skip these probes (comma-separated ids).")
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
) -> int:
    """Run the checks and print the diagnosis with the fix."""
    started = time.monotonic()
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
    budget = RunBudget(started, timeout if timeout is not None else config.timeout)
    with watch.around(paths.data_home(), config, budget) as stop:
        outcome = _measure(
            config, options, lang, selection, budget, discovery.warnings, stop,
            live=output_format == "text", sends_messages=watch.sends_messages,
        )  # fmt: skip
        watch.record(outcome.redacted)
        emit(outcome.document, output_format, output, verbose, config, nagios_thresholds=limits)
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
    from jmo_doctor.report import nagios, ranges

    if output_format != "nagios":
        raise UserError("-w/--warning and -c/--critical go with --format nagios")
    try:
        return nagios.Thresholds.from_config(config).with_options(warning, critical)
    except ranges.RangeError as error:
        raise UserError(f"bad threshold: {error}") from None


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
