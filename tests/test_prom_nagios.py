"""`--format prom` parses with Prometheus' own parser and says what the JSON report says;
`--format nagios` follows the monitoring-plugin output format."""

from __future__ import annotations

import re
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from jmo_doctor import config
from jmo_doctor.monitor import history
from jmo_doctor.report import nagios, prom
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


# --- nagios ------------------------------------------------------------------------------

LINE = re.compile(r"^JMO-DOCTOR (OK|WARNING|CRITICAL|UNKNOWN) - ([^|\n]+) \| (.+)$")
PERF = re.compile(
    r"^'([a-z_]+)'=(U|-?[0-9.]+)(ms|%|s|)?;([0-9.:]*);([0-9.:]*);([0-9.]*);([0-9.]*)$"
)


def perfdata(text: str) -> dict[str, tuple[str, ...]]:
    match = LINE.match(text.splitlines()[0])
    assert match, text
    items = [PERF.match(item) for item in match.group(3).split(" ")]
    assert all(items), match.group(3)
    return {m.group(1): m.groups()[1:] for m in items if m}


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


def test_nagios_unmeasured_values_are_u_and_thresholds_follow_config() -> None:
    doc = make_doc("critical", rtt_ms=None, download_mbps=None)
    limits = nagios.Thresholds(rtt_warn_ms=250, rtt_crit_ms=800)
    perf = perfdata(nagios.render(doc, limits))
    assert perf["bpjs_rtt_ms"][:4] == ("U", "", "250", "800")
    assert perf["loss_pct"][0] == "100"
    assert perf["download_mbps"][0] == "U"


def test_nagios_thresholds_from_config() -> None:
    limits = nagios.Thresholds.from_config(config.parse("[latency]\nhigh_ms = 600.0", "<t>"))
    assert (limits.rtt_warn_ms, limits.rtt_crit_ms) == (600.0, 1500.0)
    assert (limits.loss_warn_pct, limits.download_warn_mbps) == (5.0, 1.0)
    assert nagios.Thresholds.from_config(config.parse("", "<t>")) == nagios.Thresholds()


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
