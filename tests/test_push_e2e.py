"""End to end with the real Prometheus stack (Debian packages) on loopback:

the CLI pushes to a Pushgateway, or writes node_exporter's textfile, Prometheus scrapes,
and its HTTP API must then answer ``jmo_doctor_up`` and a cause series. The run is a
real, minimal one that needs no network: ``--only kpj`` with a KPJ number too short to
be one gives the cause ``kpj_invalid``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jmo_doctor import config
from jmo_doctor.monitor import notify
from jmo_doctor.monitor.watch import RunBudget, Watch
from tests import prometheus_stack
from tests.prometheus_stack import Stack
from tests.test_history import make_doc

MINIMAL_RUN = ("run", "--only", "kpj", "--kpj", "1234", "--no-history")
#: Interpreter start and imports come before the run's own clock starts; on a busy
#: 2-core machine they can take this long. (The deadline itself is measured exactly, in
#: process, by test_the_push_waits_only_until_the_runs_deadline.)
STARTUP_SLACK_S = 3.0


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with prometheus_stack.stack(tmp_path_factory.mktemp("prometheus")) as running:
        yield running


def jmo(home: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
    }
    config = home / "config.toml"
    config.write_text("", encoding="utf-8")  # the defaults, never a config of this machine's
    env.update(JMO_DOCTOR_HOME=str(home), NO_COLOR="1", JMO_DOCTOR_CONFIG=str(config))
    return subprocess.run(
        [sys.executable, "-m", "jmo_doctor", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def series(found: list[dict[str, object]]) -> list[tuple[dict[str, str], float]]:
    return [(dict(item["metric"]), float(item["value"][1])) for item in found]  # type: ignore[index,call-overload,arg-type]


def test_push_reaches_prometheus_with_a_redacted_instance(
    prometheus: Stack, tmp_path: Path
) -> None:
    started = time.monotonic()
    done = jmo(tmp_path, *MINIMAL_RUN, "--format", "json", "--push", prometheus.pushgateway)
    assert done.returncode == 1, done.stderr
    assert "warning" not in done.stderr, done.stderr
    instance = notify.push_instance(socket.gethostname(), redact=True)
    assert socket.gethostname() not in instance
    up = prometheus.wait_for(f'jmo_doctor_up{{job="jmo_doctor",instance="{instance}"}}')
    took = time.monotonic() - started
    assert [value for _, value in series(up)] == [1.0]
    [(labels, value)] = series(
        prometheus.query(f'jmo_doctor_cause{{job="jmo_doctor",instance="{instance}"}}')
    )
    assert (labels["cause"], labels["confidence"], value) == ("kpj_invalid", "high", 1.0)
    [(_, code)] = series(prometheus.query(f'jmo_doctor_exit_code{{instance="{instance}"}}'))
    assert code == 1
    print(f"push → scrape → query: {took:.2f} s")

    # --no-redact: the host's own name, as a second group next to the first
    named = jmo(tmp_path, *MINIMAL_RUN, "--no-redact", "--push", prometheus.pushgateway)
    assert named.returncode == 1, named.stderr
    host = notify.push_instance(socket.gethostname(), redact=False)
    assert prometheus.wait_for(f'jmo_doctor_up{{job="jmo_doctor",instance="{host}"}}')


def test_textfile_reaches_prometheus_through_node_exporter(
    prometheus: Stack, tmp_path: Path
) -> None:
    started = time.monotonic()
    output = prometheus.textfile_dir / "jmo.prom"
    done = jmo(tmp_path, *MINIMAL_RUN, "--format", "prom", "--output", str(output))
    assert done.returncode == 1, done.stderr
    up = prometheus.wait_for('jmo_doctor_up{job="node"}')
    took = time.monotonic() - started
    assert [value for _, value in series(up)] == [1.0]
    causes = series(prometheus.query('jmo_doctor_cause{job="node"}'))
    assert [labels["cause"] for labels, _ in causes] == ["kpj_invalid"]
    # node_exporter says the file parsed (0 would mean it rejected it)
    [(_, errors)] = series(prometheus.query('node_textfile_scrape_error{job="node"}'))
    assert errors == 0
    print(f"textfile → scrape → query: {took:.2f} s")


@pytest.fixture
def silent_gateway() -> Iterator[str]:
    """A 'Pushgateway' that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        server.close()


