"""speedtest backend: speedtest-cli and Ookla's servers, in a thread, within the deadline.

What is kept from speedtest-cli: its configuration, server list and best-server choice
(secure mode: those documents come over HTTPS, verified with the run's TLS settings) and
its download. What is not:

- its upload figure counts bytes handed to the socket, even those of requests cut off by
  the timer (reads up to 50 % high after a fast transfer, when socket buffers are big):
  here only requests the server answered count, and the rate's window ends at the last
  answer;
- its "ping" (half the mean of three HTTP GETs, connect included): the idle and loaded
  latency come from the same TCP handshake probes as the http backend's.

Every failure (configuration answering 403, no servers, timeouts) becomes a reason for
``bandwidth.unavailable``, never a traceback. The thread is a daemon and is told to stop
at the deadline; nothing waits for it after that.
"""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import speedtest

from jmo_doctor.api import ProbeContext
from probes._common.errors import error_text
from probes._common.net import addresses_for, budget
from probes.bandwidth._measurement import MIN_PHASE_S, Measurement, Phase, Report, host_port
from probes.bandwidth._meter import Throughput
from probes.bandwidth._responsiveness import RttLog, idle_rtts, sample_while_running
from probes.bandwidth._upload import confirmed_bytes

_SPEEDTEST_HOSTS = {"www.speedtest.net", "c.speedtest.net"}
_SMALL_UPLOADS = (32768, 65536, 131072, 262144)
#: Loaded RTTs count from this far into a phase (its threads have ramped up by then).
_LOADED_AFTER_S = 1.0
#: What the transfer may take past its two phases' lengths: speedtest-cli's download
#: ends the requests in flight (a request opened just before the end waits for its
#: headers and one read: 0.4-0.9 s over at 1 Mbit/s in the lab), and the upload's
#: threads are joined up to 1 s past the end. With 2 s of slack a 1 Mbit/s link read
#: "did not answer in time", 1 run in 3.
TRANSFER_SLACK_S = 4.0


@dataclass(frozen=True)
class Endpoints:
    """Where speedtest.net's documents come from. ``base``: serve ``www.speedtest.net``
    and ``c.speedtest.net`` paths from this URL instead (tests, mirrors); ``mini``: use
    this Speedtest Mini server instead of the server list."""

    base: str = ""
    mini: str = ""


OOKLA = Endpoints()


class _Rebase(urllib.request.BaseHandler):
    """Sends requests for speedtest.net's documents to ``base`` (before proxies apply)."""

    handler_order = 0

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")

    def _rebase(self, request: urllib.request.Request) -> urllib.request.Request:
        parts = urlsplit(request.full_url)
        if parts.hostname in _SPEEDTEST_HOSTS:
            request.full_url = f"{self.base}{parts.path}" + (
                f"?{parts.query}" if parts.query else ""
            )
        return request

    http_request = _rebase
    https_request = _rebase


def build_opener(ssl_context: Any, timeout: float, endpoints: Endpoints) -> Any:
    """speedtest-cli's opener, but verifying HTTPS with the run's context (``ca_bundle``)."""
    handlers: list[urllib.request.BaseHandler] = [
        urllib.request.ProxyHandler(),
        speedtest.SpeedtestHTTPHandler(timeout=timeout),
        speedtest.SpeedtestHTTPSHandler(context=ssl_context, timeout=timeout),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPRedirectHandler(),
        urllib.request.HTTPErrorProcessor(),
    ]
    if endpoints.base:
        handlers.insert(0, _Rebase(endpoints.base))
    opener = urllib.request.OpenerDirector()
    opener.addheaders = [("User-agent", speedtest.build_user_agent())]
    for handler in handlers:
        opener.add_handler(handler)
    return opener


