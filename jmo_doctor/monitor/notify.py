"""Telling someone: a notification when the status changes, a webhook, a healthchecks ping.

None of this may fail a run or hold it up for long: every command and request has a
short timeout, and every failure comes back as a :class:`Delivery` to print, not raise.
Messages never repeat a webhook or ping URL: those usually carry a secret token.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from jmo_doctor import __version__
from jmo_doctor.environment import is_termux
from jmo_doctor.i18n import pick, said, texts_of
from jmo_doctor.report import verdict
from jmo_doctor.report.labels import label
from jmo_doctor.report.view import ReportView
from jmo_doctor.safetext import one_line

if TYPE_CHECKING:
    import httpx

COMMAND_TIMEOUT_S = 5.0
MODES = ("auto", "termux", "desktop", "stderr", "off")


@dataclass(frozen=True)
class Delivery:
    ok: bool
    channel: str  # "termux-notification" | "notify-send" | "stderr" | "webhook" | "ping" | "push"
    message: str
    attempts: int = 1
    http_status: int | None = None


# --- status-change notifications ---------------------------------------------------------


def changed(previous_status: str | None, doc: Mapping[str, Any] | ReportView) -> bool:
    """A change worth a notification; the very first run has nothing to compare with."""
    return previous_status is not None and previous_status != ReportView.of(doc).status


def headline(previous_status: str, doc: Mapping[str, Any] | ReportView) -> tuple[str, str]:
    """(title, body) of the notification, in the report's language."""
    report = ReportView.of(doc)
    lang = report.lang
    before = label(f"status.{previous_status}", lang)
    after = label(f"status.{report.status}", lang)
    body = one_line(verdict.sentence(report, lang, short=True))
    return f"jmo-doctor: {before} → {after}", body


def _command(argv: list[str], channel: str) -> Delivery:
    try:
        done = subprocess.run(
            argv, capture_output=True, timeout=COMMAND_TIMEOUT_S, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        # termux-notification hangs when the Termux:API app is not installed
        waited = f"{COMMAND_TIMEOUT_S:.0f}"
        return Delivery(False, channel, said("notify.no_answer", channel=channel, seconds=waited))
    except OSError as error:
        return Delivery(False, channel, f"{channel}: {error.strerror or error}")
    if done.returncode != 0:
        output = done.stderr.decode(errors="replace").strip() or f"exit code {done.returncode}"
        return Delivery(False, channel, said("notify.failed", channel=channel, said=output))
    return Delivery(True, channel, f"notified with {channel}")


def _channel(mode: str, env: Mapping[str, str]) -> str:
    path = env.get("PATH")
    termux = shutil.which("termux-notification", path=path)
    desktop = shutil.which("notify-send", path=path)
    on_desktop = bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))
    if mode in ("auto", "termux") and termux and (mode == "termux" or is_termux(env)):
        return termux
    if mode in ("auto", "desktop") and desktop and on_desktop:
        return desktop
    return "stderr"


def notify_change(
    previous_status: str | None,
    doc: Mapping[str, Any],
    mode: str = "auto",
    *,
    environ: Mapping[str, str] | None = None,
    stderr: IO[str] | None = None,
) -> Delivery | None:
    """Notify when the status differs from the previous run's; None when nothing to say.

    ``mode``: auto (Termux, else desktop, else stderr) | termux | desktop | stderr | off.
    A notifier that fails falls back to a line on stderr, so the change is never lost.
    """
    if mode not in MODES:
        raise ValueError(f"unknown notification mode {mode!r} (known: {', '.join(MODES)})")
    report = ReportView.of(doc)
    if mode == "off" or previous_status is None or not changed(previous_status, report):
        return None
    env = os.environ if environ is None else environ
    title, body = headline(previous_status, report)
    critical = report.status == "critical"
    command = _channel(mode, env)
    failure = ""
    if command != "stderr":
        name = os.path.basename(command)
        if name.startswith("termux-notification"):
            urgent = ["--priority", "high"] if critical else []
            argv = [command, "--id", "jmo-doctor", "--title", title, "--content", body, *urgent]
        else:
            urgency = "critical" if critical else "normal"
            argv = [command, "--app-name", "jmo-doctor", "--urgency", urgency, title, body]
        delivery = _command(argv, name)
        if delivery.ok:
            return delivery
        failure = f" ({pick(texts_of(delivery.message) or delivery.message, report.lang)})"
    stream = stderr if stderr is not None else sys.stderr
    print(f"{title}: {body}".rstrip(": ") + failure, file=stream)
    return Delivery(True, "stderr", "notified on stderr" + failure)


# --- HTTP: webhook and healthchecks ping --------------------------------------------------