def test_a_hanging_pushgateway_costs_a_warning_not_the_deadline(
    silent_gateway: str, tmp_path: Path
) -> None:
    timeout = 2.0
    started = time.monotonic()
    done = jmo(tmp_path, *MINIMAL_RUN, "--format", "json", "--push", silent_gateway,
               "--timeout", str(timeout), "--lang", "en")  # fmt: skip
    elapsed = time.monotonic() - started
    assert done.returncode == 1, done.stderr
    assert '"kpj_invalid"' in done.stdout  # the report is never lost
    assert "jmo-doctor: warning: " in done.stderr and "push" in done.stderr
    assert "Traceback" not in done.stderr
    assert elapsed < timeout + 1.0 + STARTUP_SLACK_S, f"{elapsed:.2f} s"


def test_the_push_waits_only_until_the_runs_deadline(silent_gateway: str, tmp_path: Path) -> None:
    """The courier gives up at --timeout + 1 s (less the exit margin), to the hundredth."""
    said: list[str] = []
    watch = Watch(
        history=False, notify=False, webhook=None, ping_url=None, say=said.append,
        push=silent_gateway, push_instance="host-test",
    )  # fmt: skip
    timeout = 1.5
    started = time.monotonic()
    budget = RunBudget(started, timeout)
    with watch.around(tmp_path, config.parse("", "<test>"), budget):
        watch.record(make_doc("warning"))
    elapsed = time.monotonic() - started
    assert timeout + 1.0 - RunBudget.EXIT_MARGIN_S - 0.05 <= elapsed < timeout + 1.0, elapsed
    assert said == ["jmo-doctor: warning: not sent before the run's deadline: push"]


def test_a_refused_push_is_a_warning(tmp_path: Path) -> None:
    port = prometheus_stack.free_port()  # nothing listens there
    push = f"http://127.0.0.1:{port}"
    done = jmo(tmp_path, *MINIMAL_RUN, "--push", push, "--timeout", "3", "--lang", "en")
    assert done.returncode == 1
    assert "jmo-doctor: warning: push failed after" in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("ftp://gateway:9091", "must start with http:// or https://"),
        ("http://", "has no host name"),
        ("http://gateway:99999", "not usable"),
        ("http://gate way:9091", "spaces or control characters"),
    ],
)
def test_a_bad_push_url_is_refused_before_the_run(tmp_path: Path, url: str, said: str) -> None:
    done = jmo(tmp_path, *MINIMAL_RUN, "--push", url)
    assert done.returncode == 3
    assert done.stderr == f"jmo-doctor: error: the push URL {said}\n" or (
        said in done.stderr and done.stderr.count("\n") == 1
    ), done.stderr
    assert "Traceback" not in done.stderr


def test_push_url_keeps_a_path_prefix_and_encodes_odd_names() -> None:
    url = notify.push_url("https://gw.example:9091/prefix/?x=1#f", "jmo_doctor", "host-0a1b")
    assert url == "https://gw.example:9091/prefix/metrics/job/jmo_doctor/instance/host-0a1b"
    odd = notify.push_url("http://gw:9091", "jmo_doctor", "kios/warung budi")
    assert odd == "http://gw:9091/metrics/job/jmo_doctor/instance@base64/a2lvcy93YXJ1bmcgYnVkaQ=="
    assert notify.push_instance("warung-budi", redact=True) == notify.push_instance(
        "warung-budi", redact=True
    )  # stable: the same series run after run
    assert notify.push_instance("warung-budi", redact=True) != notify.push_instance(
        "warung-sari", redact=True
    )


def test_an_odd_host_name_reaches_the_pushgateway_intact(prometheus: Stack) -> None:
    """--no-redact with a name a URL path would mangle: the Pushgateway's base64 form."""
    name = "kios/warung budi"
    delivered = notify.push_metrics(prometheus.pushgateway, make_doc("ok"), name)
    assert delivered.ok and delivered.http_status == 200, delivered.message
    assert prometheus.wait_for(f'jmo_doctor_up{{job="jmo_doctor",instance="{name}"}}')
