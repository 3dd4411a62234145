"""`run --watch`: quick checks again and again until OK, showing only what changed.

For the person toggling airplane mode, moving to another Wi-Fi or restarting the router
(SPEC §3). Mobile quota decides what runs: never the speed test (``--quick``), and not
the app store either — its pages are the largest download of a run and the installed
app does not change while the network is being fixed. Each run takes the lock and
honours the stop signals as a single run does; only the last run is recorded (the
caller does that), so a watch leaves one history entry, not one per ten seconds.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jmo_doctor.report import text
from jmo_doctor.report.labels import label
from jmo_doctor.report.view import ReportView

DEFAULT_EVERY_S = 10.0
#: Probes a watch never runs, to spare the quota; see the module docstring.
SKIPPED = ("store",)
#: Where a change line's text starts: after "HH:MM:SS ".
_STAMP = 9


@dataclass(frozen=True)
class Round:
    """One run of the watch: its outcome, and whether a stop signal cut it short."""

    outcome: Any  # session.RunOutcome
    interrupted: bool


def skipped_ids(known: Sequence[str], only: Sequence[str]) -> list[str]:
    """The probes to leave out: those of :data:`SKIPPED` that exist and were not asked
    for by name with ``--only``."""
    return [each for each in SKIPPED if each in known and each not in only]


def until_ok(
    every: float,
    once: Callable[[], Round],
    lang: str,
    width: int,
    show: Callable[[list[text.Line]], None],
) -> Any:
    """Run ``once`` every ``every`` seconds until the status is OK or Ctrl-C; returns the
    last finished run's outcome (the interrupted one only when none finished)."""
    show(text.wrap_plain(label("watch.started", lang).format(seconds=f"{every:g}"), width))
    last: Any = None
    shown: ReportView | None = None
    try:
        while True:
            began = time.monotonic()
            round_ = once()
            if round_.interrupted:
                last = last if last is not None else round_.outcome
                break
            last = round_.outcome
            report = ReportView.of(last.document)
            show(changes(shown, report, time.strftime("%H:%M:%S"), width))
            shown = report
            if report.status == "ok":
                return last
            time.sleep(max(0.0, every - (time.monotonic() - began)))
    except KeyboardInterrupt:  # Ctrl-C between two runs: the signals are ours only in one
        pass
    show(text.wrap_plain(label("watch.stopped", lang), width))
    return last


def changes(
    before: ReportView | None, after: ReportView, stamp: str, width: int
) -> list[text.Line]:
    """What differs from the run before: the status, causes that came (+) and went (-);
    nothing when nothing changed. The first run shows its status and causes."""
    lang = after.lang
    was = _titles(before) if before is not None else {}
    now = _titles(after)
    status = _status_word(after.status, lang)
    if before is not None and before.status != after.status:
        status = f"{_status_word(before.status, lang)} → {status}"
    elif before is not None and was.keys() == now.keys():
        return []
    lines = [f"{stamp} {status}"]
    lines += [f"+ {title}" for key, title in now.items() if key not in was]
    lines += [f"- {title}" for key, title in was.items() if key not in now]
    out = text.wrap_plain(lines[0], width, hanging=_STAMP)
    for line in lines[1:]:
        out += text.wrap_plain(line, width, indent=_STAMP, hanging=2)
    return out


def _titles(report: ReportView) -> Mapping[str, str]:
    # only causes that are something wrong: the all-clear's KPJ pointer is not news
    return {c.id: c.title or c.id for c in report.causes if c.severity != "ok"}


def _status_word(status: str, lang: str) -> str:
    return label(f"status.{status}", lang)


def printer(colour: bool) -> Callable[[list[text.Line]], None]:
    """Show lines on stdout now (the watch goes on after them), styled or plain."""

    def show(lines: list[text.Line]) -> None:
        if not lines:
            return
        if colour:
            text.print_rich(lines, sys.stdout)
        else:
            sys.stdout.write(text.plain(lines))
        sys.stdout.flush()

    return show
