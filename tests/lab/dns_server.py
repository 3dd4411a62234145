"""The lab's DNS: the phone's "system" resolver and the "trusted" one, over UDP and TCP.

Both views answer from the same zone (:data:`addresses.HOSTS`); faults are per view and
per name. A fault is a dict::

    {"mode": "servfail" | "nxdomain" | "refused" | "silent" | "empty" | "blockpage"
             | "blockpage_a" | "address" | "ok",
     "addresses": ["10.201.0.20", ...],   # for mode "address"
     "delay_ms": 0}                      # any mode: answer late (slow resolver)

``blockpage`` answers like an Indonesian ISP resolver enforcing Internet Positif: a CNAME
to trustpositif.kominfo.go.id plus its A record; ``blockpage_a`` answers the block-page
address directly. State per view: ``{"default": fault | None, "names": {name: fault}}``.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import socket
import struct
from typing import Any, cast

from dnslib import AAAA, CNAME, QTYPE, RCODE, RR, A, DNSRecord

from . import serve
from .addresses import BLOCKPAGE_IP, BLOCKPAGE_NAME, HOSTS, RESOLVERS

TTL = 60
View = dict[str, Any]

STATE: dict[str, View] = {name: {"default": None, "names": {}} for name in (*RESOLVERS, "doh")}


def _fault(view: View, qname: str) -> dict[str, Any]:
    names: dict[str, Any] = view.get("names") or {}
    found = names.get(qname)
    if found is None:
        found = view.get("default")
    return found or {"mode": "ok"}


def _records(qname: str, qtype: str, addrs: list[str]) -> list[RR]:
    out: list[RR] = []
    for text in addrs:
        v6 = ipaddress.ip_address(text).version == 6
        if qtype in ("AAAA", "ANY") and v6:
            out.append(RR(qname, QTYPE.AAAA, rdata=AAAA(text), ttl=TTL))
        if qtype in ("A", "ANY") and not v6:
            out.append(RR(qname, QTYPE.A, rdata=A(text), ttl=TTL))
    return out


def answer(view: View, data: bytes) -> tuple[bytes | None, float]:
    """(reply bytes or None for silence, delay in seconds) for one query."""
    request = DNSRecord.parse(data)
    reply = request.reply()
    if not request.questions:
        reply.header.rcode = RCODE.FORMERR
        return reply.pack(), 0.0
    q = request.q
    qname = str(q.qname).rstrip(".").lower()
    qtype = QTYPE.get(q.qtype, str(q.qtype))
    fault = _fault(view, qname)
    mode = fault.get("mode", "ok")
    delay = float(fault.get("delay_ms", 0)) / 1000
    if mode == "silent":
        return None, 0.0
    if mode in ("servfail", "nxdomain", "refused"):
        reply.header.rcode = getattr(RCODE, mode.upper())
    elif mode == "blockpage":
        reply.add_answer(RR(q.qname, QTYPE.CNAME, rdata=CNAME(BLOCKPAGE_NAME + "."), ttl=TTL))
        for rr in _records(BLOCKPAGE_NAME + ".", qtype, [BLOCKPAGE_IP]):
            reply.add_answer(rr)
    elif mode == "blockpage_a":
        for rr in _records(str(q.qname), qtype, [BLOCKPAGE_IP]):
            reply.add_answer(rr)
    elif mode == "address":
        for rr in _records(str(q.qname), qtype, list(fault.get("addresses", []))):
            reply.add_answer(rr)
    elif mode == "empty":
        pass
    elif mode == "ok":
        host = HOSTS.get(qname)
        if host is None:
            reply.header.rcode = RCODE.NXDOMAIN
        else:
            for rr in _records(str(q.qname), qtype, [host.ip, host.ip6]):
                reply.add_answer(rr)
    else:
        raise ValueError(f"unknown DNS fault mode {mode!r}")
    return reply.pack(), delay


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, view: str) -> None:
        self.view = view
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (asyncio's selector transport is not a registered DatagramTransport subclass)
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        try:
            reply, delay = answer(STATE[self.view], data)
        except Exception:
            serve.log.exception("bad UDP query from %s", addr)
            return
        if reply is None or self.transport is None:
            return
        if delay:
            asyncio.get_running_loop().call_later(delay, self.transport.sendto, reply, addr)
        else:
            self.transport.sendto(reply, addr)


def _tcp_handler(view: str) -> Any:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                size = struct.unpack("!H", await reader.readexactly(2))[0]
                reply, delay = answer(STATE[view], await reader.readexactly(size))
                if reply is None:
                    continue  # silent: the client times out
                if delay:
                    await asyncio.sleep(delay)
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except Exception:
            serve.log.exception("bad TCP query")
        finally:
            writer.close()

    return handle


async def start() -> None:
    loop = asyncio.get_running_loop()
    for view, host in RESOLVERS.items():
        for addr in (host.ip, host.ip6):
            family = socket.AF_INET6 if ":" in addr else socket.AF_INET
            await loop.create_datagram_endpoint(
                lambda v=view: _Udp(v),  # type: ignore[misc]
                local_addr=(addr, 53),
                family=family,
            )
            await asyncio.start_server(_tcp_handler(view), addr, 53, reuse_address=True)


def apply(message: dict[str, Any]) -> None:
    for view, state in message.get("dns", {}).items():
        STATE[view] = {"default": state.get("default"), "names": dict(state.get("names", {}))}


async def main() -> None:
    asyncio.get_running_loop().set_exception_handler(serve.exception_handler)
    await serve.run_until_stopped(start, apply)


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__).parse_args()
    serve.setup_logging("dns")
    asyncio.run(main())
