"""Live per-probe progress on a terminal while the probes run (stderr, transient).

Notes come from probes while they talk to servers, titles and ids from plug-ins: each is
made printable once (:func:`~jmo_doctor.safetext.one_line`) and handed to rich as
``Text``, never as markup, so ``[link=…]`` or an escape sequence in a note stays text.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import IO, Any

from jmo_doctor.i18n import pick
from jmo_doctor.plugins import LoadedProbe
from jmo_doctor.report.labels import label
from jmo_doctor.runner import Board
from jmo_doctor.safetext import one_line

_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "skip": "dim", "error": "magenta"}


class LiveProgress:
    """A rich ``Live`` table: one row per probe with a spinner, its note and status."""

    def __init__(self, probes: Sequence[LoadedProbe], lang: str, stream: IO[str]) -> None:
        from rich.console import Console
        from rich.live import Live

        self._probes = probes
        self._lang = lang
        self._live = Live(console=Console(file=stream), transient=True, refresh_per_second=10)
        self._started = time.monotonic()

    def __enter__(self) -> Callable[[Board], None]:
        self._live.__enter__()
        return self.update

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._live.__exit__(kind, error, trace)

    def update(self, board: Board) -> None:
        from rich.spinner import Spinner
        from rich.table import Table
        from rich.text import Text

        table = Table.grid(padding=(0, 1))
        titles = {p.id: pick(p.title, self._lang) for p in self._probes}
        for state in board.snapshot():
            cell: Any
            if state.result is not None:
                status = str(state.result.status)
                cell = Text(label("probe." + status, self._lang), style=_STYLE.get(status, ""))
            elif state.started is not None:
                cell = Spinner("dots", style="cyan")
            else:
                cell = Text(label("waiting", self._lang))
            note = state.note
            if state.result is None and state.fraction is not None:
                note = f"{state.fraction:4.0%} {note}"
            table.add_row(
                cell,
                Text(one_line(state.id), style="bold"),
                Text(one_line(titles.get(state.id, ""))),
                Text(one_line(note), style="dim"),
            )
        elapsed = time.monotonic() - self._started
        table.add_row("", "", Text(f"{elapsed:.1f} s", style="dim"), "")
        self._live.update(table)
