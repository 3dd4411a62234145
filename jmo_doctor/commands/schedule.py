"""`jmo-doctor schedule install|remove|status`: runs from cron or Termux's job scheduler."""

from __future__ import annotations

import click

from jmo_doctor.commands.common import spoken
from jmo_doctor.errors import UserError
from jmo_doctor.exitcodes import ExitStatus


@click.group()
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
        click.echo(spoken(scheduler.install(every, args)))
    except ValueError as error:  # e.g. unbalanced quotes in $JMO_DOCTOR_CRONTAB
        raise UserError(str(error)) from None
    return ExitStatus.OK


@schedule.command("remove")
def schedule_remove() -> int:
    """Remove the schedule (the rest of the crontab is left as it is)."""
    from jmo_doctor.monitor import schedule as scheduler

    click.echo(spoken(scheduler.remove()))
    return ExitStatus.OK


@schedule.command("status")
def schedule_status() -> int:
    """Say whether a schedule is installed, and what it runs."""
    from jmo_doctor.monitor import schedule as scheduler

    click.echo(spoken(scheduler.status().message))
    return ExitStatus.OK
