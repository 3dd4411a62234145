"""The public probe API: the one module a probe plug-in imports.

A probe is a class registered under the entry-point group ``jmo_doctor.probes``. It has an
``id``, a ``title`` and one ``async def run(self, ctx) -> ProbeResult``. Results are frozen;
the runner times them, guards them and turns crashes into results of their own.

What a probe gets from the rest of jmo-doctor comes from here too: the settings' types
(:class:`Target`, :class:`Resolver`, parsed when the config was loaded), the KPJ check,
and the facts about the platform. The built-in probes keep to this as a plug-in must.

This module stays cheap to import: no network library is imported here.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar, runtime_checkable

from jmo_doctor.config import Config, Resolver, Target
from jmo_doctor.environment import is_termux, platform_name
from jmo_doctor.kpj import KPJ_LENGTH, KpjVerdict, check_kpj, verdict_message

if TYPE_CHECKING:
    import ssl

    import httpx

__all__ = [
    "ENTRY_POINT_GROUP",
    "KPJ_LENGTH",
    "BaseProbe",
    "Config",
    "Decided",
    "Fact",
    "Finding",
    "KpjVerdict",
    "LocalText",
    "Messages",
    "Probe",
    "ProbeContext",
    "ProbeResult",
    "Resolver",
    "RunOptions",
    "Status",
    "Target",
    "check_kpj",
    "is_termux",
    "platform_name",
    "verdict_message",
]

ENTRY_POINT_GROUP = "jmo_doctor.probes"

#: A user-facing string in every language: ``{"id": "…", "en": "…"}``; a plain ``str``
#: is accepted from plug-ins that speak one language only.
LocalText = str | Mapping[str, str]

#: Finding-code → message template per language; templates use ``str.format`` fields
#: taken from the finding's ``target`` and ``data``.
Messages = Mapping[str, Mapping[str, str]]

T = TypeVar("T")


class Status(enum.StrEnum):
    """How a probe ended, from best to worst for the user."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"
    ERROR = "error"


@dataclass(frozen=True)
class Finding:
    """One observation with a stable machine-readable ``code`` (see SPEC §5)."""

    code: str
    message: str
    target: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProbeResult:
    """What a probe returns. ``details`` holds structured facts for the report."""

    id: str
    status: Status
    summary: str
    findings: tuple[Finding, ...] = ()
    metrics: Mapping[str, float] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0


#: Kinds of :class:`Fact`.
UNREACHABLE = "unreachable"
MOBILE_DATA = "mobile_data"
UNSTABLE_LINK = "unstable_link"


@dataclass(frozen=True)
class Fact:
    """Decisive evidence published while the run goes on, so that other probes stop
    waiting for an answer that can no longer change (``ctx.publish``, ``ctx.unless``)."""

    kind: str
    target: str | None = None

    @classmethod
    def unreachable(cls, target: str) -> Fact:
        """No TCP handshake with any address of ``target`` succeeded (the tcp probe's
        full series): a TLS handshake or an HTTP request to it directly would only wait."""
        return cls(UNREACHABLE, target)

    @classmethod
    def mobile_data(cls) -> Fact:
        """The device reaches the internet over cellular data (the system probe's
        interfaces or termux-api): data costs quota, so spend little."""
        return cls(MOBILE_DATA)

    @classmethod
    def unstable_link(cls) -> Fact:
        """The probes finished so far made an unstable link certain, its loss or jitter far
        past the thresholds (published as soon as tcp has it, during the first wave): a
        probe still waiting on the link stops waiting (its answer is held up by the loss),
        and a throughput test need only tell slow from not slow, briefly."""
        return cls(UNSTABLE_LINK)

    def __str__(self) -> str:
        return f"{self.kind} ({self.target})" if self.target else self.kind


class Decided(Exception):
    """Raised by ``ctx.unless`` when a published fact made the awaited work unneeded."""

    def __init__(self, fact: Fact) -> None:
        super().__init__(f"not needed: {fact}")
        self.fact = fact


