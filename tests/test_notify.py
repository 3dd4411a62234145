"""Notifications, webhooks and healthchecks pings against real servers on 127.0.0.1."""

from __future__ import annotations

import io
import json
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from jmo_doctor.monitor import notify
from tests.test_history import make_doc


@dataclass
class Received:
    method: str
    path: str
    body: bytes
    content_type: str


@dataclass
class Server:
    url: str
    answers: list[int]  # status codes to give, in order; 200 once they run out
    received: list[Received] = field(default_factory=list)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)  # straight to 127.0.0.1, never via a proxy
    state = Server("", [])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            status = state.answers.pop(0) if state.answers else 200
            if status == 200:  # only what was accepted counts as received
                state.received.append(
                    Received("POST", self.path, body, self.headers.get("Content-Type", ""))
                )
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


# --- webhook -----------------------------------------------------------------------------


def test_webhook_retries_5xx_and_delivers_once(server: Server) -> None:
    server.answers = [500, 500]
    doc = make_doc("critical")
    waits: list[float] = []
    outcome = notify.post_webhook(server.url + "/hook", doc, backoff=0.01, sleep=waits.append)
    assert outcome.ok and outcome.attempts == 3 and outcome.http_status == 200
    assert waits == [0.01, 0.02]  # exponential
    [got] = server.received
    assert got.path == "/hook" and got.content_type == "application/json"
    assert json.loads(got.body) == doc


def test_webhook_gives_up_after_its_retries(server: Server) -> None:
    server.answers = [503] * 10
    outcome = notify.post_webhook(
        server.url, make_doc(), retries=2, backoff=0, sleep=lambda _: None
    )
    assert not outcome.ok and outcome.attempts == 3
    assert "failed after 3 attempt(s): HTTP 503" in outcome.message
    assert server.received == []


def test_webhook_client_error_is_not_retried(server: Server) -> None:
    server.answers = [404]
    outcome = notify.post_webhook(server.url, make_doc(), backoff=0, sleep=lambda _: None)
    assert not outcome.ok and outcome.attempts == 1 and outcome.http_status == 404


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_webhook_connection_refused_is_retried_and_reported() -> None:
    waits: list[float] = []
    url = f"http://127.0.0.1:{_closed_port()}/secret-token"
    outcome = notify.post_webhook(url, make_doc(), retries=3, backoff=0.5, sleep=waits.append)
    assert not outcome.ok and outcome.attempts == 4
    assert waits == [0.5, 1.0, 2.0]
    assert "ConnectError" in outcome.message
    assert "secret-token" not in outcome.message  # URLs carry secrets: never echoed


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "127.0.0.1:8080", "http://[::1"])
def test_webhook_bad_url_is_an_outcome_not_an_exception(url: str) -> None:
    outcome = notify.post_webhook(url, make_doc(), sleep=lambda _: None)
    assert not outcome.ok and "URL" in outcome.message


# --- healthchecks ping ---------------------------------------------------------------------


def test_ping_start_then_exit_code_with_summary(server: Server) -> None:
    check = server.url + "/ping/5b0a-uuid/"
    assert notify.ping(check, "start").ok
    server.answers = [502]
    done = notify.ping(check, "finish", 2, "KRITIS: Tidak ada koneksi", sleep=lambda _: None)
    assert done.ok and done.attempts == 2
    assert [(r.path, r.body) for r in server.received] == [
        ("/ping/5b0a-uuid/start", b""),
        ("/ping/5b0a-uuid/2", b"KRITIS: Tidak ada koneksi"),
    ]


def test_ping_url_keeps_the_query() -> None:
    assert notify.ping_url("https://hc.example/abc?rid=1", "finish", 0) == (
        "https://hc.example/abc/0?rid=1"
    )
    with pytest.raises(ValueError):
        notify.ping_url("https://hc.example/abc", "finish")


# --- status-change notifications ----------------------------------------------------------


def _tool(directory: Path, name: str, code: int = 0) -> Path:
    """A stand-in for notify-send / termux-notification that records its argv."""
    directory.mkdir(exist_ok=True)
    path = directory / name
    path.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        f"open({str(directory / 'calls')!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
        f"sys.exit({code})\n"
    )
    path.chmod(0o755)
    return path


def _calls(directory: Path) -> list[list[str]]:
    calls = directory / "calls"
    lines = calls.read_text().splitlines() if calls.exists() else []
    return [json.loads(line) for line in lines]


def test_no_notification_without_a_change(tmp_path: Path) -> None:
    stream = io.StringIO()
    env = {"PATH": str(tmp_path)}
    assert notify.notify_change("ok", make_doc("ok"), environ=env, stderr=stream) is None
    assert notify.notify_change(None, make_doc("critical"), environ=env, stderr=stream) is None
    assert notify.notify_change("ok", make_doc("critical"), "off", environ=env) is None
    assert stream.getvalue() == ""


def test_change_goes_to_stderr_without_a_desktop(tmp_path: Path) -> None:
    stream = io.StringIO()
    _tool(tmp_path / "bin", "notify-send")
    env = {"PATH": str(tmp_path / "bin")}  # no DISPLAY: notify-send would go nowhere
    outcome = notify.notify_change("ok", make_doc("critical"), environ=env, stderr=stream)
    assert outcome is not None and outcome.channel == "stderr"
    assert stream.getvalue() == "jmo-doctor: OK → CRITICAL: No internet connection\n"
    assert _calls(tmp_path / "bin") == []


def test_change_on_a_desktop_uses_notify_send(tmp_path: Path) -> None:
    _tool(tmp_path / "bin", "notify-send")
    env = {"PATH": str(tmp_path / "bin"), "WAYLAND_DISPLAY": "wayland-0"}
    outcome = notify.notify_change("critical", make_doc("ok"), environ=env)
    assert outcome is not None and outcome.ok and outcome.channel == "notify-send"
    [argv] = _calls(tmp_path / "bin")
    assert argv[:4] == ["--app-name", "jmo-doctor", "--urgency", "normal"]
    assert argv[4] == "jmo-doctor: CRITICAL → OK"
    assert argv[5].startswith("Nothing is wrong")


def test_change_on_termux_uses_termux_notification(tmp_path: Path) -> None:
    _tool(tmp_path / "bin", "termux-notification")
    env = {"PATH": str(tmp_path / "bin"), "TERMUX_VERSION": "0.118"}
    doc = make_doc("warning", lang="id")
    outcome = notify.notify_change("ok", doc, environ=env)
    assert outcome is not None and outcome.channel == "termux-notification"
    [argv] = _calls(tmp_path / "bin")
    assert argv[:4] == ["--id", "jmo-doctor", "--title", "jmo-doctor: OK → PERINGATAN"]
    assert argv[5] == doc["causes"][0]["title"]


def test_a_failing_notifier_falls_back_to_stderr(tmp_path: Path) -> None:
    _tool(tmp_path / "bin", "notify-send", code=1)
    stream = io.StringIO()
    env = {"PATH": str(tmp_path / "bin"), "DISPLAY": ":0"}
    outcome = notify.notify_change("ok", make_doc("critical"), environ=env, stderr=stream)
    assert outcome is not None and outcome.channel == "stderr"
    assert stream.getvalue().startswith("jmo-doctor: OK → CRITICAL: No internet connection (")


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown notification mode"):
        notify.notify_change("ok", make_doc("critical"), "pager")
