"""Prometheus text exposition of a report (``run --format prom``).

Written for node_exporter's textfile collector: cron runs ``jmo-doctor run --format prom
--output /var/lib/node_exporter/textfile/jmo.prom`` (the write is atomic). Values are in
base units (seconds, ratios, bits per second) as Prometheus conventions ask; every probe
metric is also exported raw as ``jmo_doctor_probe_metric`` so that plug-ins' metrics and
new ones need no change here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jmo_doctor.report.view import ReportView

PREFIX = "jmo_doctor_"
#: tcp stat → the quantile it is (min and max are the 0 and 1 quantiles).
RTT_QUANTILES = {"rtt_min_ms": "0", "rtt_median_ms": "0.5", "rtt_p95_ms": "0.95", "rtt_max_ms": "1"}
#: direction → (its key metric column, help, factor to base units).
THROUGHPUT = {
    "download": ("download_mbps", "Download throughput", 1e6),
    "upload": ("upload_mbps", "Upload throughput", 1e6),
}
_SUCCESS = {"pass": 1.0, "warn": 1.0, "fail": 0.0, "error": 0.0}  # skip: no sample at all


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
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _format(value: float) -> str:
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def families(doc: Mapping[str, Any] | ReportView) -> list[Family]:
    def family(name: str, text: str) -> Family:
        made = Family(PREFIX + name, text)
        out.append(made)
        return made

    out: list[Family] = []
    report = ReportView.of(doc)
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

    success = family("probe_success", "1 if the probe passed or only warned, 0 if it failed.")
    state = family("probe_status", "1 for each probe's status (pass, warn, fail, skip, error).")
    took = family("probe_duration_seconds", "How long each probe took.")
    raw = family("probe_metric", "Every metric a probe reported, as named in the JSON report.")
    found = family("finding", "Findings of the run by probe, code and target.")
    for probe in report.probes:
        pid = probe.id
        success.add(_SUCCESS.get(probe.status), probe=pid)
        state.add(1.0, probe=pid, status=probe.status)
        took.add(probe.duration_s, probe=pid)
        for name, number in sorted(probe.metrics.items()):
            raw.add(number, probe=pid, metric=name)
        counts: dict[tuple[str, str], int] = {}
        for finding in probe.findings:
            key = (finding.code, finding.target or "")
            counts[key] = counts.get(key, 0) + 1
        for (code, target), count in sorted(counts.items()):
            found.add(float(count), probe=pid, code=code, target=target)

    rtt = family("tcp_rtt_seconds", "TCP handshake time per target (quantile 0 = min, 1 = max).")
    jitter = family("tcp_jitter_seconds", "TCP handshake jitter per target (RFC 3550 style).")
    loss = family("tcp_loss_ratio", "Share of TCP handshakes lost per target (0 to 1).")
    for target, stats in sorted(report.tcp_targets().items()):
        for stat, quantile in RTT_QUANTILES.items():
            if stat in stats:
                rtt.add(stats[stat] / 1000.0, target=target, quantile=quantile)
        if "jitter_ms" in stats:
            jitter.add(stats["jitter_ms"] / 1000.0, target=target)
        if "loss_pct" in stats:
            loss.add(stats["loss_pct"] / 100.0, target=target)

    measured = report.key_metrics()
    for direction, (column, text, factor) in THROUGHPUT.items():
        value = measured[column]
        family(f"{direction}_bits_per_second", text + ".").add(
            None if value is None else value * factor
        )

    cause = family("cause", "1 for each cause the diagnosis found, with its confidence.")
    for diagnosed in report.causes:
        cause.add(1.0, cause=diagnosed.id, confidence=diagnosed.confidence)
    return out


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
                f"{each.name}{{{text}}} {_format(value)}"
                if text
                else f"{each.name} {_format(value)}"
            )
    return "\n".join(lines) + "\n"
