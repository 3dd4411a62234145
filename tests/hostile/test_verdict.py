"""Hostile cases of the class "the verdict tells the truth" (issue 9; SPEC §3, §5).

An OK verdict is a claim. These cases are runs that used to say more than they checked —
"nothing is wrong with the device, network or app" after checking a KPJ number only, OK
with a probe crashed, OK with a plug-in failing, OK through a proxy that refuses every
connection — and runs of plug-ins that bring causes of their own. Each case asserts what a
user or a monitor sees: the status, the exit code, ``all_clear`` and the first cause.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib import invalidate_caches
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from jmo_doctor import catalogue, config
from jmo_doctor.api import Finding, ProbeContext, ProbeResult, Status
from jmo_doctor.cli import run_cli
from jmo_doctor.diagnosis import diagnose
from jmo_doctor.report import document
from jmo_doctor.runner import run_probes
from tests.helpers import FuncProbe, loaded, make_shared
from tests.probes.servers import TcpServer, close_now, closed_port, http_handler

REPO = Path(__file__).parents[2]
SCHEMA = json.loads((REPO / "jmo_doctor/data/report.schema.json").read_text())
TARGETS = config.parse("", "<test>").targets
BPJS = ("bpjs-www", "bpjs-sso", "bpjs-lapakasik")
EVERY_TARGET = (*BPJS, "google", "gstatic")
BUILTIN = ("system", "dns", "tcp", "tls", "http", "clock", "store", "kpj", "bandwidth")
JUDGES = ("system", "dns", "tcp", "tls", "http", "store")
#: The sentence that claims everything was looked at (labels "all_clear", en).
ALL_CLEAR_SENTENCE = "Nothing is wrong with the device"
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:  # each case sets the proxy it is about
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


# --- building results --------------------------------------------------------------------


def found(code: str, target: str | None = None, **data: Any) -> Finding:
    return Finding(code=code, message=code, target=target, data=data)


def on(code: str, targets: Sequence[str], **data: Any) -> tuple[Finding, ...]:
    return tuple(found(code, target, **data) for target in targets)


def probe(probe_id: str, status: Status = Status.PASS, *findings: Finding) -> ProbeResult:
    return ProbeResult(id=probe_id, status=status, summary=probe_id, findings=findings)


def crashed(probe_id: str, code: str = "probe.crashed") -> ProbeResult:
    return probe(probe_id, Status.ERROR, found(code, probe=probe_id, error="boom"))


def full_run(*changed: ProbeResult) -> list[ProbeResult]:
    """Every built-in probe passed, except those given; other ids (plug-ins) are added."""
    by_id = {probe_id: probe(probe_id) for probe_id in BUILTIN}
    by_id.update({result.id: result for result in changed})
    return list(by_id.values())


def without(results: list[ProbeResult], *probe_ids: str) -> list[ProbeResult]:
    """The run as ``--skip`` would have chosen it: those probes are not in it at all."""
    return [r for r in results if r.id not in probe_ids]


QUICK = probe("bandwidth", Status.SKIP, found("probe.skipped", reason="--quick"))
INSTALLED_UNKNOWN = probe(
    "store", Status.WARN, found("store.installed_unknown", reason="not_given", latest={})
)
BOTH_STORES_DOWN = probe(
    "store",
    Status.WARN,
    found("store.unavailable", store="play", reason="connect_failed"),
    found("store.unavailable", store="appstore", reason="connect_failed"),
)
BANDWIDTH_UNAVAILABLE = probe(
    "bandwidth", Status.WARN, found("bandwidth.unavailable", reason="connect_failed")
)
PLUGIN_ODD = probe("corpvpn", Status.FAIL, found("corpvpn.odd", answer=417))
PLUGIN_DOWN = probe("corpvpn", Status.FAIL, found("corpvpn.down", tunnel="tun-kantor"))
REFUSING_PROXY = probe(
    "http",
    Status.FAIL,
    *on("http.proxy_failed", (*EVERY_TARGET, "captive_portal"), phase="connect", error="refused"),
)
PROXY_SET = probe("system", Status.WARN, found("system.proxy", variables=["HTTPS_PROXY"]))


@dataclass(frozen=True)
class Verdict:
    """What a person or a monitor reads off a run."""

    status: str
    exit_code: int
    all_clear: bool
    first_cause: str | None
    not_checked: dict[str, str] = field(default_factory=dict)  # a subset to find


@dataclass(frozen=True)
class Case:
    results: list[ProbeResult]
    verdict: Verdict
    plugin_causes: bool = False  # the corpvpn distribution is installed


OK_CLEAR = Verdict("ok", 0, True, "kpj_not_linked")

RESULT_CASES: dict[str, Case] = {
    # --- what may still be all clear
    "full-run-nothing-wrong": Case(full_run(), OK_CLEAR),
    "quick-skips-bandwidth-and-says-so": Case(
        full_run(QUICK), replace(OK_CLEAR, not_checked={"bandwidth": "quick"})
    ),
    "installed-version-unknown-is-said-not-a-fault": Case(full_run(INSTALLED_UNKNOWN), OK_CLEAR),
    "skip-of-a-non-judge-leaves-the-claim": Case(without(full_run(), "clock"), OK_CLEAR),
    "plugin-passing-with-a-finding": Case(
        full_run(probe("corpvpn", Status.PASS, found("corpvpn.hello"))), OK_CLEAR
    ),
    # --- restricted runs speak only of what they checked
    "only-kpj": Case(
        [probe("kpj")], Verdict("ok", 0, False, None, dict.fromkeys(JUDGES, "not_selected"))
    ),
    "only-kpj-invalid-number": Case(
        [probe("kpj", Status.FAIL, found("kpj.invalid", reason="length", length=5))],
        Verdict("warning", 1, False, "kpj_invalid"),
    ),
    "skip-store": Case(
        without(full_run(), "store"), Verdict("ok", 0, False, None, {"store": "not_selected"})
    ),
    "skip-system": Case(
        without(full_run(), "system"), Verdict("ok", 0, False, None, {"system": "not_selected"})
    ),
    "only-tcp-and-tls": Case(
        [probe("tcp"), probe("tls")], Verdict("ok", 0, False, None, {"http": "not_selected"})
    ),
    "restricted-run-still-finds-faults": Case(
        [probe("tcp", Status.FAIL, *on("tcp.timeout", BPJS, family="ipv4")), probe("tls")],
        Verdict("critical", 2, False, "bpjs_unreachable"),
    ),
    # --- a judge that looked but could not see
    "only-store-both-stores-unreachable": Case(
        [BOTH_STORES_DOWN], Verdict("unknown", 3, False, None, {"store": "incomplete"})
    ),
    "full-run-both-stores-unreachable": Case(
        full_run(BOTH_STORES_DOWN), Verdict("ok", 0, False, None, {"store": "incomplete"})
    ),
    "only-bandwidth-could-not-measure": Case(
        [BANDWIDTH_UNAVAILABLE], Verdict("unknown", 3, False, None, {"bandwidth": "incomplete"})
    ),
    "full-run-bandwidth-could-not-measure-says-so": Case(
        full_run(BANDWIDTH_UNAVAILABLE), replace(OK_CLEAR, not_checked={"bandwidth": "incomplete"})
    ),
    "system-had-nothing-to-measure": Case(
        full_run(probe("system", Status.SKIP)),
        Verdict("ok", 0, False, None, {"system": "skipped"}),
    ),
    "http-skipped-nothing-answered": Case(
        full_run(probe("http", Status.SKIP)), Verdict("ok", 0, False, None, {"http": "skipped"})
    ),
    # --- a probe that did not finish
    "tls-crashed-tcp-passing": Case(
        full_run(crashed("tls")), Verdict("unknown", 3, False, None, {"tls": "error"})
    ),
    "tls-timed-out": Case(
        full_run(crashed("tls", "probe.timeout")), Verdict("unknown", 3, False, None)
    ),
    "tls-interrupted-by-a-signal": Case(
        full_run(crashed("tls", "probe.interrupted")), Verdict("unknown", 3, False, None)
    ),
    "clock-crashed": Case(full_run(crashed("clock")), Verdict("unknown", 3, False, None)),
    "plugin-crashed": Case(full_run(crashed("corpvpn")), Verdict("unknown", 3, False, None)),
    "only-kpj-crashed": Case([crashed("kpj")], Verdict("unknown", 3, False, None)),
    "crash-beside-a-critical-cause": Case(
        full_run(crashed("tls"), probe("tcp", Status.FAIL, *on("tcp.timeout", BPJS))),
        Verdict("critical", 2, False, "bpjs_unreachable"),
    ),
    "crash-beside-a-warning": Case(
        full_run(crashed("clock"), probe("bandwidth", Status.WARN, found("bandwidth.low"))),
        Verdict("warning", 1, False, "slow_connection"),
    ),
    "crash-beside-an-expiring-certificate": Case(
        full_run(crashed("http"), probe("tls", Status.WARN, found("tls.expiring", "bpjs-www"))),
        Verdict("warning", 1, False, None),
    ),
    # --- plug-ins that fail
    "plugin-fails-with-a-finding-no-cause-explains": Case(
        full_run(PLUGIN_ODD), Verdict("warning", 1, False, "unexplained_failure")
    ),
    "only-plugin-fails": Case([PLUGIN_ODD], Verdict("warning", 1, False, "unexplained_failure")),
    "plugin-fails-while-offline-explains-it": Case(
        full_run(PLUGIN_ODD, probe("system", Status.FAIL, found("system.offline"))),
        Verdict("critical", 2, False, "offline"),
    ),
    "plugin-fails-with-its-own-cause": Case(
        full_run(PLUGIN_DOWN), Verdict("critical", 2, False, "corpvpn_down"), plugin_causes=True
    ),
    "plugin-cause-ranks-after-a-builtin-of-same-severity": Case(
        full_run(PLUGIN_DOWN, probe("tcp", Status.FAIL, *on("tcp.timeout", BPJS))),
        Verdict("critical", 2, False, "bpjs_unreachable"),
        plugin_causes=True,
    ),
    "plugin-unknown-finding-beside-its-cause": Case(
        full_run(replace(PLUGIN_DOWN, findings=PLUGIN_DOWN.findings + PLUGIN_ODD.findings)),
        Verdict("critical", 2, False, "corpvpn_down"),
        plugin_causes=True,
    ),
    # --- a configured proxy that does not work
    "refusing-proxy-everything-else-fine": Case(
        full_run(REFUSING_PROXY), Verdict("critical", 2, False, "vpn_or_proxy")
    ),
    "refusing-proxy-with-system-proxy-finding": Case(
        full_run(REFUSING_PROXY, PROXY_SET), Verdict("critical", 2, False, "vpn_or_proxy")
    ),
    "proxy-set-and-working-is-not-a-cause": Case(
        full_run(PROXY_SET), Verdict("ok", 0, True, "kpj_not_linked")
    ),
    "refusing-proxy-while-offline": Case(
        full_run(REFUSING_PROXY, probe("system", Status.FAIL, found("system.offline"))),
        Verdict("critical", 2, False, "offline"),
    ),
    # --- nothing could look at all
    "every-probe-errored": Case([crashed(p) for p in BUILTIN], Verdict("unknown", 3, False, None)),
    "only-quick-skipped": Case([QUICK], Verdict("unknown", 3, False, None)),
}


def _report(results: list[ProbeResult], lang: str = "en") -> dict[str, Any]:
    run = document.RunInfo(datetime(2026, 11, 25, 10, 0, tzinfo=UTC), 1.0, lang)
    diagnosis = diagnose(results, TARGETS, lang)
    doc = document.build(run, results, diagnosis, {"platform": "linux"}, targets=TARGETS)
    jsonschema.validate(doc, SCHEMA)
    return doc


def assert_verdict(doc: dict[str, Any], expected: Verdict) -> None:
    causes = [c["id"] for c in doc["causes"]]
    seen = Verdict(doc["status"], doc["exit_code"], doc["all_clear"], next(iter(causes), None))
    assert seen == replace(expected, not_checked={}), (causes, doc["scope"])
    assert expected.not_checked.items() <= doc["scope"]["not_checked"].items(), doc["scope"]
    # the residual causes claim that nothing else explains the missing balance
    residual = {"kpj_not_linked", "membership_data"} & set(causes)
    assert bool(residual) is doc["all_clear"] or "kpj_invalid" in causes, causes
    assert doc["scope"]["complete"] or not doc["all_clear"]


@pytest.mark.parametrize("name", RESULT_CASES)
def test_the_verdict_claims_only_what_the_run_checked(name: str, request: Any) -> None:
    case = RESULT_CASES[name]
    if case.plugin_causes:
        request.getfixturevalue("corpvpn_installed")
    assert_verdict(_report(case.results), case.verdict)


def test_unexplained_failure_names_the_plugins_findings_as_evidence() -> None:
    doc = _report(full_run(PLUGIN_ODD, probe("dns", Status.WARN, found("dns.slow", "google"))))
    cause = doc["causes"][0]
    assert (cause["id"], cause["severity"], cause["evidence"]) == (
        "unexplained_failure",
        "warning",
        ["corpvpn.odd"],
    )


def test_quick_and_an_unknown_version_are_said_in_the_scope() -> None:
    doc = _report(full_run(QUICK, INSTALLED_UNKNOWN))
    assert doc["all_clear"] is True
    assert doc["scope"] == {
        "complete": True,
        "checked": ["system", "dns", "tcp", "tls", "http", "clock", "store", "kpj"],
        "not_checked": {"bandwidth": "quick"},
        "installed_version_known": False,
    }


# --- a probe's own TimeoutError, through the real runner ---------------------------------


async def _library_timeout(ctx: ProbeContext) -> str:
    left, right = socket.socketpair()
    with left, right:
        left.settimeout(0.05)
        left.recv(1)  # socket.timeout, as a blocking library lets it escape
    return "never"


def test_a_probes_own_timeout_error_is_a_crash_and_the_run_unknown() -> None:
    # it was "did not finish within 0.0 s": the runner's deadline, which it was not
    results = run_probes([loaded(FuncProbe("tls", _library_timeout))], make_shared(timeout=5))
    tls = results[0]
    assert [f.code for f in tls.findings] == ["probe.crashed"]
    assert tls.findings[0].data["error"] == "TimeoutError: timed out"
    doc = _report([*without(full_run(), "tls"), tls])
    assert_verdict(doc, Verdict("unknown", 3, False, None, {"tls": "error"}))


# --- the real CLI ------------------------------------------------------------------------


def cli_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], str]:
    code = run_cli(["run", "--no-history", "--format", "json", "--lang", "en", *args])
    out, err = capsys.readouterr()
    report = json.loads(out)
    jsonschema.validate(report, SCHEMA)
    assert report["exit_code"] == code and "Traceback" not in err
    return code, report, err


def write_config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return str(path)


def stores_unreachable(tmp_path: Path) -> str:
    port = closed_port()
    return write_config(
        tmp_path,
        f"""
