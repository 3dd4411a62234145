"""clock probe: the device clock against the ``Date`` headers of the servers that answered.

A wrong clock makes valid certificates look expired or not yet valid, so JMO fails to
connect for a reason no network fix can cure. The requests are the http probe's own
(shared through ``probes._http.shared_fetch``): no extra traffic.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import statistics
from email.utils import parsedate_to_datetime
from typing import ClassVar

from jmo_doctor.api import BaseProbe, LocalText, Messages, ProbeContext, ProbeResult, Status
from probes._common.http import Fetch, shared_fetch
from probes._common.net import budget

SKEW_LIMIT_S = 300.0


def skew_of(item: Fetch) -> float | None:
    """Device minus server, seconds; None without a usable ``Date``.

    The server stamped its ``Date`` somewhere between our request and its headers, so it
    is compared with the midpoint of the two; ``Date`` drops the fraction of a second, so
    the server's time was half a second later on average.
    """
    if not item.date or not item.sent_at or not item.received_at:
        return None
    try:
        stamped = parsedate_to_datetime(item.date)
        if stamped.tzinfo is None:  # "-0000": RFC 5322's "UTC, source unknown"
            stamped = stamped.replace(tzinfo=dt.UTC)
        server = stamped.timestamp() + 0.5
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return (item.sent_at + item.received_at) / 2.0 - server


class ClockProbe(BaseProbe):
    id = "clock"
    title: ClassVar[LocalText] = {"id": "Jam perangkat", "en": "Device clock"}
    order = 70
    messages: ClassVar[Messages] = {
        "clock.skew": {
            "id": "Jam perangkat selisih {skew_s:+.0f} detik dari {servers} server. "
            "Atur tanggal & waktu otomatis.",
            "en": "The device clock is off by {skew_s:+.0f} s against {servers} servers. "
            "Turn on automatic date & time.",
        },
    }

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        try:
            fetches = await asyncio.wait_for(shared_fetch(ctx), budget(ctx, 60.0))
        except TimeoutError:
            fetches = []
        skews = {f.target: s for f in fetches if (s := skew_of(f)) is not None}
        if not skews:
            return ProbeResult(
                self.id,
                Status.SKIP,
                ctx.text(
                    id="Tidak ada server yang mengirim tanggal (Date).",
                    en="No server sent a Date header.",
                ),
            )
        skew = round(statistics.median(skews.values()), 1)
        metrics = {"skew_s": float(skew), "servers": float(len(skews))}
        details = {"skews_s": {name: round(value, 2) for name, value in skews.items()}}
        if abs(skew) > SKEW_LIMIT_S:
            finding = ctx.finding("clock.skew", skew_s=skew, servers=len(skews))
            return ProbeResult(self.id, Status.FAIL, finding.message, (finding,), metrics, details)
        summary = ctx.text(
            id=f"Jam perangkat tepat (selisih {skew:+.1f} detik, {len(skews)} server).",
            en=f"Device clock is right ({skew:+.1f} s off, {len(skews)} servers).",
        )
        return ProbeResult(self.id, Status.PASS, summary, (), metrics, details)
