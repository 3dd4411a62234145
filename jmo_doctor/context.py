"""The per-run context that probes receive (see :class:`jmo_doctor.api.ProbeContext`)."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from jmo_doctor.api import Decided, Fact, Finding, Messages, RunOptions
from jmo_doctor.config import Config, Target
from jmo_doctor.i18n import LANGUAGES, Said, fill, in_language, pick
from jmo_doctor.threads import to_daemon_thread

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")

ProgressSink = Callable[[str, "float | None", str], None]


class RunShared:
    """What every probe of one run shares: settings, caches and the deadline."""

    def __init__(
        self,
        config: Config,
        options: RunOptions,
        lang: str,
        deadline: float,
        progress: ProgressSink | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.config = config
        self.options = options
        self.lang = lang
        self.deadline = deadline
        self.progress_sink = progress
        #: Set by a signal (SIGINT, SIGTERM, SIGHUP): the run ends as at its deadline.
        self.stop = stop if stop is not None else threading.Event()
        self._memo: dict[str, asyncio.Future[Any]] = {}
        # getaddrinfo's own duration, timed in its thread: free of thread start-up and
        # event-loop hops, so it compares with `dig` run on its own
        self.lookup_ms: dict[tuple[str, int], float] = {}
        self._ssl: ssl.SSLContext | None = None
        self._ssl_lock = threading.Lock()
        #: Decisive facts published so far (see :class:`jmo_doctor.api.Fact`); set and
        #: awaited on the run's event loop only.
        self._facts: dict[Fact, asyncio.Event] = {}

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    async def once(self, key: str, factory: Callable[[], Awaitable[T]]) -> T:
        task = self._memo.get(key)
        if task is None:
            task = asyncio.ensure_future(factory())
            # the work outlives callers that stopped waiting: its failure is theirs to
            # read, never an "exception was never retrieved" on the terminal
            task.add_done_callback(_retrieved)
            self._memo[key] = task
        # shield: one caller timing out must not cancel the work the others wait for
        result: T = await asyncio.shield(task)
        return result

    def _event(self, fact: Fact) -> asyncio.Event:
        event = self._facts.get(fact)
        if event is None:
            event = self._facts[fact] = asyncio.Event()
        return event

    def publish(self, fact: Fact) -> None:
        self._event(fact).set()

    def known(self, fact: Fact) -> bool:
        event = self._facts.get(fact)
        return event is not None and event.is_set()

    async def unless(self, work: Awaitable[T], facts: Sequence[Fact]) -> T:
        """``work``'s result, or :class:`Decided` once one of ``facts`` is published."""
        already = next((f for f in facts if self.known(f)), None)
        if already is not None:
            if asyncio.iscoroutine(work):
                work.close()  # never started: no "coroutine was never awaited" warning
            raise Decided(already)
        task = asyncio.ensure_future(work)
        waiters = {asyncio.ensure_future(self._event(f).wait()): f for f in facts}
        try:
            await asyncio.wait([task, *waiters], return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                return task.result()
            seen = next(f for w, f in waiters.items() if w.done())
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            raise Decided(seen)
        finally:
            for waiter in waiters:
                waiter.cancel()
            task.cancel()  # a no-op when done; stops the work when we are cancelled

    def ssl_context(self) -> ssl.SSLContext:
        with self._ssl_lock:
            if self._ssl is None:
                self._ssl = make_ssl_context(self.config.ca_bundle)
            return self._ssl


def _retrieved(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


def make_ssl_context(ca_bundle: str = "") -> ssl.SSLContext:
    """Verifying context: the system store (``SSL_CERT_FILE`` honoured), else certifi, plus
    ``ca_bundle``."""
    context = ssl.create_default_context()
    paths = ssl.get_default_verify_paths()
    has_system_store = any(p and os.path.exists(p) for p in (paths.cafile, paths.capath)) or bool(
        context.get_ca_certs()
    )
    if not has_system_store:
        try:
            import certifi

            context.load_verify_locations(cafile=certifi.where())
        except (ImportError, OSError):
            pass
    if ca_bundle:
        context.load_verify_locations(cafile=ca_bundle)
    return context


def make_finding(
    messages: Messages, lang: str, code: str, target: str | None = None, **data: Any
) -> Finding:
    """A finding whose message is ``messages[code]`` in ``lang``, filled from target and data."""
    template = messages.get(code)
    if not template:
        return Finding(code=code, message=code, target=target, data=data)
    # every language is filled, so a saved report can be shown in the other one
    texts = {
        # a value given in every language (a reason in words) is filled in as the choice's
        choice: fill(pick(template, choice), in_language({"target": target or "", **data}, choice))
        for choice in (*LANGUAGES, lang)
    }
    return Finding(code=code, message=Said(texts, lang), target=target, data=data)


class ProbeRunContext:
    """One probe's view of the run: the shared services plus its own messages."""

    def __init__(self, shared: RunShared, probe_id: str, messages: Messages) -> None:
        self._shared = shared
        self.probe_id = probe_id
        self._messages = messages

    @property
    def config(self) -> Config:
        return self._shared.config

    @property
    def options(self) -> RunOptions:
        return self._shared.options

    @property
    def lang(self) -> str:
        return self._shared.lang

    @property
    def targets(self) -> Sequence[Target]:
        return self._shared.config.targets

    def remaining(self) -> float:
        return self._shared.remaining()

    def text(self, *, id: str, en: str) -> str:
        return Said({"id": id, "en": en}, self.lang)

    def finding(self, code: str, target: str | None = None, **data: Any) -> Finding:
        return make_finding(self._messages, self.lang, code, target, **data)

    async def resolve(self, host: str, port: int) -> list[tuple[int, str]]:
        def timed() -> list[Any]:
            started = time.perf_counter()
            try:
                return socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
            finally:
                self._shared.lookup_ms[(host, port)] = (time.perf_counter() - started) * 1000

        async def lookup() -> list[tuple[int, str]]:
            infos = await asyncio.wait_for(
                to_daemon_thread(timed), timeout=max(0.1, min(10.0, self.remaining()))
            )
            seen: list[tuple[int, str]] = []
            for family, _, _, _, sockaddr in infos:
                pair = (int(family), str(sockaddr[0]))
                if pair not in seen:
                    seen.append(pair)
            return seen

        return await self._shared.once(f"resolve:{host}:{port}", lookup)

    def lookup_time_ms(self, host: str, port: int) -> float | None:
        return self._shared.lookup_ms.get((host, port))

    async def once(self, key: str, factory: Callable[[], Awaitable[T]]) -> T:
        return await self._shared.once(key, factory)

    async def to_thread(self, func: Callable[..., T], /, *args: Any) -> T:
        return await to_daemon_thread(func, *args)

    def ssl_context(self) -> ssl.SSLContext:
        return self._shared.ssl_context()

    def http_client(self, **kwargs: Any) -> httpx.AsyncClient:
        import httpx

        options: dict[str, Any] = {
            "verify": self.ssl_context(),
            "trust_env": True,
            "follow_redirects": False,
            "timeout": httpx.Timeout(max(0.5, min(10.0, self.remaining()))),
            "headers": {"User-Agent": f"jmo-doctor/{_version()}"},
        }
        options.update(kwargs)
        return httpx.AsyncClient(**options)

    def progress(self, fraction: float | None = None, note: str = "") -> None:
        if self._shared.progress_sink is not None:
            self._shared.progress_sink(self.probe_id, fraction, note)

    def publish(self, fact: Fact) -> None:
        self._shared.publish(fact)

    def known(self, fact: Fact) -> bool:
        return self._shared.known(fact)

    async def unless(self, work: Awaitable[T], *facts: Fact) -> T:
        return await self._shared.unless(work, facts)


def _version() -> str:
    from jmo_doctor import __version__

    return __version__
