"""Prometheus text exposition of a report (``run --format prom``, ``run --push URL``).

Written for node_exporter's textfile collector: cron runs ``jmo-doctor run --format prom
--output /var/lib/node_exporter/textfile/jmo.prom`` (the write is atomic), or pushed to a
Pushgateway. It follows Prometheus' naming conventions and passes ``promtool check
metrics``: base units (seconds, bytes per second, ratios), one unit per family, the unit
at the end of the name, and no ``quantile`` label outside a summary (each RTT statistic
is its own gauge). Probe metrics not given a family of their own here are exported by
their unit suffix (:data:`PROBE_UNITS`), so plug-ins' metrics and new ones need no change.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jmo_doctor.report.metrics import KEY_METRICS, MBPS_TO_BYTES_PER_SECOND
from jmo_doctor.report.view import ReportView
from jmo_doctor.safetext import one_line

PREFIX = "jmo_doctor_"
#: tcp stat → its gauge (without prefix) and HELP text; all in seconds.
RTT_GAUGES = {
    "rtt_min_ms": ("tcp_rtt_min_seconds", "Fastest TCP handshake per target."),
    "rtt_median_ms": ("tcp_rtt_median_seconds", "Median TCP handshake time per target."),
    "rtt_p95_ms": ("tcp_rtt_p95_seconds", "95th percentile TCP handshake time per target."),
    "rtt_max_ms": ("tcp_rtt_max_seconds", "Slowest TCP handshake per target."),
}


@dataclass(frozen=True)
class ProbeUnit:
    """A probe metric name ending in ``suffix`` goes to ``probe_metric_<family>``."""

    suffix: str
    family: str  # the base unit, as it ends the family's name
    factor: float
    keep: str = ""  # what replaces the suffix in the metric label


#: Probe metric unit suffix → family in base units; first match wins, the rest are plain
#: numbers (counts, codes) in ``jmo_doctor_probe_metric``.
PROBE_UNITS = (
    ProbeUnit("_ms", "seconds", 1e-3),
    ProbeUnit("_mbps", "bytes_per_second", MBPS_TO_BYTES_PER_SECOND),
    ProbeUnit("_mbit_s", "bytes_per_second", MBPS_TO_BYTES_PER_SECOND),  # before "_s"
    ProbeUnit("_s", "seconds", 1.0),
    ProbeUnit("days_left", "seconds", 86400.0, "valid_left"),
    ProbeUnit("_bytes", "bytes", 1.0),
    ProbeUnit("_pct", "ratio", 1e-2),
    # responsiveness in round trips per minute (RPM): per second is the base unit
    ProbeUnit("_rpm", "round_trips_per_second", 1 / 60),
)
_UNIT_HELP = {
    "seconds": "Probe metrics that are times, in seconds.",
    "bytes_per_second": "Probe metrics that are throughputs, in bytes per second.",
    "bytes": "Probe metrics that are sizes, in bytes.",
    "ratio": "Probe metrics that are shares, 0 to 1.",
    "round_trips_per_second": "Probe responsiveness metrics, in round trips per second.",
}
_SUCCESS = {"pass": 1.0, "warn": 1.0, "fail": 0.0, "error": 0.0}  # skip: no sample at all
#: Significant digits kept: enough for a Unix time in ms, few enough to drop float noise
#: (0.018 / 1000 is 1.7999999999999997e-05, written 1.8e-05).
SIGNIFICANT_DIGITS = 13


@dataclass
class Family:
    name: str
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)
    kind: str = "gauge"

    def add(self, value: float | None, **labels: str) -> None:
        if value is not None and math.isfinite(value):
            self.samples.append((labels, float(value)))


def escape_label(value: str) -> str:
    """The exposition format's escapes; other control characters (a plug-in's or a
    config's odd name) never reach a terminal or a scraper raw."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return one_line(escaped)


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float) -> str:
    text = f"{value:.{SIGNIFICANT_DIGITS}g}"
    return "0" if text == "-0" else text


def probe_unit(name: str) -> tuple[str, str, float]:
    """(family suffix, metric label, factor) of a probe metric called ``name``."""
    for unit in PROBE_UNITS:
        if name.endswith(unit.suffix):
            return "_" + unit.family, name[: -len(unit.suffix)] + unit.keep, unit.factor
    return "", name, 1.0


class _Families:
    """The families in the order they are made; one per name."""

    def __init__(self) -> None:
        self.made: dict[str, Family] = {}

    def __call__(self, name: str, text: str) -> Family:
        if name not in self.made:
            self.made[name] = Family(PREFIX + name, text)
        return self.made[name]


