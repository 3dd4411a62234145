"""Monitoring-plugin output (``run --format nagios``): Nagios, Icinga, Naemon, Sensu.

One status line with performance data, the causes as long output, and the run's exit
code as the plugin's state (SPEC §3 already follows the plugin convention).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jmo_doctor.report import verdict
from jmo_doctor.report.view import ReportView
from jmo_doctor.safetext import one_line

if TYPE_CHECKING:
    from jmo_doctor.config import Config

STATES = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}


@dataclass(frozen=True)
class Thresholds:
    """Perfdata thresholds; the warnings match the diagnosis' defaults (config §4)."""

    rtt_warn_ms: float = 400.0  # latency.high_ms
    rtt_crit_ms: float = 1000.0
    loss_warn_pct: float = 5.0  # latency.loss_pct
    loss_crit_pct: float = 20.0
    download_warn_mbps: float = 1.0  # bandwidth.min_download_mbps
    download_crit_mbps: float = 0.25

    @classmethod
    def from_config(cls, config: Config) -> Thresholds:
        """Warn where the diagnosis starts to complain; critical well past it."""
        return cls(
            rtt_warn_ms=config.latency.high_ms,
            rtt_crit_ms=max(cls.rtt_crit_ms, config.latency.high_ms * 2.5),
            loss_warn_pct=config.latency.loss_pct,
            loss_crit_pct=min(100.0, max(cls.loss_crit_pct, config.latency.loss_pct * 4)),
            download_warn_mbps=config.bandwidth.min_download_mbps,
            download_crit_mbps=config.bandwidth.min_download_mbps / 4,
        )


def _num(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def _perf(
    name: str, value: float | None, unit: str, warn: str, crit: str, low: str, high: str
) -> str:
    # U: the plugin guidelines' "could not be measured", which keeps the graph's series
    shown = "U" if value is None else f"{_num(value)}{unit}"
    return f"'{name}'={shown};{warn};{crit};{low};{high}"


def _clean(text: str) -> str:
    """No pipe (it starts the perfdata) and no line break (it starts the long output)."""
    return one_line(" ".join(text.replace("|", "/").split()))


def summary(doc: Mapping[str, Any] | ReportView) -> str:
    report = ReportView.of(doc)
    return verdict.sentence(report, report.lang, short=True)


def exit_code(doc: Mapping[str, Any] | ReportView) -> int:
    code = ReportView.of(doc).exit_code
    return code if code in STATES else 3


def render(
    doc: Mapping[str, Any] | ReportView,
    thresholds: Thresholds | None = None,
    *,
    bpjs: Collection[str] | None = None,
) -> str:
    """``bpjs`` overrides the BPJS targets the document's own roles name (rarely needed)."""
    report = ReportView.of(doc)
    limits = thresholds or Thresholds()
    metrics = report.key_metrics(bpjs)
    duration = report.run.duration_s
    perf = [
        _perf("bpjs_rtt_ms", metrics["bpjs_rtt_ms"], "ms",
              _num(limits.rtt_warn_ms), _num(limits.rtt_crit_ms), "0", ""),
        _perf("loss_pct", metrics["bpjs_loss_pct"], "%",
              _num(limits.loss_warn_pct), _num(limits.loss_crit_pct), "0", "100"),
        # "N:" is the plugin range for "alert when below N"
        _perf("download_mbps", metrics["download_mbps"], "",
              _num(limits.download_warn_mbps) + ":", _num(limits.download_crit_mbps) + ":",
              "0", ""),
        _perf("upload_mbps", metrics["upload_mbps"], "", "", "", "0", ""),
        _perf("duration_s", None if duration is None else float(duration),
              "s", "", "", "0", ""),
    ]  # fmt: skip
    state = STATES[exit_code(report)]
    lines = [f"JMO-DOCTOR {state} - {_clean(summary(report))} | {' '.join(perf)}"]
    if report.status != "ok":
        for cause in report.causes:
            lines.append(_clean(f"[{cause.confidence}] {cause.title} ({cause.id})"))
    return "\n".join(lines) + "\n"
