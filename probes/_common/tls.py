"""TLS handshakes and certificate facts, shared by the tls probe and the dns tampering check.

The handshake is driven by hand on a non-blocking socket (``do_handshake`` + reader/writer
waits) rather than through ``asyncio.open_connection``: the verification error then comes
straight from OpenSSL with its ``verify_code``, the TCP connect is kept apart from the TLS
stage (tcp failures belong to the tcp probe), and ALPN is set on the shared context right
before the SSL object is made, with no await in between for another task to change it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import socket
import ssl
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from jmo_doctor.api import ProbeContext
from probes._common.errors import error_text
from probes._common.net import family_of

#: OpenSSL X509_V_ERR_* codes → finding verdicts (see ``man openssl-verify``).
VERIFY_VERDICTS = {
    9: "not_yet_valid",  # CERT_NOT_YET_VALID
    10: "expired",  # CERT_HAS_EXPIRED
    18: "untrusted",  # DEPTH_ZERO_SELF_SIGNED_CERT
    19: "untrusted",  # SELF_SIGNED_CERT_IN_CHAIN
    20: "untrusted",  # UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    21: "untrusted",  # UNABLE_TO_VERIFY_LEAF_SIGNATURE
    62: "hostname_mismatch",  # HOSTNAME_MISMATCH
    64: "hostname_mismatch",  # IP_ADDRESS_MISMATCH
}
ALPN = ["h2", "http/1.1"]


@dataclass(frozen=True)
class CertInfo:
    subject: str
    issuer: str
    san: tuple[str, ...]
    not_before: str  # ISO 8601, UTC
    not_after: str
    days_left: float

    def as_detail(self) -> dict[str, object]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "san": list(self.san),
            "not_before": self.not_before,
            "not_after": self.not_after,
            "days_left": self.days_left,
        }


@dataclass(frozen=True)
class Handshake:
    address: str
    stage: str  # "connect" (TCP failed) | "handshake" (TLS failed) | "done"
    verdict: str = ""  # "" when verified, else a VERIFY_VERDICTS value or "handshake_failed"
    error: str = ""
    verify_code: int | None = None
    version: str = ""
    cipher: str = ""
    alpn: str = ""
    cert: CertInfo | None = None
    ms: float = 0.0

    @property
    def verified(self) -> bool:
        return self.stage == "done" and not self.verdict

    def as_detail(self) -> dict[str, object]:
        detail: dict[str, object] = {"address": self.address, "stage": self.stage}
        for key in ("verdict", "error", "version", "cipher", "alpn"):
            if value := getattr(self, key):
                detail[key] = value
        if self.verify_code is not None:
            detail["verify_code"] = self.verify_code
        if self.cert is not None:
            detail["certificate"] = self.cert.as_detail()
        detail["ms"] = self.ms
        return detail


def _name(parts: Any) -> str:
    """``getpeercert()``'s ((("commonName", "x"),), …) → ``"CN=x, O=y"``."""
    short = {
        "commonName": "CN",
        "organizationName": "O",
        "organizationalUnitName": "OU",
        "countryName": "C",
    }
    fields = [f"{short.get(key, key)}={value}" for rdn in parts or () for key, value in rdn]
    return ", ".join(fields)


def _iso(text: str) -> tuple[str, float]:
    seconds = ssl.cert_time_to_seconds(text)
    when = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ"), seconds


def cert_info(decoded: dict[str, Any]) -> CertInfo | None:
    try:
        not_before, _ = _iso(decoded["notBefore"])
        not_after, end = _iso(decoded["notAfter"])
    except (KeyError, ValueError):
        return None
    san = tuple(
        str(value)
        for kind, value in decoded.get("subjectAltName", ())
        if kind
        in (
            "DNS",
            "IP Address",
        )
    )
    return CertInfo(
        subject=_name(decoded.get("subject")),
        issuer=_name(decoded.get("issuer")),
        san=san,
        not_before=not_before,
        not_after=not_after,
        days_left=round((end - time.time()) / 86400.0, 2),
    )


