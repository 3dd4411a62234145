"""What the lab's server processes share: logging, the stdin command loop, clean exit."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from collections.abc import Callable
from typing import Any

log = logging.getLogger("lab")


def setup_logging(name: str) -> None:
    # stderr is the server's log file (see control.Server); errors go there, never to
    # the test's output, and a bad client never ends the process.
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format=f"%(asctime)s {name}[%(process)d] %(levelname)s %(message)s",
    )


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def command_loop(apply: Callable[[dict[str, Any]], None]) -> None:
    """Apply each JSON line from stdin; answer ``ok`` or ``error: …``. Returns at EOF."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        try:
            apply(json.loads(line))
        except Exception as error:  # report to the lab, keep serving
            log.exception("bad command %r", line[:200])
            say(f"error: {error!r}")
        else:
            say("ok")


async def run_until_stopped(
    serve: Callable[[], Any], apply: Callable[[dict[str, Any]], None]
) -> None:
    """Start ``serve()``, announce ``ready``, then obey stdin until EOF or SIGTERM."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await serve()
    say("ready")
    commands = asyncio.create_task(command_loop(apply))
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({commands, stopper}, return_when=asyncio.FIRST_COMPLETED)
    log.info("stopping")


def exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # Clients that vanish mid-handshake are routine in fault tests: log, don't crash.
    error = context.get("exception")
    log.warning(
        "asyncio: %s",
        context.get("message"),
        exc_info=(type(error), error, error.__traceback__) if error else None,
    )
