"""GET of every target URL with phase timings, shared by the http and clock probes.

Both probes read the same requests: the clock probe compares the device clock with the
``Date`` headers these responses carry. ``shared_fetch`` memoizes the work for the run
(``ctx.once("http:fetch")``), so whichever of the two asks first does it, and when http is
skipped the clock probe still gets it.

Requests honour the proxy variables, as the person's other tools do. Whether a request went
through a proxy, and whether it got past it, is read from httpcore's trace: the first TCP
connection goes to the proxy's address instead of the URL's, and a request that got past
the proxy reached the URL's host (its TLS handshake, or any answer at all).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from jmo_doctor.api import Decided, Fact, ProbeContext, Target
from probes._common.errors import error_text
from probes._common.net import budget, is_ip, ms_since
from probes._common.pinned import pinned_transport, proxied

MEMO_KEY = "http:fetch"
BODY_CAP_BYTES = 1_000_000
#: How much of a body is kept for block-page fingerprints (their texts sit near the top).
BODY_HEAD_BYTES = 65_536
REQUEST_TIMEOUT_S = 10.0
MAX_REDIRECTS = 5
#: httpcore trace step → the phase a request is stuck in while that step is running.
_PHASES = {
    "connect_tcp": "connect",
    "start_tls": "tls",
    "send_request_headers": "first_byte",
    "send_request_body": "first_byte",
    "receive_response_headers": "first_byte",
    "receive_response_body": "body",
}


@dataclass
class Trace:
    """Timestamps of httpcore's trace events (first start, last completion per step)."""

    started: dict[str, float] = field(default_factory=dict)
    completed: dict[str, float] = field(default_factory=dict)
    wall: dict[str, float] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)
    current: str = ""
    #: Where the first TCP connection went (host, port): a proxy's, if one is used.
    connect_peer: tuple[str, int] | None = None
    tls_servers: set[str] = field(default_factory=set)  # names of the TLS handshakes begun

    async def __call__(self, name: str, info: dict[str, Any]) -> None:
        step, _, event = name.rpartition(".")
        step = step.rpartition(".")[2]
        now = time.perf_counter()
        if event == "started":
            self.started.setdefault(step, now)
            self.wall[f"{step}.started"] = time.time()
            if step in _PHASES:  # not the clean-up steps that run after a cancel
                self.current = step
            self._note_peer(step, info)
        elif event == "complete":
            self.completed[step] = now
            self.wall[f"{step}.complete"] = time.time()
        elif event == "failed":
            self.failed.add(step)

    def _note_peer(self, step: str, info: dict[str, Any]) -> None:
        if step == "connect_tcp" and self.connect_peer is None:
            self.connect_peer = (str(info.get("host", "")).lower(), int(info.get("port") or 0))
        elif step == "start_tls":
            self.tls_servers.add(str(info.get("server_hostname", "")).lower())

    def span_ms(self, first: str, last: str) -> float | None:
        if first in self.started and last in self.completed:
            return round((self.completed[last] - self.started[first]) * 1000.0, 2)
        return None

    @property
    def phase(self) -> str:
        return _PHASES.get(self.current, "connect")


@dataclass(frozen=True)
class Fetch:
    target: str
    url: str
    status: int | None = None
    final_url: str = ""
    location: str = ""
    error: str = ""
    phase: str = "done"  # where it stopped: "connect" | "tls" | "first_byte" | "body" | "done"
    timed_out: bool = False
    connected: bool = False  # a TCP connection was made (else tcp/dns own the failure)
    phases_ms: dict[str, float] = field(default_factory=dict)
    date: str = ""
    sent_at: float = 0.0  # device wall clock when the (last) request went out
    received_at: float = 0.0  # … and when its response headers arrived
    body_bytes: int = 0
    truncated: bool = False
    via_proxy: bool = False  # sent through a proxy from the environment
    proxy_failed: bool = False  # … and it never got past the proxy
    #: The fact that made the answer not worth waiting for (the request was stopped).
    not_waited: str = ""
    #: The start of the body, for block-page fingerprints; outside data, never printed.
    body_head: bytes = field(default=b"", repr=False)

    def as_detail(self) -> dict[str, object]:
        detail: dict[str, object] = {"url": self.url, "phase": self.phase}
        for key in ("status", "final_url", "location", "error", "date", "not_waited"):
            if value := getattr(self, key):
                detail[key] = value
        detail.update(self.phases_ms)
        detail["body_bytes"] = self.body_bytes
        for flag in ("truncated", "timed_out", "via_proxy", "proxy_failed"):
            if getattr(self, flag):
                detail[flag] = True
        return detail


def _phases(trace: Trace, total_ms: float) -> dict[str, float]:
    spans = {
        # where the name was not looked up before (see fetch), anyio does it inside
        # connect_tcp: connect then includes that lookup
        "connect_ms": trace.span_ms("connect_tcp", "connect_tcp"),
        "tls_ms": trace.span_ms("start_tls", "start_tls"),
        "first_byte_ms": trace.span_ms("send_request_headers", "receive_response_headers"),
    }
    found = {key: value for key, value in spans.items() if value is not None}
    found["total_ms"] = round(total_ms, 2)
    return found