@dataclass(frozen=True)
class RunOptions:
    """Per-run choices from the command line that probes may need."""

    kpj: str | None = None
    app_version: str | None = None
    os_version: str | None = None  # the phone's Android/iOS version, when given
    platform: str | None = None  # "android" | "ios" | None (detect)
    quick: bool = False
    verbose: bool = False
    redact: bool = True


class ProbeContext(Protocol):
    """What the runner hands each probe: settings and the run's shared services."""

    @property
    def config(self) -> Config: ...

    @property
    def options(self) -> RunOptions: ...

    @property
    def lang(self) -> str: ...

    @property
    def targets(self) -> Sequence[Target]: ...

    def remaining(self) -> float:
        """Seconds left before the whole run's deadline."""
        ...

    def text(self, *, id: str, en: str) -> str:
        """Pick the string of the run's language."""
        ...

    def finding(self, code: str, target: str | None = None, **data: Any) -> Finding:
        """A finding whose message comes from the probe's ``messages`` in the run's language."""
        ...

    async def resolve(self, host: str, port: int) -> list[tuple[int, str]]:
        """``(family, address)`` pairs from the system resolver, cached for the run."""
        ...

    def lookup_time_ms(self, host: str, port: int) -> float | None:
        """How long the system resolver took for ``resolve(host, port)``, timed in its
        thread; None before it finished."""
        ...

    async def once(self, key: str, factory: Callable[[], Awaitable[T]]) -> T:
        """Run ``factory`` once per run for ``key``; every caller gets its result."""
        ...

    async def to_thread(self, func: Callable[..., T], /, *args: Any) -> T:
        """Run blocking code in a thread that can never hold up the end of the run."""
        ...

    def ssl_context(self) -> ssl.SSLContext:
        """The run's verifying TLS context (system CAs, ``SSL_CERT_FILE``, ``ca_bundle``)."""
        ...

    def http_client(self, **kwargs: Any) -> httpx.AsyncClient:
        """An httpx client with the run's TLS settings; honours proxy variables."""
        ...

    def progress(self, fraction: float | None = None, note: str = "") -> None:
        """Tell the live display how far the probe is (0..1) and what it is doing."""
        ...

    def publish(self, fact: Fact) -> None:
        """Tell the run a decisive fact; work awaited ``unless`` it ends at once."""
        ...

    def known(self, fact: Fact) -> bool:
        """Whether ``fact`` has been published in this run."""
        ...

    async def unless(self, work: Awaitable[T], *facts: Fact) -> T:
        """Await ``work`` unless one of ``facts`` is (or gets) published first: then
        ``work`` is cancelled and :class:`Decided` raised, naming the fact."""
        ...


@runtime_checkable
class Probe(Protocol):
    """The probe protocol. Subclass :class:`BaseProbe` for the defaults."""

    id: ClassVar[str]
    title: ClassVar[LocalText]

    async def run(self, ctx: ProbeContext) -> ProbeResult: ...


class BaseProbe:
    """Defaults for the optional probe attributes.

    ``order`` places the probe in the output (built-ins use 10..90; plug-ins default after
    them); ``timeout`` bounds this probe alone (``None``: the run's deadline); ``slow``
    probes are skipped by ``--quick``; ``messages`` gives each finding code's text in
    both languages.
    """

    id: ClassVar[str] = ""
    title: ClassVar[LocalText] = ""
    order: ClassVar[int] = 1000
    timeout: ClassVar[float | None] = None
    slow: ClassVar[bool] = False
    messages: ClassVar[Messages] = {}

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        raise NotImplementedError

    async def prepare(self, ctx: ProbeContext) -> None:
        """For a ``slow`` probe: work done while the first wave runs, that puts no load on
        the link (a name lookup through ``ctx``'s shared caches), so that ``run`` need not
        wait for it. Cancelled when the first wave ends; its errors are ignored (``run``
        meets them again)."""