[app]
play_store_url = "http://127.0.0.1:{port}/store/apps/details"
app_store_lookup_url = "http://127.0.0.1:{port}/lookup"
""",
    )


CLI_CASES: dict[str, tuple[list[str], Verdict]] = {
    "only-kpj-valid-number": (
        ["--only", "kpj", "--kpj", "12345678901"],
        Verdict("ok", 0, False, None, dict.fromkeys(JUDGES, "not_selected")),
    ),
    "only-kpj-invalid-number": (
        ["--only", "kpj", "--kpj", "12ab"],
        Verdict("warning", 1, False, "kpj_invalid"),
    ),
    "only-kpj-without-a-number": (["--only", "kpj"], Verdict("unknown", 3, False, None)),
    "skip-everything-but-kpj": (
        ["--skip", "system,dns,tcp,tls,http,clock,store,bandwidth", "--kpj", "12345678901"],
        Verdict("ok", 0, False, None, dict.fromkeys(JUDGES, "not_selected")),
    ),
}


@pytest.mark.parametrize("name", CLI_CASES)
def test_a_restricted_cli_run_speaks_only_of_what_it_checked(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args, expected = CLI_CASES[name]
    _, report, _ = cli_json(capsys, *args)
    assert_verdict(report, expected)
    # the text a person reads never claims the device, network and app are fine
    run_cli(["run", "--no-history", "--lang", "en", *args])
    assert ALL_CLEAR_SENTENCE not in capsys.readouterr().out


@pytest.mark.parametrize("output_format", ["json", "text", "nagios"])
def test_only_store_with_both_stores_unreachable_is_not_ok(
    output_format: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["run", "--no-history", "--lang", "en", "--only", "store", "--app-version", "4.0.0"]
    args += ["--config", stores_unreachable(tmp_path), "--format", output_format]
    code = run_cli(args)
    out = capsys.readouterr().out
    assert code == 3
    assert ALL_CLEAR_SENTENCE not in out
    if output_format == "json":
        report = json.loads(out)
        assert_verdict(report, Verdict("unknown", 3, False, None, {"store": "incomplete"}))
    if output_format == "nagios":
        assert out.startswith("JMO-DOCTOR UNKNOWN")


# --- a configured proxy that refuses or resets every connection --------------------------


@pytest.fixture
def web() -> Iterator[TcpServer]:
    server = TcpServer(http_handler())
    yield server
    server.close()


def lab_config(tmp_path: Path, web: TcpServer) -> str:
    """Targets (a BPJS host and a reference host) on a loopback server that answers."""
    base = f"http://127.0.0.1:{web.port}"
    targets = "".join(
        f"""
