"""The key figures of a run, by name: which probe metric feeds each history column.

The history, the Prometheus and the Nagios output must agree on what "the BPJS latency"
of a run is: :meth:`~jmo_doctor.report.view.ReportView.key_metrics` reads them from a
report with these definitions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

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
