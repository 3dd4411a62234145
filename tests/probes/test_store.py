"""The ``store`` probe end to end against loopback HTTP servers that serve the real Play
page fixtures and iTunes answers (and broken ones). Nothing leaves 127.0.0.1; adb is a
fake script on a PATH that holds nothing else."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import stat
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from jmo_doctor import config
from jmo_doctor.api import Finding, ProbeResult, RunOptions, Status
from jmo_doctor.context import ProbeRunContext, RunShared
from probes.store import StoreProbe

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PLAY_2022 = (FIXTURES / "play" / "2022-upgrader-com.moonwink.treasury.html").read_text("utf-8")
PLAY_2025 = FIXTURES / "play" / "2025-upgrader-issue520-com.raiseright.edumarketapp.html"
PLAY_2025_VERSIONED = (
    FIXTURES / "play" / "2025-upgrader-issue521-com.youngkiu.stock_knee_shoulder.html"
)
LOOKUP_2018 = FIXTURES / "appstore" / "2018-feidao90-voffice-lookup.json"
ITUNES_ONE = (FIXTURES / "appstore" / "lookup-one-result.json").read_bytes()
ITUNES_NONE = (FIXTURES / "appstore" / "lookup-no-result.json").read_bytes()


def play_page(version: str) -> bytes:
    """The real 2022 page with the JMO version in place of the one it had."""
    return PLAY_2022.replace('[[["2.3.0"]]', f'[[["{version}"]]').encode()


def itunes(version: str) -> bytes:
    return ITUNES_ONE.replace(b'"version":"4.15.14"', f'"version":"{version}"'.encode())


# --- a loopback store ----------------------------------------------------------------------

Reply = tuple[int, bytes] | Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Store:
    play: Reply = (200, play_page("4.15.14"))
    lookup: Reply = (200, ITUNES_ONE)
    requests: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)
    port: int = 0

    def toml(self, port: int | None = None) -> str:
        base = f"http://127.0.0.1:{port or self.port}"
        return textwrap.dedent(
            f"""\
            [app]
            play_store_url = "{base}/store/apps/details"
            app_store_lookup_url = "{base}/lookup"
            """
        )


@pytest.fixture
def store() -> Iterator[Store]:
    state = Store()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            state.requests.append((url.path, parse_qs(url.query)))
            reply = state.play if url.path == "/store/apps/details" else state.lookup
            if callable(reply):
                reply(self)
                return
            status, body = reply
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def plain_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No proxy, not Termux, and a PATH with no adb but the fakes a test puts there."""
    for name in list(os.environ):
        if name.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            monkeypatch.delenv(name)
    for name in ("TERMUX_VERSION", "PREFIX"):
        monkeypatch.delenv(name, raising=False)
    if shutil.which("adb", path=f"/usr/bin{os.pathsep}/bin"):
        pytest.skip("a real adb is installed in /usr/bin or /bin")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin")
    return bin_dir


def run(
    store: Store,
    *,
    app_version: str | None = "4.0.3",
    os_version: str | None = None,
    platform: str | None = "android",
    lang: str = "en",
    deadline: float = 10.0,
    port: int | None = None,
) -> ProbeResult:
    shared = RunShared(
        config.parse(store.toml(port), "<test>"),
        RunOptions(app_version=app_version, os_version=os_version, platform=platform),
        lang,
        deadline=time.monotonic() + deadline,
    )
    ctx = ProbeRunContext(shared, StoreProbe.id, StoreProbe.messages)
    return asyncio.run(StoreProbe().run(ctx))


def codes(result: ProbeResult) -> list[str]:
    return [f.code for f in result.findings]


def only(result: ProbeResult, code: str) -> Finding:
    found = [f for f in result.findings if f.code == code]
    assert len(found) == 1, codes(result)
    return found[0]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the verdicts ----------------------------------------------------------------------------


