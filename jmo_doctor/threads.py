"""Blocking work in daemon threads, so that nothing a library does can hold up the run's end.

``asyncio.to_thread`` and ``loop.getaddrinfo`` use a ``ThreadPoolExecutor`` whose threads the
interpreter joins at exit: one ``getaddrinfo`` hanging on a dead resolver would keep the
process alive past the deadline. These threads are daemons, and nobody waits for them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class DaemonExecutor(concurrent.futures.ThreadPoolExecutor):
    """One daemon thread per call; ``shutdown`` never waits.

    A ``ThreadPoolExecutor`` only in name: asyncio insists on that type for its default
    executor, but none of the pool's joinable threads is ever started.
    """

    def submit(
        self, fn: Callable[..., T], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def work() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = fn(*args, **kwargs)
            except BaseException as error:  # handed to the awaiting side, not swallowed
                future.set_exception(error)
            else:
                future.set_result(result)

        threading.Thread(target=work, name="jmo-doctor-worker", daemon=True).start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        return None


EXECUTOR = DaemonExecutor()


async def to_daemon_thread(func: Callable[..., T], /, *args: Any) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(EXECUTOR, func, *args)
