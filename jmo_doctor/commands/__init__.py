"""The command line of SPEC §3: a table of commands, each imported when it is used.

pip's ``commands/__init__.py`` is the model. The table names each command's module and
its one-line help, so ``jmo-doctor --help`` lists every command without importing one,
and ``jmo-doctor run`` imports only :mod:`jmo_doctor.commands.run`. (``--version`` is
answered in ``cli.py`` before click is even imported.) One module per command group;
heavy imports happen inside the commands.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, replace
from typing import Any

import click

from jmo_doctor import __version__
from jmo_doctor.cli_language import chosen, help_key, localize
from jmo_doctor.i18n import say, words

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@dataclass(frozen=True)
class CommandInfo:
    module: str  # the module that defines the command (a click command or group)
    attribute: str  # its name there
    summary: str  # the one-line help `jmo-doctor --help` lists: the command's docstring


COMMANDS: Mapping[str, CommandInfo] = {
    "run": CommandInfo(
        "jmo_doctor.commands.run", "run", "Run the checks and print the diagnosis with the fix."
    ),
    "probes": CommandInfo(
        "jmo_doctor.commands.probes", "probes", "List every probe found (built-in and plug-ins)."
    ),
    "causes": CommandInfo(
        "jmo_doctor.commands.causes", "causes", "List the causes, or explain one with its fix."
    ),
    "kpj": CommandInfo(
        "jmo_doctor.commands.kpj", "kpj", "KPJ (Kartu Peserta Jamsostek) number tools."
    ),
    "report": CommandInfo("jmo_doctor.commands.report", "report", "Saved reports."),
    "history": CommandInfo(
        "jmo_doctor.commands.history",
        "history",
        "Show the stored runs with their status, first cause and trends.",
    ),
    "schedule": CommandInfo(
        "jmo_doctor.commands.schedule",
        "schedule",
        "Run jmo-doctor periodically (cron, or termux-job-scheduler on Termux).",
    ),
    "shortcut": CommandInfo(
        "jmo_doctor.commands.shortcut",
        "shortcut",
        "A Termux:Widget home-screen button that runs the check (~/.shortcuts).",
    ),
}


class _LoadedOnUse(MutableMapping[str, click.Command]):
    """The group's commands by name: the names come from the table, each command from its
    module the first time it is looked up. Iterating gives names only (click's "Did you
    mean …?" reads them), so it imports nothing."""

    def __init__(self, table: Mapping[str, CommandInfo]) -> None:
        self._table = table
        self._loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._loaded:
            info = self._table[name]  # KeyError: no such command
            command = getattr(importlib.import_module(info.module), info.attribute)
            assert isinstance(command, click.Command), info
            self._loaded[name] = localize(command, (name,))
        return self._loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._loaded[name] = command  # click's add_command

    def __delitem__(self, name: str) -> None:
        raise TypeError("the command table is fixed")

    def __contains__(self, name: object) -> bool:
        return name in self._table or name in self._loaded

    def __iter__(self) -> Iterator[str]:
        yield from self._table
        yield from (name for name in self._loaded if name not in self._table)

    def __len__(self) -> int:
        return len(set(self._table) | set(self._loaded))


class NarrowHelpFormatter(click.HelpFormatter):
    """click's help down to a phone's 40 columns: click never formats narrower than 50
    (wider than the screen), and its 30-column option column left each option's help 10
    characters; here the option column is at most two fifths of the width."""

    def __init__(
        self, indent_increment: int = 2, width: int | None = None, max_width: int | None = None
    ) -> None:
        if width is None:
            import shutil

            columns = shutil.get_terminal_size().columns  # COLUMNS first, as click does
            width = max(39, min(columns, max_width or 80) - 1)
        super().__init__(indent_increment, width, max_width)

    def write_dl(
        self, rows: Iterable[tuple[str, str]], col_max: int = 30, col_spacing: int = 2
    ) -> None:
        narrow = min(col_max, max(14, self.width * 2 // 5))
        super().write_dl(rows, col_max=narrow, col_spacing=col_spacing)


# every command's context (subcommands make their own) formats help this way
click.Context.formatter_class = NarrowHelpFormatter


class LazyGroup(click.Group):
    """A click group whose commands come from a table and are imported on first use."""

    def __init__(self, *args: Any, table: Mapping[str, CommandInfo], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.table = table
        self.commands = _LoadedOnUse(table)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's own listing, with the table's summaries: no command module imported."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(name, self._summary(name, limit)) for name in names]
        with formatter.section(say("click.commands", chosen())):
            formatter.write_dl(rows)

    def _summary(self, name: str, limit: int) -> str:
        info = self.table.get(name)
        if info is not None:  # the command's help in the language, without importing it
            summary = say(help_key((name,)), chosen()) if help_key((name,)) in words() else None
            info = replace(info, summary=summary or info.summary)
        command = click.Command(name, help=info.summary) if info else self.commands[name]
        return command.get_short_help_str(limit)


@click.group(cls=LazyGroup, table=COMMANDS, context_settings=CONTEXT)
@click.version_option(__version__, prog_name="jmo-doctor", message="%(prog)s %(version)s")
def cli() -> None:
    """Finds out why the JHT balance does not show in the JMO app, and says how to fix it."""
