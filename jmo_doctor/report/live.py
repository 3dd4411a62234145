"""Live per-probe progress on a terminal while the probes run (stderr, transient)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import IO, Any

from jmo_doctor.i18n import pick
from jmo_doctor.plugins import LoadedProbe
from jmo_doctor.report.labels import label
from jmo_doctor.runner import Board

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

        table = Table.grid(padding=(0, 1))
        titles = {p.id: pick(p.title, self._lang) for p in self._probes}
        for state in board.snapshot():
            cell: Any
            if state.result is not None:
                status = str(state.result.status)
                cell = f"[{_STYLE.get(status, '')}]{label('probe.' + status, self._lang)}[/]"
            elif state.started is not None:
                cell = Spinner("dots", style="cyan")
            else:
                cell = label("waiting", self._lang)
            note = state.note
            if state.result is None and state.fraction is not None:
                note = f"{state.fraction:4.0%} {note}"
            table.add_row(cell, f"[bold]{state.id}[/]", titles.get(state.id, ""), f"[dim]{note}[/]")
        elapsed = time.monotonic() - self._started
        table.add_row("", "", f"[dim]{elapsed:.1f} s[/]", "")
        self._live.update(table)
