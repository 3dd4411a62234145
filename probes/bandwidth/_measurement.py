"""What a bandwidth backend hands the probe: the two phases and how they went.

Both backends (``_http``, ``_speedtest``) build these; neither imports the other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from probes.bandwidth._meter import Throughput

#: Below this many seconds per direction no figure is worth reporting (either backend).
MIN_PHASE_S = 0.5

#: (direction, fraction of that phase done, live Mbit/s or None when not known)
Report = Callable[[str, float, float | None], None]


@dataclass(frozen=True)
class Phase:
    """One direction: its throughput and the RTTs sampled while it ran."""

    throughput: Throughput
    rtts: tuple[float, ...] = ()
    lost: int = 0
    errors: tuple[str, ...] = ()
    #: what ended the phase: "duration", "steady" or "budget" (see ``_budget``)
    end_reason: str = "duration"
    #: bytes the phase moved: read (download) or written (upload), headers aside
    moved_bytes: int = 0

    @property
    def lower_bound(self) -> bool:
        """The budget ended the phase before its rate was steady: the link may be faster."""
        return self.end_reason == "budget"


@dataclass(frozen=True)
class Measurement:
    """What a backend hands the probe. ``unavailable``: (reason, detail) when nothing
    could be measured."""

    backend: str
    server: str
    idle_rtts: tuple[float, ...] = ()
    download: Phase | None = None
    upload: Phase | None = None
    unavailable: tuple[str, str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
