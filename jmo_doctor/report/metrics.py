"""Reading a report document's key figures: per-target TCP stats, BPJS targets, the first
cause. Shared by the history, the Prometheus and the Nagios output, which all read the
same document and must agree on what "the BPJS latency" of a run is.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: tcp metric keys per target (``<target>.<key>`` in the tcp probe's metrics).
TCP_STATS = ("rtt_min_ms", "rtt_median_ms", "rtt_p95_ms", "rtt_max_ms", "jitter_ms", "loss_pct")


@dataclass(frozen=True)
class KeyMetric:
    """One history column: which probe metric feeds it, and how BPJS targets combine."""

    column: str
    probe: str
    names: tuple[str, ...]  # metric name(s), first present wins (probes may rename)
    per_bpjs_target: bool = False  # combine the worst (max) over the BPJS targets
    label: Mapping[str, str] = field(default_factory=dict)


KEY_METRICS: tuple[KeyMetric, ...] = (
    KeyMetric(
        "bpjs_rtt_ms",
        "tcp",
        ("rtt_median_ms",),
        True,
        {"id": "Latensi BPJS (ms)", "en": "BPJS latency (ms)"},
    ),
    KeyMetric(
        "bpjs_jitter_ms",
        "tcp",
        ("jitter_ms",),
        True,
        {"id": "Jitter BPJS (ms)", "en": "BPJS jitter (ms)"},
    ),
    KeyMetric(
        "bpjs_loss_pct",
        "tcp",
        ("loss_pct",),
        True,
        {"id": "Kehilangan BPJS (%)", "en": "BPJS loss (%)"},
    ),
    KeyMetric(
        "download_mbps",
        "bandwidth",
        ("download_mbps", "download_mbit_s"),
        False,
        {"id": "Unduh (Mbit/s)", "en": "Download (Mbit/s)"},
    ),
    KeyMetric(
        "upload_mbps",
        "bandwidth",
        ("upload_mbps", "upload_mbit_s"),
        False,
        {"id": "Unggah (Mbit/s)", "en": "Upload (Mbit/s)"},
    ),
)
#: The trends ``render_text`` draws as sparklines.
TREND_COLUMNS = ("bpjs_rtt_ms", "download_mbps")


def probe_entry(doc: Mapping[str, Any], probe_id: str) -> Mapping[str, Any] | None:
    for probe in doc.get("probes") or ():
        if isinstance(probe, Mapping) and probe.get("id") == probe_id:
            return probe
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def tcp_targets(doc: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Per target name: the tcp probe's stats (``TCP_STATS`` keys present, plus ``samples``).

    A target no family could reach has no metrics, only details: its loss (100 %) is
    taken from there so that an outage shows up as loss rather than as a missing value.
    """
    probe = probe_entry(doc, "tcp")
    if probe is None:
        return {}
    found: dict[str, dict[str, float]] = {}
    for key, value in (probe.get("metrics") or {}).items():
        target, _, name = str(key).rpartition(".")
        number = _number(value)
        if target and number is not None and name in (*TCP_STATS, "samples"):
            found.setdefault(target, {})[name] = number
    details = probe.get("details")
    for target, info in details.items() if isinstance(details, Mapping) else ():
        families = info.get("families") if isinstance(info, Mapping) else None
        if not isinstance(families, Mapping) or "loss_pct" in found.get(target, {}):
            continue
        losses = [
            loss
            for fam in families.values()
            if isinstance(fam, Mapping) and (loss := _number(fam.get("loss_pct"))) is not None
        ]
        if losses:
            found.setdefault(str(target), {})["loss_pct"] = min(losses)
    return found


def bpjs_targets(doc: Mapping[str, Any], explicit: Collection[str] | None = None) -> set[str]:
    """The names of the BPJS-role targets of the run.

    The document's own ``targets`` list (with roles) decides; the caller's list wins when
    given; reports older than that list fall back to the tcp details, then to the default
    config's naming (``bpjs-*``).
    """
    if explicit is not None:
        return set(explicit)
    roles: dict[str, str] = {}
    for item in doc.get("targets") or ():
        if isinstance(item, Mapping) and isinstance(item.get("name"), str):
            roles[item["name"]] = str(item.get("role", ""))
    probe = probe_entry(doc, "tcp")
    details = probe.get("details") if probe else None
    for name, info in details.items() if isinstance(details, Mapping) else ():
        if isinstance(info, Mapping) and isinstance(info.get("role"), str):
            roles.setdefault(str(name), info["role"])
    if roles:
        return {name for name, role in roles.items() if role == "bpjs"}
    return {name for name in tcp_targets(doc) if name.lower().startswith("bpjs")}


def key_metrics(
    doc: Mapping[str, Any], bpjs: Collection[str] | None = None
) -> dict[str, float | None]:
    """Every ``KEY_METRICS`` column for this report; None where the run did not measure it."""
    targets = tcp_targets(doc)
    chosen = bpjs_targets(doc, bpjs)
    values: dict[str, float | None] = {}
    for metric in KEY_METRICS:
        if metric.per_bpjs_target:
            found = [
                value
                for target, stats in targets.items()
                if target in chosen and (value := _first(stats, metric.names)) is not None
            ]
            # the worst BPJS host: the app needs all of them
            values[metric.column] = max(found) if found else None
        else:
            probe = probe_entry(doc, metric.probe) or {}
            values[metric.column] = _first(probe.get("metrics") or {}, metric.names)
    return values


def _first(metrics: Mapping[str, Any], names: Sequence[str]) -> float | None:
    return next((v for n in names if (v := _number(metrics.get(n))) is not None), None)


def first_cause(doc: Mapping[str, Any]) -> Mapping[str, Any] | None:
    causes = [c for c in doc.get("causes") or () if isinstance(c, Mapping)]
    return min(causes, key=lambda c: _number(c.get("rank")) or 0.0) if causes else None


def started_at(doc: Mapping[str, Any]) -> datetime:
    text = str((doc.get("run") or {}).get("started_at", ""))
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return datetime.now(UTC)
