"""Entry point: turns every outcome into an exit code of SPEC §3, never a traceback.

Kept tiny so that ``jmo-doctor --version`` answers without importing click or rich.
"""

from __future__ import annotations

import os
import sys

from jmo_doctor.errors import UserError

# typing, collections.abc and enum would cost --version half of its start-up: the
# annotations need them only for mypy, which takes any name TYPE_CHECKING as true
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["UserError", "main", "run_cli"]


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--version"]:
        from jmo_doctor import __version__

        print(f"jmo-doctor {__version__}")
        sys.exit(0)  # ExitStatus.OK, without importing enum for it
    sys.exit(run_cli(args))


def run_cli(args: list[str]) -> int:
    from jmo_doctor.cli_language import language_of, speak, unspeak

    lang = language_of(args)
    speak(lang)  # before the command table: click words some help when it is built
    try:
        return _run_click(args, lang)
    finally:
        unspeak()


def _run_click(args: list[str], lang: str) -> int:
    import click

    from jmo_doctor.cli_language import localize
    from jmo_doctor.commands import cli
    from jmo_doctor.exitcodes import ExitStatus
    from jmo_doctor.i18n import pick, say, texts_of

    localize(cli, ())
    try:
        result = cli.main(args=args, prog_name="jmo-doctor", standalone_mode=False)
    except click.exceptions.Exit as done:
        return int(done.exit_code)
    except click.exceptions.NoArgsIsHelpError as shown:
        # `jmo-doctor` (or `jmo-doctor kpj`) alone: the help is the answer, not an error
        print(shown.format_message())
        return ExitStatus.OK
    except click.ClickException as error:  # usage errors included: exit 3, not click's 2
        hint = ""
        if isinstance(error, click.UsageError) and error.ctx is not None:
            hint = " " + say("cli.see_help", lang, command=error.ctx.command_path)
        return _fail(args, lang, f"{error.format_message()}{hint}")
    except UserError as error:  # config, report file, lock, history, schedule errors
        said = pick(texts_of(error.args[0]) or str(error), lang) if error.args else str(error)
        return _fail(args, lang, said, report_written=error.report_written)
    except (click.exceptions.Abort, KeyboardInterrupt):
        return _fail(args, lang, say("cli.interrupted", lang))
    except BrokenPipeError:
        # the reader went away (e.g. `| head`); silence the flush at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return ExitStatus.UNKNOWN
    except Exception as error:  # the last line of defence: a clear line, not a traceback
        if os.environ.get("JMO_DOCTOR_DEBUG"):
            raise
        said = say("cli.internal_error", lang, error=f"{type(error).__name__}: {error}")
        return _fail(args, lang, said)
    return int(result) if isinstance(result, int) else ExitStatus.OK


def _fail(args: Sequence[str], lang: str, message: str, *, report_written: bool = False) -> int:
    """Exit 3: one error line; a monitor's format still says UNKNOWN (SPEC §3)."""
    from jmo_doctor.exitcodes import ExitStatus
    from jmo_doctor.i18n import say
    from jmo_doctor.safetext import printable  # arguments and file contents are echoed

    print(say("cli.error", lang, message=printable(message)), file=sys.stderr)
    if not report_written:
        from jmo_doctor.report import unknown

        unknown.answer_monitor(args, message)
    return ExitStatus.UNKNOWN