class Stop:
    """speedtest-cli's shutdown event (it calls ``isSet``, deprecated on ``Event``)."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def isSet(self) -> bool:  # the name speedtest-cli calls
        return self._event.is_set()

    def set(self) -> None:
        self._event.set()


class _Expired(OSError):
    """Raised into an upload in flight at the deadline: that request is abandoned."""


class _Body:
    """An upload body read from one shared buffer, that refuses to go on after the end."""

    def __init__(self, data: memoryview, end: float, stop: Stop) -> None:
        self._data, self._end, self._stop, self._at = data, end, stop, 0

    def read(self, size: int = 65536) -> bytes:
        if time.monotonic() >= self._end or self._stop.isSet():
            raise _Expired("upload time is up")
        chunk = self._data[self._at : self._at + size]
        self._at += len(chunk)
        return bytes(chunk)

    def __len__(self) -> int:
        return len(self._data)


class ConfirmedSpeedtest(speedtest.Speedtest):  # type: ignore[misc]
    """speedtest-cli with our opener, and an upload that counts answered requests only."""

    def __init__(self, opener: Any, **kwargs: Any) -> None:
        self._given_opener = opener
        super().__init__(**kwargs)

    def get_config(self) -> Any:
        self._opener = self._given_opener  # before the first request it makes
        return super().get_config()

    def upload(self, callback: Any = None, pre_allocate: bool = True, threads: Any = None) -> float:
        # From 32 KiB up, not from the configuration's first size (512 KiB with Ookla's
        # ratio 5): only answered requests count, and on a slow link a 512 KiB request
        # may never be answered within the test.
        counts = self.config["counts"]["upload"]
        ladder = sorted({*_SMALL_UPLOADS, *self.config["sizes"]["upload"]})
        sizes = [size for size in ladder for _ in range(counts)]
        todo = iter(sizes)
        buffer = memoryview(b"content1=" + b"0" * max(sizes))
        url, lock = self.best["url"], threading.Lock()
        start = time.monotonic()
        end = start + float(self.config["length"]["upload"])
        tally = {"bytes": 0, "last": start}

        def worker() -> None:
            while time.monotonic() < end and not self._shutdown_event.isSet():
                with lock:
                    size = next(todo, None)
                if size is None:
                    return
                body = _Body(buffer[:size], end, self._shutdown_event)
                request = speedtest.build_request(
                    url, body, secure=self._secure, headers={"Content-length": str(size)}
                )
                try:
                    with self._opener.open(request) as answer:
                        text = answer.read(64)
                except (*speedtest.HTTP_ERRORS, OSError):
                    continue  # cut off or failed: its bytes were never confirmed
                with lock:
                    tally["bytes"] += confirmed_bytes(text, size)
                    tally["last"] = time.monotonic()

        count = threads or self.config["threads"]["upload"]
        workers = [threading.Thread(target=worker, daemon=True) for _ in range(count)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join(max(0.0, end + 1.0 - time.monotonic()))
        with lock:
            sent, seconds = tally["bytes"], tally["last"] - start
        self.results.bytes_sent = sent
        self.results.upload = sent * 8.0 / seconds if seconds > 0 else 0.0
        return float(self.results.upload)


def reason_for(error: BaseException) -> tuple[str, str]:
    """``(reason, detail)`` for ``bandwidth.unavailable``."""
    detail = str(error).splitlines()[0] if str(error) else error_text(error, typed=True)
    if isinstance(error, speedtest.ConfigRetrievalError | speedtest.SpeedtestConfigError):
        return "config", detail
    if isinstance(error, KeyError | ValueError):
        return "config", error_text(error, typed=True)
    no_servers = (
        speedtest.ServersRetrievalError,
        speedtest.SpeedtestServersError,
        speedtest.NoMatchedServers,
        speedtest.SpeedtestBestServerFailure,
        speedtest.SpeedtestMissingBestServer,
    )
    if isinstance(error, no_servers):
        return "no_servers", detail
    if isinstance(
        error, speedtest.SpeedtestMiniConnectFailure | speedtest.InvalidSpeedtestMiniServer
    ):
        return "mini_server", detail
    return "error", error_text(error, typed=True)


def prepare(opener: Any, timeout: float, endpoints: Endpoints, stop: Stop) -> Any:
    """Configuration, servers and the best one: speedtest-cli's slow start, in a thread."""
    tester = ConfirmedSpeedtest(opener, timeout=timeout, secure=True, shutdown_event=stop)
    if endpoints.mini:
        tester.get_best_server(tester.set_mini_server(endpoints.mini))
    else:
        tester.get_best_server()
    return tester


