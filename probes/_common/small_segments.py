"""One GET over a TCP connection that announces a small MSS: does a stalled page arrive
in smaller pieces?

The MSS is set on the socket *before* connect, so the SYN carries it and the server
sends no segment bigger than that (httpx sets socket options only after connecting,
too late for this). Unprivileged, and it works on Android too.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from urllib.parse import urlsplit

from jmo_doctor.api import ProbeContext
from probes._common.net import addresses_for, family_of

#: Enough to tell that full-size answers now arrive: a dozen full-size packets' worth
#: beyond what the stalled request got (or the whole answer, if shorter). Reading no
#: further keeps the check quick on a slow link and cheap on prepaid quota.
CONFIRM_BYTES = 16_384


async def _connect(address: str, port: int, mss: int) -> socket.socket:
    sock = socket.socket(family_of(address), socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, mss)
        await asyncio.get_running_loop().sock_connect(sock, (address, port))
    except BaseException:
        sock.close()
        raise
    return sock


async def _get(ctx: ProbeContext, url: str, mss: int, enough: int) -> int:
    parts = urlsplit(url)
    host = parts.hostname or ""
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    addresses, _ = await addresses_for(ctx, host, port)
    if not addresses:
        raise OSError("no address")
    sock = await _connect(addresses[0], port, mss)
    context: ssl.SSLContext | None = ctx.ssl_context() if tls else None
    reader, writer = await asyncio.open_connection(
        sock=sock, ssl=context, server_hostname=host if tls else None
    )
    try:
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        writer.write(request.encode("ascii", "replace"))
        await writer.drain()
        received = 0
        while received < enough and (chunk := await reader.read(65536)):
            received += len(chunk)
        return received
    finally:
        writer.close()


async def small_segments_fetch(
    ctx: ProbeContext, url: str, mss: int, wait_s: float, *, beyond: int = 0
) -> int | None:
    """Bytes of the answer (status line, headers and body) fetched with ``mss``: the
    whole of it, or at least :data:`CONFIRM_BYTES` more than ``beyond`` (what the stalled
    request got). None when that did not arrive in ``wait_s`` or the request failed."""
    try:
        return await asyncio.wait_for(_get(ctx, url, mss, beyond + CONFIRM_BYTES), wait_s)
    except (OSError, TimeoutError, ValueError, ssl.SSLError):
        return None
