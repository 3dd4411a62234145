"""The key figures of a run, by name: which probe metric feeds each history column.

The history, the Prometheus and the Nagios output must agree on what "the BPJS latency"
of a run is: :meth:`~jmo_doctor.report.view.ReportView.key_metrics` reads them from a
report with these definitions, picking the BPJS targets by the roles in the report's own
``targets`` list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

#: tcp metric keys per target (``<target>.<key>`` in the tcp probe's metrics).
TCP_STATS = ("rtt_min_ms", "rtt_median_ms", "rtt_p95_ms", "rtt_max_ms", "jitter_ms", "loss_pct")

#: Megabits per second → bytes per second (Prometheus' base unit for throughput).
MBPS_TO_BYTES_PER_SECOND = 1e6 / 8


@dataclass(frozen=True)
class PromName:
    """How a key figure is exported to Prometheus: base-unit name, factor, HELP text."""

    name: str  # without the jmo_doctor_ prefix
    factor: float
    help: str


@dataclass(frozen=True)
class KeyMetric:
    """One history column: which probe metric feeds it, and how BPJS targets combine."""

    column: str
    probe: str
    names: tuple[str, ...]  # metric name(s), first present wins (probes may rename)
    per_bpjs_target: bool = False  # combine the worst (max) over the BPJS targets
    label: Mapping[str, str] = field(default_factory=dict)
    prom: PromName | None = None


KEY_METRICS: tuple[KeyMetric, ...] = (
    KeyMetric(
        "bpjs_rtt_ms",
        "tcp",
        ("rtt_median_ms",),
        True,
        {"id": "Latensi BPJS (ms)", "en": "BPJS latency (ms)"},
        PromName(
            "bpjs_rtt_median_seconds",
            1e-3,
            "Median TCP handshake time to the slowest BPJS target.",
        ),
    ),
    KeyMetric(
        "bpjs_jitter_ms",
        "tcp",
        ("jitter_ms",),
        True,
        {"id": "Jitter BPJS (ms)", "en": "BPJS jitter (ms)"},
        PromName("bpjs_jitter_seconds", 1e-3, "TCP handshake jitter, worst BPJS target."),
    ),
    KeyMetric(
        "bpjs_loss_pct",
        "tcp",
        ("loss_pct",),
        True,
        {"id": "Kehilangan BPJS (%)", "en": "BPJS loss (%)"},
        PromName("bpjs_loss_ratio", 1e-2, "Share of TCP handshakes lost, worst BPJS target."),
    ),
    KeyMetric(
        "download_mbps",
        "bandwidth",
        ("download_mbps", "download_mbit_s"),
        False,
        {"id": "Unduh (Mbit/s)", "en": "Download (Mbit/s)"},
        PromName("download_bytes_per_second", MBPS_TO_BYTES_PER_SECOND, "Download throughput."),
    ),
    KeyMetric(
        "upload_mbps",
        "bandwidth",
        ("upload_mbps", "upload_mbit_s"),
        False,
        {"id": "Unggah (Mbit/s)", "en": "Upload (Mbit/s)"},
        PromName("upload_bytes_per_second", MBPS_TO_BYTES_PER_SECOND, "Upload throughput."),
    ),
)
#: The trends ``render_text`` draws as sparklines.
TREND_COLUMNS = ("bpjs_rtt_ms", "download_mbps")
