"""`--format prom` parses with Prometheus' own parser and says what the JSON report says;
`--format nagios` follows the monitoring-plugin output format."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from jmo_doctor import config
from jmo_doctor.monitor import history
from jmo_doctor.report import nagios, prom, ranges
from tests.test_history import make_doc

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Series:
    series: Series = {}
    for family in text_string_to_metric_families(text):
        assert family.documentation, family.name  # every family has HELP
        assert family.type == "gauge"
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            assert key not in series, f"duplicate series {key}"
            series[key] = sample.value
    return series


def value(series: Series, name: str, **labels: str) -> float:
    return series[("jmo_doctor_" + name, frozenset(labels.items()))]


def test_prom_values_equal_the_json_report() -> None:
    doc = make_doc("warning", rtt_ms=42.5, loss_pct=10.0, download_mbps=7.25, upload_mbps=1.5)
    series = parse(prom.render(doc))
    assert value(series, "up") == 1
    assert value(series, "exit_code") == doc["exit_code"] == 1
    assert value(series, "status", status="warning") == 1
    assert value(series, "status", status="ok") == 0
    assert value(series, "last_run_timestamp_seconds") == history.started_at(doc).timestamp()
    assert value(series, "run_duration_seconds") == doc["run"]["duration_s"]
    for probe in doc["probes"]:
        assert value(series, "probe_success", probe=probe["id"]) == 1
        assert value(series, "probe_duration_seconds", probe=probe["id"]) == probe["duration_s"]
        assert value(series, "probe_status", probe=probe["id"], status=probe["status"]) == 1
    tcp = next(p for p in doc["probes"] if p["id"] == "tcp")["metrics"]
    for target in ("bpjs-www", "bpjs-sso", "google"):
        role = "reference" if target == "google" else "bpjs"
        for stat, (gauge, _) in prom.RTT_GAUGES.items():
            got = value(series, gauge, target=target, role=role)
            assert got == pytest.approx(tcp[f"{target}.{stat}"] / 1000)
        assert value(series, "tcp_loss_ratio", target=target, role=role) == pytest.approx(0.10)
        assert value(series, "tcp_jitter_seconds", target=target, role=role) == 0.0015
    # the BPJS key figures are the worst BPJS target's, as in the history and Nagios
    assert value(series, "bpjs_rtt_median_seconds") == 0.0435
    assert value(series, "bpjs_loss_ratio") == 0.1
    assert value(series, "download_bytes_per_second") == 7.25e6 / 8
    assert value(series, "upload_bytes_per_second") == 1.5e6 / 8
    [cause] = doc["causes"]
    assert value(series, "cause", cause=cause["id"], confidence=cause["confidence"]) == 1
    assert value(series, "finding", probe="tcp", code="latency.high", target="bpjs-www") == 1


def test_prom_probe_metrics_are_split_by_unit_into_base_units() -> None:
    doc = make_doc("warning", rtt_ms=42.5, loss_pct=10.0, download_mbps=7.25)
    probes = {p["id"]: p for p in doc["probes"]}
    probes["tls"]["metrics"] = {"bpjs-www.handshake_ms": 0.018, "bpjs-www.days_left": 2.0}
    probes["http"]["metrics"] = {"bpjs-www.body_bytes": 512.0, "bpjs-www.status": 200.0}
    probes["bandwidth"]["metrics"].update(responsiveness_rpm=600.0, ramp_s=1.5)
    text = prom.render(doc)
    series = parse(text)
    assert value(series, "probe_metric_seconds", probe="tls", metric="bpjs-www.handshake") == (
        1.8e-05  # 0.018 / 1000 is 1.7999999999999997e-05: the noise is rounded away
    )
    assert "1.7999999999999997e-05" not in text and " 1.8e-05\n" in text
    assert value(series, "probe_metric_seconds", probe="tls", metric="bpjs-www.valid_left") == (
        2 * 86400
    )
    assert value(series, "probe_metric_bytes", probe="http", metric="bpjs-www.body") == 512
    assert value(series, "probe_metric", probe="http", metric="bpjs-www.status") == 200
    assert value(series, "probe_metric_seconds", probe="bandwidth", metric="ramp") == 1.5
    assert value(series, "probe_metric_bytes_per_second", probe="bandwidth", metric="download") == (
        906250
    )
    assert (
        value(
            series,
            "probe_metric_round_trips_per_second",
            probe="bandwidth",
            metric="responsiveness",
        )
        == 10
    )
    assert value(series, "probe_metric_ratio", probe="tcp", metric="google.loss") == 0.1
    assert value(series, "probe_metric", probe="tcp", metric="google.samples") == 10


def test_prom_probe_metric_names_that_collide_keep_their_own_name() -> None:
    doc = make_doc()
    next(p for p in doc["probes"] if p["id"] == "tls")["metrics"] = {"x_ms": 5.0, "x_s": 2.0}
    series = parse(prom.render(doc))
    assert value(series, "probe_metric_seconds", probe="tls", metric="x") == 0.005
    assert value(series, "probe_metric_seconds", probe="tls", metric="x_s") == 2


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (1796353599.123456, "1796353599.123"),
        (0.1 + 0.2, "0.3"),
        (-0.0, "0"),
        (7250000.0, "7250000"),
    ],
)
def test_prom_values_have_no_float_noise(number: float, text: str) -> None:
    assert prom.format_value(number) == text


def test_prom_unreachable_target_is_total_loss_without_rtt() -> None:
    series = parse(prom.render(make_doc("critical", rtt_ms=None, download_mbps=None)))
    assert value(series, "tcp_loss_ratio", target="bpjs-www", role="bpjs") == 1.0
    assert value(series, "bpjs_loss_ratio") == 1.0
    assert not any("rtt" in name for name, _ in series)
    assert not any(name.endswith("download_bytes_per_second") for name, _ in series)
    assert value(series, "cause", cause="offline", confidence="high") == 1


def test_prom_unknown_run_is_down_and_skipped_probes_have_no_success() -> None:
    doc = make_doc()
    doc.update(status="unknown", exit_code=3)
    doc["probes"][2]["status"] = "skip"
    doc["probes"][1]["status"] = "error"
    series = parse(prom.render(doc))
    assert value(series, "up") == 0
    assert value(series, "probe_success", probe="tcp") == 0
    assert ("jmo_doctor_probe_success", frozenset({("probe", "bandwidth")})) not in series
    assert value(series, "probe_status", probe="bandwidth", status="skip") == 1


def test_prom_label_values_are_escaped() -> None:
    doc = make_doc()
    name = 'odd "name" \\ with\nnewline'
    tcp = next(p for p in doc["probes"] if p["id"] == "tcp")
    tcp["metrics"][f"{name}.rtt_median_ms"] = 12.0
    text = prom.render(doc)
    assert 'target="odd \\"name\\" \\\\ with\\nnewline"' in text
    series = parse(text)
    assert value(series, "tcp_rtt_median_seconds", target=name, role="reference") == 0.012
    doc["probes"][0]["id"] = "evil\x1b[2J\rprobe\ttab"
    text = prom.render(doc)
    assert "\x1b" not in text and "\r" not in text and "\t" not in text
    assert 'probe="evil\ufffd[2J\ufffdprobe\ufffdtab"' in text
    assert value(parse(text), "probe_success", probe="evil\ufffd[2J\ufffdprobe\ufffdtab") == 1


# --- nagios ------------------------------------------------------------------------------

LINE = re.compile(r"^JMO-DOCTOR (OK|WARNING|CRITICAL|UNKNOWN) - ([^|\n]+?)(?: \| (.+))?$")
# monitoring-plugins guidelines: 'label'=value[UOM];[warn];[crit];[min];[max]
RANGE = r"@?(?:(?:~|-?[0-9.]+)?:)?(?:-?[0-9.]+)?"
PERF = re.compile(
    rf"^'([a-z_]+)'=(-?[0-9.]+)(ms|%|s|)?;({RANGE});({RANGE});(-?[0-9.]*);(-?[0-9.]*)$"
)


def perfdata(text: str) -> dict[str, tuple[str, ...]]:
    match = LINE.match(text.splitlines()[0])
    assert match, text
    items = [PERF.match(item) for item in (match.group(3) or "").split(" ") if item]
    assert all(items), match.group(3)
    return {m.group(1): m.groups()[1:] for m in items if m}


def nagios_check(doc: dict[str, Any], warning: str = "", critical: str = "") -> tuple[int, str]:
    """What a monitoring server sees: the state (the exit code) and the status line."""
    limits = nagios.Thresholds().with_options(warning or None, critical or None)
    text = nagios.render(doc, limits)
    code = nagios.exit_code(doc, limits)
    match = LINE.match(text.splitlines()[0])
    assert match, text
    assert nagios.STATES[code] == match.group(1)  # the state word agrees with the code
    return code, match.group(2)


@pytest.mark.parametrize(
    ("status", "state", "summary"),
    [
        ("ok", "OK", "Nothing is wrong with the device, the network or the app version."),
        ("warning", "WARNING", "Unstable internet connection"),
        ("critical", "CRITICAL", "No internet connection"),
    ],
)
def test_nagios_status_line(status: str, state: str, summary: str) -> None:
    doc = make_doc(status, rtt_ms=12.3, loss_pct=2.0, download_mbps=3.0)
    text = nagios.render(doc)
    match = LINE.match(text.splitlines()[0])
    assert match and match.group(1) == state and match.group(2) == summary
    assert nagios.exit_code(doc) == doc["exit_code"]
    perf = perfdata(text)
    assert perf["bpjs_rtt_ms"] == ("13.3", "ms", "400", "1000", "0", "")  # bpjs-sso, the worst
    assert perf["loss_pct"] == ("2", "%", "5", "20", "0", "100")
    assert perf["download_mbps"][:4] == ("3", "", "1:", "0.25:")
    if status != "ok":
        assert text.splitlines()[1] == f"[{doc['causes'][0]['confidence']}] {summary} " + (
            f"({doc['causes'][0]['id']})"
        )


def test_nagios_unmeasured_values_are_left_out_not_u() -> None:
    doc = make_doc("critical", rtt_ms=None, download_mbps=None)
    text = nagios.render(doc)
    assert "=U" not in text
    perf = perfdata(text)
    assert "bpjs_rtt_ms" not in perf and "download_mbps" not in perf
    assert perf["loss_pct"][0] == "100"


def test_nagios_thresholds_from_config() -> None:
    limits = nagios.Thresholds.from_config(config.parse("[latency]\nhigh_ms = 600.0", "<t>"))
    assert (limits.text("rtt", "warning"), limits.text("rtt", "critical")) == ("600", "1500")
    assert (limits.text("loss", "warning"), limits.text("download", "warning")) == ("5", "1:")
    assert nagios.Thresholds.from_config(config.parse("", "<t>")) == nagios.Thresholds()
    # only shown: the diagnosis decides the state until -w/-c are given
    doc = make_doc("ok", rtt_ms=900.0)
    assert nagios.exit_code(doc, limits) == 0


@pytest.mark.parametrize(
    ("warning", "critical", "code", "reason"),
    [
        ("rtt=300ms", "rtt=1000ms", 0, ""),
        ("rtt=200ms", "rtt=1000ms", 1, "BPJS latency 251ms breaks the warning threshold 200ms"),
        ("rtt=100", "rtt=0.25s", 2, "BPJS latency 251ms breaks the critical threshold 250ms"),
        ("loss=1%", "", 1, "BPJS loss 2% breaks the warning threshold 1%"),
        ("", "loss=@1:3", 2, "BPJS loss 2% breaks the critical threshold @1:3%"),
        ("download=10:", "download=5:", 2, "download (Mbit/s) 3 breaks the critical threshold 5:"),
        ("download=~:2.5", "", 1, "download (Mbit/s) 3 breaks the warning threshold ~:2.5"),
    ],
)
def test_nagios_thresholds_raise_the_state(
    warning: str, critical: str, code: int, reason: str
) -> None:
    doc = make_doc("ok", rtt_ms=250.0, loss_pct=2.0, download_mbps=3.0)
    got, line = nagios_check(doc, warning, critical)
    assert got == code
    summary = "Nothing is wrong with the device, the network or the app version."
    assert line == (f"{reason}; {summary}" if reason else summary)
    perf = perfdata(
        nagios.render(doc, nagios.Thresholds().with_options(warning or None, critical or None))
    )
    if warning.startswith("rtt"):
        assert perf["bpjs_rtt_ms"][2] == nagios.Thresholds().with_options(warning, None).text(
            "rtt", "warning"
        )


def test_nagios_thresholds_never_lower_the_state_nor_hide_unknown() -> None:
    lossy = make_doc("warning", rtt_ms=20.0, loss_pct=10.0)
    assert nagios_check(lossy, "rtt=300", "rtt=1000") == (1, "Unstable internet connection")
    both = nagios_check(lossy, "loss=5", "loss=8")
    assert both[0] == 2 and both[1].startswith("BPJS loss 10% breaks the critical threshold 8%; ")
    unknown = make_doc("ok", rtt_ms=2000.0)
    unknown.update(status="unknown", exit_code=3, causes=[])
    code, line = nagios_check(unknown, "rtt=10", "rtt=20")
    assert code == 3 and line == "The checks could not be completed; no verdict."


def test_nagios_reason_in_indonesian() -> None:
    doc = make_doc("ok", rtt_ms=250.0, lang="id")
    _, line = nagios_check(doc, "rtt=200")
    assert line.startswith("latensi BPJS 251ms melewati ambang peringatan 200ms; ")


@pytest.mark.parametrize(
    ("text", "start", "end", "inside"),
    [
        ("10", 0, 10, False),
        ("10:", 10, math.inf, False),
        ("~:10", -math.inf, 10, False),
        ("10:20", 10, 20, False),
        ("@10:20", 10, 20, True),
        (":5", 0, 5, False),
    ],
)
def test_plugin_range_syntax(text: str, start: float, end: float, inside: bool) -> None:
    parsed = ranges.parse_range(text)
    assert (parsed.start, parsed.end, parsed.inside) == (start, end, inside)
    assert ranges.parse_range(str(parsed)) == parsed  # perfdata shows what was given


@pytest.mark.parametrize(
    "bad", ["rtt", "rtt=", "rtt=abc", "rtt=20:10", "speed=5", "loss=5ms", "rtt=5%", "rtt=@", ""]
)
def test_bad_thresholds_are_refused(bad: str) -> None:
    with pytest.raises(ranges.RangeError):
        nagios.Thresholds().with_options(bad, None)


def test_nagios_text_cannot_break_the_format() -> None:
    doc: dict[str, Any] = make_doc("critical")
    doc["causes"][0]["title"] = "evil | 'x'=1\nsecond line"
    first = nagios.render(doc).splitlines()[0]
    assert first.startswith("JMO-DOCTOR CRITICAL - evil / 'x'=1 second line | 'bpjs_rtt_ms'=")
    assert first.count("|") == 1


def test_nagios_unknown_without_causes() -> None:
    doc = make_doc()
    doc.update(status="unknown", exit_code=3, causes=[])
    assert nagios.render(doc).startswith(
        "JMO-DOCTOR UNKNOWN - The checks could not be completed; no verdict. | "
    )
    assert nagios.exit_code(doc) == 3
    assert nagios.exit_code({"exit_code": "bad"}) == 3
