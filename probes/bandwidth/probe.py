"""bandwidth probe: download and upload throughput, idle latency and latency under load.

Two backends measure (``[bandwidth] backend``): ``http`` (default, our own streams against
``download_url``/``upload_url``, see ``_http``) and ``speedtest`` (speedtest-cli
and Ookla's servers, see ``_speedtest``). Both hand back a ``Measurement``; this
module only turns it into findings: ``bandwidth.low`` below ``min_download_mbps``,
``bandwidth.bufferbloat`` when the loaded RTT exceeds the idle one by more than
``bufferbloat_ms``, ``bandwidth.unavailable`` when nothing could be measured. Each
direction ends once its figure is steady, at ``duration`` at the latest, and the two never
move more than ``max_mb`` together (5 MB on cellular data); a figure the budget cut
short is a lower bound and says so (``_budget``). Slow, so ``--quick`` skips it.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, ClassVar

from jmo_doctor.api import (
    BaseProbe,
    Fact,
    Finding,
    LocalText,
    Messages,
    ProbeContext,
    ProbeResult,
    Status,
)
from probes._common.net import addresses_for, budget
from probes.bandwidth import _http as http_backend
from probes.bandwidth._measurement import MIN_PHASE_S, Measurement, Phase, host_port
from probes.bandwidth._responsiveness import Responsiveness, summarize
from probes.bandwidth._upload import UPLOAD_DRAIN_S

if TYPE_CHECKING:
    from probes.bandwidth._speedtest import Endpoints

#: Time a run needs besides the two phases: lookups, idle RTTs, connects, settling, and
#: the wait for the last upload requests' answers.
SETUP_S = 1.5 + UPLOAD_DRAIN_S
#: The data budget on cellular data, whatever ``max_mb`` says (if that is larger).
MOBILE_MAX_MB = 5.0
#: On a link the first wave showed unstable beyond doubt the test need only tell slow from
#: not slow (the one answer that could still change the first cause): the download ends
#: once its rate is ``ANSWER_FACTOR`` times the minimum (not slow) or, as always, once it is
#: steady; the upload, which cannot change the first cause, is left out. A test with no
#: answer by ``UNSTABLE_BOUND_S`` (set-up included) says so and claims nothing: a figure
#: cut while still climbing out of slow start would call a merely jittery link slow.
UNSTABLE_BOUND_S = 6.0
ANSWER_FACTOR = 1.5
#: …and, counted from the start of the first wave, by this time at the latest (the
#: person has waited for the first wave already: at 30 % loss its tcp probe took up to
#: 6.1 s, and 6 s more made 2 lab runs in 8 take 10.9-11.6 s to the verdict; at 9 s the
#: slowest of 10 took 9.6 s), but never less than ``UNSTABLE_FLOOR_S``: connects through
#: the loss, then a second of figure (6 runs in 10 had their answer within 1.8 s).
UNSTABLE_VERDICT_S = 8.0
UNSTABLE_FLOOR_S = 2.5
#: ``ctx.once`` key under which ``prepare`` notes when the first wave started.
_FIRST_WAVE_KEY = "bandwidth.first_wave_at"
#: On such a link a low figure counts only if the download flowed (see ``flowed``): its
#: bytes came in over at least this share of the phase…
MIN_DELIVERY_SHARE = 0.5
#: … and never fell further than this behind an even delivery (``_meter.unevenness``; lab:
#: 0.09-0.23 on a 300 kbit/s link, 0.43-0.98 at 30 % loss each way).
MAX_UNEVENNESS = 0.4


#: Why nothing could be measured (``Measurement.unavailable``'s reason), in words; the
#: reason and the error's own text stay in the finding's data, as evidence.
UNAVAILABLE_REASONS: Messages = {
    "no_time": {"id": "waktu pemeriksaan tidak cukup", "en": "not enough time was left"},
    "unstable": {
        "id": "koneksi terlalu tidak stabil untuk diukur dengan cepat",
        "en": "the connection is too unstable to measure quickly",
    },
    "dns": {
        "id": "alamat server uji kecepatan tidak ditemukan",
        "en": "the speed-test server's address was not found",
    },
    "download": {"id": "tidak ada data yang diterima", "en": "no data was received"},
    "timeout": {
        "id": "server uji kecepatan tidak menjawab tepat waktu",
        "en": "the speed-test server did not answer in time",
    },
    "config": {
        "id": "pengaturan uji kecepatan tidak dapat dibaca",
        "en": "the speed-test settings could not be read",
    },
    "no_servers": {
        "id": "tidak ada server uji kecepatan yang bisa dipakai",
        "en": "no speed-test server could be used",
    },
    "mini_server": {
        "id": "server uji kecepatan yang diatur tidak dapat dihubungi",
        "en": "the configured speed-test server could not be reached",
    },
    "error": {"id": "uji kecepatan gagal", "en": "the speed test failed"},
}


class BandwidthProbe(BaseProbe):
    id = "bandwidth"
    title: ClassVar[LocalText] = {
        "id": "Kecepatan internet dan latensi saat sibuk",
        "en": "Internet speed and latency under load",
    }
    order = 75
    slow = True
    messages: ClassVar[Messages] = {
        "bandwidth.low": {
            "id": "Kecepatan unduh hanya {download_mbps:.2f} Mbit/s (minimal {min_mbps:g}).",
            "en": "Download speed is only {download_mbps:.2f} Mbit/s (minimum {min_mbps:g}).",
        },
        "bandwidth.bufferbloat": {
            "id": "Latensi naik {added_ms:.0f} ms saat koneksi sibuk (bufferbloat).",
            "en": "Latency rises by {added_ms:.0f} ms while the line is busy (bufferbloat).",
        },
        "bandwidth.unavailable": {
            "id": "Kecepatan internet tidak dapat diukur: {why}.",
            "en": "Internet speed could not be measured: {why}.",
        },
    }

    def __init__(self, speedtest_endpoints: Endpoints | None = None) -> None:
        # Tests point the speedtest backend at a local server; users get Ookla's.
        self._endpoints = speedtest_endpoints

    async def prepare(self, ctx: ProbeContext) -> None:
        """The speed-test server's address, found while the first wave runs: on a lossy
        link a lookup takes seconds the person would otherwise wait for on top."""
        await _first_wave_start(ctx, time.monotonic())
        settings = ctx.config.bandwidth
        if settings.backend == "http":
            host, port = host_port(settings.download_url)
            await addresses_for(ctx, host, port)

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        settings = ctx.config.bandwidth
        duration = min(settings.duration, (budget(ctx, 600.0) - SETUP_S) / 2)
        unstable = ctx.known(Fact.unstable_link())
        max_mb = settings.max_mb
        on_mobile = ctx.known(Fact.mobile_data())
        if on_mobile:  # prepaid quota: ask nothing, spend little, and say so
            max_mb = min(max_mb, MOBILE_MAX_MB)
        if duration < MIN_PHASE_S:
            measurement = Measurement(settings.backend, "", unavailable=("no_time", "deadline"))
        else:
            live = LiveRate(ctx, duration)
            if settings.backend == "speedtest":
                # imported when chosen: speedtest-cli is not needed by most runs
                from probes.bandwidth._speedtest import OOKLA, measure

                endpoints = self._endpoints or OOKLA
                measurement = await measure(ctx, duration, endpoints, live)
            else:
                # a path that loses packets can stretch the set-up: answer in time
                left = budget(ctx, 600.0)
                bound = await unstable_bound(ctx, time.monotonic()) if unstable else left
                limit = asyncio.timeout(min(left, bound))
                try:
                    async with limit:
                        measurement = await _measured(ctx, duration, max_mb, live, unstable)
                except TimeoutError:
                    if not limit.expired():
                        raise  # not ours: the runner reports it as the crash it is
                    why = "unstable" if unstable and left > bound else "no_time"
                    measurement = Measurement("http", "", unavailable=(why, "deadline"))
        if on_mobile:
            measurement.extra["mobile_data"] = True
        if unstable:
            measurement.extra["unstable_link"] = True
        return judge(ctx, measurement)


async def _first_wave_start(ctx: ProbeContext, now: float) -> float:
    """When the first wave started: noted by ``prepare``, which runs alongside it
    (``now``, for a run that had none)."""

    async def noted() -> float:
        return now

    return await ctx.once(_FIRST_WAVE_KEY, noted)


async def unstable_bound(ctx: ProbeContext, now: float) -> float:
    """The most the test may take on a link known unstable (see ``UNSTABLE_VERDICT_S``)."""
    waited = now - await _first_wave_start(ctx, now)
    return min(UNSTABLE_BOUND_S, max(UNSTABLE_FLOOR_S, UNSTABLE_VERDICT_S - waited))


async def _measured(
    ctx: ProbeContext, duration: float, max_mb: float, live: LiveRate, unstable: bool
) -> Measurement:
    """The http backend's measurement; on a link known unstable, only as long as it takes
    to tell slow from not slow."""
    if not unstable:
        return await http_backend.measure(ctx, duration, max_mb, live)
    enough = ANSWER_FACTOR * ctx.config.bandwidth.min_download_mbps
    return await http_backend.measure(ctx, duration, max_mb, live, enough, with_upload=False)


class LiveRate:
    """Progress over both phases (download is the first half) with the live rate."""

    def __init__(self, ctx: ProbeContext, duration: float) -> None:
        self._ctx = ctx
        self._shown = 0.0
        ctx.progress(0.0, ctx.text(id="mengukur latensi", en="measuring latency"))

    def __call__(self, direction: str, fraction: float, mbps: float | None) -> None:
        offset = 0.0 if direction == "download" else 0.5
        done = min(1.0, offset + 0.5 * max(0.0, min(1.0, fraction)))
        now = time.monotonic()
        if now - self._shown < 0.2 and done < 1.0:
            return  # the display redraws a few times a second at most
        self._shown = now
        label = self._ctx.text(id="unduh", en="download")
        if direction == "upload":
            label = self._ctx.text(id="unggah", en="upload")
        self._ctx.progress(done, f"{label} {mbps:.1f} Mbit/s" if mbps is not None else label)


def _phase_metrics(name: str, phase: Phase | None) -> dict[str, float]:
    if phase is None:
        return {}
    t = phase.throughput
    return {
        f"{name}_mbps": round(t.mbps, 3),
        f"{name}_total_mbps": round(t.total_mbps, 3),
        f"{name}_bytes": float(t.bytes),
        f"{name}_seconds": round(t.seconds, 3),
        f"{name}_moved_bytes": float(phase.moved_bytes),
    }


def _phase_detail(phase: Phase | None) -> dict[str, Any] | None:
    if phase is None:
        return None
    detail = phase.throughput.as_detail()
    detail.update(loaded_rtt_samples=len(phase.rtts), loaded_rtt_lost=phase.lost)
    detail.update(end_reason=phase.end_reason, lower_bound=phase.lower_bound)
    if phase.errors:
        detail["errors"] = sorted(set(phase.errors))[:5]
    return detail


def judge(ctx: ProbeContext, m: Measurement) -> ProbeResult:
    settings = ctx.config.bandwidth
    details: dict[str, Any] = {"backend": m.backend, "server": m.server, **m.extra}
    if m.unavailable is not None:
        reason, detail = m.unavailable
        why = UNAVAILABLE_REASONS.get(reason, UNAVAILABLE_REASONS["error"])
        finding = ctx.finding("bandwidth.unavailable", reason=reason, detail=detail, why=why)
        summary = ctx.text(
            id=f"Kecepatan tidak terukur: {why['id']}.", en=f"Speed not measured: {why['en']}."
        )
        return ProbeResult("bandwidth", Status.WARN, summary, (finding,), {}, details)
    phases = [p for p in (m.download, m.upload) if p is not None]
    lost = sum(p.lost for p in phases)
    latency = summarize(m.idle_rtts, [p.rtts for p in phases], lost)
    metrics = {**_phase_metrics("download", m.download), **_phase_metrics("upload", m.upload)}
    metrics.update(latency.metrics())
    # the data the test used, both directions: what the person's quota paid for
    metrics["data_bytes"] = float(sum(p.moved_bytes for p in phases))
    details.update(
        download=_phase_detail(m.download),
        upload=_phase_detail(m.upload),
        latency={"loaded_samples": latency.samples, "loaded_lost": latency.lost},
    )
    findings: list[Finding] = []
    down = m.download.throughput.mbps if m.download else None
    stalled = bool(m.extra.get("unstable_link")) and m.download is not None
    stalled = stalled and not flowed(m.download)
    if stalled:
        details["download_stalled"] = True
    if down is not None and down < settings.min_download_mbps and not stalled:
        findings.append(
            ctx.finding(
                "bandwidth.low",
                download_mbps=round(down, 3),
                min_mbps=settings.min_download_mbps,
                lower_bound=m.download.lower_bound if m.download else False,
            )
        )
    if latency.added_ms is not None and latency.added_ms > settings.bufferbloat_ms:
        findings.append(
            ctx.finding(
                "bandwidth.bufferbloat",
                added_ms=round(latency.added_ms, 1),
                idle_ms=latency.idle_ms,
                loaded_ms=latency.loaded_ms,
                rpm=latency.rpm,
            )
        )
    status = Status.WARN if findings else Status.PASS
    return ProbeResult(
        "bandwidth", status, _summary(ctx, m, latency), tuple(findings), metrics, details
    )


def flowed(download: Phase | None) -> bool:
    """Whether the download flowed, as a slow link delivers: its bytes came in steadily
    (``_meter.unevenness`` at most :data:`MAX_UNEVENNESS`) over most of the phase (from
    the first byte: at least :data:`MIN_DELIVERY_SHARE` of it). A link that loses packets
    at random delivers in bursts between stalls, TCP waiting out its retransmission
    timer, or nothing for seconds and then a burst: a low figure there is the loss's
    doing, which the unstable verdict already tells — not a slow link. The windows'
    spread said too little: a slow link's first seconds, shared with the first wave's
    last bytes, rose like a burst, and a stall of whole seconds ended in one window.
    Bytes nobody timed (the speedtest-cli backend) are taken as they are."""
    if download is None:
        return False
    figures = download.throughput
    if figures.delivery_s is None:
        return True
    return (
        figures.delivery_s >= MIN_DELIVERY_SHARE * figures.seconds
        and figures.unevenness <= MAX_UNEVENNESS
    )


def _summary(ctx: ProbeContext, m: Measurement, latency: Responsiveness) -> str:
    """Built per language and said once: a Said joined with ``+`` is a plain str again,
    and the report would lose the other language."""
    down = _rate(m.download)
    up = _rate(m.upload)
    said = {"id": f"Unduh {down}, unggah {up}", "en": f"Download {down}, upload {up}"}

    def add(id: str, en: str) -> None:
        said["id"] += id
        said["en"] += en

    if m.upload is None and m.extra.get("unstable_link"):
        said["id"] = f"Unduh {down}; unggah tidak diukur (koneksi tidak stabil)"
        said["en"] = f"Download {down}; upload not measured (unstable connection)"
        if not flowed(m.download):
            add(
                "; unduhan tersendat-sendat, bukan ukuran kecepatan jalur",
                "; the download came in fits and starts: no measure of the link's speed",
            )
    if latency.idle_ms is not None and latency.loaded_ms is not None:
        add(
            f"; latensi {latency.idle_ms:.0f} ms diam, {latency.loaded_ms:.0f} ms sibuk",
            f"; latency {latency.idle_ms:.0f} ms idle, {latency.loaded_ms:.0f} ms loaded",
        )
        if latency.rpm is not None:
            add(f" ({latency.rpm:.0f} RPM)", f" ({latency.rpm:.0f} RPM)")
    if m.extra.get("mobile_data"):
        mb = m.extra.get("max_mb", MOBILE_MAX_MB)
        add(f"; data seluler: tes dibatasi {mb:g} MB", f"; mobile data: test capped at {mb:g} MB")
    if any(p is not None and p.lower_bound for p in (m.download, m.upload)):
        mb = m.extra.get("max_mb", 0.0)
        add(
            f"; batas data {mb:g} MB tercapai sebelum kecepatan stabil (≥: bisa lebih cepat)",
            f"; the {mb:g} MB data limit ended the test before the rate was steady"
            " (≥: it may be faster)",
        )
    return ctx.text(id=said["id"] + ".", en=said["en"] + ".")


def _rate(phase: Phase | None) -> str:
    """``12.3 Mbit/s``; ``≥12.3 Mbit/s`` when the data budget cut the phase short."""
    mbps = phase.throughput.mbps if phase else 0.0
    return f"{'≥' if phase is not None and phase.lower_bound else ''}{mbps:.1f} Mbit/s"
