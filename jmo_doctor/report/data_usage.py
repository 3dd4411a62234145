"""How much data a run used (``run.data_bytes``, SPEC §7), for people on prepaid quota.

A probe that counts its own traffic reports the metric ``data_bytes`` (the bandwidth probe:
every byte it read and wrote, exactly); for the others the figure is an estimate measured
in the lab (``data/data-usage.toml`` says how), per target or per run. A skipped probe
moved nothing; an unknown plug-in probe that does not count is left out.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources

from jmo_doctor.api import ProbeResult, Status

ESTIMATES_FILE = "data-usage.toml"
COUNTED_METRIC = "data_bytes"


@cache
def _estimates() -> tuple[Mapping[str, int], Mapping[str, int]]:
    text = resources.files("jmo_doctor.data").joinpath(ESTIMATES_FILE).read_text("utf-8")
    data = tomllib.loads(text)
    return data.get("per_target", {}), data.get("per_run", {})


def data_used(results: Sequence[ProbeResult], target_count: int) -> int:
    """Bytes the run's probes moved: counted where a probe counts, else estimated."""
    per_target, per_run = _estimates()
    total = 0.0
    for result in results:
        counted = result.metrics.get(COUNTED_METRIC)
        if counted is not None:
            total += max(0.0, float(counted))
        elif result.status is not Status.SKIP:
            total += per_target.get(result.id, 0) * target_count + per_run.get(result.id, 0)
    return round(total)


def megabytes(count: float, lang: str) -> str:
    """``25,1 MB`` / ``25.1 MB``; ``85 kB`` below a megabyte (decimal units, as quota is sold)."""
    shown = f"{count / 1e6:.1f} MB" if count >= 1e6 else f"{max(1, round(count / 1e3))} kB"
    return shown.replace(".", ",") if lang == "id" else shown