class Timeline:
    """Which phase the worker thread is in, since when (monotonic)."""

    def __init__(self) -> None:
        self.marks: dict[str, float] = {}
        self.current = "download"

    def mark(self, phase: str) -> None:
        self.marks[phase] = time.monotonic()
        self.current = phase


def transfer(tester: Any, duration: float, timeline: Timeline) -> tuple[float, float]:
    tester.config["length"] = {"download": duration, "upload": duration}
    timeline.mark("download")
    down = float(tester.download())
    timeline.mark("upload")
    up = float(tester.upload(pre_allocate=False))
    timeline.mark("done")
    return down, up


def _unavailable(reason: str, detail: str, server: str = "") -> Measurement:
    return Measurement("speedtest", server, unavailable=(reason, detail))


async def measure(
    ctx: ProbeContext, duration: float, endpoints: Endpoints, report: Report
) -> Measurement:
    stop = Stop()
    request_timeout = max(1.0, min(10.0, duration))
    opener = build_opener(ctx.ssl_context(), request_timeout, endpoints)
    try:
        # setup may take what the two phases do not need
        setup_s = max(1.0, budget(ctx, 600.0) - 2 * duration - TRANSFER_SLACK_S)
        tester = await asyncio.wait_for(
            ctx.to_thread(prepare, opener, request_timeout, endpoints, stop), setup_s
        )
    except TimeoutError:
        stop.set()
        return _unavailable("timeout", "speedtest.net configuration or servers")
    except Exception as error:  # the library's and urllib's errors alike
        return _unavailable(*reason_for(error))
    url = str(tester.best["url"])
    host, port = host_port(url)
    server = f"{tester.best.get('sponsor', '')} ({host})".strip()
    addresses, _ = await addresses_for(ctx, host, port)
    address, idle = await idle_rtts(addresses, port)
    # what is left now is shared by the two phases and what they may overrun
    duration = min(duration, (budget(ctx, 600.0) - TRANSFER_SLACK_S) / 2)
    if duration < MIN_PHASE_S:
        return _unavailable("no_time", "deadline", server)
    timeline, log = Timeline(), RttLog()
    work = asyncio.ensure_future(ctx.to_thread(transfer, tester, duration, timeline))
    hard_end = time.monotonic() + 2 * duration + TRANSFER_SLACK_S
    try:
        if address:
            async with sample_while_running(address, port, log):
                await _follow(work, timeline, duration, hard_end, report)
        else:
            await _follow(work, timeline, duration, hard_end, report)
        down_bps, up_bps = work.result() if work.done() else (0.0, 0.0)
    except Exception as error:
        return _unavailable(*reason_for(error), server=server)
    finally:
        stop.set()
    if not work.done():
        return _unavailable("timeout", "speedtest transfer", server)
    marks = timeline.marks
    results = tester.results
    down = _phase(down_bps, results.bytes_received, marks["download"], marks["upload"], log)
    up = _phase(up_bps, results.bytes_sent, marks["upload"], marks["done"], log)
    if results.bytes_received == 0:
        return _unavailable("download", "no data received", server)
    extra = {"speedtest_ping_ms": round(float(results.ping), 3)}
    return Measurement("speedtest", server, tuple(idle), down, up, extra=extra)


async def _follow(
    work: asyncio.Future[Any], timeline: Timeline, duration: float, hard_end: float, report: Report
) -> None:
    while not work.done() and time.monotonic() < hard_end:
        await asyncio.wait({work}, timeout=min(0.25, max(0.0, hard_end - time.monotonic())))
        since = timeline.marks.get(timeline.current, time.monotonic())
        report(timeline.current, (time.monotonic() - since) / duration, None)


def _phase(bps: float, count: int, start: float, end: float, log: RttLog) -> Phase:
    seconds = max(0.0, end - start)
    mbps = bps / 1e6
    throughput = Throughput(mbps, mbps, int(count), seconds, 0.0)
    loaded = start + min(_LOADED_AFTER_S, seconds / 4)
    rtts, lost = tuple(log.between(loaded, end)), log.lost_between(loaded, end)
    # speedtest-cli counts what it moved; its sizes are its own (max_mb is not applied)
    return Phase(throughput, rtts, lost, moved_bytes=int(count))