def decode_der(der: bytes) -> dict[str, Any] | None:
    """Decode a certificate that did *not* verify (``getpeercert()`` returns {} for those).

    ``cryptography`` is not a dependency; CPython's own decoder is reachable only through
    ``_ssl._test_decode_cert``, which reads a PEM file.
    """
    decoder = getattr(getattr(ssl, "_ssl", None), "_test_decode_cert", None)
    if decoder is None or not der:
        return None
    handle, path = tempfile.mkstemp(suffix=".pem")
    try:
        with os.fdopen(handle, "w", encoding="ascii") as file:
            file.write(ssl.DER_cert_to_PEM_cert(der))
        decoded = decoder(path)
        return decoded if isinstance(decoded, dict) else None
    except (OSError, ValueError, ssl.SSLError):
        return None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


def unverified_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(ALPN)
    return context


async def _wait(sock: socket.socket, write: bool) -> None:
    loop = asyncio.get_running_loop()
    ready = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    fd = sock.fileno()
    if write:
        loop.add_writer(fd, wake)
    else:
        loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        (loop.remove_writer if write else loop.remove_reader)(fd)


async def _drive(tls: ssl.SSLSocket) -> None:
    while True:
        try:
            tls.do_handshake()
            return
        except ssl.SSLWantReadError:
            await _wait(tls, write=False)
        except ssl.SSLWantWriteError:
            await _wait(tls, write=True)


def _blocking_handshake(tls: ssl.SSLSocket, timeout: float) -> None:
    tls.settimeout(timeout)
    tls.do_handshake()


async def _connect(address: str, port: int, wait_s: float) -> socket.socket:
    loop = asyncio.get_running_loop()
    sock = socket.socket(family_of(address), socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await asyncio.wait_for(loop.sock_connect(sock, (address, port)), wait_s)
    except BaseException:
        sock.close()
        raise
    return sock


async def handshake(
    ctx: ProbeContext,
    host: str,
    address: str,
    port: int,
    wait_s: float,
    *,
    verify: bool = True,
) -> Handshake:
    """Connect to ``address`` and shake hands with SNI ``host``; never raises for the network."""
    start = time.perf_counter()
    deadline = start + wait_s

    def elapsed() -> float:
        return round((time.perf_counter() - start) * 1000.0, 1)

    try:
        sock = await _connect(address, port, wait_s)
    except ConnectionResetError as error:
        # refused SYNs raise ECONNREFUSED: a reset means TCP got through and the server
        # (or a middlebox) cut the connection before TLS could start
        return Handshake(
            address, "handshake", "handshake_failed", error_text(error, words=True), ms=elapsed()
        )
    except (OSError, TimeoutError) as error:
        return Handshake(address, "connect", error=error_text(error, words=True), ms=elapsed())
    context = ctx.ssl_context() if verify else unverified_context()
    tls: ssl.SSLSocket | None = None
    try:
        context.set_alpn_protocols(ALPN)
        tls = context.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
        left = max(0.05, deadline - time.perf_counter())
        try:
            await asyncio.wait_for(_drive(tls), left)
        except NotImplementedError:  # event loops without add_reader (Windows proactor)
            tls.setblocking(True)
            await asyncio.wait_for(ctx.to_thread(_blocking_handshake, tls, left), left)
        decoded = tls.getpeercert() if verify else decode_der(tls.getpeercert(True) or b"")
        cipher = tls.cipher()
        return Handshake(
            address,
            "done",
            version=tls.version() or "",
            cipher=cipher[0] if cipher else "",
            alpn=tls.selected_alpn_protocol() or "",
            cert=cert_info(decoded) if decoded else None,
            ms=elapsed(),
        )
    except ssl.SSLCertVerificationError as error:
        code = error.verify_code
        verdict = VERIFY_VERDICTS.get(code, "handshake_failed")
        message = error.verify_message or error_text(error, words=True)
        return Handshake(address, "done", verdict, message, verify_code=code, ms=elapsed())
    except (OSError, TimeoutError, ValueError) as error:  # resets, EOF, protocol errors
        return Handshake(
            address, "handshake", "handshake_failed", error_text(error, words=True), ms=elapsed()
        )
    finally:
        (tls or sock).close()


async def verify_address(
    ctx: ProbeContext, host: str, address: str, port: int, wait_s: float
) -> bool | None:
    """True: a certificate valid for ``host`` at ``address``; False: one that is not;
    None: no handshake possible there (so nothing can be said)."""
    result = await handshake(ctx, host, address, port, wait_s)
    if result.verified:
        return True
    if result.stage == "done":
        return False
    return None