async def _lookup(ctx: ProbeContext, url: str, wait_s: float) -> tuple[float | None, list[str]]:
    """The system resolver's time and addresses for the URL's host: the run's shared
    lookup, which every probe starts together, so its time is the real one. No time and
    no address for IP literals or failures (the request is still made, and looks the
    name up itself: a proxy may resolve what this device cannot)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host or is_ip(host):
        return None, []
    port = parts.port or (443 if parts.scheme == "https" else 80)
    start = time.perf_counter()
    try:
        pairs = await asyncio.wait_for(ctx.resolve(host, port), wait_s)
    except (OSError, TimeoutError, ValueError):
        return None, []
    return ms_since(start), [address for _, address in pairs]


def _reset_after_connect(error: BaseException | None) -> bool:
    """A reset while connecting: the handshake went through (a refused SYN raises
    ECONNREFUSED) and the server or a middlebox cut the connection right after.

    httpx wraps the socket's error, and anyio's "All connection attempts failed" holds
    one per address in an exception group.
    """
    pending = [error] if error is not None else []
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ConnectionResetError):
            return True
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return False


def _through_proxy(
    url: str, trace: Trace, answered: bool, error: BaseException | None
) -> dict[str, bool]:
    """Whether the request went through a proxy, and whether it failed at the proxy: it
    broke off before reaching the URL's host (no TLS handshake with it, no answer)."""
    parts = urlsplit(url)
    origin = (parts.hostname or "").lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    via_proxy = trace.connect_peer not in (None, (origin, port))
    past_proxy = answered or origin in trace.tls_servers
    return {
        "via_proxy": via_proxy,
        "proxy_failed": via_proxy and error is not None and not past_proxy,
    }


async def fetch(
    ctx: ProbeContext,
    name: str,
    url: str,
    *,
    follow_redirects: bool = True,
    body_cap: int = BODY_CAP_BYTES,
) -> Fetch:
    """GET ``url``; never raises for the network, never waits past the run's deadline."""
    dns_ms, addresses = await _lookup(ctx, url, budget(ctx, REQUEST_TIMEOUT_S))
    # the request goes where the system resolver said (see pinned): not asked twice
    host = (urlsplit(url).hostname or "").lower()
    pins = {host: addresses} if addresses and not proxied() else {}
    trace = Trace()
    timeout = budget(ctx, REQUEST_TIMEOUT_S)
    start = time.perf_counter()
    result: dict[str, Any] = {}

    async def go() -> None:
        pinned = {"transport": pinned_transport(ctx.ssl_context(), pins)} if pins else {}
        async with ctx.http_client(
            follow_redirects=follow_redirects,
            max_redirects=MAX_REDIRECTS,
            timeout=httpx.Timeout(timeout),
            **pinned,
        ) as client:
            request = client.build_request("GET", url, extensions={"trace": trace})
            response = await client.send(request, stream=True)
            try:
                result["response"] = response
                size = 0
                head = bytearray()
                result["head"] = head
                async for chunk in response.aiter_raw():
                    if len(head) < BODY_HEAD_BYTES:
                        head += chunk[: BODY_HEAD_BYTES - len(head)]
                    size += len(chunk)
                    result["size"] = size
                    if size >= body_cap:  # huge bodies: enough has been seen
                        result["truncated"] = True
                        break
            finally:
                await response.aclose()

    error: BaseException | None = None
    not_waited = ""
    try:
        work = asyncio.wait_for(go(), timeout)
        # unreachable: direct only, through a proxy the tcp probe's handshakes say nothing
        # of this one; an unstable link: a request still going waits on its losses
        facts = [Fact.unstable_link()]
        if not proxied():
            facts.append(Fact.unreachable(name))
        await ctx.unless(work, *facts)
    except Decided as decided:
        not_waited = str(decided.fact)
    except Exception as caught:  # whatever the network does becomes a result, never a crash
        error = caught
    total_ms = (time.perf_counter() - start) * 1000.0
    response: httpx.Response | None = result.get("response")
    connected = "connect_tcp" in trace.completed or _reset_after_connect(error)
    phases = _phases(trace, total_ms)
    if dns_ms is not None:
        phases["dns_ms"] = dns_ms
    common: dict[str, Any] = {
        "target": name,
        "url": url,
        "connected": connected,
        "phases_ms": phases,
        "body_bytes": int(result.get("size", 0)),
        "body_head": bytes(result.get("head", b"")),
        "truncated": bool(result.get("truncated", False)),
        **_through_proxy(url, trace, response is not None, error),
    }
    if response is not None:
        common.update(
            status=response.status_code,
            final_url=str(response.url),
            location=response.headers.get("location", ""),
            date=response.headers.get("date", ""),
            sent_at=trace.wall.get("send_request_headers.started", 0.0),
            received_at=trace.wall.get("receive_response_headers.complete", 0.0),
        )
    if not_waited:
        return Fetch(**common, phase=trace.phase, not_waited=not_waited)
    if error is None:
        return Fetch(**common)
    timed_out = isinstance(error, TimeoutError | httpx.TimeoutException)
    # once headers are in, whatever goes wrong goes wrong in the body
    phase = "body" if response is not None else trace.phase
    return Fetch(**common, error=error_text(error), phase=phase, timed_out=timed_out)


async def fetch_targets(ctx: ProbeContext) -> list[Fetch]:
    targets: list[Target] = list(ctx.targets)
    return list(await asyncio.gather(*(fetch(ctx, t.name, t.url) for t in targets)))


async def shared_fetch(ctx: ProbeContext) -> list[Fetch]:
    """Every target URL fetched once per run, whichever probe asks first."""
    return await ctx.once(MEMO_KEY, lambda: fetch_targets(ctx))