[[target]]
name = "{name}"
host = "127.0.0.1"
port = {web.port}
url = "{base}/ok"
role = "{role}"
"""
        for name, role in (("bpjs-www", "bpjs"), ("google", "reference"))
    )
    return write_config(
        tmp_path,
        f'timeout = 10\n[latency]\nsamples = 3\n[captive_portal]\nurl = "{base}/204"\n{targets}',
    )


@pytest.mark.parametrize("proxy", ["refuses", "resets", "none"])
def test_a_configured_proxy_that_does_not_work_is_vpn_or_proxy(
    proxy: str,
    web: TcpServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # tcp connects directly and passes; only requests through the proxy show the fault.
    # It was: http "skip: see DNS/TCP", and the run all clear.
    resetting = TcpServer(close_now)
    port = {"refuses": closed_port(), "resets": resetting.port}.get(proxy)
    if port is not None:
        for name in ("HTTP_PROXY", "HTTPS_PROXY"):
            monkeypatch.setenv(name, f"http://127.0.0.1:{port}")
    try:
        _, report, _ = cli_json(capsys, "--config", lab_config(tmp_path, web), "--only", "tcp,http")
    finally:
        resetting.close()
    statuses = {p["id"]: p["status"] for p in report["probes"]}
    if port is None:
        assert statuses == {"tcp": "pass", "http": "pass"}
        assert_verdict(report, Verdict("ok", 0, False, None))
        return
    assert statuses == {"tcp": "pass", "http": "fail"}
    assert_verdict(report, Verdict("critical", 2, False, "vpn_or_proxy"))
    assert report["causes"][0]["confidence"] == "high"
    evidence = report["causes"][0]["evidence"]
    assert "http.proxy_failed@bpjs-www" in evidence and "http.proxy_failed@google" in evidence


# --- a third-party plug-in distribution that brings a probe and its causes ---------------


@pytest.fixture(scope="module")
def corpvpn_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/plugins/corpvpn built and installed (offline) into a directory of its own."""
    root = tmp_path_factory.mktemp("corpvpn")
    source = shutil.copytree(REPO / "tests/plugins/corpvpn", root / "source")
    site = root / "site"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", "install"]
    offline = ["--no-deps", "--no-index", "--no-build-isolation"]
    subprocess.run(
        [*pip, *offline, "--target", str(site), str(source)],
        check=True,
        capture_output=True,
        text=True,
    )
    assert list(site.glob("jmo_doctor_corpvpn-2.0.1.dist-info"))
    return site


