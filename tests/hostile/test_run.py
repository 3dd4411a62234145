"""Hostile cases around one `run` (issue 9, classes "deadline", "signals", "monitors"):
slow or hostile servers, signals, bad options. Each case asserts what a user or a monitor
would notice: the wall time, the exit code, one clear line, the output a monitor reads.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import jsonschema
import pytest

from jmo_doctor.cli import run_cli

SCHEMA = json.loads((Path(__file__).parents[2] / "jmo_doctor/data/report.schema.json").read_text())
#: `--only kpj` measures nothing on the network: the run itself is instant, so every
#: second of wall time is what the hostile server costs.
OFFLINE_RUN = ["run", "--only", "kpj", "--kpj", "12345678901", "--no-history"]


# --- hostile HTTP servers on loopback ----------------------------------------------------


def _silent(conn: socket.socket, stop: threading.Event) -> None:
    """Reads the request and never answers."""
    while not stop.wait(0.05):
        pass


def _trickle(conn: socket.socket, stop: threading.Event) -> None:
    """Answers one byte of a never-ending header every half second: no read ever times out."""
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    while not stop.wait(0.5):
        try:
            conn.sendall(b"X")
        except OSError:
            return


def _reset(conn: socket.socket, stop: threading.Event) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


@pytest.fixture
def hostile_server() -> Iterator[Callable[[Callable[[socket.socket, threading.Event], None]], str]]:
    stop = threading.Event()
    listeners: list[socket.socket] = []

    def start(behaviour: Callable[[socket.socket, threading.Event], None]) -> str:
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(0.1)
        listeners.append(listener)

        def serve() -> None:
            while not stop.is_set():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                threading.Thread(target=_handle, args=(conn,), daemon=True).start()

        def _handle(conn: socket.socket) -> None:
            with conn:
                conn.settimeout(1.0)
                try:
                    conn.recv(65536)
                except OSError:
                    return
                behaviour(conn, stop)

        threading.Thread(target=serve, daemon=True).start()
        return f"http://127.0.0.1:{listener.getsockname()[1]}/hook"

    yield start
    stop.set()
    for listener in listeners:
        listener.close()


DEADLINE_CASES = [
    pytest.param("--webhook", _silent, id="webhook-never-answers"),
    pytest.param("--webhook", _trickle, id="webhook-trickles-a-byte-at-a-time"),
    pytest.param("--ping-url", _silent, id="ping-never-answers"),
    pytest.param("--ping-url", _trickle, id="ping-trickles"),
    pytest.param("--webhook", _reset, id="webhook-resets-every-connection"),
]


@pytest.mark.parametrize(("option", "behaviour"), DEADLINE_CASES)
def test_a_hostile_receiver_cannot_hold_the_run_past_its_deadline(
    option: str,
    behaviour: Callable[[socket.socket, threading.Event], None],
    hostile_server: Callable[[Callable[[socket.socket, threading.Event], None]], str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = hostile_server(behaviour)
    timeout = 2.0
    began = time.monotonic()
    code = run_cli([*OFFLINE_RUN, "--timeout", str(timeout), option, url, "--format", "json"])
    took = time.monotonic() - began
    out, err = capsys.readouterr()
    assert took <= timeout + 1.0, f"run took {took:.2f} s for --timeout {timeout}"
    assert code == 0  # the diagnosis stands: a monitoring service failing is only a warning
    assert json.loads(out)["status"] == "ok"
    assert "warning" in err and "Traceback" not in err
    assert url not in err  # URLs carry tokens: never repeated


def test_the_finish_ping_never_overtakes_a_slow_start_ping(
    capsys: pytest.CaptureFixture[str],
) -> None:
    arrivals: list[str] = []
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        for _ in range(2):
            conn, _ = listener.accept()
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    def answer(conn: socket.socket) -> None:
        with conn:
            request = conn.recv(65536).decode()
            path = request.split(" ")[1]
            if path.endswith("/start"):
                time.sleep(0.8)  # the start ping is slow to be taken in
            arrivals.append(path.rsplit("/", 1)[1])
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    threading.Thread(target=serve, daemon=True).start()
    try:
        code = run_cli([*OFFLINE_RUN, "--timeout", "5", "--ping-url", f"http://127.0.0.1:{port}/"])
    finally:
        listener.close()
    assert code == 0, capsys.readouterr().err
    assert arrivals == ["start", "0"]


@pytest.mark.parametrize("timeout", [1.0, 2.0])
def test_a_history_held_by_another_writer_cannot_hold_the_run(
    timeout: float, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    args = ["run", "--only", "kpj", "--kpj", "12345678901", "--format", "json"]
    assert run_cli(args) == 0  # creates the history
    capsys.readouterr()
    holder = sqlite3.connect(tmp_path / "data" / "history.sqlite3")
    holder.execute("BEGIN EXCLUSIVE")  # another writer, holding it for as long as it likes
    try:
        began = time.monotonic()
        code = run_cli([*args, "--timeout", str(timeout)])
        took = time.monotonic() - began
    finally:
        holder.rollback()
        holder.close()
    out, err = capsys.readouterr()
    assert took <= timeout + 1.0, f"run took {took:.2f} s for --timeout {timeout}"
    assert code == 0 and json.loads(out)["status"] == "ok"  # the report is never lost
    assert "history" in err and "Traceback" not in err


# --- bad options are refused before anything runs -----------------------------------------

BAD_OPTIONS = [
    pytest.param(["--timeout", "nan"], "--timeout", id="timeout-nan"),
    pytest.param(["--timeout", "inf"], "--timeout", id="timeout-inf"),
    pytest.param(["--timeout", "-inf"], "--timeout", id="timeout-minus-inf"),
    pytest.param(["--timeout", "0"], "--timeout", id="timeout-zero"),
    pytest.param(["--timeout", "1e400"], "--timeout", id="timeout-overflows-to-inf"),
    pytest.param(["--webhook", "http://exa mple.org/x"], "webhook", id="webhook-with-space"),
    pytest.param(["--webhook", "ftp://example.org/"], "webhook", id="webhook-not-http"),
    pytest.param(["--webhook", "http://"], "webhook", id="webhook-without-host"),
    pytest.param(["--webhook", "http://[::1/x"], "webhook", id="webhook-broken-ipv6"),
    pytest.param(["--webhook", "http://h:99999/"], "webhook", id="webhook-port-out-of-range"),
    pytest.param(["--webhook", "example.org/hook"], "webhook", id="webhook-without-scheme"),
    pytest.param(["--ping-url", "http://x\x1b[2J/"], "ping", id="ping-url-with-escape"),
    pytest.param(["--ping-url", "javascript:alert(1)"], "ping", id="ping-url-not-http"),
]


@pytest.mark.parametrize(("extra", "names"), BAD_OPTIONS)
def test_a_bad_option_is_refused_at_once_with_exit_3(
    extra: list[str], names: str, capsys: pytest.CaptureFixture[str]
) -> None:
    began = time.monotonic()
    assert run_cli([*OFFLINE_RUN, *extra]) == 3
    assert time.monotonic() - began < 1.0  # said up front, not after a whole run
    _, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("jmo-doctor: error: "), err
    assert names in lines[0]
    assert "\x1b" not in err


# --- exit 3 still speaks to monitors (SPEC §3) ---------------------------------------------


def _hold_the_lock(home: Path) -> Iterator[None]:
    from jmo_doctor.monitor import lock

    with lock.acquire(home):
        yield


EXIT_3_CAUSES = [
    pytest.param("bad-config", id="bad-config"),
    pytest.param("held-lock", id="held-lock"),
    pytest.param("bad-option", id="bad-option"),
    pytest.param("missing-config", id="missing-config"),
]


def _provoke(cause: str, tmp_path: Path) -> tuple[list[str], Iterator[None] | None]:
    if cause == "bad-config":
        (tmp_path / "bad.toml").write_text("timeout = 'soon'\n")
        return ["--config", str(tmp_path / "bad.toml")], None
    if cause == "missing-config":
        return ["--config", str(tmp_path / "nowhere.toml")], None
    if cause == "bad-option":
        return ["--timeout", "nan"], None
    holder = _hold_the_lock(tmp_path / "data")
    next(holder)
    return [], holder


@pytest.mark.parametrize("cause", EXIT_3_CAUSES)
def test_nagios_says_unknown_with_the_reason(
    cause: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra, holder = _provoke(cause, tmp_path)
    assert run_cli([*OFFLINE_RUN, "--format", "nagios", *extra]) == 3
    out, err = capsys.readouterr()
    assert out.startswith("JMO-DOCTOR UNKNOWN - "), out
    assert len(out.splitlines()) == 1
    reason = err.removeprefix("jmo-doctor: error: ").split(" (see:")[0].strip()
    assert reason.split(":")[0] in out
    if holder is not None:
        holder.close()


@pytest.mark.parametrize("cause", EXIT_3_CAUSES)
def test_prom_output_file_is_replaced_by_up_0(
    cause: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics = tmp_path / "jmo.prom"
    metrics.write_text("jmo_doctor_up 1\n")  # the last healthy run's file
    extra, holder = _provoke(cause, tmp_path)
    assert run_cli([*OFFLINE_RUN, "--format", "prom", "--output", str(metrics), *extra]) == 3
    written = metrics.read_text()
    assert "jmo_doctor_up 0" in written.splitlines()
    assert 'jmo_doctor_error_info{reason="' in written
    from prometheus_client.parser import text_string_to_metric_families

    assert {f.name for f in text_string_to_metric_families(written)} >= {"jmo_doctor_up"}
    if holder is not None:
        holder.close()


@pytest.mark.parametrize("cause", EXIT_3_CAUSES)
def test_json_is_a_valid_unknown_report(
    cause: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra, holder = _provoke(cause, tmp_path)
    assert run_cli([*OFFLINE_RUN, "--format", "json", *extra]) == 3
    report = json.loads(capsys.readouterr().out)
    jsonschema.validate(report, SCHEMA)
    assert (report["status"], report["exit_code"], report["all_clear"]) == ("unknown", 3, False)
    assert report["error"]
    if holder is not None:
        holder.close()


def test_text_format_exit_3_is_the_error_line_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra, _ = _provoke("bad-config", tmp_path)
    assert run_cli([*OFFLINE_RUN, *extra]) == 3
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("jmo-doctor: error: ")


# --- --notify without a history ------------------------------------------------------------


def test_notify_without_history_alerts_once_per_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-notifiers"))  # notifications go to stderr
    runs = [
        ("12345678901", 0),  # ok
        ("123", 1),  # kpj invalid: warning → one alert
        ("123", 1),  # the same warning again → no alert
        ("12345678901", 0),  # back to ok → one alert
    ]
    alerts = []
    for kpj, expected in runs:
        args = ["run", "--only", "kpj", "--kpj", kpj, "--no-history", "--notify"]
        assert run_cli(args) == expected
        alerts.append("→" in capsys.readouterr().err)
    assert alerts == [False, True, False, True]


@pytest.mark.parametrize(
    "planted", ["symlink", "directory", "garbage", "fifo"], ids=lambda p: f"status-file-{p}"
)
def test_a_planted_notify_status_file_is_not_followed(
    planted: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "data"
    home.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    path = home / "notify-status"
    if planted == "symlink":
        path.symlink_to(victim)
    elif planted == "directory":
        path.mkdir()
    elif planted == "fifo":
        os.mkfifo(path)
    else:
        path.write_bytes(b"\x00\xff" * 1000)
    args = ["run", "--only", "kpj", "--kpj", "12345678901", "--no-history", "--notify"]
    assert run_cli(args) == 0
    assert victim.read_text() == "precious\n"
    assert path.is_symlink() or not path.is_file() or planted == "garbage"  # left as it was
    assert "Traceback" not in capsys.readouterr().err


# --- signals end the run as its deadline does ----------------------------------------------


def _silent_udp() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    return sock  # bound and never read: a resolver that never answers


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda s: s.name
)
def test_a_signal_ends_the_run_with_a_report_and_the_lock_released(
    signum: signal.Signals, tmp_path: Path
) -> None:
    resolver = _silent_udp()
    config = tmp_path / "lab.toml"
    port = resolver.getsockname()[1]
    config.write_text(
        f'timeout = 20\n[dns]\ntrusted_resolvers = ["127.0.0.1:{port}"]\ndoh = []\n'
        '[[target]]\nname = "local"\nhost = "localhost"\nport = 9\nrole = "bpjs"\n'
    )
    env = {**os.environ, "JMO_DOCTOR_HOME": str(tmp_path / "data"), "NO_COLOR": "1"}
    argv = [sys.executable, "-m", "jmo_doctor", "run", "--config", str(config)]
    command = [*argv, "--only", "dns,kpj", "--kpj", "12345678901", "--format", "json"]
    with resolver:
        child = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
        )
        # Signal only once the run is waiting on the resolver: its handlers are in place
        # then. A fixed sleep raced the child's start-up on a busy machine.
        resolver.settimeout(30)
        resolver.recvfrom(512)
        time.sleep(0.3)
        sent = time.monotonic()
        child.send_signal(signum)
        out, err = child.communicate(timeout=10)
        took = time.monotonic() - sent
    assert took < 3.0, f"the run took {took:.1f} s to stop"
    assert "Traceback" not in err
    report = json.loads(out)
    jsonschema.validate(report, SCHEMA)
    dns = next(p for p in report["probes"] if p["id"] == "dns")
    assert dns["status"] == "error"
    assert [f["code"] for f in dns["findings"]] == ["probe.interrupted"]
    assert any(signum.name in w for w in report["warnings"])
    assert child.returncode == report["exit_code"] == 3  # an unfinished check: unknown
    assert run_cli(["run", "--only", "kpj", "--kpj", "12345678901", "--no-history"]) == 0, (
        "the lock was not released"
    )