def families(doc: Mapping[str, Any] | ReportView) -> list[Family]:
    report = ReportView.of(doc)
    family = _Families()
    _run_families(report, family)
    _probe_families(report, family)
    _tcp_families(report, family)
    key_metrics = report.key_metrics()
    for metric in KEY_METRICS:
        if metric.prom is not None:
            value = key_metrics[metric.column]
            family(metric.prom.name, metric.prom.help).add(
                None if value is None else value * metric.prom.factor
            )
    cause = family("cause", "1 for each cause the diagnosis found, with its confidence.")
    for diagnosed in report.causes:
        cause.add(1.0, cause=diagnosed.id, confidence=diagnosed.confidence)
    return list(family.made.values())


def _run_families(report: ReportView, family: _Families) -> None:
    exit_code, status = report.exit_code, report.status
    family("up", "1 if the check could be done (exit code other than 3 UNKNOWN).").add(
        0.0 if exit_code == 3 else 1.0
    )
    if (error := report.error) is not None:
        family("error_info", "Why the check could not be done (exit code 3).").add(
            1.0, reason=" ".join(error.split())[:200]
        )
    family("exit_code", "Exit code: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.").add(exit_code)
    by_status = family("status", "1 for the run's status, 0 for the others.")
    for each in ("ok", "warning", "critical", "unknown"):
        by_status.add(1.0 if each == status else 0.0, status=each)
    family("last_run_timestamp_seconds", "When the run started (Unix time).").add(
        report.started_at.timestamp()
    )
    duration = report.run.duration_s
    family("run_duration_seconds", "How long the run took.").add(
        None if duration is None else float(duration)
    )
    family("info", "The jmo-doctor version and platform of the run.").add(
        1.0, version=report.version, platform=report.platform
    )


def _probe_families(report: ReportView, family: _Families) -> None:
    success = family("probe_success", "1 if the probe passed or only warned, 0 if it failed.")
    state = family("probe_status", "1 for each probe's status (pass, warn, fail, skip, error).")
    took = family("probe_duration_seconds", "How long each probe took.")
    found = family("finding", "Findings of the run by probe, code and target.")
    measured: dict[tuple[str, str, str], float] = {}
    for probe in report.probes:
        pid = probe.id
        success.add(_SUCCESS.get(probe.status), probe=pid)
        state.add(1.0, probe=pid, status=probe.status)
        took.add(probe.duration_s, probe=pid)
        for name, number in sorted(probe.metrics.items()):
            unit, metric, factor = probe_unit(name)
            if (unit, pid, metric) in measured:  # "x_ms" and "x_s": keep the name as it is
                metric = name
            measured.setdefault((unit, pid, metric), number * factor)
        counts: dict[tuple[str, str], int] = {}
        for finding in probe.findings:
            key = (finding.code, finding.target or "")
            counts[key] = counts.get(key, 0) + 1
        for (code, target), count in sorted(counts.items()):
            found.add(float(count), probe=pid, code=code, target=target)
    for (
        unit,
        pid,
        metric,
    ), number in measured.items():  # after the fixed families, grouped by unit
        text = _UNIT_HELP.get(unit[1:], "Probe metrics that are plain numbers (counts, codes).")
        family("probe_metric" + unit, text).add(number, probe=pid, metric=metric)


def _tcp_families(report: ReportView, family: _Families) -> None:
    roles = {target.name: target.role for target in report.targets}
    bpjs = report.bpjs_targets()
    gauges = {stat: family(name, text) for stat, (name, text) in RTT_GAUGES.items()}
    jitter = family("tcp_jitter_seconds", "TCP handshake jitter per target (RFC 3550 style).")
    loss = family("tcp_loss_ratio", "Share of TCP handshakes lost per target (0 to 1).")
    for target, stats in sorted(report.tcp_targets().items()):
        role = roles.get(target) or ("bpjs" if target in bpjs else "reference")
        for stat, gauge in gauges.items():
            if stat in stats:
                gauge.add(stats[stat] / 1000.0, target=target, role=role)
        if "jitter_ms" in stats:
            jitter.add(stats["jitter_ms"] / 1000.0, target=target, role=role)
        if "loss_pct" in stats:
            loss.add(stats["loss_pct"] / 100.0, target=target, role=role)


def render(doc: Mapping[str, Any] | ReportView) -> str:
    lines: list[str] = []
    for each in families(doc):
        if not each.samples:
            continue  # no HELP/TYPE for a family without samples: some parsers object
        lines.append(f"# HELP {each.name} {_escape_help(each.help)}")
        lines.append(f"# TYPE {each.name} {each.kind}")
        for labels, value in each.samples:
            text = ",".join(f'{k}="{escape_label(v)}"' for k, v in labels.items())
            lines.append(
                f"{each.name}{{{text}}} {format_value(value)}"
                if text
                else f"{each.name} {format_value(value)}"
            )
    return "\n".join(lines) + "\n"
