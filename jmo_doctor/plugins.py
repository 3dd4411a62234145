"""Probe discovery through the ``jmo_doctor.probes`` entry points (built-ins included).

A plug-in that fails to load costs one warning line; the run goes on without it. Causes
that plug-ins bring (``jmo_doctor.causes``, see ``catalogue``) are loaded with the probes,
so their warnings are told in the same place.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import cast

from jmo_doctor import catalogue
from jmo_doctor.api import ENTRY_POINT_GROUP, LocalText, Messages, Probe
from jmo_doctor.i18n import said

#: The distribution the built-in probes ship in. A probe is built-in when this distribution
#: registers it, whatever its module is called: another one may have a ``probes`` package.
DISTRIBUTION = "jmo-doctor"


@dataclass(frozen=True)
class LoadedProbe:
    """A probe instance with its optional attributes resolved to their defaults."""

    probe: Probe
    id: str
    title: LocalText
    order: int
    timeout: float | None
    slow: bool
    messages: Messages
    source: str  # the distribution that provides it
    builtin: bool


@dataclass
class Discovery:
    probes: list[LoadedProbe] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _describe(entry: EntryPoint) -> str:
    dist = getattr(entry, "dist", None)
    return f"{dist.name} {dist.version}" if dist is not None else entry.value


def _builtin(entry: EntryPoint) -> bool:
    dist = getattr(entry, "dist", None)
    # names compare as pip compares them (PEP 503): "JMO_Doctor" is "jmo-doctor"
    return dist is not None and re.sub(r"[-_.]+", "-", dist.name).lower() == DISTRIBUTION


def _load(entry: EntryPoint) -> LoadedProbe:
    loaded = entry.load()
    # a class is instantiated; a ready-made instance is accepted as it is
    probe = cast(Probe, loaded() if inspect.isclass(loaded) else loaded)
    probe_id = getattr(probe, "id", None)
    if not isinstance(probe_id, str) or not probe_id:
        raise TypeError("it has no string 'id'")
    if not inspect.iscoroutinefunction(getattr(probe, "run", None)):
        raise TypeError("its 'run' is not an async method")
    return LoadedProbe(
        probe=probe,
        id=probe_id,
        title=getattr(probe, "title", probe_id) or probe_id,
        order=int(getattr(probe, "order", 1000)),
        timeout=getattr(probe, "timeout", None),
        slow=bool(getattr(probe, "slow", False)),
        messages=getattr(probe, "messages", {}) or {},
        source=_describe(entry),
        builtin=_builtin(entry),
    )


def discover() -> Discovery:
    found = Discovery()
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            loaded = _load(entry)
        except Exception as error:  # a broken plug-in must never stop the run
            reason = str(error).splitlines()[0] if str(error) else ""
            what = f"{type(error).__name__}{': ' + reason if reason else ''}"
            found.warnings.append(
                said("plugin.probe_failed", name=entry.name, source=_describe(entry), error=what)
            )
            continue
        if any(p.id == loaded.id for p in found.probes):
            found.warnings.append(
                said("plugin.probe_id_taken", probe_id=loaded.id, source=loaded.source)
            )
            continue
        found.probes.append(loaded)
    found.probes.sort(key=lambda p: (p.order, p.id))
    # what is installed now, as for the probes: a plug-in may have come or gone meanwhile
    catalogue.reset()
    found.warnings.extend(catalogue.plugin_causes().warnings)
    return found