def test_newer_on_play_is_outdated(store: Store) -> None:
    result = run(store, app_version="4.0.3", platform="android")
    finding = only(result, "store.outdated")
    data = dict(finding.data)
    assert data.pop("url").endswith("/store/apps/details?id=com.bpjstku")
    assert "Minor updates" in data.pop("release_text")
    assert data | {"store_name": ""} == {
        "installed": "4.0.3",
        "latest": "4.15.14",
        "store": "play",
        "store_name": "",
    }
    assert "4.0.3" in finding.message and "4.15.14" in finding.message
    assert result.status is Status.WARN
    play = result.details["stores"]["play"]
    assert play["latest"] == "4.15.14"
    assert play["released"] == "Feb 21, 2022"
    assert play["release_notes"] == ["Minor updates and improvements."]
    assert play["url"].endswith("/store/apps/details?id=com.bpjstku")
    assert result.details["installed"] == {"version": "4.0.3", "source": "option", "reason": ""}
    assert [path for path, _ in store.requests] == ["/store/apps/details"]  # Android: Play only


def test_same_version_is_healthy(store: Store) -> None:
    result = run(store, app_version="4.15.14")
    assert "store.outdated" not in codes(result)
    assert result.findings == ()
    assert result.status is Status.PASS
    assert "up to date" in result.summary


def test_installed_newer_than_store_is_healthy(store: Store) -> None:
    # a beta or a staged rollout: the phone is ahead, nothing to update
    assert run(store, app_version="4.16.0").status is Status.PASS


def test_newer_on_the_app_store_for_ios(store: Store) -> None:
    result = run(store, platform="ios")
    finding = only(result, "store.outdated")
    assert finding.data["store"] == "appstore"
    assert finding.data["latest"] == "4.15.14"
    appstore = result.details["stores"]["appstore"]
    assert appstore["url"].startswith("https://apps.apple.com/id/app/")
    assert appstore["released"] == "2026-11-10T03:12:45Z"
    assert len(appstore["release_notes"]) == 3  # of four lines
    assert [path for path, _ in store.requests] == ["/lookup"]


def test_no_platform_reads_both_and_says_which_is_ahead(store: Store) -> None:
    store.play = (200, play_page("4.0.3"))
    store.lookup = (200, itunes("4.15.14"))
    result = run(store, platform=None)
    finding = only(result, "store.outdated")
    assert finding.data["store"] == "appstore"
    assert "App Store" in finding.message and "App Store" in result.summary
    assert sorted(path for path, _ in store.requests) == ["/lookup", "/store/apps/details"]


def test_request_parameters(store: Store) -> None:
    run(store, platform=None)
    run(store, platform="ios")
    queries = dict(store.requests[:2])
    assert queries["/store/apps/details"] == {"id": ["com.bpjstku"], "hl": ["id"], "gl": ["ID"]}
    lookup = queries["/lookup"]
    assert (lookup["id"], lookup["country"]) == (["1444834757"], ["id"])
    busters = [q["_cb"][0] for path, q in store.requests if path == "/lookup"]
    assert len(set(busters)) == 2  # a fresh cache-buster every time


def test_store_unreachable_is_unavailable_not_outdated(store: Store) -> None:
    result = run(store, platform=None, port=closed_port())
    assert "store.outdated" not in codes(result)
    unavailable = [f for f in result.findings if f.code == "store.unavailable"]
    assert sorted(f.data["store"] for f in unavailable) == ["appstore", "play"]
    assert {f.data["reason"] for f in unavailable} == {"connect_failed"}
    assert result.status is Status.WARN  # a warning, not a failure


def test_result_count_zero_is_unavailable_in_this_country(store: Store) -> None:
    store.lookup = (200, ITUNES_NONE)
    result = run(store, platform="ios")
    finding = only(result, "store.unavailable")
    assert finding.data["reason"] == "not_in_country"
    assert "(id)" in finding.message
    assert "store.outdated" not in codes(result)


