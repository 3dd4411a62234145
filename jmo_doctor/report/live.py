"""Live per-probe progress on a terminal while the probes run (stderr, transient).

Notes come from probes while they talk to servers, titles and ids from plug-ins: each is
made printable once (:func:`~jmo_doctor.safetext.one_line`) and handed to rich as
``Text``, never as markup, so ``[link=…]`` or an escape sequence in a note stays text.

The terminal does not echo what is typed while the display is up (:class:`NoEcho`):
Ctrl-C made it print ``^C`` under the display, which then cleared the wrong rows and left
its first row on the screen. Every row is one line, so the display's height is its
number of rows; on a phone (under 60 columns) the titles are left out.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import IO, Any

from jmo_doctor.i18n import pick
from jmo_doctor.plugins import LoadedProbe
from jmo_doctor.report.labels import label
from jmo_doctor.runner import Board, ProbeState
from jmo_doctor.safetext import one_line

_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "skip": "dim", "error": "magenta"}
#: Columns kept free at the right of every row (a cursor at the last column wraps early).
_ECHO_ROOM = 1
#: Narrower than this, the rows leave out the probe titles.
_TITLES_FROM = 60


class LiveProgress:
    """A rich ``Live`` table: one row per probe with a spinner, its note and status."""

    def __init__(self, probes: Sequence[LoadedProbe], lang: str, stream: IO[str]) -> None:
        from rich.console import Console
        from rich.live import Live

        self._probes = probes
        self._lang = lang
        self._console = Console(file=stream)
        self._live = Live(console=self._console, transient=True, refresh_per_second=10)
        self._started = time.monotonic()
        self._no_echo = NoEcho(stream)

    def __enter__(self) -> Callable[[Board], None]:
        self._no_echo.__enter__()
        self._live.__enter__()
        return self.update

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            self._live.__exit__(kind, error, trace)
        finally:
            self._no_echo.__exit__()

    def update(self, board: Board) -> None:
        from rich.constrain import Constrain
        from rich.table import Table
        from rich.text import Text

        width = self._console.width - _ECHO_ROOM
        with_titles = self._console.width >= _TITLES_FROM
        titles = {p.id: pick(p.title, self._lang) for p in self._probes}
        rows = [self._row(state, titles if with_titles else None) for state in board.snapshot()]
        elapsed = Text(f"{time.monotonic() - self._started:.1f} s", style="dim")
        rows.append(["", "", *([""] if with_titles else []), elapsed])
        # one line per row, status and id whole; the title, then the note, give way ("…")
        table = Table.grid(padding=(0, 1))
        table.add_column(no_wrap=True, min_width=self._status_width())
        table.add_column(
            no_wrap=True, min_width=min(16, max((len(p.id) for p in self._probes), default=6))
        )
        for _ in range(2 if with_titles else 1):
            table.add_column(no_wrap=True, overflow="ellipsis", ratio=1)
        for row in rows:
            table.add_row(*row)
        self._live.update(Constrain(table, width=max(10, width)))

    def _row(self, state: ProbeState, titles: dict[str, str] | None) -> list[Any]:
        from rich.spinner import Spinner
        from rich.text import Text

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
        title = [] if titles is None else [Text(one_line(titles.get(state.id, "")))]
        return [
            cell,
            Text(one_line(state.id), style="bold"),
            *title,
            Text(one_line(note), style="dim"),
        ]

    def _status_width(self) -> int:
        words = [label(f"probe.{s}", self._lang) for s in _STYLE] + [label("waiting", self._lang)]
        return max(len(word) for word in words)


class NoEcho:
    """The terminal's echo off for a ``with`` block, then as it was (when it is one)."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._saved: list[Any] | None = None

    def __enter__(self) -> None:
        try:
            import termios
        except ImportError:  # Windows: no echo to turn off this way
            return
        try:
            if not self._stream.isatty():
                return
            fd = self._stream.fileno()
            saved = termios.tcgetattr(fd)
            quiet = termios.tcgetattr(fd)
            quiet[3] &= ~termios.ECHO
            termios.tcsetattr(fd, termios.TCSANOW, quiet)
        except (termios.error, AttributeError, OSError, ValueError):  # not a terminal after all
            return
        self._saved = saved

    def __exit__(self, *_: object) -> None:
        if self._saved is None:
            return
        import termios

        with contextlib.suppress(termios.error, OSError, ValueError):
            termios.tcsetattr(self._stream.fileno(), termios.TCSANOW, self._saved)