def _client(timeout: float, verify: str | bool) -> httpx.Client:
    import httpx  # deferred: only runs that notify pay for it

    return httpx.Client(
        timeout=timeout,
        verify=verify,
        follow_redirects=False,
        headers={"User-Agent": f"jmo-doctor/{__version__}"},
    )


def _post_with_retries(
    channel: str,
    url: str,
    body: bytes,
    content_type: str,
    *,
    retries: int,
    timeout: float,
    backoff: float,
    verify: str | bool,
    sleep: Callable[[float], None],
    method: str = "POST",
) -> Delivery:
    """POST (or ``method``), retrying connection errors, 429 and 5xx with exponential backoff."""
    import httpx

    try:
        scheme = urlsplit(url).scheme
    except ValueError as error:
        return Delivery(
            False, channel, said("notify.url_unusable", channel=channel, error=error), 0
        )
    if scheme not in ("http", "https"):
        return Delivery(False, channel, said("notify.url_scheme", channel=channel), 0)
    attempts, last, status = 0, "", None
    try:
        with _client(timeout, verify) as client:
            for attempt in range(retries + 1):
                if attempt:
                    sleep(backoff * 2 ** (attempt - 1))
                attempts += 1
                try:
                    response = client.request(
                        method, url, content=body, headers={"Content-Type": content_type}
                    )
                except httpx.TransportError as error:
                    last = f"{type(error).__name__}: {error}".rstrip(": ")
                    continue
                status = response.status_code
                if 200 <= status < 300:
                    return Delivery(True, channel, f"{channel} delivered", attempts, status)
                last = f"HTTP {status}"
                if status < 500 and status != 429:  # the request itself is wrong: no retry
                    break
    except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError) as error:
        unusable = said("notify.url_unusable", channel=channel, error=error)
        return Delivery(False, channel, unusable, attempts)
    failed = said("notify.failed_after", channel=channel, attempts=attempts, last=last)
    return Delivery(False, channel, failed, attempts, status)