def test_varies_with_device_is_unknown_not_an_error(store: Store) -> None:
    store.play = (200, play_page("Varies with device"))
    result = run(store)
    assert result.findings == ()
    assert result.status is Status.PASS
    assert result.details["stores"]["play"]["varies_with_device"] is True
    assert result.details["stores"]["play"]["latest"] is None


def test_2025_varies_page_says_so_and_claims_nothing(store: Store) -> None:
    # the real 2025 page leaves the version slot empty ([null, []]): "Varies with device"
    store.play = (200, PLAY_2025.read_bytes())
    result = run(store)
    assert result.findings == ()
    play = result.details["stores"]["play"]
    assert play["varies_with_device"] is True and play["latest"] is None
    assert play["released"] == "Sep 3, 2025"
    assert "no single version" in result.summary


def test_os_older_than_the_play_minimum_is_os_unsupported(store: Store) -> None:
    store.play = (200, PLAY_2025_VERSIONED.read_bytes())  # 1.5.1, Android 7.0 (SDK 24)
    result = run(store, app_version="1.5.1", os_version="6.0.1")
    finding = only(result, "store.os_unsupported")
    assert result.status is Status.WARN
    assert finding.data["os_version"] == "6.0.1" and finding.data["minimum"] == "7.0"
    assert finding.data["minimum_sdk"] == 24 and finding.data["store"] == "play"
    assert "Android 6.0.1" in finding.message and "Android 7.0" in finding.message
    assert result.details["device_os"]["source"] == "option"


@pytest.mark.parametrize("os_version", ["7.0", "Android 8.1", "16"])
def test_os_at_or_above_the_minimum_is_fine(store: Store, os_version: str) -> None:
    store.play = (200, PLAY_2025_VERSIONED.read_bytes())
    result = run(store, app_version="1.5.1", os_version=os_version)
    assert codes(result) == []


def test_ios_minimum_comes_from_the_lookup(store: Store) -> None:
    store.lookup = (200, LOOKUP_2018.read_bytes())  # minimumOsVersion 9.0
    result = run(store, app_version="1.2.7", os_version="8.4.1", platform="ios")
    finding = only(result, "store.os_unsupported")
    assert (finding.data["os_name"], finding.data["minimum"]) == ("iOS", "9.0")
    assert "iOS 8.4.1" in finding.message


def test_no_os_version_says_nothing_about_it(store: Store) -> None:
    store.play = (200, PLAY_2025_VERSIONED.read_bytes())
    result = run(store, app_version="1.5.1")
    assert codes(result) == []
    assert result.details["device_os"] == {"version": None, "sdk": None, "source": "none"}


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ((503, b"<html>Service Unavailable</html>"), "http_status"),
        ((404, b"not found"), "http_status"),
        ((200, b"\xff\xfe\x00<html>\xc3\x28"), "not_utf8"),
        ((200, b"<html>captive portal login</html>"), "version_not_found"),
        ((200, play_page("4.15.14")[:4000]), "version_not_found"),  # truncated
    ],
)
def test_bad_play_answers_are_unavailable(store: Store, reply: Reply, reason: str) -> None:
    store.play = reply
    result = run(store)
    finding = only(result, "store.unavailable")
    assert (finding.data["store"], finding.data["reason"]) == ("play", reason)
    assert "store.outdated" not in codes(result)


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ((500, b""), "http_status"),
        ((200, b"{"), "bad_json"),
        ((200, b'{"resultCount":1,"results":[{"version":"latest"}]}'), "bad_version"),
        ((200, b'"just a string"'), "bad_shape"),
    ],
)
def test_bad_itunes_answers_are_unavailable(store: Store, reply: Reply, reason: str) -> None:
    store.lookup = reply
    finding = only(run(store, platform="ios"), "store.unavailable")
    assert (finding.data["store"], finding.data["reason"]) == ("appstore", reason)


def test_http_status_is_named_in_the_message(store: Store) -> None:
    store.play = (503, b"")
    assert "HTTP 503" in only(run(store), "store.unavailable").message


