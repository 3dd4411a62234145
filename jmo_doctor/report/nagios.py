"""Monitoring-plugin output (``run --format nagios``): Nagios, Icinga, Naemon, Sensu.

One status line with performance data, the causes as long output, and the run's exit
code as the plugin's state (SPEC §3 already follows the plugin convention). ``-w``/``-c``
add the plugins' own thresholds (:mod:`jmo_doctor.report.ranges`) on the BPJS latency,
loss and the download speed: a value in alert raises OK to WARNING or CRITICAL, with the
reason in the status line; UNKNOWN (the check could not be done) stays UNKNOWN.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from jmo_doctor.i18n import pick
from jmo_doctor.report import verdict
from jmo_doctor.report.ranges import Measure, Range, parse_range, parse_thresholds
from jmo_doctor.report.view import ReportView
from jmo_doctor.safetext import one_line

if TYPE_CHECKING:
    from jmo_doctor.config import Config

STATES = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}
LEVELS = ("warning", "critical")


@dataclass(frozen=True)
class Checked:
    """A metric ``-w``/``-c`` can name: its key figure, perfdata label and words."""

    measure: Measure
    column: str  # in ReportView.key_metrics()
    perf: str  # perfdata label
    unit: str  # perfdata unit
    words: Mapping[str, str]


CHECKED = {
    "rtt": Checked(
        Measure("rtt", {"": 1.0, "ms": 1.0, "s": 1000.0}),
        "bpjs_rtt_ms", "bpjs_rtt_ms", "ms",
        {"id": "latensi BPJS", "en": "BPJS latency"},
    ),
    "loss": Checked(
        Measure("loss", {"": 1.0, "%": 1.0}),
        "bpjs_loss_pct", "loss_pct", "%",
        {"id": "kehilangan paket BPJS", "en": "BPJS loss"},
    ),
    "download": Checked(
        Measure("download", {"": 1.0, "mbps": 1.0, "Mbps": 1.0, "kbps": 1e-3}),
        "download_mbps", "download_mbps", "",
        {"id": "kecepatan unduh (Mbit/s)", "en": "download (Mbit/s)"},
    ),
}  # fmt: skip
_REASON = {
    "warning": {
        "id": "{what} {value}{unit} melewati ambang peringatan {range}",
        "en": "{what} {value}{unit} breaks the warning threshold {range}",
    },
    "critical": {
        "id": "{what} {value}{unit} melewati ambang kritis {range}",
        "en": "{what} {value}{unit} breaks the critical threshold {range}",
    },
}


@dataclass(frozen=True)
class Thresholds:
    """Perfdata thresholds per (metric, level); ``enforced`` ones also set the state.

    The defaults match the diagnosis' (config §4) and are only shown; those given
    with ``-w``/``-c`` are enforced.
    """

    ranges: Mapping[tuple[str, str], Range] = field(
        default_factory=lambda: {
            ("rtt", "warning"): parse_range("400"),  # latency.high_ms
            ("rtt", "critical"): parse_range("1000"),
            ("loss", "warning"): parse_range("5"),  # latency.loss_pct
            ("loss", "critical"): parse_range("20"),
            ("download", "warning"): parse_range("1:"),  # bandwidth.min_download_mbps
            ("download", "critical"): parse_range("0.25:"),
        }
    )
    enforced: frozenset[tuple[str, str]] = frozenset()

    @classmethod
    def from_config(cls, config: Config) -> Thresholds:
        """Warn where the diagnosis starts to complain; critical well past it."""
        high, loss = config.latency.high_ms, config.latency.loss_pct
        download = config.bandwidth.min_download_mbps
        return cls(
            {
                ("rtt", "warning"): Range(0.0, high, False),
                ("rtt", "critical"): Range(0.0, max(1000.0, high * 2.5), False),
                ("loss", "warning"): Range(0.0, loss, False),
                ("loss", "critical"): Range(0.0, min(100.0, max(20.0, loss * 4)), False),
                ("download", "warning"): Range(download, float("inf"), False),
                ("download", "critical"): Range(download / 4, float("inf"), False),
            }
        )

    def with_options(self, warning: str | None, critical: str | None) -> Thresholds:
        """These thresholds with ``-w``/``-c`` applied (raises RangeError when bad)."""
        ranges = dict(self.ranges)
        enforced = set(self.enforced)
        measures = {name: checked.measure for name, checked in CHECKED.items()}
        for level, given in (("warning", warning), ("critical", critical)):
            for name, limit in (
                parse_thresholds(given, measures).items() if given is not None else ()
            ):
                ranges[(name, level)] = limit
                enforced.add((name, level))
        return replace(self, ranges=ranges, enforced=frozenset(enforced))

    def text(self, name: str, level: str) -> str:
        limit = self.ranges.get((name, level))
        return "" if limit is None else str(limit)


def _num(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def _perf(name: str, value: float | None, unit: str, warn: str, crit: str, high: str) -> str | None:
    # no datum at all when not measured: old perfdata parsers reject the guidelines' "U"
    if value is None:
        return None
    return f"'{name}'={_num(value)}{unit};{warn};{crit};0;{high}"


def _clean(text: str) -> str:
    """No pipe (it starts the perfdata) and no line break (it starts the long output)."""
    return one_line(" ".join(text.replace("|", "/").split()))


def summary(doc: Mapping[str, Any] | ReportView) -> str:
    report = ReportView.of(doc)
    return verdict.sentence(report, report.lang, short=True)


def breaches(
    doc: Mapping[str, Any] | ReportView,
    thresholds: Thresholds,
    bpjs: Collection[str] | None = None,
) -> list[tuple[str, str]]:
    """(level, reason) for each enforced threshold the run's figures are in alert of."""
    report = ReportView.of(doc)
    metrics = report.key_metrics(bpjs)
    found: list[tuple[str, str]] = []
    for name, checked in CHECKED.items():
        value = metrics[checked.column]
        for level in reversed(LEVELS):  # critical first: a critical value is said once
            limit = thresholds.ranges.get((name, level))
            if (name, level) not in thresholds.enforced or value is None or limit is None:
                continue
            if limit.alerts(value):
                words = pick(_REASON[level], report.lang).format(
                    what=pick(checked.words, report.lang),
                    value=_num(value),
                    unit=checked.unit,
                    range=f"{limit}{checked.unit}",
                )
                found.append((level, words))
                break
    return found