def post_webhook(
    url: str,
    doc: Mapping[str, Any],
    retries: int = 3,
    timeout: float = 5.0,
    *,
    backoff: float = 0.5,
    verify: str | bool = True,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """POST the JSON report to ``url``; ``retries`` more tries after the first."""
    from jmo_doctor.report.document import dumps

    return _post_with_retries(
        "webhook",
        url,
        dumps(dict(doc)).encode("utf-8"),
        "application/json",
        retries=retries,
        timeout=timeout,
        backoff=backoff,
        verify=verify,
        sleep=sleep,
    )


def ping_url(url: str, phase: str, exit_code: int | None = None) -> str:
    """healthchecks.io: ``<url>/start`` before the run, ``<url>/<exit code>`` after it."""
    if phase == "start":
        suffix = "start"
    elif phase == "finish" and exit_code is not None:
        suffix = str(int(exit_code))
    else:
        raise ValueError("phase must be 'start', or 'finish' with an exit code")
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/" + suffix))


def ping(
    url: str,
    phase: str,
    exit_code: int | None = None,
    summary: str = "",
    *,
    retries: int = 2,
    timeout: float = 5.0,
    backoff: float = 0.5,
    verify: str | bool = True,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """Ping a healthchecks.io-style check; the summary becomes the ping's body."""
    ping_url("http://check.invalid/", phase, exit_code)  # a wrong phase is a bug: raise
    try:
        target = ping_url(url, phase, exit_code)
    except ValueError as error:
        return Delivery(False, "ping", f"ping URL is not usable: {error}", 0)
    return _post_with_retries(
        "ping",
        target,
        summary.encode("utf-8")[:100_000],  # healthchecks.io keeps the first 100 kB
        "text/plain; charset=utf-8",
        retries=retries,
        timeout=timeout,
        backoff=backoff,
        verify=verify,
        sleep=sleep,
    )


# --- Prometheus Pushgateway ----------------------------------------------------------------

PUSH_JOB = "jmo_doctor"
_PLAIN_LABEL_VALUE = re.compile(r"^[A-Za-z0-9_.:-]+$")


def push_instance(hostname: str, *, redact: bool) -> str:
    """The ``instance`` label of a push: the host name, or a stable token in its place.

    Redacted (the default), the name becomes ``host-`` and 12 hex digits of a hash:
    the same machine always pushes to the same series, and the name is not in it.
    """
    if not redact:
        return hostname or "unknown"
    digest = hashlib.sha256(f"jmo-doctor instance:{hostname}".encode()).hexdigest()
    return "host-" + digest[:12]


def push_url(base: str, job: str, instance: str) -> str:
    """``<base>/metrics/job/<job>/instance/<instance>``; odd values base64-encoded.

    The Pushgateway's own rule: a label value with a ``/`` (or anything a path mangles)
    goes as ``<label>@base64/<url-safe base64>``.
    """
    parts = urlsplit(base)
    path = parts.path.rstrip("/") + "/metrics"
    for name, value in (("job", job), ("instance", instance)):
        if _PLAIN_LABEL_VALUE.match(value):
            path += f"/{name}/{value}"
        else:
            encoded = base64.urlsafe_b64encode(value.encode()).decode()
            path += f"/{name}@base64/{encoded or '='}"
    return urlunsplit(parts._replace(path=path, query="", fragment=""))


def push_metrics(
    base: str,
    doc: Mapping[str, Any],
    instance: str,
    *,
    retries: int = 2,
    timeout: float = 5.0,
    backoff: float = 0.5,
    verify: str | bool = True,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """PUT the run's metrics to a Pushgateway: the group is replaced as a whole, so a
    cause that went away does not linger from an earlier push."""
    from jmo_doctor.report import prom

    return _post_with_retries(
        "push",
        push_url(base, PUSH_JOB, instance),
        prom.render(doc).encode("utf-8"),
        "text/plain; version=0.0.4; charset=utf-8",
        retries=retries,
        timeout=timeout,
        backoff=backoff,
        verify=verify,
        sleep=sleep,
        method="PUT",
    )


# --- what happens around a run, inside its deadline ---------------------------------------


def url_problem(url: str, what: str) -> str | None:
    """Why ``url`` cannot be a webhook or ping URL, or None: checked before the run."""
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return f"the {what} URL contains spaces or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as error:
        return f"the {what} URL is not usable: {error}"
    if parts.scheme not in ("http", "https"):
        return f"the {what} URL must start with http:// or https://"
    if not parts.hostname:
        return f"the {what} URL has no host name"
    return None


class Courier:
    """Sends the run's messages one after another on a background thread.

    One thread, in order: the healthchecks finish ping can never overtake a slow start
    ping. The run waits for the courier only until its deadline (SPEC §3: a run never
    outlasts ``--timeout`` + 1 s); a delivery still under way then is abandoned and said.
    """

    def __init__(self, deadline: float) -> None:
        import queue
        import threading

        self.deadline = deadline
        self._jobs: queue.SimpleQueue[tuple[str, Callable[[], Delivery | None]] | None]
        self._jobs = queue.SimpleQueue()
        self._queued: list[str] = []
        self._done: list[Delivery | None] = []
        self._thread = threading.Thread(target=self._work, name="jmo-doctor-courier", daemon=True)
        self._thread.start()

    def time_left(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def sleep(self, seconds: float) -> None:
        """A retry's backoff never sleeps past the deadline."""
        time.sleep(min(seconds, self.time_left()))

    def send(self, name: str, job: Callable[[], Delivery | None]) -> None:
        self._queued.append(name)
        self._jobs.put((name, job))

    def _work(self) -> None:
        while (item := self._jobs.get()) is not None:
            name, job = item
            if self.time_left() <= 0:
                self._done.append(
                    Delivery(False, name, f"{name}: no time left before the deadline")
                )
                continue
            try:
                self._done.append(job())
            except Exception as error:  # a delivery never takes the run down
                self._done.append(Delivery(False, name, f"{name}: {error}"))

    def finish(self) -> list[str]:
        """Wait until everything is sent or the deadline; the warnings to print."""
        self._jobs.put(None)
        self._thread.join(self.time_left())
        done = list(self._done)  # the thread may still append: read it once
        warnings = [d.message for d in done if d is not None and not d.ok]
        pending = self._queued[len(done) :]
        if pending:
            warnings.append(said("notify.not_sent", what=", ".join(pending)))
        return warnings


# --- --notify without a history: a one-word memory ----------------------------------------

#: The last status, for ``--notify --no-history``: with no history to compare with, every
#: run would otherwise alert again about the same change.
STATUS_FILE = "notify-status"
_STATUSES = ("ok", "warning", "critical", "unknown")


def remember_status(home: Path, status: str) -> str | None:
    """Store ``status``; return the one stored before (None if none or unreadable)."""
    from jmo_doctor.fileio import write_atomic
    from jmo_doctor.paths import ensure

    path = home / STATUS_FILE
    previous = _read_status(path)
    with contextlib.suppress(OSError):  # a full or read-only disk costs only the memory
        ensure(home)
        write_atomic(str(path), status + "\n", devices=False)
    return previous


def _read_status(path: Path) -> str | None:
    try:
        fd = os.open(
            path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        )
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as stream:
            word = stream.read(32).decode("ascii", errors="replace").strip()
    except OSError:  # a directory or a device planted there
        return None
    return word if word in _STATUSES else None
