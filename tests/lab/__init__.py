"""jmo-doctor's network lab: a phone, a router and an internet in network namespaces.

``from tests.lab import Lab``; pytest fixtures are in :mod:`tests.lab.fixtures`.
The server modules in this package run as ``python -m <package>.<module>`` inside the
namespaces, so this file imports nothing eagerly: a server must not pay for trustme.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .lab import Lab
    from .netns import LabError, cleanup_stale

__all__ = ["Lab", "LabError", "cleanup_stale"]


def __getattr__(name: str) -> Any:
    if name == "Lab":
        from .lab import Lab

        return Lab
    if name in ("LabError", "cleanup_stale"):
        from . import netns

        return getattr(netns, name)
    raise AttributeError(name)
