"""What happens around one run, in one place: :class:`Watch`.

Before the probes: the lock (one run at a time), the stop signals, the healthchecks start
ping. After them: the history entry, then — once the report is out, even when writing it
failed — the status-change notification, the webhook, the Pushgateway push and the
finish ping. A run never takes longer than ``--timeout`` + 1 s (SPEC §3), so all of it
gets only what the run's deadline leaves (:class:`RunBudget`), and the messages go out in
order on one courier thread that the run waits for only until that deadline.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jmo_doctor import interrupt
from jmo_doctor.errors import UserError
from jmo_doctor.i18n import said
from jmo_doctor.monitor import lock

if TYPE_CHECKING:
    from jmo_doctor.config import Config
    from jmo_doctor.monitor.notify import Courier, Delivery

#: Prints one line for the person (on stderr): warnings and what the history said.
Say = Callable[[str], None]


class RunBudget:
    """The run's deadline (SPEC §3: never longer than ``--timeout`` + 1 s), shared out.

    Probes get the timeout; what must happen after them — history, printing, the
    webhook and pings — gets the rest of the extra second, and when messages are to be
    sent, a slice of the timeout kept back for them (a dead network must not leave the
    monitoring service without its ping).
    """

    #: Part of the extra second kept for the process to print and exit.
    EXIT_MARGIN_S = 0.15

    def __init__(self, started: float, timeout: float) -> None:
        self.started = started
        self.timeout = timeout
        self.hard_end = started + timeout + 1.0 - self.EXIT_MARGIN_S

    def probe_timeout(self, sends_messages: bool) -> float:
        kept = min(3.0, 0.2 * self.timeout) if sends_messages else 0.0
        return max(0.05, self.timeout - kept)

    def left(self) -> float:
        return max(0.0, self.hard_end - time.monotonic())

    def courier(self) -> Courier:
        from jmo_doctor.monitor.notify import Courier

        return Courier(self.hard_end)


class Watch:
    """Lock, start ping, history, notification, webhook and finish ping of one run.

    ::

        watch = Watch(history=True, notify=False, webhook=None, ping_url=url, say=echo)
        with watch.around(home, config, budget) as stop:  # lock, signals, start ping
            outcome = measure(..., stop=stop)
            watch.record(outcome.redacted)                 # history
            emit(outcome.document)
        # notification, webhook, finish ping (inside the deadline), lock released

    The URLs are checked when the watch is made, so a bad one is said before the run.
    """

    def __init__(
        self,
        *,
        history: bool,
        notify: bool,
        webhook: str | None,
        ping_url: str | None,
        say: Say,
        push: str | None = None,
        push_instance: str = "",
    ) -> None:
        from jmo_doctor.monitor.notify import url_problem

        for url, what in ((webhook, "webhook"), (ping_url, "ping"), (push, "push")):
            problem = url and url_problem(url, what)
            if problem:  # said now, not after a whole run
                raise UserError(problem)
        self.history = history
        self.notify = notify
        self.webhook = webhook
        self.ping_url = ping_url
        self.push = push  # a Pushgateway: the run's metrics, as job jmo_doctor
        self.push_instance = push_instance
        self.say = say
        self._run: tuple[Path, Config, RunBudget] | None = None
        self._courier: Courier | None = None
        self._recorded: tuple[Mapping[str, Any], str | None] | None = None

    @property
    def sends_messages(self) -> bool:
        return bool(self.notify or self.webhook or self.ping_url or self.push)

    @contextlib.contextmanager
    def around(
        self, home: Path, config: Config, budget: RunBudget
    ) -> Iterator[interrupt.StopRequest]:
        """The run's ``with`` block; yields the stop request the signals set."""
        with _one_run_at_a_time(home, self.say), interrupt.stop_on_signals() as stop:
            self._run = (home, config, budget)
            self._courier = budget.courier() if self.sends_messages else None
            courier = self._courier
            if courier is not None and self.ping_url:
                ping_url = self.ping_url
                courier.send("ping /start", lambda: _ping(ping_url, "start", courier))
            try:
                yield stop
            finally:
                if courier is not None and self._recorded is not None:
                    self._deliver(courier, *self._recorded)

    def record(self, redacted: Mapping[str, Any]) -> None:
        """Store the run in the history (and learn the previous status, for --notify).

        Never costs the report: a locked, damaged or full history only says so.
        """
        assert self._run is not None, "record() belongs inside around()"
        home, config, budget = self._run
        previous = _record(redacted, home, config, budget, self.say, history=self.history)
        self._recorded = (redacted, previous)

    def _deliver(self, courier: Courier, redacted: Mapping[str, Any], previous: str | None) -> None:
        """Queue the run's messages behind the start ping, wait until the deadline at most."""
        from jmo_doctor.monitor import notify
        from jmo_doctor.report import text
        from jmo_doctor.report.view import ReportView

        if self.notify:
            courier.send("notification", lambda: notify.notify_change(previous, redacted))
        if self.webhook:
            webhook = self.webhook
            courier.send(
                "webhook",
                lambda: notify.post_webhook(
                    webhook,
                    redacted,
                    timeout=max(0.1, min(5.0, courier.time_left())),
                    sleep=courier.sleep,
                ),
            )
        if self.push:
            push, instance = self.push, self.push_instance
            courier.send(
                "push",
                lambda: notify.push_metrics(
                    push,
                    redacted,
                    instance,
                    timeout=max(0.1, min(5.0, courier.time_left())),
                    sleep=courier.sleep,
                ),
            )
        if self.ping_url:
            ping_url = self.ping_url
            lang = ReportView.of(redacted).lang
            summary = text.plain([text.verdict_line(redacted, lang)]).strip()
            code = int(redacted["exit_code"])
            courier.send("ping", lambda: _ping(ping_url, "finish", courier, code, summary))
        for warning in courier.finish():
            self.say(said("cli.warning", message=warning))


@contextlib.contextmanager
def _one_run_at_a_time(home: Path, say: Say) -> Iterator[None]:
    """A second concurrent run exits 3; an unusable data dir only costs the lock."""
    try:
        with lock.acquire(home):
            yield
    except lock.LockHeld:
        raise  # a UserError: exit 3
    except lock.LockError as error:
        why = error.args[0] if error.args else str(error)  # its words in every language
        say(said("cli.warning", message=said("lock.without", error=why)))
        yield


def _record(
    redacted: Mapping[str, Any],
    home: Path,
    config: Config,
    budget: RunBudget,
    say: Say,
    *,
    history: bool,
) -> str | None:
    """Store the run in the history; returns the previous run's status (for --notify)."""
    from jmo_doctor.monitor import history as store
    from jmo_doctor.monitor import notify

    if not history:
        # nothing recorded to compare with: --notify keeps its own one-word memory
        return notify.remember_status(home, str(redacted["status"]))
    # the history gets what is left of the run's deadline: a database held by another
    # writer must not hold this run past it
    previous = store.last_status(home, timeout_s=budget.left() / 2)
    settings = store.HistoryConfig(
        retention_days=config.history.retention_days, max_runs=config.history.max_runs
    )
    # the document carries each target's role: the history reads BPJS's from it
    saved = store.record(redacted, home, settings, timeout_s=budget.left() / 2)
    if saved.message:
        say(said("cli.note", message=saved.message))
    return previous


def _ping(
    url: str, phase: str, courier: Courier, exit_code: int | None = None, summary: str = ""
) -> Delivery:
    from jmo_doctor.monitor import notify

    return notify.ping(
        url,
        phase,
        exit_code,
        summary,
        timeout=max(0.1, min(5.0, courier.time_left())),
        sleep=courier.sleep,
    )
