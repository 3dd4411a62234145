"""Loopback servers for the network probes' tests: DNS, TCP, TLS and HTTP with faults.

Every server binds 127.0.0.x or ::1 on a free port and runs in daemon threads, apart from
the event loop of the probe under test, so a server that stalls (on purpose) can never
stall the test. Nothing here reaches beyond loopback (the suite's guard checks that).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
import ssl
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any

import dns.exception
import dns.message
import dns.query
import dns.rcode
import trustme
from dnslib import AAAA, CNAME, QTYPE, RR, A, DNSRecord

from jmo_doctor import config
from jmo_doctor.api import BaseProbe, RunOptions
from jmo_doctor.context import ProbeRunContext, RunShared

# --- DNS ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What the test DNS server says for one name."""

    a: tuple[str, ...] = ()
    aaaa: tuple[str, ...] = ()
    cnames: tuple[str, ...] = ()
    fault: str = ""  # "" | "servfail" | "nxdomain" | "silent" | "truncate"


def dns_reply(request: DNSRecord, answer: Answer | None, *, over_tcp: bool) -> DNSRecord | None:
    if answer is None or answer.fault == "nxdomain":
        reply = request.reply()
        reply.header.rcode = 3
        return reply
    if answer.fault == "silent":
        return None
    reply = request.reply()
    if answer.fault == "servfail":
        reply.header.rcode = 2
        return reply
    if answer.fault == "truncate" and not over_tcp:
        reply.header.tc = 1
        return reply
    name = str(request.q.qname)
    for target in answer.cnames:
        reply.add_answer(RR(name, QTYPE.CNAME, rdata=CNAME(target), ttl=60))
        name = target
    qtype = QTYPE[request.q.qtype]
    records = answer.a if qtype == "A" else answer.aaaa if qtype == "AAAA" else ()
    for address in records:
        rdata = A(address) if qtype == "A" else AAAA(address)
        reply.add_answer(RR(name, request.q.qtype, rdata=rdata, ttl=60))
    return reply


