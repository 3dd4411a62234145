"""Issue "App version check": the real CLI in the lab's phone against its store servers.

The lab serves a Play Store details page (play.google.com) and an iTunes lookup API
(itunes.apple.com) whose JMO version each test sets; the CLI runs in the phone namespace
exactly as a user would run it, with the lab's config (its [app] URLs point there).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.lab import Lab

pytestmark = pytest.mark.lab

JMO_DOCTOR = str(Path(sys.executable).parent / "jmo-doctor")
PLAY_HOST, APPSTORE_HOST = "play.google.com", "itunes.apple.com"
INSTALLED = "4.0.3"
PLAY_LATEST, APPSTORE_LATEST = "4.1.0", "4.1.1"  # different, so each store is told apart
PLAY_LINK = "https://play.google.com/store/apps/details?id=com.bpjstku"
STORE_NAMES = {"play": "Google Play", "appstore": "App Store"}
#: --platform → the stores that count for it (none given, not on Termux: both).
STORES = {"android": ["play"], "ios": ["appstore"], None: ["play", "appstore"]}
NETWORK_PROBES = ("system", "dns", "tcp", "tls", "http", "clock")


def doctor(
    lab: Lab,
    *args: str,
    platform: str | None = None,
    app_version: str | None = INSTALLED,
    config: Path | None = None,
    output: str = "json",
) -> tuple[int, Any]:
    """`jmo-doctor run --quick` in the phone; (exit code, JSON report or text)."""
    cfg = config or lab.write_config()
    argv = [JMO_DOCTOR, "run", "--quick", "--config", str(cfg), "--format", output, *args]
    if app_version is not None:
        argv += ["--app-version", app_version]
    if platform is not None:
        argv += ["--platform", platform]
    proc = lab.run_in_phone(argv, timeout=60)
    assert "Traceback" not in proc.stderr, proc.stderr
    if output != "json":
        return proc.returncode, proc.stdout
    assert proc.stdout.startswith("{"), (proc.returncode, proc.stderr)
    return proc.returncode, json.loads(proc.stdout)


def probe(doc: dict[str, Any], probe_id: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [p for p in doc["probes"] if p["id"] == probe_id]
    assert len(found) == 1, [p["id"] for p in doc["probes"]]
    return found[0]


def codes(result: dict[str, Any]) -> list[str]:
    return [f["code"] for f in result["findings"]]


def cause_ids(doc: dict[str, Any]) -> list[str]:
    return [c["id"] for c in doc["causes"]]


def words(text: str) -> str:
    """Text output wraps at the terminal width: compare with the line breaks folded."""
    return " ".join(text.split())


def assert_network_healthy(doc: dict[str, Any]) -> None:
    statuses = {p["id"]: p["status"] for p in doc["probes"] if p["id"] in NETWORK_PROBES}
    assert statuses == dict.fromkeys(NETWORK_PROBES, "pass"), statuses


def assert_store_link(store: str, detail: dict[str, Any]) -> None:
    if store == "play":
        assert detail["url"] == PLAY_LINK
    else:  # the lookup's trackViewUrl, or the listing built from the app id
        assert detail["url"].startswith("https://apps.apple.com/")
        assert "id1444834757" in detail["url"]


# --- a newer version in the store ----------------------------------------------------------


@pytest.mark.parametrize("platform", ["android", "ios", None])
def test_newer_version_in_the_store_is_app_outdated_first(lab: Lab, platform: str | None) -> None:
    lab.store_versions(play=PLAY_LATEST, appstore=APPSTORE_LATEST)
    code, doc = doctor(lab, platform=platform)

    assert code == 1 and doc["exit_code"] == 1 and doc["status"] == "warning"
    assert_network_healthy(doc)
    first = doc["causes"][0]
    assert first["id"] == "app_outdated" and first["rank"] == 1
    assert first["confidence"] == "high" and first["article_section"] == 2
    assert "store.outdated" in first["evidence"]
    assert "kpj_not_linked" not in cause_ids(doc)  # something was found: not the residual

    store = probe(doc, "store")
    latest = {"play": PLAY_LATEST, "appstore": APPSTORE_LATEST}
    wanted = STORES[platform]
    assert store["status"] == "warn"
    assert codes(store) == ["store.outdated"] * len(wanted)
    assert [f["data"]["store"] for f in store["findings"]] == wanted
    for finding in store["findings"]:
        assert finding["data"]["installed"] == INSTALLED
        assert finding["data"]["latest"] == latest[finding["data"]["store"]]
    details = store["details"]
    assert details["platform"] == (platform or "unknown")
    assert details["installed"] == {"version": INSTALLED, "source": "option", "reason": ""}
    assert sorted(details["stores"]) == sorted(wanted)
    for name in wanted:
        assert details["stores"][name]["latest"] == latest[name]
        assert "error" not in details["stores"][name]
        assert_store_link(name, details["stores"][name])

    code, text = doctor(lab, "--lang", "id", platform=platform, output="text")
    shown = words(text)
    assert code == 1
    assert f"terpasang {INSTALLED}" in shown
    for name in wanted:
        assert f"{latest[name]} ({STORE_NAMES[name]})" in shown
        assert (
            f"JMO yang terpasang versi {INSTALLED}, sedangkan {STORE_NAMES[name]} menawarkan "
            f"versi {latest[name]}" in shown
        )
    assert "1. Aplikasi JMO belum diperbarui" in shown
    assert shown.endswith("(kode keluar 1)")


def test_installed_version_from_the_config_counts_like_the_option(lab: Lab) -> None:
    lab.store_versions(play=PLAY_LATEST)
    config = lab.write_config(app={"installed_version": INSTALLED})
    code, doc = doctor(lab, platform="android", app_version=None, config=config)
    assert code == 1 and cause_ids(doc)[0] == "app_outdated"
    assert probe(doc, "store")["details"]["installed"]["version"] == INSTALLED


def test_a_broken_network_outranks_the_outdated_app(lab: Lab) -> None:
    # The store is still readable; BPJS is not: that is what stops the balance first.
    lab.store_versions(play=PLAY_LATEST)
    lab.refuse(*lab.bpjs_hosts)
    code, doc = doctor(lab, platform="android")
    assert code == 2 and doc["status"] == "critical"
    ids = cause_ids(doc)
    assert ids[0] == "bpjs_unreachable"
    assert "app_outdated" in ids[1:]


# --- the same version, or a newer one installed --------------------------------------------


@pytest.mark.parametrize(
    ("store_version", "platform"),
    [(INSTALLED, "android"), (INSTALLED, "ios"), (INSTALLED, None), ("4.0.2", None)],
    ids=["same-android", "same-ios", "same-both", "installed-is-newer"],
)
def test_same_version_is_not_outdated(lab: Lab, store_version: str, platform: str | None) -> None:
    lab.store_versions(play=store_version, appstore=store_version)
    code, doc = doctor(lab, platform=platform)

    assert code == 0 and doc["status"] == "ok"
    assert "app_outdated" not in cause_ids(doc)
    assert cause_ids(doc)[:2] == ["kpj_not_linked", "membership_data"]
    store = probe(doc, "store")
    assert store["status"] == "pass" and store["findings"] == []
    assert f"JMO {INSTALLED} sudah versi terbaru" in store["summary"]
    for name in STORES[platform]:
        assert store["details"]["stores"][name]["latest"] == store_version
        assert_store_link(name, store["details"]["stores"][name])


# --- the store cannot be read --------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "platform", "reason"),
    [
        ("refuse", "android", "connect_failed"),
        ("http-503", "ios", "http_status"),
        ("blackhole", None, "timeout"),
    ],
)
def test_unreachable_store_is_unavailable_and_no_false_outdated(
    lab: Lab, fault: str, platform: str | None, reason: str
) -> None:
    # The stores *would* offer a newer version: nothing of it may leak into the verdict.
    lab.store_versions(play=PLAY_LATEST, appstore=APPSTORE_LATEST)
    if fault == "refuse":
        lab.refuse(PLAY_HOST, APPSTORE_HOST)
    elif fault == "blackhole":
        lab.blackhole(PLAY_HOST, APPSTORE_HOST)
    else:
        for host in (PLAY_HOST, APPSTORE_HOST):
            lab.host_fault(host, status=503)
    # a blackhole answers nothing: the run's deadline bounds the wait
    extra = ("--timeout", "5") if fault == "blackhole" else ()
    code, doc = doctor(lab, *extra, platform=platform)

    assert code == 0 and doc["status"] == "ok"  # the network is fine; the app is unknown
    assert_network_healthy(doc)
    assert "app_outdated" not in cause_ids(doc)
    store = probe(doc, "store")
    wanted = STORES[platform]
    assert store["status"] == "warn"
    assert codes(store) == ["store.unavailable"] * len(wanted)
    assert [f["data"]["store"] for f in store["findings"]] == wanted
    assert {f["data"]["reason"] for f in store["findings"]} == {reason}
    for name in wanted:
        listing = store["details"]["stores"][name]
        assert listing["error"] == reason and listing["latest"] is None
        assert_store_link(name, listing)  # the person can still open the store themselves
    assert store["details"]["installed"]["version"] == INSTALLED


def test_one_store_down_the_other_still_decides(lab: Lab) -> None:
    lab.store_versions(play=PLAY_LATEST, appstore=APPSTORE_LATEST)
    lab.refuse(PLAY_HOST)
    code, doc = doctor(lab)
    assert code == 1 and cause_ids(doc)[0] == "app_outdated"
    store = probe(doc, "store")
    found = {(f["code"], f["data"]["store"]) for f in store["findings"]}
    assert found == {("store.unavailable", "play"), ("store.outdated", "appstore")}
    assert f"terbaru {APPSTORE_LATEST} (App Store)" in store["summary"]
    assert store["details"]["stores"]["play"]["error"] == "connect_failed"


# --- the 2025/2026 layout: "Varies with device" --------------------------------------------

FIXTURES = Path(__file__).resolve().parent / "fixtures"
#: The real 2025 page whose version slot is empty ([null, []]); the layout Play still
#: serves in 2026. Only the package and the date are changed (see fixtures/play/README.md).
VARIES_PAGE = (
    (FIXTURES / "play" / "2025-upgrader-issue520-com.raiseright.edumarketapp.html")
    .read_text("utf-8")
    .replace("com.raiseright.edumarketapp", "com.bpjstku")
    .replace("Sep 3, 2025", "Nov 20, 2026")
)
HTML = {"Content-Type": "text/html; charset=utf-8"}


def test_2026_varies_page_is_said_plainly_and_blames_nothing(lab: Lab) -> None:
    lab.set_route(PLAY_HOST, "/store/apps/details", body=VARIES_PAGE, headers=HTML)
    code, doc = doctor(lab, platform="android")

    assert code == 0 and doc["status"] == "ok"
    assert_network_healthy(doc)
    assert cause_ids(doc)[0] == "kpj_not_linked"  # nothing on the device, network or app
    store = probe(doc, "store")
    assert store["status"] == "pass" and codes(store) == []
    play = store["details"]["stores"]["play"]
    assert play["varies_with_device"] is True and play["latest"] is None
    assert play["released"] == "Nov 20, 2026"
    assert "error" not in play  # not version_not_found

    code, text = doctor(lab, "--lang", "id", platform="android", output="text")
    assert code == 0
    assert "toko tidak menyebut satu versi (bervariasi menurut perangkat" in words(text)


# --- device_unsupported: the phone's OS is below the listing's minimum -----------------------


def test_android_older_than_the_play_minimum_is_device_unsupported(lab: Lab) -> None:
    # the lab's Play page names Android 7.0 (SDK 24) as the minimum; the store is also
    # ahead, but an update this phone cannot take is not the fix
    lab.store_versions(play=PLAY_LATEST)
    code, doc = doctor(lab, "--os-version", "6.0.1", platform="android")

    assert code == 1 and doc["status"] == "warning"
    assert_network_healthy(doc)
    first = doc["causes"][0]
    assert first["id"] == "device_unsupported" and first["rank"] == 1
    assert set(first["evidence"]) == {"store.os_unsupported", "store.outdated"}
    assert "app_outdated" not in cause_ids(doc)
    store = probe(doc, "store")
    [finding] = [f for f in store["findings"] if f["code"] == "store.os_unsupported"]
    assert finding["data"]["os_version"] == "6.0.1" and finding["data"]["minimum"] == "7.0"
    assert finding["data"]["minimum_sdk"] == 24
    assert store["details"]["stores"]["play"]["minimum_os"] == "7.0"

    code, text = doctor(
        lab, "--lang", "id", "--os-version", "6.0.1", platform="android", output="text"
    )
    shown = words(text)
    assert code == 1
    assert "Android 6.0.1" in shown and "Android 7.0" in shown
    assert "lapakasik.bpjsketenagakerjaan.go.id" in shown  # the way without the app
    assert shown.endswith("(kode keluar 1)")


def test_iphone_older_than_the_lookup_minimum_is_device_unsupported(lab: Lab) -> None:
    lookup = (FIXTURES / "appstore" / "lookup-one-result.json").read_text("utf-8")
    lab.set_route(
        APPSTORE_HOST, "/lookup", body=lookup, headers={"Content-Type": "text/javascript"}
    )
    code, doc = doctor(lab, "--os-version", "12.5.7", platform="ios", app_version="4.15.14")

    assert code == 1 and doc["causes"][0]["id"] == "device_unsupported"
    [finding] = probe(doc, "store")["findings"]
    assert finding["code"] == "store.os_unsupported"
    assert (finding["data"]["os_name"], finding["data"]["minimum"]) == ("iOS", "13.0")


def test_a_new_enough_phone_is_not_device_unsupported(lab: Lab) -> None:
    code, doc = doctor(lab, "--os-version", "14", platform="android", app_version="3.10.2")
    assert code == 0 and "device_unsupported" not in cause_ids(doc)
    assert probe(doc, "store")["details"]["device_os"] == {
        "version": "14",
        "sdk": None,
        "source": "option",
    }
