"""Connections to a host's addresses as the run already found them, not looked up again.

httpx resolves every host itself, inside its connect (getaddrinfo; no cache on a plain
glibc system): the run's probes have looked the host up already (``ctx.resolve``, shared),
and on a lossy link a second lookup takes seconds or fails outright ("Temporary failure in
name resolution") — the request would report the resolver a second time instead of what
it was made for. So a request goes to the addresses already found: the http probe's to
the system resolver's answer (what the app connects to), the speed test's to the answer it
measures against. The TLS name and the ``Host`` header stay the URL's: certificates are
verified for the host as always. Other hosts (a redirect elsewhere) are looked up as usual.

httpx has no resolver hook; its transport's connection pool takes a network backend, so
the transport is built with one that knows the addresses. When the environment sets a
proxy, nothing is pinned: the proxy does the lookup.
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.request
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence

import httpcore
import httpx

SOCKET_OPTION = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)


#: httpx's own default pool limits, for a client that sets none.
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)


#: RFC 8305's connection attempt delay, as anyio uses for the addresses it looks up: a
#: blackholed IPv6 address listed first costs a quarter second, not the whole timeout.
ATTEMPT_DELAY_S = 0.25


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's own backend, told where each pinned host is. Its addresses are tried
    as anyio tries a looked-up host's ("happy eyeballs"): in order, the next one started
    when the last has not connected within :data:`ATTEMPT_DELAY_S` or has failed."""

    def __init__(self, pins: Mapping[str, Sequence[str]]) -> None:
        self._pins = {host.lower(): list(addresses) for host, addresses in pins.items()}
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = self._pins.get(host.lower()) or [host]
        options = list(socket_options or [])

        def attempt(address: str) -> Callable[[], Awaitable[httpcore.AsyncNetworkStream]]:
            return lambda: self._inner.connect_tcp(address, port, timeout, local_address, options)

        return await first_connected([attempt(a) for a in addresses])

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return await self._inner.connect_unix_socket(path, timeout, socket_options)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


async def first_connected(
    attempts: Sequence[Callable[[], Awaitable[httpcore.AsyncNetworkStream]]],
) -> httpcore.AsyncNetworkStream:
    """The stream of the first attempt to connect, the attempts staggered by
    :data:`ATTEMPT_DELAY_S` (a failure starts the next at once); the last failure if none
    connects. Streams that connect after the winner are closed."""
    waiting = list(attempts)
    running: set[asyncio.Task[httpcore.AsyncNetworkStream]] = set()
    failure: BaseException | None = None
    try:
        while waiting or running:
            if waiting:
                running.add(asyncio.ensure_future(waiting.pop(0)()))
            done, running = await asyncio.wait(
                running,
                timeout=ATTEMPT_DELAY_S if waiting else None,
                return_when=asyncio.FIRST_COMPLETED,
            )
            for task in done:
                if task.exception() is None:
                    winner = task.result()
                    await _close_late(running | (done - {task}))
                    running = set()
                    return winner
                failure = task.exception()
        assert failure is not None  # there is always at least one attempt
        raise failure
    finally:
        for task in running:
            task.cancel()


async def _close_late(tasks: set[asyncio.Task[httpcore.AsyncNetworkStream]]) -> None:
    for task in tasks:
        task.cancel()
    for outcome in await asyncio.gather(*tasks, return_exceptions=True):
        if isinstance(outcome, httpcore.AsyncNetworkStream):
            await outcome.aclose()


def proxied() -> bool:
    """Whether the environment sets a proxy httpx would use (then nothing is pinned)."""
    proxies = urllib.request.getproxies()
    return any(proxies.get(scheme) for scheme in ("http", "https", "all"))


def pinned_transport(
    ssl_context: ssl.SSLContext,
    pins: Mapping[str, Sequence[str]],
    limits: httpx.Limits = DEFAULT_LIMITS,
) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose connections to the ``pins`` hosts go to their addresses."""
    transport = httpx.AsyncHTTPTransport(verify=ssl_context, limits=limits, trust_env=False)
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=ssl_context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=PinnedBackend(pins),
    )
    return transport
