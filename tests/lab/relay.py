"""Delay and jitter for the phone↔internet link, in user space (this kernel has no netem).

Runs in the router namespace. While delay is on, policy routing there sends uplink
packets (from the phone) into TUN ``dly0`` and downlink packets (from the internet) into
TUN ``dly1``. This process reads each packet, holds it for its direction's delay (± a
uniform jitter) and writes it into the *other* TUN, where the kernel receives it and
forwards it on by the main table.

Timing: one tight ``select`` loop with sub-millisecond timeouts (``select`` takes a
``timeval``, unlike ``epoll``'s whole milliseconds), 1 ns timer slack, a wake-up moved
earlier by select's measured lateness and a short spin for the rest, so a packet leaves
within a few tens of µs of its due time. Order is kept per direction
(a packet never overtakes an earlier one, as on a real link) unless ``reorder`` is set,
so under jitter a packet can wait a little past its own due time for its predecessor.

Commands (JSON lines on stdin): ``{"up_ms": 25, "down_ms": 25, "jitter_ms": 0,
"reorder": false}``; a value left out keeps its current setting.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import random
import select
import signal
import sys
import time
from collections import deque
from typing import Any

from . import serve
from .tun import open_tun

SPIN_S = 0.0002
MAX_LATE = 0.002
READ_BURST = 256
PR_SET_TIMERSLACK = 29


class Direction:
    def __init__(self, name: str, src: int, dst: int) -> None:
        self.name, self.src, self.dst = name, src, dst
        self.delay = 0.0
        self.queue: deque[tuple[float, bytes]] = deque()
        self.last_due = 0.0
        self.passed = 0

    def read(self, now: float, jitter: float, reorder: bool) -> None:
        for _ in range(READ_BURST):
            try:
                packet = os.read(self.src, 65536)
            except BlockingIOError:
                return
            due = now + max(0.0, self.delay + random.uniform(-jitter, jitter))
            if reorder:
                # Keep the queue sorted by due time: insert from the tail (usually O(1)).
                index = len(self.queue)
                while index and self.queue[index - 1][0] > due:
                    index -= 1
                self.queue.insert(index, (due, packet))
            else:
                due = max(due, self.last_due)
                self.queue.append((due, packet))
            self.last_due = max(self.last_due, due)

    def flush(self, now: float) -> None:
        while self.queue and self.queue[0][0] <= now:
            packet = self.queue.popleft()[1]
            try:
                os.write(self.dst, packet)
                self.passed += 1
            except OSError as error:  # device went down mid-test: drop, as a link would
                serve.log.warning("%s: write failed: %s", self.name, error)


def _tight_timers() -> None:
    # The default 50 µs timer slack lets the kernel wake us late on purpose; ask for 1 ns.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0)


def run(up_if: str, down_if: str) -> None:
    _tight_timers()
    up_fd, down_fd = open_tun(up_if), open_tun(down_if)
    up = Direction("uplink", up_fd, down_fd)
    down = Direction("downlink", down_fd, up_fd)
    jitter, reorder = 0.0, False
    stdin = sys.stdin.fileno()
    pending = b""
    late = 0.0  # running mean of select()'s wake-up lateness, seconds
    serve.say("ready")
    while True:
        now = time.monotonic()
        up.flush(now)
        down.flush(now)
        heads = [d.queue[0][0] for d in (up, down) if d.queue]
        before = time.monotonic()
        timeout = None
        if heads:
            # Wake up early by how late select() has been waking us, then spin the rest.
            timeout = min(heads) - before - late
            if timeout < SPIN_S:
                timeout = 0.0
        ready, _, _ = select.select([up_fd, down_fd, stdin], [], [], timeout)
        now = time.monotonic()
        if not ready and timeout:
            late += 0.1 * (min(MAX_LATE, max(0.0, now - before - timeout)) - late)
        if up_fd in ready:
            up.read(now, jitter, reorder)
        if down_fd in ready:
            down.read(now, jitter, reorder)
        if stdin in ready:
            chunk = os.read(stdin, 65536)
            if not chunk:
                return  # the lab closed our stdin: stop
            pending += chunk
            while b"\n" in pending:
                line, _, pending = pending.partition(b"\n")
                try:
                    message: dict[str, Any] = json.loads(line)
                    up.delay = float(message.get("up_ms", up.delay * 1000)) / 1000
                    down.delay = float(message.get("down_ms", down.delay * 1000)) / 1000
                    jitter = float(message.get("jitter_ms", jitter * 1000)) / 1000
                    reorder = bool(message.get("reorder", reorder))
                except (ValueError, TypeError, AttributeError) as error:
                    serve.say(f"error: {error!r}")
                else:
                    serve.log.info(
                        "delay up %.1f ms, down %.1f ms, jitter %.1f ms "
                        "(passed so far: %d up, %d down)",
                        up.delay * 1e3,
                        down.delay * 1e3,
                        jitter * 1e3,
                        up.passed,
                        down.passed,
                    )
                    serve.say("ok")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="jmo-doctor lab delay relay")
    parser.add_argument("up_if")
    parser.add_argument("down_if")
    args = parser.parse_args()
    serve.setup_logging("relay")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    run(args.up_if, args.down_if)