def huge(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.end_headers()
    chunk = b"<p>" + b"x" * 65533
    try:
        for _ in range(200):  # 13 MB if anyone read it all
            handler.wfile.write(chunk)
    except OSError:
        pass  # the probe hung up at its cap, as it should


def stall(handler: BaseHTTPRequestHandler) -> None:
    time.sleep(8)


def test_huge_page_is_cut_at_the_cap(store: Store) -> None:
    store.play = huge
    started = time.monotonic()
    finding = only(run(store), "store.unavailable")
    assert finding.data["reason"] == "too_large"
    assert time.monotonic() - started < 5.0


def test_stalled_store_times_out_within_the_deadline(store: Store) -> None:
    store.play = stall
    started = time.monotonic()
    finding = only(run(store, deadline=2.0), "store.unavailable")
    assert finding.data["reason"] == "timeout"
    assert time.monotonic() - started < 2.0


# --- the installed version ---------------------------------------------------------------------


def test_installed_unknown_still_shows_the_latest(store: Store) -> None:
    result = run(store, app_version=None)
    finding = only(result, "store.installed_unknown")
    assert finding.data["latest"] == {"play": "4.15.14"}
    assert "4.15.14 (Google Play)" in finding.message
    assert "--app-version" in finding.message
    assert "4.15.14" in result.summary
    assert result.status is Status.WARN
    assert "store.outdated" not in codes(result)


def test_garbage_app_version_is_unknown(store: Store) -> None:
    finding = only(run(store, app_version="latest please"), "store.installed_unknown")
    assert finding.data["reason"] == "bad_version"


def fake(bin_dir: Path, name: str, body: str) -> None:
    script = bin_dir / name
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def test_adb_reads_the_installed_version(store: Store, plain_environment: Path) -> None:
    fake(
        plain_environment,
        "adb",
        textwrap.dedent(
            """\
            case "$*" in
              devices) printf 'List of devices attached\\nR58M12ABCDE\\tdevice\\n\\n' ;;
              *) printf '  versionCode=400003 minSdk=24 targetSdk=33\\n  versionName=4.0.3\\n' ;;
            esac
            """
        ),
    )
    result = run(store, app_version=None)
    assert only(result, "store.outdated").data["installed"] == "4.0.3"
    assert result.details["installed"]["source"] == "adb"


def test_termux_reads_on_device_and_means_android(
    store: Store, plain_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TERMUX_VERSION", "0.118.0")
    fake(plain_environment, "dumpsys", "echo 'Permission Denial: not allowed'\n")
    result = run(store, app_version=None, platform=None)
    finding = only(result, "store.installed_unknown")
    assert finding.data["reason"] == "denied"
    assert result.details["platform"] == "android"
    assert [path for path, _ in store.requests] == ["/store/apps/details"]


# --- language ------------------------------------------------------------------------------


def test_every_finding_code_speaks_both_languages() -> None:
    codes = {code for code in StoreProbe.messages if code.count(".") == 1}
    assert codes == {
        "store.outdated",
        "store.installed_unknown",
        "store.unavailable",
        "store.os_unsupported",
    }
    words = set(StoreProbe.messages) - codes
    assert words and all(w.startswith(("store.reason.", "store.installed.")) for w in words)
    for texts in StoreProbe.messages.values():
        assert set(texts) == {"id", "en"}


def test_indonesian_by_default(store: Store) -> None:
    result = run(store, lang="id")
    assert "Perbarui JMO lewat Google Play" in only(result, "store.outdated").message
    assert result.summary.startswith("JMO perlu diperbarui")
    store.play = (503, b"")
    unavailable = only(run(store, lang="id"), "store.unavailable")
    assert "server menjawab HTTP 503" in unavailable.message


def test_probe_identity() -> None:
    assert (StoreProbe.id, StoreProbe.order) == ("store", 80)
