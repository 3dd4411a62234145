"""store probe: the latest JMO on Google Play and the App Store against the installed one.

Cause 2 of the help article is "JMO not updated". The probe reads the store listings
(Play's details page, Apple's iTunes lookup API), finds out which version is installed
(``--app-version``/config, adb, or on the phone), and reports ``store.outdated`` when a
store offers a newer one. It also compares the phone's OS (``--os-version``, ``getprop``
on the phone or over adb) with the minimum the listing names: ``store.os_unsupported``.
A Play listing that "varies with device" names no version; that is said, not an error.
What it cannot read becomes ``store.unavailable`` with the reason — a warning, not a
failure: the network probes judge the network, this one only the app and the phone.

The platform decides which store counts: ``--platform``, else Android on Termux, else
both stores are read and each one that is ahead is reported by name.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar
from urllib.parse import urlencode

import httpx

from jmo_doctor.api import (
    BaseProbe,
    Decided,
    Fact,
    LocalText,
    Messages,
    ProbeContext,
    ProbeResult,
    Status,
    is_termux,
)
from probes._common.net import budget
from probes.store._appstore import ListingError, parse_lookup
from probes.store._device_os import DeviceOS, discover_os, is_too_old
from probes.store._installed import Installed, discover
from probes.store._play import parse_play_page
from probes.store._versions import is_newer, parse_version

PLAY, APPSTORE = "play", "appstore"
STORE_NAMES = {PLAY: "Google Play", APPSTORE: "App Store"}
BODY_CAP_BYTES = 5_000_000
FETCH_TIMEOUT_S = 10.0
PARSE_TIMEOUT_S = 5.0
MAX_REDIRECTS = 5
NOTE_LINES = 3
NOTE_LINE_CHARS = 200

#: Why a listing could not be read (``{code}`` and ``{country}`` filled); these become the
#: probe's ``messages`` under ``store.reason.<key>``.
_REASONS: dict[str, tuple[str, str]] = {
    "timeout": ("waktu habis", "timed out"),
    "unstable": (
        "tidak ditunggu: koneksi tidak stabil",
        "not waited for: the connection is unstable",
    ),
    "connect_failed": ("tidak dapat terhubung", "could not connect"),
    "http_error": ("kesalahan HTTP", "HTTP error"),
    "http_status": ("server menjawab HTTP {code}", "the server answered HTTP {code}"),
    "redirect_loop": ("terlalu banyak pengalihan", "too many redirects"),
    "too_large": ("jawaban terlalu besar", "the answer was too large"),
    "not_utf8": ("jawaban bukan teks UTF-8", "the answer is not UTF-8 text"),
    "bad_json": ("jawaban bukan JSON", "the answer is not JSON"),
    "bad_shape": ("jawaban tidak berformat seperti biasa", "the answer has an unexpected shape"),
    "bad_version": ("versi di jawaban tidak valid", "the answer has no valid version"),
    "not_in_country": (
        "JMO tidak tersedia di toko negara ini ({country})",
        "JMO is not available in this country's store ({country})",
    ),
    "version_not_found": (
        "halaman tidak memuat nomor versi (tata letaknya mungkin berubah)",
        "the page shows no version number (its layout may have changed)",
    ),
    "version_ambiguous": (
        "halaman memuat beberapa nomor versi yang berbeda",
        "the page shows several different version numbers",
    ),
    "parse_timeout": ("halaman terlalu lama dibaca", "the page took too long to read"),
    "not_configured": ("tidak diatur di konfigurasi [app]", "not set in the [app] config"),
}

#: Why the installed version is unknown: ``messages`` under ``store.installed.<key>``.
_INSTALLED_REASONS: dict[str, tuple[str, str]] = {
    "adb_missing": ("adb tidak ada", "adb is not installed"),
    "adb_timeout": ("adb tidak menjawab", "adb did not answer"),
    "no_device": ("tidak ada ponsel tersambung ke adb", "no phone is attached to adb"),
    "unauthorized": (
        "ponsel di adb belum mengizinkan USB debugging (ketuk Izinkan di ponsel)",
        "the adb phone has not allowed USB debugging yet (tap Allow on the phone)",
    ),
    "device_offline": (
        "ponsel di adb tidak siap (offline)",
        "the adb phone is not ready (offline)",
    ),
    "many_devices": ("lebih dari satu ponsel tersambung ke adb", "several phones are on adb"),
    "not_installed": ("JMO tidak terpasang di ponsel adb", "JMO is not on the adb phone"),
    "denied": (
        "Android tidak mengizinkan membaca versi aplikasi lain",
        "Android does not let this app read other apps' versions",
    ),
    "ios": ("versi di iPhone tidak dapat dibaca dari sini", "an iPhone cannot be read from here"),
    "bad_version": ("versi yang diberikan tidak valid", "the version given is not a version"),
}


REASON_PREFIX, INSTALLED_PREFIX = "store.reason.", "store.installed."


def _words(prefix: str, table: dict[str, tuple[str, str]]) -> dict[str, dict[str, str]]:
    return {
        prefix + key: {"id": id_text, "en": en_text} for key, (id_text, en_text) in table.items()
    }


#: Finding texts, then the words the findings are built from.
MESSAGES: dict[str, dict[str, str]] = {
    "store.outdated": {
        "id": "JMO yang terpasang versi {installed}, sedangkan {store_name} menawarkan "
        "versi {latest}.{release_text} Perbarui JMO lewat {store_name}: {url}",
        "en": "The installed JMO is version {installed}; {store_name} offers version "
        "{latest}.{release_text} Update JMO from {store_name}: {url}",
    },
    "store.installed_unknown": {
        "id": "Versi JMO yang terpasang tidak diketahui ({reason_text}). Versi terbaru: "
        "{latest_text}. Lihat versinya di JMO atau di Pengaturan > Aplikasi, lalu "
        "jalankan lagi dengan --app-version VERSI.",
        "en": "The installed JMO version is unknown ({reason_text}). Latest: "
        "{latest_text}. Look it up in JMO or in Settings > Apps and run again with "
        "--app-version VERSION.",
    },
    "store.unavailable": {
        "id": "Versi JMO di {store_name} tidak dapat dibaca: {reason_text}.",
        "en": "The JMO listing on {store_name} could not be read: {reason_text}.",
    },
    "store.os_unsupported": {
        "id": "Ponsel ini memakai {os_name} {os_version}, sedangkan JMO terbaru di "
        "{store_name} membutuhkan {os_name} {minimum} atau yang lebih baru: JMO tidak bisa "
        "diperbarui di ponsel ini.",
        "en": "This phone runs {os_name} {os_version}, while the current JMO on "
        "{store_name} needs {os_name} {minimum} or newer: JMO cannot be updated on this "
        "phone.",
    },
    **_words(REASON_PREFIX, _REASONS),
    **_words(INSTALLED_PREFIX, _INSTALLED_REASONS),
}


class FetchError(Exception):
    def __init__(self, reason: str, detail: str = "", **values: Any) -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.detail = detail or reason
        self.values = values


@dataclass(frozen=True)
class StoreResult:
    store: str
    url: str  # the listing for people
    version: str | None = None
    varies: bool = False
    released: str | None = None
    notes: str | None = None
    #: The oldest OS the listing's current version installs on, and Android's SDK level.
    minimum_os: str | None = None
    minimum_sdk: int | None = None
    error: str = ""  # a store.reason.* key when the listing could not be read
    detail: str = ""
    values: dict[str, Any] = field(default_factory=dict)

    def as_detail(self) -> dict[str, Any]:
        detail: dict[str, Any] = {"url": self.url, "latest": self.version}
        if self.varies:
            detail["varies_with_device"] = True
        if self.released:
            detail["released"] = self.released
        if self.notes:
            detail["release_notes"] = first_lines(self.notes)
        if self.minimum_os or self.minimum_sdk:
            detail["minimum_os"] = self.minimum_os
            if self.minimum_sdk:
                detail["minimum_sdk"] = self.minimum_sdk
        if self.error:
            detail["error"] = self.error
            detail["error_detail"] = self.detail
        return detail


def first_lines(notes: str) -> list[str]:
    lines = [line.strip() for line in notes.splitlines() if line.strip()]
    return [line[:NOTE_LINE_CHARS] for line in lines[:NOTE_LINES]]


async def fetch_body(ctx: ProbeContext, url: str, params: dict[str, str]) -> bytes:
    """GET ``url`` streamed and capped; every failure is a :class:`FetchError`."""
    timeout = budget(ctx, FETCH_TIMEOUT_S)

    async def go() -> bytes:
        async with (
            ctx.http_client(
                follow_redirects=True, max_redirects=MAX_REDIRECTS, timeout=httpx.Timeout(timeout)
            ) as client,
            client.stream("GET", url, params=params) as response,
        ):
            if response.status_code != 200:
                raise FetchError(
                    "http_status", f"HTTP {response.status_code}", code=response.status_code
                )
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():  # decoded: the cap holds for gzip too
                size += len(chunk)
                if size > BODY_CAP_BYTES:
                    raise FetchError("too_large", f"more than {BODY_CAP_BYTES} bytes")
                chunks.append(chunk)
            return b"".join(chunks)

    try:
        # a link known unstable holds the page up for nothing the verdict needs
        return await ctx.unless(asyncio.wait_for(go(), timeout), Fact.unstable_link())
    except Decided:
        raise FetchError("unstable", "the tcp probe found the connection unstable") from None
    except (TimeoutError, httpx.TimeoutException):
        raise FetchError("timeout", f"no complete answer within {timeout:.1f} s") from None
    except httpx.TooManyRedirects:
        raise FetchError("redirect_loop") from None
    except httpx.ConnectError as error:
        raise FetchError("connect_failed", _short(error)) from None
    except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as error:
        raise FetchError("http_error", _short(error)) from None


def _short(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _link(base: str, params: dict[str, str]) -> str:
    return f"{base}?{urlencode(params)}"


async def read_play(ctx: ProbeContext) -> StoreResult:
    app = ctx.config.app
    link = _link(app.play_store_url, {"id": app.android_package})
    if not app.android_package:
        return StoreResult(PLAY, link, error="not_configured", detail="app.android_package")
    params = {"id": app.android_package, "hl": "id", "gl": (app.country or "id").upper()}
    try:
        body = await fetch_body(ctx, app.play_store_url, params)
        try:
            page = body.decode("utf-8")
        except UnicodeDecodeError:
            raise FetchError("not_utf8") from None
        try:
            listing = await asyncio.wait_for(
                ctx.to_thread(parse_play_page, page), budget(ctx, PARSE_TIMEOUT_S)
            )
        except TimeoutError:
            raise FetchError("parse_timeout") from None
    except FetchError as error:
        return StoreResult(PLAY, link, error=error.reason, detail=error.detail, values=error.values)
    if listing.problem:
        reason = "version_ambiguous" if listing.problem == "ambiguous" else "version_not_found"
        detail = f"{listing.blocks} data blocks read"
        return StoreResult(PLAY, link, error=reason, detail=detail)
    return StoreResult(
        PLAY,
        link,
        version=listing.version,
        varies=listing.varies,
        released=listing.released,
        notes=listing.notes,
        minimum_os=listing.min_android,
        minimum_sdk=listing.min_sdk,
    )


async def read_appstore(ctx: ProbeContext) -> StoreResult:
    app = ctx.config.app
    country = app.country or "id"
    link = f"https://apps.apple.com/{country}/app/id{app.ios_app_id}"
    if not app.ios_app_id:
        return StoreResult(APPSTORE, link, error="not_configured", detail="app.ios_app_id")
    # the lookup API is cached by CDNs for hours; a fresh query parameter skips the cache
    params = {"id": app.ios_app_id, "country": country, "_cb": str(time.time_ns())}
    try:
        body = await fetch_body(ctx, app.app_store_lookup_url, params)
        try:
            listing = await asyncio.wait_for(
                ctx.to_thread(parse_lookup, body), budget(ctx, PARSE_TIMEOUT_S)
            )
        except TimeoutError:
            raise FetchError("parse_timeout") from None
        except ListingError as error:
            raise FetchError(error.reason, error.detail) from None
    except FetchError as error:
        return StoreResult(
            APPSTORE, link, error=error.reason, detail=error.detail, values=error.values
        )
    if not listing.available:
        return StoreResult(
            APPSTORE,
            link,
            error="not_in_country",
            detail=f"resultCount 0 for country {country}",
            values={"country": country},
        )
    return StoreResult(
        APPSTORE,
        listing.url or link,
        version=listing.version,
        released=listing.released,
        notes=listing.notes,
        minimum_os=listing.minimum_os,
    )


def stores_for(platform: str | None) -> tuple[str, ...]:
    if platform == "android":
        return (PLAY,)
    if platform == "ios":
        return (APPSTORE,)
    return (PLAY, APPSTORE)


class StoreProbe(BaseProbe):
    id: ClassVar[str] = "store"
    title: ClassVar[LocalText] = {"id": "Versi aplikasi JMO", "en": "JMO app version"}
    order: ClassVar[int] = 80
    messages: ClassVar[Messages] = MESSAGES

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        platform = ctx.options.platform or ("android" if is_termux() else None)
        stores = stores_for(platform)
        readers = {PLAY: read_play, APPSTORE: read_appstore}
        ctx.progress(0.1, ", ".join(STORE_NAMES[s] for s in stores))
        installed, device_os, *results = await asyncio.gather(
            discover(
                ctx.config.app.android_package,
                option=ctx.options.app_version,
                platform=platform,
                termux=is_termux(),
                timeout=budget(ctx, 5.0),
            ),
            discover_os(
                option=ctx.options.os_version,
                platform=platform,
                termux=is_termux(),
                timeout=budget(ctx, 5.0),
            ),
            *(readers[store](ctx) for store in stores),
        )
        assert isinstance(installed, Installed) and isinstance(device_os, DeviceOS)
        listings = [r for r in results if isinstance(r, StoreResult)]
        if installed.version is not None and parse_version(installed.version) is None:
            installed = Installed(None, installed.source, "bad_version", installed.version[:64])
        result = self.verdict(ctx, platform, installed, listings)
        return with_os_check(ctx, result, platform, device_os, listings)

    def verdict(
        self,
        ctx: ProbeContext,
        platform: str | None,
        installed: Installed,
        listings: list[StoreResult],
    ) -> ProbeResult:
        findings = []
        for item in listings:
            if item.error:
                findings.append(
                    ctx.finding(
                        "store.unavailable",
                        store=item.store,
                        reason=item.error,
                        store_name=STORE_NAMES[item.store],
                        reason_text=_reason_text(ctx, item.error, item.values),
                        detail=item.detail,
                    )
                )
        readable = [item for item in listings if not item.error]
        outdated = [
            item
            for item in readable
            if installed.version is not None and is_newer(item.version, installed.version)
        ]
        for item in outdated:
            findings.append(
                ctx.finding(
                    "store.outdated",
                    installed=installed.version,
                    latest=item.version,
                    store=item.store,
                    store_name=STORE_NAMES[item.store],
                    url=item.url,
                    release_text=_release_text(ctx, item),
                )
            )
        if installed.version is None:
            findings.append(
                ctx.finding(
                    "store.installed_unknown",
                    reason=installed.reason or "not_given",
                    reason_text=_installed_reason_text(ctx, installed.reason),
                    latest={item.store: item.version for item in readable},
                    latest_text=_latest_text(ctx, readable),
                    detail=installed.detail,
                )
            )
        details = {
            "platform": platform or "unknown",
            "installed": {
                "version": installed.version,
                "source": installed.source,
                "reason": installed.reason,
            },
            "stores": {item.store: item.as_detail() for item in listings},
        }
        summary = _summary(ctx, installed, listings, outdated)
        status = Status.WARN if findings else Status.PASS
        return ProbeResult(self.id, status, summary, tuple(findings), {}, details)


def os_store(platform: str | None, device_os: DeviceOS) -> str | None:
    """The listing whose minimum applies to this phone: Play for Android, the App Store for
    iOS; unknown platform: Play when the version came from Android itself (getprop)."""
    if platform is not None:
        return PLAY if platform == "android" else APPSTORE
    return PLAY if device_os.source in ("device", "adb") else None


def with_os_check(
    ctx: ProbeContext,
    result: ProbeResult,
    platform: str | None,
    device_os: DeviceOS,
    listings: list[StoreResult],
) -> ProbeResult:
    """``result`` plus ``store.os_unsupported`` when the phone's OS is below the minimum
    of its store's listing, and the phone's numbers in the details either way."""
    store = os_store(platform, device_os)
    listing = next((item for item in listings if item.store == store and not item.error), None)
    details = {
        **result.details,
        "device_os": {
            "version": device_os.release,
            "sdk": device_os.sdk,
            "source": device_os.source,
        },
    }
    if listing is None or not is_too_old(device_os, listing.minimum_os, listing.minimum_sdk):
        return replace(result, details=details)
    os_name = "Android" if listing.store == PLAY else "iOS"
    shown = device_os.release or f"API {device_os.sdk}"
    minimum = listing.minimum_os or f"API {listing.minimum_sdk}"
    finding = ctx.finding(
        "store.os_unsupported",
        store=listing.store,
        store_name=STORE_NAMES[listing.store],
        os_name=os_name,
        os_version=shown,
        os_sdk=device_os.sdk,
        minimum=minimum,
        minimum_sdk=listing.minimum_sdk,
    )
    too_old = ctx.text(
        id=f"{os_name} {shown} terlalu lama untuk JMO terbaru (minimum {minimum}). ",
        en=f"{os_name} {shown} is too old for the current JMO (needs {minimum}). ",
    )
    return replace(
        result,
        status=Status.WARN,
        summary=too_old + result.summary,
        findings=(*result.findings, finding),
        details=details,
    )


def _release_text(ctx: ProbeContext, item: StoreResult) -> str:
    """ " Released 2026-10-01. What's new: …" — what tells a user the update matters."""
    text = ""
    if item.released:
        # ISO timestamps (App Store) shortened to the day; Play's own text kept as it is
        iso = re.match(r"\d{4}-\d{2}-\d{2}", item.released)
        day = iso.group(0) if iso else item.released
        text += ctx.text(id=f" Dirilis {day}.", en=f" Released {day}.")
    if item.notes:
        notes = " / ".join(first_lines(item.notes))
        text += ctx.text(id=f" Yang baru: {notes}", en=f" What's new: {notes}")
        text += "" if text.endswith(".") else "."
    return text


def _word(ctx: ProbeContext, key: str) -> str | None:
    texts = MESSAGES.get(key)
    return ctx.text(id=texts["id"], en=texts["en"]) if texts else None


def _reason_text(ctx: ProbeContext, reason: str, values: dict[str, Any]) -> str:
    text = _word(ctx, REASON_PREFIX + reason) or reason
    try:
        return text.format(**{"code": "?", "country": "?", **values})
    except (KeyError, IndexError, ValueError):
        return text


def _installed_reason_text(ctx: ProbeContext, reason: str) -> str:
    not_given = ctx.text(
        id="tidak diberikan dengan --app-version", en="not given with --app-version"
    )
    text = _word(ctx, INSTALLED_PREFIX + reason)
    if text is None:
        return not_given
    # the user gave nothing and adb could not help: say both, the first is the fix
    return text if reason in ("bad_version", "denied", "ios") else f"{not_given}; {text}"


def _latest_text(ctx: ProbeContext, readable: list[StoreResult]) -> str:
    parts = []
    for item in readable:
        if item.version:
            parts.append(f"{item.version} ({STORE_NAMES[item.store]})")
        elif item.varies:
            varies = ctx.text(id="bervariasi menurut perangkat", en="varies with device")
            parts.append(f"{varies} ({STORE_NAMES[item.store]})")
    return ", ".join(parts) or ctx.text(id="tidak diketahui", en="unknown")


def _summary(
    ctx: ProbeContext,
    installed: Installed,
    listings: list[StoreResult],
    outdated: list[StoreResult],
) -> str:
    readable = [item for item in listings if not item.error]
    broken = ", ".join(STORE_NAMES[item.store] for item in listings if item.error)
    if outdated:
        latest = ", ".join(f"{i.version} ({STORE_NAMES[i.store]})" for i in outdated)
        return ctx.text(
            id=f"JMO perlu diperbarui: terpasang {installed.version}, terbaru {latest}.",
            en=f"JMO needs an update: {installed.version} installed, {latest} available.",
        )
    if not readable:
        return ctx.text(
            id=f"Versi JMO di toko aplikasi tidak dapat dibaca ({broken}).",
            en=f"The JMO store listings could not be read ({broken}).",
        )
    latest_text = _latest_text(ctx, readable)
    if installed.version is None:
        return ctx.text(
            id=f"Versi terbaru JMO: {latest_text}; versi terpasang tidak diketahui.",
            en=f"Latest JMO: {latest_text}; the installed version is unknown.",
        )
    if not any(item.version for item in readable):
        return ctx.text(
            id=f"JMO {installed.version} terpasang; toko tidak menyebut satu versi "
            f"({latest_text}).",
            en=f"JMO {installed.version} installed; the store names no single version "
            f"({latest_text}).",
        )
    tail = ctx.text(
        id=f" ({broken} tidak dapat dibaca.)" if broken else "",
        en=f" ({broken} could not be read.)" if broken else "",
    )
    return ctx.text(
        id=f"JMO {installed.version} sudah versi terbaru: {latest_text}.{tail}",
        en=f"JMO {installed.version} is up to date: {latest_text}.{tail}",
    )