@pytest.fixture
def corpvpn_installed(corpvpn_site: Path) -> Iterator[Path]:
    """The distribution on sys.path, as if pip had installed it into the environment."""
    sys.path.insert(0, str(corpvpn_site))
    invalidate_caches()
    catalogue.reset()
    yield corpvpn_site
    sys.path.remove(str(corpvpn_site))
    sys.modules.pop("jmo_doctor_corpvpn", None)
    invalidate_caches()
    catalogue.reset()


PLUGIN_CLI_CASES: dict[str, tuple[str, Verdict, list[str]]] = {
    "plugin-finding-its-own-cause-explains": (
        "down",
        Verdict("critical", 2, False, "corpvpn_down"),
        ["corpvpn.down"],
    ),
    "plugin-finding-no-cause-explains": (
        "odd",
        Verdict("warning", 1, False, "unexplained_failure"),
        ["corpvpn.odd"],
    ),
    "plugin-passing": ("up", Verdict("ok", 0, False, None), []),
}


@pytest.mark.usefixtures("corpvpn_installed")
@pytest.mark.parametrize("name", PLUGIN_CLI_CASES)
def test_a_plugin_brings_its_causes_and_its_failures_count(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    state, expected, evidence = PLUGIN_CLI_CASES[name]
    monkeypatch.setenv("JMO_DOCTOR_CORPVPN", state)
    _, report, err = cli_json(capsys, "--only", "corpvpn")
    assert_verdict(report, expected)
    assert (report["causes"][0]["evidence"] if report["causes"] else []) == evidence
    # a broken catalogue and a taken id cost a warning each; the run went on
    warnings = report["warnings"]
    assert any("'corpvpn-draft'" in w and "failed to load" in w for w in warnings), warnings
    assert any("cause id 'offline' is already taken" in w for w in warnings), warnings
    assert err.count("jmo-doctor: warning:") == 2


@pytest.mark.usefixtures("corpvpn_installed")
def test_a_plugin_cause_reads_in_both_languages(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JMO_DOCTOR_CORPVPN", "down")
    _, report, _ = cli_json(capsys, "--only", "corpvpn")
    cause = report["causes"][0]
    assert cause["title"] == "The office VPN is down"
    assert cause["fix"] == [
        "Reconnect the office VPN app.",
        "If it stays down, call the office IT desk.",
    ]
    assert run_cli(["run", "--no-history", "--only", "corpvpn", "--format", "json"]) == 2
    assert json.loads(capsys.readouterr().out)["causes"][0]["title"] == "VPN kantor terputus"
    assert run_cli(["causes", "corpvpn_down", "--lang", "en"]) == 0
    explained = capsys.readouterr().out
    assert "The office VPN is down (corpvpn_down)" in explained
    assert "1. Reconnect the office VPN app." in explained
    # a plug-in cannot speak for a built-in cause
    assert run_cli(["causes", "offline", "--lang", "en"]) == 0
    assert "No internet connection" in capsys.readouterr().out


@pytest.mark.usefixtures("corpvpn_installed")
@pytest.mark.parametrize(
    ("state", "nagios", "exit_code", "cause"),
    [
        ("odd", "JMO-DOCTOR WARNING", 1, 'cause="unexplained_failure"'),
        ("down", "JMO-DOCTOR CRITICAL", 2, 'cause="corpvpn_down"'),
    ],
    ids=["unexplained", "plugin-cause"],
)
def test_monitors_see_a_failing_plugin(
    state: str,
    nagios: str,
    exit_code: int,
    cause: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # it was exit 0, "OK", jmo_doctor_exit_code 0
    monkeypatch.setenv("JMO_DOCTOR_CORPVPN", state)
    base = ["run", "--no-history", "--only", "corpvpn", "--lang", "en"]
    assert run_cli([*base, "--format", "nagios"]) == exit_code
    assert capsys.readouterr().out.startswith(nagios)
    assert run_cli([*base, "--format", "prom"]) == exit_code
    metrics = capsys.readouterr().out
    assert f"jmo_doctor_exit_code {exit_code}" in metrics
    assert cause in metrics


def test_without_the_plugin_its_causes_are_gone() -> None:
    assert "corpvpn_down" not in catalogue.cause_ids()
    doc = _report(full_run(PLUGIN_DOWN))
    assert_verdict(doc, Verdict("warning", 1, False, "unexplained_failure"))
