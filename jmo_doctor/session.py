"""One `jmo-doctor run`: config → probes (concurrent) → diagnosis → report document.

Data flows one way; no stage reaches back into an earlier one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from jmo_doctor import environment
from jmo_doctor.api import ProbeResult, RunOptions
from jmo_doctor.config import Config
from jmo_doctor.context import RunShared
from jmo_doctor.diagnosis import diagnose
from jmo_doctor.errors import UserError
from jmo_doctor.interrupt import StopRequest
from jmo_doctor.plugins import LoadedProbe
from jmo_doctor.report import document
from jmo_doctor.report.labels import label
from jmo_doctor.report.redact import Redactor
from jmo_doctor.runner import Board, run_probes, skipped_result


class SelectionError(UserError):
    """``--only`` / ``--skip`` named a probe that does not exist."""


@dataclass(frozen=True)
class Selection:
    chosen: list[LoadedProbe]  # in output order
    skipped: dict[str, str] = field(default_factory=dict)  # probe id → reason

    @property
    def to_run(self) -> list[LoadedProbe]:
        return [p for p in self.chosen if p.id not in self.skipped]


def select(
    probes: Sequence[LoadedProbe], only: Sequence[str], skip: Sequence[str], quick: bool
) -> Selection:
    known = {p.id for p in probes}
    for name in [*only, *skip]:
        if name not in known:
            listed = ", ".join(sorted(known)) or "none"
            raise SelectionError(f"unknown probe id '{name}' (known: {listed})")
    chosen = [p for p in probes if (not only or p.id in only) and p.id not in skip]
    skipped = {p.id: "--quick" for p in chosen if quick and p.slow}
    return Selection(chosen=chosen, skipped=skipped)


def _device_addresses(results: Sequence[ProbeResult]) -> list[str]:
    addresses: list[str] = []
    for result in results:
        value = result.details.get("addresses")
        if isinstance(value, list | tuple):
            addresses.extend(str(a) for a in value)
    return addresses


@dataclass(frozen=True)
class RunOutcome:
    """The report as the person asked for it, and always a redacted copy.

    The redacted copy is what leaves the device or is kept: history, webhooks.
    """

    document: dict[str, Any]
    redacted: dict[str, Any]


def execute(
    config: Config,
    options: RunOptions,
    lang: str,
    selection: Selection,
    *,
    started: float,
    timeout: float,
    warnings: Sequence[str] = (),
    on_tick: Callable[[Board], None] | None = None,
    stop: StopRequest | None = None,
) -> RunOutcome:
    """Run the probes and build the report document.

    ``stop``, set by a signal, ends the probes as the deadline would: what was measured
    still becomes the report, which says it was interrupted.
    """
    started_at = document.now()
    stop = stop if stop is not None else StopRequest()
    shared = RunShared(config, options, lang, deadline=started + timeout, stop=stop.event)
    results_by_id = {r.id: r for r in run_probes(selection.to_run, shared, on_tick=on_tick)}
    for probe_id, reason in selection.skipped.items():
        results_by_id[probe_id] = skipped_result(probe_id, lang, reason)
    results = [results_by_id[p.id] for p in selection.chosen]
    if stop.signal_name:
        warnings = [*warnings, label("interrupted_by", lang).format(signal=stop.signal_name)]
    verdict = diagnose(results, config.targets, lang)
    doc = document.build(
        document.RunInfo(started_at, time.monotonic() - started, lang),
        results,
        verdict,
        environment.describe(),
        warnings,
        config.targets,
    )
    redactor = Redactor.for_this_device(
        kpj=options.kpj, device_addresses=_device_addresses(results)
    )
    redacted = redactor.document(doc)
    redacted["redacted"] = True
    return RunOutcome(document=redacted if options.redact else doc, redacted=redacted)
