"""SIGINT, SIGTERM and SIGHUP end a run the way its deadline does (issue 9, SPEC §3).

What was measured so far becomes the report (unfinished probes say they were
interrupted), the lock is released, and the exit code follows the diagnosis. The handler
only sets an event: the runner's waiting loop sees it within one tick, so no exception
is thrown into the middle of a history write or a half-printed report.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

#: Signals that ask a run to stop; SIGHUP is what a closed terminal (or Termux) sends.
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class StopRequest:
    """The event the runner watches, and which signal set it."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal_name: str | None = None

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.signal_name is None:
            self.signal_name = signal.Signals(signum).name
        self.event.set()


@contextlib.contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """Catch the stop signals for the ``with`` block, then restore what was there."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request  # signals are only delivered to the main thread: nothing to catch
        return
    previous = {each: signal.signal(each, request._handle) for each in STOP_SIGNALS}
    try:
        yield request
    finally:
        for each, handler in previous.items():
            signal.signal(each, handler)
