"""The lab's web: HTTPS on 443 and plain HTTP on 80 for every lab host, in one process.

Which host a connection is for comes from the local address it arrived on (every host
has its own), so faults work without SNI and a DNS fault that points a name at another
host's address gets that host's certificate, as on the real internet.

Per-host faults (``{"hosts": {name: {...}}}``), all optional:

``cert``           certificate variant (see :data:`certs.VARIANTS`), default "good"
``reset``          RST right after accept (SO_LINGER 0), before TLS
``hang``           accept but never handshake or answer
``stall``          handshake and read the request, never answer
``status``         answer every request with this status (e.g. 503)
``delay_ms``       answer after this long
``slowloris``      seconds between bytes: trickle the whole response one byte at a time
``huge_body``      answer GETs with a body of this many bytes
``date_offset_s``  ``Date`` header this far from the true time

``{"captive": "redirect" | "page" | None}`` makes every plain-HTTP request (except to the
portal host itself) answer like a captive portal: a 302 to the login page, or a 200 login
page. ``{"routes": {"host /path": {"status", "headers", "body"}}}`` overrides one answer.
``{"store": {"play_version", "appstore_version"}}`` sets the versions the store pages show.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import email.utils
import ipaddress
import json
import socket
import ssl
import struct
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from . import dns_server, serve
from .addresses import BLOCKPAGE_NAME, HOSTS, PORTAL_NAME

MAX_HEAD = 64 * 1024
IDLE_TIMEOUT = 60.0
CHUNK = 64 * 1024
ZEROS = bytes(CHUNK)

STATE: dict[str, Any] = {
    "hosts": {},
    "captive": None,
    "routes": {},
    "store": {"play_version": "3.10.2", "appstore_version": "3.10.2"},
}
BY_ADDRESS = {
    str(ipaddress.ip_address(addr)): h.name for h in HOSTS.values() for addr in (h.ip, h.ip6)
}
CONTEXTS: dict[str, ssl.SSLContext] = {}
REASONS = {
    200: "OK",
    204: "No Content",
    302: "Found",
    400: "Bad Request",
    404: "Not Found",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass
class Request:
    method: str
    target: str
    version: str
    headers: dict[str, str]
    body: bytes = b""
    host: str = ""  # the lab host (by local address)
    tls: bool = False

    @property
    def path(self) -> str:
        return urlsplit(self.target).path or "/"

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query)


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    stream_size: int | None = None  # stream this many zero bytes instead of ``body``
    hang: bool = False


def _html(title: str, text: str) -> bytes:
    return (
        f"<!doctype html><html><head><title>{title}</title></head>"
        f"<body><h1>{title}</h1><p>{text}</p></body></html>"
    ).encode()


def _page(status: int, body: bytes, ctype: str = "text/html; charset=utf-8") -> Response:
    return Response(status, body, {"Content-Type": ctype})


def _play(req: Request) -> Response:
    app = (req.query.get("id") or [""])[0]
    if app != "com.bpjstku":
        return _page(404, _html("Not Found", "We're sorry, the requested URL was not found."))
    v = STATE["store"]["play_version"]
    # Both the old microdata and the modern AF_initDataCallback blob carry the version.
    body = (
        f"<!doctype html><html><head><title>JMO (Jamsostek Mobile) - Apps on Google Play"
        f'</title></head><body><h1 itemprop="name">JMO (Jamsostek Mobile)</h1>'
        f'<div itemprop="softwareVersion">{v}</div>'
        f"<script>AF_initDataCallback({{key: 'ds:5', hash: '7', data:[[null,null,"
        f'[[["{v}"]],[[[33,"13"]],[[[24,"7.0"]]]]]]], sideChannel: {{}}}});</script>'
        f"</body></html>"
    ).encode()
    return _page(200, body)


def _app_store(req: Request) -> Response:
    wanted = (req.query.get("id") or [""])[0]
    results = []
    if wanted in ("1444834757", ""):
        results.append(
            {
                "trackId": 1444834757,
                "bundleId": "com.bpjstku",
                "trackName": "JMO (Jamsostek Mobile)",
                "version": STATE["store"]["appstore_version"],
                "currentVersionReleaseDate": "2026-11-01T00:00:00Z",
                "kind": "software",
            }
        )
    body = json.dumps({"resultCount": len(results), "results": results}).encode()
    return _page(200, body, "text/javascript; charset=utf-8")


def _doh(req: Request) -> Response:
    if req.method == "POST":
        query = req.body
    else:
        text = (req.query.get("dns") or [""])[0]
        query = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    reply, _ = dns_server.answer(dns_server.STATE["doh"], query)
    if reply is None:
        return Response(0, hang=True)
    return _page(200, reply, "application/dns-message")


def _speed(req: Request) -> Response:
    if req.path == "/__down":
        size = int((req.query.get("bytes") or ["0"])[0])
        return Response(
            200,
            headers={"Content-Type": "application/octet-stream"},
            stream_size=max(0, min(size, 1 << 34)),
        )
    if req.path == "/__up":
        return _page(200, b"", "text/plain")
    return _page(404, b"not found", "text/plain")


def route(req: Request) -> Response:
    custom = STATE["routes"].get(f"{req.host} {req.path}")
    if custom is not None:
        return Response(
            int(custom.get("status", 200)),
            str(custom.get("body", "")).encode(),
            dict(custom.get("headers", {})),
        )
    if not req.tls and STATE["captive"] and req.host != PORTAL_NAME:
        dest = f"http://{req.headers.get('host', req.host)}{req.target}"
        if STATE["captive"] == "redirect":
            return Response(
                302,
                _html("Login", "Redirecting"),
                {
                    "Location": f"http://{PORTAL_NAME}/login?dst={quote(dest)}",
                    "Content-Type": "text/html",
                },
            )
        return _page(
            200,
            _html(
                "Wi-Fi login",
                "Masuk untuk menggunakan internet. "
                '<form method="post"><input name="voucher"></form>',
            ),
        )
    if req.host == BLOCKPAGE_NAME:
        return _page(
            200,
            _html("Internet Positif", "Maaf, akses ke situs ini diblokir (TrustPositif Kominfo)."),
        )
    if req.host == PORTAL_NAME:
        return _page(200, _html("Wi-Fi login", '<form method="post"><input name="voucher">'))
    if req.path == "/generate_204":
        return Response(204)
    if req.host == "play.google.com" and req.path.startswith("/store/apps/details"):
        return _play(req)
    if req.host == "itunes.apple.com" and req.path == "/lookup":
        return _app_store(req)
    if req.host == "dns.google" and req.path == "/dns-query":
        return _doh(req)
    if req.host == "speed.cloudflare.com":
        return _speed(req)
    return _page(200, _html(req.host, f"{req.host} (jmo-doctor lab)"))


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    """Read the request body; keep at most 1 MiB (uploads are only counted)."""
    kept = bytearray()

    async def take(size: int) -> None:
        while size > 0:
            data = await reader.read(min(size, CHUNK))
            if not data:
                raise asyncio.IncompleteReadError(b"", size)
            size -= len(data)
            if len(kept) < 1 << 20:
                kept.extend(data)

    if "chunked" in headers.get("transfer-encoding", "").lower():
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16):
            await take(size)
            await reader.readuntil(b"\r\n")
        while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
            pass
    else:
        await take(int(headers.get("content-length", "0") or 0))
    return bytes(kept)


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise ValueError(f"bad request line {lines[0]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
    req = Request(parts[0].upper(), parts[1], parts[2], headers)
    req.body = await _read_body(reader, headers)
    return req


async def _body(resp: Response) -> AsyncIterator[bytes]:
    if resp.stream_size is None:
        if resp.body:
            yield resp.body
        return
    left = resp.stream_size
    while left > 0:
        yield ZEROS[: min(left, CHUNK)]
        left -= CHUNK


async def _send(
    writer: asyncio.StreamWriter,
    req: Request,
    resp: Response,
    fault: dict[str, Any],
    keep_alive: bool,
) -> None:
    if fault.get("huge_body") and req.method == "GET" and resp.status == 200:
        resp.stream_size, resp.body = int(fault["huge_body"]), b""
    size = resp.stream_size if resp.stream_size is not None else len(resp.body)
    headers = {
        "Date": email.utils.formatdate(
            time.time() + float(fault.get("date_offset_s", 0)), usegmt=True
        ),
        "Server": "jmo-lab",
        **resp.headers,
    }
    if resp.status not in (204, 304):
        headers["Content-Length"] = str(size)
    headers["Connection"] = "keep-alive" if keep_alive else "close"
    head = f"HTTP/1.1 {resp.status} {REASONS.get(resp.status, 'Status')}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    with_body = req.method != "HEAD" and resp.status not in (204, 304)
    trickle = fault.get("slowloris")
    if trickle:
        # One byte at a time: the client's read timeout never fires but the answer never
        # completes within any sensible deadline.
        data = head.encode() + (resp.body if with_body else b"")
        for i in range(len(data)):
            writer.write(data[i : i + 1])
            await writer.drain()
            await asyncio.sleep(float(trickle))
        return
    writer.write(head.encode())
    if with_body:
        async for chunk in _body(resp):
            writer.write(chunk)
            await writer.drain()
    await writer.drain()


def _fault(host: str) -> dict[str, Any]:
    found: dict[str, Any] = STATE["hosts"].get(host) or {}
    return found


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _until_closed(reader: asyncio.StreamReader) -> None:
    while await reader.read(CHUNK):
        pass


async def _serve_connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tls: bool
) -> None:
    local = writer.get_extra_info("sockname")[0]
    host = BY_ADDRESS.get(str(ipaddress.ip_address(local.split("%")[0])), "")
    fault = _fault(host)
    if fault.get("reset"):
        _reset(writer)
        return
    if fault.get("hang"):
        await _until_closed(reader)
        return
    if tls:
        default = "blockpage" if host == BLOCKPAGE_NAME else "good"
        await writer.start_tls(CONTEXTS[fault.get("cert") or default])
    while True:
        req = await _read_request(reader)
        if req is None:
            return
        req.host, req.tls = host, tls
        fault = _fault(host)  # may have changed while the connection was idle
        if fault.get("stall"):
            await _until_closed(reader)
            return
        if fault.get("delay_ms"):
            await asyncio.sleep(float(fault["delay_ms"]) / 1000)
        if fault.get("status"):
            status = int(fault["status"])
            resp = _page(status, _html(f"{status} {REASONS.get(status, 'Error')}", host))
        else:
            resp = route(req)
        if resp.hang:
            await _until_closed(reader)
            return
        keep_alive = (
            req.version == "HTTP/1.1" and req.headers.get("connection", "").lower() != "close"
        )
        await _send(writer, req, resp, fault, keep_alive)
        if not keep_alive:
            return


def _handler(tls: bool) -> Any:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await _serve_connection(reader, writer, tls)
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError, TimeoutError) as err:
            serve.log.info("client went away: %r", err)  # routine in fault tests
        except Exception:
            serve.log.exception("error serving a connection")
        finally:
            if not writer.transport.is_closing():
                writer.close()

    return handle


async def start() -> None:
    for port, tls in ((443, True), (80, False)):
        # Wildcard listeners: the local address tells the host apart (see module doc).
        await asyncio.start_server(
            _handler(tls), "0.0.0.0", port, reuse_address=True, limit=MAX_HEAD, backlog=512
        )
        await asyncio.start_server(
            _handler(tls),
            "::",
            port,
            reuse_address=True,
            limit=MAX_HEAD,
            backlog=512,
            family=socket.AF_INET6,
        )


def apply(message: dict[str, Any]) -> None:
    for key in ("hosts", "captive", "routes", "store"):
        if key in message:
            STATE[key] = message[key]
    dns_server.apply(message)


def load_contexts(certs: dict[str, str]) -> None:
    for variant, path in certs.items():
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(path)
        ctx.set_alpn_protocols(["http/1.1"])
        CONTEXTS[variant] = ctx


async def main(certs: dict[str, str]) -> None:
    asyncio.get_running_loop().set_exception_handler(serve.exception_handler)
    load_contexts(certs)
    await serve.run_until_stopped(start, apply)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="jmo-doctor lab web server")
    parser.add_argument("config", type=Path, help="JSON with {'certs': {variant: pem path}}")
    serve.setup_logging("web")
    config = json.loads(parser.parse_args().config.read_text())
    asyncio.run(main(config["certs"]))