class DnsServer:
    """UDP and TCP DNS on 127.0.0.1:<port>, answering from ``zone`` (names without dot)."""

    def __init__(self, zone: dict[str, Answer]) -> None:
        self.zone = zone
        self.udp, self.tcp = self._bind_pair()
        self.port = self.udp.getsockname()[1]
        self.tcp.listen(16)
        self.address = f"127.0.0.1:{self.port}"
        threading.Thread(target=self._serve_udp, daemon=True).start()
        threading.Thread(target=self._serve_tcp, daemon=True).start()

    @staticmethod
    def _bind_pair() -> tuple[socket.socket, socket.socket]:
        """A UDP and a TCP socket on the same free port. The UDP port the kernel picks
        may be taken for TCP (a client's ephemeral port): then try another."""
        for _ in range(20):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind(("127.0.0.1", 0))
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                tcp.bind(("127.0.0.1", udp.getsockname()[1]))
            except OSError:
                udp.close()
                tcp.close()
                continue
            return udp, tcp
        raise OSError("no port free for both UDP and TCP on 127.0.0.1")

    def lookup(self, request: DNSRecord) -> Answer | None:
        return self.zone.get(str(request.q.qname).rstrip(".").lower())

    def _serve_udp(self) -> None:
        while True:
            try:
                data, peer = self.udp.recvfrom(4096)
            except OSError:
                return
            with contextlib.suppress(Exception):
                request = DNSRecord.parse(data)
                reply = dns_reply(request, self.lookup(request), over_tcp=False)
                if reply is not None:
                    self.udp.sendto(reply.pack(), peer)

    def _serve_tcp(self) -> None:
        while True:
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            threading.Thread(target=self._tcp_conn, args=(conn,), daemon=True).start()

    def _tcp_conn(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(Exception):
            conn.settimeout(5)
            (length,) = struct.unpack("!H", _recv_exact(conn, 2))
            request = DNSRecord.parse(_recv_exact(conn, length))
            reply = dns_reply(request, self.lookup(request), over_tcp=True)
            if reply is not None:
                packed = reply.pack()
                conn.sendall(struct.pack("!H", len(packed)) + packed)
            else:
                time.sleep(30)

    def close(self) -> None:
        self.udp.close()
        self.tcp.close()


def _recv_exact(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


# --- certificates ------------------------------------------------------------------------


@dataclass
class Pki:
    """A test CA (the one ``ca_bundle`` trusts), another CA, and the PEM files."""

    directory: Path
    ca: trustme.CA = field(default_factory=trustme.CA)
    other_ca: trustme.CA = field(default_factory=trustme.CA)

    @property
    def ca_file(self) -> str:
        path = self.directory / "ca.pem"
        if not path.exists():
            self.ca.cert_pem.write_to_path(str(path))
        return str(path)

    def context(self, *names: str, ca: trustme.CA | None = None, **dates: Any) -> ssl.SSLContext:
        """A server context with a leaf for ``names``; ``not_before``/``not_after`` allowed."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.set_alpn_protocols(["http/1.1"])
        (ca or self.ca).issue_cert(*names, **dates).configure_cert(context)
        return context

    def self_signed_context(self, name: str) -> ssl.SSLContext:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Totally Legit Box")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(key, hashes.SHA256())
        )
        cert_path = self.directory / f"self-{name}.pem"
        key_path = self.directory / f"self-{name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert_path), str(key_path))
        return context


def days(n: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(days=n)


# --- TCP / TLS / HTTP servers -----------------------------------------------------------

Handler = Callable[[socket.socket], None]


class TcpServer:
    """Accepts on ``host``:<port> and runs ``handler`` per connection in its own thread,
    after a server-side TLS handshake when ``tls`` is given."""

    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(64)
        self.host = host
        self.port: int = self.sock.getsockname()[1]
        self.handler = handler
        self.tls = tls
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with contextlib.suppress(Exception):
            conn.settimeout(10)
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            self.handler(conn)
        with contextlib.suppress(OSError):
            conn.close()

    def close(self) -> None:
        self.sock.close()


def free_port_on(*hosts: str) -> int:
    """A port that is free on every host given (for servers that must share a port)."""
    for _ in range(50):
        probe = socket.socket()
        probe.bind((hosts[0], 0))
        port: int = probe.getsockname()[1]
        probe.close()
        try:
            for host in hosts:
                check = socket.socket()
                check.bind((host, port))
                check.close()
        except OSError:
            continue
        return port
    raise RuntimeError("no common free port")


def closed_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on: connecting is refused (RST)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.bind((host, 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


class Blackhole:
    """A listener whose accept queue is full and never drained: SYNs go unanswered."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(0)
        self.port: int = self.sock.getsockname()[1]
        self.fillers: list[socket.socket] = []
        for _ in range(2):  # backlog 0 admits one; the rest fill and then time out
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError, OSError):
                filler.connect((host, self.port))
            self.fillers.append(filler)
        time.sleep(0.05)

    def close(self) -> None:
        for sock in [self.sock, *self.fillers]:
            sock.close()


def close_now(conn: socket.socket) -> None:
    """Drop the connection with a RST (SO_LINGER 0), as a middlebox reset would."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def idle(seconds: float = 30.0) -> Handler:
    def handler(conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            conn.settimeout(seconds)
            while conn.recv(1024):
                pass

    return handler


def read_request(conn: socket.socket) -> tuple[str, str, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    first = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.decode("latin-1").partition(":")
        if key.lower() == "content-length":
            length = int(value.strip())
    while len(rest) < length:
        rest += conn.recv(4096)
    return first[0], first[1] if len(first) > 1 else "/", rest


def respond(
    conn: socket.socket, status: int, body: bytes = b"", headers: dict[str, str] | None = None
) -> None:
    lines = [f"HTTP/1.1 {status} X"]
    all_headers = {"Content-Length": str(len(body)), "Connection": "close", **(headers or {})}
    lines += [f"{k}: {v}" for k, v in all_headers.items()]
    conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)


def now_date(offset_s: float = 0.0) -> str:
    return formatdate(time.time() + offset_s, usegmt=True)


def http_handler(dns_zone: dict[str, Answer] | None = None) -> Handler:
    """Routes by path: /ok /204 /empty200 /html /redirect /status/N /date/OFFSET /nodate
    /slowloris /huge /reset /hang and (POST) /dns-query for DoH."""

    def handler(conn: socket.socket) -> None:
        method, path, body = read_request(conn)
        date = {"Date": now_date()}
        if path == "/ok":
            respond(conn, 200, b"hello", date)
        elif path == "/204":
            respond(conn, 204, b"", date)
        elif path == "/empty200":
            respond(conn, 200, b"", date)
        elif path == "/html":
            respond(conn, 200, b"<html>Login to the hotspot</html>", date)
        elif path == "/redirect":
            respond(conn, 302, b"", {**date, "Location": "http://portal.example/login"})
        elif path.startswith("/status/"):
            respond(conn, int(path.rsplit("/", 1)[1]), b"error", date)
        elif path.startswith("/date/"):
            respond(conn, 200, b"ok", {"Date": now_date(float(path.rsplit("/", 1)[1]))})
        elif path == "/nodate":
            respond(conn, 200, b"ok")
        elif path == "/slowloris":
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            for _ in range(200):
                conn.sendall(b"X")
                time.sleep(0.1)
        elif path == "/huge":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n")
            chunk = b"x" * 65536
            for _ in range(2000):
                conn.sendall(chunk)
        elif path == "/reset":
            close_now(conn)
        elif path == "/hang":
            time.sleep(30)
        elif path == "/dns-query" and method == "POST" and dns_zone is not None:
            request = DNSRecord.parse(body)
            answer = dns_zone.get(str(request.q.qname).rstrip(".").lower())
            reply = dns_reply(request, answer, over_tcp=True)
            if reply is None:
                time.sleep(30)
                return
            packed = reply.pack()
            respond(conn, 200, packed, {"Content-Type": "application/dns-message"})
        else:
            respond(conn, 404, b"not found", date)

    return handler


# --- the probe context -------------------------------------------------------------------

Resolution = Sequence[tuple[int, str]] | BaseException


class LoopbackContext(ProbeRunContext):
    """The real run context, with the *system resolver* replaced: names resolve from
    ``hosts``, else by asking ``dns_server`` the way getaddrinfo would (NXDOMAIN →
    EAI_NONAME, SERVFAIL → EAI_AGAIN, silence → EAI_AGAIN after ``silent_after_s``)."""

    def __init__(
        self,
        shared: RunShared,
        probe: type[BaseProbe],
        hosts: Mapping[str, Resolution],
        dns_server: DnsServer | None,
        silent_after_s: float,
        resolve_delay_s: float,
    ) -> None:
        super().__init__(shared, probe.id, probe.messages)
        # "localhost" is in /etc/hosts everywhere: no DNS server is asked for it
        self.hosts = {"localhost": v4("127.0.0.1"), **hosts}
        self.dns_server = dns_server
        self.silent_after_s = silent_after_s
        self.resolve_delay_s = resolve_delay_s

    async def resolve(self, host: str, port: int) -> list[tuple[int, str]]:
        if self.resolve_delay_s:
            await asyncio.sleep(self.resolve_delay_s)
        if host in self.hosts:
            found = self.hosts[host]
            if isinstance(found, BaseException):
                raise found
            return list(found)
        if self.dns_server is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return await self.to_thread(self._ask, host)

    def _ask(self, host: str) -> list[tuple[int, str]]:
        assert self.dns_server is not None
        query = dns.message.make_query(host, "A")
        try:
            reply, _ = dns.query.udp_with_fallback(
                query, "127.0.0.1", timeout=self.silent_after_s, port=self.dns_server.port
            )
        except dns.exception.Timeout:
            raise socket.gaierror(
                socket.EAI_AGAIN, "Temporary failure in name resolution"
            ) from None
        if reply.rcode() == dns.rcode.NXDOMAIN:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if reply.rcode() != dns.rcode.NOERROR:
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        found: list[tuple[int, str]] = [
            (socket.AF_INET, str(rdata.address))
            for rrset in reply.answer
            for rdata in rrset
            if rrset.rdtype == 1
        ]
        if not found:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return found


def make_ctx(
    probe: type[BaseProbe],
    toml: str,
    *,
    hosts: Mapping[str, Resolution] | None = None,
    dns_server: DnsServer | None = None,
    timeout: float = 10.0,
    silent_after_s: float = 1.0,
    resolve_delay_s: float = 0.0,
) -> LoopbackContext:
    shared = RunShared(config.parse(toml, "<test>"), RunOptions(), "en", time.monotonic() + timeout)
    return LoopbackContext(shared, probe, hosts or {}, dns_server, silent_after_s, resolve_delay_s)


def v4(*addresses: str) -> list[tuple[int, str]]:
    return [(socket.AF_INET, a) for a in addresses]


@contextlib.contextmanager
def temp_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)
