"""One TCP handshake, timed as the kernel saw it: the tcp probe's samples and the
bandwidth probe's latency under load are both made of these.

The RTT is the kernel's own measurement of the SYN → SYN-ACK exchange
(``TCP_INFO.tcpi_rtt``) where there is one, so that event-loop scheduling does not inflate
it; elsewhere the wall time around ``sock_connect``. A handshake the kernel completed only
by resending its SYN counts as lost, as ``ping`` would count it.
"""

from __future__ import annotations

import asyncio
import errno
import math
import socket
import struct
import time
from dataclasses import dataclass

from probes._common.net import family_of

#: A SYN answered this much later than the kernel's RTT was retransmitted: its first try
#: was lost, which ping would count as loss too (initial RTO is 1 s).
RETRANSMIT_GAP_MS = 800.0
#: These errors mean "no route for this family" (e.g. no IPv6 here): not a broken path.
_NO_ROUTE = {errno.ENETUNREACH, errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT}
# struct tcp_info: 8 bytes of u8 fields, then u32s; rtt is the 16th, total_retrans the 24th
_TCP_INFO_LEN = 104
_TCPI_RTT_OFFSET = 68
_TCPI_TOTAL_RETRANS_OFFSET = 100


@dataclass(frozen=True)
class Sample:
    rtt_ms: float | None  # None: lost (or, with a short wait, not answered in time)
    error: str = ""  # "timeout" | "refused" | "no_route" | "retransmitted" | "not_tried" | …
    #: How long the attempt could wait for its answer (ms): what it can prove (see the tcp
    #: probe's ``Series.counted``). Decided before the outcome, so filtering on it is
    #: unbiased.
    waited_ms: float = math.inf


def _tcp_info(sock: socket.socket) -> tuple[float | None, int | None]:
    """The kernel's handshake RTT (ms) and how many times it resent the SYN, if it says."""
    option = getattr(socket, "TCP_INFO", None)
    if option is None:
        return None, None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, option, _TCP_INFO_LEN)
        (rtt_us,) = struct.unpack_from("I", info, _TCPI_RTT_OFFSET)
    except (OSError, struct.error):
        return None, None
    retrans: int | None = None
    if len(info) >= _TCPI_TOTAL_RETRANS_OFFSET + 4:
        (retrans,) = struct.unpack_from("I", info, _TCPI_TOTAL_RETRANS_OFFSET)
    return (rtt_us / 1000.0 if rtt_us > 0 else None), retrans


def _connected(sock: socket.socket) -> bool:
    """Whether the handshake has completed, as the kernel sees it (not the event loop)."""
    try:
        if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
            return False
        sock.getpeername()
    except OSError:
        return False
    return True


def _answered(sock: socket.socket, wall_ms: float, waited_ms: float) -> Sample:
    """The sample of a completed handshake: its RTT, or lost if the SYN had to be resent.

    A resent SYN is told by the kernel's own count where there is one, so a busy event
    loop noticing the connection late cannot pass for a retransmission. The kernel's RTT
    is then of the retried SYN (or none at all), far below the wall time; a slow path
    whose first SYN was merely answered after the kernel's RTO keeps an RTT near the
    wall time and stays a sample.
    """
    kernel_ms, resent = _tcp_info(sock)
    gap = kernel_ms is None or wall_ms - kernel_ms > RETRANSMIT_GAP_MS
    if resent is not None:
        retransmitted = resent > 0 and gap
    else:
        retransmitted = kernel_ms is not None and wall_ms - kernel_ms > RETRANSMIT_GAP_MS
    if retransmitted:
        return Sample(None, "retransmitted", waited_ms)
    return Sample(round(kernel_ms if kernel_ms is not None else wall_ms, 3), "", waited_ms)


async def _connect(
    loop: asyncio.AbstractEventLoop,
    sock: socket.socket,
    peer: tuple[str, int],
    wait_s: float,
    stop: asyncio.Event | None,
) -> None:
    """``sock_connect``; TimeoutError after ``wait_s`` or once ``stop`` is set."""
    if stop is None:
        await asyncio.wait_for(loop.sock_connect(sock, peer), wait_s)
        return
    connecting = asyncio.ensure_future(loop.sock_connect(sock, peer))
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait(
            {connecting, stopping}, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED
        )
        if not connecting.done():
            raise TimeoutError
        connecting.result()  # refused, reset, no route: the caller tells them apart
    finally:
        stopping.cancel()
        connecting.cancel()


async def attempt(
    address: str, port: int, wait_s: float, stop: asyncio.Event | None = None
) -> Sample:
    """One handshake, closed at once (no TLS, no data): what ping would measure, over TCP.
    It waits ``wait_s`` at most, or until ``stop`` is set (its answer no longer matters)."""
    loop = asyncio.get_running_loop()
    waited_ms = wait_s * 1000.0
    try:
        sock = socket.socket(family_of(address), socket.SOCK_STREAM)
    except OSError:  # e.g. IPv6 disabled in this kernel
        return Sample(None, "no_route", waited_ms)
    sock.setblocking(False)
    try:
        start = time.perf_counter()
        try:
            await _connect(loop, sock, (address, port), wait_s, stop)
        except TimeoutError:
            # the kernel may have completed the handshake while a busy event loop was
            # still to notice: what it says is the outcome, not the timer
            waited_ms = min(waited_ms, (time.perf_counter() - start) * 1000.0)
            if not _connected(sock):
                return Sample(None, "timeout", waited_ms)
        return _answered(sock, (time.perf_counter() - start) * 1000.0, waited_ms)
    except ConnectionRefusedError:
        return Sample(None, "refused", waited_ms)
    except ConnectionResetError:
        # A SYN refused gives ECONNREFUSED; a reset seen on connect means the handshake
        # completed and the server (or a middlebox) reset the connection right after,
        # before the event loop got to the socket: the host answered.
        wall_ms = (time.perf_counter() - start) * 1000.0
        kernel_ms, _ = _tcp_info(sock)
        return Sample(round(kernel_ms if kernel_ms is not None else wall_ms, 3), "", waited_ms)
    except OSError as error:
        reason = "no_route" if error.errno in _NO_ROUTE else (str(error) or "error")
        return Sample(None, reason, waited_ms)
    finally:
        sock.close()