def exit_code(
    doc: Mapping[str, Any] | ReportView,
    thresholds: Thresholds | None = None,
    bpjs: Collection[str] | None = None,
) -> int:
    report = ReportView.of(doc)
    code = report.exit_code if report.exit_code in STATES else 3
    if code == 3 or thresholds is None:
        return code
    for level, _ in breaches(report, thresholds, bpjs):
        code = max(code, LEVELS.index(level) + 1)
    return code


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
              limits.text("rtt", "warning"), limits.text("rtt", "critical"), ""),
        _perf("loss_pct", metrics["bpjs_loss_pct"], "%",
              limits.text("loss", "warning"), limits.text("loss", "critical"), "100"),
        _perf("download_mbps", metrics["download_mbps"], "",
              limits.text("download", "warning"), limits.text("download", "critical"), ""),
        _perf("upload_mbps", metrics["upload_mbps"], "", "", "", ""),
        _perf("duration_s", None if duration is None else float(duration), "s", "", "", ""),
    ]  # fmt: skip
    state = STATES[exit_code(report, limits, bpjs)]
    said = [reason for _, reason in breaches(report, limits, bpjs)] if state != "UNKNOWN" else []
    head = "; ".join([*said, summary(report)])
    data = " ".join(item for item in perf if item is not None)
    lines = [f"JMO-DOCTOR {state} - {_clean(head)}" + (f" | {data}" if data else "")]
    if report.status != "ok":
        for cause in report.causes:
            lines.append(_clean(f"[{cause.confidence}] {cause.title} ({cause.id})"))
    return "\n".join(lines) + "\n"
